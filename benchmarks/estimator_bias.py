"""The estimator-bias table: (finite-n truth − λ)/λ per task, n and estimator, no sampler involved.

The finite-n truth is what the estimator returns with a perfect sampler on the same dataset: by
quadrature on tasks with ≤ 3 parameters, from a certified reference (``tasks/references/``) beyond.
Mean over dataset seeds with the SD between them; a task without a trusted truth at some seed is
left out at that n. The multi-β line is fitted with equal weights here (a cell's own fit weights
it by its Monte Carlo SEs, which differ from cell to cell; with exact means the two agree when the
means are exactly linear in 1/β, and differ by the curvature otherwise).

    python benchmarks/estimator_bias.py [--seeds 5] [--ns 1000,10000] [--write docs/accuracy.md]

With ``--write``, the table replaces the part of the file between the two marker lines
``<!-- estimator-bias:start -->`` and ``<!-- estimator-bias:end -->``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from slt_bench.estimators import get_estimator
from slt_bench.tasks import load_catalog
from slt_bench.tasks.quadrature import MAX_PARAMS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository's benchmarks
from benchmarks.common import splice  # noqa: E402

ESTIMATORS = ("multi-beta", "variance", "local")
START, END = "<!-- estimator-bias:start -->", "<!-- estimator-bias:end -->"


def truth(task, n: int, seed: int, name: str) -> float | None:
    est = get_estimator(name, **({"fit": "ols"} if name == "multi-beta" else {}))
    data = task.dataset(n, seed)
    try:
        posts = est.posteriors(task, data)
    except Exception:  # e.g. the local estimator on a task without w*
        return None
    fake = SimpleNamespace(fit={"mc_ses": [1.0] * len(posts)})
    target = est.finite_n_target(task, data, posts, fake)
    if target is None or target.status not in ("exact", "certified"):
        return None
    return float(target.value)


def table(seeds: int, ns: list[int]) -> tuple[str, float]:
    start = time.perf_counter()
    tasks = [t for t in load_catalog().select(suite="standard") if t.rlct is not None]
    head = "| task | params | λ | m | " + " | ".join(f"{e} n = {n:,}" for n in ns for e in ESTIMATORS) + " |"
    lines = [head, "|" + "---|" * (4 + len(ns) * len(ESTIMATORS))]
    for task in tasks:
        cells = []
        any_value = False
        for n in ns:
            for name in ESTIMATORS:
                values = [truth(task, n, s, name) for s in range(seeds)]
                values = [v for v in values if v is not None]
                if len(values) < seeds:
                    cells.append("–" if not values else f"({len(values)} of {seeds} seeds)")
                    continue
                lam = float(task.rlct)
                rel = (np.array(values) - lam) / lam
                cells.append(f"{rel.mean():+.1%} ± {rel.std(ddof=1):.1%}")
                any_value = True
        if any_value:
            lines.append(f"| {task.id} | {task.n_params} | {task.rlct} | {task.multiplicity} | " + " | ".join(cells) + " |")
    return "\n".join(lines), time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--ns", default="1000,10000")
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args(argv)
    ns = [int(x) for x in args.ns.split(",")]
    text, wall = table(args.seeds, ns)
    block = (f"{START}\n{text}\n\n(finite-n truth − λ)/λ, mean ± SD over dataset seeds 0–{args.seeds - 1}; "
             f"`python benchmarks/estimator_bias.py --seeds {args.seeds} --ns {args.ns}`, {wall:.0f} s. "
             f"Quadrature for tasks with ≤ {MAX_PARAMS} parameters, certified references beyond; "
             f"'–' where neither exists.\n{END}")
    if args.write is None:
        print(block)
        return
    splice(args.write, START, END, block)
    print(f"wrote {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
