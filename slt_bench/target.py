"""The tempered target: the one place where the potential of every method is defined.

.. math::
    \\log p_\\beta(w) = -\\beta\\, n L_n(w) + \\log\\varphi(w) - \\frac{\\gamma}{2}\\lVert w - w^*\\rVert^2

The prior is not tempered; the localisation term is present only when γ > 0. Methods work in
unconstrained coordinates z (w = w(z), identity except on uniformly distributed coordinates,
see :class:`slt_bench.tasks.Prior`), and the log density in z adds log |dw/dz|.

The target counts gradient evaluations of n L_n (a minibatch gradient counts as batch/n of one)
and raises :class:`BudgetExceeded` when a method asks for more than its budget.
For linear models (f = P(w) x) n L_n comes from sufficient statistics XᵀX, XᵀY, YᵀY, so a
full-batch gradient costs O(parameters), not O(n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from contextlib import contextmanager
from functools import cached_property
from typing import Any, Callable, Iterator

import numpy as np

from slt_bench.errors import BudgetExceeded, SltBenchError
from slt_bench.models import SufficientStats, n_loss, n_loss_from_stats
from slt_bench.models.ops import jax_ops, numpy_ops, torch_ops
from slt_bench.tasks import Dataset, Task


@dataclass(frozen=True)
class Budget:
    """A cap on gradient evaluations of n L_n (full-batch equivalents) for one posterior."""

    grad_evals: float

    def __post_init__(self) -> None:
        if not (self.grad_evals > 0 and math.isfinite(self.grad_evals)):
            raise SltBenchError(f"budget must be a positive number of gradient evaluations, got {self.grad_evals}")


class TemperedTarget:
    """p_β(w | D_n) ∝ exp(−β n L_n(w)) φ(w) [exp(−γ/2 ||w − w*||²)] for one task and dataset."""

    def __init__(
        self,
        task: Task,
        data: Dataset,
        beta: float,
        centre: np.ndarray | tuple[float, ...] | None = None,
        gamma: float = 0.0,
        use_stats: bool = True,
    ) -> None:
        if not (beta > 0 and math.isfinite(beta)):
            raise SltBenchError(f"beta must be a positive finite number, got {beta}")
        if gamma < 0 or not math.isfinite(gamma):
            raise SltBenchError(f"gamma must be a non-negative finite number, got {gamma}")
        if gamma > 0 and centre is None:
            raise SltBenchError("a localised target (gamma > 0) needs a centre w*")
        self.task, self.data, self.beta, self.gamma = task, data, float(beta), float(gamma)
        self.centre = None if centre is None else np.asarray(centre, dtype=np.float64)
        self.budget: Budget | None = None
        self.streamed = bool(getattr(data, "streamed", False))
        if self.streamed and not task.model.is_linear:
            raise SltBenchError(f"{task.key}: streamed data needs a linear model (sufficient statistics)")
        self.use_stats = bool((use_stats or self.streamed) and task.model.is_linear)
        self.grad_evals = 0.0

    # ---- bookkeeping -------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.task.n_params

    @property
    def n(self) -> int:
        return self.data.n

    def charge(self, grad_evals: float) -> None:
        """Record gradient evaluations; raise BudgetExceeded (without recording) past the budget."""
        if self.budget is not None and self.grad_evals + grad_evals > self.budget.grad_evals + 1e-9:
            raise BudgetExceeded(
                f"{self.grad_evals + grad_evals:g} gradient evaluations requested, budget {self.budget.grad_evals:g}"
            )
        self.grad_evals += grad_evals

    def spend(self, grad_evals: float) -> None:
        """Record gradient evaluations already done (a compiled chunk that has run), then raise
        BudgetExceeded if the total is past the budget: the overshoot is counted, not dropped."""
        self.grad_evals += grad_evals
        if self.budget is not None and self.grad_evals > self.budget.grad_evals + 1e-9:
            raise BudgetExceeded(f"{self.grad_evals:g} gradient evaluations done, budget {self.budget.grad_evals:g}")

    @contextmanager
    def metered(self, budget: Budget | None) -> Iterator[None]:
        """Count from zero under ``budget`` for the duration of one method call."""
        previous, self.budget, self.grad_evals = self.budget, budget, 0.0
        try:
            yield
        finally:
            self.budget = previous

    def remaining(self) -> float:
        return math.inf if self.budget is None else self.budget.grad_evals - self.grad_evals

    def initial_point(self) -> np.ndarray:
        """Where chains start, in z coordinates: the centre if localised, else w* or the truth."""
        if self.centre is not None:
            w = self.centre
        else:
            w = np.asarray(self.task.w_star if self.task.w_star is not None else self.task.truth)
        w = np.array(w, dtype=np.float64)
        prior = self.task.prior
        if prior.exponents:  # φ ∝ |w_j|^h vanishes at 0: start a little off it, where log φ is finite
            for j, h in enumerate(prior.exponents):
                if h and w[j] == 0.0:
                    w[j] = 1e-2 * prior.std
        return prior.unconstrain(w)

    def constrain_numpy(self, z: np.ndarray) -> np.ndarray:
        return self.task.prior.constrain(numpy_ops(), np.asarray(z, dtype=np.float64))[0]

    # ---- NumPy ----------------------------------------------------------------------------
    @cached_property
    def _stats_numpy(self) -> SufficientStats:
        if self.streamed:
            return self.data.stats()  # accumulated chunk by chunk, never the whole design matrix
        x, y = self.data.x, self.data.y
        return SufficientStats(x.T @ x, x.T @ y, float((y**2).sum()), self.n, y.shape[1])

    def n_loss_numpy(self, w: np.ndarray) -> np.ndarray:
        """n L_n(w) for w (..., d), float64, no gradient and not counted."""
        w = np.asarray(w, dtype=np.float64)
        if self.use_stats:
            return n_loss_from_stats(numpy_ops(), self.task.model, w, self._stats_numpy, self.task.noise_std)
        return n_loss(numpy_ops(), self.task.model, w, self.data.x, self.data.y, self.task.noise_std)

    # ---- torch ----------------------------------------------------------------------------
    @cached_property
    def _torch_data(self) -> dict[str, Any]:
        import torch

        as_t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
        out: dict[str, Any] = {} if self.streamed else {"x": as_t(self.data.x), "y": as_t(self.data.y)}
        if self.use_stats:
            s = self._stats_numpy
            out["stats"] = SufficientStats(as_t(s.xtx), as_t(s.xty), s.yty, s.n, s.out_dim)
        if self.centre is not None:
            out["centre"] = as_t(self.centre)
        return out

    def n_loss_torch(self, w: Any, batch: Any = None) -> Any:
        """n L_n(w) for a torch tensor w (..., d); with ``batch`` (indices), the unbiased
        minibatch estimate (n/b) Σ_{i∈batch} −log p(y_i | x_i, w)."""
        td, model, sigma = self._torch_data, self.task.model, self.task.noise_std
        if batch is None:
            if self.use_stats:
                return n_loss_from_stats(torch_ops(), model, w, td["stats"], sigma)
            return n_loss(torch_ops(), model, w, td["x"], td["y"], sigma)
        x, y = td["x"][batch], td["y"][batch]
        return n_loss(torch_ops(), model, w, x, y, sigma) * (self.n / len(batch))

    def logdensity_torch(self, z: Any, batch: Any = None) -> tuple[Any, Any]:
        """(log p_β(z) up to a constant, n L_n(w(z))) for z (..., d); differentiable in z."""
        ops = torch_ops()
        w, log_jac = self.task.prior.constrain(ops, z)
        nl = self.n_loss_torch(w, batch)
        logp = -self.beta * nl + self.task.prior.log_density(ops, w) + log_jac
        if self.gamma > 0:
            logp = logp - 0.5 * self.gamma * ((w - self._torch_data["centre"]) ** 2).sum(-1)
        return logp, nl

    def logdensity_and_grad_torch(self, z: Any, batch: Any = None) -> tuple[Any, Any, Any]:
        """(log p, ∇_z log p, n L_n) for a batch of chains z (C, d); charges C (× b/n) evaluations."""
        import torch

        chains = z.shape[0] if z.dim() > 1 else 1
        self.charge(chains * (1.0 if batch is None else len(batch) / self.n))
        z = z.detach().requires_grad_(True)
        with torch.enable_grad():
            logp, nl = self.logdensity_torch(z, batch)
            (grad,) = torch.autograd.grad(logp.sum(), z)
        return logp.detach(), grad, nl.detach()

    # ---- JAX -------------------------------------------------------------------------------
    # The JAX potential is a module-level function of (static, z, args): ``static`` holds the
    # hashable parts (model, prior, noise, whether to use sufficient statistics), ``args`` the
    # arrays (β, γ, centre, data). A kernel compiled once for a task shape is therefore reused
    # across β values, datasets and seeds instead of being re-traced for every posterior.
    def jax_parts(self) -> tuple["JaxStatic", dict[str, Any]]:
        """(static, args) such that ``jax_logdensity(static, z, args)`` is log p_β(z)."""
        jax_ops()  # enables float64 before any array is made
        import jax.numpy as jnp

        static = JaxStatic(self.task.model, self.task.prior, float(self.task.noise_std), self.use_stats,
                           int(self.task.model.out_dim))
        args: dict[str, Any] = {
            "beta": jnp.asarray(self.beta), "gamma": jnp.asarray(self.gamma), "n": jnp.asarray(float(self.n)),
            "centre": jnp.asarray(self.centre if self.centre is not None else np.zeros(self.dim)),
        }
        if self.use_stats:
            s = self._stats_numpy
            args.update(xtx=jnp.asarray(s.xtx), xty=jnp.asarray(s.xty), yty=jnp.asarray(s.yty))
        else:
            args.update(x=jnp.asarray(self.data.x), y=jnp.asarray(self.data.y))
        return static, args

    def jax_batch_parts(self, precision: str = "float64") -> tuple["JaxStatic", dict[str, Any]]:
        """(static, args) for minibatch gradients in JAX: ``jax_minibatch(static, args, key, b)`` draws b
        points uniformly with replacement (materialised data: rows of x and y; streamed data: whole
        blocks of points, regenerated from the task's seed or, when they fit in
        :data:`~slt_bench.tasks.stream.HOLD_MAX_BYTES`, gathered from the held blocks — the same
        points), and ``jax_batch_tempered_loss`` is β times the unbiased minibatch estimate of n L_n.
        ``precision`` ("float64" or "float32") is the dtype that minibatch likelihood and its gradient
        are computed in; the data-free part and every full-batch n L_n stay float64."""
        jax_ops()
        import jax.numpy as jnp

        check_precision(precision)
        held = False
        args: dict[str, Any] = {
            "beta": jnp.asarray(self.beta), "gamma": jnp.asarray(self.gamma), "n": jnp.asarray(float(self.n)),
            "centre": jnp.asarray(self.centre if self.centre is not None else np.zeros(self.dim)),
        }
        if self.streamed:
            from slt_bench.tasks.stream import HOLD_MAX_BYTES

            args.update(data_key=self.data.key(), truth_map=jnp.asarray(self.data.truth_map))
            if self.data.hold_bytes(precision) <= HOLD_MAX_BYTES:
                bx, by = self.data.blocks(precision)
                args.update(block_x=jnp.asarray(bx), block_y=jnp.asarray(by))
                held = True
        else:
            args.update(x=jnp.asarray(self.data.x), y=jnp.asarray(self.data.y))
        static = JaxStatic(self.task.model, self.task.prior, float(self.task.noise_std), False,
                           int(self.task.model.out_dim), self.streamed, held, precision)
        return static, args

    def n_loss_jax(self, w: Any) -> Any:
        """n L_n(w) as a pure JAX function of w (..., d)."""
        static, args = self.jax_parts()
        return _jax_n_loss_w(static, w, args)

    def logdensity_jax_fn(self) -> Callable[[Any], Any]:
        """A pure JAX function z (d,) → log p_β(z) up to a constant (for numpyro/blackjax)."""
        static, args = self.jax_parts()
        return lambda z: jax_logdensity(static, z, args)

    def n_loss_of_z_jax_fn(self) -> Callable[[Any], Any]:
        """A pure JAX function z (..., d) → n L_n(w(z))."""
        static, args = self.jax_parts()
        return lambda z: jax_n_loss(static, z, args)


@dataclass(frozen=True)
class JaxStatic:
    """The hashable half of a JAX potential: what a compiled kernel may be specialised on."""

    model: Any
    prior: Any
    noise_std: float
    use_stats: bool
    out_dim: int
    streamed: bool = False
    held: bool = False  # a streamed dataset whose points are held (args block_x, block_y)
    batch_dtype: str = "float64"  # the precision of minibatch likelihood gradients


def jax_minibatch(static: JaxStatic, args: dict[str, Any], key: Any, size: int) -> tuple[Any, Any]:
    """A minibatch (x, y) of ``size`` points drawn uniformly with replacement from the n points; for
    streamed data, ⌈size/BLOCK⌉ blocks of BLOCK points (see :mod:`slt_bench.tasks.stream`)."""
    import jax

    if static.streamed:
        from slt_bench.tasks.stream import BLOCK, draw_blocks

        blocks = jax.random.randint(key, (-(-size // BLOCK),), 0, (args["n"] / BLOCK).astype("int64"))
        if static.held:
            bx, by = args["block_x"], args["block_y"]
            return bx[blocks].reshape(-1, bx.shape[-1]), by[blocks].reshape(-1, by.shape[-1])
        return draw_blocks(args["data_key"], blocks, args["truth_map"], static.noise_std)
    if size >= args["x"].shape[0]:  # the whole dataset: the exact full-batch gradient
        return args["x"], args["y"]
    indices = jax.random.randint(key, (size,), 0, args["n"].astype("int64"))
    return args["x"][indices], args["y"][indices]


def jax_batch_n_loss(static: JaxStatic, w: Any, x: Any, y: Any, n: Any) -> Any:
    """The unbiased minibatch estimate (n/b) Σ_{i∈batch} −log p(y_i | x_i, w) of n L_n(w)."""
    return n_loss(jax_ops(), static.model, w, x, y, static.noise_std) * (n / x.shape[0])


def jax_rest_logdensity(static: JaxStatic, z: Any, args: dict[str, Any]) -> Any:
    """The data-free part of log p_β(z): log φ(w) + log|dw/dz| − γ/2 ||w − w*||²."""
    ops, prior = jax_ops(), static.prior
    w, log_jac = prior.constrain(ops, z)
    return prior.log_density(ops, w) + log_jac - 0.5 * args["gamma"] * ((w - args["centre"]) ** 2).sum(-1)


def jax_batch_tempered_loss(static: JaxStatic, z: Any, args: dict[str, Any], x: Any, y: Any) -> Any:
    """β times the minibatch estimate of n L_n(w(z)): the likelihood part of −log p_β, computed in
    ``static.batch_dtype`` (w, x and y cast to it; the result, and so the gradient, float64)."""
    w = static.prior.constrain(jax_ops(), z)[0]
    if static.batch_dtype != "float64":
        w, x, y = (a.astype(static.batch_dtype) for a in (w, x, y))
        batch = n_loss(jax_ops(), static.model, w, x, y, static.noise_std).astype("float64")
        return args["beta"] * batch * (args["n"] / x.shape[0])
    return args["beta"] * jax_batch_n_loss(static, w, x, y, args["n"])


PRECISIONS = ("float64", "float32")


def check_precision(value: Any) -> None:
    """A ValueError unless ``value`` is a precision minibatch gradients can be computed in."""
    if value not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (the dtype of minibatch likelihood "
                         f"gradients), got {value!r}")


def jax_batch_logdensity(static: JaxStatic, z: Any, args: dict[str, Any], x: Any, y: Any) -> tuple[Any, Any]:
    """(minibatch estimate of log p_β(z), of β n L_n alone) for one minibatch (x, y); the second is the
    likelihood part, whose gradient preconditioners are built from (the prior and the localisation
    are not part of it)."""
    ops, prior = jax_ops(), static.prior
    w, log_jac = prior.constrain(ops, z)
    tempered = args["beta"] * jax_batch_n_loss(static, w, x, y, args["n"])
    logp = -tempered + prior.log_density(ops, w) + log_jac - 0.5 * args["gamma"] * ((w - args["centre"]) ** 2).sum(-1)
    return logp, tempered


def _jax_n_loss_w(static: JaxStatic, w: Any, args: dict[str, Any]) -> Any:
    ops = jax_ops()
    if static.use_stats:
        stats = SufficientStats(args["xtx"], args["xty"], args["yty"], args["n"], static.out_dim)
        return n_loss_from_stats(ops, static.model, w, stats, static.noise_std)
    return n_loss(ops, static.model, w, args["x"], args["y"], static.noise_std)


def jax_n_loss(static: JaxStatic, z: Any, args: dict[str, Any]) -> Any:
    """n L_n(w(z)) for sampler coordinates z (..., d)."""
    return _jax_n_loss_w(static, static.prior.constrain(jax_ops(), z)[0], args)


def jax_logdensity(static: JaxStatic, z: Any, args: dict[str, Any]) -> Any:
    """log p_β(z) up to a constant: −β n L_n(w) + log φ(w) + log|dw/dz| − γ/2 ||w − w*||²."""
    ops, prior = jax_ops(), static.prior
    w, log_jac = prior.constrain(ops, z)
    logp = -args["beta"] * _jax_n_loss_w(static, w, args) + prior.log_density(ops, w) + log_jac
    return logp - 0.5 * args["gamma"] * ((w - args["centre"]) ** 2).sum(-1)
