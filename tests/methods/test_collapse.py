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


# ---- spectral coordinates for the first layer of a two-layer network -------------------------------------------


def _spectral_target(tmp_path, params="{ M = 2, N = 2, H = 3, r = 1 }", n=None, seed=0):
    from slt_bench.theory.exact import reduced_rank

    sizes = dict(item.split("=") for item in params.strip("{} ").replace(" ", "").split(","))
    rlct, m = reduced_rank(*(int(sizes[k]) for k in "MNHr"))
    task = _task(tmp_path, "reduced_rank", "x/t", params, str(rlct), m)
    data = task.dataset(n or task.n, seed)
    return task, TemperedTarget(task, data, 1 / math.log(n or task.n), None, 0.0)


def _phi_with_singular_values(rng, hidden, inputs, values):
    u, _ = np.linalg.qr(rng.normal(size=(max(hidden, inputs), max(hidden, inputs))))
    v, _ = np.linalg.qr(rng.normal(size=(min(hidden, inputs), min(hidden, inputs))))
    core = u[:, : len(values)] * np.asarray(values) @ v.T
    return (core if hidden >= inputs else core.T).reshape(-1)


@pytest.mark.parametrize("params", ["{ M = 2, N = 2, H = 3, r = 1 }", "{ M = 3, N = 2, H = 2, r = 1 }",
                                    "{ M = 3, N = 3, H = 3, r = 1 }", "{ M = 1, N = 2, H = 4, r = 1 }"])
def test_the_spectral_jacobian_is_the_maps_own(tmp_path, params):
    """The closed-form log |det ∂W_1/∂Φ| against the log-determinant of the map's autodiff Jacobian (an
    independent route: forward-mode through the custom derivative of the matrix function), at singular values
    spread out, tiny (1e-5), large (6), and two that meet to 1e-9 and exactly. Both are float64 computations of
    a 6-9 dimensional determinant with condition numbers below 1e4, so they agree to 1e-9 of max(1, |value|)."""
    import jax
    import jax.numpy as jnp

    task, target = _spectral_target(tmp_path, params)
    static, args = target.jax_parts()
    hidden, inputs = task.model.widths[1], task.model.widths[0]
    p = min(hidden, inputs)
    rng = np.random.default_rng(3)
    forward = jax.jit(lambda phi: _collapse.spectral_forward(static, phi, args))
    cases = [np.linspace(3.0, 0.5, p), np.full(p, 1e-5) * np.arange(1, p + 1), np.linspace(6.0, 5.0, p)]
    if p > 1:  # singular values that meet
        cases += [np.r_[2.0, 2.0 * (1 + 1e-9), np.ones(p - 2)], np.full(p, 1.5)]
    for values in cases:
        phi = jnp.asarray(_phi_with_singular_values(rng, hidden, inputs, values))
        autodiff = float(jnp.linalg.slogdet(jax.jacfwd(forward)(phi))[1])
        closed = float(_collapse.spectral_log_jacobian(static, phi, args))
        assert abs(autodiff - closed) < 1e-9 * max(1.0, abs(closed)), (values, autodiff, closed)


def test_the_spectral_map_and_its_derivative(tmp_path):
    """Each singular value t of Φ becomes f(t) (f' = cosh t/(a + cosh t), f(0) = 0) with the singular vectors
    kept, to 1e-12; the inverse takes W_1 back to Φ to 1e-10 (brentq's xtol 1e-14 in t, amplified by at most
    1/f' ≤ a + 1 ≈ 35 in the worst direction and by float64 roundoff on entries ~5); and the custom derivative
    equals central differences (h = 1e-5: truncation h² ‖f'''‖/6 ~ 1e-10, roundoff 1e-16/h ~ 1e-11) to 1e-7 of
    the Jacobian's largest entry, at a generic point and where singular values meet exactly (where eigh's own
    derivative is not finite), and the log density's gradient is finite there."""
    import jax
    import jax.numpy as jnp
    from scipy import integrate

    task, target = _spectral_target(tmp_path)
    static, args = target.jax_parts()
    hidden, inputs = task.model.widths[1], task.model.widths[0]
    a = float(_collapse._stretch(static, args))
    assert a > 10  # √(β n) at n = 1000: the stretch is doing something on this task
    rng = np.random.default_rng(4)
    values = np.array([4.0, 0.7])
    phi = _phi_with_singular_values(rng, hidden, inputs, values)
    w = np.asarray(_collapse.spectral_forward(static, jnp.asarray(phi), args)).reshape(hidden, inputs)
    f = [integrate.quad(lambda x: np.cosh(x) / (a + np.cosh(x)), 0, t, epsabs=1e-13)[0] for t in values]
    np.testing.assert_allclose(np.linalg.svd(w, compute_uv=False), f, rtol=1e-12)
    u, _, vt = np.linalg.svd(phi.reshape(hidden, inputs), full_matrices=False)
    np.testing.assert_allclose(w, (u * f) @ vt, atol=1e-12)
    np.testing.assert_allclose(_collapse.spectral_inverse(static, w.reshape(-1), args), phi, atol=1e-10)

    forward = jax.jit(lambda x: _collapse.spectral_forward(static, x, args))
    for point in (phi, _phi_with_singular_values(rng, hidden, inputs, [2.0, 2.0])):
        jac = np.asarray(jax.jacfwd(forward)(jnp.asarray(point)))
        h = 1e-5
        fd = np.stack([(np.asarray(forward(jnp.asarray(point + h * e))) - np.asarray(forward(jnp.asarray(point - h * e))))
                       / (2 * h) for e in np.eye(point.size)], axis=1)
        assert np.abs(jac - fd).max() < 1e-7 * np.abs(fd).max()
        grad = jax.grad(lambda x: _collapse.spectral_logdensity(static, x, args))(jnp.asarray(point))
        assert np.isfinite(np.asarray(grad)).all()
        # The log-Jacobian's gradient goes through the same custom derivative (dλ_i = v_iᵀ dG v_i). It equals the
        # gradient by an independent route, autodiff through eigvalsh, to 1e-9 of its largest entry (two float64
        # evaluations of one analytic derivative of a 6-dimensional function), and at the generic point central
        # differences (h = 1e-4: truncation h² ‖∂³‖/6 ~ 1e-8, roundoff 1e-16 |value| / h ~ 1e-11) to 1e-6.
        # (Central differences are not used where singular values meet: there a step of h splits the eigenvalues
        # by about h, and the divided differences switch formula at a relative gap of 1e-6.)
        log_jac = jax.jit(lambda x: _collapse.spectral_log_jacobian(static, x, args))
        grad = np.asarray(jax.grad(log_jac)(jnp.asarray(point)))

        def through_eigvalsh(x):
            gram = x.reshape(hidden, inputs).T @ x.reshape(hidden, inputs)
            return _collapse._log_jacobian_of(jnp.clip(jnp.linalg.eigvalsh(gram), 0.0, None), a, hidden - inputs)

        other = np.asarray(jax.grad(through_eigvalsh)(jnp.asarray(point)))
        assert np.abs(grad - other).max() < 1e-9 * np.abs(other).max(), (grad, other)
        if point is phi:
            h = 1e-4
            fd = np.array([(float(log_jac(jnp.asarray(point + h * e))) - float(log_jac(jnp.asarray(point - h * e))))
                           / (2 * h) for e in np.eye(point.size)])
            assert np.abs(grad - fd).max() < 1e-6 * np.abs(fd).max(), (grad, fd)


def test_spectral_nuts_agrees_with_quadrature_and_with_collapsed_nuts(tmp_path):
    """Two checks of the sampler in spectral coordinates.

    * On the 2-parameter y = b a x with truth 0 (λ = 1/2, m = 2; quadrature exact) at β₀ and localised, its
      E_β[n L_n] is within 3.2 SE of quadrature's (Bonferroni over 2 at 0.27%), and the same seed gives the
      same draws.
    * On M = 2, N = 2, H = 3, r = 1 at n = 10⁴ (Φ is 3 × 2: every term of the Jacobian is used), its
      E_β[n L_n] at β₀ agrees with collapsed NUTS in W_1's own coordinates: z of the difference in the two
      ESS-based SEs combined below 3 (0.27% two-sided)."""
    from slt_bench.draws import chain_diagnostics

    def se(d):
        return d.n_loss.std(ddof=1) / math.sqrt(chain_diagnostics(d.n_loss)["ess"])

    task, _ = _spectral_target(tmp_path, "{ M = 1, N = 1, H = 1, r = 0 }")
    data = task.dataset(task.n, 0)
    nuts = make_method("nuts", {"chains": 4, "warmup": 500, "samples": 2000, "target_accept": 0.9,
                                "dense_mass": True, "collapse": True, "spectral": True})
    z_max = stats.norm.ppf(1 - 0.0027 / 4)
    beta = 1 / math.log(task.n)
    for centre, gamma in ((None, 0.0), (np.asarray(task.w_star), 1.0)):
        target = TemperedTarget(task, data, beta, centre, gamma)
        d = nuts.sample(target, Budget(1e8), 7)
        assert d.status == "ok", (d.status, d.diagnostics)
        exact = exact_moments(task, data, beta, centre, gamma)
        assert exact.converged
        z = (d.n_loss.mean() - exact.mean) / se(d)
        assert abs(z) < z_max, (gamma, d.n_loss.mean(), exact.mean, z)
    again = nuts.sample(TemperedTarget(task, data, beta, centre, gamma), Budget(1e8), 7)
    np.testing.assert_array_equal(again.n_loss, d.n_loss)

    _, target = _spectral_target(tmp_path, n=10_000, seed=1)
    runs = {}
    for spectral in (True, False):
        method = make_method("nuts", {"chains": 4, "warmup": 1000, "samples": 4000, "target_accept": 0.95,
                                      "dense_mass": True, "collapse": True, "spectral": spectral})
        runs[spectral] = method.sample(target, Budget(1e9), 11)
    z = (runs[True].n_loss.mean() - runs[False].n_loss.mean()) / math.hypot(se(runs[True]), se(runs[False]))
    assert abs(z) < 3.0, (runs[True].n_loss.mean(), runs[False].n_loss.mean(), z)


def test_spectral_is_refused_where_it_cannot_apply(cli, catalog):
    """Without collapse, and on a deep linear network (two layers left once the last is integrated out): one
    line each, naming what spectral needs."""
    result = cli("run", "--method", "nuts", "--task", "rrr/m2-n6-h1-r1", "--set", "spectral=true", "--seeds", "1")
    assert_one_error_line(result, "spectral = true needs collapse = true")
    result = cli("run", "--method", "nuts", "--task", "dln/w3-1-2-3-r0", "--set", "collapse=true",
                 "--set", "spectral=true", "--seeds", "1")
    assert_one_error_line(result, "it needs a two-layer network")


def test_reference_settings_say_whether_nuts_ran_in_spectral_coordinates(catalog):
    """Spectral coordinates are recorded only where they apply (a two-layer linear network, with collapse), and
    files written before the setting existed read as NUTS in W_1's own coordinates."""
    from slt_bench import reference as ref

    settings = ref.Settings()
    assert settings.for_task(catalog.get("rrr/m2-n6-h1-r1")).nuts_spectral is True
    assert settings.for_task(catalog.get("dln/w3-1-2-3-r0")).nuts_spectral is False
    assert settings.for_task(catalog.get("regular/d10")).nuts_spectral is False
    assert ref.Settings(nuts_collapse=False).for_task(catalog.get("rrr/m2-n6-h1-r1")).nuts_spectral is False
    doc = ref.load(ref.file_for(catalog.get("rrr/m2-n6-h1-r1")))
    assert ref.stored_settings(doc)["nuts_spectral"] is False
