"""The generalisation metric of one cell: the slope of E_n G(n) against 1/n (seed paper §5).

For each n in ``options["ns"]`` and each dataset draw r < R (``options["replicates"]``): the
method's posterior at β = 1 (the Bayes posterior, or the MAP for ``map``) gives parameter draws;
their predictive on a held-out set of n' points gives G(n, r)
(:mod:`slt_bench.estimators.generalisation`). The mean over r is regressed on 1/n; the slope is the
cell's λ̂ (``estimator = "generalisation"``), scored against λ like any other estimate.

Under a last-layer scheme the network is first fitted by MAP (``options["map_hyper"]``) and the
method then runs on the last k layers with the earlier ones frozen
(:mod:`slt_bench.tasks.frozen`). The MAP fits of one (task, n, R) are shared by the cells of one
worker process that need them, but every cell is charged their full cost (gradient evaluations and
seconds, as measured when they were computed), so a cell's cost does not depend on which worker
ran it or in what order.
"""

from __future__ import annotations

import json
import math
import time
from functools import lru_cache
from typing import Any

import numpy as np

from slt_bench.errors import SltBenchError
from slt_bench.estimators.generalisation import fit_slope, generalisation_error, log_predictive
from slt_bench.methods import get_method, make_method
from slt_bench.methods.protocol import keeps_params, sample_many
from slt_bench.models import log_likelihood
from slt_bench.models.ops import numpy_ops
from slt_bench.runner.outcome import Outcome, SEVERITY, posterior_status
from slt_bench.target import Budget, TemperedTarget
from slt_bench.tasks import load_catalog
from slt_bench.tasks.frozen import freeze, frozen_dataset, scheme_layers

TEST_SEED = 1_000_000_007  # the held-out set's seed: never one of the replicate seeds 0..R−1
USABLE = ("ok", "diverged", "unmixed", "degenerate", "point_estimate")
MAP_BUDGET = 1e6
DEFAULT_MAX_DRAWS = 1000


def with_params(name: str, hyper: dict[str, Any]) -> Any:
    """The method, set to return its parameter draws (the predictive is built from them)."""
    if not keeps_params(get_method(name)):
        raise SltBenchError(f"method {name} has no keep_params hyperparameter, so it cannot return parameter draws; "
                            "the generalisation metric builds its predictive from them")
    return make_method(name, {**hyper, "keep_params": True})


@lru_cache(maxsize=256)
def _map_fits(task_key: str, catalogs: tuple[str, ...], n: int, replicates: int, map_hyper: str
              ) -> tuple[np.ndarray, float, float]:
    """MAPs of the full network on datasets (n, 0..R−1), (R, d), with the gradient evaluations and
    seconds they took: the points the earlier layers freeze at, and their cost."""
    start = time.perf_counter()
    task = load_catalog(catalogs).get(task_key)
    targets = [TemperedTarget(task, task.dataset(n, r), 1.0) for r in range(replicates)]
    draws = sample_many(with_params("map", json.loads(map_hyper)), targets, Budget(MAP_BUDGET), list(range(replicates)))
    out = np.full((replicates, task.n_params), np.nan)
    for r, d in enumerate(draws):
        if d.params is not None:
            out[r] = d.params.reshape(-1)
    return out, float(sum(d.grad_evals for d in draws)), time.perf_counter() - start


def _seed(n: int, replicate: int) -> int:
    return int(np.random.SeedSequence([replicate, n, 104729]).generate_state(1)[0])


def run_generalisation(spec: Any, task: Any, out: Outcome) -> None:
    """Fill ``out`` with G(n, r) for every n and dataset draw, then the slope against 1/n."""
    opts = spec.options
    ns, replicates, n_test = tuple(opts["ns"]), int(opts["replicates"]), int(opts["n_test"])
    scheme, intercept = opts.get("scheme", "all"), bool(opts.get("intercept", False))
    max_draws = int(opts.get("max_draws", DEFAULT_MAX_DRAWS))
    method = with_params(spec.method, spec.hyper)
    k = scheme_layers(task, scheme)
    test = task.dataset(n_test, TEST_SEED)
    log_truth = log_likelihood(numpy_ops(), task.model, np.asarray(task.truth, dtype=np.float64), test.x, test.y,
                               task.noise_std)
    errors = np.full((len(ns), replicates), np.nan)
    counts: dict[str, int] = {}
    failures: list[str] = []
    map_cost = {"grad_evals": 0.0, "seconds": 0.0}
    out.betas = [1.0]
    for i, n in enumerate(ns):
        datasets = [task.dataset(n, r) for r in range(replicates)]
        with out.timing("sample"):
            if k is None:
                runs = [(task, data, test.x) for data in datasets]
            else:
                w_maps, map_evals, map_seconds = _map_fits(task.key, spec.catalogs, n, replicates,
                                                           json.dumps(opts.get("map_hyper", {}), sort_keys=True))
                out.grad_evals += map_evals
                out.sample_s += map_seconds  # charged as measured, whether computed now or reused
                map_cost["grad_evals"] += map_evals
                map_cost["seconds"] += map_seconds
                runs = []
                for data, w_map in zip(datasets, w_maps):
                    run_task, phi = freeze(task, w_map, k)
                    runs.append((run_task, frozen_dataset(data, phi), phi(test.x)))
            targets = [TemperedTarget(run_task, run_data, 1.0) for run_task, run_data, _ in runs]
            try:
                all_draws = sample_many(method, targets, Budget(spec.budget), [_seed(n, r) for r in range(replicates)])
            except BaseException:
                out.grad_evals += sum(t.grad_evals for t in targets)
                raise
        with out.timing("score"):
            for r, ((run_task, _, x_test), draws) in enumerate(zip(runs, all_draws)):
                out.grad_evals += float(draws.grad_evals)
                status, reason = posterior_status(draws) if draws.status != "point_estimate" else (draws.status, "")
                out.diagnostics.append({"n": n, "r": r, "status": status, **{
                    key: draws.diagnostics.get(key) for key in ("ess", "rhat", "divergences", "accept_prob")}})
                if status in USABLE and draws.params is not None and np.all(np.isfinite(draws.params)):
                    params = draws.params.reshape(-1, run_task.n_params)
                    if len(params) > max_draws:  # evenly thinned: the predictive's cost is draws × n'
                        params = params[np.linspace(0, len(params) - 1, max_draws).round().astype(int)]
                    log_pred = log_predictive(run_task.model, task.noise_std, params, x_test, test.y)
                    errors[i, r] = generalisation_error(log_truth, log_pred)
                elif status in USABLE:
                    status, reason = "nan", "parameter draws missing or not finite"
                if status not in ("ok", "point_estimate"):
                    failures.append(f"n={n} r={r}: {status}: {reason}")
                counts[status] = counts.get(status, 0) + 1
    with out.timing("score"):
        fit = fit_slope(ns, errors, intercept)
    out.rlct_hat = fit["slope"]
    out.se = fit["se_replicates"] if math.isfinite(fit.get("se_replicates", float("nan"))) else fit["se"]
    finite = np.isfinite(errors)
    if not finite.all():
        out.worsen("nan", f"{int((~finite).sum())} of {errors.size} posteriors unusable; first: "
                          f"{failures[0] if failures else '?'}")
    for status in SEVERITY:
        if counts.get(status) and status not in ("ok", "point_estimate"):
            first = next((f for f in failures if f": {status}:" in f), "")
            out.worsen(status, f"{counts[status]} of {errors.size} posteriors {status}; first: {first}")
    fit.update(scheme=scheme, n_test=n_test, statuses=counts, errors=errors.tolist(), se_ols=fit["se"],
               map_hyper=opts.get("map_hyper", {}), map_cost=map_cost)
    out.fit = fit
    out.target_note = ("learning coefficient of generalisation: slope of E_n G(n) against 1/n "
                       f"({len(ns)} values of n, {replicates} dataset draws each, {n_test} test points); "
                       "the Bayes predictive's slope is λ")
