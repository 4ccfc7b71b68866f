"""Multi-β regression: the seed paper's Algorithm 1 (Watanabe 2013, WBIC, Thm 4).

.. math:: E_\\beta[n L_n] = n L_n(w_0) + \\lambda/\\beta + U_n\\sqrt{\\lambda/(2\\beta)} + O_p(1)

Sample at several β around β₀ = 1/log n (default: 5 values spanning β₀(1 ± 1/√(2 log n))),
regress the means of n L_n on 1/β; the slope is λ̂. ``fit="gls"`` (default) weights each mean by
its Monte Carlo variance (sd²/ESS; heteroscedastic across β) and inflates the SE by √(χ²/dof)
when the line fits worse than the Monte Carlo errors say; ``fit="ols"`` is the paper's plain
least squares with the usual residual SE. Both fits are always recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from slt_bench.draws import Draws
from slt_bench.errors import SltBenchError
from slt_bench.estimators.base import (Estimate, FiniteTarget, Posterior, beta0, certified_target, mean_and_se,
                                       reference_values)
from slt_bench.tasks import Dataset, Task
from slt_bench.tasks.quadrature import MAX_PARAMS, exact_moments


def line_fit(inv_beta: np.ndarray, means: np.ndarray, ses: np.ndarray | None) -> dict[str, float]:
    """Weighted least squares of means on 1/β: slope, its SE, intercept, R², χ²/dof."""
    x, y = np.asarray(inv_beta, float), np.asarray(means, float)
    k = len(x)
    w = np.ones(k) if ses is None else 1.0 / np.maximum(np.asarray(ses, float), 1e-300) ** 2
    design = np.stack([np.ones(k), x], axis=1)
    cov = np.linalg.inv(design.T @ (w[:, None] * design))
    coef = cov @ design.T @ (w * y)
    resid = y - design @ coef
    dof = max(k - 2, 1)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    if ses is None:
        sigma2 = float((resid**2).sum()) / dof
        se = math.sqrt(sigma2 * cov[1, 1]) if k > 2 else float("nan")
        return {"slope": float(coef[1]), "se": se, "intercept": float(coef[0]), "r2": r2}
    chi2_dof = float((w * resid**2).sum()) / dof
    se = math.sqrt(cov[1, 1]) * (max(1.0, math.sqrt(chi2_dof)) if k > 2 else 1.0)
    return {"slope": float(coef[1]), "se": se, "intercept": float(coef[0]), "r2": r2, "chi2_dof": chi2_dof}


@dataclass(frozen=True)
class MultiBeta:
    """λ̂ = slope of E_β[n L_n] against 1/β over a grid of β."""

    n_betas: int = 5
    spread: float | None = None  # relative half-width of the β grid; None: 1/√(2 log n)
    fit: str = "gls"
    name: str = "multi-beta"

    def __post_init__(self) -> None:
        if self.n_betas < 2:
            raise SltBenchError(f"multi-beta needs n_betas >= 2, got {self.n_betas}")
        if self.fit not in ("gls", "ols"):
            raise SltBenchError(f"multi-beta fit must be one of gls, ols; got {self.fit!r}")
        if self.spread is not None and not 0 < self.spread < 1:
            raise SltBenchError(f"multi-beta spread must lie in (0, 1), got {self.spread}")

    def betas(self, n: int) -> np.ndarray:
        spread = self.spread if self.spread is not None else 1.0 / math.sqrt(2.0 * math.log(n))
        return beta0(n) * (1.0 + spread * np.linspace(-1.0, 1.0, self.n_betas))

    def posteriors(self, task: Task, data: Dataset) -> list[Posterior]:
        return [Posterior(float(b)) for b in self.betas(data.n)]

    def _regress(self, posteriors: Sequence[Posterior], means, ses) -> dict[str, float]:
        inv_beta = np.array([1.0 / p.beta for p in posteriors])
        gls, ols = line_fit(inv_beta, means, ses), line_fit(inv_beta, means, None)
        chosen = gls if self.fit == "gls" else ols
        return {
            "slope": chosen["slope"], "se": chosen["se"], "r2": chosen["r2"],
            "gls_slope": gls["slope"], "gls_se": gls["se"], "chi2_dof": gls.get("chi2_dof", math.nan),
            "ols_slope": ols["slope"], "ols_se": ols["se"], "intercept": chosen["intercept"],
        }

    def estimate(self, task: Task, data: Dataset, posteriors: Sequence[Posterior], draws: Sequence[Draws]) -> Estimate:
        stats = [mean_and_se(d.n_loss) for d in draws]
        means, ses = np.array([m for m, _ in stats]), np.array([s for _, s in stats])
        fit = self._regress(posteriors, means, ses)
        fit.update(betas=[p.beta for p in posteriors], means=means.tolist(), mc_ses=ses.tolist())
        return Estimate(fit["slope"], fit["se"], fit)

    def finite_n_target(self, task: Task, data: Dataset, posteriors: Sequence[Posterior],
                        estimate: Estimate) -> FiniteTarget | None:
        ses = np.asarray(estimate.fit.get("mc_ses")) if self.fit == "gls" else None
        if task.n_params > MAX_PARAMS:
            ref = reference_values(task, data, posteriors)
            if ref is None:
                return None
            return certified_target(self._regress(posteriors, np.array([v["mean"] for v in ref]), ses)["slope"], ref)
        moments = [exact_moments(task, data, p.beta, centre=p.centre, gamma=p.gamma) for p in posteriors]
        exact = np.array([m.mean for m in moments])
        return FiniteTarget.from_moments(self._regress(posteriors, exact, ses)["slope"], moments)


@dataclass(frozen=True)
class LocalMultiBeta(MultiBeta):
    """The multi-β line through posteriors localised at w* (γ/2 ||w − w*||² added to the potential).

    The local estimator's single β subtracts n L_n(w*), and w* is the truth rather than the dataset's
    minimiser, so its finite-n value is low by β₀ times a χ²/2-sized fluctuation (about β₀ of λ on a
    regular model). The slope of E_β[n L_n] against 1/β does not subtract it: the fluctuation goes into
    the intercept. It costs ``n_betas`` localised posteriors instead of one. γ must stay well below
    √(nβ) where the loss is quartic in a singular direction, or the localisation truncates it
    (docs/scale.md has the exact values by quadrature).
    """

    gamma: float = 1.0
    name: str = "local-multi-beta"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (self.gamma > 0 and math.isfinite(self.gamma)):
            raise SltBenchError(f"local-multi-beta gamma must be a positive number, got {self.gamma}")

    def posteriors(self, task: Task, data: Dataset) -> list[Posterior]:
        if task.w_star is None:
            raise SltBenchError(
                f"task {task.id} has no w* (most singular true parameter); the local-multi-beta estimator needs one"
            )
        return [Posterior(float(b), tuple(task.w_star), self.gamma) for b in self.betas(data.n)]
