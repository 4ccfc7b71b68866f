"""The minibatch SG-MCMC engine shared by ``sgld``'s minibatch path, ``rmsprop-sgld``, ``adam-sgld``,
``sghmc`` and ``sgnht``: chains vmapped, every step one compiled ``lax.scan``, minibatches drawn
inside the loop (rows of a held dataset, or points of a streamed one generated from the task's seed).

Each algorithm is a pair of small pure functions, ``init(z) -> aux`` and
``step(key, z, aux, grad_rest, g, beta_n, eps) -> (z, aux)`` (:class:`Rule`): the minibatch estimate of
∇ log p_β(z) is ``grad_rest − beta_n · g``, with ``g`` the minibatch gradient of the mean per-point
loss L_n and ``grad_rest`` the gradient of the data-free part (prior, Jacobian, localisation).
Preconditioners are built from ``g`` only, not from the prior or the localisation term (as in
Hitchcock & Hoogland 2025 and devinterp), on the scale of the mean loss, so they do not depend on n
or β. The engine:

* steps ``warmup`` times (discarded), then ``steps`` times, keeping every ``thin``-th point;
* records n L_n at each kept point *full batch* (from sufficient statistics for linear models, so at
  a cost independent of n), so the estimators see exact losses, not minibatch estimates;
* charges the budget up front: chains × (warmup + steps) × b/n gradient evaluations for the
  minibatch steps, plus one full-batch evaluation per kept point and chain, plus (Langevin rules)
  the :data:`NOISE_BATCHES` minibatch gradients per chain behind the stored ``noise_heat``, plus
  (``end_curvature``, on by default) the 2 × 30 full-batch gradients per chain of the end check;
* stores the end check (:mod:`slt_bench.methods._stiffness`): the step against the largest curvature
  where each chain ended, against the rule's own limit (``end_eps_kappa``, ``end_stiffness``);
* stores ``noise_heat`` (Langevin rules: ``sgld``, ``rmsprop-sgld``): ε tr(P Σ_g)/8 at each chain's
  last point, the first-order excess of E[β n L_n] that the minibatch gradient noise causes
  (:func:`noise_heat`; zero with full-batch gradients).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from slt_bench.draws import Draws, chain_diagnostics, numerical_status
from slt_bench.errors import BudgetExceeded
from slt_bench.methods._stiffness import CURVATURE_ITERATIONS, CURVATURE_KEY, LANGEVIN_LIMIT, end_curvature
from slt_bench.target import (Budget, JaxStatic, TemperedTarget, check_precision, jax_batch_tempered_loss,
                               jax_minibatch, jax_n_loss, jax_rest_logdensity)


@dataclass(frozen=True)
class Rule:
    """One SG-MCMC algorithm: ``init(z) -> aux`` (``init(z, key)`` when ``keyed_init``) and
    ``step(key, z, aux, grad_rest, g, beta_n, eps) -> (z, aux)``, pure functions of one chain's arrays
    (the engine vmaps them); see the module docstring."""

    name: str
    init: Callable[..., Any]
    step: Callable[[Any, Any, Any, Any, Any, Any], tuple[Any, Any]]
    keyed_init: bool = False
    # the diagonal preconditioner P(aux) of a Langevin rule z += ε/2 P ∇̂ log p + √(εP) ξ (None: P = 1);
    # a rule of another form (momentum, a filtered drift) sets langevin=False and gets no noise heat
    metric: Callable[[Any], Any] | None = None
    langevin: bool = True
    # the end check (slt_bench.methods._stiffness): whether the position moves by ε·p (s = ε²κ, else ε κ in the
    # metric), and the limit s* per chain from (ε, the chains' aux at the end); None: no check
    momentum: bool = False
    stiff_limit: Callable[[float, Any], Any] | None = None


def _minibatch_grad(static: JaxStatic, z: Any, args: Any, key: Any, batch: int) -> Any:
    """∇ of the minibatch estimate of β n L_n at one chain's point, the minibatch drawn from ``key``:
    the step's gradient and the one the noise heat takes the variance of."""
    import jax

    x, y = jax_minibatch(static, args, key, batch)
    return jax.grad(lambda zi: jax_batch_tempered_loss(static, zi, args, x, y))(z)


@lru_cache(maxsize=32)
def _compiled(rule: Rule, static: JaxStatic, full_static: JaxStatic, chains: int, warmup: int, steps: int,
              thin: int, batch: int, keep_params: bool):
    import jax
    import jax.numpy as jnp

    def one_chain_grad(z, args, key):
        grad_loss = _minibatch_grad(static, z, args, key, batch)
        grad_rest = jax.grad(lambda zi: jax_rest_logdensity(static, zi, args))(z)
        return grad_rest, grad_loss / (args["beta"] * args["n"])

    def advance(carry, _):
        z, aux, key, eps, args = carry
        key, k_batch, k_step = jax.random.split(key, 3)
        batch_keys = jax.random.split(k_batch, chains)
        step_keys = jax.random.split(k_step, chains)
        grad_rest, g = jax.vmap(one_chain_grad, in_axes=(0, None, 0))(z, args, batch_keys)
        beta_n = args["beta"] * args["n"]
        z, aux = jax.vmap(rule.step, in_axes=(0, 0, 0, 0, 0, None, None))(step_keys, z, aux, grad_rest, g, beta_n, eps)
        return (z, aux, key, eps, args), None

    @jax.jit
    def run(key, z0, eps, args, full_args):
        if rule.keyed_init:
            key, k_init = jax.random.split(key)
            aux = jax.vmap(rule.init)(z0, jax.random.split(k_init, chains))
        else:
            aux = jax.vmap(rule.init)(z0)
        carry = (z0, aux, key, eps, args)
        carry, _ = jax.lax.scan(advance, carry, None, length=warmup)

        def keep(carry, _):
            carry, _ = jax.lax.scan(advance, carry, None, length=thin)
            z = carry[0]
            nl = jax.vmap(lambda zi: jax_n_loss(full_static, zi, full_args))(z)
            return carry, (nl, z if keep_params else None)

        carry, (nl, zs) = jax.lax.scan(keep, carry, None, length=steps // thin)
        return nl.T, (jnp.swapaxes(zs, 0, 1) if keep_params else None), carry[0], carry[1]

    return run


NOISE_BATCHES = 32  # minibatch gradients per chain behind the noise heat (its trace to about ±25% or better)


@lru_cache(maxsize=32)
def _noise_variance(rule: Rule, static: JaxStatic, chains: int, batch: int):
    """Compiled once per task shape: at each chain's point, the variance per coordinate (over
    :data:`NOISE_BATCHES` minibatches, ddof 1) of the minibatch estimate of ∇ β n L_n, weighted by the
    rule's preconditioner at that point."""
    import jax
    import jax.numpy as jnp

    def one_chain(z, aux, key, args):
        def gradient(k):
            return _minibatch_grad(static, z, args, k, batch).astype(jnp.float64)

        keys = jax.random.split(key, NOISE_BATCHES)
        shift = gradient(keys[0])  # sums of deviations from one of the gradients: no cancellation, and 0 if all agree

        def add(acc, k):
            d = gradient(k) - shift
            return (acc[0] + d, acc[1] + d * d), None

        zero = jnp.zeros(z.shape, jnp.float64)
        (total, squares), _ = jax.lax.scan(add, (zero, zero), keys[1:])
        var = (squares - total * total / NOISE_BATCHES) / (NOISE_BATCHES - 1)
        weight = 1.0 if rule.metric is None else rule.metric(aux)
        return (weight * var).sum()

    @jax.jit
    def trace(z, aux, key, args):
        return jax.vmap(one_chain, in_axes=(0, 0, 0, None))(z, aux, jax.random.split(key, chains), args)

    return trace


def noise_heat(rule: Rule, target: TemperedTarget, z: Any, aux: Any, eps: float, batch: int, seed: int,
               precision: str = "float64") -> np.ndarray:
    """The minibatch gradient noise's heat at each chain's point: ε tr(P Σ_g) / 8, with Σ_g the
    covariance of the minibatch estimate of ∇ β n L_n and P the rule's preconditioner.

    For a Langevin step z += ε/2 P ∇̂ log p + √(εP) ξ the gradient noise adds ε²/4 P Σ_g P to the
    injected εP per step; on a Gaussian target with Hessian H the stationary covariance then
    solves PHS + SHP = 2P + ε/2 PΣ_gP to first order in ε, and the trace of that equation gives an
    excess of E[β n L_n] of exactly ε tr(PΣ_g)/8, whatever H is: the amount by which the noise
    inflates the local estimator's λ̂ (docs/scale.md measures it against runs). Costs
    :data:`NOISE_BATCHES` minibatch gradients per chain (charged)."""
    import jax

    static, args = target.jax_batch_parts(precision)
    fn = _noise_variance(rule, static, int(z.shape[0]), int(batch))
    traces = fn(z, aux, jax.random.fold_in(jax.random.PRNGKey(int(seed)), 23), args)
    return float(eps) / 8.0 * np.asarray(traces, dtype=np.float64)


def batch_size_for(method: Any, target: TemperedTarget) -> int:
    """The minibatch size: the method's, capped at n (full batch then, drawn with replacement)."""
    return int(min(method.batch_size, target.n))


def sample_sgmcmc(method: Any, rule: Rule, target: TemperedTarget, budget: Budget, seed: int,
                  eps: float, diagnostics: dict[str, Any], z0: Any = None, at_end: Any = None,
                  at_end_cost: float = 0.0) -> Draws:
    """Run ``rule`` on ``target`` for ``method`` (chains, warmup, steps, thin, batch_size, keep_params)
    at step size ``eps`` from ``z0`` (chains × d; default: every chain at the target's start point);
    return :class:`Draws` with full-batch n L_n at the kept points. ``at_end``, if given, maps the
    chains' last points to extra diagnostics; its cost, ``at_end_cost`` full-batch gradients, is
    charged with the run's. With ``method.end_curvature`` (default on) and a rule that has a limit, the
    end check (:func:`end_check`) runs too, charged."""
    import jax
    import jax.numpy as jnp

    start = time.perf_counter()
    chains, batch = method.chains, batch_size_for(method, target)
    kept = method.steps // method.thin
    status, reason = "ok", ""
    n_loss = np.full((chains, 0), np.nan)
    params = None
    with target.metered(budget):
        try:
            heat = rule.langevin and bool(getattr(method, "noise_heat", True))
            noise_cost = chains * NOISE_BATCHES * batch / target.n if heat else 0.0
            check = bool(getattr(method, "end_curvature", True)) and rule.stiff_limit is not None
            check_cost = chains * 2 * CURVATURE_ITERATIONS if check else 0.0
            target.charge(chains * (method.warmup + kept * method.thin) * batch / target.n + chains * kept + noise_cost
                          + at_end_cost + check_cost)
            static, args = target.jax_batch_parts(getattr(method, "precision", "float64"))
            full_static, full_args = target.jax_parts()
            run = _compiled(rule, static, full_static, chains, method.warmup, kept * method.thin, method.thin, batch,
                            bool(method.keep_params))
            if z0 is None:
                z0 = jnp.broadcast_to(jnp.asarray(target.initial_point()), (chains, target.dim))
            nl, zs, z_end, aux_end = run(jax.random.fold_in(jax.random.PRNGKey(int(seed)), 17), jnp.asarray(z0),
                                         jnp.asarray(float(eps)), args, full_args)
            n_loss = np.asarray(nl)
            if heat:
                heats = noise_heat(rule, target, z_end, aux_end, eps, batch, seed, getattr(method, "precision", "float64"))
                if np.isfinite(heats).all():
                    diagnostics = {**diagnostics, "noise_heat": float(heats.mean()),
                                   "noise_heat_chains": [float(h) for h in heats]}
            if at_end is not None:
                diagnostics = {**diagnostics, **at_end(z_end)}
            if check:
                diagnostics = {**diagnostics, **end_check(rule, target, z_end, aux_end, eps, seed)}
            if method.keep_params and zs is not None:
                params = target.constrain_numpy(np.asarray(zs))
        except BudgetExceeded as err:
            status, reason = "budget_exceeded", str(err)
        grad_evals = target.grad_evals
    diag = dict(diagnostics)
    diag.update(step_size=float(eps), batch_size=batch)
    if status == "ok":
        status, reason = numerical_status(n_loss)
        if status == "nan" and np.isinf(n_loss).any() and not np.isnan(n_loss).any():
            status = "diverged"
    if status == "ok" and n_loss.shape[1] > 0:
        diag.update(chain_diagnostics(n_loss))
    return Draws(n_loss, grad_evals, time.perf_counter() - start, status, reason, diag, params)


def end_check(rule: Rule, target: TemperedTarget, z_end: Any, aux_end: Any, eps: float, seed: int) -> dict[str, Any]:
    """:func:`~slt_bench.methods._stiffness.end_curvature` for ``rule`` at the chains' last points: in the
    rule's metric there (its preconditioner), with its limit s* per chain from (ε, the chains' aux)."""
    import jax

    metric = None if rule.metric is None else np.asarray(jax.vmap(rule.metric)(aux_end))
    limits = np.asarray(rule.stiff_limit(float(eps), aux_end), dtype=float)
    key = jax.random.fold_in(jax.random.PRNGKey(int(seed)), CURVATURE_KEY)
    return end_curvature(target, z_end, float(eps), key, metric=metric, momentum=rule.momentum, limits=limits)


def langevin_limit(eps: float, aux: Any) -> float:
    """A Langevin rule's limit s* = ε κ = 2 (:mod:`slt_bench.methods._stiffness`), whatever its state."""
    return LANGEVIN_LIMIT


@lru_cache(maxsize=32)
def _curvature_fns(static: JaxStatic, batch: int):
    """Compiled once per task shape: a minibatch draw, and the Hessian-vector product of its β n L_n."""
    import jax

    @jax.jit
    def draw(args, key):
        return jax_minibatch(static, args, key, batch)

    @jax.jit
    def hvp(args, z0, x, y, root, v):
        grad = jax.grad(lambda z: jax_batch_tempered_loss(static, z, args, x, y))
        return root * jax.jvp(grad, (z0,), (root * v,))[1]

    @jax.jit
    def mean_loss_grad_sq(args, z0, key):
        x, y = jax_minibatch(static, args, key, batch)
        g = jax.grad(lambda z: jax_batch_tempered_loss(static, z, args, x, y))(z0) / (args["beta"] * args["n"])
        return g * g

    return draw, hvp, mean_loss_grad_sq


def measured_start_curvature(target: TemperedTarget, batch: int, seed: int, scale: Any = None,
                              iterations: int = 30, precision: str = "float64") -> float:
    """The largest eigenvalue of the Hessian of β n L_n at the start point, in the metric
    ``diag(scale)`` when given (a preconditioner: the eigenvalue of S^½ H S^½), by power iteration on
    Hessian-vector products of one minibatch estimate; ``nan`` where it is zero or not finite. Costs
    ``iterations`` Hessian-vector products (charged as 2 gradients each), in ``precision``."""
    import jax
    import jax.numpy as jnp

    static, args = target.jax_batch_parts(precision)
    b = min(batch, target.n)
    draw, hvp, _ = _curvature_fns(static, b)
    z0 = jnp.asarray(target.initial_point())
    key = jax.random.PRNGKey(int(seed) + 1)
    x, y = draw(args, key)
    root = jnp.ones_like(z0) if scale is None else jnp.sqrt(jnp.asarray(scale))
    v = jax.random.normal(jax.random.fold_in(key, 1), z0.shape)
    v = v / jnp.linalg.norm(v)
    kappa = 0.0
    for _ in range(iterations):
        w = hvp(args, z0, x, y, root, v)
        kappa = float(jnp.linalg.norm(w))
        if kappa == 0.0 or not math.isfinite(kappa):
            break
        v = w / kappa
    target.charge(2.0 * iterations * b / target.n)
    return kappa if kappa > 0 and math.isfinite(kappa) else math.nan


def step_curvature(measured: float, target: TemperedTarget, scale: Any = None) -> float:
    """κ the step rule divides by: the measured curvature of β n L_n at the start, floored at β n,
    plus γ, the localisation's curvature (in the metric ``diag(scale)`` when given).

    The floor: at a singular start (the truth of a tanh network, a normal crossing, a rank-0 matrix)
    the Hessian of L_n there is zero or pure noise — one minibatch's cross term — so the measured κ
    can come out orders of magnitude below the curvature the chains meet once they leave the start,
    and the step is that much too long (docs/scale.md, "Where the curvature rule fails"). β n is the
    curvature of β n L_n along a direction in which the per-point loss has unit curvature (the scale
    of the tasks here, whose inputs and noise have unit variance), and what the rule already used at
    a flat start (a zero Hessian). Where the measured κ is at least β n the floor changes nothing: the
    step is the one the rule gave before it had a floor, to the last bit."""
    import jax.numpy as jnp

    floor = target.beta * target.n
    kappa = measured if math.isfinite(measured) and measured > floor else floor
    root = None if scale is None else jnp.sqrt(jnp.asarray(scale))
    return kappa + target.gamma * (1.0 if root is None else float(jnp.max(root) ** 2))


def start_curvature(target: TemperedTarget, batch: int, seed: int, scale: Any = None, iterations: int = 30,
                    precision: str = "float64") -> float:
    """κ of the step rule ε = fraction/κ: :func:`measured_start_curvature` through :func:`step_curvature`."""
    return step_curvature(measured_start_curvature(target, batch, seed, scale, iterations, precision), target, scale)


def start_loss_gradient_rms(target: TemperedTarget, batch: int, seed: int, batches: int = 10,
                            precision: str = "float64") -> Any:
    """√(mean g²) per coordinate of the mean per-point loss gradient g = ∇(n L_n)/n over ``batches``
    minibatches at the start point: what an RMSProp preconditioner sees before it has run."""
    import jax
    import jax.numpy as jnp

    static, args = target.jax_batch_parts(precision)
    b = min(batch, target.n)
    _, _, mean_loss_grad_sq = _curvature_fns(static, b)
    z0 = jnp.asarray(target.initial_point())
    keys = jax.random.split(jax.random.PRNGKey(int(seed) + 2), batches)
    total = sum(mean_loss_grad_sq(args, z0, k) for k in keys)
    target.charge(batches * b / target.n)
    return jnp.sqrt(total / batches)


def check_run_settings(method: Any, step: str) -> None:
    """The settings a minibatch chain method shares (chains, warmup, steps, thin, batch_size,
    step_fraction, and its step size, named ``step``): a ValueError naming what is valid."""
    from slt_bench.methods._validate import non_negative_int, positive_ints

    positive_ints(method, "chains", "steps", "thin", "batch_size")
    non_negative_int(method, "warmup")
    if method.steps % method.thin:
        raise ValueError(f"steps ({method.steps}) must be a multiple of thin ({method.thin})")
    value = getattr(method, step)
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{step} must be a positive number or unset, got {value!r}")
    if not 0 < method.step_fraction < 1:
        raise ValueError(f"step_fraction must lie in (0, 1), got {method.step_fraction!r}")


@dataclass(frozen=True)
class SGMCMCMethod:
    """Hyperparameters every SG-MCMC method of this family shares, and its ``sample``.

    Step size (no per-task tuning): unless ``step_size`` is given, ε = ``step_fraction`` / κ, with κ
    the largest curvature of the tempered potential at the start point, measured in the method's
    own metric (:meth:`metric`, the preconditioner for the adaptive methods) and floored at β n
    (:func:`step_curvature`; both are stored, as ``curvature`` and ``curvature_measured``). Momentum methods take √ of that (their position moves by ε·p per step, p ~ N(0, 1)).
    """

    chains: int = 4
    warmup: int = 1000
    steps: int = 4000
    thin: int = 10
    batch_size: int = 500
    step_size: float | None = None
    step_fraction: float = 0.01
    keep_params: bool = False
    precision: str = "float64"  # of minibatch likelihood gradients: "float32" halves their cost at scale
    noise_heat: bool = True  # measure and store the gradient noise's heat at the end (Langevin rules)
    end_curvature: bool = True  # measure and store the step against the curvature where the chains end (60 gradients a chain)

    def __post_init__(self) -> None:
        check_run_settings(self, "step_size")
        check_precision(self.precision)

    momentum = False  # position moves by ε·p: the step is √(fraction/κ)

    def rule(self) -> Rule:
        raise NotImplementedError

    def metric(self, target: TemperedTarget, seed: int) -> Any:
        """The preconditioner at the start (a vector), or None: the metric the step rule measures κ in."""
        return None

    def sample(self, target: TemperedTarget, budget: Budget, seed: int) -> Draws:
        diag: dict[str, Any] = {}
        eps = self.step_size
        if eps is None:
            with target.metered(budget):
                try:
                    scale = self.metric(target, seed)
                    measured = measured_start_curvature(target, self.batch_size, seed, scale,
                                                        precision=self.precision)
                    kappa = step_curvature(measured, target, scale)
                except BudgetExceeded as err:
                    return Draws.without_draws("budget_exceeded", str(err), target.grad_evals, 0.0)
                rule_cost = target.grad_evals
            eps = self.step_fraction / kappa
            eps = math.sqrt(eps) if self.momentum else eps
            diag.update(curvature=kappa, curvature_measured=measured if math.isfinite(measured) else None,
                        step_rule=f"{'√' if self.momentum else ''}(fraction {self.step_fraction} / κ), κ ≥ β n")
        else:
            rule_cost = 0.0
        out = sample_sgmcmc(self, self.rule(), target, budget, seed, eps, diag)
        return Draws(out.n_loss, out.grad_evals + rule_cost, out.wall_s, out.status, out.reason, out.diagnostics,
                     out.params)
