"""The compiled full-batch loops of :class:`slt_bench.methods.sgld.SGLD`.

MALA warm-up with dual-averaged ε
toward ``target_accept`` (mean acceptance over chains), then unadjusted Langevin steps (the
Leimkuhler–Matthews or Euler scheme, tamed drift optional) with all chains vmapped. Warm-up and
sampling are each one ``lax.scan`` compiled once per task shape and setting (the potential
takes β, γ, the centre and the data as arguments, see :meth:`TemperedTarget.jax_parts`), so a
step costs microseconds. Random numbers come from ``jax.random``: the same seed gives the same
numbers.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from slt_bench.methods._stiffness import CURVATURE_ITERATIONS, CURVATURE_KEY, end_curvature  # noqa: F401 (re-exported)
from slt_bench.target import JaxStatic, TemperedTarget, jax_logdensity, jax_n_loss

# dual averaging constants of Hoffman & Gelman (2014), Alg. 6, as in the torch backend
_T0, _GAMMA, _KAPPA = 10.0, 0.05, 0.75


@lru_cache(maxsize=64)
def _compiled(static: JaxStatic, chains: int, warmup: int, steps: int, thin: int, target_accept: float,
              scheme: str, tamed: bool, fixed_step: bool, keep_params: bool):
    import jax
    import jax.numpy as jnp

    def value_grad(z, args):
        def f(zi):
            return jax_logdensity(static, zi, args), jax_n_loss(static, zi, args)

        (logp, nl), grad = jax.vmap(jax.value_and_grad(f, has_aux=True))(z)
        return logp, grad, nl

    def drift(grad, eps):
        return _drift(grad, eps, tamed)

    @jax.jit
    def warm(key, z, eps0, args):
        logp, grad, _ = value_grad(z, args)
        if fixed_step:
            def body_fixed(carry, _):
                z, grad, key = carry
                key, k_noise = jax.random.split(key)
                z = z + 0.5 * eps0 * drift(grad, eps0) + jnp.sqrt(eps0) * jax.random.normal(k_noise, z.shape)
                _, grad, _ = value_grad(z, args)
                return (z, grad, key), 0.0

            (z, _, _), _ = jax.lax.scan(body_fixed, (z, grad, key), None, length=warmup)
            return z, eps0, jnp.nan

        mu = jnp.log(10.0 * eps0)

        def body(carry, t):
            z, logp, grad, key, log_eps, log_eps_bar, h_bar = carry
            eps = jnp.exp(log_eps)
            key, k_noise, k_acc = jax.random.split(key, 3)
            d = drift(grad, eps)
            prop = z + 0.5 * eps * d + jnp.sqrt(eps) * jax.random.normal(k_noise, z.shape)
            logp_p, grad_p, _ = value_grad(prop, args)
            alpha = _acceptance(z, logp, d, prop, logp_p, drift(grad_p, eps), eps)
            take = jax.random.uniform(k_acc, (z.shape[0],)) < alpha
            z = jnp.where(take[:, None], prop, z)
            logp = jnp.where(take, logp_p, logp)
            grad = jnp.where(take[:, None], grad_p, grad)
            mean_alpha = alpha.mean()
            h_bar = (1 - 1 / (t + _T0)) * h_bar + (target_accept - mean_alpha) / (t + _T0)
            log_eps = mu - jnp.sqrt(t) / _GAMMA * h_bar
            eta = t ** (-_KAPPA)
            log_eps_bar = eta * log_eps + (1 - eta) * log_eps_bar
            return (z, logp, grad, key, log_eps, log_eps_bar, h_bar), mean_alpha

        init = (z, logp, grad, key, jnp.log(eps0), 0.0, 0.0)
        ts = jnp.arange(1, warmup + 1, dtype=jnp.float64)
        (z, _, _, _, _, log_eps_bar, _), accepts = jax.lax.scan(body, init, ts)
        return z, jnp.exp(log_eps_bar), accepts[warmup // 2 :].mean()

    @jax.jit
    def run(key, z, eps, args):
        _, grad, _ = value_grad(z, args)
        key, k0 = jax.random.split(key)
        noise_prev = jax.random.normal(k0, z.shape)
        root = jnp.sqrt(eps)

        def body(carry, _):
            z, grad, noise_prev, key = carry
            key, k_noise = jax.random.split(key)
            noise = jax.random.normal(k_noise, z.shape)
            if scheme == "lm":
                z = z + 0.5 * eps * drift(grad, eps) + 0.5 * root * (noise_prev + noise)
            else:
                z = z + 0.5 * eps * drift(grad, eps) + root * noise
            _, grad, nl = value_grad(z, args)
            return (z, grad, noise, key), nl

        def draw(carry, _):  # thin steps, of which the last is kept: only kept points are ever stored
            carry, nl = jax.lax.scan(body, carry, None, length=thin)
            return carry, (nl[-1], carry[0] if keep_params else None)

        carry, (nl, zs) = jax.lax.scan(draw, (z, grad, noise_prev, key), None, length=steps // thin)
        carry, _ = jax.lax.scan(body, carry, None, length=steps % thin)  # steps past the last kept point
        kept = jnp.swapaxes(zs, 0, 1) if keep_params else None
        return nl.T, kept, carry[0]

    return warm, run


def _warm(method: Any, target: TemperedTarget, seed: int):
    import jax
    import jax.numpy as jnp

    static, args = target.jax_parts()
    fixed = method.step_size is not None
    warm, run = _compiled(static, method.chains, method.warmup, method.steps, method.thin,
                          float(method.target_accept), method.scheme, bool(method.tamed), fixed,
                          bool(method.keep_params))
    eps0 = method.step_size if fixed else 1.0 / (target.beta * target.n)
    z0 = jnp.broadcast_to(jnp.asarray(target.initial_point()), (method.chains, target.dim))
    k_warm, k_run = jax.random.split(jax.random.PRNGKey(int(seed)))
    z, eps, accept = warm(k_warm, z0, jnp.asarray(eps0), args)
    diag = {"step_size": float(eps), "warmup_accept": float(accept)}
    if not math.isfinite(diag["warmup_accept"]):
        diag.pop("warmup_accept")
    return z, eps, diag, run, k_run, args


def warm_jax(method: Any, target: TemperedTarget, seed: int) -> tuple[Any, float, dict[str, float]]:
    """The full-batch MALA warm-up alone: (positions after it, tuned ε, diagnostics); the caller has
    charged the budget."""
    z, eps, diag, _, _, _ = _warm(method, target, seed)
    return z, float(eps), diag


def sample_jax(method: Any, target: TemperedTarget, seed: int) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """Warm up and run the chains at full batch; the caller has charged the budget (with
    ``method.end_accept``, :data:`END_PROPOSALS` + 1 gradients per chain for :func:`end_acceptance`).
    With ``method.end_curvature``, 2 × :data:`CURVATURE_ITERATIONS` more per chain for :func:`end_curvature`.
    Returns (n L_n (chains, draws), z draws (chains, draws, d) or None, diagnostics)."""
    import jax

    z, eps, diag, run, k_run, args = _warm(method, target, seed)
    nl, zs, z_end = run(k_run, z, eps, args)
    if getattr(method, "end_accept", False):
        diag.update(end_acceptance(target, z_end, float(eps), bool(method.tamed), jax.random.fold_in(k_run, END_KEY)))
    if getattr(method, "end_curvature", False):
        diag.update(end_curvature(target, z_end, float(eps), jax.random.fold_in(k_run, CURVATURE_KEY)))
    return np.asarray(nl), (np.asarray(zs) if method.keep_params else None), diag


def _drift(grad: Any, eps: Any, tamed: bool) -> Any:
    """The Langevin drift: ∇ log p, or tamed, ∇ log p / (1 + ε ||∇ log p||) per chain."""
    import jax.numpy as jnp

    if not tamed:
        return grad
    return grad / (1.0 + eps * jnp.linalg.norm(grad, axis=-1, keepdims=True))


def _acceptance(z: Any, logp: Any, d: Any, prop: Any, logp_p: Any, d_p: Any, eps: Any) -> Any:
    """The Metropolis–Hastings acceptance probability of the Euler proposal prop ~ N(z + ε/2 d, ε I)
    (d, d_p: the drift at z and at prop), per chain; a non-finite ratio counts as a rejection."""
    import jax.numpy as jnp

    log_q_fwd = -((prop - z - 0.5 * eps * d) ** 2).sum(-1) / (2 * eps)
    log_q_rev = -((z - prop - 0.5 * eps * d_p) ** 2).sum(-1) / (2 * eps)
    log_alpha = jnp.nan_to_num(logp_p - logp + log_q_rev - log_q_fwd, nan=-jnp.inf)
    return jnp.exp(jnp.minimum(log_alpha, 0.0))


# proposals per chain behind ``end_accept`` (each one full-batch gradient, plus one at the end point),
# and the fold-in constant of their key (the draws' own stream is untouched)
END_PROPOSALS = 16
END_KEY = 0x656E64


@lru_cache(maxsize=64)
def _end_acceptance_fn(static: JaxStatic, tamed: bool, proposals: int):
    import jax
    import jax.numpy as jnp

    def value_grad(z, args):
        return jax.vmap(jax.value_and_grad(lambda zi: jax_logdensity(static, zi, args)))(z)

    @jax.jit
    def fn(z, eps, key, args):
        logp, grad = value_grad(z, args)
        d = _drift(grad, eps, tamed)

        def one(total, k):
            prop = z + 0.5 * eps * d + jnp.sqrt(eps) * jax.random.normal(k, z.shape)
            logp_p, grad_p = value_grad(prop, args)
            return total + _acceptance(z, logp, d, prop, logp_p, _drift(grad_p, eps, tamed), eps), None

        total, _ = jax.lax.scan(one, jnp.zeros(z.shape[0]), jax.random.split(key, proposals))
        return total / proposals

    return fn


def end_acceptance(target: TemperedTarget, z: Any, eps: float, tamed: bool, key: Any,
                   proposals: int = END_PROPOSALS) -> dict[str, Any]:
    """The step-size rule's own criterion re-evaluated where the chains end: the mean Metropolis–Hastings
    acceptance probability of the full-batch MALA proposal at the run's ε (tamed or not, as the run) from
    each chain's last point z (chains × d), over ``proposals`` proposals per chain. The rule tunes ε to
    ``target_accept`` at the start; chains that moved into stiffer regions meet a lower acceptance, the
    sign that the unadjusted steps are coarser there than the rule intended. Returns ``end_accept``
    (mean over chains) and ``end_accept_chains``; nothing when a value is not finite."""
    import jax.numpy as jnp

    static, args = target.jax_parts()
    per_chain = np.asarray(_end_acceptance_fn(static, bool(tamed), int(proposals))(
        jnp.asarray(z), jnp.asarray(float(eps)), key, args))
    if not np.isfinite(per_chain).all():
        return {}
    return {"end_accept": float(per_chain.mean()), "end_accept_chains": [float(a) for a in per_chain]}


