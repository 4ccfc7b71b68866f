"""Compare asv results between commits, or fresh accuracy figures with the newest stored ones.

``make bench-check`` (after ``make bench``): the two newest commits that have results (saying so
clearly when HEAD has none); exit 1 on a regression. ``make bench-ci`` (``--accuracy-now``, run by
``.ci/run``): recompute the fixed-seed accuracy figures of ``bench_estimates.Accuracy`` now and
compare them with the newest stored results; exit 1 when one got worse by more than 2 SE of the
difference and ``benchmarks/expected_changes.toml`` has no entry that explains it. Speed is
reported, never failed: the machine is shared and noisy. Rules:

* ``time_*`` and ``peakmem_*``: a regression is a rise of more than 20% (``--factor``) whose
  99% confidence intervals (asv's ``ci_99``) do not overlap — a rise beyond the measured noise.
* ``track_*`` accuracy figures that have a ``*_se`` companion: a change of more than ``--z``
  (default 2) standard errors of the difference, √(SE_old² + SE_new²). Both directions are
  reported, since an accuracy figure that moves by more than its noise needs explaining.
* ``track_grad_evals``: a rise of more than 20% (a method got more expensive per estimate).
* The hosts behind the machine name differ (by 3× between two sessions), so when both commits have
  ``bench_machine.track_matmul_peak`` (the host's float32 2048² product rate), the newer commit's
  ``time_*`` figures and their intervals are first multiplied by new peak / old peak: the time it would
  have taken on the older host, to first order. A flagged line then says by how much it was scaled.
  Memory and accuracy figures are not scaled.

Each flagged line names the benchmark, its parameters and both figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
import time
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


PEAK = "bench_machine.track_matmul_peak"


def host_speed(old: dict, new: dict) -> float | None:
    """The newer host's matmul peak over the older one's (> 1: the newer host is faster), or None."""
    o, n = (r.get(PEAK, {}).get((), {}).get("value") for r in (old, new))
    return n / o if _finite(o) and _finite(n) and o > 0 and n > 0 else None


def compare(old: dict, new: dict, factor: float, z: float) -> tuple[list[str], int]:
    flagged, compared = [], 0
    speed = host_speed(old, new)
    host = 1.0 if speed is None else speed
    scaled_note = "" if speed is None else f", new times x{speed:.2f} for the host's matmul peak"
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
                k = host if short.startswith("time_") else 1.0
                value = n["value"] * k
                beyond_noise = not (_finite(o["ci_b"]) and _finite(n["ci_a"])) or n["ci_a"] * k > o["ci_b"]
                if value > factor * o["value"] and beyond_noise:
                    flagged.append(f"SLOWER   {label}: {o['value']:.4g} -> {value:.4g} "
                                   f"(x{value / o['value']:.2f}, limit x{factor}"
                                   f"{scaled_note if k != 1.0 else ''})")
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


ACCURACY = (("track_rel_error", "rel_error", "track_rel_error_se", "rel_se"),
            ("track_finite_rel_error", "finite_rel_error", "track_finite_rel_error_se", "finite_rel_se"))
SUITE = "bench_estimates.Accuracy."


def load_expected(path: Path) -> list[dict]:
    """Entries of the expected-changes file: accuracy figures allowed to get worse, each with a reason."""
    if not path.is_file():
        return []
    import tomllib

    doc = tomllib.loads(path.read_text())
    entries = doc.get("change", [])
    for entry in entries:
        missing = {"benchmark", "method", "task", "reason"} - set(entry)
        if missing:
            raise SystemExit(f"error: {path}: an entry lacks {sorted(missing)}: {entry}")
    return entries


def _stored(results: dict, name: str, method: str, task: str):
    series = results.get(SUITE + name, {})
    return series.get((repr(method), repr(task)), {}).get("value")


def accuracy_check(stored: dict, fresh: dict, expected: list[dict], z: float) -> tuple[list[str], list[str], int]:
    """Fresh accuracy figures against stored ones: (flagged, explained, compared).

    A figure got worse when |new| − |old| > z·√(SE_old² + SE_new²); an entry of ``expected`` with the
    same benchmark, method and task explains it (and is listed, not failed).
    """
    flagged, explained, compared = [], [], 0
    for (method, task), now in sorted(fresh.items()):
        for name, key, se_name, se_key in ACCURACY:
            old, old_se = _stored(stored, name, method, task), _stored(stored, se_name, method, task)
            new, new_se = now.get(key), now.get(se_key)
            if not all(_finite(v) for v in (old, old_se, new, new_se)):
                continue
            compared += 1
            scale = math.hypot(old_se, new_se)
            worse = abs(new) - abs(old)
            if scale > 0 and worse > z * scale:
                line = (f"{name}[{method}, {task}]: {old:+.4f} -> {new:+.4f} (|error| up {worse:.4f} = "
                        f"{worse / scale:.1f} SE of the difference, limit {z})")
                why = [e for e in expected if (e["benchmark"], e["method"], e["task"]) == (name, method, task)]
                (explained if why else flagged).append(line + (f"; expected: {why[0]['reason']}" if why else ""))
    return flagged, explained, compared


def accuracy_now() -> dict:
    """The Accuracy suite's figures, computed now (fixed seeds; each estimate a few seconds)."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.common import METHODS, TASKS, estimate, skip_if_excluded

    out = {}
    for method in METHODS:
        for task in TASKS:
            try:
                skip_if_excluded(method, task)
            except NotImplementedError:
                continue
            start = time.perf_counter()
            out[(method, task)] = {**estimate(method, task), "seconds": time.perf_counter() - start}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machine", default="slt-bench-ref")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--factor", type=float, default=1.2)
    parser.add_argument("--z", type=float, default=2.0)
    parser.add_argument("--accuracy-now", action="store_true",
                        help="recompute the accuracy figures now and compare them with the newest stored results")
    parser.add_argument("--expected", default=str(ROOT / "benchmarks" / "expected_changes.toml"))
    args = parser.parse_args(argv)
    machine_dir = Path(args.results) / args.machine
    if not machine_dir.is_dir():
        print(f"error: no results in {machine_dir}; run `make bench` first", file=sys.stderr)
        return 2
    results = load_results(machine_dir)
    commits = commits_newest_first()
    history = [c for c in commits if c in results]
    head = commits[0]
    if not history:
        print(f"error: no commit of this branch has results in {machine_dir}; run `make bench`", file=sys.stderr)
        return 2
    if head not in results:
        print(f"note: HEAD {head[:8]} has no results in {machine_dir}: run `make bench` and commit what it writes "
              f"(part of finishing a change). Using the newest commit with results, {history[0][:8]}.")
    if args.accuracy_now:
        fresh = accuracy_now()
        flagged, explained, compared = accuracy_check(results[history[0]], fresh, load_expected(Path(args.expected)),
                                                      args.z)
        print(f"accuracy now against {history[0][:8]}: {compared} figures compared, {len(flagged)} worse beyond "
              f"{args.z} SE, {len(explained)} expected")
        for line in explained:
            print("  EXPECTED " + line)
        for line in flagged:
            print("  WORSE    " + line)
        times = results[history[0]].get("bench_estimates.Estimate.time_estimate", {})
        for (method, task), now in sorted(fresh.items()):
            old = times.get((repr(method), repr(task)), {}).get("value")
            if _finite(old):  # reported only: CI machines are shared and noisy
                print(f"  speed    {method} on {task}: {now['seconds']:.2f} s now (with set-up), "
                      f"{old:.2f} s stored (steady state)")
        return 1 if flagged else 0
    if len(history) < 2:
        print(f"{history[0][:8]}: no earlier commit with results to compare against")
        return 0
    new, prev = history[0], history[1]
    flagged, compared = compare(results[prev], results[new], args.factor, args.z)
    speed = host_speed(results[prev], results[new])
    if speed is not None:
        peaks = [results[c][PEAK][()]["value"] for c in (prev, new)]
        print(f"host: float32 2048² matmul {peaks[0]:.0f} -> {peaks[1]:.0f} GFLOP/s (x{speed:.2f}); "
              f"{new[:8]}'s times are scaled by it before they are compared")
    else:
        print("host: no matmul peak stored for both commits; times compared as measured")
    print(f"{new[:8]}{' (HEAD)' if new == head else ''} against {prev[:8]}: {compared} figures compared, "
          f"{len(flagged)} flagged")
    for line in flagged:
        print("  " + line)
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
