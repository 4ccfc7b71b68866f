"""The generalisation experiment as one stored cell: (task, method preset, scheme, n grid, R draws).

For each n in the grid and each dataset draw r < R: the method's posterior at β = 1 (the Bayes
posterior, or the MAP for ``map``) gives parameter draws; their predictive on a held-out set of
n' points gives G(n, r) (:mod:`slt_bench.estimators.generalisation`). The mean over r is
regressed on 1/n; the slope is stored as the cell's ``rlct_hat`` with ``estimator =
"generalisation"`` and scored against λ like any other estimate. Under a last-layer scheme the
network is first fitted by MAP (``map_hyper``) and the method then runs on the last k layers with
the earlier ones frozen (:mod:`slt_bench.tasks.frozen`); the MAP fit is shared by the rows of
one worker process that need the same (task, n, r).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
import traceback
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import numpy as np

from slt_bench.errors import SltBenchError
from slt_bench.estimators.generalisation import fit_slope, generalisation_error, log_predictive
from slt_bench.methods import get_method, make_method
from slt_bench.models import log_likelihood
from slt_bench.models.ops import numpy_ops
from slt_bench.runner.cell import _plain, git_commit, package_versions
from slt_bench.scoring import score
from slt_bench.target import Budget, TemperedTarget
from slt_bench.tasks import load_catalog
from slt_bench.tasks.frozen import freeze, frozen_dataset, scheme_layers

TEST_SEED = 1_000_000_007  # the held-out set's seed: never one of the replicate seeds 0..R−1
USABLE = ("ok", "diverged", "degenerate", "point_estimate")
MAP_BUDGET = 1e6


@dataclass(frozen=True)
class GeneralisationSpec:
    """Everything one generalisation cell needs, as plain values (it crosses process boundaries)."""

    task: str
    method: str
    tier: str
    hyper: dict[str, Any]
    budget: float
    preset_hash: str
    ns: tuple[int, ...]
    replicates: int
    n_test: int
    scheme: str = "all"
    map_hyper: dict[str, Any] = dataclasses.field(default_factory=dict)
    intercept: bool = False
    max_draws: int = 1000
    catalogs: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        blob = json.dumps({"metric": "generalisation",
                           **{k: v for k, v in asdict(self).items() if k not in ("catalogs", "hyper", "budget")}},
                          sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]


def check_spec(spec: GeneralisationSpec, task: Any) -> None:
    """Bad settings fail before anything runs, each naming what is valid."""
    scheme_layers(task, spec.scheme)
    if not spec.ns or any(isinstance(n, bool) or not isinstance(n, int) or n < 2 for n in spec.ns):
        raise SltBenchError(f"--ns must be sample sizes >= 2, got {list(spec.ns)}")
    if len(set(spec.ns)) < (3 if spec.intercept else 2):
        raise SltBenchError(f"the slope against 1/n needs at least {3 if spec.intercept else 2} distinct n; got {list(spec.ns)}")
    if spec.replicates < 1 or spec.n_test < 1:
        raise SltBenchError("--seeds (dataset draws per n) and --n-test must be positive integers")


def _method(name: str, hyper: dict[str, Any]) -> Any:
    """The method, set to return its parameter draws (the predictive is built from them)."""
    cls = get_method(name)
    if not (dataclasses.is_dataclass(cls) and any(f.name == "keep_params" for f in dataclasses.fields(cls))):
        raise SltBenchError(f"method {name} has no keep_params hyperparameter, so it cannot return parameter draws; "
                            "the generalisation metric builds its predictive from them")
    return make_method(name, {**hyper, "keep_params": True})


@lru_cache(maxsize=256)
def _map_fits(task_key: str, catalogs: tuple[str, ...], n: int, replicates: int, map_hyper: str) -> np.ndarray:
    """MAPs of the full network on datasets (n, 0..R−1), (R, d): the points earlier layers freeze at.

    Cached per worker process, so the rows of one table that freeze at the same MAP fit it once.
    """
    task = load_catalog(catalogs).get(task_key)
    targets = [TemperedTarget(task, task.dataset(n, r), 1.0) for r in range(replicates)]
    draws = _sample_all(_method("map", json.loads(map_hyper)), targets, Budget(MAP_BUDGET),
                        list(range(replicates)))
    out = np.full((replicates, task.n_params), np.nan)
    for r, d in enumerate(draws):
        if d.params is not None:
            out[r] = d.params.reshape(-1)
    return out


def _sample_all(method: Any, targets: list[TemperedTarget], budget: Budget, seeds: list[int]) -> list[Any]:
    """All posteriors of one n: batched when the method can (``sample_many``), else one by one."""
    many = getattr(method, "sample_many", None)
    if many is not None:
        return many(targets, budget, seeds)
    return [method.sample(t, budget, s) for t, s in zip(targets, seeds)]


def _seed(n: int, replicate: int) -> int:
    return int(np.random.SeedSequence([replicate, n, 104729]).generate_state(1)[0])


def run_generalisation(spec: GeneralisationSpec) -> dict[str, Any]:
    """Compute one generalisation cell. Failed posteriors become NaN entries and a status."""
    catalog = load_catalog(spec.catalogs)
    task = catalog.get(spec.task)
    method = _method(spec.method, spec.hyper)
    check_spec(spec, task)
    k = scheme_layers(task, spec.scheme)
    test = task.dataset(spec.n_test, TEST_SEED)
    truth = np.asarray(task.truth, dtype=np.float64)
    log_truth = log_likelihood(numpy_ops(), task.model, truth, test.x, test.y, task.noise_std)
    start = time.perf_counter()
    errors = np.full((len(spec.ns), spec.replicates), np.nan)
    statuses: dict[str, int] = {}
    failures: list[str] = []
    grad_evals = 0.0
    diagnostics: list[dict[str, Any]] = []
    for i, n in enumerate(spec.ns):
        seeds = [_seed(n, r) for r in range(spec.replicates)]
        try:
            datasets = [task.dataset(n, r) for r in range(spec.replicates)]
            if k is None:
                runs = [(task, data, test.x) for data in datasets]
            else:
                w_maps = _map_fits(task.key, spec.catalogs, n, spec.replicates, json.dumps(spec.map_hyper, sort_keys=True))
                runs = []
                for data, w_map in zip(datasets, w_maps):
                    run_task, phi = freeze(task, w_map, k)
                    runs.append((run_task, frozen_dataset(data, phi), phi(test.x)))
            targets = [TemperedTarget(run_task, run_data, 1.0) for run_task, run_data, _ in runs]
            all_draws = _sample_all(method, targets, Budget(spec.budget), seeds)
        except SltBenchError:
            raise
        except Exception as err:  # a method bug on one n must not end the experiment
            failures.append(f"n={n}: {type(err).__name__}: {err} | {traceback.format_exc(limit=2)[-300:]}")
            statuses["error"] = statuses.get("error", 0) + spec.replicates
            continue
        for r, ((run_task, _, x_test), draws) in enumerate(zip(runs, all_draws)):
            status = draws.status
            grad_evals += draws.grad_evals
            diagnostics.append({"n": n, "r": r, "status": status, **_plain({
                key: draws.diagnostics.get(key) for key in ("ess", "rhat", "divergences", "accept_rate")})})
            if status in USABLE and draws.params is not None and np.all(np.isfinite(draws.params)):
                params = draws.params.reshape(-1, run_task.n_params)
                if len(params) > spec.max_draws:  # evenly thinned: the predictive's cost is draws × n'
                    params = params[np.linspace(0, len(params) - 1, spec.max_draws).round().astype(int)]
                log_pred = log_predictive(run_task.model, task.noise_std, params, x_test, test.y)
                errors[i, r] = generalisation_error(log_truth, log_pred)
            elif status in USABLE:
                status = "nan"
                failures.append(f"n={n} r={r}: parameter draws missing or not finite")
            else:
                failures.append(f"n={n} r={r}: {status}: {draws.reason}")
            statuses[status] = statuses.get(status, 0) + 1
    fit = fit_slope(spec.ns, errors, spec.intercept)
    slope = fit["slope"]
    se = fit["se_replicates"] if math.isfinite(fit.get("se_replicates", float("nan"))) else fit["se"]
    finite = np.isfinite(errors)
    if finite.all():
        status, reason = "ok", ""
    else:
        bad = [s for s in ("error", "nan", "budget_exceeded", "degenerate", "diverged") if statuses.get(s)]
        status = bad[0] if bad else "nan"
        reason = f"{int((~finite).sum())} of {errors.size} posteriors unusable; first: {failures[0] if failures else '?'}"
    fit.update(scheme=spec.scheme, n_test=spec.n_test, statuses=statuses, errors=errors.tolist(),
               se_ols=fit["se"], map_hyper=spec.map_hyper)
    lam = task.rlct_value
    return {
        "key": spec.key,
        "task": task.id, "task_version": task.version, "family": task.family, "n_params": task.n_params,
        "method": spec.method if spec.scheme == "all" else f"{spec.method}[{spec.scheme}]",
        "tier": spec.tier, "preset_hash": spec.preset_hash, "hyper": spec.hyper,
        "budget": spec.budget, "seed": 0, "n": max(spec.ns), "estimator": "generalisation", "betas": [1.0],
        "rlct": str(task.rlct) if task.rlct is not None else None, "rlct_value": lam,
        "multiplicity": task.multiplicity, "kind": task.kind,
        "rlct_hat": slope, "se": se, "finite_target": None,
        **score(slope, se, lam, None),
        "target_note": "learning coefficient of generalisation: slope of E_n G(n) against 1/n "
                       f"({len(spec.ns)} values of n, {spec.replicates} dataset draws each, {spec.n_test} test points); "
                       "the Bayes predictive's slope is λ",
        "status": status, "reason": reason, "grad_evals": grad_evals, "wall_s": time.perf_counter() - start,
        "diagnostics": diagnostics, "fit": _plain(fit),
        "versions": package_versions(), "git_commit": git_commit(),
        "created_at": datetime.now(timezone.utc).isoformat(),
    }
