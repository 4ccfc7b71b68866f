"""Method `smc`: tempered SMC checked where the answer is known in closed form or by quadrature."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from slt_bench.errors import SltBenchError
from slt_bench.estimators import get_estimator
from slt_bench.estimators.base import mean_and_se
from slt_bench.methods import make_method, method_names
from slt_bench.methods.smc import next_temperature
from slt_bench.models.ops import numpy_ops
from slt_bench.models.spec import Mixture
from slt_bench.target import Budget, TemperedTarget
from slt_bench.tasks.quadrature import exact_moments
from slt_bench.tasks import Dataset
from slt_bench.tasks.task import Inputs, Prior, Task
from tests.methods.gaussian import conjugate

SMALL = {"runs": 8, "particles": 400, "mutations": 5, "leapfrog": 8}


def _t_quantile(runs: int) -> float:
    """The Student-t quantile with runs − 1 degrees of freedom at the coverage of ±3 SE of a normal
    (99.73%): the tolerance for an SE estimated from ``runs`` independent runs."""
    return float(stats.t.ppf(1 - (1 - 0.9973) / 2, runs - 1))


def test_smc_is_a_listed_method():
    assert "smc" in method_names()
    with pytest.raises(SltBenchError, match="target_ess must lie in \\(0, 1\\)"):
        make_method("smc", {"target_ess": 1.5})
    with pytest.raises(SltBenchError, match="particles must be at least 4"):
        make_method("smc", {"particles": 2})


@pytest.mark.parametrize("gamma", [0.0, 3.0])
def test_closed_form_is_consistent(catalog, gamma):
    """The closed form the conjugate tests rely on: E_β[n L_n] = −d log Z/dβ (central difference, error
    O(h²) ≈ 1e-6 relative) and equal to quadrature (exact to its own 1e-6 relative error), with and
    without localisation at w*."""
    task = catalog.get("regular/d2")
    data = task.dataset(1000, 0)
    beta, h, centre = 0.3, 1e-4, np.asarray(task.w_star)
    mean, _ = conjugate(task, data, beta, centre, gamma)
    slope = -(conjugate(task, data, beta + h, centre, gamma)[1] - conjugate(task, data, beta - h, centre, gamma)[1]) / (2 * h)
    assert slope == pytest.approx(mean, rel=1e-6)
    assert exact_moments(task, data, beta, centre, gamma).mean == pytest.approx(mean, rel=1e-6)


def test_conjugate_mean_and_log_evidence(catalog):
    """On the conjugate regular task, at every β of the multi-β grid: E_β[n L_n] within 3 of the SEs
    the estimators use (sd/√ESS, :func:`mean_and_se`), and the log evidence within the t quantile
    (7 degrees of freedom, 99.73% coverage) of the SE between the 8 independent runs."""
    task = catalog.get("regular/d2")
    data = task.dataset(1000, 0)
    posts = get_estimator("multi-beta").posteriors(task, data)
    targets = [TemperedTarget(task, data, p.beta) for p in posts]
    draws = make_method("smc", SMALL).sample_path(targets, Budget(1e8), 5)
    for p, d in zip(posts, draws):
        assert d.status == "ok", d.reason
        assert d.n_loss.shape == (8, 400)
        exact_mean, exact_log_z = conjugate(task, data, p.beta)
        mean, se = mean_and_se(d.n_loss)
        assert abs(mean - exact_mean) < 3 * se, (p.beta, mean, se, exact_mean)
        runs = np.array(d.diagnostics["log_evidence_runs"])
        se_z = runs.std(ddof=1) / math.sqrt(len(runs))
        assert abs(runs.mean() - exact_log_z) < _t_quantile(len(runs)) * se_z, (p.beta, runs.mean(), se_z, exact_log_z)
    assert sum(d.grad_evals for d in draws) > 0 and all(d.grad_evals > 0 for d in draws)


@pytest.mark.parametrize("estimator", ["multi-beta", "local"])
def test_singular_task_matches_quadrature(catalog, estimator):
    """The normal crossing y = ab·x (λ = 1/2, m = 2): E_β[n L_n] at every posterior within 3 SE of
    quadrature, and λ̂ within 3 SE of the estimator's exact finite-n target. The local estimator's
    path first tempers the localisation γ in, then the likelihood."""
    task = catalog.get("nc/k1-1")
    data = task.dataset(1000, 1)
    est = get_estimator(estimator)
    posts = est.posteriors(task, data)
    targets = [TemperedTarget(task, data, p.beta, p.centre, p.gamma) for p in posts]
    draws = make_method("smc", SMALL).sample_path(targets, Budget(1e8), 2)
    assert all(d.status == "ok" for d in draws), [d.reason for d in draws]
    for p, d in zip(posts, draws):
        centre = None if p.centre is None else np.asarray(p.centre)
        exact = exact_moments(task, data, p.beta, centre, p.gamma).mean
        mean, se = mean_and_se(d.n_loss)
        assert abs(mean - exact) < 3 * se, (p.beta, mean, se, exact)
    result = est.estimate(task, data, posts, draws)
    finite = est.finite_n_target(task, data, posts, result)
    assert abs(result.rlct_hat - finite.value) < 3 * result.se, (result.rlct_hat, result.se, finite.value)


def test_both_modes_of_a_label_symmetric_mixture():
    """½N(b₁, 1) + ½N(b₂, 1) with truth (−1.5, 1.5), n = 200: the posterior has two mirror modes
    (b₁ < b₂ and b₁ > b₂) of equal mass, separated by a barrier no HMC move crosses, so a single
    chain puts all its mass in one. Each SMC run must put mass ½ in each, within 3 SD of the drift a
    run's mode masses can take: the prior split (variance ¼/N), then at each of S stages a reweighting
    with ESS ≥ ρN (variance ≤ ¼/(ρN)) and a resampling (≤ ¼/N), so SD ≤ √(¼(1 + S(1 + 1/ρ))/N)."""
    task = Task(id="test/mirror", version=1, family="mixture", params=(), model=Mixture(0.5), truth=(-1.5, 1.5),
                prior=Prior(2.0), inputs=Inputs("none", 0), noise_std=1.0, n=200, kind="unknown", source="test")
    rng = np.random.default_rng(7)  # the data from the truth (a density task's own draw is N(0, 1))
    y = rng.choice([-1.5, 1.5], 200)[:, None] + rng.standard_normal((200, 1))
    data = Dataset(x=np.zeros((200, 0)), y=y, seed=0)
    hyper = {"runs": 4, "particles": 2000, "mutations": 5, "leapfrog": 8, "keep_params": True}
    draws = make_method("smc", hyper).sample(TemperedTarget(task, data, 1.0), Budget(1e9), 0)
    assert draws.status == "ok", draws.reason
    b = draws.params  # (runs, particles, 2)
    stages, rho, n = draws.diagnostics["stages"] / 4, 0.5, 2000
    bound = 3 * math.sqrt(0.25 * (1 + stages * (1 + 1 / rho)) / n)
    share = (b[..., 0] < b[..., 1]).mean(axis=1)
    assert np.all(np.abs(share - 0.5) < bound), (share, bound)
    assert bound < 0.4  # the check can fail: a run stuck in one mode has share 0 or 1
    # and each mode sits where it should: |b| near 1.5 (the data's two clusters)
    assert abs(np.abs(b).mean() - 1.5) < 0.3


def test_order_seed_and_budget(catalog):
    """Posteriors given hottest-first come back in the order given; the same seed gives the same
    numbers; a path past its budget leaves every posterior budget_exceeded, with the work counted."""
    task = catalog.get("regular/d2")
    data = task.dataset(500, 0)
    targets = [TemperedTarget(task, data, b) for b in (0.4, 0.1)]
    smc = make_method("smc", {"runs": 2, "particles": 64, "mutations": 2, "leapfrog": 4})
    a = smc.sample_path(targets, Budget(1e7), 3)
    again = smc.sample_path(targets, Budget(1e7), 3)
    other = smc.sample_path(targets, Budget(1e7), 4)
    assert a[0].n_loss.mean() < a[1].n_loss.mean()  # β = 0.4 sits lower than β = 0.1 (by ≈ d/2 (1/0.1 − 1/0.4))
    np.testing.assert_array_equal(a[0].n_loss, again[0].n_loss)
    assert not np.array_equal(a[0].n_loss, other[0].n_loss)
    poor = smc.sample_path([TemperedTarget(task, data, b) for b in (0.4, 0.1)], Budget(2000), 3)
    assert all(d.status == "budget_exceeded" and d.n_loss.size == 0 for d in poor)
    assert 0 < sum(d.grad_evals for d in poor) <= 2 * 2000


def test_a_path_needs_one_dataset_and_one_centre(catalog):
    task = catalog.get("regular/d2")
    data = task.dataset(500, 0)
    mixed = [TemperedTarget(task, data, 0.1), TemperedTarget(task, data, 0.2, np.zeros(2), 10.0)]
    with pytest.raises(SltBenchError, match="must share task, data, centre and γ"):
        make_method("smc", {}).sample_path(mixed, Budget(1e6), 0)


def test_next_temperature_keeps_the_conditional_ess():
    """The chosen step leaves the conditional ESS at the target (to the bisection's precision), is
    capped at the next β of the grid, and ignores particles whose log likelihood is not finite."""
    rng = np.random.default_rng(0)
    ll = -rng.gamma(2.0, 50.0, 1000)
    log_w = rng.normal(0, 0.3, 1000)
    lam = next_temperature(ll, log_w, 0.0, 10.0, 0.5)
    w = np.exp(log_w - log_w.max()); w /= w.sum()
    g = np.exp(lam * (ll - ll.max()))
    assert (w * g).sum() ** 2 / (w * g * g).sum() == pytest.approx(0.5, rel=1e-6)
    assert next_temperature(ll, log_w, 0.0, 1e-6, 0.5) == 1e-6
    ll[:10] = np.nan
    assert math.isfinite(next_temperature(ll, log_w, 0.0, 10.0, 0.5))


def test_prior_draws_are_exact():
    """Prior.sample_z against the prior's moments, 4 SE each (SE = sample sd/√N): N(0, s²) has
    E[w²] = s²; |w|^h e^{−w²/2s²} has E[w²] = s²(h + 1); U[lo, hi] has mean (lo + hi)/2."""
    rng = np.random.default_rng(1)
    prior = Prior(1.5, bounds=((2, -1.0, 3.0),), exponents=(0, 2, 0))
    z = prior.sample_z(rng, 40_000, 3)
    w = prior.constrain(numpy_ops(), z)[0]
    for values, expected in [(w[:, 0] ** 2, 1.5**2), (w[:, 1] ** 2, 1.5**2 * 3), (w[:, 2], 1.0)]:
        assert abs(values.mean() - expected) < 4 * values.std() / math.sqrt(len(values)), (values.mean(), expected)
    assert w[:, 2].min() > -1.0 and w[:, 2].max() < 3.0
