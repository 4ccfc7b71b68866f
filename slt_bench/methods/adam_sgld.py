"""Adam-preconditioned SGLD, minibatch, in JAX: RMSProp-SGLD's preconditioner with Adam's bias
correction, and Adam's momentum on the loss part of the drift.

.. math::
    m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\quad v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2,\\quad
    G_t = 1/(\\sqrt{v_t/(1-\\beta_2^t)} + \\delta),

    z_{t+1} = z_t + \\frac{\\varepsilon}{2} G_t \\odot \\big(-\\beta n\\, m_t/(1-\\beta_1^t)
              + \\nabla \\log\\varphi(z_t) - \\gamma (z_t - w^*)\\big) + \\sqrt{\\varepsilon G_t} \\odot \\xi_t

with g_t the minibatch gradient of the mean per-point loss (the loss only, as for the preconditioner
of ``rmsprop-sgld``). With β₁ = 0 it is RMSProp-SGLD with bias correction. The momentum on the loss
drift is what "Adam" adds; it is not a Langevin diffusion in the limit of small ε (the drift lags
the position), which is one of the things this benchmark measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from slt_bench.methods._sgmcmc import Rule, SGMCMCMethod, start_loss_gradient_rms
from slt_bench.methods._stiffness import ema_drift_limit


@lru_cache(maxsize=None)
def adam_rule(beta1: float, beta2: float, delta: float, noise_dtype: str = "float64") -> Rule:
    import jax
    import jax.numpy as jnp

    def init(z):
        return (jnp.zeros_like(z), jnp.zeros_like(z), jnp.zeros(()))

    def step(key, z, aux, grad_rest, g, beta_n, eps):
        m, v, t = aux
        t = t + 1.0
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        precond = 1.0 / (jnp.sqrt(v / (1 - beta2**t)) + delta)
        drift = grad_rest - beta_n * m / (1 - beta1**t)  # the loss drift is Adam's bias-corrected mean
        noise = jax.random.normal(key, z.shape, noise_dtype)
        return z + 0.5 * eps * precond * drift + jnp.sqrt(eps * precond) * noise, (m, v, t)

    def metric(aux):  # the preconditioner of the last step (for the end check)
        _, v, t = aux
        return 1.0 / (jnp.sqrt(v / (1 - beta2**t)) + delta)

    def stiff_limit(eps, aux):  # the averaged drift lags: the variance doubles at ε κ = 0.21 for β₁ = 0.9
        return ema_drift_limit(beta1)

    return Rule(f"adam(β1={beta1}, β2={beta2}, δ={delta}, {noise_dtype} noise)", init, step, metric=metric,
                langevin=False, stiff_limit=stiff_limit)


@dataclass(frozen=True)
class AdamSGLD(SGMCMCMethod):
    step_fraction: float = 0.01  # the sweep in docs/scale.md
    beta1: float = 0.9
    beta2: float = 0.999
    delta: float = 0.1

    name: ClassVar[str] = "adam-sgld"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (0 <= self.beta1 < 1 and 0 < self.beta2 < 1 and self.delta > 0):
            raise ValueError(f"beta1 must lie in [0, 1), beta2 in (0, 1) and delta be positive; got "
                             f"{self.beta1}, {self.beta2}, {self.delta}")

    def rule(self) -> Rule:
        return adam_rule(float(self.beta1), float(self.beta2), float(self.delta), self.precision)

    def metric(self, target: Any, seed: int) -> Any:
        return 1.0 / (start_loss_gradient_rms(target, self.batch_size, seed, precision=self.precision) + self.delta)
