"""MAP: the mode of the tempered posterior by gradient descent (full-batch L-BFGS or minibatch Adam).

A point estimate has no spread, so as a λ̂ method it reports status ``point_estimate`` (the
estimators need draws); its one "draw" is the mode, which the generalisation experiment uses as
the plug-in predictive p(y | x, ŵ).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from slt_bench.draws import Draws
from slt_bench.errors import BudgetExceeded
from slt_bench.methods._mode import check_options, find_mode
from slt_bench.methods._validate import positive_ints
from slt_bench.target import Budget, TemperedTarget


@dataclass(frozen=True)
class MAP:
    optimizer: str = "lbfgs"
    steps: int = 500
    lr: float = 1e-2
    batch_size: int | None = None
    init: str = "near_truth"
    keep_params: bool = True

    name: ClassVar[str] = "map"

    def __post_init__(self) -> None:
        positive_ints(self, "steps")
        check_options(self.optimizer, self.init, self.batch_size)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")

    def sample(self, target: TemperedTarget, budget: Budget, seed: int) -> Draws:
        start = time.perf_counter()
        with target.metered(budget):
            try:
                mode = find_mode(target, self.optimizer, self.steps, self.lr, self.batch_size, self.init, seed)
            except BudgetExceeded as err:
                return Draws(np.full((1, 0), np.nan), target.grad_evals, time.perf_counter() - start,
                             "budget_exceeded", str(err))
            grad_evals = target.grad_evals
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
