"""Where the chains end: each SG-MCMC rule's step against the largest curvature there, and the rule's limit.

The step rules tune the step where the chains start. Chains that drift along a singular set into stiffer
places meet a larger curvature κ, and an unadjusted step that was small at the start can stop being a
discretisation of its diffusion there. After the run, every chain's last point gets

* κ̂, the largest eigenvalue of the Hessian of −log p_β (prior and localisation included) in the rule's
  metric (P^½ H P^½ with P the preconditioner at that chain's end, for the RMSProp and Adam rules);
* the dimensionless step along that direction, ``s = ε κ̂`` for a Langevin rule (its position moves by
  ε/2 P ∇log p + √(εP) ξ) and ``s = ε² κ̂`` for a momentum rule (its position moves by ε p, p ~ N(0, 1));
* the rule's **limit** s*, the value of s at which the rule's own recursion, run on a Gaussian direction of
  curvature κ, has a stationary variance twice the target's (1/κ) — computed from the rule's parameters
  (and, for SGNHT, from the chain's thermostat at the end).

Stored: ``end_eps_kappa`` (median over chains of s), ``end_eps_kappa_chains``, ``end_stiff_limit`` (median
of s*) and ``end_stiffness`` (median over chains of s / s*). Reports show an ``ok`` cell as ``stiff`` when
``end_stiffness`` ≥ 1 in one of its posteriors (:mod:`slt_bench.scoring`).

The limits (derivations beside each function; tests simulate each rule's own step at s* and check the
doubled variance):

* Langevin rules (``sgld`` Euler and LM, ``rmsprop-sgld``): s* = 2. The step's deterministic part maps a
  coordinate x of the stiffest direction to (1 − s/2) x: past 2 it overshoots and flips its sign every step,
  and Euler's stationary variance 1/(κ(1 − s/4)) is twice the target's there (LM's is exact on a Gaussian
  but overshoots the same way; both are unstable at 4).
* ``adam-sgld`` (drift from an exponential average of the loss gradients, weight β₁): the averaged drift
  lags the position, and the variance doubles much earlier: s* = 0.21 at β₁ = 0.9 (:func:`ema_drift_limit`).
* ``sghmc`` and ``sgnht`` (BlackJAX's solvers: the position moves with the old momentum, the momentum
  takes the gradient at the old position and loses a share f per step): s* = √(2(2 − f)) − (2 − f)
  (:func:`momentum_limit`), 0.049 at f = 0.1. Without friction this explicit scheme is unstable at any step.

κ̂ is the Rayleigh quotient of the power method's last iterate (Hessian–vector products by central differences
of the full-batch gradient, 2 gradients each, at a displacement 10⁻³ × the step's own length; the error O(h²)
is far below the power method's). A Rayleigh quotient never exceeds the largest eigenvalue, so s is a lower
bound: a flag on it is never caused by the estimate. From a random start the power method's chance of ending
below half the largest eigenvalue of a positive semi-definite matrix of size d after k products falls roughly
as √d 2^(−k) (Kuczyński & Woźniakowski 1992, SIAM J. Matrix Anal. Appl. 13, 1094): at k = 30, about 10⁻⁶ for
d = 10⁶. Where the Hessian is indefinite the bound on the start does not hold, the upper bound does.

Why medians over chains: one chain's last point is one draw, and along a singular set the curvature at a draw
is heavy-tailed (on mixture/free-weight single ``sgld`` chains end at 5.7–9 while the rest of the 8 are below
2, in a cell that agrees with the exact finite-n value), whereas chains that have all drifted into stiff places
(the long deep-linear runs: every chain at 3.4–4.1) move the median. The median is past a limit when half the
chains are.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from slt_bench.target import JaxStatic, TemperedTarget, jax_logdensity

CURVATURE_ITERATIONS = 30  # Hessian–vector products per chain: 2 × 30 full-batch gradients, charged
CURVATURE_KEY = 0x6B6170
LANGEVIN_LIMIT = 2.0


@lru_cache(maxsize=64)
def _top_curvature_fn(static: JaxStatic, iterations: int):
    import jax
    import jax.numpy as jnp

    def grad_u(z, args):  # ∇ of −log p per chain
        return jax.vmap(jax.grad(lambda zi: -jax_logdensity(static, zi, args)))(z)

    def unit(v):
        return v / jnp.linalg.norm(v, axis=-1, keepdims=True)

    @jax.jit
    def fn(z, h, root, key, args):
        def hv(v):  # P^½ H P^½ v, P = diag(root²) per chain
            return root * (grad_u(z + h * root * v, args) - grad_u(z - h * root * v, args)) / (2 * h)

        def body(v, _):
            return unit(hv(v)), None

        v, _ = jax.lax.scan(body, unit(jax.random.normal(key, z.shape, z.dtype)), None, length=iterations - 1)
        return (v * hv(v)).sum(-1)

    return fn


def top_curvature(target: TemperedTarget, z: Any, key: Any, h: float, iterations: int = CURVATURE_ITERATIONS,
                  metric: Any = None) -> np.ndarray:
    """κ̂_max per chain: the Rayleigh quotient of the power method's last iterate on the Hessian of −log p_β
    (the target's potential, prior and localisation included) at each row of z (chains × d), in the metric
    ``diag(metric[c])`` when given (chains × d: the eigenvalue of P^½ H P^½), after ``iterations``
    Hessian–vector products by central differences of step ``h`` (2 gradients each). A lower bound of the
    largest eigenvalue (see the module docstring)."""
    import jax.numpy as jnp

    static, args = target.jax_parts()
    z = jnp.asarray(z)
    root = jnp.ones_like(z) if metric is None else jnp.sqrt(jnp.asarray(metric, z.dtype))
    return np.asarray(_top_curvature_fn(static, int(iterations))(z, jnp.asarray(float(h), z.dtype), root, key, args))


def momentum_limit(friction: Any) -> Any:
    """s* = ε²κ at which BlackJAX's SGHMC/SGNHT step, z' = z + ε p, p' = (1 − f) p − ε κ z + √q ξ (the
    gradient at the old position), has the stationary variance of z twice its temperature's target
    q/(2 f κ); ``friction`` is f (array or number), the share of momentum lost per step.

    With a = ε√κ and c = 1 − f, the stationary covariance [[x, y], [y, w]] of (√κ z, p) solves
    y = −a w/2, x = w(1 + c + a²)/2 and w[(1 − c² − a²c) − a²(1 + c + a²)/2] = q, so the ratio
    R = x·2f/q = f(2 − f + a²) / [f(2 − f) − a²(4 − 3f)/2 − a⁴/2]; R = 2 at a⁴ + (4 − 2f)a² − f(2 − f) = 0,
    whose positive root is a² = √(2(2 − f)) − (2 − f). A friction ≤ 0 (an SGNHT thermostat below zero) is
    taken as 10⁻⁹: that scheme is unstable at any step."""
    f = np.maximum(np.asarray(friction, dtype=float), 1e-9)
    return np.sqrt(2.0 * (2.0 - f)) - (2.0 - f)


def ema_variance_ratio(s: float, beta1: float) -> float:
    """Stationary variance (× κ) of the Langevin step whose drift is an exponential average (weight β₁) of
    the gradients: on a Gaussian direction, in units of its width, w' = w − (s/2) m + √s ξ with
    m = β₁ m_prev + (1 − β₁) w (Adam's loss drift, its bias correction 1 at late steps). ∞ where unstable.
    The discrete Lyapunov equation Σ = A Σ Aᵀ + Q of the state (w, m_prev), solved as a 4 × 4 system."""
    b = float(beta1)
    a = np.array([[1.0 - 0.5 * s * (1.0 - b), -0.5 * s * b], [1.0 - b, b]])
    if np.max(np.abs(np.linalg.eigvals(a))) >= 1.0:
        return math.inf
    q = np.array([[s, 0.0], [0.0, 0.0]])
    sigma = np.linalg.solve(np.eye(4) - np.kron(a, a), q.reshape(-1)).reshape(2, 2)
    return float(sigma[0, 0])


@lru_cache(maxsize=None)
def ema_drift_limit(beta1: float) -> float:
    """s* = ε κ at which :func:`ema_variance_ratio` is 2 (bisection; the ratio rises from 1 at s → 0 to ∞ at
    the recursion's stability bound 4(1 + β₁)/(1 − β₁)). 2 at β₁ = 0 (plain Euler); 0.21 at β₁ = 0.9."""
    lo, hi = 0.0, 4.0 * (1.0 + beta1) / (1.0 - beta1)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if ema_variance_ratio(mid, beta1) < 2.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def end_curvature(target: TemperedTarget, z: Any, eps: float, key: Any, iterations: int = CURVATURE_ITERATIONS,
                  *, metric: Any = None, momentum: bool = False, limits: Any = None) -> dict[str, Any]:
    """The end check at the chains' last points z (chains × d): ``end_eps_kappa`` (median over chains of s,
    s = ε κ̂ for a Langevin rule, ε² κ̂ for a ``momentum`` rule; κ̂ in ``metric`` when given, chains × d),
    ``end_eps_kappa_chains``, ``end_stiff_limit`` (median of ``limits``, each chain's s*; default
    :data:`LANGEVIN_LIMIT`) and ``end_stiffness`` (median over chains of s / s*). Nothing when a value is
    not finite. Costs 2 × ``iterations`` full-batch gradients a chain."""
    length = eps if momentum else math.sqrt(eps)  # how far one step moves the position
    kappa = top_curvature(target, z, key, 1e-3 * length, iterations, metric)
    values = (eps * eps if momentum else eps) * kappa
    limits = np.broadcast_to(np.asarray(LANGEVIN_LIMIT if limits is None else limits, dtype=float), values.shape)
    if not (np.isfinite(values).all() and np.isfinite(limits).all() and (limits > 0).all()):
        return {}
    return {"end_eps_kappa": float(np.median(values)), "end_eps_kappa_chains": [float(v) for v in values],
            "end_stiff_limit": float(np.median(limits)), "end_stiffness": float(np.median(values / limits))}
