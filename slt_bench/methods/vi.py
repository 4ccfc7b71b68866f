"""Variational inference: numpyro SVI fitted to each tempered posterior, draws from the guide.

.. math::
    \\max_q\\; \\mathrm{ELBO}(q) = \\mathbb E_q[\\log p_\\beta(z)] + H[q],\\qquad
    \\log p_\\beta(z) = -\\beta\\, n L_n(w(z)) + \\log\\varphi(w(z)) + \\log|dw/dz|

``guide``: ``meanfield`` (numpyro ``AutoNormal``, a diagonal Gaussian) or ``flow`` (numpyro
``AutoIAFNormal``, inverse autoregressive flows; needs d ≥ 2). Adam with an exponentially
decaying step size (``lr`` → ``lr · lr_decay`` over the run). Each ELBO step costs ``particles``
gradient evaluations of n L_n, charged to the budget before the fit starts.

The model samples an offset u and evaluates the potential at z = z₀ + u (z₀ the target's initial
point, the truth or w*), so the guide starts where the other methods start and the jitted fit is
compiled once per (task shape, guide, schedule) and reused across β, datasets and seeds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from slt_bench.draws import Draws
from slt_bench.errors import BudgetExceeded, SltBenchError
from slt_bench.methods._validate import positive_ints
from slt_bench.target import Budget, JaxStatic, TemperedTarget, jax_logdensity, jax_n_loss

GUIDES = ("meanfield", "flow")


@dataclass(frozen=True)
class VI:
    guide: str = "meanfield"
    steps: int = 5000
    lr: float = 0.02
    lr_decay: float = 0.01
    particles: int = 1
    samples: int = 2000
    flows: int = 2
    init_scale: float = 0.05
    keep_params: bool = False

    name: ClassVar[str] = "vi"

    def __post_init__(self) -> None:
        if self.guide not in GUIDES:
            raise ValueError(f"guide must be one of {', '.join(GUIDES)}; got {self.guide!r}")
        positive_ints(self, "steps", "particles", "samples", "flows")
        for name in ("lr", "init_scale"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not (isinstance(self.lr_decay, (int, float)) and 0 < self.lr_decay <= 1):
            raise ValueError(f"lr_decay must lie in (0, 1] (final step size / initial), got {self.lr_decay!r}")

    def check_task(self, task: Any) -> None:
        if self.guide == "flow" and task.n_params < 2:
            raise SltBenchError(f"vi on {task.key}: guide 'flow' (inverse autoregressive) needs at least 2 parameters "
                                f"and this task has {task.n_params}; valid here: meanfield")

    def sample(self, target: TemperedTarget, budget: Budget, seed: int) -> Draws:
        import jax
        import jax.numpy as jnp

        self.check_task(target.task)
        start = time.perf_counter()
        with target.metered(budget):
            try:
                target.charge(float(self.steps * self.particles))
            except BudgetExceeded as err:
                return Draws.without_draws("budget_exceeded", str(err), 0.0, time.perf_counter() - start)
            grad_evals = target.grad_evals
        static, args = target.jax_parts()
        args = dict(args, z0=jnp.asarray(target.initial_point()))
        fit = _compiled(static, target.dim, self.guide, self.steps, float(self.lr), float(self.lr_decay),
                        self.particles, self.samples, self.flows, float(self.init_scale))
        losses, n_loss, z, params = fit(jax.random.PRNGKey(int(seed) % (2**31)), args)
        losses, n_loss = np.asarray(losses), np.asarray(n_loss, dtype=np.float64).reshape(1, -1)
        tail = losses[-max(1, self.steps // 10):]
        diag: dict[str, Any] = {
            "final_elbo": float(-tail.mean()), "elbo_sd_last_10pct": float(tail.std()),
            "mean": float(n_loss.mean()), "sd": float(n_loss.std(ddof=1)), "ess": float(self.samples),
        }
        if self.guide == "meanfield":
            diag["loc"] = np.asarray(params["u_auto_loc"] + args["z0"]).tolist()
            diag["scale"] = np.asarray(params["u_auto_scale"]).tolist()
        status, reason = "ok", ""
        if not np.isfinite(losses).all() or not np.isfinite(n_loss).all():
            status, reason = "nan", "the ELBO or n L_n at the guide's draws is not finite (step size too large?)"
        kept = None
        if self.keep_params:
            kept = target.constrain_numpy(np.asarray(z, dtype=np.float64)).reshape(1, self.samples, -1)
        return Draws(n_loss, grad_evals, time.perf_counter() - start, status, reason, diag, kept)


@lru_cache(maxsize=32)
def _compiled(static: JaxStatic, dim: int, guide_kind: str, steps: int, lr: float, lr_decay: float, particles: int,
              samples: int, flows: int, init_scale: float):
    """A jitted (key, args) → (loss trace, n L_n at guide draws, z draws, guide params)."""
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoIAFNormal, AutoNormal
    from numpyro.infer.initialization import init_to_value
    from numpyro.optim import Adam

    def model(args):
        u = numpyro.sample("u", dist.ImproperUniform(dist.constraints.real_vector, (), (dim,)))
        numpyro.factor("log_p_beta", jax_logdensity(static, args["z0"] + u, args))

    init = init_to_value(values={"u": jnp.zeros(dim)})
    if guide_kind == "meanfield":
        guide = AutoNormal(model, init_loc_fn=init, init_scale=init_scale)
    else:
        guide = AutoIAFNormal(model, init_loc_fn=init, num_flows=flows)
    schedule = lambda i: lr * lr_decay ** (i / steps)  # noqa: E731
    svi = SVI(model, guide, Adam(schedule), Trace_ELBO(num_particles=particles))

    @jax.jit
    def fit(key, args):
        k_init, k_draw = jax.random.split(key)
        state = svi.init(k_init, args)

        def body(s, _):
            s, loss = svi.update(s, args)
            return s, loss

        state, losses = jax.lax.scan(body, state, None, length=steps)
        params = svi.get_params(state)
        u = guide.sample_posterior(k_draw, params, sample_shape=(samples,))["u"]
        z = args["z0"] + u
        return losses, jax.vmap(lambda zi: jax_n_loss(static, zi, args))(z), z, params

    return fit
