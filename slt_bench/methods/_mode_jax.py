"""Modes of many tempered posteriors at once: full-batch Adam in JAX, vmapped over datasets.

Dataset draws of one task and one n have the same shapes, so their MAP fits run as one compiled
``lax.scan`` of Adam steps under ``vmap``: 10 fits of the seed paper's 148-parameter Section 5
network at n = 1000 take about 2 s here, against 5–8 s for each one with torch L-BFGS (which also
stalls at the ReLU kinks). The step size decays exponentially from ``lr`` to ``lr · lr_decay``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from slt_bench.methods._mode import ModeResult, start_point
from slt_bench.target import JaxStatic, TemperedTarget, jax_logdensity


@lru_cache(maxsize=32)
def _compiled(static: JaxStatic, steps: int, lr: float, lr_decay: float):
    import jax
    import jax.numpy as jnp
    from jax.example_libraries import optimizers

    init, update, get = optimizers.adam(lambda i: lr * lr_decay ** (i / steps))

    def one(z0, args):
        def neg_logp(z):
            return -jax_logdensity(static, z, args)

        grad = jax.grad(neg_logp)

        def body(state, i):
            return update(i, grad(get(state)), state), None

        state, _ = jax.lax.scan(body, init(z0), jnp.arange(steps))
        z = get(state)
        return z, -neg_logp(z), jnp.linalg.norm(grad(z))

    return jax.jit(jax.vmap(one))


def find_modes(targets: Sequence[TemperedTarget], steps: int, lr: float, lr_decay: float, init: str,
               seeds: Sequence[int]) -> list[ModeResult]:
    """One mode per target (same task shape and n); charges steps + 1 gradients to each target."""
    import jax
    import jax.numpy as jnp

    for target in targets:
        target.charge(float(steps + 1))  # raises BudgetExceeded before any work is done
    parts = [t.jax_parts() for t in targets]
    static = parts[0][0]
    if any(p[0] != static for p in parts):
        raise ValueError("find_modes needs targets of one task shape")
    shapes = {tuple(np.shape(v) for v in p[1].values()) for p in parts}
    if len(shapes) != 1:
        raise ValueError("find_modes needs datasets of one size (group the targets by n)")
    args = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *[p[1] for p in parts])
    z0 = jnp.asarray(np.stack([start_point(t, init, s) for t, s in zip(targets, seeds)]))
    z, logp, grad_norm = (np.asarray(v) for v in _compiled(static, int(steps), float(lr), float(lr_decay))(z0, args))
    return [ModeResult(z[i].astype(np.float64), float(logp[i]), float(grad_norm[i]), int(steps),
                       bool(np.isfinite(grad_norm[i]) and grad_norm[i] <= 1e-3 * max(1.0, t.n)))
            for i, t in enumerate(targets)]
