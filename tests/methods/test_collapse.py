"""NUTS with a linear network's last layer integrated out (methods/_collapse.py): the marginal is the
joint integrated, the completion draws the exact conditional, collapsed NUTS agrees with quadrature, and
a task it cannot collapse is refused with one line."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from slt_bench.methods import _collapse, make_method
from slt_bench.target import Budget, TemperedTarget, jax_logdensity
from slt_bench.tasks.catalog import load_file
from slt_bench.tasks.quadrature import exact_moments
from tests.conftest import assert_one_error_line

TOML = """
family = "{family}"

[defaults]
n = 1000
prior_std = 1.0
noise_std = 1.0

[[tasks]]
id = "{id}"
version = 1
params = {params}
rlct = "{rlct}"
multiplicity = {m}
suites = []
"""


def _task(tmp_path, family, task_id, params, rlct, m):
    path = tmp_path / f"{task_id.replace('/', '_')}.toml"
    path.write_text(TOML.format(family=family, id=task_id, params=params, rlct=rlct, m=m))
    (task,) = load_file(path)
    return task


def _conditional_by_autodiff(target, theta):
    """Precision and mean of the last layer given θ from the Hessian and gradient of the joint log
    density (exactly quadratic in it): an independent route to what _collapse computes in closed form."""
    import jax
    import jax.numpy as jnp

    static, args = target.jax_parts()
    k = theta.size

    def f(last):
        return jax_logdensity(static, jnp.concatenate([jnp.asarray(theta), last]), args)

    zero = jnp.zeros(target.dim - k)
    precision = -np.asarray(jax.hessian(f)(zero))
    mean = np.linalg.solve(precision, np.asarray(jax.grad(f)(zero)))
    return precision, mean, f


@pytest.mark.parametrize("family,params,rlct", [("reduced_rank", "{ M = 3, N = 2, H = 2, r = 1 }", "5/2"),
                                                ("deep_linear", "{ widths = [2, 2, 1, 3], r = 1 }", "2")])
def test_the_marginal_is_the_joint_integrated(tmp_path, family, params, rlct):
    """log p(θ, W_L) − log p(W_L | θ) is log p(θ) plus a constant: for two θ and two W_L each, the
    closed-form marginal's differences equal the joint's minus the conditional's (a Gaussian from the
    joint's autodiff Hessian), to 1e-9 of the log densities' size (float64 roundoff on values ~1e3)."""
    import jax.numpy as jnp

    task = _task(tmp_path, family, "x/t", params, rlct, 1)
    data = task.dataset(task.n, 0)
    rng = np.random.default_rng(1)
    k = _collapse.theta_dim(task.model)
    centre = rng.normal(size=task.n_params)
    for beta, gamma in ((1 / math.log(task.n), 0.0), (0.3, 2.0)):
        target = TemperedTarget(task, data, beta, centre if gamma else None, gamma)
        static, args = target.jax_parts()
        values = []
        for _ in range(2):
            theta = rng.normal(size=k)
            precision, mean, joint = _conditional_by_autodiff(target, theta)
            for _ in range(2):
                last = rng.normal(size=target.dim - k)
                cond = stats.multivariate_normal(mean, np.linalg.inv(precision)).logpdf(last)
                values.append((float(joint(jnp.asarray(last))) - cond,
                               float(_collapse.logdensity(static, jnp.asarray(theta), args))))
        scale = max(abs(v) for pair in values for v in pair)
        for a, b in values[1:]:
            assert abs((a - values[0][0]) - (b - values[0][1])) < 1e-9 * scale


def test_the_completion_draws_the_exact_conditional(tmp_path):
    """20,000 completions at one θ: the last layer's sample mean and covariance against the autodiff
    conditional's. Each of the 6 means and 21 covariance entries is a z-score (SE of a covariance entry
    √((Σ_ii Σ_jj + Σ_ij²)/N)); Bonferroni over 27 comparisons at a family-wise 0.27% gives |z| < 3.9."""
    import jax
    import jax.numpy as jnp

    task = _task(tmp_path, "reduced_rank", "x/t", "{ M = 3, N = 2, H = 3, r = 1 }", "3", 2)
    data = task.dataset(task.n, 0)
    target = TemperedTarget(task, data, 1 / math.log(task.n), np.linspace(-1, 1, task.n_params), 1.0)
    static, args = target.jax_parts()
    k = _collapse.theta_dim(task.model)
    theta = np.random.default_rng(2).normal(size=k)
    precision, mean, _ = _conditional_by_autodiff(target, theta)
    cov = np.linalg.inv(precision)
    count = 20_000
    keys = jax.random.split(jax.random.PRNGKey(0), count)
    full = np.asarray(jax.vmap(lambda key: _collapse.complete(static, jnp.asarray(theta), args, key))(keys))
    np.testing.assert_array_equal(full[:, :k], np.broadcast_to(theta, (count, k)))
    last = full[:, k:]
    z_max = stats.norm.ppf(1 - 0.0027 / (2 * 27))
    z_mean = (last.mean(0) - mean) / np.sqrt(np.diag(cov) / count)
    assert np.abs(z_mean).max() < z_max, z_mean
    sample = np.cov(last, rowvar=False)
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / count)
    upper = np.triu_indices(last.shape[1])
    assert np.abs(((sample - cov) / se)[upper]).max() < z_max


def test_collapsed_nuts_agrees_with_quadrature(tmp_path):
    """The 2-parameter reduced rank regression y = b a x with the truth 0 (M = N = H = 1, r = 0: the
    normal crossing b a, λ = 1/2, m = 2), where quadrature is exact; NUTS runs on a alone: collapsed NUTS's E_β[n L_n] at β₀ = 1/log n and on the localised posterior is
    within 3.2 SE of it (Bonferroni over the 2 comparisons at 0.27%), the cell is ``ok``, and the same
    seed gives the same draws."""
    task = _task(tmp_path, "reduced_rank", "x/t", "{ M = 1, N = 1, H = 1, r = 0 }", "1/2", 2)
    data = task.dataset(task.n, 0)
    nuts = make_method("nuts", {"chains": 4, "warmup": 500, "samples": 2000, "target_accept": 0.9,
                                "dense_mass": True, "collapse": True})
    from slt_bench.draws import chain_diagnostics

    z_max = stats.norm.ppf(1 - 0.0027 / 4)
    beta = 1 / math.log(task.n)
    for centre, gamma in ((None, 0.0), (np.asarray(task.w_star), 1.0)):
        target = TemperedTarget(task, data, beta, centre, gamma)
        d = nuts.sample(target, Budget(1e8), 7)
        assert d.status == "ok", (d.status, d.diagnostics)  # ≤ 1% divergent transitions
        exact = exact_moments(task, data, beta, centre, gamma)
        assert exact.converged
        ess = chain_diagnostics(d.n_loss)["ess"]
        z = (d.n_loss.mean() - exact.mean) / (d.n_loss.std(ddof=1) / math.sqrt(ess))
        assert abs(z) < z_max, (gamma, d.n_loss.mean(), exact.mean, z)
    again = nuts.sample(TemperedTarget(task, data, beta, centre, gamma), Budget(1e8), 7)
    np.testing.assert_array_equal(again.n_loss, d.n_loss)


def test_collapse_is_refused_where_it_cannot_apply(cli, catalog):
    """A nonlinear network, and a linear model of one layer, get one line naming what collapse needs."""
    result = cli("run", "--method", "nuts", "--task", "tanh/h2", "--set", "collapse=true", "--seeds", "1")
    assert_one_error_line(result, "collapse = true integrates out the last layer of a linear network")
    assert _collapse.why_not(catalog.get("regular/d10")) is not None
    assert _collapse.why_not(catalog.get("rrr/m2-n6-h1-r1")) is None
    assert _collapse.why_not(catalog.get("dln/w3-1-2-3-r0")) is None


def test_reference_settings_say_whether_nuts_collapsed(catalog):
    """A reference file's settings record collapse only where the task allows it, and files written before
    the setting existed read as NUTS on every weight (so they are not mistaken for collapsed runs)."""
    from slt_bench import reference as ref

    settings = ref.Settings()
    assert settings.for_task(catalog.get("rrr/m2-n6-h1-r1")).nuts_collapse is True
    assert settings.for_task(catalog.get("regular/d10")).nuts_collapse is False
    doc = ref.load(ref.file_for(catalog.get("regular/d10")))
    assert ref.stored_settings(doc)["nuts_collapse"] is False
