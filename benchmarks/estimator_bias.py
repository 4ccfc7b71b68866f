"""The estimator-bias table: (finite-n truth − λ)/λ per task, n and estimator, no sampler involved.

The finite-n truth is what the estimator returns with a perfect sampler on the same dataset: by
quadrature on tasks with ≤ 3 parameters (the first form), from a certified reference
(``tasks/references/``) beyond (``--certified``, seconds: it only reads the shipped files).
Mean over dataset seeds with the SD between them; a task without a trusted truth at some seed is
left out at that n. The multi-β line is fitted with equal weights here (a cell's own fit weights
it by its Monte Carlo SEs, which differ from cell to cell; with exact means the two agree when the
means are exactly linear in 1/β, and differ by the curvature otherwise).

    python benchmarks/estimator_bias.py [--seeds 5] [--ns 1000,10000] [--write docs/accuracy.md]
    python benchmarks/estimator_bias.py --certified [--seeds 5] [--ns 1000,10000] [--write docs/accuracy.md]
    python benchmarks/estimator_bias.py --smc-store docs/leaderboard/baseline.sqlite [--write docs/accuracy.md]

With ``--write``, the table replaces the part of the file between the two marker lines
``<!-- estimator-bias:start -->`` and ``<!-- estimator-bias:end -->`` (``estimator-bias-certified``
and ``estimator-bias-smc`` for the other two forms).

The third form reads the finite-n truth off a store's ``smc`` cells instead, for every task: an
estimate, not a certified reference (``smc``'s Monte Carlo SE is of the order of the other
samplers'), but one from a sampler that agrees with quadrature wherever quadrature exists. Its
multi-β column is each ``ok`` cell's λ̂; its variance column is β₀² Var_β₀[n L_n] of the cell's
posterior at β₀ = 1/log n (a point of the standard grid), from the stored standard deviation of
n L_n there. Where the cells also carry an exact target (quadrature, certified reference), that
column is shown beside them, so the estimate can be checked where the answer is known.
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
from slt_bench.estimators.base import beta0
from slt_bench.store import ResultStore
from slt_bench.tasks import load_catalog
from slt_bench.tasks.quadrature import MAX_PARAMS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository's benchmarks
from benchmarks.common import splice, splice_marked  # noqa: E402

ESTIMATORS = ("multi-beta", "variance", "local")
START, END = "<!-- estimator-bias:start -->", "<!-- estimator-bias:end -->"
SMC_MARK = "estimator-bias-smc"
CERTIFIED_MARK = "estimator-bias-certified"


def referenced_tasks(catalogs: list[Path] = ()) -> list:
    """Every catalogue task beyond quadrature with a reference file and an exact λ: the shipped ones, and those
    of the extra catalogue files ``catalogs`` (kept in the ``references`` folder beside each)."""
    from slt_bench.reference import file_for

    return [t for t in load_catalog(catalogs).select(suite="all")
            if t.rlct is not None and t.n_params > MAX_PARAMS and file_for(t).is_file()]


def quadrature_tasks() -> list:
    """The standard suite's tasks with an exact λ and at most MAX_PARAMS parameters: quadrature's
    (the tasks beyond, with their certified references, are ``--certified``'s table)."""
    return [t for t in load_catalog().select(suite="standard") if t.rlct is not None and t.n_params <= MAX_PARAMS]


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


def table(seeds: int, ns: list[int], tasks: list | None = None) -> tuple[str, float]:
    start = time.perf_counter()
    if tasks is None:
        tasks = quadrature_tasks()
    head = "| task | params | λ | m | " + " | ".join(f"{e} n = {n:,}" for n in ns for e in ESTIMATORS) + " |"
    lines = [head, "|" + "---|" * (4 + len(ns) * len(ESTIMATORS))]
    for task in tasks:
        cells = []
        any_value = False
        for n in ns:
            for name in ESTIMATORS:
                values = [truth(task, n, s, name) for s in range(seeds)]
                values = [v for v in values if v is not None]
                if len(values) < min(seeds, 2):  # a spread needs two seeds; fewer seeds are said so
                    cells.append("–" if not values else f"({len(values)} of {seeds} seeds)")
                    continue
                lam = float(task.rlct)
                rel = (np.array(values) - lam) / lam
                some = "" if len(values) == seeds else f" ({len(values)} of {seeds} seeds)"
                cells.append(f"{rel.mean():+.1%} ± {rel.std(ddof=1):.1%}{some}")
                any_value = True
        if any_value:
            lines.append(f"| {task.id} | {task.n_params} | {task.rlct} | {task.multiplicity} | " + " | ".join(cells) + " |")
    return "\n".join(lines), time.perf_counter() - start


def _spread(values: list[float]) -> str:
    """Mean ± SD between datasets of relative errors, '–' when there are none."""
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:+.1%} (1 seed)"
    return f"{np.mean(values):+.1%} ± {np.std(values, ddof=1):.1%}"


def variance_value(row: dict) -> float | None:
    """β₀² Var_β₀[n L_n] of a multi-β cell: the variance estimator on the cell's own posterior at
    β₀ = 1/log n, or None when the grid does not contain β₀ or that posterior has no stored SD."""
    b0 = beta0(int(row["n"]))
    for beta, diag in zip(row["betas"] or [], row["diagnostics"] or []):
        if math.isclose(beta, b0, rel_tol=1e-9) and diag.get("sd") is not None:
            return b0 * b0 * float(diag["sd"]) ** 2
    return None


def smc_table(rows: list[dict]) -> str:
    """Per task, from the ``ok`` multi-β ``smc`` cells of a store: (value − λ)/λ for the multi-β and
    the variance estimator, mean ± SD over datasets, beside the exact finite-n value where stored."""
    by_task: dict[tuple[str, int], list[dict]] = {}
    for row in rows:
        if row["method"] == "smc" and row["estimator"] == "multi-beta" and row["metric"] == "rlct" \
                and row["rlct_value"] is not None:
            by_task.setdefault((row["task"], int(row["n"])), []).append(row)
    lines = ["| task | params | λ | m | n | smc cells ok | multi-beta (smc) | variance (smc) | "
             "multi-beta, exact finite-n | smc's SE / λ, median |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (task, n), cells in sorted(by_task.items(), key=lambda kv: (kv[1][0]["family"], kv[0])):
        ok = [r for r in cells if r["status"] == "ok"]
        lam = float(cells[0]["rlct_value"])
        multi = [(r["rlct_hat"] - lam) / lam for r in ok]
        var = [(v - lam) / lam for v in map(variance_value, ok) if v is not None]
        exact = [(r["finite_target"] - lam) / lam for r in ok if r["finite_target"] is not None]
        ses = [r["se"] / lam for r in ok if r["se"] is not None]
        first = cells[0]
        lines.append(f"| {task.split('@')[0]} | {first['n_params']} | {first['rlct']} | {first['multiplicity']} | "
                     f"{n:,} | {len(ok)} of {len(cells)} | {_spread(multi)} | {_spread(var)} | "
                     f"{_spread(exact) if len(exact) == len(ok) else '–'} | "
                     f"{f'{np.median(ses):.1%}' if ses else '–'} |")
    return "\n".join(lines)


def _emit(text: str, write: Path | None, mark: str) -> None:
    """Print `text`, or splice it into `write` between the markers named `mark`."""
    if write is None:
        print(text)
        return
    splice_marked(write, mark, text)
    print(f"wrote {write}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--ns", default="1000,10000")
    parser.add_argument("--write", type=Path, default=None)
    parser.add_argument("--smc-store", type=Path, default=None,
                        help="read the finite-n truth off this store's smc cells (every task, not certified)")
    parser.add_argument("--certified", action="store_true",
                        help="only the tasks beyond quadrature with a reference file, at --ns (seconds, no quadrature)")
    parser.add_argument("--catalog", type=Path, action="append", default=[],
                        help="with --certified: also this catalogue file's tasks, with the references beside it (repeatable)")
    args = parser.parse_args(argv)
    ns = [int(x) for x in args.ns.split(",")]
    if args.certified:
        text, wall = table(args.seeds, ns, referenced_tasks(args.catalog))
        extra = "".join(f" --catalog {c}" for c in args.catalog)
        text += (f"\n\n(certified finite-n truth − λ)/λ, mean ± SD over dataset seeds 0–{args.seeds - 1}; "
                 f"`python benchmarks/estimator_bias.py --certified --seeds {args.seeds} --ns {args.ns}{extra}`, {wall:.0f} s. "
                 f"'(k of {args.seeds} seeds)' where a seed has an uncertified posterior the estimator needs.")
        _emit(text, args.write, CERTIFIED_MARK)
        return
    if args.smc_store is not None:
        text = smc_table(ResultStore(args.smc_store).rows())
        command = f"python benchmarks/estimator_bias.py --smc-store {args.smc_store}"
        text += (f"\n\n(value − λ)/λ, mean ± SD over the dataset seeds of the `ok` cells; `{command}`. "
                 "Not a certified reference: the SD between datasets includes `smc`'s own Monte Carlo error "
                 "(last column).")
        _emit(text, args.write, SMC_MARK)
        return
    text, wall = table(args.seeds, ns)
    block = (f"{START}\n{text}\n\n(finite-n truth − λ)/λ, mean ± SD over dataset seeds 0–{args.seeds - 1}; "
             f"`python benchmarks/estimator_bias.py --seeds {args.seeds} --ns {args.ns}`, {wall:.0f} s. "
             f"Quadrature, on the standard suite's tasks with ≤ {MAX_PARAMS} parameters (certified references beyond "
             f"are `--certified`'s table).\n{END}")
    if args.write is None:
        print(block)
        return
    splice(args.write, START, END, block)
    print(f"wrote {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
