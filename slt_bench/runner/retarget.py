"""Finite-n targets for cells already stored: ``slt-bench reference apply``.

A cell's finite-n target beyond quadrature comes from a certified reference file
(:mod:`slt_bench.reference`), looked up when the cell is computed. A cell stored before its task's
reference was built (or before the file was extended to its dataset seed, or rebuilt) therefore
carries no target, or an old one, and ``run`` never revisits it: its key is the same. This module
brings such cells up to date without sampling anything again. The target is a function of the task,
the dataset (seed, n), the estimator and its posteriors, and, for the GLS multi-β line, of the
per-β Monte Carlo SEs the cell stored in its fit; none of it depends on the draws beyond those SEs,
so recomputing it from the stored row gives what the run would give today.

For each newest ``rlct`` row of a task beyond quadrature whose λ̂ is a number:

* the task is loaded from the catalogue (and ``--catalog``); a task that is missing or whose content
  hash differs from the row's is skipped and counted, never scored against another task's reference;
* the estimator's posteriors are rebuilt from (task, n, seed) and must be the row's β to 1e-12;
* the target is recomputed with the reference files as they are now. If it differs from the stored
  one (value or status; a target the reference no longer certifies is removed), a new row is appended
  under the same key with the new target, the scores recomputed from it (:func:`slt_bench.scoring.score`)
  and the cell's traces copied; λ̂, SE, status, cost, draws' diagnostics and provenance are the stored
  row's. The fit records what was done (``finite_target_source``: when, at which commit, from which
  file). The old row stays as history, like a ``--force`` rerun's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

# the β a rebuilt posterior must match the stored one to: both come from the same formula of n
BETA_MATCH = 1e-12


@dataclass
class RetargetSummary:
    """What :func:`retarget` found: counts by outcome, and one line per cell it could not check."""

    examined: int = 0
    attached: int = 0  # had no target, now has one
    changed: int = 0  # had a target, now another (value or status)
    removed: int = 0  # had a target the reference no longer certifies
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.attached + self.changed + self.removed

    def text(self, dry_run: bool = False) -> str:
        verb = "would append" if dry_run else "appended"
        lines = [f"{self.examined} cells beyond quadrature examined: {self.attached} target(s) attached, "
                 f"{self.changed} changed, {self.removed} removed, {self.unchanged} unchanged; "
                 f"{verb} {self.written} row(s)" + (f"; {len(self.skipped)} skipped:" if self.skipped else "")]
        lines += [f"  {s}" for s in self.skipped]
        return "\n".join(lines)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a == b or (math.isnan(a) and math.isnan(b))


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _describe(row: dict[str, Any]) -> str:
    return f"{row['method']} {row['task']} seed {row['seed']} n {row['n']} {row['estimator']}"


def target_now(row: dict[str, Any], catalog: Any) -> tuple[Any, str | None, Any]:
    """The finite-n target of a stored cell with the reference files as they are now: (FiniteTarget or
    None, None, the task), or (None, why it cannot be computed, the task or None)."""
    from slt_bench.estimators import get_estimator
    from slt_bench.estimators.base import Estimate

    try:
        task = catalog.get(row["task"])
    except Exception as err:  # noqa: BLE001 - any lookup failure is a skip with its reason
        return None, f"task not in the catalogue ({err})", None
    if task.version != row.get("task_version") or task.content_hash != row.get("task_hash"):
        return None, (f"the catalogue's {task.key} has other content ({task.content_hash}) than the cell's "
                      f"({row.get('task_hash')})"), task
    estimator = get_estimator(row["estimator"], **(row.get("options") or {}))
    data = task.dataset(int(row["n"]), int(row["seed"]))
    posteriors = estimator.posteriors(task, data)
    stored = row.get("betas") or []
    if len(stored) != len(posteriors) or any(abs(p.beta - b) > BETA_MATCH * max(abs(b), 1.0)
                                             for p, b in zip(posteriors, stored)):
        return None, "its posteriors are not the estimator's today (β grid changed)", task
    estimate = Estimate(float(row["rlct_hat"]), float(row["se"]) if _number(row.get("se")) else math.nan,
                        dict(row.get("fit") or {}))
    return estimator.finite_n_target(task, data, posteriors, estimate), None, task


def retarget(store_path: str | Path, catalogs: Sequence[str] = (), dry_run: bool = False) -> RetargetSummary:
    """Bring the finite-n targets of ``store_path``'s cells up to date with the reference files (see the
    module docstring); with ``dry_run`` count what would change and write nothing."""
    from slt_bench.reference import file_for
    from slt_bench.runner.provenance import git_commit
    from slt_bench.scoring import score, target_note
    from slt_bench.store import ResultStore
    from slt_bench.tasks import load_catalog
    from slt_bench.tasks.quadrature import MAX_PARAMS

    store = ResultStore(store_path, writable=not dry_run)
    catalog = load_catalog(tuple(catalogs))
    summary = RetargetSummary()
    stamp = {"retargeted_at": datetime.now(timezone.utc).isoformat(), "git_commit": git_commit()}
    for row in store.rows():
        if (row.get("metric") != "rlct" or not _number(row.get("rlct_hat")) or row.get("n_params") is None
                or row["n_params"] <= MAX_PARAMS or row.get("seed") is None):
            continue
        summary.examined += 1
        try:
            found, why, task = target_now(row, catalog)
        except Exception as err:  # noqa: BLE001 - a refused reference file, a bad option: named, not raised
            found, why, task = None, f"{type(err).__name__}: {err}", None
        if why is not None:
            summary.skipped.append(f"{_describe(row)}: {why}")
            continue
        value = None if found is None else float(found.value)
        status = None if found is None else found.status
        if _same(value, row.get("finite_target")) and status == row.get("finite_status"):
            summary.unchanged += 1
            continue
        if row.get("finite_target") is None and row.get("finite_status") is None:
            summary.attached += 1
        elif found is None:
            summary.removed += 1
        else:
            summary.changed += 1
        if dry_run:
            continue
        fit = dict(row.get("fit") or {})
        fit.pop("finite_target_detail", None)
        if found is not None and found.detail:
            fit["finite_target_detail"] = found.detail
        reference = file_for(task)
        fit["finite_target_source"] = {**stamp, "reference": f"{reference.parent.name}/{reference.name}",
                                       "previous": {"finite_target": row.get("finite_target"),
                                                    "finite_status": row.get("finite_status")}}
        betas = row.get("betas") or []
        beta_mid = betas[len(betas) // 2] if betas else math.nan
        new = {**row, "finite_target": value, "finite_status": status, "fit": fit,
               **score(float(row["rlct_hat"]), float(row["se"]) if _number(row.get("se")) else math.nan,
                       row.get("rlct_value"), value, status, row.get("rlct_se")),
               "target_note": target_note(row.get("multiplicity"), row.get("kind") or "exact", status,
                                          int(row["n"]), beta_mid),
               "traces": store.traces(row["row_id"])}
        new.pop("row_id", None)
        store.put(new)
    return summary
