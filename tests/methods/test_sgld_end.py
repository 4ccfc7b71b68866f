"""sgld's full-batch loop keeps only the points it returns, and its ``end_accept``: the step rule's
MALA acceptance re-evaluated where the chains end, checked against exact draws of a Gaussian."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slt_bench.methods import make_method
from slt_bench.target import Budget, TemperedTarget
from tests.methods.gaussian import gaussian_posterior


def _rrr(catalog):
    task = catalog.get("rrr/m3-n3-h3-r1")
    return TemperedTarget(task, task.dataset(1000, 0), 0.1, task.w_star, 1.0)


def test_thinned_full_batch_draws_are_the_kept_steps_of_the_unthinned_run(catalog):
    """Thinning by 10 returns steps 10, 20, … of the same chains (the loop runs the same steps; 3 steps
    past the last kept point are run and charged, as before); n L_n and the parameters agree to float64
    rounding (1e-12 relative: the two loops are compiled separately, the arithmetic per step is the
    same)."""
    base = {"chains": 2, "warmup": 20, "steps": 1003, "step_size": 1e-4, "keep_params": True, "end_accept": False,
            "end_curvature": False}
    every = make_method("sgld", {**base, "thin": 1}).sample(_rrr(catalog), Budget(1e9), 3)
    thinned = make_method("sgld", {**base, "thin": 10}).sample(_rrr(catalog), Budget(1e9), 3)
    assert thinned.n_loss.shape == (2, 100) and thinned.params.shape[:2] == (2, 100)
    np.testing.assert_allclose(thinned.n_loss, every.n_loss[:, 9:1000:10], rtol=1e-12)
    np.testing.assert_allclose(thinned.params, every.params[:, 9:1000:10], rtol=1e-12, atol=1e-14)
    assert thinned.grad_evals == every.grad_evals == 2 * (20 + 1003 + 2)


def test_full_batch_loop_stores_only_the_kept_points(catalog):
    """The compiled loop's outputs hold draws × chains × (d + 1) numbers, not steps × chains × d: 10⁵ steps
    thinned by 10⁴ keep 10 points. Bound: twice the kept points' bytes plus the chains' end state
    (a loop that stored every step before thinning, as it once did, needs 10⁴ times more)."""
    import jax
    import jax.numpy as jnp

    from slt_bench.methods._sgld_jax import _compiled

    target = _rrr(catalog)
    static, args = target.jax_parts()
    chains, steps, thin, d = 2, 100_000, 10_000, target.dim
    _, run = _compiled(static, chains, 10, steps, thin, 0.999, "lm", True, True, True)
    z = jnp.zeros((chains, d))
    compiled = run.lower(jax.random.PRNGKey(0), z, jnp.asarray(1e-5), args).compile()
    memory = compiled.memory_analysis()
    kept_bytes = 8 * (steps // thin) * chains * (d + 1)
    assert memory.output_size_in_bytes <= 2 * kept_bytes + 8 * chains * d
    assert memory.temp_size_in_bytes < 8 * steps * chains * d / 100


def _mala_acceptance_exact(mean, cov, eps, draws, rng):
    """The mean MALA acceptance of the untamed Euler proposal at ε under exact draws of N(mean, cov):
    log p(z) = −½ (z − m)ᵀ P (z − m), ∇ log p = −P (z − m); (mean, SE) over ``draws`` independent draws."""
    precision = np.linalg.inv(cov)
    z = rng.multivariate_normal(mean, cov, size=draws)

    def logp(v):
        r = v - mean
        return -0.5 * np.einsum("ij,jk,ik->i", r, precision, r)

    def grad(v):
        return -(v - mean) @ precision

    prop = z + 0.5 * eps * grad(z) + math.sqrt(eps) * rng.standard_normal(z.shape)
    fwd = -((prop - z - 0.5 * eps * grad(z)) ** 2).sum(1) / (2 * eps)
    rev = -((z - prop - 0.5 * eps * grad(prop)) ** 2).sum(1) / (2 * eps)
    alpha = np.exp(np.minimum(logp(prop) - logp(z) + rev - fwd, 0.0))
    return alpha.mean(), alpha.std(ddof=1) / math.sqrt(draws)


def test_end_accept_is_the_mala_acceptance_under_the_stationary_law(catalog):
    """On a Gaussian the LM scheme (untamed) samples the target exactly, so ``end_accept`` at the chains'
    last points must equal the MALA acceptance under exact draws, computed here independently in numpy.
    ε = 1.5 / (the precision's largest eigenvalue) puts the acceptance near 0.8, where a missing reverse
    term or a wrong drift moves it by far more than the error. Tolerance: 3 combined SE (the exact
    side's sd/√20000; the run's sd of its 64 chains' values / 8, the chains being independent)."""
    task, data, beta, mean, cov = gaussian_posterior(catalog)
    eps = 1.5 / np.linalg.eigvalsh(np.linalg.inv(cov)).max()
    hyper = {"chains": 64, "warmup": 500, "steps": 2000, "thin": 100, "step_size": float(eps), "tamed": False,
             "end_accept": True}
    draws = make_method("sgld", hyper).sample(TemperedTarget(task, data, beta), Budget(1e9), 0)
    assert draws.status == "ok", draws.reason
    per_chain = np.asarray(draws.diagnostics["end_accept_chains"])
    assert draws.diagnostics["end_accept"] == pytest.approx(per_chain.mean())
    exact, se_exact = _mala_acceptance_exact(mean, cov, eps, 20_000, np.random.default_rng(1))
    assert 0.5 < exact < 0.95, exact  # the regime the test is meant for
    se_run = per_chain.std(ddof=1) / math.sqrt(len(per_chain))
    assert abs(per_chain.mean() - exact) < 3 * math.hypot(se_exact, se_run), (per_chain.mean(), exact, se_exact, se_run)


@pytest.mark.parametrize("batch", [None, 100])
def test_end_accept_leaves_the_draws_alone_and_is_charged(catalog, batch):
    """The acceptance is measured on its own random stream: the draws are the same to the last bit with
    and without it; its 16 proposals and the gradient at the end point are charged, per chain."""
    from slt_bench.methods._sgld_jax import END_PROPOSALS

    hyper = {"chains": 2, "warmup": 20, "steps": 200, "thin": 10, "step_size": 1e-5,
             **({"batch_size": batch} if batch else {})}
    runs = [make_method("sgld", {**hyper, "end_accept": flag}).sample(_rrr(catalog), Budget(1e9), 5)
            for flag in (True, False)]
    np.testing.assert_array_equal(runs[0].n_loss, runs[1].n_loss)
    assert runs[0].grad_evals - runs[1].grad_evals == pytest.approx(2 * (END_PROPOSALS + 1))
    assert 0.0 <= runs[0].diagnostics["end_accept"] <= 1.0 and "end_accept" not in runs[1].diagnostics
