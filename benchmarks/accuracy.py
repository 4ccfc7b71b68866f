"""Accuracy tables from results stores (the issue's acceptance studies) as Markdown.

    python benchmarks/accuracy.py --sampler-error sgld.sqlite nuts.sqlite --against-lambda m1.sqlite \\
        [--commands commands.txt] --write docs/accuracy.md

* sampler error: per task and method, how many cells land within 3 SE of the finite-n target
  (tasks with ≤ 3 parameters), with each cell's z-score and status;
* against λ: per family, method and n, the median |relative error| of λ̂ against λ and the
  median z against the finite-n target where there is one.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

from slt_bench.store import ResultStore


def _z(row) -> float | None:
    if row.get("finite_target") is None or row.get("rlct_hat") is None or not row.get("se"):
        return None
    return (row["rlct_hat"] - row["finite_target"]) / row["se"]


def sampler_error(rows: list[dict]) -> str:
    by = defaultdict(list)
    for r in rows:
        by[(r["method"], r["estimator"], r["task"])].append(r)
    lines = ["| method | estimator | task | within 3 SE | z per seed | statuses |", "|---|---|---|---:|---|---|"]
    totals = defaultdict(lambda: [0, 0])
    for (method, estimator, task), rs in sorted(by.items()):
        rs.sort(key=lambda r: r["seed"])
        zs = [_z(r) for r in rs]
        ok = sum(1 for z in zs if z is not None and abs(z) < 3)
        totals[(method, estimator)][0] += ok
        totals[(method, estimator)][1] += len(rs)
        zt = ", ".join("–" if z is None else f"{z:+.1f}" for z in zs)
        st = ", ".join(sorted({r["status"] for r in rs}))
        lines.append(f"| {method} | {estimator} | {task} | {ok}/{len(rs)} | {zt} | {st} |")
    lines.append("")
    for (method, estimator), (ok, total) in sorted(totals.items()):
        lines.append(f"* **{method}** ({estimator}): {ok} of {total} cells within 3 SE ({ok / total:.0%}).")
    return "\n".join(lines)


def _m1(rows: list[dict]) -> list[dict]:
    """Exact-λ cells with multiplicity 1: the ones scored against λ itself."""
    return [r for r in rows if r.get("rlct_hat") is not None and r.get("rlct_value") is not None
            and r.get("multiplicity") == 1 and r.get("kind") == "exact"]


def against_lambda(rows: list[dict]) -> str:
    by = defaultdict(list)
    for r in _m1(rows):
        by[(r["family"], r["method"], r["n"])].append(r)
    columns = sorted({(k[1], k[2]) for k in by})  # (method, n) pairs that have cells
    header = "| family | tasks | " + " | ".join(f"{m} n={n}" for m, n in columns) + " |"
    lines = [header, "|---|---|" + "---:|" * len(columns)]
    for family in sorted({k[0] for k in by}):
        tasks = sorted({r["task"] for k, rs in by.items() if k[0] == family for r in rs})
        cells = []
        for m, n in columns:
            rs = by.get((family, m, n), [])
            if not rs:
                cells.append("–")
                continue
            med = statistics.median(abs(r["rlct_hat"] - r["rlct_value"]) / r["rlct_value"] for r in rs)
            cells.append(f"{med:.1%} ({len(rs)})")
        lines.append(f"| {family} | {', '.join(t.split('/', 1)[1] for t in tasks)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_task(rows: list[dict]) -> str:
    by = defaultdict(list)
    for r in _m1(rows):
        by[(r["task"], r["method"], r["n"])].append(r)
    lines = ["| task | λ | method | n | cells | median λ̂ | median rel. error | median SE | median finite-n target | statuses |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for (task, method, n), rs in sorted(by.items()):
        lam = rs[0]["rlct_value"]
        med_hat = statistics.median(r["rlct_hat"] for r in rs)
        rel = statistics.median((r["rlct_hat"] - lam) / lam for r in rs)
        se = statistics.median(r["se"] for r in rs)
        st = ", ".join(sorted({r["status"] for r in rs}))
        fins = [r["finite_target"] for r in rs if r.get("finite_target") is not None]
        fin = f"{statistics.median(fins):.4g} ({(statistics.median(fins) - lam) / lam:+.0%})" if fins else "–"
        lines.append(f"| {task} | {lam:.4g} | {method} | {n} | {len(rs)} | {med_hat:.4g} | {rel:+.1%} | {se:.3g} | "
                     f"{fin} | {st} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sampler-error", nargs="*", default=[])
    parser.add_argument("--against-lambda", nargs="*", default=[])
    parser.add_argument("--preamble", default=None, help="Markdown file put before the tables")
    parser.add_argument("--write", default=None)
    args = parser.parse_args(argv)
    parts = []
    if args.preamble:
        parts += [open(args.preamble).read().rstrip(), ""]
    if args.sampler_error:
        rows = [r for path in args.sampler_error for r in ResultStore(path).rows()]
        parts += ["## Sampler error: λ̂ against the finite-n target", "", sampler_error(rows)]
    if args.against_lambda:
        rows = [r for path in args.against_lambda for r in ResultStore(path).rows()]
        parts += ["", "## Against λ: median |relative error| per family (cells)", "", against_lambda(rows),
                  "", "### Per task", "", per_task(rows)]
    text = "\n".join(parts) + "\n"
    if args.write:
        with open(args.write, "w") as handle:
            handle.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
