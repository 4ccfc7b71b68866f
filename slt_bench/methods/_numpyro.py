"""Shared harness for numpyro kernels (NUTS, MALA): chains, warm-up, budget, diagnostics.

The kernels come from numpyro's functional interface (:func:`numpyro.infer.hmc.hmc`) with a
potential *generator*: the potential is ``−jax_logdensity(static, z, args)`` where ``args``
carries β, γ, the centre and the data as arrays. Warm-up and sampling are each one
``jax.jit``-compiled ``lax.scan``, cached per (task shape, kernel options), so the compile cost
is paid once per task shape rather than once per tempered posterior (numpyro's ``MCMC`` with a
``potential_fn`` closure re-traces for every new closure, about 10 s a posterior here).
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

import numpy as np

from slt_bench.draws import Draws, finish_status
from slt_bench.errors import BudgetExceeded
from slt_bench.target import Budget, JaxStatic, TemperedTarget, jax_logdensity, jax_n_loss


@lru_cache(maxsize=64)
def _compiled(static: JaxStatic, algo: str, options: tuple[tuple[str, Any], ...], warmup: int, length: int, thin: int,
              collapse: bool = False, spectral: bool = False):
    """(warm, draw): jitted warm-up and sampling scans for one task shape and kernel setting. With
    ``collapse`` the kernel runs on every layer but the last, whose Gaussian conditional is integrated out
    (:mod:`slt_bench.methods._collapse`), and ``draw(state, args, key)`` completes each kept draw with an
    exact last layer; otherwise ``draw(state, args)``. With ``spectral`` as well, the kernel runs on Φ, the
    first layer in spectral coordinates, and each kept draw is mapped back to W_1 before it is completed."""
    import jax
    import jax.numpy as jnp
    from numpyro.infer.hmc import hmc

    from slt_bench.methods import _collapse

    def potential_gen(args):
        if spectral:
            return lambda phi: -_collapse.spectral_logdensity(static, phi, args)
        if collapse:
            return lambda theta: -_collapse.logdensity(static, theta, args)
        return lambda z: -jax_logdensity(static, z, args)

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_gen, algo=algo)
    opts = dict(options)

    @jax.jit
    def warm(key, z0, args):
        state = init_kernel(z0, warmup, model_args=(args,), rng_key=key, **opts)

        def body(s, _):
            s = sample_kernel(s, model_args=(args,))
            return s, s.num_steps

        state, steps = jax.lax.scan(body, state, None, length=warmup)
        return state, steps.sum()

    @jax.jit
    def draw(state, args, key=None):
        def step(carry, _):
            s, steps, div, acc = carry
            s = sample_kernel(s, model_args=(args,))
            return (s, steps + s.num_steps, div + s.diverging, acc + s.accept_prob), None

        def keep(carry, _):  # thin transitions, of which only the last position is kept: memory ∝ kept draws × d
            carry, _ = jax.lax.scan(step, carry, None, length=thin)
            return carry, carry[0].z

        zero = jnp.zeros((), jnp.int64)
        carry = (state, zero, zero, jnp.zeros((), jnp.float64))
        (state, steps, div, acc), z = jax.lax.scan(keep, carry, None, length=length)
        if spectral:
            z = jax.vmap(lambda phi: _collapse.spectral_forward(static, phi, args))(z)
        if collapse:
            z = jax.vmap(lambda theta, k: _collapse.complete(static, theta, args, k))(z, jax.random.split(key, length))
        return state, jax.vmap(lambda zi: jax_n_loss(static, zi, args))(z), z, steps, div, acc / (length * thin)

    return warm, draw


def run_kernel(
    target: TemperedTarget,
    budget: Budget,
    seed: int,
    algo: str,
    options: dict[str, Any],
    chains: int,
    warmup: int,
    samples: int,
    thin: int,
    chunks: int,
    max_divergence_rate: float,
    keep_params: bool,
    collapse: bool = False,
    spectral: bool = False,
) -> Draws:
    """Run ``chains`` sequential chains of numpyro's ``algo`` ("NUTS" or "HMC") on −log p_β.

    Sequential chains beat vmapped ones for NUTS on a CPU (the longest trajectory sets the pace
    of a vectorised step). Warm-up, then sampling in ``chunks`` pieces; every leapfrog step is
    one gradient evaluation, recorded after each piece has run (the last piece's overshoot
    included), so a run stops at the first piece past its budget and its cost counts all of it.
    The divergence rate is divergent transitions over transitions (draws × ``thin``). With ``collapse``
    the chains run on the marginal of every layer but the last of a linear network, and each kept draw
    gets an exact last layer from its conditional (keys from the chain's own key, so the same seed gives
    the same draws); a leapfrog step is then one gradient of that marginal, counted as one evaluation. With
    ``spectral`` (two-layer networks, with ``collapse``) the chains run on the first layer in spectral coordinates
    (:func:`slt_bench.methods._collapse.spectral_forward`), started from the image of the usual start.
    """
    import jax
    import jax.numpy as jnp

    start = time.perf_counter()
    static, args = target.jax_parts()
    per_chunk = max(1, -(-samples // chunks))
    warm, draw = _compiled(static, algo, tuple(sorted(options.items())), warmup, per_chunk, thin, bool(collapse),
                           bool(spectral))
    z0 = jnp.asarray(target.initial_point())
    if collapse:
        from slt_bench.methods import _collapse

        _collapse.check(target.task)
        z0 = z0[: _collapse.theta_dim(target.task.model)]
        if spectral:
            _collapse.spectral_check(target.task)
            z0 = jnp.asarray(_collapse.spectral_inverse(static, np.asarray(z0), args))
    keys = jax.random.split(jax.random.PRNGKey(int(seed)), chains)
    losses, params = [[] for _ in range(chains)], [[] for _ in range(chains)]
    divergent, steps_total, transitions, accept, step_sizes = 0, 0.0, 0, [], []
    status, reason = "ok", ""
    with target.metered(budget):
        try:
            for c in range(chains):
                state, steps = warm(keys[c], z0, args)
                target.spend(float(steps))
                step_sizes.append(float(state.adapt_state.step_size))
                drawn, piece = 0, 0
                while drawn < samples:
                    if collapse:
                        completion = jax.random.fold_in(jax.random.fold_in(keys[c], 1), piece)
                        state, nl, z, steps, div, acc = draw(state, args, completion)
                    else:
                        state, nl, z, steps, div, acc = draw(state, args)
                    piece += 1
                    steps_total += float(steps)
                    transitions += per_chunk * thin
                    divergent += int(div)
                    target.spend(float(steps))
                    losses[c].append(np.asarray(nl))
                    if keep_params:
                        params[c].append(target.constrain_numpy(np.asarray(z)))
                    accept.append(float(acc))
                    drawn += per_chunk
        except BudgetExceeded as err:
            status, reason = "budget_exceeded", str(err)
        grad_evals = target.grad_evals
    done = [np.concatenate(parts) for parts in losses if parts]
    width = min((len(x) for x in done), default=0)
    n_loss = np.stack([x[:width] for x in done]) if done and width else np.full((chains, 0), np.nan)
    diag: dict[str, Any] = {
        "divergences": divergent,
        "accept_prob": float(np.mean(accept)) if accept else float("nan"),
        "step_size": float(np.mean(step_sizes)) if step_sizes else float("nan"),
    }
    if transitions:
        diag["transitions"] = transitions
        diag["divergence_rate"] = divergent / transitions
        diag["mean_tree_steps"] = steps_total / transitions
    status, reason = finish_status(n_loss, status, reason, divergent, transitions, max_divergence_rate, diag)
    kept = None
    if keep_params and all(params):
        kept = np.stack([np.concatenate(p)[:width] for p in params])
    return Draws(n_loss, grad_evals, time.perf_counter() - start, status, reason, diag, kept)
