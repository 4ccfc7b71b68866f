"""The mode of a tempered posterior, by gradient descent in torch: what ``map`` reports and where
``laplace`` centres its Gaussian.

.. math::
    \\hat z = \\arg\\max_z\\; \\log p_\\beta(z) = -\\beta\\, n L_n(w(z)) + \\log\\varphi(w(z)) + \\log|dw/dz|

Full batch: L-BFGS with a strong-Wolfe line search (each closure call is one counted gradient of
n L_n). Minibatch: Adam on the unbiased minibatch estimate of n L_n (a b-point gradient counts
as b/n of one). The start (``init``) is the target's initial point (the truth or w*) moved by
N(0, 0.1²) noise (``near_truth``, the default: a singular truth is often a saddle of log p_β
where the gradient vanishes, such as w = 0 for y = w₁w₂x, and a descent started exactly there
never moves), the initial point itself (``truth``), or a draw from the prior (``prior``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slt_bench.target import TemperedTarget

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("near_truth", "truth", "prior")


@dataclass(frozen=True)
class ModeResult:
    z: np.ndarray  # (d,) sampler coordinates of the mode
    logp: float  # log p_β at the mode (up to the constant)
    grad_norm: float  # ||∇_z log p_β|| at the mode, full batch
    iterations: int
    converged: bool


def check_options(optimizer: str, init: str, batch_size: int | None) -> None:
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {optimizer!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}; got {init!r}")
    if batch_size is not None and optimizer == "lbfgs":
        raise ValueError("batch_size needs optimizer = 'adam' (L-BFGS is full batch)")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or absent, got {batch_size!r}")


def start_point(target: TemperedTarget, init: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 6007])
    if init == "truth":
        return target.initial_point()
    if init == "near_truth":
        return target.initial_point() + rng.normal(0.0, 0.1, target.dim)
    w = rng.normal(0.0, target.task.prior.std, target.dim)
    for j, lo, hi in target.task.prior.bounds:
        w[j] = rng.uniform(lo, hi)
    return target.task.prior.unconstrain(w)


def find_mode(target: TemperedTarget, optimizer: str = "lbfgs", steps: int = 500, lr: float = 1e-2,
              batch_size: int | None = None, init: str = "near_truth", seed: int = 0, tol: float = 1e-9) -> ModeResult:
    """Maximise log p_β from the start point; counts every gradient against the target's budget.

    ``tol``: stop when the full-batch gradient norm falls below tol·max(1, n) (L-BFGS).
    """
    import torch

    z = torch.tensor(start_point(target, init, seed), dtype=torch.float64, requires_grad=True)
    iterations = 0
    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS([z], lr=1.0, max_iter=steps, max_eval=int(steps * 1.25) + 1,
                                tolerance_grad=tol * max(1.0, target.n), tolerance_change=1e-12,
                                history_size=20, line_search_fn="strong_wolfe")

        def closure():
            nonlocal iterations
            opt.zero_grad()
            target.charge(1.0)
            logp, _ = target.logdensity_torch(z)
            loss = -logp
            loss.backward()
            iterations += 1
            return loss

        opt.step(closure)
    else:
        gen = torch.Generator().manual_seed(int(seed))
        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            batch = None
            if batch_size is not None and batch_size < target.n:
                batch = torch.randperm(target.n, generator=gen)[:batch_size]
            opt.zero_grad()
            target.charge(1.0 if batch is None else len(batch) / target.n)
            logp, _ = target.logdensity_torch(z, batch)
            (-logp).backward()
            opt.step()
            iterations += 1
    _, grad, _ = target.logdensity_and_grad_torch(z.detach())
    with torch.no_grad():
        logp, _ = target.logdensity_torch(z.detach())
    grad_norm = float(grad.norm())
    return ModeResult(z.detach().numpy().copy(), float(logp), grad_norm, iterations,
                      bool(np.isfinite(grad_norm) and grad_norm <= 1e-3 * max(1.0, target.n)))
