"""What the SG-MCMC family's step rule sees at the start point, and what the chains then do: a
per-task table from the cells of a store (the published baseline by default).

    python benchmarks/curvature_rule.py [--store docs/leaderboard/baseline.sqlite] [--task tanh/] \\
        [--methods sgld,rmsprop-sgld,sghmc] [--write docs/scale.md]
    python benchmarks/curvature_rule.py --store docs/curvature_fix.sqlite --task "" --cells \\
        --nuts-store docs/tanh_nuts.sqlite [--write docs/scale.md --mark curvature-fix]

For each task and method, over the dataset seeds: the statuses; the range of κ, the curvature the
rule ε = fraction/κ measured at w* (one value per tempered posterior, as stored in the cell's
diagnostics; `sgld` tunes ε to a MALA acceptance instead and has none); in how many posteriors the
rule used its floor β n instead (cells computed since the rule has one store both values; "–" for
older cells, whose κ was used as measured); the heat of the chains,
β² Var_β[n L_n] / λ per posterior (the variance estimator's statistic: it tends to 1 for a sampler
of the tempered posterior as n grows, and at these n its finite-n value is below 1, so a median far
above 1 is a chain hotter than the posterior); the median χ²/dof of the multi-β line through the
posteriors' E_β[n L_n] (about 1 when the means lie on a line within their Monte Carlo errors); and
the median λ̂/λ of the `ok` cells.

With ``--cells``, one row per cell instead, against the finite-n truth of its dataset: the
quadrature target stored in the cell where it exists, else a NUTS cell of ``--nuts-store`` on the same
dataset, n, estimator and β grid that passes the rules of ``against_nuts.py`` (R-hat < 1.01, ESS ≥
1000, status ``ok``); z uses the combined SE.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from against_nuts import hyper, nuts_summary, pairs  # noqa: E402
from common import publish  # noqa: E402

from slt_bench.scoring import reported  # noqa: E402
from slt_bench.store import ResultStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MARK = "curvature-rule"


def as_json(value):
    return json.loads(value) if isinstance(value, str) else (value or {})


def cell_stats(row: dict) -> dict:
    """κ values, per-posterior heat and the fit's χ²/dof of one cell."""
    diags = as_json(row.get("diagnostics")) or []
    diags = [diags] if isinstance(diags, dict) else diags
    betas = as_json(row.get("betas")) or []
    lam = row["rlct_value"]
    heat = [b * b * d["sd"] ** 2 / lam for b, d in zip(betas, diags) if d.get("sd") is not None and lam]
    ruled = [d for d in diags if d.get("curvature") is not None]
    floored = [d for d in ruled if "curvature_measured" in d]  # stored since the rule has its floor at β n
    return {"kappa": [d.get("curvature_measured", d["curvature"]) for d in ruled
                      if d.get("curvature_measured", d["curvature"]) is not None],
            "floor": (sum(d["curvature"] != d["curvature_measured"] for d in floored), len(floored)),
            "heat": heat, "chi2": as_json(row.get("fit")).get("chi2_dof")}


def fmt(x: float) -> str:
    return f"{x:.2g}" if abs(x) < 100 else f"{x:.3g}"


def table(rows: list[dict], methods: list[str]) -> str:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["task"], r["method"])].append(r)
    lines = ["| task | λ | method | cells | statuses | κ measured at w* (min–max over posteriors) | floor β n used | "
             "heat β²Var/λ, median (max) | χ²/dof of the line, median | λ̂/λ, median of ok |",
             "|---|---:|---|---:|---|---|---|---|---:|---:|"]
    for (task, method) in sorted(groups, key=lambda k: (k[0], methods.index(k[1]))):
        cells = groups[(task, method)]
        stats = [cell_stats(r) for r in cells]
        kappa = [k for s in stats for k in s["kappa"]]
        heat = [h for s in stats for h in s["heat"]]
        chi2 = [s["chi2"] for s in stats if s["chi2"] is not None]
        used, ruled = (sum(s["floor"][i] for s in stats) for i in (0, 1))
        ratio = [r["rlct_hat"] / r["rlct_value"] for r in cells if r["status"] == "ok" and r.get("rlct_hat") is not None]
        status = ", ".join(f"{k} {v}" for k, v in sorted(Counter(r["status"] for r in cells).items()))
        lines.append(f"| {task} | {cells[0]['rlct_value']:.4g} | {method} | {len(cells)} | {status} | "
                     f"{(fmt(min(kappa)) + '–' + fmt(max(kappa))) if kappa else ('0 (flat start)' if ruled else '– (MALA rule)')} | "
                     f"{f'{used}/{ruled}' if ruled else '–'} | "
                     f"{(fmt(statistics.median(heat)) + ' (' + fmt(max(heat)) + ')') if heat else '–'} | "
                     f"{fmt(statistics.median(chi2)) if chi2 else '–'} | "
                     f"{fmt(statistics.median(ratio)) if ratio else '–'} |")
    return "\n".join(lines)


def cell_table(rows: list[dict], nuts_rows: list[dict]) -> str:
    """One row per cell: λ̂ against the finite-n truth of its dataset, with the chains' heat."""
    nuts = {id(m): nu for m, nu in pairs(rows, nuts_rows) if not nuts_summary(nu)["failed"]}
    lines = ["| task | λ | method | seed | setting | λ̂ ± SE | finite-n truth ± SE (source) | z | heat, median (max) | "
             "χ²/dof | status |", "|---|---:|---|---:|---|---:|---|---:|---|---:|---|"]
    for r in sorted(rows, key=lambda r: (r["task"], r["method"], r["seed"])):
        st = cell_stats(r)
        setting = ", ".join(f"{k} {v}" for k, v in sorted(hyper(r).items()) if k == "step_size") or "preset"
        if r.get("finite_target") is not None:
            truth, truth_se, source = r["finite_target"], 0.0, "quadrature"
        elif id(r) in nuts:
            truth, truth_se, source = nuts[id(r)]["rlct_hat"], nuts[id(r)]["se"], "NUTS"
        else:
            truth = None
        lam_hat = "–" if r.get("rlct_hat") is None else f"{r['rlct_hat']:.3f} ± {r['se']:.3f}"
        if truth is None or r.get("rlct_hat") is None:
            ref, z = "–", "–"
        else:
            ref = f"{truth:.3f}" + (f" ± {truth_se:.3f}" if truth_se else "") + f" ({source})"
            z = f"{(r['rlct_hat'] - truth) / (r['se'] ** 2 + truth_se ** 2) ** 0.5:+.1f}"
        heat = f"{fmt(statistics.median(st['heat']))} ({fmt(max(st['heat']))})" if st["heat"] else "–"
        chi2 = fmt(st["chi2"]) if st["chi2"] is not None else "–"
        lines.append(f"| {r['task']} | {r['rlct_value']:.4g} | {r['method']} | {r['seed']} | {setting} | {lam_hat} | {ref} | "
                     f"{z} | {heat} | {chi2} | {r['status']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=str(ROOT / "docs" / "leaderboard" / "baseline.sqlite"))
    parser.add_argument("--task", default="tanh/", help="task id prefix (default: the tanh networks)")
    parser.add_argument("--methods", default="sgld,rmsprop-sgld,adam-sgld,sghmc,sgnht")
    parser.add_argument("--estimator", default="multi-beta")
    parser.add_argument("--cells", action="store_true", help="one row per cell, against its finite-n truth")
    parser.add_argument("--nuts-store", nargs="*", default=[], help="NUTS cells that serve as the finite-n truth (--cells)")
    parser.add_argument("--write", default=None, help="splice into this Markdown file between <!-- MARK:start/end -->")
    parser.add_argument("--mark", default=MARK, help=f"the marker name MARK (default {MARK})")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not Path(args.store).is_file():
        raise SystemExit(f"error: no results store at {args.store}")
    rows = [r for r in reported(ResultStore(args.store).rows())  # statuses as the reports show them
            if r["method"] in methods and r["task"].startswith(args.task) and r["estimator"] == args.estimator]
    if not rows:
        raise SystemExit(f"error: no {args.estimator} cells of {', '.join(methods)} on tasks {args.task}* in {args.store}")
    if args.cells:
        nuts_rows = [r for path in args.nuts_store for r in reported(ResultStore(path).rows()) if r["method"] == "nuts"]
        text = cell_table(rows, nuts_rows)
    else:
        text = table(rows, methods)
    publish(text, args.write, args.mark)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
