"""MAP: the mode of the tempered posterior by gradient descent.

``backend = "torch"``: full-batch L-BFGS (``optimizer = "lbfgs"``) or Adam, minibatch with
``batch_size``. ``backend = "jax"``: full-batch Adam with a decaying step size, compiled once per
task shape; :meth:`MAP.sample_many` fits many datasets of one size in one vmapped run (the
generalisation experiment's dataset draws).

A point estimate has no spread, so as a λ̂ method it reports status ``point_estimate`` (the
estimators need draws); its one "draw" is the mode, which the generalisation experiment uses as
the plug-in predictive p(y | x, ŵ).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from slt_bench.draws import Draws
from slt_bench.errors import BudgetExceeded
from slt_bench.methods import _mode_jax
from slt_bench.methods._mode import ModeResult, check_options, find_mode
from slt_bench.methods._validate import positive_ints
from slt_bench.target import Budget, TemperedTarget


@dataclass(frozen=True)
class MAP:
    optimizer: str = "lbfgs"
    steps: int = 500
    lr: float = 1e-2
    batch_size: int | None = None
    init: str = "near_truth"
    backend: str = "torch"
    lr_decay: float = 0.01
    keep_params: bool = True

    name: ClassVar[str] = "map"

    def __post_init__(self) -> None:
        positive_ints(self, "steps")
        check_options(self.optimizer, self.init, self.batch_size)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if self.backend not in ("torch", "jax"):
            raise ValueError(f"backend must be one of torch, jax; got {self.backend!r}")
        if self.backend == "jax" and (self.optimizer != "adam" or self.batch_size is not None):
            raise ValueError("backend 'jax' is full-batch Adam: set optimizer = 'adam' and no batch_size")
        if not (isinstance(self.lr_decay, (int, float)) and 0 < self.lr_decay <= 1):
            raise ValueError(f"lr_decay must lie in (0, 1], got {self.lr_decay!r}")

    def sample(self, target: TemperedTarget, budget: Budget, seed: int) -> Draws:
        return self.sample_many([target], budget, [seed])[0]

    def sample_many(self, targets: list[TemperedTarget], budget: Budget, seeds: list[int]) -> list[Draws]:
        """One MAP per target; with the JAX backend all targets (one task shape, one n) fit together."""
        if self.backend == "jax":
            start = time.perf_counter()
            with ExitStack() as stack:
                for target in targets:
                    stack.enter_context(target.metered(budget))
                try:
                    modes = _mode_jax.find_modes(targets, self.steps, self.lr, self.lr_decay, self.init, seeds)
                except BudgetExceeded as err:
                    return [Draws.without_draws("budget_exceeded", str(err), 0.0, time.perf_counter() - start)
                            for _ in targets]
                spent = [t.grad_evals for t in targets]
            wall = (time.perf_counter() - start) / len(targets)
            return [self._finish(t, m, g, wall) for t, m, g in zip(targets, modes, spent)]
        out = []
        for target, seed in zip(targets, seeds):
            start = time.perf_counter()
            with target.metered(budget):
                try:
                    mode = find_mode(target, self.optimizer, self.steps, self.lr, self.batch_size, self.init, seed)
                except BudgetExceeded as err:
                    out.append(Draws.without_draws("budget_exceeded", str(err), target.grad_evals,
                                                   time.perf_counter() - start))
                    continue
                grad_evals = target.grad_evals
            out.append(self._finish(target, mode, grad_evals, time.perf_counter() - start))
        return out

    def _finish(self, target: TemperedTarget, mode: ModeResult, grad_evals: float, wall: float) -> Draws:
        start = time.perf_counter() - wall
        w = target.constrain_numpy(mode.z)
        n_loss = np.asarray(target.n_loss_numpy(w), dtype=np.float64).reshape(1, 1)
        diag = {"logp": mode.logp, "grad_norm": mode.grad_norm, "iterations": mode.iterations,
                "converged": mode.converged}
        if not np.isfinite(n_loss).all():
            status, reason = "nan", "n L_n at the optimiser's end point is not finite"
        else:
            status = "point_estimate"
            reason = (f"MAP at n L_n = {n_loss[0, 0]:.6g} after {mode.iterations} iterations "
                      f"(|∇ log p_β| = {mode.grad_norm:.2g}): one point, no spread, so no λ̂")
        return Draws(n_loss, grad_evals, time.perf_counter() - start, status, reason, diag,
                     w.reshape(1, 1, -1) if self.keep_params else None)
