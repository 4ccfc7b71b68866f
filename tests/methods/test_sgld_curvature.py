"""sgld's ``end_eps_kappa``: ε times the largest curvature of the potential where the chains end, by the power
method on Hessian–vector products from central differences of the gradient; checked against dense Hessians."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slt_bench.methods import make_method
from slt_bench.target import Budget, TemperedTarget
from tests.methods.gaussian import gaussian_posterior


def _dense_spectrum(target, z):
    """Eigenvalues of the Hessian of −log p_β at each row of z, from jax.hessian (exact, dense)."""
    import jax
    import jax.numpy as jnp

    from slt_bench.target import jax_logdensity

    static, args = target.jax_parts()
    hess = jax.jit(jax.hessian(lambda zi: -jax_logdensity(static, zi, args)))
    return [np.linalg.eigvalsh(np.asarray(hess(jnp.asarray(row)))) for row in z]


def test_top_curvature_lies_between_half_and_all_of_the_largest_eigenvalue(catalog):
    """On rrr/m3-n3-h3-r1 (18 parameters, β = 0.1, n = 1000, localised at w* with γ = 1) at w* and at three
    points around it: the estimate is a Rayleigh quotient, so it never exceeds the largest eigenvalue of the
    dense Hessian (tolerance 1e-6 relative: the central differences' error is O(h²) at h = 10⁻³ √ε, float64);
    and from a random start it falls below half of it with probability about 0.82 √d 2^(−29.5) ≈ 3e-9
    (Kuczyński & Woźniakowski 1992, for a positive semi-definite matrix; the points are chosen where the
    largest eigenvalue dominates the most negative one, which the test asserts first)."""
    import jax

    from slt_bench.methods._stiffness import top_curvature

    task = catalog.get("rrr/m3-n3-h3-r1")
    target = TemperedTarget(task, task.dataset(1000, 0), 0.1, task.w_star, 1.0)
    rng = np.random.default_rng(0)
    z = np.asarray(target.initial_point())[None, :] + np.vstack([np.zeros(target.dim),
                                                                 0.05 * rng.standard_normal((3, target.dim))])
    eps = 1e-4
    kappa = top_curvature(target, z, jax.random.PRNGKey(7), 1e-3 * math.sqrt(eps))
    for value, spectrum in zip(kappa, _dense_spectrum(target, z)):
        top = spectrum.max()
        assert top > abs(spectrum.min())
        assert top / 2 <= value <= top * (1 + 1e-6), (value, top)


def test_end_eps_kappa_on_a_gaussian_is_the_step_times_the_precisions_top_eigenvalue(catalog):
    """On the Gaussian regular/d2 posterior the Hessian is the precision P everywhere: each chain's value is
    ε times a Rayleigh quotient of P, so it lies in [ε λ_max(P) / 2, ε λ_max(P)] (the same bounds as above;
    d = 2 makes the failure probability ≈ 1e-9), whatever the chains did. A value from the wrong potential
    (untempered, or without the prior) or a difference quotient off by a factor fails it: βn/σ² dominates
    P by far more than 2×."""
    task, data, beta, _, cov = gaussian_posterior(catalog)
    top = np.linalg.eigvalsh(np.linalg.inv(cov)).max()
    eps = 0.5 / top
    hyper = {"chains": 16, "warmup": 100, "steps": 500, "thin": 10, "step_size": float(eps)}
    draws = make_method("sgld", hyper).sample(TemperedTarget(task, data, beta), Budget(1e9), 0)
    assert draws.status == "ok", draws.reason
    chains = np.asarray(draws.diagnostics["end_eps_kappa_chains"])
    assert chains.shape == (16,)
    assert draws.diagnostics["end_eps_kappa"] == pytest.approx(np.median(chains))
    assert np.all(chains >= eps * top / 2) and np.all(chains <= eps * top * (1 + 1e-6)), (chains, eps * top)


@pytest.mark.parametrize("batch", [None, 100])
def test_end_curvature_leaves_the_draws_alone_and_is_charged(catalog, batch):
    """Measured after the last step on its own random stream: the draws are the same to the last bit with and
    without it (full batch and minibatch paths); its 30 Hessian–vector products, 2 gradients each, are charged
    per chain."""
    from slt_bench.methods._sgld_jax import CURVATURE_ITERATIONS

    task = catalog.get("rrr/m3-n3-h3-r1")
    target = TemperedTarget(task, task.dataset(1000, 0), 0.1, task.w_star, 1.0)
    hyper = {"chains": 2, "warmup": 20, "steps": 200, "thin": 10, "step_size": 1e-5,
             **({"batch_size": batch} if batch else {})}
    runs = [make_method("sgld", {**hyper, "end_curvature": flag}).sample(target, Budget(1e9), 5)
            for flag in (True, False)]
    np.testing.assert_array_equal(runs[0].n_loss, runs[1].n_loss)
    assert runs[0].grad_evals - runs[1].grad_evals == pytest.approx(2 * 2 * CURVATURE_ITERATIONS)
    assert runs[0].diagnostics["end_eps_kappa"] > 0 and "end_eps_kappa" not in runs[1].diagnostics


def _cell(status="ok", kappas=(0.1, 0.2)):
    return {"key": "k", "task": "t", "estimator": "local", "status": status, "reason": "",
            "diagnostics": [{"end_eps_kappa": k} for k in kappas]}


def test_a_cell_whose_chains_ended_past_the_overshoot_limit_is_shown_stiff():
    """The report takes the largest over the cell's posteriors of the stored value (each a median over chains);
    at 2 (the step overshoots the stiffest direction) an ok cell is shown stiff, its stored status kept; just below it stays ok; a cell that is
    already not ok keeps its own status; cells without the measurement are untouched; idempotent."""
    from slt_bench.scoring import STIFF_LIMIT, counts_as_success, reported

    below, at, unmixed, old = reported([_cell(kappas=(0.3, STIFF_LIMIT * 0.999)), _cell(kappas=(0.1, STIFF_LIMIT)),
                                        _cell("unmixed", (5.0,)), {**_cell(), "diagnostics": [{}]}])
    assert below["status"] == "ok" and below["end_eps_kappa"] == pytest.approx(STIFF_LIMIT * 0.999)
    assert at["status"] == "stiff" and at["stored_status"] == "ok" and "limit" in at["reason"]
    assert not counts_as_success({**at, "z": 0.0})
    assert unmixed["status"] == "unmixed"
    assert old["status"] == "ok" and old["end_eps_kappa"] is None
    assert reported([at]) == [at]
