"""Single-β variance (thermodynamic) estimator.

If E_β[n L_n] = C + λ/β then d/dβ E_β[n L_n] = −Var_β[n L_n], so

.. math:: \\hat\\lambda = \\beta^2\\, \\mathrm{Var}_\\beta[n L_n], \\qquad \\beta = \\beta_0 = 1/\\log n.

SE: β² · sd((n L_n − mean)²) / √ESS of that series (the Monte Carlo error of a variance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from slt_bench.draws import Draws
from slt_bench.estimators.base import (Estimate, FiniteTarget, Posterior, beta0, certified_target, ess_of,
                                       reference_values)
from slt_bench.tasks import Dataset, Task
from slt_bench.tasks.quadrature import MAX_PARAMS, exact_moments


@dataclass(frozen=True)
class Variance:
    name: str = "variance"

    def posteriors(self, task: Task, data: Dataset) -> list[Posterior]:
        return [Posterior(beta0(data.n))]

    def estimate(self, task: Task, data: Dataset, posteriors: Sequence[Posterior], draws: Sequence[Draws]) -> Estimate:
        beta, nl = posteriors[0].beta, np.asarray(draws[0].n_loss, dtype=np.float64)
        sq = (nl - nl.mean()) ** 2
        var = float(sq.sum() / max(nl.size - 1, 1))
        se = beta**2 * float(sq.std(ddof=1)) / math.sqrt(ess_of(sq)) if nl.size > 1 else float("nan")
        return Estimate(beta**2 * var, se, {"beta": beta, "var": var})

    def finite_n_target(self, task: Task, data: Dataset, posteriors: Sequence[Posterior],
                        estimate: Estimate) -> FiniteTarget | None:
        beta = posteriors[0].beta
        if task.n_params > MAX_PARAMS:
            ref = reference_values(task, data, posteriors)
            if ref is None:
                return None
            return certified_target(beta**2 * ref[0]["var"], ref)
        moments = exact_moments(task, data, beta)
        return FiniteTarget.from_moments(beta**2 * moments.var, [moments])
