"""Draws: the single result type every method returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

STATUSES = ("ok", "diverged", "unmixed", "nan", "budget_exceeded", "degenerate", "point_estimate", "error")
# What each status means, for reports and docs (one place).
STATUS_MEANING = {
    "ok": "sampled, mixed (ESS of n L_n >= 100, R-hat <= 1.1 in every posterior), estimated",
    "diverged": "more divergent transitions than the method's limit; λ̂ stored, not counted as a success",
    "unmixed": "chains did not mix (ESS of n L_n < 100 or R-hat > 1.1 in some posterior); λ̂ stored, not a success",
    "nan": "n L_n not finite at some draw; no λ̂",
    "budget_exceeded": "the method asked for more gradient evaluations than its budget; no λ̂",
    "degenerate": "Laplace on a singular Hessian (or no Gaussian to draw from); λ̂ stored, not a success",
    "point_estimate": "a point estimate (MAP): no posterior draws, no λ̂",
    "error": "an exception in the method, the estimator or the target; the reason has its message",
    # derived by the reports from the stored moments (slt_bench.scoring.reported), never stored
    "inconsistent": "shown by reports, not stored (the stored status is ok): the posteriors of a multi-β cell break the "
                    "tempering identity d/dβ E_β[n L_n] = −Var_β[n L_n] (|z| above the bound for a 0.1% false alarm "
                    "rate per cell; the largest |z| of every multi-β cell is its `identity |z|`); λ̂ shown, not a success",
    "stiff": "shown by reports, not stored (the stored status is ok): an SG-MCMC run (sgld, rmsprop-sgld, adam-sgld, "
             "sghmc, sgnht) whose median chain, in some posterior, ended where its step along the stiffest direction of "
             "the potential reached the method's limit (end_stiffness ≥ 1): ε κ_max ≥ 2 for the Langevin rules, past "
             "which the step overshoots that direction (unstable at 4); for the others the step at which their own "
             "recursion doubles the variance there (ε κ 0.21 for adam-sgld, ε² κ 0.049 for sghmc). The step rule tuned ε "
             "where the chains started. Stored as end_eps_kappa and end_stiffness, shown as `εκ end`; λ̂ shown, not a success",
}


@dataclass(frozen=True)
class Draws:
    """What a method produced for one tempered posterior.

    ``n_loss``: n L_n at each draw, shape (chains, draws). ``params``: optional thinned
    parameter draws w (chains, draws', d). ``diagnostics``: ESS and R-hat of n L_n, divergences,
    acceptance or step-size statistics. ``grad_evals`` counts full-batch-equivalent gradients of
    n L_n; ``wall_s`` is wall time in seconds. ``status`` is one of :data:`STATUSES`, with a
    ``reason`` whenever it is not ``ok``.
    """

    n_loss: np.ndarray
    grad_evals: float
    wall_s: float
    status: str = "ok"
    reason: str = ""
    diagnostics: dict[str, Any] = field(default_factory=dict)
    params: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}; got {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def without_draws(cls, status: str, reason: str, grad_evals: float, wall_s: float,
                      diagnostics: dict[str, Any] | None = None) -> "Draws":
        """A run that produced no draws (budget exceeded before sampling, no Gaussian to draw from)."""
        return cls(np.full((1, 0), np.nan), grad_evals, wall_s, status, reason, dict(diagnostics or {}))


def chain_diagnostics(n_loss: np.ndarray) -> dict[str, float]:
    """Effective sample size and split R-hat of n L_n (numpyro.diagnostics), (chains, draws) input."""
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin

    arr = np.asarray(n_loss, dtype=np.float64)
    out = {"mean": float(arr.mean()), "sd": float(arr.std(ddof=1)) if arr.size > 1 else 0.0}
    if arr.shape[1] >= 4 and np.all(np.isfinite(arr)) and arr.std() > 0:
        out["ess"] = float(effective_sample_size(arr))
        out["rhat"] = float(split_gelman_rubin(arr)) if arr.shape[0] >= 1 else float("nan")
    else:
        out["ess"], out["rhat"] = float("nan"), float("nan")
    return out


def drift_z(n_loss: np.ndarray) -> float:
    """How far the mean of n L_n moved between the first and the second half of the run, in standard
    errors of the steadier half: (second − first) / (√2 · min(SE₁, SE₂)), each SE the SD of that half
    over √(its multi-chain ESS) (numpyro.diagnostics).

    R-hat compares chains, so a drift every chain shares (chains started at the same point, still
    climbing) passes it; this does not. The smaller SE is the one to judge by: a climb (or a late jump)
    inflates the SE of the half it is in, since its ESS collapses, and measured against that half's own
    SE a climb over the first quarter of the run is hidden (scoring version 3 did this). Under
    stationarity the halves have the same SE, so √2 · SE is the SE of the difference, and taking the
    smaller of two noisy estimates widens the null distribution only slightly (tests/test_trust.py
    measures it). NaN when a half has fewer than 4 draws per chain, is constant, or is not finite."""
    from numpyro.diagnostics import effective_sample_size

    arr = np.asarray(n_loss, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 8 or not np.all(np.isfinite(arr)):
        return float("nan")
    half = arr.shape[1] // 2
    means, variances = [], []
    for part in (arr[:, :half], arr[:, arr.shape[1] - half:]):
        sd = float(part.std(ddof=1))
        if not sd > 0:
            return float("nan")
        ess = float(effective_sample_size(part))
        if not (ess > 0 and math.isfinite(ess)):
            return float("nan")
        means.append(float(part.mean()))
        variances.append(sd * sd / ess)
    return (means[1] - means[0]) / math.sqrt(2.0 * min(variances))


def numerical_status(n_loss: np.ndarray) -> tuple[str, str]:
    """``nan`` when any n L_n is not finite, else ``ok``."""
    bad = ~np.isfinite(np.asarray(n_loss))
    if bad.any():
        chains = sorted(set(np.nonzero(bad)[0].tolist()))
        return "nan", f"n L_n not finite in {int(bad.sum())} draws (chains {chains})"
    return "ok", ""


def finish_status(n_loss: np.ndarray, status: str, reason: str, divergent: int, transitions: int,
                  max_divergence_rate: float, diagnostics: dict) -> tuple[str, str]:
    """The final status of an MCMC run: a budget or numerical failure first, then the divergence
    limit; ESS and R-hat are added to ``diagnostics`` whenever there are draws to estimate from."""
    if status == "ok":
        status, reason = numerical_status(n_loss)
    if status == "ok" and transitions and divergent / transitions > max_divergence_rate:
        status, reason = "diverged", f"{divergent} of {transitions} transitions diverged (limit {max_divergence_rate:.0%})"
    if n_loss.shape[1] > 0 and status in ("ok", "diverged"):
        diagnostics.update(chain_diagnostics(n_loss))
    return status, reason
