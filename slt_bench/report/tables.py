"""Tables: one row per cell after a run, and the methods × families leaderboard."""

from __future__ import annotations

import math
from typing import Any, Sequence

import pandas as pd


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, spec)


def run_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """task, λ (target), λ̂ ± SE, relative errors (vs λ and vs the finite-n target), status, cost."""
    out = []
    for r in rows:
        out.append({
            "task": r["task"], "seed": r["seed"], "n": r["n"], "estimator": r["estimator"],
            "λ": r["rlct"] or _fmt(r["rlct_value"]), "m": r["multiplicity"] or "–",
            "λ̂ ± SE": f"{_fmt(r['rlct_hat'])} ± {_fmt(r['se'])}",
            "rel err": _fmt(r["rel_error"], "+.1%"),
            "finite-n λ": _fmt(r["finite_target"]),
            "rel err (finite-n)": _fmt(r["finite_rel_error"], "+.1%"),
            "status": r["status"], "grad evals": f"{r['grad_evals']:.3g}", "seconds": f"{r['wall_s']:.1f}",
        })
    return pd.DataFrame(out)


def leaderboard(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Per method × family: cells, ok fraction, median |rel err| (vs λ, vs finite-n), within-2-SE, cost."""
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["abs_rel"] = frame["rel_error"].abs()
    frame["abs_rel_finite"] = frame["finite_rel_error"].abs()
    # within 2 SE of the sharpest target available: the finite-n one where it exists, else λ
    z = frame["finite_z"].where(frame["finite_z"].notna(), frame["z"])
    frame["within_2se"] = z.abs() <= 2
    frame["within_3se"] = z.abs() <= 3
    frame["ok"] = frame["status"] == "ok"
    grouped = frame.groupby(["method", "estimator", "family"], sort=True)
    table = grouped.agg(
        cells=("key", "count"),
        ok=("ok", "mean"),
        median_abs_rel_err=("abs_rel", "median"),
        median_abs_rel_err_finite_n=("abs_rel_finite", "median"),
        within_2se=("within_2se", "mean"),
        within_3se=("within_3se", "mean"),
        grad_evals=("grad_evals", "sum"),
        seconds=("wall_s", "sum"),
    ).reset_index()
    return table


def generalisation_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One line per generalisation cell: the slope of E_n G(n) against 1/n beside λ."""
    out = []
    for r in rows:
        if r["estimator"] != "generalisation":
            continue
        fit = r.get("fit") or {}
        ns = fit.get("ns") or []
        out.append({
            "task": r["task"], "method": r["method"], "tier": r["tier"],
            "λ": r["rlct"] or _fmt(r["rlct_value"]),
            "slope ± SE": f"{_fmt(r['rlct_hat'], '.3f')} ± {_fmt(r['se'], '.3f')}",
            "z vs λ": _fmt(r["z"], "+.1f"),
            "R²": _fmt(fit.get("r2"), ".2f"),
            "n grid": f"{min(ns)}–{max(ns)} ({len(ns)})" if ns else "–",
            "draws per n": max(fit.get("replicates") or [0]),
            "status": r["status"], "grad evals": f"{r['grad_evals']:.3g}", "seconds": f"{r['wall_s']:.0f}",
        })
    return pd.DataFrame(out)


def leaderboard_markdown(rows: Sequence[dict[str, Any]]) -> str:
    gen = generalisation_table(rows)
    gen_text = ""
    if not gen.empty:
        gen_text = (
            "\n## Learning coefficient of generalisation\n\n"
            "Slope of the mean generalisation error E_n G(n) against 1/n at β = 1 (`run --metric generalisation`);\n"
            "the Bayes predictive's slope is λ, a point estimate's (MAP) is reported beside it.\n\n"
            + gen.to_markdown(index=False) + "\n"
        )
        rows = [r for r in rows if r["estimator"] != "generalisation"]
    table = leaderboard(rows)
    if table.empty:
        if gen_text:
            return "# slt-bench leaderboard\n" + gen_text
        return "# slt-bench leaderboard\n\nThe store holds no results yet: run `slt-bench run --method sgld`.\n"
    shown = table.assign(
        ok=table["ok"].map(lambda v: f"{v:.0%}"),
        median_abs_rel_err=table["median_abs_rel_err"].map(lambda v: _fmt(v, ".1%")),
        median_abs_rel_err_finite_n=table["median_abs_rel_err_finite_n"].map(lambda v: _fmt(v, ".1%")),
        within_2se=table["within_2se"].map(lambda v: f"{v:.0%}"),
        within_3se=table["within_3se"].map(lambda v: f"{v:.0%}"),
        grad_evals=table["grad_evals"].map(lambda v: f"{v:.3g}"),
        seconds=table["seconds"].map(lambda v: f"{v:.0f}"),
    ).rename(columns={
        "median_abs_rel_err": "median |rel err| vs λ",
        "median_abs_rel_err_finite_n": "median |rel err| vs finite-n",
        "within_2se": "within 2 SE",
        "within_3se": "within 3 SE",
    })
    header = (
        "# slt-bench leaderboard\n\n"
        "Relative errors against the task's λ and, for tasks with ≤ 3 parameters, against the finite-n\n"
        "target (what the same estimator returns with a perfect sampler on the same dataset). "
        "'within 2/3 SE' use the finite-n target where it exists, else λ. Tasks with m > 1 are biased\n"
        "low against λ at finite n by ≈ (m−1)/log(nβ) whatever the sampler.\n\n"
    )
    return header + shown.to_markdown(index=False) + "\n" + gen_text
