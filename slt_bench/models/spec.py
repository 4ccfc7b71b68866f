"""Declarative model specs. One spec, written once against a small array namespace
(:mod:`slt_bench.models.ops`), evaluates in torch and in JAX with the same numbers.

Parameters are always a flat vector ``w`` of shape ``(..., d)``; leading axes are batch axes
(chains), so the same code serves one parameter, a batch of chains, or a grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Union

ACTIVATIONS = ("identity", "tanh", "relu", "silu")
LOG_2PI = math.log(2.0 * math.pi)


def apply_activation(ops: Any, name: str, tau: float, h: Any) -> Any:
    if name == "identity":
        return h
    if name == "tanh":
        return ops.tanh(h)
    if name == "relu":
        return ops.relu(h)
    if name == "silu":  # silu(τ): x·sigmoid(τ x); τ → ∞ recovers ReLU
        return h * ops.sigmoid(tau * h)
    raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {name!r}")


@dataclass(frozen=True)
class Dense:
    """A fully connected network with widths (H_0, …, H_L); the activation acts on hidden layers.

    Flat layout, layer by layer: W_l (H_l × H_{l−1}, row-major) then b_l (H_l) if ``bias``
    (the layout of ``torch.nn.Linear``'s weight and bias). f(x, w) = W_L σ(⋯ σ(W_1 x + b_1) ⋯) + b_L.
    ``activations`` (one per hidden layer) overrides ``activation`` layer by layer, for networks
    such as the seed paper's Section 5 ones (ReLU features, then a linear or ReLU head).
    """

    widths: tuple[int, ...]
    bias: bool = False
    activation: str = "identity"
    tau: float = 1.0
    activations: tuple[str, ...] = ()

    kind = "regression"

    def __post_init__(self) -> None:
        if len(self.widths) < 2 or any(int(h) < 1 for h in self.widths):
            raise ValueError(f"Dense widths must be >= 2 positive integers, got {self.widths}")
        for name in (self.activation, *self.activations):
            if name not in ACTIVATIONS:
                raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {name!r}")
        if self.activations and len(self.activations) != len(self.widths) - 2:
            raise ValueError(f"activations needs one entry per hidden layer ({len(self.widths) - 2}), "
                             f"got {len(self.activations)}")

    def hidden_activation(self, index: int) -> str:
        """The activation after hidden layer ``index`` (0-based)."""
        return self.activations[index] if self.activations else self.activation

    @property
    def n_params(self) -> int:
        total = 0
        for h_in, h_out in zip(self.widths[:-1], self.widths[1:]):
            total += h_in * h_out + (h_out if self.bias else 0)
        return total

    @property
    def in_dim(self) -> int:
        return self.widths[0]

    @property
    def out_dim(self) -> int:
        return self.widths[-1]

    @property
    def is_linear(self) -> bool:
        """True when f(x, w) = P(w) x, so n L_n depends on the data only through XᵀX, XᵀY, YᵀY."""
        hidden = range(len(self.widths) - 2)
        return not self.bias and all(self.hidden_activation(i) == "identity" for i in hidden)

    def layers(self, w: Any) -> list[tuple[Any, Any]]:
        """Unflatten ``w`` (..., d) into [(W_l (..., H_l, H_{l−1}), b_l (..., H_l) or None)]."""
        batch = tuple(w.shape[:-1])
        out, start = [], 0
        for h_in, h_out in zip(self.widths[:-1], self.widths[1:]):
            weight = w[..., start : start + h_in * h_out].reshape(batch + (h_out, h_in))
            start += h_in * h_out
            bias = None
            if self.bias:
                bias = w[..., start : start + h_out]
                start += h_out
            out.append((weight, bias))
        return out

    def predict(self, ops: Any, w: Any, x: Any) -> Any:
        """f(x, w): x (n, H_0), w (..., d) → (..., n, H_L)."""
        layers = self.layers(w)
        h = x
        for index, (weight, bias) in enumerate(layers):
            h = h @ ops.swap_last(weight)
            if bias is not None:
                h = h + bias[..., None, :]
            if index < len(layers) - 1:
                h = apply_activation(ops, self.hidden_activation(index), self.tau, h)
        return h

    def linear_map(self, ops: Any, w: Any) -> Any:
        """P(w) = W_L ⋯ W_1, shape (..., H_L, H_0); only for linear networks."""
        product = None
        for weight, _ in self.layers(w):
            product = weight if product is None else weight @ product
        return product


@dataclass(frozen=True)
class Monomial:
    """y = (Π_j w_j^{k_j}) x + ε with scalar x: K(w) ∝ Π_j w_j^{2k_j} at the truth w = 0."""

    k: tuple[int, ...]

    kind = "regression"
    in_dim = 1
    out_dim = 1
    is_linear = True

    def __post_init__(self) -> None:
        if not self.k or any(int(kj) < 0 for kj in self.k):
            raise ValueError(f"Monomial exponents k must be non-negative integers, got {self.k}")

    @property
    def n_params(self) -> int:
        return len(self.k)

    def coefficient(self, ops: Any, w: Any) -> Any:
        """Π_j w_j^{k_j}, shape (...)."""
        out = None
        for j, kj in enumerate(self.k):
            if kj == 0:
                continue
            term = w[..., j] ** kj
            out = term if out is None else out * term
        return out if out is not None else w[..., 0] * 0.0 + 1.0

    def linear_map(self, ops: Any, w: Any) -> Any:
        return self.coefficient(ops, w)[..., None, None]

    def predict(self, ops: Any, w: Any, x: Any) -> Any:
        return x @ ops.swap_last(self.linear_map(ops, w))


@dataclass(frozen=True)
class Mixture:
    """Two unit-variance Gaussian components, scalar observations y (no inputs).

    ``weight=None`` (free weight): w = (a, b), p(y|w) = (1−a)N(y;0,1) + aN(y;b,1), a ∈ [0, 1].
    ``weight=α``: w = (b₁, b₂), p(y|w) = αN(y;b₁,1) + (1−α)N(y;b₂,1).
    """

    weight: float | None = None

    kind = "density"
    in_dim = 0
    out_dim = 1
    is_linear = False
    n_params = 2

    def __post_init__(self) -> None:
        if self.weight is not None and not 0.0 < float(self.weight) < 1.0:
            raise ValueError(f"Mixture weight must lie strictly between 0 and 1, got {self.weight}")

    def log_likelihood(self, ops: Any, w: Any, y: Any) -> Any:
        """log p(y_i | w): y (n, 1), w (..., 2) → (..., n)."""
        y = y[:, 0]
        log_phi0 = -0.5 * y**2 - 0.5 * LOG_2PI
        first, second = w[..., 0:1], w[..., 1:2]
        if self.weight is None:
            # log[(1−a)φ(y) + aφ(y−b)] = log φ(y) + log1p(a·expm1(by − b²/2)): finite at a = 0.
            return log_phi0 + ops.log1p(first * ops.expm1(second * y - 0.5 * second**2))
        alpha = float(self.weight)
        comp1 = math.log(alpha) - 0.5 * (y - first) ** 2 - 0.5 * LOG_2PI
        comp2 = math.log(1.0 - alpha) - 0.5 * (y - second) ** 2 - 0.5 * LOG_2PI
        return ops.logaddexp(comp1, comp2)


ModelSpec = Union[Dense, Monomial, Mixture]


def log_likelihood(ops: Any, spec: ModelSpec, w: Any, x: Any, y: Any, noise_std: float) -> Any:
    """log p(y_i | x_i, w) per point, shape (..., n).

    Regression: −||y_i − f(x_i, w)||² / (2σ²) − (N / 2) log(2πσ²).
    """
    if spec.kind == "density":
        return spec.log_likelihood(ops, w, y)
    resid = y - spec.predict(ops, w, x)
    out = y.shape[-1]
    return -(resid**2).sum(-1) / (2.0 * noise_std**2) - 0.5 * out * (LOG_2PI + 2.0 * math.log(noise_std))


def n_loss(ops: Any, spec: ModelSpec, w: Any, x: Any, y: Any, noise_std: float) -> Any:
    """n L_n(w) = −Σ_i log p(y_i | x_i, w), shape (...).

    Regression: Σ_i ||y_i − f(x_i, w)||² / (2σ²) + (n N / 2) log(2πσ²).
    """
    if spec.kind == "density":
        return -spec.log_likelihood(ops, w, y).sum(-1)
    resid = y - spec.predict(ops, w, x)
    n, out = y.shape
    return (resid**2).sum((-1, -2)) / (2.0 * noise_std**2) + 0.5 * n * out * (
        LOG_2PI + 2.0 * math.log(noise_std)
    )


def n_loss_from_stats(ops: Any, spec: ModelSpec, w: Any, stats: "SufficientStats", noise_std: float) -> Any:
    """n L_n for a linear model f = P(w) x from sufficient statistics, cost independent of n.

    Σ_i ||y_i − P x_i||² = tr(YᵀY) − 2 tr(P XᵀY) + tr(P XᵀX Pᵀ).
    """
    p = spec.linear_map(ops, w)  # (..., N, M)
    cross = (p * ops.swap_last(stats.xty)).sum((-1, -2))
    quad = ((p @ stats.xtx) * p).sum((-1, -2))
    sq = stats.yty - 2.0 * cross + quad
    return sq / (2.0 * noise_std**2) + 0.5 * stats.n * stats.out_dim * (LOG_2PI + 2.0 * math.log(noise_std))


@dataclass(frozen=True)
class SufficientStats:
    """XᵀX (M×M), XᵀY (M×N), tr(YᵀY) and n, as arrays of one backend."""

    xtx: Any
    xty: Any
    yty: Any
    n: int
    out_dim: int
