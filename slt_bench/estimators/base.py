"""What every λ estimator shares: the posteriors it needs, its estimate, its finite-n target."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import numpy as np

from slt_bench.draws import Draws
from slt_bench.tasks import Dataset, Task


@dataclass(frozen=True)
class Posterior:
    """One tempered posterior an estimator needs: inverse temperature β, optional w* and γ."""

    beta: float
    centre: tuple[float, ...] | None = None
    gamma: float = 0.0


@dataclass(frozen=True)
class Estimate:
    """λ̂ with its standard error and what the fit looked like (R², χ², per-β means, …)."""

    rlct_hat: float
    se: float
    fit: dict[str, Any] = field(default_factory=dict)


TARGET_STATUSES = ("exact", "certified", "not_converged", "not_finite")


@dataclass(frozen=True)
class FiniteTarget:
    """What the estimator returns with a perfect sampler on this dataset, and whether to trust it.

    ``status``: ``exact`` (quadrature converged: scored against), ``certified`` (from a certified
    reference, :mod:`slt_bench.reference`: scored against), ``not_converged`` (the grid does not
    resolve the posterior) or ``not_finite``; only the first two are ever scored against.
    """

    value: float
    status: str
    detail: str = ""

    @classmethod
    def from_moments(cls, value: float, moments: Sequence[Any]) -> "FiniteTarget":
        if not math.isfinite(value):
            return cls(value, "not_finite", "the quadrature value is not a finite number")
        bad = [m for m in moments if not m.converged]
        if bad:
            worst = max(abs(m.mean - m.mean_half) / max(m.excess, 1.0) if math.isfinite(m.excess) else math.inf
                        for m in bad)
            return cls(value, "not_converged", f"full and half-resolution quadrature grids disagree "
                                               f"(relative {worst:.2g} in E_β[n L_n])")
        return cls(value, "exact")


def reference_values(task: Task, data: Dataset, posteriors: Sequence[Posterior]) -> list[dict[str, float]] | None:
    """Certified E_β[n L_n] and Var_β[n L_n] of each posterior on this dataset (tasks beyond
    quadrature), or None when there is no certified reference for all of them."""
    from slt_bench.reference import lookup

    return lookup(task, int(data.seed), int(data.n), posteriors)


def certified_target(value: float, values: Sequence[dict[str, float]]) -> FiniteTarget:
    if not math.isfinite(value):
        return FiniteTarget(value, "not_finite", "the reference value is not a finite number")
    worst = max(v["mean_se"] for v in values)
    return FiniteTarget(value, "certified", f"certified reference (NUTS and SMC agree; SE of E_β[n L_n] ≤ {worst:.3g})")


class Estimator(Protocol):
    name: str

    def posteriors(self, task: Task, data: Dataset) -> list[Posterior]:
        """The tempered posteriors to sample, in order."""

    def estimate(self, task: Task, data: Dataset, posteriors: Sequence[Posterior], draws: Sequence[Draws]) -> Estimate:
        """λ̂ ± SE from the draws of each posterior."""

    def finite_n_target(
        self, task: Task, data: Dataset, posteriors: Sequence[Posterior], estimate: Estimate
    ) -> FiniteTarget | None:
        """What this estimator returns with a perfect sampler on this dataset (quadrature), or None."""


def beta0(n: int) -> float:
    """β₀ = 1 / log n (WBIC's inverse temperature)."""
    if n < 2:
        raise ValueError(f"n must be at least 2 for β₀ = 1/log n, got {n}")
    return 1.0 / math.log(n)


def mean_and_se(n_loss: np.ndarray) -> tuple[float, float]:
    """Mean of n L_n over all draws and its Monte Carlo standard error sd/√ESS."""
    from slt_bench.draws import chain_diagnostics

    diag = chain_diagnostics(n_loss)
    ess = diag["ess"]
    if not math.isfinite(ess) or ess <= 1:
        ess = max(n_loss.shape[0], 1)  # no usable ESS: assume one independent draw per chain
    return diag["mean"], diag["sd"] / math.sqrt(ess)


def ess_of(series: np.ndarray) -> float:
    from slt_bench.draws import chain_diagnostics

    ess = chain_diagnostics(series)["ess"]
    return ess if math.isfinite(ess) and ess > 1 else float(series.shape[0])
