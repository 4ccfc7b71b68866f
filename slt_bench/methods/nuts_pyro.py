"""NUTS through pyro on the same tempered potential, for comparing the seed paper's own tooling
with the numpyro path on equal terms (same target, same chains × warm-up × draws, same budget).

Each call of the potential is one gradient evaluation (pyro differentiates every potential it
evaluates), counted and charged to the target; chains run one after another, each seeded from
the cell's seed. pyro draws from the global torch generator, so each chain seeds it at its start
(``pyro.set_rng_seed``); nothing is seeded at import time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from slt_bench.draws import Draws, finish_status
from slt_bench.errors import BudgetExceeded
from slt_bench.methods._validate import non_negative_int, open_unit, positive_ints
from slt_bench.target import Budget, TemperedTarget


@dataclass(frozen=True)
class PyroNUTS:
    chains: int = 4
    warmup: int = 500
    samples: int = 1000
    target_accept: float = 0.8
    dense_mass: bool = False
    max_tree_depth: int = 10
    thin: int = 1
    max_divergence_rate: float = 0.01
    keep_params: bool = False

    name: ClassVar[str] = "nuts-pyro"

    def __post_init__(self) -> None:
        positive_ints(self, "chains", "samples", "thin", "max_tree_depth")
        non_negative_int(self, "warmup")
        open_unit(self, "target_accept")

    def sample(self, target: TemperedTarget, budget: Budget, seed: int) -> Draws:
        import pyro
        import torch
        from pyro.infer.mcmc import MCMC
        from pyro.infer.mcmc import NUTS as Kernel

        start = time.perf_counter()

        def potential(params: dict[str, Any]) -> Any:
            target.charge(1.0)
            logp, _ = target.logdensity_torch(params["z"])
            return -logp

        z0 = torch.as_tensor(target.initial_point(), dtype=torch.float64)
        seeds = np.random.SeedSequence([int(seed), 4099]).generate_state(self.chains)
        losses, params, divergent, accept = [], [], 0, []
        status, reason = "ok", ""
        with target.metered(budget):
            try:
                for c in range(self.chains):
                    pyro.set_rng_seed(int(seeds[c]))
                    kernel = Kernel(potential_fn=potential, target_accept_prob=self.target_accept,
                                    full_mass=self.dense_mass, max_tree_depth=self.max_tree_depth)
                    mcmc = MCMC(kernel, num_samples=self.samples, warmup_steps=self.warmup,
                                initial_params={"z": z0.clone()}, disable_progbar=True)
                    mcmc.run()
                    z = mcmc.get_samples()["z"][self.thin - 1 :: self.thin].detach()
                    with torch.no_grad():
                        w = target.task.prior.constrain(_torch_ops(), z)[0]
                        losses.append(target.n_loss_torch(w).numpy())
                    if self.keep_params:
                        params.append(w.numpy())
                    stats = mcmc.diagnostics()
                    divergent += sum(len(v) for v in stats.get("divergences", {}).values())
                    accept += [float(v) for v in stats.get("acceptance rate", {}).values()]
            except BudgetExceeded as err:
                status, reason = "budget_exceeded", str(err)
            grad_evals = target.grad_evals
        n_loss = np.stack(losses) if losses else np.full((self.chains, 0), np.nan)
        diag: dict[str, Any] = {"divergences": divergent,
                                "accept_rate": float(np.mean(accept)) if accept else float("nan")}
        n_draws = n_loss.size
        if n_draws:
            diag["divergence_rate"] = divergent / (self.samples * len(losses))
        status, reason = finish_status(n_loss, status, reason, divergent, self.samples * len(losses) if n_draws else 0,
                                       self.max_divergence_rate, diag)
        kept = np.stack(params) if self.keep_params and params else None
        return Draws(n_loss, grad_evals, time.perf_counter() - start, status, reason, diag, kept)


def _torch_ops():
    from slt_bench.models.ops import torch_ops

    return torch_ops()
