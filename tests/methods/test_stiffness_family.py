"""The end check of the whole SG-MCMC family (slt_bench.methods._stiffness): each rule's limit s*, checked by
running the rule's own step on a Gaussian direction at s*, where its stationary variance must be twice the
target's; the metric and momentum forms of the measured step against dense Hessians; the cost and the draws;
and the report's rule (end_stiffness ≥ 1)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slt_bench.methods import make_method
from slt_bench.target import Budget, TemperedTarget
from tests.methods.gaussian import gaussian_posterior

CHAINS, BURN = 20_000, 3_000


def _stationary_variance(rule, eps, kappa):
    """The variance of z over CHAINS independent chains of ``rule`` after BURN steps on the potential κ z²/2
    (the gradient all in the loss part g, β n = 1, the data-free part zero), each started at 0, in float64
    as the methods run."""
    import jax
    import jax.numpy as jnp

    from slt_bench.models.ops import jax_ops

    jax_ops()  # float64, as every method's target turns on

    keys = jax.random.split(jax.random.PRNGKey(11), CHAINS)
    z0 = jnp.zeros((CHAINS, 1))
    aux = jax.vmap(rule.init)(z0, jax.random.split(jax.random.PRNGKey(12), CHAINS)) if rule.keyed_init \
        else jax.vmap(rule.init)(z0)

    def one(carry, key):
        z, aux = carry
        step = jax.vmap(rule.step, in_axes=(0, 0, 0, 0, 0, None, None))
        z, aux = step(jax.random.split(key, CHAINS), z, aux, jnp.zeros_like(z), kappa * z, 1.0, eps)
        return (z, aux), None

    (z, _), _ = jax.jit(lambda c: jax.lax.scan(one, c, jax.random.split(keys[0], BURN)))((z0, aux))
    return float(np.var(np.asarray(z)[:, 0], ddof=1))


def _rules():
    from slt_bench.methods._stiffness import LANGEVIN_LIMIT, ema_drift_limit, momentum_limit
    from slt_bench.methods.adam_sgld import adam_rule
    from slt_bench.methods.rmsprop_sgld import rmsprop_rule
    from slt_bench.methods.sghmc import sghmc_rule
    from slt_bench.methods.sgld import langevin_rule

    big = 1e6  # δ ≫ √v: the preconditioner is 1/δ to 1e-6, so s = ε κ / δ
    return {
        "sgld euler": (langevin_rule("euler", False), LANGEVIN_LIMIT, 1.0),
        "rmsprop-sgld": (rmsprop_rule(0.99, big), LANGEVIN_LIMIT, big),
        "adam-sgld": (adam_rule(0.9, 0.999, big), ema_drift_limit(0.9), big),
        "sghmc": (sghmc_rule(0.1), float(momentum_limit(0.1)), None),
    }


@pytest.mark.parametrize("name", ["sgld euler", "rmsprop-sgld", "adam-sgld", "sghmc"])
def test_each_rule_doubles_the_variance_at_its_limit(name):
    """At s = s* the rule's own step (not a model of it) has a stationary variance 2/κ on a Gaussian of
    curvature κ = 3. Tolerance: the variance of 20,000 independent end points has a relative SE of
    √(2/19,999) = 1.0%, so 3 SE is 3.0%; the start's deficit decays as ρ^(2t) with ρ the spectral radius of
    the recursion at s* (0 for Euler, 0.949 for Adam at β₁ = 0.9, 0.974 for sghmc at friction 0.1): below
    10⁻⁶⁰ after 3,000 steps. A limit off by 10% moves the ratio by 5% (Adam: 1.90 at 0.9 s*, 2.10 at 1.1 s*)
    to 9–11% (Euler, sghmc: 1.82, 2.22), beyond the 3% tolerance."""
    rule, limit, scale = _rules()[name]
    kappa = 3.0
    if scale is None:  # a momentum rule: s = ε² κ
        eps = math.sqrt(limit / kappa)
    else:  # a Langevin rule in the metric 1/scale: s = ε κ / scale
        eps = limit * scale / kappa
    var = _stationary_variance(rule, eps, kappa)
    assert var * kappa == pytest.approx(2.0, rel=3 * math.sqrt(2 / (CHAINS - 1))), var * kappa


def test_the_closed_and_numerical_limits_agree_with_scipys_lyapunov_solver():
    """momentum_limit's closed form and ema_drift_limit's bisection, each against an independent solve of the
    discrete Lyapunov equation (scipy) at the limit: the ratio is 2 to 1e-9 (the bisection runs 80 halvings of an
    interval ≤ 76 wide, and the closed form is exact in float64 to ~1e-15; the ratio's slope is below 10³)."""
    from scipy.linalg import solve_discrete_lyapunov

    from slt_bench.methods._stiffness import LANGEVIN_LIMIT, ema_drift_limit, momentum_limit

    for f in (0.01, 0.1, 0.5, 0.9):
        a = math.sqrt(float(momentum_limit(f)))
        sigma = solve_discrete_lyapunov(np.array([[1.0, a], [-a, 1.0 - f]]), np.diag([0.0, 2 * f]))
        assert sigma[0, 0] == pytest.approx(2.0, abs=1e-9), f  # temperature q / (2f) = 1
    for b in (0.0, 0.5, 0.9, 0.99):
        s = ema_drift_limit(b)
        a = np.array([[1 - s / 2 * (1 - b), -s / 2 * b], [1 - b, b]])
        assert solve_discrete_lyapunov(a, np.diag([s, 0.0]))[0, 0] == pytest.approx(2.0, abs=1e-9), b
    assert ema_drift_limit(0.0) == pytest.approx(LANGEVIN_LIMIT, abs=1e-12)  # no averaging: Euler's 2
    assert float(momentum_limit(0.0)) < 1e-4  # no friction: the explicit scheme is unstable at any step


def test_sgnht_takes_each_chains_thermostat_for_its_friction():
    """SGNHT's friction per step is ξ ε; its limit per chain is momentum_limit of that."""
    from slt_bench.methods._stiffness import momentum_limit
    from slt_bench.methods.sgnht import sgnht_rule

    xi = np.array([5.0, 80.0, -1.0])
    limits = sgnht_rule(0.1).stiff_limit(1e-3, (np.zeros((3, 2)), xi))
    np.testing.assert_allclose(limits, momentum_limit(xi * 1e-3))
    assert limits[1] > limits[0] > limits[2] >= 0


def test_the_metric_and_momentum_forms_against_a_dense_hessian(catalog):
    """end_curvature in a metric P: each chain's κ̂ lies in [λ_max/2, λ_max(1 + 1e-6)] of the dense P^½ H P^½
    (a Rayleigh quotient; Kuczyński & Woźniakowski's bound at d = 2: failure ≈ 1e-9; the 1e-6 covers the
    central differences' O(h²)); the momentum form is ε² κ̂ and its limit and ratio are stored as given.
    On the Gaussian regular/d2 posterior the Hessian is its precision everywhere; the metrics weigh the two
    coordinates differently enough (×30) that the unweighted eigenvalue is outside the bounds."""
    import jax

    from slt_bench.methods._stiffness import end_curvature

    task, data, beta, mean, cov = gaussian_posterior(catalog)
    target = TemperedTarget(task, data, beta)
    hess = np.linalg.inv(cov)
    z = np.vstack([mean, mean + 0.1])  # regular/d2 is unconstrained: z = w
    metric = np.array([[1.0, 30.0], [30.0, 1.0]])
    eps = 1e-4
    out = end_curvature(target, z, eps, jax.random.PRNGKey(3), metric=metric, limits=np.array([0.2, 0.4]))
    for value, p in zip(out["end_eps_kappa_chains"], metric):
        top = np.linalg.eigvalsh(np.sqrt(p)[:, None] * hess * np.sqrt(p)[None, :]).max()
        assert eps * top / 2 <= value <= eps * top * (1 + 1e-6), (value, eps * top)
        assert not eps * np.linalg.eigvalsh(hess).max() / 2 <= value <= eps * np.linalg.eigvalsh(hess).max()
    values = np.asarray(out["end_eps_kappa_chains"])
    assert out["end_stiff_limit"] == pytest.approx(0.3)
    assert out["end_stiffness"] == pytest.approx(np.median(values / np.array([0.2, 0.4])))
    moment = end_curvature(target, z, eps, jax.random.PRNGKey(3), momentum=True, limits=0.05)
    top = np.linalg.eigvalsh(hess).max()
    assert all(eps**2 * top / 2 <= v <= eps**2 * top * (1 + 1e-6) for v in moment["end_eps_kappa_chains"])
    assert moment["end_stiffness"] == pytest.approx(np.median(moment["end_eps_kappa_chains"]) / 0.05)


@pytest.mark.parametrize("name", ["rmsprop-sgld", "adam-sgld", "sghmc", "sgnht"])
def test_the_family_stores_the_check_leaves_the_draws_alone_and_charges_it(catalog, name):
    """Every family member stores the check at the end (on by default), the draws are bit-identical without
    it, and it costs exactly 2 × 30 full-batch gradients per chain."""
    from slt_bench.methods._stiffness import CURVATURE_ITERATIONS

    task = catalog.get("rrr/m3-n3-h3-r1")
    target = TemperedTarget(task, task.dataset(1000, 0), 0.1, task.w_star, 1.0)
    hyper = {"chains": 2, "warmup": 20, "steps": 200, "thin": 10, "batch_size": 100}
    runs = [make_method(name, {**hyper, "end_curvature": flag}).sample(target, Budget(1e9), 5)
            for flag in (True, False)]
    assert runs[0].status == runs[1].status == "ok"
    np.testing.assert_array_equal(runs[0].n_loss, runs[1].n_loss)
    assert runs[0].grad_evals - runs[1].grad_evals == pytest.approx(2 * 2 * CURVATURE_ITERATIONS)
    diag = runs[0].diagnostics
    assert diag["end_eps_kappa"] > 0 and diag["end_stiff_limit"] > 0 and len(diag["end_eps_kappa_chains"]) == 2
    if name != "sgnht":  # one limit for all chains (sgnht's depends on each chain's thermostat)
        assert diag["end_stiffness"] == pytest.approx(diag["end_eps_kappa"] / diag["end_stiff_limit"], rel=1e-12)
    assert "end_eps_kappa" not in runs[1].diagnostics


def test_the_report_reads_each_methods_own_limit():
    """end_stiffness ≥ 1 makes an ok cell stiff whatever its εκ: a momentum run at ε²κ = 0.05 against its
    limit 0.049 is stiff, one at 0.048 is not; an old sgld row with end_eps_kappa alone is read against 2."""
    from slt_bench.scoring import reported

    def cell(**diag):
        return {"key": "k", "task": "t", "estimator": "local", "status": "ok", "reason": "", "diagnostics": [diag]}

    past, short, old_past, old_short = reported([
        cell(end_eps_kappa=0.05, end_stiff_limit=0.049, end_stiffness=0.05 / 0.049),
        cell(end_eps_kappa=0.048, end_stiff_limit=0.049, end_stiffness=0.048 / 0.049),
        cell(end_eps_kappa=2.1), cell(end_eps_kappa=1.9)])
    assert past["status"] == "stiff" and short["status"] == "ok"
    assert old_past["status"] == "stiff" and old_past["end_stiffness"] == pytest.approx(1.05)
    assert old_short["status"] == "ok"
