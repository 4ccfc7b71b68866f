"""devinterp's samplers (devinterp 2.x, ``SGMCMC.sgld`` and ``SGMCMC.rmsprop_sgld``) on slt-bench's tasks.

An optional method (``pip install 'slt-bench[devinterp]'``): it lets a devinterp user score the tool
they actually use on the same tasks, posteriors and estimators as every other method. The sampler is
devinterp's own torch optimizer, driven the way devinterp's ``sample`` drives it — one chain after
another, each on a copy of the model, one ``optimizer.step()`` per minibatch (shuffled without
replacement, a new permutation each epoch, the last incomplete batch dropped) — with the posterior
slt-bench's estimator asks for:

* ``nbeta`` = β n, the estimator's inverse temperature times n (not devinterp's own default,
  batch/log batch, which would sample a different posterior from the one scored);
* ``localization`` = γ at w* (the chains start at w*, devinterp's ``"initial"`` centre), and
  ``weight_decay`` = 1/σ², the task's Gaussian prior N(0, σ²). Tasks whose prior is not that
  (uniform or |w|^h factors) are refused before a run starts;
* the loss is the minibatch mean of −log p(y | x, w), so ``nbeta`` × its gradient is the
  unbiased minibatch gradient of β n L_n.

Everything else is devinterp's default (noise level 1, RMSProp's α = 0.99 and ε = 0.1), except the
learning rate: devinterp's default (0.01) is meant for nβ ≈ 1 and diverges at the nβ of a tempered
posterior here, so unless ``lr`` is given it comes from the same curvature rule as slt-bench's
SG-MCMC family: lr = ``step_fraction`` / κ, κ the largest curvature of the tempered potential at the
start point, in RMSProp's metric for ``rmsprop_sgld``, floored at β n (:mod:`slt_bench.methods._sgmcmc`).

n L_n at each kept draw is the full-batch value; the cost counts b/n of a gradient evaluation per
step and chain, one per kept draw and chain, and the rule's own evaluations.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from slt_bench.draws import Draws, chain_diagnostics, numerical_status
from slt_bench.errors import BudgetExceeded, SltBenchError

SAMPLERS = ("sgld", "rmsprop_sgld")
INSTALL = "pip install 'slt-bench[devinterp]'"


def devinterp_sgmcmc() -> Any:
    """devinterp's ``SGMCMC`` class, or a one-line error saying how to install it."""
    try:
        from devinterp.optim import SGMCMC
    except ImportError:
        raise SltBenchError(f"method devinterp needs devinterp 2.x, which is not installed: {INSTALL}") from None
    found = _version()
    if not found.startswith("2."):
        raise SltBenchError(f"method devinterp needs devinterp 2.x, found {found}: {INSTALL}")
    return SGMCMC


@dataclass(frozen=True)
class Devinterp:
    sampler: str = "sgld"
    chains: int = 4
    warmup: int = 1000
    steps: int = 4000
    thin: int = 10
    batch_size: int = 500
    lr: float | None = None
    step_fraction: float = 0.01
    alpha: float = 0.99  # rmsprop_sgld: devinterp's defaults
    eps: float = 0.1
    keep_params: bool = False

    name: ClassVar[str] = "devinterp"

    def __post_init__(self) -> None:
        from slt_bench.methods._sgmcmc import check_run_settings

        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)} (devinterp's SGMCMC factories), "
                             f"got {self.sampler!r}")
        check_run_settings(self, "lr")
        if not 0 < self.alpha < 1 or not self.eps > 0:
            raise ValueError(f"alpha must lie in (0, 1) and eps be positive; got {self.alpha}, {self.eps}")
        devinterp_sgmcmc()  # not installed: say so when the method is made, not in the middle of a grid

    def check_task(self, task: Any) -> None:
        prior = task.prior
        if prior.bounds or (prior.exponents and any(prior.exponents)):
            raise SltBenchError(f"method devinterp: {task.id} has the prior {prior.describe()}; devinterp's samplers "
                                "take a Gaussian prior N(0, σ²) only (as weight decay): choose a task with one")

    # ---- the step size ---------------------------------------------------------------------
    def _lr(self, target: Any, seed: int) -> tuple[float, dict[str, Any]]:
        if self.lr is not None:
            return float(self.lr), {"step_rule": "given"}
        from slt_bench.methods._sgmcmc import start_curvature, start_loss_gradient_rms

        metric = None
        if self.sampler == "rmsprop_sgld":
            metric = 1.0 / (start_loss_gradient_rms(target, self.batch_size, seed) + self.eps)
        kappa = start_curvature(target, self.batch_size, seed, metric)
        return self.step_fraction / kappa, {"curvature": kappa, "step_rule": f"fraction {self.step_fraction} / κ"}

    def _optimizer(self, params: Any, nbeta: float, target: Any, lr: float) -> Any:
        SGMCMC = devinterp_sgmcmc()
        common = dict(lr=lr, nbeta=nbeta, localization=target.gamma, weight_decay=1.0 / target.task.prior.std ** 2)
        if self.sampler == "rmsprop_sgld":
            return SGMCMC.rmsprop_sgld(params, alpha=self.alpha, eps=self.eps, **common)
        return SGMCMC.sgld(params, **common)

    # ---- sampling --------------------------------------------------------------------------
    def sample(self, target: Any, budget: Any, seed: int) -> Draws:
        import torch
        from torch.nn.utils import parameters_to_vector

        from slt_bench.methods._torch_modules import build_module

        start = time.perf_counter()
        self.check_task(target.task)
        n, batch = target.n, int(min(self.batch_size, target.n))
        kept = self.steps // self.thin
        nbeta = target.beta * n
        diag: dict[str, Any] = {"batch_size": batch, "sampler": f"devinterp SGMCMC.{self.sampler}",
                                "devinterp": _version()}
        n_loss = np.full((self.chains, kept), np.nan)
        params = np.full((self.chains, kept, target.dim), np.nan) if self.keep_params else None
        status, reason = "ok", ""
        if target.streamed:
            return Draws.without_draws("error", "method devinterp needs the data in memory (a DataLoader over "
                                       "it); this task's data are streamed: use rmsprop-sgld or sgld", 0.0, 0.0)
        with target.metered(budget):
            try:
                lr, rule = self._lr(target, seed)
                diag.update(rule, step_size=lr)
                target.charge(self.chains * ((self.warmup + self.steps) * batch / n + kept))
                w0 = target.constrain_numpy(target.initial_point())
                for chain in range(self.chains):
                    n_loss[chain] = self._chain(torch, parameters_to_vector, build_module(target.task.model, w0),
                                                target, lr, nbeta, batch, seed, chain,
                                                None if params is None else params[chain])
            except BudgetExceeded as err:
                status, reason = "budget_exceeded", str(err)
            grad_evals = target.grad_evals
        if status == "ok":
            status, reason = numerical_status(n_loss)
            if status == "nan":
                reason = f"{reason}: devinterp's {self.sampler} at lr = {diag['step_size']:.3g} left the posterior"
            else:
                diag.update(chain_diagnostics(n_loss))
        if status == "budget_exceeded":
            n_loss, params = np.full((self.chains, 0), np.nan), None
        return Draws(n_loss, grad_evals, time.perf_counter() - start, status, reason, diag, params)

    def _chain(self, torch: Any, flat: Any, module: Any, target: Any, lr: float, nbeta: float, batch: int,
               seed: int, chain: int, keep: np.ndarray | None) -> np.ndarray:
        """One chain, devinterp's way: an optimizer on the module's parameters, a step per minibatch."""
        import warnings

        n = target.n
        gen = torch.Generator().manual_seed(int(seed) * 100_003 + chain)
        with warnings.catch_warnings():  # devinterp warns about settings it cannot know we chose on purpose
            warnings.simplefilter("ignore")
            opt = self._optimizer(list(module.parameters()), nbeta, target, lr)
        order = torch.randperm(n, generator=gen)
        cursor, out = 0, []
        for step in range(self.warmup + self.steps):
            if cursor + batch > n:
                order, cursor = torch.randperm(n, generator=gen), 0
            idx = order[cursor:cursor + batch]
            cursor += batch
            opt.zero_grad(set_to_none=True)
            loss = target.n_loss_torch(flat(module.parameters()), idx) / n  # mean −log p over the batch
            loss.backward()
            opt.step(noise_generator=gen)
            done = step + 1 - self.warmup
            if done > 0 and done % self.thin == 0:
                with torch.no_grad():
                    w = flat(module.parameters())
                    value = float(target.n_loss_torch(w))
                if keep is not None:
                    keep[len(out)] = w.numpy()
                out.append(value)
                if not math.isfinite(value):  # a chain that has left: the rest of it is not drawn
                    out += [math.nan] * (self.steps // self.thin - len(out))
                    break
        return np.asarray(out, dtype=np.float64)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("devinterp")
    except PackageNotFoundError:
        return "not installed"
