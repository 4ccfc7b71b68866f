"""The last layer of a linear network integrated out: NUTS on the marginal of the other layers.

For a linear network f(x) = W_L Q(θ) x, with θ every layer but the last and Q = W_{L−1} ⋯ W_1
(H × M), a Gaussian prior N(0, s²) on every weight and, for a localised posterior, the term
−γ/2 ||w − w*||², the tempered posterior of W_L given θ is Gaussian. From the sufficient statistics
XᵀX, XᵀY, YᵀY, its N rows share one precision and each has its own mean:

    Λ(θ) = (β/σ²) Q XᵀX Qᵀ + (1/s² + γ) I          (H × H)
    Λ(θ) M(θ) = B(θ) = (β/σ²) Q XᵀY + γ W*_Lᵀ      (M(θ) and B(θ): H × N, column r for row r of W_L)

so W_L integrates out in closed form:

    log p_β(θ) = ½ tr(Bᵀ Λ⁻¹ B) − (N/2) log det Λ − β YᵀY/(2σ²) + log φ(θ) − γ/2 ||θ − θ*||² + const,

and W_L | θ is drawn exactly, W_Lᵀ = L⁻ᵀ(L⁻¹B + E) with Λ = LLᵀ and E ~ N(0, I). A sampler run on
θ alone, each of its draws completed with an exact W_L, samples the joint posterior.

Why: the products of weight matrices are unchanged along A → GA, B → BG⁻¹, and near a low-rank truth
these ridges become funnels whose curvature changes by orders of magnitude along them; NUTS with one
step size and mass matrix has divergent transitions there. For reduced rank regression (two layers)
integrating out one factor leaves no such ridge, and NUTS runs on a smooth density of the other.
Deeper networks keep the ridges among their remaining layers.
"""

from __future__ import annotations

from typing import Any

from slt_bench.errors import SltBenchError


def why_not(task: Any) -> str | None:
    """None when ``task``'s last layer can be integrated out; else why not, in words."""
    from slt_bench.models.spec import Dense

    model, prior = task.model, task.prior
    if not isinstance(model, Dense) or not model.is_linear or len(model.widths) < 3:
        return "it needs a linear network (no biases, identity activations) with at least two layers"
    if prior.bounds or (prior.exponents and any(prior.exponents)):
        return "it needs a Gaussian prior on every weight (no bounded coordinates, no exponents)"
    return None


def check(task: Any) -> None:
    reason = why_not(task)
    if reason is not None:
        raise SltBenchError(f"collapse = true integrates out the last layer of a linear network, and {task.key} "
                            f"has model {type(task.model).__name__}: {reason}; use collapse = false for it")


def theta_dim(model: Any) -> int:
    """Parameters of every layer but the last (they come first in the flat layout)."""
    return model.n_params - model.widths[-1] * model.widths[-2]


def _parts(static: Any, theta: Any, args: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(L, L⁻¹B, W*-free rest): the Cholesky factor of Λ(θ), L⁻¹B(θ), and log φ(θ) − γ/2||θ − θ*||²."""
    import jax.numpy as jnp
    from jax.scipy.linalg import solve_triangular

    from slt_bench.models.ops import jax_ops
    from slt_bench.models.spec import Dense

    model = static.model
    hidden, out = model.widths[-2], model.widths[-1]
    k = theta_dim(model)
    q = Dense(tuple(model.widths[:-1])).linear_map(jax_ops(), theta)  # (H, M)
    scale = args["beta"] / static.noise_std**2
    centre_last = args["centre"][k:].reshape(out, hidden).T  # W*_Lᵀ, (H, N)
    lam = scale * (q @ args["xtx"] @ q.T) + (1.0 / static.prior.std**2 + args["gamma"]) * jnp.eye(hidden)
    b = scale * (q @ args["xty"]) + args["gamma"] * centre_last
    chol = jnp.linalg.cholesky(lam)
    y = solve_triangular(chol, b, lower=True)
    rest = static.prior.log_density(jax_ops(), theta) - 0.5 * args["gamma"] * ((theta - args["centre"][:k]) ** 2).sum()
    return chol, y, rest


def logdensity(static: Any, theta: Any, args: dict[str, Any]) -> Any:
    """log p_β(θ) up to a constant, the last layer integrated out (θ of shape (k,))."""
    import jax.numpy as jnp

    chol, y, rest = _parts(static, theta, args)
    out = static.model.widths[-1]
    log_det = 2.0 * jnp.log(jnp.diagonal(chol)).sum()
    return 0.5 * (y**2).sum() - 0.5 * out * log_det - args["beta"] * args["yty"] / (2.0 * static.noise_std**2) + rest


def complete(static: Any, theta: Any, args: dict[str, Any], key: Any) -> Any:
    """The full parameter vector (θ, W_L) with W_L drawn exactly from its Gaussian conditional given θ."""
    import jax
    import jax.numpy as jnp
    from jax.scipy.linalg import solve_triangular

    chol, y, _ = _parts(static, theta, args)
    noise = jax.random.normal(key, y.shape, dtype=y.dtype)
    last_t = solve_triangular(chol.T, y + noise, lower=False)  # W_Lᵀ, (H, N)
    return jnp.concatenate([theta, last_t.T.reshape(-1)])
