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


# ---- the first layer of a two-layer network in spectral coordinates ----------------------------------------------
#
# Integrating out W_2 leaves, in the density of W_1, the Occam factor −(N/2) log det Λ(W_1): along a singular
# value s of W_1 it is about −(N/2) log(1 + κ s²), κ = β tr(XᵀX) / (M σ²) ≈ β n / σ², whose curvature rises to
# about κ at s ≈ 1/√κ, against O(1) in the bulk of the posterior. At n = 10⁴ that spike is 10³–10⁵ times the
# bulk's curvature, and NUTS's trajectories diverge there (docs/references.md, "Divergences").
#
# ``spectral`` samples Φ with W_1 = Φ g(ΦᵀΦ) instead (ΦΦᵀ when H < M): each singular value t of Φ becomes s = f(t),
# the singular vectors stay, and
#     f'(t) = cosh t / (a + cosh t),   a = max(√κ, 2),
#     f(t)  = t − (2a/√(a² − 1)) artanh(√((a − 1)/(a + 1)) tanh(t/2)),
# so that ds/dt ≈ 1/a where s ≲ 1/a (the spike, stretched to width O(1) in t), ds/dt ≈ s between 1/a and 1 (the
# log-shaped stretch, where −(N/2) log(κ s²) has curvature ∝ 1/s²: constant in t), and ds/dt → 1 beyond, where
# Φ is W_1 moved inwards by a constant and the bulk keeps its shape. Any a > 1 gives a smooth bijection; a only
# sets where the stretch sits.
#
# The Jacobian of a map of singular values t_i → f(t_i) of a q × p matrix (q ≥ p) is
#     ∏_i f'(t_i) · ∏_i (f(t_i)/t_i)^(q−p) · ∏_{i<j} (f(t_i)² − f(t_j)²) / (t_i² − t_j²)
# (the volume element of a matrix in its singular values is ∏ s_i^(q−p) ∏_{i<j} |s_i² − s_j²| ∏ ds_i dU dV).


def spectral_why_not(task: Any) -> str | None:
    """None when ``task``'s first layer can be sampled in spectral coordinates (a two-layer linear network whose
    last layer can be integrated out); else why not."""
    reason = why_not(task)
    if reason is not None:
        return reason
    if len(task.model.widths) != 3:
        return "it needs a two-layer network (one layer left once the last is integrated out)"
    return None


def spectral_check(task: Any) -> None:
    reason = spectral_why_not(task)
    if reason is not None:
        raise SltBenchError(f"spectral = true samples the first layer of a two-layer linear network in its singular "
                            f"values, and {task.key} has model {type(task.model).__name__}: {reason}; "
                            f"use spectral = false for it")


def _stretch(static: Any, args: dict[str, Any]) -> Any:
    """a = max(√κ, 2), κ = β tr(XᵀX) / (M σ²)."""
    import jax.numpy as jnp

    kappa = args["beta"] / static.noise_std**2 * jnp.trace(args["xtx"]) / static.model.widths[0]
    return jnp.maximum(jnp.sqrt(kappa), 2.0)


def _f(t: Any, a: Any) -> Any:
    import jax.numpy as jnp

    r = jnp.sqrt((a - 1.0) / (a + 1.0))
    return t - 2.0 * a / jnp.sqrt(a * a - 1.0) * jnp.arctanh(r * jnp.tanh(t / 2.0))


def _f_prime(t: Any, a: Any) -> Any:
    import jax.numpy as jnp

    return jnp.cosh(t) / (a + jnp.cosh(t))


def _g(lam: Any, a: Any) -> Any:
    """f(√λ)/√λ for λ ≥ 0 (an analytic function of λ; below 1e-8 its first two Taylor terms)."""
    import jax.numpy as jnp

    small = lam < 1e-8
    t = jnp.sqrt(jnp.where(small, 1.0, lam))
    # f(t) = f'(0) t + f'''(0) t³/6 + O(t⁵), with f'(0) = 1/(a + 1) and f'''(0) = a/(a + 1)²
    return jnp.where(small, 1.0 / (a + 1.0) + a * lam / (6.0 * (a + 1.0) ** 2), _f(t, a) / t)


def _g_prime(lam: Any, a: Any) -> Any:
    """dg/dλ = (t f'(t) − f(t)) / (2t³), t = √λ; below λ = 1e-6, where that difference cancels, its limit
    f'''(0)/6 = a/(6(a + 1)²) (the next term is O(λ): within 1e-6 of it)."""
    import jax.numpy as jnp

    small = lam < 1e-6
    t = jnp.sqrt(jnp.where(small, 1.0, lam))
    return jnp.where(small, a / (6.0 * (a + 1.0) ** 2), (t * _f_prime(t, a) - _f(t, a)) / (2.0 * t**3))


def _divided(values: Any, slopes: Any, x: Any) -> Any:
    """The matrix of divided differences (v_i − v_j) / (x_i − x_j) of values v at points x; the mean of the two
    points' slopes where x_i and x_j nearly meet."""
    import jax.numpy as jnp

    dx = x[:, None] - x[None, :]
    near = jnp.abs(dx) <= 1e-6 * (1.0 + jnp.abs(x[:, None]) + jnp.abs(x[None, :]))
    return jnp.where(near, 0.5 * (slopes[:, None] + slopes[None, :]),
                     (values[:, None] - values[None, :]) / jnp.where(near, 1.0, dx))


def _log_jacobian_of(lam: Any, a: Any, extra: int) -> Any:
    """log |det ∂W_1/∂Φ| from the eigenvalues λ = t² of Φ's p × p Gram matrix (formula above); ``extra`` = q − p."""
    import jax.numpy as jnp

    t = jnp.sqrt(jnp.where(lam > 0.0, lam, 1.0)) * (lam > 0.0)
    g = _g(lam, a)
    total = jnp.log(_f_prime(t, a)).sum() + extra * jnp.log(g).sum()
    # (f(t_i)² − f(t_j)²)/(t_i² − t_j²) is the divided difference in λ = t² of f(√λ)² = λ g(λ)²
    i, j = jnp.triu_indices(lam.shape[0], 1)
    pairs = _divided(lam * g**2, g**2 + 2.0 * lam * g * _g_prime(lam, a), lam)[i, j]
    return total + jnp.log(pairs).sum()


def _make_matfun() -> Any:
    import functools

    import jax
    import jax.numpy as jnp

    @functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
    def matfun(gram: Any, a: Any, extra: int) -> Any:
        """(g(G), log-Jacobian) for a symmetric G = V diag(λ) Vᵀ, with g(G) = V diag(g(λ)) Vᵀ: one
        eigendecomposition serves both, and their derivatives."""
        lam, vec = jnp.linalg.eigh(gram)
        lam = jnp.clip(lam, 0.0, None)
        return (vec * _g(lam, a)) @ vec.T, _log_jacobian_of(lam, a, extra)

    @matfun.defjvp
    def _jvp(extra: int, primals: Any, tangents: Any) -> Any:
        # Daleckii–Krein: d g(G) = V (D ∘ (Vᵀ dG V)) Vᵀ with D the divided differences of g at the eigenvalues,
        # smooth where eigenvalues meet (eigh's own derivative is not: its eigenvectors' has 1/(λ_i − λ_j)).
        # The eigenvalues move by dλ_i = v_iᵀ dG v_i, which is all the log-Jacobian needs.
        gram, a = primals
        d_gram, d_a = tangents
        lam, vec = jnp.linalg.eigh(gram)
        lam = jnp.clip(lam, 0.0, None)
        rotated = vec.T @ ((d_gram + d_gram.T) / 2.0) @ vec
        inner = _divided(_g(lam, a), _g_prime(lam, a), lam) * rotated
        d_values = jax.jvp(lambda s: _g(lam, s), (a,), (d_a,))[1]
        log_jac, d_log_jac = jax.jvp(lambda l, s: _log_jacobian_of(l, s, extra), (lam, a),
                                     (jnp.diagonal(rotated), d_a))
        return ((vec * _g(lam, a)) @ vec.T, log_jac), (vec @ (inner + jnp.diag(d_values)) @ vec.T, d_log_jac)

    return matfun


_MATFUN: list[Any] = []


def _spectral_parts(static: Any, phi: Any, args: dict[str, Any]) -> tuple[Any, Any]:
    """(W_1 (flat), log |det ∂W_1/∂Φ|) from Φ (flat), from one eigendecomposition of Φ's p × p Gram matrix."""
    if not _MATFUN:
        _MATFUN.append(_make_matfun())
    hidden, inputs = static.model.widths[1], static.model.widths[0]
    p = phi.reshape(hidden, inputs)
    a = _stretch(static, args)
    extra = abs(hidden - inputs)
    if hidden >= inputs:
        g, log_jac = _MATFUN[0](p.T @ p, a, extra)
        w = p @ g
    else:
        g, log_jac = _MATFUN[0](p @ p.T, a, extra)
        w = g @ p
    return w.reshape(-1), log_jac


def spectral_forward(static: Any, phi: Any, args: dict[str, Any]) -> Any:
    """W_1 (flat) from Φ (flat): the singular values t of Φ become f(t), its singular vectors stay."""
    return _spectral_parts(static, phi, args)[0]


def spectral_log_jacobian(static: Any, phi: Any, args: dict[str, Any]) -> Any:
    """log |det ∂W_1/∂Φ| of :func:`spectral_forward`, from the singular values of Φ (formula above)."""
    return _spectral_parts(static, phi, args)[1]


def spectral_logdensity(static: Any, phi: Any, args: dict[str, Any]) -> Any:
    """log p_β of Φ: the marginal of W_1 = :func:`spectral_forward` (Φ), times the map's Jacobian."""
    w1, log_jac = _spectral_parts(static, phi, args)
    return logdensity(static, w1, args) + log_jac


def spectral_inverse(static: Any, w1: Any, args: dict[str, Any]) -> Any:
    """Φ (flat) with :func:`spectral_forward` (Φ) = ``w1``, for the chains' start (numpy). Singular values of
    ``w1`` that are zero or within 0.01 of the next (in t) are moved apart by 0.01 first, so the start is not a
    point where two meet."""
    import numpy as np
    from scipy.optimize import brentq

    hidden, inputs = static.model.widths[1], static.model.widths[0]
    a = float(_stretch(static, args))
    u, s, vt = np.linalg.svd(np.asarray(w1, dtype=np.float64).reshape(hidden, inputs), full_matrices=False)
    t = np.array([brentq(lambda x, target=v: float(_f(x, a)) - target, 0.0, v + 2.0 * a + 10.0, xtol=1e-14)
                  if v > 0 else 0.0 for v in s])
    for i in range(len(t) - 1, -1, -1):  # ascending from the smallest, which must be ≥ 0.01
        floor = 0.01 if i == len(t) - 1 else t[i + 1] + 0.01
        t[i] = max(t[i], floor)
    return ((u * t) @ vt).reshape(-1)
