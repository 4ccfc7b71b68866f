"""Method `devinterp`: devinterp 2.x's own samplers on slt-bench's targets.

Needs the optional extra (``pip install -e '.[devinterp]'``; `make test` installs it). Outside CI a
machine without it skips these tests; in CI a missing devinterp is a failure, not a skip.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from numpyro.diagnostics import effective_sample_size

from slt_bench.errors import SltBenchError
from slt_bench.methods import make_method
from slt_bench.target import Budget, TemperedTarget
from tests.methods.gaussian import assert_moments, gaussian_posterior

try:
    import devinterp.optim  # noqa: F401
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("devinterp 2.x not installed (pip install -e '.[devinterp]')", allow_module_level=True)


@pytest.mark.parametrize("sampler", ["sgld", "rmsprop_sgld"])
def test_stationary_mean_and_variance_of_a_gaussian(catalog, sampler):
    """devinterp's update with our nβ, weight decay 1/σ² and full batches samples the tempered Gaussian
    posterior. Tolerance: 3 Monte Carlo SE per coordinate (:func:`tests.methods.gaussian.assert_moments`);
    the step (1% of the inverse largest curvature) keeps the discretisation bias of the variance near
    1%, a fraction of the SE at this ESS (√(2/ESS) ≈ 10% for ESS ≈ 200)."""
    task, data, beta, mean, cov = gaussian_posterior(catalog)
    hyper = {"sampler": sampler, "chains": 4, "warmup": 500, "steps": 8000, "thin": 10, "batch_size": 1000,
             "keep_params": True}
    draws = make_method("devinterp", hyper).sample(TemperedTarget(task, data, beta), Budget(1e9), 0)
    assert draws.status == "ok", draws.reason
    p = draws.params
    assert_moments(p, mean, cov)
    # the n L_n stored at each draw is the full-batch value at the kept parameters
    target = TemperedTarget(task, data, beta)
    np.testing.assert_allclose(draws.n_loss[0, :5], target.n_loss_numpy(p[0, :5]), rtol=1e-10)


def test_localised_posterior_is_centred_at_w_star(catalog):
    """With γ > 0 and a flat likelihood direction, devinterp's localisation (γ at its "initial" centre)
    must pull towards w*: the local posterior of regular/d2 at γ = 1e4 has sd ≈ 1/√(γ + β n λ_max)
    per coordinate around (nearly) w*. The chain's mean lies within 3 SE of the closed-form mean."""
    task, data, beta, _, _ = gaussian_posterior(catalog)
    x, y = data.x, data.y[:, 0]
    gamma = 1e4
    w_star = np.asarray(task.w_star, dtype=float)
    precision = beta * x.T @ x / task.noise_std**2 + np.eye(2) / task.prior.std**2 + gamma * np.eye(2)
    mean = np.linalg.solve(precision, beta * x.T @ y + gamma * w_star)
    cov = np.linalg.inv(precision)
    hyper = {"chains": 4, "warmup": 500, "steps": 8000, "thin": 10, "batch_size": 1000, "keep_params": True}
    draws = make_method("devinterp", hyper).sample(TemperedTarget(task, data, beta, w_star, gamma), Budget(1e9), 1)
    assert draws.status == "ok", draws.reason
    p = draws.params
    ess = np.array([effective_sample_size(p[..., j]) for j in range(2)])
    z_mean = (p.reshape(-1, 2).mean(0) - mean) / np.sqrt(np.diag(cov) / ess)
    assert np.all(np.abs(z_mean) < 3), (z_mean, ess)


def test_same_seed_same_draws_and_cost_counted(catalog):
    task = catalog.get("rrr/m3-n3-h3-r1")
    data = task.dataset(1000, 0)
    hyper = {"chains": 2, "warmup": 20, "steps": 200, "thin": 10, "batch_size": 100, "lr": 1e-6}

    def run(seed):
        return make_method("devinterp", hyper).sample(TemperedTarget(task, data, 0.1, task.w_star, 1.0),
                                                      Budget(1e9), seed)

    a, b, other = run(5), run(5), run(6)
    assert a.status == "ok" and a.n_loss.shape == (2, 20)
    np.testing.assert_array_equal(a.n_loss, b.n_loss)
    assert not np.array_equal(a.n_loss, other.n_loss)
    # 2 chains × 220 steps × 100/1000 of a gradient, plus one full-batch loss per kept draw and chain
    assert a.grad_evals == pytest.approx(2 * 220 * 100 / 1000 + 2 * 20)


def test_budget_and_bad_settings_are_clear(catalog):
    task = catalog.get("rrr/m3-n3-h3-r1")
    data = task.dataset(1000, 0)
    draws = make_method("devinterp", {"chains": 2, "steps": 200, "thin": 10, "lr": 1e-6}).sample(
        TemperedTarget(task, data, 0.1, task.w_star, 1.0), Budget(10), 0)
    assert draws.status == "budget_exceeded" and "budget 10" in draws.reason
    with pytest.raises(SltBenchError, match="sampler must be one of sgld, rmsprop_sgld"):
        make_method("devinterp", {"sampler": "adam"})
    with pytest.raises(SltBenchError, match="Gaussian prior"):
        make_method("devinterp", {}).check_task(catalog.get("mixture/free-weight"))


def test_a_huge_learning_rate_is_a_stored_status_not_a_crash(catalog):
    task = catalog.get("tanh/h2")
    data = task.dataset(1000, 0)
    draws = make_method("devinterp", {"chains": 1, "warmup": 0, "steps": 400, "thin": 10, "lr": 1e3}).sample(
        TemperedTarget(task, data, 0.5), Budget(1e9), 0)
    assert draws.status == "nan" and "left the posterior" in draws.reason


def test_missing_devinterp_is_one_line(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_devinterp(name, *args, **kwargs):
        if name.startswith("devinterp"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_devinterp)
    with pytest.raises(SltBenchError, match=r"pip install 'slt-bench\[devinterp\]'"):
        make_method("devinterp", {})


def test_runs_through_the_cli_and_refuses_a_task_it_cannot_sample(cli, tmp_path):
    """`slt-bench run --method devinterp` stores a scored cell; a task with a uniform prior factor is
    refused before anything runs, with one line."""
    import json

    from tests.conftest import assert_one_error_line

    store = tmp_path / "d.sqlite"
    out = cli("run", "--method", "devinterp", "--task", "regular/d2", "--n", "1000", "--estimator", "local",
              "--store", str(store), "--json")
    assert out.code == 0, out.err
    (row,) = json.loads(out.out)
    assert row["method"] == "devinterp" and row["status"] in ("ok", "unmixed") and row["rlct_hat"] is not None
    assert row["grad_evals"] > 0
    bad = cli("run", "--method", "devinterp", "--task", "mixture/free-weight", "--store", str(tmp_path / "e.sqlite"))
    assert_one_error_line(bad, "Gaussian prior")
