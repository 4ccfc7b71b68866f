"""The tempering identity on stored cells: how its z is distributed for each method, and which cells fail.

For every multi-β cell stored ``ok`` in the given stores: the z of each interval of its β grid (the drop
of the means of n L_n against the one its variances imply, :func:`slt_bench.scoring.tempering_identity`),
and whether the cell fails the check (|z| above the Bonferroni bound for a 0.1% false alarm rate per
cell), which the reports show as ``inconsistent``. A sampler of the exact tempered posteriors has z of
mean 0 and SD 1 (with independent posteriors; samplers that pass one particle system through the grid,
like ``smc``, correlate neighbouring posteriors and give a smaller SD).

    python benchmarks/identity_check.py docs/leaderboard/baseline.sqlite docs/leaderboard/pending.sqlite \\
        [--write docs/accuracy.md]

With ``--write`` the table replaces the text between ``<!-- tempering-identity:start -->`` and
``<!-- tempering-identity:end -->``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository's benchmarks
from benchmarks.common import splice_marked  # noqa: E402

from slt_bench.scoring import IDENTITY_STATUS, identity_of, reported  # noqa: E402
from slt_bench.store import ResultStore  # noqa: E402

MARK = "tempering-identity"


def summary(rows: list[dict]) -> str:
    """One line per method: cells stored ok, z's mean and SD over their intervals, |z| > 3, cells failing."""
    by_method: dict[str, list[dict]] = {}
    for row in reported(rows):
        if row["stored_status"] == "ok" and row["identity_z"] is not None:
            by_method.setdefault(row["method"], []).append(row)
    lines = ["| method | cells stored ok | intervals | z mean | z SD | share of \\|z\\| > 3 | cells failing | "
             "tasks with most failing cells |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    order = sorted(by_method, key=lambda m: (np.mean([r["status"] == IDENTITY_STATUS for r in by_method[m]]), m))
    for method in order:
        cells = by_method[method]
        zs = np.array([c["z"] for r in cells for c in identity_of(r)])
        failing = [r for r in cells if r["status"] == IDENTITY_STATUS]
        worst = Counter(r["task"] for r in failing).most_common(3)
        lines.append(f"| {method} | {len(cells)} | {zs.size} | {zs.mean():+.2f} | {zs.std(ddof=1):.2f} | "
                     f"{np.mean(np.abs(zs) > 3):.1%} | {len(failing)} ({len(failing) / len(cells):.0%}) | "
                     f"{', '.join(f'{t} ({c})' for t, c in worst) or '–'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stores", nargs="+", type=Path)
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args(argv)
    rows, seen = [], set()
    for path in args.stores:
        for row in ResultStore(path, writable=False).rows():
            if row["key"] not in seen:
                seen.add(row["key"])
                rows.append(row)
    text = summary(rows) + (f"\n\n`python benchmarks/identity_check.py {' '.join(map(str, args.stores))}`: every "
                            "multi-β cell stored `ok`; a normal |z| exceeds 3 in 0.27% of intervals.")
    if args.write is None:
        print(text)
        return
    splice_marked(args.write, MARK, text)
    print(f"wrote {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
