import math

import numpy as np
import pytest
import torch

from slt_bench.errors import BudgetExceeded, SltBenchError
from slt_bench.target import Budget, TemperedTarget


@pytest.mark.parametrize("task_id", ["rrr/m3-n3-h3-r1", "tanh/h2", "mixture/free-weight", "nc/k1-1-h1-0", "murfet2020/silu-m3"])
def test_torch_and_jax_log_densities_agree(catalog, task_id):
    import jax

    task = catalog.get(task_id)
    data = task.dataset(300, 0)
    centre = task.w_star if task.w_star is not None else task.truth
    target = TemperedTarget(task, data, beta=0.3, centre=centre, gamma=2.0)
    rng = np.random.default_rng(0)
    z = target.initial_point() + 0.3 * rng.standard_normal((3, task.n_params))
    logp_t, grad_t, _ = target.logdensity_and_grad_torch(torch.tensor(z))
    f = target.logdensity_jax_fn()
    logp_j = np.array([float(f(zi)) for zi in z])
    grad_j = np.stack([np.asarray(jax.grad(f)(zi)) for zi in z])
    np.testing.assert_allclose(logp_t.numpy(), logp_j, rtol=1e-10)
    np.testing.assert_allclose(grad_t.numpy(), grad_j, rtol=1e-8, atol=1e-8)


def test_prior_is_not_tempered(catalog):
    task = catalog.get("regular/d2")
    data = task.dataset(100, 0)
    z = torch.tensor([[0.3, -0.2]], dtype=torch.float64)
    l1, _ = TemperedTarget(task, data, 1.0).logdensity_torch(z)
    l2, _ = TemperedTarget(task, data, 0.5).logdensity_torch(z)
    nl = float(task.n_loss_numpy(np.array([0.3, -0.2]), data))
    prior = -0.5 * (0.3**2 + 0.2**2)
    assert float(l1) == pytest.approx(-nl + prior, rel=1e-12)
    assert float(l2) == pytest.approx(-0.5 * nl + prior, rel=1e-12)


def test_sufficient_statistics_path_equals_data_path(catalog):
    task = catalog.get("dln/w3-1-2-3-r0")
    data = task.dataset(500, 1)
    w = torch.tensor(np.random.default_rng(1).standard_normal((4, task.n_params)))
    fast = TemperedTarget(task, data, 0.2).n_loss_torch(w)
    slow = TemperedTarget(task, data, 0.2, use_stats=False).n_loss_torch(w)
    torch.testing.assert_close(fast, slow, rtol=1e-10, atol=0)


def test_gradient_evaluations_counted_and_budget_enforced(catalog):
    task = catalog.get("tanh/h2")
    data = task.dataset(200, 0)
    target = TemperedTarget(task, data, 0.2)
    z = torch.zeros(4, task.n_params, dtype=torch.float64)
    with target.metered(Budget(10)):
        target.logdensity_and_grad_torch(z)  # 4 chains: 4 evaluations
        target.logdensity_and_grad_torch(z, batch=torch.arange(50))  # 4 × 50/200 = 1
        assert target.grad_evals == pytest.approx(5.0)
        target.logdensity_and_grad_torch(z)
        with pytest.raises(BudgetExceeded):
            target.logdensity_and_grad_torch(z)
        assert target.grad_evals == pytest.approx(9.0)


def test_minibatch_estimate_is_unbiased(catalog):
    task = catalog.get("tanh/h2")
    data = task.dataset(400, 0)
    target = TemperedTarget(task, data, 0.2)
    w = torch.full((1, task.n_params), 0.3, dtype=torch.float64)
    full = float(target.n_loss_torch(w))
    parts = [float(target.n_loss_torch(w, torch.arange(i, i + 100))) for i in range(0, 400, 100)]
    assert np.mean(parts) == pytest.approx(full, rel=1e-12)


def test_bad_target_arguments(catalog):
    task = catalog.get("regular/d2")
    data = task.dataset(10, 0)
    with pytest.raises(SltBenchError, match="beta must be a positive"):
        TemperedTarget(task, data, 0.0)
    with pytest.raises(SltBenchError, match="needs a centre"):
        TemperedTarget(task, data, 0.1, gamma=1.0)
    with pytest.raises(SltBenchError, match="budget must be a positive"):
        Budget(-1)
    assert math.isinf(TemperedTarget(task, data, 0.1).remaining())
