"""The learning coefficient of generalisation: predictive by logsumexp, slope against 1/n, and
the whole experiment through ``run --metric generalisation``."""

import math

import numpy as np
import pytest

from slt_bench.errors import SltBenchError
from slt_bench.estimators.generalisation import fit_slope, generalisation_error, log_predictive
from slt_bench.models import log_likelihood
from slt_bench.models.ops import numpy_ops
from slt_bench.runner import execute, expand_generalisation
from slt_bench.store import ResultStore


def _exact_posterior(task, data):
    x, y, sigma, s = data.x, data.y[:, 0], task.noise_std, task.prior.std
    precision = x.T @ x / sigma**2 + np.eye(x.shape[1]) / s**2
    cov = np.linalg.inv(precision)
    return cov @ (x.T @ y) / sigma**2, cov


def test_fit_slope_recovers_a_line_and_reports_r2():
    ns = [200, 400, 800]
    exact = np.array([[3.0 / n] * 4 for n in ns])
    fit = fit_slope(ns, exact)
    assert fit["slope"] == pytest.approx(3.0) and fit["se"] == pytest.approx(0.0, abs=1e-12) and fit["r2"] == 1.0
    shifted = exact + 0.01
    with_c = fit_slope(ns, shifted, intercept=True)
    assert with_c["slope"] == pytest.approx(3.0) and with_c["intercept"] == pytest.approx(0.01)
    one_nan = exact.copy()
    one_nan[1, 2] = np.nan  # a failed posterior is left out of its mean, not taken as zero
    assert fit_slope(ns, one_nan)["replicates"] == [4, 3, 4]


def test_log_predictive_is_logsumexp_and_survives_underflow(catalog):
    task = catalog.get("regular/d2")
    data = task.dataset(50, 0)
    far = np.full((3, 2), 60.0)  # p(y | x, w) underflows to 0 in float64 exp: log q̂ must stay finite
    out = log_predictive(task.model, task.noise_std, far, data.x, data.y)
    direct = log_likelihood(numpy_ops(), task.model, far[0], data.x, data.y, task.noise_std)
    assert np.all(np.isfinite(out)) and out.min() < -745  # below log of the smallest float64
    np.testing.assert_allclose(out, direct)  # identical draws: the average is any one of them


def test_bayes_predictive_slope_matches_d_over_2_on_a_regular_task(catalog):
    # Exact conjugate posterior of regular/d2 (λ = d/2 = 1), its predictive formed from 2000 draws
    # by the same code the runner uses, checked against the closed-form predictive
    # N(μᵀx, σ² + xᵀΣx), then 200 datasets × 5 values of n. Tolerance: 3 SE of the slope
    # (SE from the spread of G across datasets).
    task = catalog.get("regular/d2")
    test = task.dataset(4000, 10**6)
    truth = np.asarray(task.truth)
    log_q = log_likelihood(numpy_ops(), task.model, truth, test.x, test.y, task.noise_std)
    ns, reps = [100, 200, 300, 400, 500], 200
    errors = np.zeros((len(ns), reps))
    rng = np.random.default_rng(0)
    for i, n in enumerate(ns):
        for r in range(reps):
            data = task.dataset(n, r)
            mean, cov = _exact_posterior(task, data)
            if r == 0:
                draws = rng.multivariate_normal(mean, cov, size=2000)
                from_draws = log_predictive(task.model, task.noise_std, draws, test.x, test.y)
                var = task.noise_std**2 + np.einsum("ij,jk,ik->i", test.x, cov, test.x)
                closed = -0.5 * (test.y[:, 0] - test.x @ mean) ** 2 / var - 0.5 * np.log(2 * math.pi * var)
                # G is a mean over test points: the draws' Monte Carlo error in it must be far below
                # G itself (d/2n = 0.01 at n = 100); measured 3e-4 here, allowed 1e-3
                assert abs(np.mean(from_draws - closed)) < 1e-3
            var = task.noise_std**2 + np.einsum("ij,jk,ik->i", test.x, cov, test.x)
            log_pred = -0.5 * (test.y[:, 0] - test.x @ mean) ** 2 / var - 0.5 * np.log(2 * math.pi * var)
            errors[i, r] = generalisation_error(log_q, log_pred)
    fit = fit_slope(ns, errors)
    assert abs(fit["slope"] - 1.0) <= 3 * fit["se_replicates"], fit
    assert fit["se_replicates"] < 0.1 and fit["r2"] > 0.9


def test_run_generalisation_end_to_end_and_bad_input(catalog, tmp_path):
    store = ResultStore(tmp_path / "g.sqlite")
    specs = expand_generalisation(catalog, "map", ["regular/d2"], "smoke", 3, [100, 200, 400], 2000, "smoke")
    keys = execute(specs, store)
    (row,) = store.rows(keys)
    assert row["estimator"] == "generalisation" and row["status"] == "ok"
    assert row["fit"]["ns"] == [100, 200, 400] and len(row["fit"]["errors"]) == 3
    assert math.isfinite(row["rlct_hat"]) and math.isfinite(row["fit"]["r2"])
    assert execute(specs, store) == keys and len(store.rows()) == 1  # resumable: nothing recomputed
    from slt_bench.report import leaderboard_markdown

    text = leaderboard_markdown(store.rows())
    assert "Learning coefficient of generalisation" in text and "regular/d2" in text
    with pytest.raises(SltBenchError, match="valid schemes here: all"):
        expand_generalisation(catalog, "nuts", ["regular/d2"], "smoke", 2, [100, 200], 1000, "smoke", "last_layer")
    with pytest.raises(SltBenchError, match="at least 2 distinct n"):
        expand_generalisation(catalog, "nuts", ["regular/d2"], "smoke", 2, [100], 1000, "smoke")


def test_last_layer_scheme_freezes_the_earlier_layers(catalog, tmp_path):
    # rrr (3,3,3): the last layer B with A frozen at the MAP is a linear model on features A x
    specs = expand_generalisation(catalog, "laplace", ["rrr/m3-n3-h3-r1"], "smoke", 2, [200, 400], 2000, "smoke",
                                  "last_layer")
    store = ResultStore(tmp_path / "g.sqlite")
    (row,) = store.rows(execute(specs, store))
    assert row["method"] == "laplace" and row["options"]["scheme"] == "last_layer"
    assert row["status"] in ("ok", "degenerate"), row["reason"]
    assert all(math.isfinite(v) for v in row["fit"]["g_mean"])
