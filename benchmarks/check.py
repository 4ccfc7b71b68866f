"""Compare HEAD's asv results with the previous commit that has results; exit 1 on a regression.

Run as ``make bench-check`` (after ``make bench``). Rules:

* ``time_*`` and ``peakmem_*``: a regression is a rise of more than 20% (``--factor``) whose
  99% confidence intervals (asv's ``ci_99``) do not overlap — a rise beyond the measured noise.
* ``track_*`` accuracy figures that have a ``*_se`` companion: a change of more than ``--z``
  (default 2) standard errors of the difference, √(SE_old² + SE_new²). Both directions are
  reported, since an accuracy figure that moves by more than its noise needs explaining.
* ``track_grad_evals``: a rise of more than 20% (a method got more expensive per estimate).

Each flagged line names the benchmark, its parameters and both figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_results(machine_dir: Path) -> dict[str, dict]:
    """commit hash → {benchmark name → {param tuple → dict(value, ci_a, ci_b)}}."""
    out: dict[str, dict] = {}
    for path in sorted(machine_dir.glob("*.json")):
        if path.name == "machine.json":
            continue
        doc = json.loads(path.read_text())
        columns = doc.get("result_columns", [])
        benches = {}
        for name, row in doc.get("results", {}).items():
            entry = dict(zip(columns, row))
            values = entry.get("result")
            if values is None:
                continue
            params = entry.get("params") or []
            combos = list(itertools.product(*params)) if params else [()]
            if not isinstance(values, list):
                values = [values]
            ci_a = entry.get("stats_ci_99_a") or [None] * len(values)
            ci_b = entry.get("stats_ci_99_b") or [None] * len(values)
            benches[name] = {
                combo: {"value": v, "ci_a": a, "ci_b": b}
                for combo, v, a, b in zip(combos, values, ci_a, ci_b)
            }
        out.setdefault(doc["commit_hash"], {}).update(benches)
    return out


def commits_newest_first() -> list[str]:
    proc = subprocess.run(["git", "rev-list", "--first-parent", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: git rev-list failed: {proc.stderr.strip()}")
    return proc.stdout.split()


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def compare(old: dict, new: dict, factor: float, z: float) -> tuple[list[str], int]:
    flagged, compared = [], 0
    for name in sorted(set(old) & set(new)):
        short = name.rsplit(".", 1)[-1]
        if short.startswith("track_") and short.endswith("_se"):
            continue
        se_name = name + "_se"
        for combo in sorted(set(old[name]) & set(new[name]), key=str):
            o, n = old[name][combo], new[name][combo]
            if not (_finite(o["value"]) and _finite(n["value"])):
                continue
            compared += 1
            label = name + ("[" + ", ".join(str(p).strip("'\"") for p in combo) + "]" if combo else "")
            if short.startswith(("time_", "peakmem_")):
                beyond_noise = not (_finite(o["ci_b"]) and _finite(n["ci_a"])) or n["ci_a"] > o["ci_b"]
                if n["value"] > factor * o["value"] and beyond_noise:
                    flagged.append(f"SLOWER   {label}: {o['value']:.4g} -> {n['value']:.4g} "
                                   f"(x{n['value'] / o['value']:.2f}, limit x{factor})")
            elif short == "track_grad_evals":
                if n["value"] > factor * o["value"]:
                    flagged.append(f"COSTLIER {label}: {o['value']:.6g} -> {n['value']:.6g} gradient evaluations")
            elif se_name in old and se_name in new and combo in old[se_name] and combo in new[se_name]:
                se = math.hypot(old[se_name][combo]["value"] or 0.0, new[se_name][combo]["value"] or 0.0)
                diff = n["value"] - o["value"]
                if se > 0 and abs(diff) > z * se:
                    flagged.append(f"ACCURACY {label}: {o['value']:+.4f} -> {n['value']:+.4f} "
                                   f"(change {diff:+.4f} = {diff / se:+.1f} SE of the difference, limit {z})")
    return flagged, compared


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machine", default="slt-bench-ref")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--factor", type=float, default=1.2)
    parser.add_argument("--z", type=float, default=2.0)
    args = parser.parse_args(argv)
    machine_dir = Path(args.results) / args.machine
    if not machine_dir.is_dir():
        print(f"error: no results in {machine_dir}; run `make bench` first", file=sys.stderr)
        return 2
    results = load_results(machine_dir)
    history = [c for c in commits_newest_first() if c in results]
    head = commits_newest_first()[0]
    if head not in results:
        print(f"error: HEAD {head[:8]} has no results in {machine_dir}; run `make bench` first", file=sys.stderr)
        return 2
    if len(history) < 2:
        print(f"HEAD {head[:8]}: no earlier commit with results to compare against")
        return 0
    prev = history[1]
    flagged, compared = compare(results[prev], results[head], args.factor, args.z)
    print(f"HEAD {head[:8]} against {prev[:8]}: {compared} figures compared, {len(flagged)} flagged")
    for line in flagged:
        print("  " + line)
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
