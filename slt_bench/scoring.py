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


# ---- the tempering identity: a check of a multi-β cell's posteriors against each other ------------------
#
# For any family of tempered posteriors p_β ∝ exp(−β n L_n) φ, at any n and whatever the model,
# d/dβ E_β[n L_n] = −Var_β[n L_n]. With u = 1/β and k(β) = β² Var_β[n L_n] this reads
# E_{β_i} − E_{β_{i+1}} = ∫ k du over [1/β_{i+1}, 1/β_i]: the drop of the posterior means between two
# neighbouring β of the grid equals the integral of the variance estimator's k over 1/β. The check compares
# the drop D_i (from the stored means) with the trapezoid T_i = Δu (k_i + k_{i+1})/2 (from the stored
# standard deviations; its error is Δu³ k''/12, second order in a grid whose k varies slowly) on a z scale:
#   SE(D_i)² = SE_i² + SE_{i+1}² (the posteriors' Monte Carlo SEs),
#   SE(k_j)² = (2 k_j² + 6 k_j)/ESS_j, the sampling variance of a variance when n L_n − min is
#   Gamma-distributed with shape k (excess kurtosis 6/k; the tempered posterior's asymptotic law of the
#   energy), with the ESS of n L_n for the effective number of draws.
# A posterior whose spread is not the one its neighbours' means imply (too hot, too cold, or not the tempered
# posterior at all) fails it; a sampler of the exact posteriors gives z ~ N(0, 1) (docs/accuracy.md measures
# that on smc, mala and nuts cells). A cell fails when some interval has |z| above the Bonferroni bound for a
# false alarm rate of IDENTITY_ALPHA per cell. A frozen chain (all draws equal) passes it trivially: the ESS
# and R-hat rules are what catch that.
IDENTITY_ALPHA = 1e-3
IDENTITY_STATUS = "inconsistent"


def identity_threshold(posteriors: int, alpha: float = IDENTITY_ALPHA) -> float:
    """|z| above which a cell with ``posteriors`` tempered posteriors fails the identity (Bonferroni over
    its ``posteriors − 1`` intervals, two-sided, false alarm rate ``alpha`` per cell)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(1 - alpha / (2 * max(posteriors - 1, 1)))


def tempering_identity(betas: Any, means: Any, mc_ses: Any, sds: Any, esss: Any) -> list[dict[str, float]] | None:
    """One record per pair of neighbouring β (sorted): the drop of the means ``drop`` ± ``drop_se``, the drop
    the variances imply ``implied`` ± ``implied_se``, and ``z``; None when a value needed is missing."""
    try:
        post = sorted(zip(*(list(map(float, v)) for v in (betas, means, mc_ses, sds, esss))))
    except (TypeError, ValueError):
        return None
    if len(post) < 2 or len(post) != len(betas) or not all(
            math.isfinite(x) for p in post for x in p) or any(b <= 0 or s < 0 or e <= 0 for b, _, s, _, e in post):
        return None
    k = [b * b * sd * sd for b, _, _, sd, _ in post]
    k_var = [(2 * kj * kj + 6 * kj) / e for kj, (*_, e) in zip(k, post)]
    out = []
    for i in range(len(post) - 1):
        (b0, m0, s0, _, _), (b1, m1, s1, _, _) = post[i], post[i + 1]
        du = 1 / b0 - 1 / b1
        drop, implied = m0 - m1, du * (k[i] + k[i + 1]) / 2
        drop_se, implied_se = math.hypot(s0, s1), du / 2 * math.sqrt(k_var[i] + k_var[i + 1])
        scale = math.hypot(drop_se, implied_se)
        if scale <= 0:
            return None
        out.append({"beta": b0, "beta_next": b1, "drop": drop, "drop_se": drop_se, "implied": implied,
                    "implied_se": implied_se, "z": (drop - implied) / scale})
    return out


def identity_of(row: Mapping[str, Any]) -> list[dict[str, float]] | None:
    """:func:`tempering_identity` of a stored multi-β cell (its β grid, the fit's means and SEs, and each
    posterior's SD and ESS of n L_n), or None when the cell has no such record."""
    fit, diags = row.get("fit") or {}, row.get("diagnostics") or []
    if row.get("estimator") != "multi-beta" or not isinstance(fit, Mapping) or not isinstance(diags, list):
        return None
    if not all(isinstance(d, Mapping) for d in diags):
        return None
    return tempering_identity(row.get("betas") or [], fit.get("means") or [], fit.get("mc_ses") or [],
                              [d.get("sd") for d in diags], [d.get("ess") for d in diags])


def _diagnostic_values(row: Mapping[str, Any], field: str) -> list[float]:
    """The finite numbers (not booleans) stored under ``field`` in the cell's per-posterior diagnostics."""
    diags = row.get("diagnostics") or []
    if not isinstance(diags, list):
        return []
    return [d[field] for d in diags if isinstance(d, Mapping) and isinstance(d.get(field), (int, float))
            and not isinstance(d.get(field), bool) and math.isfinite(d[field])]


def noise_heat_of(row: Mapping[str, Any]) -> float | None:
    """The largest ``noise_heat`` a minibatch method stored for the cell's posteriors (the excess of
    E[β n L_n] its gradient noise causes; for the local estimator, added to λ̂), or None without one."""
    heats = _diagnostic_values(row, "noise_heat")
    return max(heats) if heats else None


def end_accept_of(row: Mapping[str, Any]) -> float | None:
    """The smallest ``end_accept`` ``sgld`` stored for the cell's posteriors (its step rule's MALA
    acceptance of ε re-evaluated where the chains ended; the rule tuned it to ``target_accept`` at the
    start), or None without one."""
    values = _diagnostic_values(row, "end_accept")
    return min(values) if values else None


# ---- the step against the curvature where an SG-MCMC run's chains ended ---------------------------------
#
# ``sgld`` and the SG-MCMC family store end_eps_kappa, the median over chains of the dimensionless step s along
# the stiffest direction at each chain's last point (ε κ̂_max for the Langevin rules, in the preconditioner's
# metric for RMSProp and Adam; ε² κ̂_max for SGHMC and SGNHT), end_stiff_limit, the rule's own limit s* (where its
# recursion, on a Gaussian direction of that curvature, has twice the target's stationary variance), and
# end_stiffness, the median over chains of s / s* (slt_bench.methods._stiffness has the limits and why medians).
# For sgld the limit is 2: the step's deterministic part maps x to (1 − εκ/2) x, which past 2 overshoots and flips
# the sign of the stiffest coordinate every step (LM and Euler are unstable at 4). A run whose chains ended past
# their limit is no longer a discretisation of the diffusion in that direction; the long deep-linear sgld runs at
# γ = 1 end at 3.4–4.1 (docs/scale.md), their step rule having put the start at 0.01–0.03. A cell with a
# posterior whose end_stiffness is ≥ 1 is shown ``stiff``. Rows stored before the limit was stored (sgld only)
# have end_eps_kappa alone, and are read against 2.
STIFF_LIMIT = 2.0
STIFF_STATUS = "stiff"


def _fmt_or_dash(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def end_eps_kappa_of(row: Mapping[str, Any]) -> float | None:
    """The largest ``end_eps_kappa`` (a median over chains) stored for the cell's posteriors, or None
    without one."""
    values = _diagnostic_values(row, "end_eps_kappa")
    return max(values) if values else None


def end_stiffness_of(row: Mapping[str, Any]) -> float | None:
    """The largest ``end_stiffness`` (the median over chains of the step against the rule's limit) stored for
    the cell's posteriors — ``end_eps_kappa`` / :data:`STIFF_LIMIT` for a posterior that stored no limit (sgld
    rows from before the limit was stored) — or None without one."""
    diags = row.get("diagnostics") or []
    values = []
    for d in diags if isinstance(diags, list) else []:
        if not isinstance(d, Mapping):
            continue
        value = d.get("end_stiffness")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            kappa = d.get("end_eps_kappa")
            value = kappa / STIFF_LIMIT if isinstance(kappa, (int, float)) and not isinstance(kappa, bool) else None
        if value is not None and math.isfinite(value):
            values.append(float(value))
    return max(values) if values else None


def reported(rows: Any) -> list[dict[str, Any]]:
    """The rows as reports show them: an ``ok`` multi-β cell whose posteriors fail the tempering identity
    becomes ``inconsistent`` (``stored_status`` keeps ``ok``; the store is not changed), and every row
    gains ``identity_z``, the largest |z| of its intervals (None without a check), ``noise_heat``
    (:func:`noise_heat_of`), ``end_accept`` (:func:`end_accept_of`) and ``end_eps_kappa``
    (:func:`end_eps_kappa_of`) and ``end_stiffness`` (:func:`end_stiffness_of`); an ``ok`` cell whose
    ``end_stiffness`` is at least 1 becomes ``stiff``. Idempotent."""
    out = []
    for row in rows:
        if "identity_z" in row:
            out.append(row)
            continue
        row = dict(row)
        checks = identity_of(row)
        row["identity_z"] = max(abs(c["z"]) for c in checks) if checks else None
        row["noise_heat"] = noise_heat_of(row)
        row["end_accept"] = end_accept_of(row)
        row["end_eps_kappa"] = end_eps_kappa_of(row)
        row["end_stiffness"] = end_stiffness_of(row)
        row["stored_status"] = row.get("status")
        if checks and row.get("status") == "ok":
            limit = identity_threshold(len(checks) + 1)
            worst = max(checks, key=lambda c: abs(c["z"]))
            if abs(worst["z"]) > limit:
                row["status"] = IDENTITY_STATUS
                row["reason"] = (
                    f"tempering identity: between β = {worst['beta']:.4g} and {worst['beta_next']:.4g} the mean of "
                    f"n L_n drops by {worst['drop']:.4g} ± {worst['drop_se']:.2g}, the variances imply "
                    f"{worst['implied']:.4g} ± {worst['implied_se']:.2g} (z = {worst['z']:+.1f}, limit ±{limit:.2f})")
        stiff = row["end_stiffness"]
        if stiff is not None and stiff >= 1.0 and row.get("status") == "ok":
            row["status"] = STIFF_STATUS
            row["reason"] = (
                f"the median chain ended where the step along the stiffest direction is {stiff:.3g} × the method's "
                f"limit (εκ end {_fmt_or_dash(row['end_eps_kappa'])}), past which its recursion at least doubles the variance "
                f"there, so λ̂ carries a discretisation bias the step rule did not allow for; a smaller --set "
                f"step_size, or an adjusted sampler (mala), is the check")
        out.append(row)
    return out
