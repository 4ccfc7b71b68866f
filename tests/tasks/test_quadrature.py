import math

import numpy as np
import pytest

from slt_bench.tasks.quadrature import DEFAULT_NODES, exact_moments


def _gaussian_moments(task, data, beta):
    """Closed form for linear regression with a Gaussian prior: the tempered posterior is Gaussian."""
    x, y, s2, p2 = data.x, data.y[:, 0], task.noise_std**2, task.prior.std**2
    a = x.T @ x / s2  # Hessian of n L_n
    prec = beta * a + np.eye(x.shape[1]) / p2
    cov = np.linalg.inv(prec)
    mu = cov @ (beta * x.T @ y / s2)
    nl_mu = float(task.n_loss_numpy(mu, data))
    g = -(x.T @ (y - x @ mu)) / s2
    mean = nl_mu + 0.5 * np.trace(a @ cov)
    var = g @ cov @ g + 0.5 * np.trace(a @ cov @ a @ cov)
    return mean, var


def test_quadrature_matches_closed_form_on_regular_task(catalog):
    task = catalog.get("regular/d2")
    data = task.dataset(10_000, 0)
    beta = 1 / math.log(data.n)
    got = exact_moments(task, data, beta)
    mean, var = _gaussian_moments(task, data, beta)
    assert got.mean == pytest.approx(mean, abs=1e-6)
    assert got.var == pytest.approx(var, rel=1e-5)


@pytest.mark.parametrize("task_id", ["nc/k1-1", "nc/k1-3", "nc/k1-1-1", "nc/k2", "tanh/h1", "mixture/free-weight"])
def test_quadrature_converged_at_default_resolution(catalog, task_id):
    task = catalog.get(task_id)
    data = task.dataset(2_000 if task.family in ("tanh_zero", "mixture") else 10_000, 1)
    beta = 1 / math.log(data.n)
    base = exact_moments(task, data, beta)
    fine = exact_moments(task, data, beta, nodes=2 * DEFAULT_NODES[task.n_params] - 1)
    assert base.mean == pytest.approx(fine.mean, abs=1e-5)
    assert base.var == pytest.approx(fine.var, rel=1e-5)


def test_finite_n_variance_sits_below_lambda_for_multiplicity_two(catalog):
    """THEORY.md §5: with m = 2 the finite-n value sits well below λ at n = 10⁴."""
    task = catalog.get("nc/k1-1")
    data = task.dataset(10_000, 0)
    beta = 1 / math.log(data.n)
    lam_hat = beta**2 * exact_moments(task, data, beta).var
    assert 0.2 < lam_hat < 0.45


def test_quadrature_refuses_large_tasks(catalog):
    task = catalog.get("rrr/m3-n3-h3-r1")
    with pytest.raises(ValueError, match="at most 3 parameters"):
        exact_moments(task, task.dataset(100, 0), 0.2)
