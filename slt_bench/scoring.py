"""Scores of one cell: error against the asymptotic λ and against the finite-n target.

``rel_error`` = (λ̂ − λ)/λ and ``z`` = (λ̂ − λ)/√(SE² + SE_ref²) against the task's λ (exact, or a
reference value with its own standard error SE_ref); ``finite_rel_error`` and ``finite_z`` against
what the same estimator gives with a perfect sampler on the same dataset and β grid (quadrature),
where that exists *and has converged*. That second pair isolates the sampler's own error from the
estimator's finite-n bias.

A score says how far an estimate is; whether it counts as a success is :func:`counts_as_success`:
status ``ok`` (sampled, mixed, estimated) and within k SE of the sharpest trusted target.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

# Finite-n targets a cell is scored against: quadrature that converged (``exact``), or a certified
# reference where two samplers agree (``certified``, see :mod:`slt_bench.reference`).
TRUSTED_TARGETS = ("exact", "certified")


def _rel(value: float, ref: float | None) -> float | None:
    if ref is None or ref == 0 or not (math.isfinite(value) and math.isfinite(ref)):
        return None
    return (value - ref) / abs(ref)


def _z(value: float, ref: float | None, se: float, ref_se: float | None = None) -> float | None:
    if ref is None or not (math.isfinite(value) and math.isfinite(se) and math.isfinite(ref)) or se <= 0:
        return None
    scale = math.hypot(se, ref_se or 0.0)
    return (value - ref) / scale


def score(rlct_hat: float, se: float, rlct: float | None, finite_target: float | None,
          finite_status: str | None = None, rlct_se: float | None = None) -> dict[str, Any]:
    """Errors against λ and, when the finite-n target is trusted (``exact`` or ``certified``), against it."""
    trusted = finite_target if finite_status in TRUSTED_TARGETS else None
    return {
        "rel_error": _rel(rlct_hat, rlct),
        "z": _z(rlct_hat, rlct, se, rlct_se),
        "finite_rel_error": _rel(rlct_hat, trusted),
        "finite_z": _z(rlct_hat, trusted, se),
    }


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def sharpest_z(row: Mapping[str, Any]) -> float | None:
    """z against the finite-n target where one was scored, else against λ (NaN counts as missing)."""
    for name in ("finite_z", "z"):
        if _present(row.get(name)):
            return float(row[name])
    return None


def counts_as_success(row: Mapping[str, Any], k: float = 3.0) -> bool:
    """Status ``ok`` and |z| ≤ k against the sharpest target; any other status never counts."""
    z = sharpest_z(row)
    return row.get("status") == "ok" and z is not None and math.isfinite(z) and abs(z) <= k


def target_note(multiplicity: int | None, kind: str, finite_status: str | None, n: int, beta: float) -> str:
    """Say which target a cell is scored against, and why, in words a reader can check."""
    parts = []
    if finite_status == "exact":
        parts.append("finite-n quadrature target (sampler error) and asymptotic λ")
    elif finite_status == "certified":
        parts.append("finite-n target from a certified reference (sampler error) and asymptotic λ")
    elif finite_status is not None:
        parts.append(f"finite-n quadrature target {finite_status.replace('_', ' ')}: scored against λ only")
    else:
        parts.append("asymptotic λ" if kind == "exact" else f"{kind} λ")
    if multiplicity and multiplicity > 1 and n * beta > 1:
        bias = (multiplicity - 1) / math.log(n * beta)
        parts.append(f"m={multiplicity}: estimators see ≈ λ − {bias:.2f} at this n")
    return "; ".join(parts)
