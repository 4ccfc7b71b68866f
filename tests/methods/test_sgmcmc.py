"""The minibatch SG-MCMC family (sgld's minibatch path, rmsprop-sgld, adam-sgld, sghmc, sgnht) on a
Gaussian posterior whose mean and covariance are known in closed form, their minibatch gradients,
their reproducibility; and the streamed data of the scale family."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slt_bench.methods import make_method
from slt_bench.target import Budget, TemperedTarget
from tests.methods.gaussian import assert_moments, gaussian_posterior

# Step sizes small enough that the discretisation bias is far below the Monte Carlo error at this
# length (each method's own setting; the step-size rule itself is measured in docs/accuracy.md).
SMALL_STEP = {
    "sgld": {"step_size": 2e-5, "scheme": "euler", "batch_size": 999},
    "rmsprop-sgld": {"step_fraction": 0.01},
    "adam-sgld": {"step_fraction": 0.01},
    "sghmc": {"step_fraction": 0.001},
    "sgnht": {"step_fraction": 0.001},
}


@pytest.mark.parametrize("method", sorted(SMALL_STEP))
def test_stationary_mean_and_variance_of_a_gaussian(catalog, method):
    """Tolerance: 3 Monte Carlo SE per coordinate (see :func:`tests.methods.gaussian.assert_moments`)."""
    task, data, beta, mean, cov = gaussian_posterior(catalog)
    hyper = {"chains": 4, "warmup": 1000, "steps": 20000, "thin": 10, "keep_params": True, "batch_size": 1000,
             **SMALL_STEP[method]}
    draws = make_method(method, hyper).sample(TemperedTarget(task, data, beta), Budget(1e9), 0)
    assert draws.status == "ok", draws.reason
    assert_moments(draws.params, mean, cov)


# (method, settings, allowance for the step's own bias): sgld's LM scheme is exact on a Gaussian; the
# Euler step of rmsprop-sgld adds ε Σ h_i P_i / 8 to E[β n L_n] (h_i ≈ β n = 500 the curvature, P_i ≈ 3
# its preconditioner at batch 10): 0.008 at ε = 2e-5, allowed as 0.01
HEAT_CASES = [("sgld", {"step_size": 5e-5, "tamed": False, "scheme": "lm"}, 0.0),
              ("rmsprop-sgld", {"step_size": 2e-5}, 0.01)]


@pytest.mark.parametrize("method, settings, allowance", HEAT_CASES)
def test_noise_heat_is_the_minibatch_excess_on_a_gaussian(catalog, method, settings, allowance):
    """The stored ``noise_heat`` (ε tr(PΣ_g)/8, exact to first order in ε on a Gaussian) equals the
    measured excess of E[β n L_n] over its closed form, with minibatches of 10 of 1000 points (an
    excess of about 0.3, a third of a regular direction's ½). Tolerance: 3 × the combined SE of the
    two (the run's sd/√ESS, and the sd of the 16 chains' heats / 4), plus the allowance above. A
    heat off by a factor of 2 (ε/4 for ε/8, or a missing preconditioner) misses it by > 0.15."""
    from slt_bench.estimators.base import mean_and_se
    from tests.methods.gaussian import conjugate

    task, data, beta, _, _ = gaussian_posterior(catalog)
    exact, _ = conjugate(task, data, beta)
    hyper = {"chains": 16, "warmup": 1000, "steps": 50000, "thin": 10, "batch_size": 10, **settings}
    draws = make_method(method, hyper).sample(TemperedTarget(task, data, beta), Budget(1e9), 0)
    assert draws.status == "ok", draws.reason
    measured, se = mean_and_se(beta * draws.n_loss)
    heats = np.asarray(draws.diagnostics["noise_heat_chains"])
    assert draws.diagnostics["noise_heat"] == pytest.approx(heats.mean())
    se_heat = heats.std(ddof=1) / math.sqrt(len(heats))
    assert abs((measured - beta * exact) - heats.mean()) < 3 * math.hypot(se, se_heat) + allowance, (
        measured - beta * exact, heats.mean(), se, se_heat)


def test_noise_heat_is_zero_with_every_point_and_absent_for_momentum_rules(catalog):
    """A streamed-free task at batch = n draws the whole dataset (no noise: heat exactly 0); sghmc's
    momentum and adam-sgld's filtered drift are not of the Langevin form the heat is derived for."""
    task, data, beta, _, _ = gaussian_posterior(catalog)
    hyper = {"chains": 2, "warmup": 10, "steps": 100, "thin": 10, "batch_size": 1000, "step_size": 1e-5}
    target = TemperedTarget(task, data, beta)
    assert make_method("rmsprop-sgld", hyper).sample(target, Budget(1e9), 0).diagnostics["noise_heat"] == 0.0
    for method in ("sghmc", "adam-sgld", "sgnht"):
        assert "noise_heat" not in make_method(method, hyper).sample(target, Budget(1e9), 0).diagnostics


@pytest.mark.parametrize("task_id, n", [("regular/d2", 1000), ("dls/d1k", 1000)])
def test_minibatch_gradients_are_unbiased(catalog, task_id, n):
    """The mean of K minibatch estimates of ∇(β n L_n) at a fixed point is the full-batch gradient
    within 4 SE per coordinate (SE = sd over the K estimates / √K; 4 SE over up to 1171 coordinates
    keeps the chance of a false alarm below 1%)."""
    import jax
    import jax.numpy as jnp

    from slt_bench.target import jax_batch_tempered_loss, jax_minibatch

    task = catalog.get(task_id)
    data = task.dataset(n, 0)
    target = TemperedTarget(task, data, 0.3)
    z = jnp.asarray(target.initial_point()) + 0.05 * jax.random.normal(jax.random.PRNGKey(1), (task.n_params,))
    static, args = target.jax_batch_parts()
    full = jax.grad(lambda v: target.beta * target.n_loss_jax(v))(z)

    @jax.jit
    def estimate(key):
        x, y = jax_minibatch(static, args, key, 100)
        return jax.grad(lambda v: jax_batch_tempered_loss(static, v, args, x, y))(z)

    keys = jax.random.split(jax.random.PRNGKey(2), 400)
    grads = np.stack([np.asarray(estimate(k)) for k in keys])
    se = grads.std(0, ddof=1) / math.sqrt(len(grads))
    z_scores = (grads.mean(0) - np.asarray(full)) / np.maximum(se, 1e-12)
    assert np.all(np.abs(z_scores) < 4), np.abs(z_scores).max()


@pytest.mark.parametrize("method", ["sgld", "rmsprop-sgld", "sghmc"])
def test_same_seed_same_draws(catalog, method):
    task = catalog.get("rrr/m3-n3-h3-r1")
    data = task.dataset(1000, 0)
    hyper = {"chains": 2, "warmup": 20, "steps": 200, "thin": 10, "batch_size": 100,
             **({"step_size": 1e-6} if method == "sgld" else {})}
    runs = [make_method(method, hyper).sample(TemperedTarget(task, data, 0.1, task.w_star, 1.0), Budget(1e9), 5)
            for _ in range(2)]
    other = make_method(method, hyper).sample(TemperedTarget(task, data, 0.1, task.w_star, 1.0), Budget(1e9), 6)
    assert runs[0].status == "ok" and runs[0].n_loss.shape == (2, 20)
    np.testing.assert_array_equal(runs[0].n_loss, runs[1].n_loss)
    assert not np.array_equal(runs[0].n_loss, other.n_loss)


def test_minibatch_cost_is_counted_as_b_over_n(catalog):
    from slt_bench.methods._stiffness import CURVATURE_ITERATIONS

    task = catalog.get("dls/d1k")
    data = task.dataset(1000, 0)
    method = make_method("sghmc", {"chains": 2, "warmup": 20, "steps": 200, "thin": 10, "batch_size": 100,
                                   "step_size": 1e-4})
    draws = method.sample(TemperedTarget(task, data, 0.1, task.w_star, 1.0), Budget(1e9), 0)
    # 2 chains × 220 steps × 100/1000 of a gradient, plus one full-batch loss per kept draw and chain, plus the
    # end check's 2 × 30 full-batch gradients per chain
    assert draws.grad_evals == pytest.approx(2 * 220 * 100 / 1000 + 2 * 20 + 2 * 2 * CURVATURE_ITERATIONS)


# ---- the scale family and its streamed data ----------------------------------------------------
def test_scale_instances_have_the_stated_size_and_exact_lambda(catalog):
    from slt_bench.tasks.families import scale_widths
    from slt_bench.theory import deep_linear

    sizes = {}
    for task in catalog.select([], "scale"):
        p = task.params_dict
        widths = scale_widths(p["depth"], p["width_min"], p["width_max"], p["seed"])
        assert task.model.widths == widths
        assert task.n_params == sum(a * b for a, b in zip(widths[:-1], widths[1:]))
        assert (task.rlct, task.multiplicity) == deep_linear(list(widths), p["rank"])
        assert task.multiplicity == 1 and task.streamed
        sizes[task.id] = task.n_params
    assert [round(math.log10(v)) for v in sorted(sizes.values())] == [3, 4, 5, 6]


def test_scale_truth_factors_have_rank_exactly_r(catalog):
    task = catalog.get("dls/d10k")
    layers = task.model.layers(np.asarray(task.truth))
    r = task.params_dict["rank"]
    assert all(np.linalg.matrix_rank(w) == r for w, _ in layers)


def test_streamed_data_is_reproducible_bounded_and_its_statistics_exact(catalog):
    from slt_bench.tasks.stream import BLOCK, StreamedDataset

    task = catalog.get("dls/d1k")
    data = task.dataset(2000, 4)
    x1, y1 = data.points(0, 500)
    x2, y2 = task.dataset(2000, 4).points(0, 500)
    np.testing.assert_array_equal(data.points(120, 180)[0], x1[120:180])  # any slice: the same points
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(task.dataset(2000, 5).points(0, 500)[0], x1)
    assert abs(x1.mean()) < 0.05 and abs(x1.std() - 1) < 0.05  # N(0, 1) inputs: 9500 values, 5 SE
    # a small memory bound: chunks respect it, and asking for more at once is refused
    small = StreamedDataset(data.task_id, data.n, data.seed, data.truth_map, data.noise_std, max_bytes=200_000)
    per_point = 8 * (small.in_dim + small.out_dim) * 3
    assert small.chunk_points * per_point <= 200_000 and small.chunk_points % BLOCK == 0
    with pytest.raises(MemoryError, match="read the dataset in chunks"):
        small.points(0, 2000)
    # statistics accumulated chunk by chunk under that bound equal the direct sums (float64 rounding)
    xs, ys = zip(*(small.points(s, min(s + small.chunk_points, 2000)) for s in range(0, 2000, small.chunk_points)))
    x, y = np.concatenate(xs), np.concatenate(ys)
    stats = small.stats()
    np.testing.assert_allclose(stats.xtx, x.T @ x, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(stats.xty, x.T @ y, rtol=1e-10, atol=1e-9)
    assert stats.yty == pytest.approx(float((y**2).sum()), rel=1e-12)
    # the residuals at the truth are the noise: the mean per-point loss is the noise entropy (4 SE)
    resid = y - x @ data.truth_map.T
    assert abs(resid.var() - task.noise_std**2) < 4 * math.sqrt(2 / resid.size)
    with pytest.raises(AttributeError, match="never held whole"):
        _ = data.x


def test_held_blocks_are_the_streamed_points_and_give_the_same_minibatches(catalog, monkeypatch):
    """A streamed dataset held in memory (blocks) is the stream itself: block b equals the points the
    stream draws for it, and a minibatch gathered from the held blocks equals the one regenerated in
    the loop for the same key. Tolerance: the two compute y = P₀x + σε by matrix products of different
    shapes, so they may differ in the last bits (1e-12 relative); x is drawn identically."""
    import jax

    import slt_bench.tasks.stream as stream
    from slt_bench.target import jax_minibatch

    task = catalog.get("dls/d1k")
    data = task.dataset(2000, 4)
    bx, by = data.blocks()
    x, y = data.points(0, 2000)
    np.testing.assert_array_equal(bx.reshape(x.shape), x)
    np.testing.assert_allclose(by.reshape(y.shape), y, rtol=1e-12, atol=1e-12)
    assert data.blocks() is data.blocks()  # kept, not regenerated
    target = TemperedTarget(task, data, 0.3)
    held_static, held_args = target.jax_batch_parts()
    assert held_static.held
    monkeypatch.setattr(stream, "HOLD_MAX_BYTES", 0)  # the bound says no: regenerate in the loop
    with pytest.raises(MemoryError, match="above the bound"):
        task.dataset(2000, 4).blocks()
    loop_static, loop_args = target.jax_batch_parts()
    assert not loop_static.held and "block_x" not in loop_args
    for k in range(3):
        key = jax.random.PRNGKey(k)
        hx, hy = jax_minibatch(held_static, held_args, key, 500)
        lx, ly = jax_minibatch(loop_static, loop_args, key, 500)
        np.testing.assert_array_equal(np.asarray(hx), np.asarray(lx))
        np.testing.assert_allclose(np.asarray(hy), np.asarray(ly), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("task_id", ["dls/d1k", "tanh/h2"])
def test_float32_minibatch_gradient_is_the_float64_one_to_float32_rounding(catalog, task_id):
    """precision = "float32" computes the minibatch likelihood in float32 (the cast of w, x, y), the
    result and its gradient returned as float64. Bound: float32's unit roundoff 2⁻²⁴ ≈ 6e-8, grown by
    at most ~10³ through a depth ≤ 4 network and a sum of 500 terms (√500 · 4 · a safety factor of
    ~10): 1e-4 of the gradient's norm."""
    import jax
    import jax.numpy as jnp

    from slt_bench.target import jax_batch_tempered_loss, jax_minibatch

    task = catalog.get(task_id)
    data = task.dataset(5000, 0)
    target = TemperedTarget(task, data, 0.3)
    z = jnp.asarray(target.initial_point()) + 0.05 * jax.random.normal(jax.random.PRNGKey(1), (task.n_params,))
    grads = {}
    for precision in ("float64", "float32"):
        static, args = target.jax_batch_parts(precision)
        x, y = jax_minibatch(static, args, jax.random.PRNGKey(3), 500)
        grads[precision] = np.asarray(jax.grad(lambda v: jax_batch_tempered_loss(static, v, args, x, y))(z))
    assert grads["float32"].dtype == np.float64
    err = np.linalg.norm(grads["float32"] - grads["float64"]) / np.linalg.norm(grads["float64"])
    assert 0 < err < 1e-4, err  # > 0: float32 really was used


def test_precision_is_validated_and_float32_samples_the_same_gaussian(catalog):
    """Bad values are one clear error; at float32 rmsprop-sgld still has the closed-form stationary
    moments (3 Monte Carlo SE per coordinate, as the float64 test above)."""
    from slt_bench.errors import SltBenchError

    for method in ("sgld", "rmsprop-sgld", "adam-sgld", "sghmc"):
        with pytest.raises(SltBenchError, match="precision must be one of float64, float32"):
            make_method(method, {"precision": "float16"})
    task, data, beta, mean, cov = gaussian_posterior(catalog)
    hyper = {"chains": 4, "warmup": 1000, "steps": 20000, "thin": 10, "keep_params": True, "batch_size": 1000,
             "precision": "float32", **SMALL_STEP["rmsprop-sgld"]}
    draws = make_method("rmsprop-sgld", hyper).sample(TemperedTarget(task, data, beta), Budget(1e9), 0)
    assert draws.status == "ok", draws.reason
    assert_moments(draws.params, mean, cov)


# ---- the step rule's curvature floor --------------------------------------------------------------
def test_step_curvature_is_the_measured_one_floored_at_beta_n(catalog):
    """κ = max(measured, β n) + γ·max(scale): below β n, zero or not finite the floor β n; above it
    the measured value itself, bit for bit (the rule before the floor)."""
    from slt_bench.methods._sgmcmc import step_curvature

    task = catalog.get("tanh/h1")
    data = task.dataset(1000, 0)
    target = TemperedTarget(task, data, 0.2)
    floor = 0.2 * 1000
    for measured in (math.nan, math.inf, 0.0, 1e-5, 0.5 * floor):
        assert step_curvature(measured, target) == floor
    assert step_curvature(3.7 * floor, target) == 3.7 * floor
    local = TemperedTarget(task, data, 0.2, task.w_star, 2.0)
    assert step_curvature(0.1, local) == floor + 2.0
    assert step_curvature(0.1, local, np.array([0.5, 4.0])) == pytest.approx(floor + 8.0, rel=1e-15)


@pytest.mark.parametrize("task_id, singular", [("tanh/h1", True), ("regular/d10", False)])
def test_method_records_the_measured_and_the_floored_curvature(catalog, task_id, singular):
    """At the truth of a tanh network (a = b = 0) the Hessian of L_n has no data term, only a
    minibatch's noise: the measured κ is far below β n and the rule uses β n. On the regular linear
    model in 10 dimensions (standard normal inputs, unit noise) the measured κ is β n times the
    largest eigenvalue of one 500-point minibatch's sample covariance, which sits near the
    Marchenko–Pastur edge (1 + √(10/500))² ≈ 1.30 and below 1 with negligible probability: above
    β n, and the rule uses it unchanged."""
    task = catalog.get(task_id)
    n = 10_000
    data = task.dataset(n, 0)
    beta = 1 / math.log(n)
    hyper = {"chains": 2, "warmup": 10, "steps": 100, "thin": 10}
    draws = make_method("sghmc", hyper).sample(TemperedTarget(task, data, beta), Budget(1e9), 3)
    d = draws.diagnostics
    assert d["curvature"] == max(d["curvature_measured"], beta * n)
    assert (d["curvature_measured"] < 0.1 * beta * n) if singular else (d["curvature_measured"] > beta * n)


@pytest.mark.parametrize("method", ["sghmc", "rmsprop-sgld"])
def test_step_rule_samples_a_singular_start_at_its_tempered_posterior(catalog, method):
    """tanh/h1 (f = a·tanh(bx), truth a = b = 0: the start where the measured curvature is noise),
    n = 10⁴, β = 1/log n, the method's standard preset with the rule's step: E_β[n L_n] within 3 SE
    of quadrature (the exact finite-n value, exact to ~1e-6 relative). SE: the ESS-based Monte Carlo
    error of the chains' mean. Without the floor `sghmc` overflowed here and `rmsprop-sgld` ran hot
    (docs/scale.md, 'Where the curvature rule fails')."""
    from slt_bench.estimators.base import mean_and_se
    from slt_bench.runner.presets import load_preset
    from slt_bench.tasks.quadrature import exact_moments

    task = catalog.get("tanh/h1")
    n = 10_000
    data = task.dataset(n, 0)
    beta = 1 / math.log(n)
    preset = load_preset(method, "standard")
    draws = make_method(method, preset.hyper).sample(TemperedTarget(task, data, beta), Budget(preset.budget), 0)
    assert draws.status == "ok", draws.reason
    mean, se = mean_and_se(draws.n_loss)
    exact = exact_moments(task, data, beta).mean
    assert abs(mean - exact) < 3 * se, (mean, se, exact)
