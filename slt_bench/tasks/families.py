"""Task families: from a family's parameters to model, truth, w*, prior, inputs and exact λ.

Each family is one small function, registered once in :data:`FAMILIES`. A catalogue entry names
a family and its parameters; everything else follows from here, so a stated λ can be checked.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Mapping

import numpy as np

from slt_bench import theory
from slt_bench.limits import MAX_PARAMS
from slt_bench.models import Dense, Mixture, ModelSpec, Monomial
from slt_bench.tasks.task import Inputs

MAX_EXPONENT = 10  # k_j and h_j of a normal crossing: w^(2k) for larger k underflows float64 near w = 0
MAX_WIDTH = 100_000  # one layer of a network
MAX_DEPTH = 50  # layers of a network


@dataclass(frozen=True)
class FamilyInstance:
    """What a family derives from its parameters."""

    model: ModelSpec
    truth: tuple[float, ...]
    w_star: tuple[float, ...] | None
    inputs: Inputs
    rlct: Fraction | None
    multiplicity: int | None
    source: str
    prior_bounds: tuple[tuple[int, float, float], ...] = ()
    prior_exponents: tuple[int, ...] | None = None
    streamed: bool = False  # data drawn point by point, never held whole (slt_bench.tasks.stream)


def _int(params: Mapping[str, Any], name: str, minimum: int = 0, maximum: int = MAX_WIDTH) -> int:
    if name not in params:
        raise ValueError(f"missing parameter {name!r}")
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ValueError(f"parameter {name} must be an integer from {minimum} to {maximum:,}, got {value!r}")
    return value


def _int_list(params: Mapping[str, Any], name: str, minimum: int, maximum: int, max_len: int) -> list[int]:
    value = params.get(name)
    if (not isinstance(value, (list, tuple)) or not 1 <= len(value) <= max_len
            or not all(isinstance(v, int) and not isinstance(v, bool) and minimum <= v <= maximum for v in value)):
        raise ValueError(f"parameter {name} must be a list of 1 to {max_len} integers, each from {minimum} to "
                         f"{maximum:,}; got {value!r}")
    return list(value)


def _check_keys(params: Mapping[str, Any], family: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    """Unknown parameter names (a misspelt ``weigth``) are an error, not silently ignored."""
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a table, got {params!r}")
    unknown = sorted(set(params) - set(required) - set(optional))
    if unknown:
        valid = ", ".join(required + optional)
        raise ValueError(f"unknown parameter(s) {unknown} for family {family}; valid parameters: {valid}")


def _check_size(model: ModelSpec) -> None:
    """Refuse a model too large to hold, before its truth is built."""
    if model.n_params > MAX_PARAMS:
        raise ValueError(f"the model has {model.n_params:,} parameters; at most {MAX_PARAMS:,} are supported")


def _identity_factors(widths: list[int], r: int) -> np.ndarray:
    """Flat weights of a linear network whose layers carry an r×r identity block: product rank r."""
    parts = []
    for h_in, h_out in zip(widths[:-1], widths[1:]):
        weight = np.zeros((h_out, h_in))
        weight[np.arange(r), np.arange(r)] = 1.0
        parts.append(weight.ravel())
    return np.concatenate(parts)


def regular(params: Mapping[str, Any]) -> FamilyInstance:
    """Linear regression y = wᵀx + ε, x ~ N(0, I_d), truth w_j = 1/2."""
    _check_keys(params, "regular", ("d",))
    d = _int(params, "d", 1, MAX_PARAMS)
    _check_size(Dense((d, 1)))
    truth = tuple([0.5] * d)
    lam, m = theory.regular(d)
    return FamilyInstance(Dense((d, 1)), truth, truth, Inputs("normal", d), lam, m, "regular model: λ = d/2")


def normal_crossing(params: Mapping[str, Any]) -> FamilyInstance:
    """y = (Π_j w_j^{k_j}) x + ε, x ~ N(0,1), truth w = 0, prior ∝ Π|w_j|^{h_j} N(0, std²)."""
    _check_keys(params, "normal_crossing", ("k",), ("h",))
    k = _int_list(params, "k", 1, MAX_EXPONENT, 3)
    h = _int_list(params, "h", 0, MAX_EXPONENT, 3) if "h" in params else None
    lam, m = theory.normal_crossing(k, h)
    zero = tuple([0.0] * len(k))
    return FamilyInstance(
        Monomial(tuple(k)), zero, zero, Inputs("normal", 1), lam, m,
        "Watanabe (2009), normal crossing", prior_exponents=tuple(h) if h else None,
    )


def reduced_rank(params: Mapping[str, Any]) -> FamilyInstance:
    """y = B A x + ε, A: H×M, B: N×H, x ~ N(0, I_M), truth A₀, B₀ with identity r×r blocks."""
    _check_keys(params, "reduced_rank", ("M", "N", "H", "r"))
    M, N, H, r = (_int(params, "M", 1), _int(params, "N", 1), _int(params, "H", 1), _int(params, "r"))
    _check_size(Dense((M, H, N)))
    lam, m = theory.reduced_rank(M, N, H, r)
    truth = tuple(_identity_factors([M, H, N], r))
    return FamilyInstance(
        Dense((M, H, N)), truth, truth, Inputs("normal", M), lam, m, "Aoyagi & Watanabe (2005)"
    )


def deep_linear(params: Mapping[str, Any]) -> FamilyInstance:
    """y = W_L ⋯ W_1 x + ε, x ~ N(0, I_{H_0}), truth layers with identity r×r blocks (rank r)."""
    _check_keys(params, "deep_linear", ("widths", "r"))
    widths, r = _int_list(params, "widths", 1, MAX_WIDTH, MAX_DEPTH + 1), _int(params, "r")
    if len(widths) < 3:
        raise ValueError(f"parameter widths needs at least 3 entries (input, a hidden layer, output), got {widths}")
    _check_size(Dense(tuple(widths)))
    lam, m = theory.deep_linear(widths, r)
    truth = tuple(_identity_factors(widths, r))
    return FamilyInstance(
        Dense(tuple(widths)), truth, truth, Inputs("normal", widths[0]), lam, m,
        "Aoyagi (2024), Neural Networks 173:106132, Thm 1",
    )


def tanh_zero(params: Mapping[str, Any]) -> FamilyInstance:
    """f(x, w) = Σ_h a_h tanh(b_h x), x ~ U[−2, 2], truth f ≡ 0 (w = 0)."""
    _check_keys(params, "tanh_zero", ("H",))
    H = _int(params, "H", 1)
    _check_size(Dense((1, H, 1)))
    lam, m = theory.tanh_zero(H)
    zero = tuple([0.0] * (2 * H))
    return FamilyInstance(
        Dense((1, H, 1), activation="tanh"), zero, zero, Inputs("uniform", 1, -2.0, 2.0), lam, m,
        "Aoyagi & Watanabe (2005); Watanabe (2009) §7",
    )


def mixture(params: Mapping[str, Any]) -> FamilyInstance:
    """Gaussian mixtures with truth N(0,1); ``kind`` free-weight (a ~ U[0,1]) or fixed-weight."""
    kind = params.get("kind")
    _check_keys(params, "mixture", ("kind",), ("weight",) if kind == "fixed-weight" else ())
    lam, m = theory.mixture_zero(kind)
    if kind == "free-weight":
        model: ModelSpec = Mixture(None)
        bounds: tuple[tuple[int, float, float], ...] = ((0, 0.0, 1.0),)
    else:
        weight = params.get("weight", 0.3)
        if not isinstance(weight, (int, float)) or not 0 < weight < 1:
            raise ValueError(f"parameter weight must be a number in (0, 1), got {weight!r}")
        model, bounds = Mixture(float(weight)), ()
    return FamilyInstance(
        model, (0.0, 0.0), (0.0, 0.0), Inputs("none", 0), lam, m, "Watanabe (2009), mixtures",
        prior_bounds=bounds,
    )


def murfet2020_s6(params: Mapping[str, Any]) -> FamilyInstance:
    """Seed paper §6: f = c + Σ_{i≤5} q_i act(⟨w_i, x⟩ + b_i), x ~ U[−1,1]², truth s_m.

    s_m: m hidden units with w_i the rotation of (1, 0) by π/m + 2π(i−1)/m, b_i = −1/3, q_i = 1;
    the other units and c are zero. act is ReLU or SiLU(τ=100), x·sigmoid(100x).
    """
    _check_keys(params, "murfet2020_s6", ("m",), ("activation",))
    m = _int(params, "m", 1)
    activation = params.get("activation", "relu")
    if activation not in ("relu", "silu"):
        raise ValueError(f"parameter activation must be relu or silu, got {activation!r}")
    hidden = 5
    if m > hidden:
        raise ValueError(f"parameter m must be at most {hidden}, got {m}")
    weight1, bias1, weight2 = np.zeros((hidden, 2)), np.zeros(hidden), np.zeros((1, hidden))
    for i in range(m):
        angle = math.pi / m + 2 * math.pi * i / m
        weight1[i] = (math.cos(angle), math.sin(angle))
        bias1[i] = -1.0 / 3.0
        weight2[0, i] = 1.0
    truth = tuple(np.concatenate([weight1.ravel(), bias1, weight2.ravel(), [0.0]]))
    model = Dense((2, hidden, 1), bias=True, activation=activation, tau=100.0)
    return FamilyInstance(
        model, truth, None, Inputs("uniform", 2, -1.0, 1.0), None, None,
        "Murfet, Wei et al. (2020), Deep Learning is Singular, and That's Good, §6",
    )


def murfet2020_s5(params: Mapping[str, Any]) -> FamilyInstance:
    """Seed paper §5 (Table 1): f(x) = h(g(x)), x ~ N(0, I₃), realisable.

    g: R³ → R³ is a ReLU block of ``layers`` hidden layers of width 5 (linear output); the head is
    h(u) = B A u (``head = "identity"``) or B ReLU(A u) (``head = "relu"``), A and B 3×3. No
    biases (the paper does not say; a choice). The truth is one draw of He-scaled weights,
    W ~ N(0, 2/fan_in), from ``truth_seed``: the paper's own truth is not published.
    """
    _check_keys(params, "murfet2020_s5", ("layers",), ("head", "truth_seed"))
    layers = _int(params, "layers", 1, MAX_DEPTH)
    head = params.get("head", "identity")
    if head not in ("identity", "relu"):
        raise ValueError(f"parameter head must be identity or relu, got {head!r}")
    truth_seed = _int(params, "truth_seed", 0, 2**32 - 1) if "truth_seed" in params else 0
    widths = (3, *([5] * layers), 3, 3, 3)
    model = Dense(widths, activations=("relu",) * layers + ("identity", head))
    rng = np.random.default_rng([truth_seed, layers, 0 if head == "identity" else 1, 2020])
    truth = np.concatenate([rng.normal(0.0, math.sqrt(2.0 / h_in), h_in * h_out)
                            for h_in, h_out in zip(widths[:-1], widths[1:])])
    return FamilyInstance(
        model, tuple(truth), None, Inputs("normal", 3), None, None,
        "Murfet, Wei et al. (2020), Deep Learning is Singular, and That's Good, §5 (Table 1)",
    )


def scale_widths(depth: int, width_min: int, width_max: int, seed: int) -> tuple[int, ...]:
    """The layer widths H_0..H_L of a scale instance: drawn uniformly from [width_min, width_max]."""
    rng = np.random.default_rng([seed, 7877])
    return tuple(int(v) for v in rng.integers(width_min, width_max + 1, depth + 1))


@functools.lru_cache(maxsize=8)
def _scale_truth(widths: tuple[int, ...], rank: int, seed: int) -> tuple[float, ...]:
    """Factors W_l = Q_l R_l Q_{l−1}ᵀ with Q_l a random orthonormal H_l × r frame and R_l a random
    r × r rotation: every factor has rank exactly r (a most singular true parameter, where the local
    learning coefficient is the global λ) and the product P₀ = Q_L (R_L⋯R_1) Q_0ᵀ has r singular
    values equal to 1."""
    rng = np.random.default_rng([seed, 7879])
    frames = [np.linalg.qr(rng.standard_normal((h, rank)))[0] for h in widths]
    parts = []
    for l in range(1, len(widths)):
        rotation = np.linalg.qr(rng.standard_normal((rank, rank)))[0]
        parts.append((frames[l] @ rotation @ frames[l - 1].T).ravel())
    return tuple(np.concatenate(parts).tolist())


def deep_linear_scale(params: Mapping[str, Any]) -> FamilyInstance:
    """Deep linear networks generated the way the field does it (Lau, Furman et al.; Hitchcock &
    Hoogland): L layers with widths drawn from [width_min, width_max] by ``seed``, a teacher of rank r
    (every factor of rank exactly r), x ~ N(0, I); λ and m exact by Aoyagi (2024). Data are streamed:
    drawn point by point from the task's seed, never held whole."""
    _check_keys(params, "deep_linear_scale", ("depth", "width_min", "width_max", "rank", "seed"))
    depth = _int(params, "depth", 2, MAX_DEPTH)
    low, high = _int(params, "width_min", 1), _int(params, "width_max", 1)
    if high < low:
        raise ValueError(f"parameter width_max ({high}) must be at least width_min ({low})")
    rank, seed = _int(params, "rank", 0), _int(params, "seed", 0, 2**32 - 1)
    widths = scale_widths(depth, low, high, seed)
    model = Dense(widths)
    _check_size(model)
    if rank > min(widths):
        raise ValueError(f"parameter rank ({rank}) exceeds the narrowest drawn width ({min(widths)}) of {list(widths)}")
    lam, m = theory.deep_linear(list(widths), rank)
    truth = _scale_truth(widths, rank, seed)
    return FamilyInstance(model, truth, truth, Inputs("normal", widths[0]), lam, m,
                          f"Aoyagi (2024), Neural Networks 173:106132, Thm 1; widths {list(widths)}, rank {rank}",
                          streamed=True)


FAMILIES: dict[str, Callable[[Mapping[str, Any]], FamilyInstance]] = {
    "regular": regular,
    "normal_crossing": normal_crossing,
    "reduced_rank": reduced_rank,
    "deep_linear": deep_linear,
    "tanh_zero": tanh_zero,
    "mixture": mixture,
    "murfet2020_s6": murfet2020_s6,
    "murfet2020_s5": murfet2020_s5,
    "deep_linear_scale": deep_linear_scale,
}
