"""Scores of one cell: error against the asymptotic λ and against the finite-n target.

``rel_error`` = (λ̂ − λ)/λ and ``z`` = (λ̂ − λ)/SE against the task's λ (exact or reference);
``finite_rel_error`` and ``finite_z`` against what the same estimator gives with a perfect sampler
on the same dataset and β grid (quadrature), where that exists. That second pair isolates the
sampler's own error from the estimator's finite-n bias.
"""

from __future__ import annotations

import math
from typing import Any


def _rel(value: float, ref: float | None) -> float | None:
    if ref is None or ref == 0 or not math.isfinite(value):
        return None
    return (value - ref) / abs(ref)


def _z(value: float, ref: float | None, se: float) -> float | None:
    if ref is None or not (math.isfinite(value) and math.isfinite(se)) or se <= 0:
        return None
    return (value - ref) / se


def score(rlct_hat: float, se: float, rlct: float | None, finite_target: float | None) -> dict[str, Any]:
    return {
        "rel_error": _rel(rlct_hat, rlct),
        "z": _z(rlct_hat, rlct, se),
        "finite_rel_error": _rel(rlct_hat, finite_target),
        "finite_z": _z(rlct_hat, finite_target, se),
    }


def target_note(multiplicity: int | None, kind: str, has_finite: bool, n: int, beta: float) -> str:
    """Say which target a cell is scored against, and why, in words a reader can check."""
    parts = []
    if has_finite:
        parts.append("finite-n quadrature target (sampler error) and asymptotic λ")
    else:
        parts.append("asymptotic λ" if kind == "exact" else f"{kind} λ")
    if multiplicity and multiplicity > 1:
        bias = (multiplicity - 1) / math.log(n * beta)
        parts.append(f"m={multiplicity}: estimators see ≈ λ − {bias:.2f} at this n")
    return "; ".join(parts)
