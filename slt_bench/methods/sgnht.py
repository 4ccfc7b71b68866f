"""Stochastic gradient Nosé–Hoover thermostat (Ding et al. 2014), minibatch, in JAX, with BlackJAX's
SGNHT diffusion solver (``blackjax.sgmcmc.diffusions.sgnht``):

.. math::
    z_{t+1} = z_t + \\varepsilon p_t,\\quad
    p_{t+1} = (1 - \\xi_t\\varepsilon) p_t + \\varepsilon \\widehat{\\nabla \\log p_\\beta}(z_{t+1})
              + \\sqrt{2 A \\varepsilon}\\, \\eta_t,\\quad
    \\xi_{t+1} = \\xi_t + \\varepsilon (p_{t+1}^\\top p_{t+1} / d - 1)

The thermostat ξ adapts the friction so that the kinetic energy per coordinate is 1, which absorbs
the unknown noise of the minibatch gradient. ``diffusion`` is Aε, the injected noise per step, set
per step like ``sghmc``'s friction; ξ starts at A.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np

from slt_bench.methods._sgmcmc import Rule, SGMCMCMethod
from slt_bench.methods._stiffness import momentum_limit


@lru_cache(maxsize=None)
def sgnht_rule(diffusion: float) -> Rule:
    import jax.numpy as jnp
    from blackjax.sgmcmc.diffusions import sgnht

    def init(z):
        return (jnp.zeros_like(z), jnp.asarray(-1.0))  # ξ < 0: set to A at the first step

    def step(key, z, aux, grad_rest, g, beta_n, eps):
        p, xi = aux
        alpha = diffusion / eps
        xi = jnp.where(xi < 0, alpha, xi)
        z, p, xi = sgnht(alpha=alpha)(key, z, p, xi, grad_rest - beta_n * g, eps)
        return z, (p, xi)

    def stiff_limit(eps, aux):  # the friction per step is each chain's thermostat ξ times ε
        return momentum_limit(np.asarray(aux[1], dtype=float) * eps)

    return Rule(f"sgnht(diffusion={diffusion})", init, step, langevin=False, momentum=True, stiff_limit=stiff_limit)


@dataclass(frozen=True)
class SGNHT(SGMCMCMethod):
    step_fraction: float = 0.003  # the sweep in docs/scale.md
    diffusion: float = 0.1

    name: ClassVar[str] = "sgnht"
    momentum = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.diffusion < 1:
            raise ValueError(f"diffusion (noise injected per step) must lie in (0, 1), got {self.diffusion!r}")

    def rule(self) -> Rule:
        return sgnht_rule(float(self.diffusion))
