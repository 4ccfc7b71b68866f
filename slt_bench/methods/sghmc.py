"""Stochastic gradient Hamiltonian Monte Carlo (Chen, Fox & Guestrin 2014), minibatch, in JAX, with
BlackJAX's SGHMC diffusion solver (``blackjax.sgmcmc.diffusions.sghmc``):

.. math::
    z_{t+1} = z_t + \\varepsilon p_t,\\qquad
    p_{t+1} = (1 - \\alpha\\varepsilon) p_t + \\varepsilon \\widehat{\\nabla \\log p_\\beta}(z_{t+1})
              + \\sqrt{2 \\alpha \\varepsilon}\\, \\xi_t

(unit mass, the noise of the gradient estimate not subtracted: β̂ = 0). ``friction`` is αε, the share
of the momentum lost per step (0.1: the momentum forgets itself in about ten steps), so the friction
is set per step, not per unit time, and stays meaningful whatever ε the step rule picks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from slt_bench.methods._sgmcmc import Rule, SGMCMCMethod
from slt_bench.methods._stiffness import momentum_limit


@lru_cache(maxsize=None)
def sghmc_rule(friction: float) -> Rule:
    import jax
    import jax.numpy as jnp
    from blackjax.sgmcmc.diffusions import sghmc

    def init(z):
        return jnp.zeros_like(z)

    def step(key, z, p, grad_rest, g, beta_n, eps):
        solver = sghmc(alpha=friction / eps)
        # BlackJAX moves the position with the old momentum, then updates the momentum with the
        # gradient it is given: the gradient at z (a one-step lag, as in SGHMC's usual Euler form)
        return solver(key, z, p, grad_rest - beta_n * g, eps)

    def stiff_limit(eps, p):  # ε²κ at which this explicit scheme doubles the variance: 0.049 at friction 0.1
        return momentum_limit(friction)

    return Rule(f"sghmc(friction={friction})", init, step, langevin=False, momentum=True, stiff_limit=stiff_limit)


@dataclass(frozen=True)
class SGHMC(SGMCMCMethod):
    step_fraction: float = 0.003  # the sweep in docs/scale.md
    friction: float = 0.1

    name: ClassVar[str] = "sghmc"
    momentum = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.friction < 1:
            raise ValueError(f"friction (momentum lost per step) must lie in (0, 1), got {self.friction!r}")

    def rule(self) -> Rule:
        return sghmc_rule(float(self.friction))
