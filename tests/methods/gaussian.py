"""A Gaussian posterior with a closed-form mean and covariance, and the check that draws match it;
shared by the SG-MCMC family's tests and the devinterp method's."""

from __future__ import annotations

import numpy as np
from numpyro.diagnostics import effective_sample_size


def gaussian_posterior(catalog, beta=0.5):
    """regular/d2 at β (n = 1000, dataset seed 3): (task, data, β, mean, covariance)."""
    task = catalog.get("regular/d2")
    data = task.dataset(1000, 3)
    x, y = data.x, data.y[:, 0]
    precision = beta * x.T @ x / task.noise_std**2 + np.eye(2) / task.prior.std**2
    return task, data, beta, np.linalg.solve(precision, beta * x.T @ y), np.linalg.inv(precision)


def conjugate(task, data, beta, centre=None, gamma=0.0):
    """(E_β[n L_n], log ∫ φ(w) e^{−β n L_n(w) − γ/2 ||w − w*||²} dw) in closed form for y = wᵀx + ε,
    ε ~ N(0, σ²), φ = N(0, s² I) normalised. With n L_n = ½ wᵀAw − bᵀw + c (A = XᵀX/σ², b = Xᵀy/σ²,
    c = yᵀy/2σ² + n/2 log 2πσ²), P = βA + (1/s² + γ) I and m = P⁻¹(βb + γw*):
    log Z = −βc − γ/2 ||w*||² − ½ log det(s²P) + ½ (βb + γw*)ᵀm and
    E_β[n L_n] = ½ tr(AP⁻¹) + ½ mᵀAm − bᵀm + c."""
    import math

    x, y, sigma, s = data.x, data.y[:, 0], task.noise_std, task.prior.std
    a, b = x.T @ x / sigma**2, x.T @ y / sigma**2
    c = y @ y / (2 * sigma**2) + 0.5 * len(y) * math.log(2 * math.pi * sigma**2)
    w0 = np.zeros(len(b)) if centre is None else np.asarray(centre, dtype=float)
    p = beta * a + (1 / s**2 + gamma) * np.eye(len(b))
    h = beta * b + gamma * w0
    m = np.linalg.solve(p, h)
    log_z = -beta * c - 0.5 * gamma * w0 @ w0 - 0.5 * np.linalg.slogdet(s**2 * p)[1] + 0.5 * h @ m
    mean = 0.5 * np.trace(np.linalg.solve(p, a)) + 0.5 * m @ a @ m - b @ m + c
    return float(mean), float(log_z)


def assert_moments(params, mean, cov):
    """Draws (chains, draws, 2) have the stationary mean and variance within 3 Monte Carlo SE per
    coordinate: SE = sd/√ESS for the mean and var·√(2/ESS) for the variance (the SE of a sample
    variance of ESS independent Gaussian draws), ESS from numpyro; at least 30 effective draws."""
    ess = np.array([effective_sample_size(params[..., j]) for j in range(2)])
    assert np.all(ess > 30), ess
    flat = params.reshape(-1, 2)
    z_mean = (flat.mean(0) - mean) / np.sqrt(np.diag(cov) / ess)
    z_var = (flat.var(0) - np.diag(cov)) / (np.diag(cov) * np.sqrt(2 / ess))
    assert np.all(np.abs(z_mean) < 3) and np.all(np.abs(z_var) < 3), (z_mean, z_var, ess)
