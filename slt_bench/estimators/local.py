"""Local learning coefficient (Lau et al. 2023).

.. math:: \\hat\\lambda(w^*) = n\\beta\\,(E^{w^*}_\\beta[L_n] - L_n(w^*)), \\qquad \\beta = 1/\\log n,

the expectation over the posterior localised at w* by γ/2 ||w − w*||². It equals the global λ
when w* is a most singular true parameter: the task's ``w_star``. SE: β · sd / √ESS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from slt_bench.draws import Draws
from slt_bench.errors import SltBenchError
from slt_bench.estimators.base import (Estimate, FiniteTarget, Posterior, beta0, certified_target, mean_and_se,
                                       reference_values)
from slt_bench.tasks import Dataset, Task
from slt_bench.tasks.quadrature import MAX_PARAMS, exact_moments


@dataclass(frozen=True)
class Local:
    gamma: float = 1.0
    name: str = "local"

    def __post_init__(self) -> None:
        if not (self.gamma > 0 and math.isfinite(self.gamma)):
            raise SltBenchError(f"local estimator gamma must be a positive number, got {self.gamma}")

    def posteriors(self, task: Task, data: Dataset) -> list[Posterior]:
        if task.w_star is None:
            raise SltBenchError(
                f"task {task.id} has no w* (most singular true parameter); the local estimator needs one"
            )
        return [Posterior(beta0(data.n), tuple(task.w_star), self.gamma)]

    def _centre_loss(self, task: Task, data: Dataset, post: Posterior) -> float:
        import numpy as np

        return float(task.n_loss_numpy(np.asarray(post.centre), data))

    def estimate(self, task: Task, data: Dataset, posteriors: Sequence[Posterior], draws: Sequence[Draws]) -> Estimate:
        post = posteriors[0]
        mean, se = mean_and_se(draws[0].n_loss)
        at_centre = self._centre_loss(task, data, post)
        return Estimate(post.beta * (mean - at_centre), post.beta * se, {"beta": post.beta, "gamma": post.gamma})

    def finite_n_target(self, task: Task, data: Dataset, posteriors: Sequence[Posterior],
                        estimate: Estimate) -> FiniteTarget | None:
        post = posteriors[0]
        if task.n_params > MAX_PARAMS:
            ref = reference_values(task, data, posteriors)
            if ref is None:
                return None
            return certified_target(post.beta * (ref[0]["mean"] - self._centre_loss(task, data, post)), ref)
        moments = exact_moments(task, data, post.beta, centre=post.centre, gamma=post.gamma)
        return FiniteTarget.from_moments(post.beta * (moments.mean - self._centre_loss(task, data, post)), [moments])
