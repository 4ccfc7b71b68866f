"""Is the references' agreement rule calibrated? Over every shipped reference file, the z of each posterior's
two samplers, z = (NUTS − SMC) / √(SE²_NUTS + SE²_SMC), for E_β[n L_n] and for Var_β[n L_n], per sample size.

    python benchmarks/reference_calibration.py [--root tasks/references] [--catalog docs/tanh_h6.toml] \\
        [--write docs/references.md [--mark reference-calibration]]

If both samplers' standard errors are right and both sample the same posterior, each z is a standard normal:
its SD is 1, its average 0 (to within SD/√N), and |z| > 3 happens in 0.27% of them, |z| > 2 in 4.55%. The
counts are over both quantities (2 per posterior), the expected counts those fractions of all of them, and
"P(≥ k)" the Poisson chance of at least the observed count. The two quantities of one posterior are read
from the same draws, so they are not independent; the counts' chances are therefore approximate. A posterior
whose SMC run is not ``ok`` or whose values are missing (it failed ``smc_status``) has no z and is counted
apart.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import publish  # noqa: E402

from slt_bench.reference import load, references_dir  # noqa: E402

MARK = "reference-calibration"
QUANTITIES = ("mean", "var")
P3 = math.erfc(3 / math.sqrt(2))  # P(|Z| > 3), 0.0027
P2 = math.erfc(2 / math.sqrt(2))  # P(|Z| > 2), 0.0455


def agreement_z(entry: dict) -> dict[str, float] | None:
    """{quantity: z} of one posterior, or None when either sampler has no usable value for it."""
    nuts, smc = entry.get("nuts") or {}, entry.get("smc") or {}
    if smc.get("status") != "ok":
        return None
    out = {}
    for q in QUANTITIES:
        try:
            a, b, sa, sb = (float(x) for x in (nuts[q], smc[q], nuts[f"{q}_se"], smc[f"{q}_se"]))
        except (KeyError, TypeError, ValueError):
            return None
        if not all(map(math.isfinite, (a, b, sa, sb))) or math.hypot(sa, sb) <= 0:
            return None
        out[q] = (a - b) / math.hypot(sa, sb)
    return out


def poisson_at_least(k: int, mu: float) -> float:
    """P(X ≥ k) for X ~ Poisson(mu)."""
    return 1.0 - sum(math.exp(-mu) * mu ** i / math.factorial(i) for i in range(k))


def collect(*roots: Path) -> dict[int, dict]:
    """Per n: the files under ``roots`` that have entries at that n, the z's of each quantity, and the posteriors
    without one."""
    by_n: dict[int, dict] = defaultdict(lambda: {"files": set(), "z": {q: [] for q in QUANTITIES}, "without": 0})
    paths = sorted({p.resolve() for root in roots if root.is_dir() for p in root.rglob("*.json")})
    for path in paths:
        doc = load(path)
        for entry in (doc or {}).get("entries", []):
            slot = by_n[int(entry["n"])]
            slot["files"].add(str(path))
            z = agreement_z(entry)
            if z is None:
                slot["without"] += 1
                continue
            for q in QUANTITIES:
                slot["z"][q].append(z[q])
    return dict(by_n)


def table(by_n: dict[int, dict]) -> str:
    lines = ["| n | files | posteriors with a z (without) | z of E_β[n L_n]: average ± SE, SD | z of Var_β[n L_n]: average ± SE, SD "
             "| \\|z\\| > 3: seen, expected, P(≥ seen) | \\|z\\| > 2: seen, expected, P(≥ seen) |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for n in sorted(by_n):
        slot = by_n[n]
        zs = slot["z"]
        count = len(zs["mean"])
        if count < 2:
            lines.append(f"| {n:,} | {len(slot['files'])} | {count} ({slot['without']}) | – | – | – | – |")
            continue
        cells = []
        for q in QUANTITIES:
            sd = statistics.pstdev(zs[q])
            avg = statistics.mean(zs[q])
            cells.append(f"{avg:+.2f} ± {sd / math.sqrt(count):.2f}, {sd:.2f}")
        every = zs["mean"] + zs["var"]
        for limit, p in ((3, P3), (2, P2)):
            seen = sum(abs(z) > limit for z in every)
            mu = p * len(every)
            cells.append(f"{seen}, {mu:.1f}, {poisson_at_least(seen, mu):.2f}")
        lines.append(f"| {n:,} | {len(slot['files'])} | {count} ({slot['without']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, action="append", default=[],
                    help="a directory of reference files (repeatable; default: the shipped ones)")
    ap.add_argument("--catalog", type=Path, action="append", default=[],
                    help="also the references folder beside this catalogue file (repeatable)")
    ap.add_argument("--write", help="splice the table into this Markdown file between the marker lines")
    ap.add_argument("--mark", default=MARK)
    args = ap.parse_args(argv)
    roots = (args.root or [references_dir()]) + [c.resolve().parent / "references" for c in args.catalog]
    for root in roots:
        if not root.is_dir():
            sys.exit(f"no such directory of reference files: {str(root)!r}")
    by_n = collect(*roots)
    if not by_n:
        sys.exit(f"no reference entries under {', '.join(map(str, roots))}")
    text = table(by_n)
    publish(text, args.write, args.mark)


if __name__ == "__main__":
    main()
