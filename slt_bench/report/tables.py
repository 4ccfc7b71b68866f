"""Tables from the store: one row per cell after a run, and the leaderboard.

The leaderboard compares like with like: a row holds the cells of one method preset (tier and
hyperparameter hash), one estimator (and generalisation scheme), one task family and one sample
size n, and never two versions or two contents of one task. It works on any store, including one
whose cells have no finite-n target at all.

**Ranking rule** (:data:`RANKING_RULE`): within a family × estimator × n, rows are ordered by

1. the median, over the row's cells, of the absolute relative error against the sharpest trusted
   target (the finite-n target, by quadrature or from a certified reference, where one exists, else
   λ), where a cell whose status is not
   ``ok`` counts as an infinite error — accuracy first, and a method that fails on more than half
   its cells sinks to the bottom whatever its other cells did;
2. then the share of cells that count as successes (status ``ok`` and within 3 SE of that target);
3. then the median gradient evaluations per cell (cheaper first).

Ranking on "within k SE" alone would reward a method for large standard errors; ranking on the
error of its good cells alone would reward failing on the hard ones. The rule above does neither.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from slt_bench.scoring import TRUSTED_TARGETS, counts_as_success, reported

RANKING_RULE = (
    "Rows are compared within one family, estimator and n. They are ordered by (1) the median over "
    "the row's cells of |relative error| against the sharpest trusted target (the finite-n target, by "
    "quadrature or from a certified reference, where one exists, else λ), a cell that is not `ok` counting as an infinite error, so a method that "
    "fails on more than half its cells ranks last; then (2) the share of cells that are `ok` and within "
    "3 SE of that target; then (3) the median gradient evaluations per cell. Ranking on 'within k SE' "
    "alone would reward large standard errors, and ranking on the good cells alone would reward failing "
    "on the hard ones."
)
FINITE_N_NOTE = (
    "The finite-n columns (sampler error and |z| against the finite-n target, estimator bias) cover the cells "
    "that have a finite-n target: by quadrature on tasks with ≤ 3 parameters, from a certified reference "
    "beyond. '(k/m)' after a median means only k of the row's m ok cells have one, and the median is over those k."
)
GROUP_KEYS = ("method", "preset", "estimator", "family", "n", "variant")


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, spec)


def filter_rows(rows: Sequence[dict[str, Any]], methods: Iterable[str] = (), families: Iterable[str] = (),
                tiers: Iterable[str] = (), estimators: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The rows matching every non-empty filter (each a set of accepted values)."""
    wanted = {"method": set(methods), "family": set(families), "tier": set(tiers), "estimator": set(estimators)}
    return [r for r in rows if all(not accepted or r.get(field) in accepted for field, accepted in wanted.items())]


def _seeds_text(row: dict[str, Any]) -> str:
    if row.get("metric") == "generalisation":
        reps = (row.get("options") or {}).get("replicates")
        return f"0–{reps - 1}" if reps else "–"
    return str(row["seed"])


def _n_text(row: dict[str, Any]) -> str:
    if row.get("metric") == "generalisation":
        ns = (row.get("options") or {}).get("ns") or (row.get("fit") or {}).get("ns") or []
        return f"{min(ns)}–{max(ns)} ({len(ns)})" if ns else str(row["n"])
    return str(row["n"])


def run_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """task, λ (target), λ̂ ± SE, relative errors (vs λ and vs the finite-n target), status (as
    :func:`~slt_bench.scoring.reported` derives it), cost; and, when a minibatch Langevin run stored
    one, its noise heat (:func:`~slt_bench.scoring.noise_heat_of`), when ``sgld`` stored one, its
    acceptance at the end (:func:`~slt_bench.scoring.end_accept_of`), and when an SG-MCMC run stored one, its
    step against the curvature there (``εκ end``, :func:`~slt_bench.scoring.end_eps_kappa_of`) and that step
    against the method's limit (``εκ/limit``, :func:`~slt_bench.scoring.end_stiffness_of`; ``stiff`` at 1)."""
    out = []
    for r in reported(rows):
        out.append({
            "task": r["task"], "seed": _seeds_text(r), "n": _n_text(r), "estimator": r["estimator"],
            "λ": r["rlct"] or _fmt(r["rlct_value"]), "m": r["multiplicity"] or "–",
            "λ̂ ± SE": f"{_fmt(r['rlct_hat'])} ± {_fmt(r['se'])}",
            "rel err": _fmt(r["rel_error"], "+.1%"),
            "finite-n λ": _fmt(r["finite_target"]) + ("" if r.get("finite_status") in (None, *TRUSTED_TARGETS) else " (flagged)"),
            "rel err (finite-n)": _fmt(r["finite_rel_error"], "+.1%"),
            "status": r["status"], "grad evals": f"{r['grad_evals'] or 0:.3g}", "seconds": f"{r['wall_s'] or 0:.1f}",
            "noise heat": _fmt(r.get("noise_heat"), ".3g"),
            "end accept": _fmt(r.get("end_accept"), ".4f"),
            "εκ end": _fmt(r.get("end_eps_kappa"), ".3g"),
            "εκ/limit": _fmt(r.get("end_stiffness"), ".3g"),
        })
    frame = pd.DataFrame(out)
    for column in ("noise heat", "end accept", "εκ end", "εκ/limit"):  # dropped when no row has one (no such run among the rows)
        if not frame.empty and (frame[column] == "–").all():
            frame = frame.drop(columns=column)
    return frame


# What a user can do about a cell that stopped for its budget: the flag that raises it (a part of the preset
# hash, so the longer run is stored beside the tier's cells, not over them).
BUDGET_HINT = "raise the budget with --budget GRADIENTS (it becomes part of the preset hash) or shorten the run with --set"


def run_notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One line per cell that is not ``ok`` (statuses as :func:`~slt_bench.scoring.reported` derives
    them): which cell, its status and the reason stored with it; a ``budget_exceeded`` cell also says
    how to give it the gradients it asked for."""
    lines = []
    for r in reported(rows):
        if r["status"] == "ok":
            continue
        line = f"{r['task']} seed {_seeds_text(r)} n {_n_text(r)} {r['estimator']}: {r['status']}"
        if r.get("reason"):
            line += f": {r['reason']}"
        if r["status"] == "budget_exceeded":
            line += f"; {BUDGET_HINT}"
        lines.append(line)
    return lines


def preset_label(row: dict[str, Any]) -> str:
    """The tier when the cell ran the tier's own preset, else tier* and the hash of its overrides; a cell
    scored under an older :data:`~slt_bench.runner.SCORING_VERSION` says so (``standard (scoring v2)``),
    so it never shares a leaderboard row with cells whose statuses mean something else."""
    from slt_bench.errors import SltBenchError
    from slt_bench.runner.presets import load_preset
    from slt_bench.runner.spec import SCORING_VERSION

    try:
        stock = load_preset(row["method"], row["tier"]).hash
    except (SltBenchError, OSError, TypeError):
        stock = None
    label = row["tier"] if row["preset_hash"] == stock else f"{row['tier']}* {str(row['preset_hash'])[:6]}"
    version = row.get("scoring_version")
    if version is not None and not pd.isna(version) and int(version) != SCORING_VERSION:
        label += f" (scoring v{int(version)})"
    return label


def _variants(frame: pd.DataFrame) -> pd.Series:
    """0 for the first (version, content) of each task id met in the store, 1 for the next, …:
    rows of different task versions or contents never share a leaderboard row."""
    seen: dict[str, list[tuple[Any, Any]]] = {}
    out = []
    for task, version, content in zip(frame["task"], frame["task_version"], frame["task_hash"]):
        kinds = seen.setdefault(task, [])
        if (version, content) not in kinds:
            kinds.append((version, content))
        out.append(kinds.index((version, content)))
    return pd.Series(out, index=frame.index)


def _sharpest_rel(row: pd.Series) -> float:
    value = row["finite_rel_error"] if row["finite_rel_error"] is not None and not pd.isna(row["finite_rel_error"]) \
        else row["rel_error"]
    if row["status"] != "ok" or value is None or pd.isna(value):
        return math.inf
    return abs(float(value))


def leaderboard(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per method preset × estimator × family × n (× task variant), ranked by :data:`RANKING_RULE`,
    on the statuses :func:`~slt_bench.scoring.reported` derives (a cell failing the tempering identity is
    ``inconsistent``, not ``ok``)."""
    frame = pd.DataFrame(reported(rows))
    if frame.empty:
        return frame
    for col in ("task_hash", "finite_rel_error", "finite_z", "rel_error", "z", "scheme", "finite_target",
                "finite_status", "rlct_value"):
        if col not in frame:
            frame[col] = None
    frame["preset"] = [preset_label(r) for r in frame.to_dict("records")]
    frame["variant"] = _variants(frame)
    scheme = frame["options"].map(lambda o: (o or {}).get("scheme", "all") if isinstance(o, dict) else "all")
    frame["estimator"] = [e if s == "all" else f"{e} [{s}]" for e, s in zip(frame["estimator"], scheme)]
    frame["success"] = [counts_as_success(r) for r in frame.to_dict("records")]
    frame["rank_error"] = frame.apply(_sharpest_rel, axis=1)
    frame["abs_rel"] = pd.to_numeric(frame["rel_error"], errors="coerce").abs()
    frame["abs_rel_finite"] = pd.to_numeric(frame["finite_rel_error"], errors="coerce").abs()
    frame["abs_finite_z"] = pd.to_numeric(frame["finite_z"], errors="coerce").abs()
    # estimator bias: the exact finite-n target against λ, (target − λ)/λ, where the target is exact
    target = pd.to_numeric(frame["finite_target"], errors="coerce").where(frame["finite_status"].isin(TRUSTED_TARGETS) if "finite_status" in frame else False)
    lam = pd.to_numeric(frame["rlct_value"], errors="coerce")
    frame["estimator_bias"] = (target - lam) / lam.abs()
    ok = frame["status"] == "ok"
    records = []
    for key, group in frame.groupby(list(GROUP_KEYS), sort=False, dropna=False):
        good = group[ok.loc[group.index]]
        statuses = group["status"].value_counts()
        records.append({
            **dict(zip(GROUP_KEYS, key)),
            "tier": group["tier"].iloc[0],
            "tasks": ", ".join(sorted({f"{t}@{v}" for t, v in zip(group["task"], group["task_version"])})),
            "cells": int(len(group)),
            "statuses": ", ".join(f"{s} {c}" for s, c in statuses.items()),
            "ok": float((group["status"] == "ok").mean()),
            "rank_error": float(np.median(group["rank_error"])),
            "median_abs_rel_err": float(good["abs_rel"].median()) if good["abs_rel"].notna().any() else None,
            "median_abs_rel_err_finite_n": (float(good["abs_rel_finite"].median())
                                            if good["abs_rel_finite"].notna().any() else None),
            "median_abs_z_finite_n": float(good["abs_finite_z"].median()) if good["abs_finite_z"].notna().any() else None,
            # the finite-n medians cover only the ok cells that have a finite-n target: say how many
            "ok_cells": int(len(good)),
            "finite_n_cells": int(good["abs_rel_finite"].notna().sum()),
            "estimator_bias": (float(group["estimator_bias"].median()) if group["estimator_bias"].notna().any()
                               else None),
            "within_3se": float(group["success"].mean()),
            "grad_evals_per_cell": float(pd.to_numeric(group["grad_evals"], errors="coerce").median()),
            "seconds_per_cell": float(pd.to_numeric(group["wall_s"], errors="coerce").median()),
        })
    table = pd.DataFrame(records)
    table = table.sort_values(["family", "estimator", "n", "rank_error", "within_3se", "grad_evals_per_cell"],
                              ascending=[True, True, True, True, False, True], kind="stable").reset_index(drop=True)
    table["rank"] = table.groupby(["family", "estimator", "n"]).cumcount() + 1
    return table


def leaderboard_records(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The leaderboard as plain records (``report --format json|csv``); infinite errors as None."""
    table = leaderboard([r for r in rows if r.get("metric") != "generalisation"])
    out = []
    for rec in table.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()})
    return out


def generalisation_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One line per generalisation cell: the slope of E_n G(n) against 1/n beside λ."""
    out = []
    for r in rows:
        if r.get("metric") != "generalisation" and r["estimator"] != "generalisation":
            continue
        fit = r.get("fit") or {}
        scheme = (r.get("options") or {}).get("scheme") or fit.get("scheme") or "all"
        out.append({
            "task": r["task"], "method": r["method"] if scheme == "all" else f"{r['method']} [{scheme}]",
            "preset": preset_label(r), "λ": r["rlct"] or _fmt(r["rlct_value"]),
            "slope ± SE": f"{_fmt(r['rlct_hat'], '.3f')} ± {_fmt(r['se'], '.3f')}",
            "z vs λ": _fmt(r["z"], "+.1f"),
            "R²": _fmt(fit.get("r2"), ".2f"),
            "n grid": _n_text(r),
            "draws per n": max(fit.get("replicates") or [0]),
            "status": r["status"], "grad evals": f"{r['grad_evals'] or 0:.3g}", "seconds": f"{r['wall_s'] or 0:.0f}",
        })
    return pd.DataFrame(out)


def finite_n_text(median: str, with_target: int, ok_cells: int) -> str:
    """A finite-n median as shown: ``(k/m)`` after it when only k of the row's m ok cells have a target."""
    if with_target and with_target < ok_cells:
        return f"{median} ({with_target}/{ok_cells})"
    return median


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table; a ``|`` inside a cell is escaped so it cannot split a column."""
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def leaderboard_markdown(rows: Sequence[dict[str, Any]]) -> str:
    gen = generalisation_table(rows)
    gen_text = ""
    if not gen.empty:
        gen_text = (
            "\n## Learning coefficient of generalisation\n\n"
            "Slope of the mean generalisation error E_n G(n) against 1/n at β = 1 (`run --metric generalisation`);\n"
            "the Bayes predictive's slope is λ, a point estimate's (MAP) is reported beside it.\n\n"
            + markdown_table(gen)
        )
    rlct_rows = [r for r in rows if r.get("metric") != "generalisation" and r["estimator"] != "generalisation"]
    table = leaderboard(rlct_rows)
    if table.empty:
        if gen_text:
            return "# slt-bench leaderboard\n" + gen_text
        return "# slt-bench leaderboard\n\nThe store holds no results yet: run `slt-bench run --method sgld`.\n"
    shown = pd.DataFrame({
        "family": table["family"], "estimator": table["estimator"], "n": table["n"], "rank": table["rank"],
        "method": table["method"], "preset": table["preset"], "cells": table["cells"],
        "statuses": table["statuses"],
        "median abs rel err vs λ": table["median_abs_rel_err"].map(lambda v: _fmt(v, ".1%")),
        "median abs rel err vs finite-n": [finite_n_text(_fmt(v, ".1%"), k, m) for v, k, m in zip(
            table["median_abs_rel_err_finite_n"], table["finite_n_cells"], table["ok_cells"])],
        "ok and within 3 SE": table["within_3se"].map(lambda v: f"{v:.0%}"),
        "grad evals per cell": table["grad_evals_per_cell"].map(lambda v: _fmt(v, ".3g")),
        "seconds per cell": table["seconds_per_cell"].map(lambda v: _fmt(v, ".1f")),
    })
    header = (
        "# slt-bench leaderboard\n\n"
        "One row per method preset (tier; `*` and a hash when hyperparameters were overridden), estimator,\n"
        "task family and n. Errors are medians over the row's `ok` cells: against the task's λ and, for tasks\n"
        "with a finite-n target, against it (what the same estimator returns with a perfect sampler on the\n"
        "same dataset). 'ok and within 3 SE' is the share of all the row's cells that have\n"
        "status `ok` and lie within 3 SE of the finite-n target where it exists, else of λ; any other status\n"
        "(diverged, unmixed, degenerate, inconsistent, …) never counts. `inconsistent` is derived by the report,\n"
        "not stored: a multi-β cell whose posteriors break the tempering identity d/dβ E_β[n L_n] = −Var_β[n L_n]\n"
        "(the drop of the means between neighbouring β against the one their variances imply, |z| above the\n"
        "bound for a 0.1% false alarm rate per cell), which no sample of the tempered posteriors does. `stiff`, also\n"
        "derived: an SG-MCMC cell whose median chain ended where its step along the stiffest direction of the\n"
        "potential reached the method's limit (ε κ 2 for `sgld` and `rmsprop-sgld`, where the step overshoots that\n"
        "direction; 0.21 for `adam-sgld` and ε² κ 0.049 for `sghmc`, where their recursions double the variance\n"
        "there). Tasks with m > 1 are biased low against λ at\n"
        "finite n by ≈ (m−1)/log(nβ) whatever the sampler.\n\n"
        f"{FINITE_N_NOTE}\n\n"
        f"**Ranking.** {RANKING_RULE}\n\n"
    )
    return header + markdown_table(shown) + gen_text
