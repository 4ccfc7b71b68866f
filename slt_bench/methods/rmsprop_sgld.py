"""RMSProp-preconditioned SGLD (Li et al. 2016, pSGLD; devinterp's ``rmsprop_sgld``), minibatch, in JAX.

.. math::
    v_{t} = \\alpha v_{t-1} + (1 - \\alpha)\\, g_t^2, \\qquad G_t = 1 / (\\sqrt{v_t} + \\delta),\\qquad
    z_{t+1} = z_t + \\frac{\\varepsilon}{2} G_t \\odot \\widehat{\\nabla \\log p_\\beta}(z_t)
              + \\sqrt{\\varepsilon\\, G_t} \\odot \\xi_t

with g_t the minibatch gradient of the *mean per-point loss* (the loss only: the prior and the
localisation term do not enter the preconditioner, as in Hitchcock & Hoogland 2025), v₀ its
mean square over 10 minibatches at the start, and the Γ correction term of pSGLD dropped (as
everyone does; it is O(ε) and needs third derivatives). The preconditioner enlarges steps where the
loss is flat — the degenerate directions of a singular model — and shrinks them where it is steep.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from slt_bench.methods._sgmcmc import Rule, SGMCMCMethod, langevin_limit, start_loss_gradient_rms


@lru_cache(maxsize=None)
def rmsprop_rule(alpha: float, delta: float, noise_dtype: str = "float64") -> Rule:
    """The update, built once per setting (a compiled sampler is cached per rule); the injected noise
    is drawn in ``noise_dtype`` (the method's precision)."""
    import jax
    import jax.numpy as jnp

    def init(z):
        return jnp.full_like(z, -1.0)  # negative: not started (v₀ comes from the first gradient)

    def step(key, z, v, grad_rest, g, beta_n, eps):
        v = jnp.where(v < 0, g * g, alpha * v + (1 - alpha) * g * g)
        precond = 1.0 / (jnp.sqrt(v) + delta)
        noise = jax.random.normal(key, z.shape, noise_dtype)
        return z + 0.5 * eps * precond * (grad_rest - beta_n * g) + jnp.sqrt(eps * precond) * noise, v

    def metric(v):
        return 1.0 / (jnp.sqrt(v) + delta)  # the preconditioner of the last step (for the noise heat)

    return Rule(f"rmsprop(α={alpha}, δ={delta}, {noise_dtype} noise)", init, step, metric=metric,
                stiff_limit=langevin_limit)


@dataclass(frozen=True)
class RMSPropSGLD(SGMCMCMethod):
    step_fraction: float = 0.03  # the sweep in docs/scale.md
    alpha: float = 0.99
    delta: float = 0.1

    name: ClassVar[str] = "rmsprop-sgld"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.alpha < 1 or not self.delta > 0:
            raise ValueError(f"alpha must lie in (0, 1) and delta be positive; got {self.alpha}, {self.delta}")

    def rule(self) -> Rule:
        return rmsprop_rule(float(self.alpha), float(self.delta), self.precision)

    def metric(self, target: Any, seed: int) -> Any:
        return 1.0 / (start_loss_gradient_rms(target, self.batch_size, seed, precision=self.precision) + self.delta)
