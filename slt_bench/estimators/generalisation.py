"""The learning coefficient of generalisation (seed paper §5): G(n) and its slope against 1/n.

.. math::
    G(n) = \\frac1{n'}\\sum_{j\\le n'} \\big[\\log q(y'_j\\mid x'_j) - \\log \\hat q_n(y'_j\\mid x'_j)\\big],\\qquad
    \\hat q_n(y\\mid x) = \\frac1S\\sum_{s\\le S} p(y\\mid x, w_s)

on a held-out set of n' points from the truth q. The predictive is formed by ``logsumexp`` over
the S draws in float64, never by exp-then-log (the seed paper's float32 code underflowed to
infinite errors). The mean of G(n) over dataset draws is regressed on 1/n,
E_n G(n) ≈ λ/n (+ c without realisability), and the slope is the learning coefficient.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from slt_bench.models import log_likelihood
from slt_bench.models.ops import numpy_ops


def log_predictive(model: Any, noise_std: float, params: np.ndarray, x: np.ndarray, y: np.ndarray,
                   chunk: int = 256) -> np.ndarray:
    """log q̂(y_j | x_j) = logsumexp_s log p(y_j | x_j, w_s) − log S, shape (n',); params (S, d).

    The running logsumexp over chunks of draws keeps memory at chunk × n' floats.
    """
    params = np.asarray(params, dtype=np.float64).reshape(-1, model.n_params)
    total = np.full(y.shape[0], -np.inf)
    for start in range(0, params.shape[0], chunk):
        ll = log_likelihood(numpy_ops(), model, params[start:start + chunk], x, y, noise_std)  # (c, n')
        total = np.logaddexp(total, _logsumexp0(ll))
    return total - math.log(params.shape[0])


def _logsumexp0(a: np.ndarray) -> np.ndarray:
    top = np.max(a, axis=0)
    safe = np.where(np.isfinite(top), top, 0.0)
    return safe + np.log(np.sum(np.exp(a - safe), axis=0))


def generalisation_error(log_truth: np.ndarray, log_pred: np.ndarray) -> float:
    """G = mean(log q − log q̂) over the test set (nats per point)."""
    return float(np.mean(log_truth - log_pred))


def fit_slope(ns: Sequence[int], errors: np.ndarray, intercept: bool = False) -> dict[str, Any]:
    """Regress the mean of G(n) over dataset draws on 1/n.

    ``errors``: (len(ns), R), NaN for a failed draw (left out of its mean). OLS on the k means
    (the seed paper's fit), through the origin when ``intercept`` is False; the SE of the slope
    is the OLS one from the residuals (k − p degrees of freedom). ``r2`` is the coefficient of
    determination about the mean of the G means (scikit-learn's convention, also without an
    intercept). ``se_replicates`` is the slope's SE propagated from the spread across draws
    (the per-n standard errors), which does not rely on the 1/n form being exact.
    """
    errors = np.asarray(errors, dtype=np.float64)
    inv_n = 1.0 / np.asarray(ns, dtype=np.float64)
    counts = np.isfinite(errors).sum(1)
    keep = counts > 0
    g_mean = np.full(len(ns), np.nan)
    g_se = np.full(len(ns), np.nan)
    for i in np.nonzero(keep)[0]:
        row = errors[i][np.isfinite(errors[i])]
        g_mean[i] = row.mean()
        g_se[i] = row.std(ddof=1) / math.sqrt(len(row)) if len(row) > 1 else np.nan
    out: dict[str, Any] = {"ns": [int(v) for v in ns], "g_mean": g_mean.tolist(), "g_se": g_se.tolist(),
                           "replicates": counts.tolist(), "intercept_fitted": bool(intercept)}
    x, g = inv_n[keep], g_mean[keep]
    p = 2 if intercept else 1
    if len(x) <= p:
        out.update(slope=float("nan"), se=float("nan"), intercept=float("nan"), r2=float("nan"),
                   se_replicates=float("nan"))
        return out
    design = np.column_stack([x, np.ones_like(x)]) if intercept else x[:, None]
    coef, *_ = np.linalg.lstsq(design, g, rcond=None)
    resid = g - design @ coef
    sigma2 = float(resid @ resid) / (len(x) - p)
    cov = sigma2 * np.linalg.inv(design.T @ design)
    ss_tot = float(((g - g.mean()) ** 2).sum())
    # the slope is a linear combination a·g of the means: propagate their own standard errors
    weights = np.linalg.pinv(design)[0]
    se_rep = g_se[keep]
    out.update(
        slope=float(coef[0]), se=float(math.sqrt(cov[0, 0])),
        intercept=float(coef[1]) if intercept else 0.0,
        r2=float(1.0 - float(resid @ resid) / ss_tot) if ss_tot > 0 else float("nan"),
        se_replicates=float(math.sqrt(np.sum((weights * se_rep) ** 2))) if np.all(np.isfinite(se_rep)) else float("nan"),
    )
    return out
