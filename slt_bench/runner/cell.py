"""One cell of the grid: (task, dataset seed, n, method preset, estimator) → one stored row."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import time
import traceback
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from slt_bench.draws import Draws
from slt_bench.errors import SltBenchError
from slt_bench.estimators import get_estimator
from slt_bench.methods import make_method
from slt_bench.scoring import score, target_note
from slt_bench.target import Budget, TemperedTarget
from slt_bench.tasks import load_catalog

# Statuses after which the estimate is still computed and stored (with the status beside it):
# a Laplace fit on a singular Hessian is "degenerate" but its draws still say what it would claim.
_ESTIMABLE = ("ok", "diverged", "degenerate")


@dataclass(frozen=True)
class CellSpec:
    """Everything needed to compute a cell, as plain values (it crosses process boundaries)."""

    task: str  # id@version
    method: str
    tier: str
    hyper: dict[str, Any]
    budget: float
    preset_hash: str
    seed: int
    n: int
    estimator: str
    catalogs: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        blob = json.dumps(
            {k: v for k, v in asdict(self).items() if k not in ("catalogs", "hyper", "budget")}, sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:20]


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    out = {}
    for dist in ("slt-bench", "numpy", "torch", "jax", "jaxlib", "numpyro", "scipy", "pandas"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the slt-bench checkout in use, with '+dirty' for local changes; 'unknown' outside git."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _posterior_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index, 7919]).generate_state(1)[0])


def _worst_status(draws: list[Draws]) -> tuple[str, str]:
    for status in ("nan", "budget_exceeded", "degenerate", "error", "diverged", "point_estimate"):
        for i, d in enumerate(draws):
            if d.status == status:
                return status, f"posterior {i}: {d.reason}"
    return "ok", ""


def run_cell(spec: CellSpec) -> dict[str, Any]:
    """Compute one cell. Numerical failures become a status; only bad input raises."""
    catalog = load_catalog(spec.catalogs)
    task = catalog.get(spec.task)
    estimator = get_estimator(spec.estimator)
    method = make_method(spec.method, spec.hyper)
    data = task.dataset(spec.n, spec.seed)
    posteriors = estimator.posteriors(task, data)
    start = time.perf_counter()
    draws: list[Draws] = []
    status, reason = "ok", ""
    try:
        for i, post in enumerate(posteriors):
            target = TemperedTarget(task, data, post.beta, post.centre, post.gamma)
            draws.append(method.sample(target, Budget(spec.budget), _posterior_seed(spec.seed, i)))
        status, reason = _worst_status(draws)
    except SltBenchError:
        raise
    except Exception as err:  # a method bug must not end the whole grid: store it, go on
        status, reason = "error", f"{type(err).__name__}: {err} | {traceback.format_exc(limit=3)[-400:]}"
    rlct_hat = se = float("nan")
    fit: dict[str, Any] = {}
    finite = None
    if draws and all(d.status in _ESTIMABLE and d.n_loss.size for d in draws) and len(draws) == len(posteriors):
        est = estimator.estimate(task, data, posteriors, draws)
        rlct_hat, se, fit = est.rlct_hat, est.se, est.fit
        if math.isfinite(rlct_hat):
            finite = estimator.finite_n_target(task, data, posteriors, est)
    beta_mid = posteriors[len(posteriors) // 2].beta
    row = {
        "key": spec.key,
        "task": task.id, "task_version": task.version, "family": task.family, "n_params": task.n_params,
        "method": spec.method, "tier": spec.tier, "preset_hash": spec.preset_hash, "hyper": spec.hyper,
        "budget": spec.budget, "seed": spec.seed, "n": spec.n, "estimator": spec.estimator,
        "betas": [p.beta for p in posteriors],
        "rlct": str(task.rlct) if task.rlct is not None else None, "rlct_value": task.rlct_value,
        "multiplicity": task.multiplicity, "kind": task.kind,
        "rlct_hat": rlct_hat, "se": se, "finite_target": finite,
        **score(rlct_hat, se, task.rlct_value, finite),
        "target_note": target_note(task.multiplicity, task.kind, finite is not None, spec.n, beta_mid),
        "status": status, "reason": reason,
        "grad_evals": float(sum(d.grad_evals for d in draws)),
        "wall_s": time.perf_counter() - start,
        "diagnostics": [_plain(d.diagnostics) for d in draws], "fit": _plain(fit),
        "versions": package_versions(), "git_commit": git_commit(),
        "created_at": datetime.now(timezone.utc).isoformat(),
    }
    return row


def _plain(value: Any) -> Any:
    """JSON-ready copy: NumPy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
