"""What a cell produced, filled in as it runs, and the rules that turn draws into a status.

The record is mutable on purpose: when something fails half-way (an exception in the estimator
after sampling, say), everything measured so far — gradient evaluations, seconds, diagnostics —
is still stored beside the ``error`` status, so a stored cost always counts all the work done.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from slt_bench.draws import Draws, chain_diagnostics, drift_z

# A posterior has mixed when the effective sample size of n L_n is at least MIN_ESS and its split
# R-hat at most MAX_RHAT (the thresholds of the reproduction page; Vehtari et al. 2021 ask for
# R-hat < 1.01 and ESS > 400 for final results, so these are the loose end of good practice).
MIN_ESS = 100.0
MAX_RHAT = 1.1
# ... and when the mean of n L_n does not move between the halves of the run by more than MAX_DRIFT_Z
# standard errors of the steadier half (draws.drift_z). Under stationarity that z is close to normal
# with an SD of about 1.1 (the SE estimates are noisy and the smaller one is taken), and its tails are
# a little heavier: over 34,376 replicates of stationary AR(1) chains (φ = 0.9, 4 × 600 draws) that
# pass the ESS rule, 19 had |z| > 4 and 1 had |z| > 5 (`python benchmarks/drift_check.py null`). So the
# limit is 5: about one false flag in 30,000 posteriors that mixed, while a climb that every chain
# shares (which R-hat cannot see) is caught once it moves the mean by 5 SE, whatever its size against
# the chains' spread, and whether it fills the run or its first tenth.
MAX_DRIFT_Z = 5.0
# Worst first: the status of a cell is the worst status of its posteriors.
SEVERITY = ("error", "nan", "budget_exceeded", "degenerate", "unmixed", "diverged", "point_estimate", "ok")
# Statuses after which λ̂ is still computed and stored (never counted as a success unless "ok").
ESTIMABLE = ("ok", "diverged", "unmixed", "degenerate")


@dataclass
class Outcome:
    """A cell's results so far; see the module docstring."""

    status: str = "ok"
    reason: str = ""
    rlct_hat: float = float("nan")
    se: float = float("nan")
    finite_target: float | None = None
    finite_status: str | None = None
    grad_evals: float = 0.0
    sample_s: float = 0.0
    score_s: float = 0.0
    betas: list[float] = field(default_factory=list)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    fit: dict[str, Any] = field(default_factory=dict)
    target_note: str = ""
    traces: list[np.ndarray] = field(default_factory=list)

    def worsen(self, status: str, reason: str) -> None:
        """Keep the worse of the current status and ``status`` (with its reason)."""
        if SEVERITY.index(status) < SEVERITY.index(self.status):
            self.status, self.reason = status, reason

    @contextmanager
    def timing(self, phase: str) -> Iterator[None]:
        """Add the seconds spent in the block to ``sample_s`` or ``score_s``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            if phase == "sample":
                self.sample_s += elapsed
            else:
                self.score_s += elapsed


def mixing(draws: Draws) -> tuple[float, float]:
    """(ESS, R-hat) of n L_n for one posterior, from the method's diagnostics or recomputed."""
    ess, rhat = draws.diagnostics.get("ess"), draws.diagnostics.get("rhat")
    if ess is None or rhat is None:
        if draws.n_loss.ndim != 2 or draws.n_loss.shape[1] < 4:
            return float("nan"), float("nan")
        found = chain_diagnostics(draws.n_loss)
        ess, rhat = found["ess"], found["rhat"]
    return float(ess), float(rhat)


def posterior_status(draws: Draws) -> tuple[str, str]:
    """The method's status, made ``unmixed`` when its chains did not mix: ESS of n L_n below
    :data:`MIN_ESS`, R-hat above :data:`MAX_RHAT`, or a drift between the halves of the run beyond
    :data:`MAX_DRIFT_Z` standard errors.

    A point estimate or a run with iid draws is judged on what it reports; a sampler whose n L_n is
    constant over every draw (a stuck chain) has no ESS and is unmixed.
    """
    if draws.status not in ("ok", "diverged"):
        return draws.status, draws.reason
    ess, rhat = mixing(draws)
    problems = []
    if not math.isfinite(ess):
        problems.append("ESS of n L_n not computable (constant n L_n or too few draws)")
    elif ess < MIN_ESS:
        problems.append(f"ESS of n L_n {ess:.0f} < {MIN_ESS:.0f}")
    if math.isfinite(rhat) and rhat > MAX_RHAT:
        problems.append(f"R-hat {rhat:.3f} > {MAX_RHAT}")
    drift = drift_z(draws.n_loss)
    if math.isfinite(drift) and abs(drift) > MAX_DRIFT_Z:
        problems.append(f"n L_n drifts between the halves of the run: z = {drift:+.1f} (|z| > {MAX_DRIFT_Z:g})")
    if problems:
        extra = f" (also {draws.reason})" if draws.reason else ""
        return "unmixed", "; ".join(problems) + extra
    return draws.status, draws.reason


def worst(statuses: Sequence[tuple[str, str]], label: Sequence[str]) -> tuple[str, str]:
    """The worst (status, reason) of several posteriors, the reason saying which one."""
    best = ("ok", "")
    for (status, reason), name in zip(statuses, label):
        if SEVERITY.index(status) < SEVERITY.index(best[0]):
            best = (status, f"{name}: {reason}" if reason else name)
    return best


TRACE_CHAINS = 4  # chains kept per posterior for the report's trace plots
TRACE_POINTS = 100  # points kept per chain (evenly thinned)


def trace_of(draws: Draws) -> np.ndarray:
    """n L_n of the first :data:`TRACE_CHAINS` chains, evenly thinned to :data:`TRACE_POINTS` points:
    what a trace plot needs, at a few kilobytes a posterior."""
    n_loss = np.asarray(draws.n_loss, dtype=np.float64)
    if n_loss.ndim != 2 or n_loss.size == 0:
        return np.zeros((0, 0))
    kept = n_loss[:TRACE_CHAINS]
    if kept.shape[1] > TRACE_POINTS:
        kept = kept[:, np.linspace(0, kept.shape[1] - 1, TRACE_POINTS).round().astype(int)]
    return kept


def describe_error(err: BaseException) -> str:
    """One line for a stored ``error``: the exception and where it was raised."""
    import traceback

    frames = traceback.extract_tb(err.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 2)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(err).__name__}: {err}{where}"[:600]


def summarise(draws: Draws, status: str, index: int) -> dict[str, Any]:
    """The stored diagnostics of one posterior: the method's, plus the status it got."""
    out = {k: v for k, v in draws.diagnostics.items()
           if isinstance(v, (int, float, str, bool, type(None), np.number)) or (isinstance(v, (list, tuple)) and len(v) <= 64)}
    drift = drift_z(draws.n_loss) if draws.status not in ("point_estimate",) else float("nan")
    if math.isfinite(drift):
        out["drift_z"] = drift
    out.update(posterior=index, status=status, draws=int(np.asarray(draws.n_loss).size),
               grad_evals=float(draws.grad_evals), wall_s=float(draws.wall_s))
    return out
