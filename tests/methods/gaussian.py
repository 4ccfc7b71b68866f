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
