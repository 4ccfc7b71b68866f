"""The one cell pipeline: (task, dataset seed, n, method preset, metric, estimator) → one stored row.

Both metrics go through :func:`run_cell`: it checks the task's content against the spec, runs the
metric (:mod:`~slt_bench.runner.rlct` or :mod:`~slt_bench.runner.generalisation`), which meters
gradient evaluations and times sampling and scoring as it goes, scores the estimate, and builds
the row. Nothing a cell does can end the grid: any exception becomes status ``error`` with its
message, stored beside whatever was measured before it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from slt_bench.runner.generalisation import run_generalisation
from slt_bench.runner.outcome import Outcome, describe_error
from slt_bench.runner.provenance import git_commit, package_versions
from slt_bench.runner.rlct import run_rlct
from slt_bench.runner.spec import SCORING_VERSION, CellSpec
from slt_bench.scoring import score
from slt_bench.tasks import load_catalog

METRIC_RUNNERS = {"rlct": run_rlct, "generalisation": run_generalisation}


def _load_task(spec: CellSpec) -> Any:
    task = load_catalog(spec.catalogs).get(spec.task)
    if task.content_hash != spec.task_hash:
        raise RuntimeError(f"task {spec.task} has changed content since the grid was built "
                           f"(hash {task.content_hash}, expected {spec.task_hash}); rerun to rebuild the grid")
    return task


def run_cell(spec: CellSpec) -> dict[str, Any]:
    """Compute one cell and return its row; never raises for anything the cell itself does."""
    out = Outcome()
    task = None
    try:
        task = _load_task(spec)
        METRIC_RUNNERS[spec.metric](spec, task, out)
    except Exception as err:  # a method, estimator or target failure ends this cell, not the grid
        out.status, out.reason = "error", describe_error(err)
    return make_row(spec, task, out)


def make_row(spec: CellSpec, task: Any, out: Outcome) -> dict[str, Any]:
    """The stored row of a cell: identity, task facts, outcome, scores, cost and provenance."""
    rlct = rlct_se = None
    facts: dict[str, Any] = {"family": spec.task.split("/")[0], "task_version": int(spec.task.rsplit("@", 1)[1])}
    if task is not None:
        rlct, rlct_se = task.rlct_value, (task.rlct_se if task.kind == "reference" else None)
        facts = {"family": task.family, "task_version": task.version, "n_params": task.n_params,
                 "rlct": str(task.rlct) if task.rlct is not None else None, "rlct_value": rlct, "rlct_se": rlct_se,
                 "multiplicity": task.multiplicity, "kind": task.kind}
    return {
        "key": spec.key, "task": spec.task.rsplit("@", 1)[0], "task_hash": spec.task_hash, **facts,
        "method": spec.method, "tier": spec.tier, "preset_hash": spec.preset_hash, "hyper": spec.hyper,
        "budget": spec.budget, "seed": spec.seed, "n": spec.n, "metric": spec.metric, "estimator": spec.estimator,
        "options": spec.options, "betas": out.betas,
        "rlct_hat": out.rlct_hat, "se": out.se, "finite_target": out.finite_target, "finite_status": out.finite_status,
        **score(out.rlct_hat, out.se, rlct, out.finite_target, out.finite_status, rlct_se),
        "target_note": out.target_note, "status": out.status, "reason": out.reason,
        "grad_evals": out.grad_evals, "sample_s": out.sample_s, "score_s": out.score_s,
        "wall_s": out.sample_s + out.score_s, "diagnostics": out.diagnostics, "fit": out.fit,
        "versions": package_versions(), "git_commit": git_commit(), "scoring_version": SCORING_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "traces": out.traces,
    }
