"""Laplace: a Gaussian at the mode of the tempered posterior, through laplace-torch.

.. math::
    q_\\beta(w) = \\mathcal N\\big(\\hat w_\\beta,\\; (\\beta\\, \\nabla^2 n L_n(\\hat w_\\beta) + \\Lambda_0)^{-1}\\big)

with ∇²(n L_n) the generalised Gauss–Newton matrix of the *summed* loss n L_n (not of the mean
loss, the seed paper's slip that inflated its covariance about n/2-fold) and Λ₀ the prior
precision, plus γI when the posterior is localised at w* (the local estimator's
γ/2 ||w − w*||² term is part of the potential, so it is part of the precision too). laplace-torch is called with ``temperature = 1/β`` and ``sigma_noise = σ``, so its
posterior precision is exactly the one above. ``subset`` picks all weights or the last layer,
``hessian`` the structure (full, diag, kron). Draws from q_β feed the same estimators as any
sampler, which shows how far Laplace's implied λ = d/2 is from the true one.

Tasks laplace-torch cannot express (density models, priors that are not Gaussian) use the exact
Hessian of −log p_β(z) from torch autograd, full structure only.

A likelihood Hessian with eigenvalues below ``rank_tol`` × its largest (the flat directions of a
singular model) gives status ``degenerate``: the Gaussian is then held up only by the prior in
those directions. The reason names the rank and the λ Laplace implies (d/2); the draws are kept
and λ̂ is still computed, so the report shows what such a method would claim. A precision that
is not positive definite (only possible with the exact Hessian) leaves no Gaussian to draw from:
status ``degenerate`` without draws.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from slt_bench.draws import Draws
from slt_bench.errors import BudgetExceeded, SltBenchError
from slt_bench.methods._mode import check_options, find_mode
from slt_bench.methods._torch_modules import build_module, n_layers
from slt_bench.methods._validate import positive_ints
from slt_bench.target import Budget, TemperedTarget

SUBSETS = ("all", "last_layer")
HESSIANS = ("full", "diag", "kron")


@dataclass(frozen=True)
class Laplace:
    subset: str = "all"
    hessian: str = "full"
    samples: int = 2000
    optimizer: str = "lbfgs"
    steps: int = 500
    init: str = "near_truth"
    rank_tol: float = 1e-8
    keep_params: bool = False

    name: ClassVar[str] = "laplace"

    def __post_init__(self) -> None:
        if self.subset not in SUBSETS:
            raise ValueError(f"subset must be one of {', '.join(SUBSETS)}; got {self.subset!r}")
        if self.hessian not in HESSIANS:
            raise ValueError(f"hessian must be one of {', '.join(HESSIANS)}; got {self.hessian!r}")
        positive_ints(self, "samples", "steps")
        check_options(self.optimizer, self.init, None)
        if not (isinstance(self.rank_tol, (int, float)) and 0 < self.rank_tol < 1):
            raise ValueError(f"rank_tol must lie in (0, 1), got {self.rank_tol!r}")

    def check_task(self, task: Any) -> None:
        """Options the task's model cannot honour fail before anything runs, naming what is valid."""
        exact_path = _needs_exact_hessian(task)
        if exact_path and (self.subset != "all" or self.hessian != "full"):
            why = "a density model" if task.model.kind == "density" else "a prior that is not Gaussian"
            raise SltBenchError(f"laplace on {task.key}: {why} uses the exact autograd Hessian; "
                                f"valid: subset = all, hessian = full (got subset = {self.subset}, hessian = {self.hessian})")
        layers = n_layers(task.model)
        if self.subset == "last_layer" and layers < 2:
            raise SltBenchError(f"laplace on {task.key}: subset 'last_layer' needs a network of at least two layers "
                                f"and this model has {layers}; valid subset here: all")
        if self.hessian == "kron" and type(task.model).__name__ != "Dense":
            raise SltBenchError(f"laplace on {task.key}: hessian 'kron' needs a layered network (Dense); "
                                f"this model is {type(task.model).__name__}; valid here: full, diag")

    def sample(self, target: TemperedTarget, budget: Budget, seed: int) -> Draws:
        import torch

        self.check_task(target.task)
        start = time.perf_counter()
        with target.metered(budget):
            try:
                mode = find_mode(target, self.optimizer, self.steps, init=self.init, seed=seed)
                if _needs_exact_hessian(target.task):
                    target.charge(float(target.dim))  # d Hessian-vector products ≈ d gradients
                    fitted = _exact_gaussian(target, mode.z)
                else:
                    target.charge(float(target.task.model.out_dim))  # GGN: one Jacobian pass per output
                    fitted = _laplace_torch_gaussian(target, mode.z, self.subset, self.hessian)
            except BudgetExceeded as err:
                return Draws.without_draws("budget_exceeded", str(err), target.grad_evals,
                                           time.perf_counter() - start)
            grad_evals = target.grad_evals
        eig = fitted["lik_eigs"]
        d_free = len(eig)
        rank = int((eig > self.rank_tol * max(float(eig.max()), 1e-300)).sum())
        diag: dict[str, Any] = {
            "mode_n_loss": float(target.n_loss_numpy(target.constrain_numpy(mode.z))),
            "mode_grad_norm": mode.grad_norm, "mode_iterations": mode.iterations, "backend": fitted["backend"],
            "free_params": d_free, "hessian_rank": rank, "laplace_rlct": d_free / 2,
            "min_eig_ratio": float(eig.min() / eig.max()) if eig.max() > 0 else float("nan"),
        }
        status, reason = "ok", ""
        if rank < d_free:
            status = "degenerate"
            reason = (f"β∇²(n L_n) at the mode has rank {rank} of {d_free} (eigenvalues below {self.rank_tol:g} × the "
                      f"largest): the model is singular there; Laplace implies λ = d/2 = {d_free / 2:g}")
        if fitted["sample"] is None:
            return Draws.without_draws("degenerate", fitted["reason"], grad_evals, time.perf_counter() - start, diag)
        gen = torch.Generator().manual_seed(int(seed))
        w = fitted["sample"](self.samples, gen)  # (S, d) full parameter vectors
        n_loss = np.asarray(target.n_loss_numpy(w), dtype=np.float64).reshape(1, -1)
        if not np.isfinite(n_loss).all():
            status, reason = "nan", f"n L_n not finite at {int((~np.isfinite(n_loss)).sum())} Laplace draws"
        diag["mean"] = float(np.mean(n_loss))
        diag["sd"] = float(np.std(n_loss, ddof=1))
        diag["ess"] = float(self.samples)  # independent draws
        return Draws(n_loss, grad_evals, time.perf_counter() - start, status, reason, diag,
                     w.reshape(1, self.samples, -1) if self.keep_params else None)


def _needs_exact_hessian(task: Any) -> bool:
    prior = task.prior
    return task.model.kind == "density" or bool(prior.bounds) or bool(prior.exponents and any(prior.exponents))


def _laplace_torch_gaussian(target: TemperedTarget, z_mode: np.ndarray, subset: str, hessian: str) -> dict[str, Any]:
    """Fit laplace-torch at the mode (no bounded coordinates on this path, so z = w)."""
    import torch
    from laplace import Laplace as make_laplace

    task = target.task
    module = build_module(task.model, z_mode)
    x = torch.as_tensor(target.data.x, dtype=torch.float64)
    y = torch.as_tensor(target.data.y, dtype=torch.float64)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=min(target.n, 4096))
    default_dtype = torch.get_default_dtype()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # laplace-torch allocates its curvature buffers in the default dtype: float64 throughout
        torch.set_default_dtype(torch.float64)
        try:
            # the Gaussian prior N(0, s²I) and the localisation γ/2||w − w*||² add (1/s² + γ)I to the
            # precision; the mode (found on the full potential) already accounts for both centres
            la = make_laplace(module, "regression", subset_of_weights=subset, hessian_structure=hessian,
                              sigma_noise=task.noise_std, prior_precision=1.0 / task.prior.std**2 + target.gamma,
                              temperature=1.0 / target.beta)
            la.fit(loader)
        finally:
            torch.set_default_dtype(default_dtype)
    h = la.H
    if hasattr(h, "to_matrix"):
        h = h.to_matrix()
    elif h.dim() == 1:
        h = torch.diag(h)
    lik = target.beta * h.detach().double() / task.noise_std**2  # β ∇²(n L_n)
    eigs = np.linalg.eigvalsh(0.5 * (lik.numpy() + lik.numpy().T))
    n_free = la.n_params
    w_mode = torch.as_tensor(z_mode, dtype=torch.float64)

    def sample(count: int, gen: Any) -> np.ndarray:
        draws = la.sample(count, generator=gen).detach().double()
        if n_free == target.dim:
            return draws.numpy()
        full = w_mode.expand(count, -1).clone()  # last layer: earlier weights stay at the mode
        full[:, target.dim - n_free:] = draws
        return full.numpy()

    precision = la.posterior_precision
    if hasattr(precision, "to_matrix"):
        precision = precision.to_matrix()
    elif precision.dim() == 1:
        precision = torch.diag(precision)
    return {"lik_eigs": eigs, "sample": sample, "backend": f"laplace-torch {type(la).__name__}",
            "precision": precision.detach().double().numpy()}


def _exact_gaussian(target: TemperedTarget, z_mode: np.ndarray) -> dict[str, Any]:
    """N(ẑ, P⁻¹) with P = −∇²_z log p_β(ẑ) from autograd, in sampler coordinates z."""
    import torch
    from torch.autograd.functional import hessian

    z = torch.as_tensor(z_mode, dtype=torch.float64)
    precision = -hessian(lambda v: target.logdensity_torch(v)[0], z)
    lik = target.beta * hessian(lambda v: target.n_loss_torch(target.task.prior.constrain(_ops(), v)[0]), z)
    eigs = np.linalg.eigvalsh(0.5 * (lik.numpy() + lik.numpy().T))
    out: dict[str, Any] = {"lik_eigs": eigs, "backend": "torch.autograd exact Hessian", "sample": None,
                           "precision": precision.numpy()}
    precision = 0.5 * (precision + precision.T)
    try:
        chol = torch.linalg.cholesky(precision)
    except torch.linalg.LinAlgError:
        smallest = float(torch.linalg.eigvalsh(precision)[0])
        out["reason"] = (f"−∇² log p_β at the mode is not positive definite (smallest eigenvalue {smallest:.3g}): "
                         f"no Gaussian to draw from; Laplace implies λ = d/2 = {target.dim / 2:g}")
        return out

    def sample(count: int, gen: Any) -> np.ndarray:
        eps = torch.randn(count, target.dim, generator=gen, dtype=torch.float64)
        # z = ẑ + L⁻ᵀ ε has covariance (L Lᵀ)⁻¹ = P⁻¹
        dz = torch.linalg.solve_triangular(chol.T, eps.T, upper=True).T
        return target.constrain_numpy((z + dz).numpy())

    out["sample"] = sample
    return out


def _ops():
    from slt_bench.models.ops import torch_ops

    return torch_ops()
