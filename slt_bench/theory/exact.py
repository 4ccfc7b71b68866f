"""Exact real log canonical thresholds λ and multiplicities m.

Every λ is a :class:`fractions.Fraction`; every function returns ``(λ, m)``.
Sources are named in each docstring (see also ``THEORY.md`` §3).
"""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations
from math import isqrt
from typing import Sequence

RLCT = tuple[Fraction, int]


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def regular(d: int) -> RLCT:
    """Regular model with ``d`` parameters (positive definite Fisher information).

    .. math:: \\lambda = d/2, \\quad m = 1.
    """
    _check_int("d", d, 1)
    return Fraction(d, 2), 1


def normal_crossing(k: Sequence[int], h: Sequence[int] | None = None) -> RLCT:
    """Normal crossing K(w) = Π_j w_j^{2 k_j} with prior ∝ Π_j |w_j|^{h_j} (Watanabe 2009).

    .. math:: \\lambda = \\min_{j: k_j > 0} \\frac{h_j + 1}{2 k_j},
              \\quad m = \\#\\{j : (h_j+1)/(2k_j) = \\lambda\\}.

    Coordinates with ``k_j = 0`` do not enter K and contribute nothing.
    """
    k = list(k)
    if not k:
        raise ValueError("k must list at least one exponent k_j >= 0, with at least one k_j > 0")
    for j, kj in enumerate(k):
        _check_int(f"k[{j}]", kj, 0)
    if all(kj == 0 for kj in k):
        raise ValueError("k must have at least one k_j > 0 (K would be constant)")
    h = [0] * len(k) if h is None else list(h)
    if len(h) != len(k):
        raise ValueError(f"h must have the same length as k ({len(k)}), got {len(h)}")
    for j, hj in enumerate(h):
        _check_int(f"h[{j}]", hj, 0)
    poles = [Fraction(hj + 1, 2 * kj) for kj, hj in zip(k, h) if kj > 0]
    lam = min(poles)
    return lam, poles.count(lam)


def reduced_rank(M: int, N: int, H: int, r: int) -> RLCT:
    """Reduced rank regression y = B A x, A: H×M, B: N×H, truth of rank r (Aoyagi & Watanabe 2005).

    With s = 2(H+r)(M+N) − (M−N)² − (H+r)², in the main case (N+r ≤ M+H, M+r ≤ N+H, H+r ≤ M+N)
    λ = s/8, m = 1 if M+N+H+r is even, else λ = (s+1)/8, m = 2. Otherwise
    λ = (HM − Hr + Nr)/2 if M+H < N+r; (HN − Hr + Mr)/2 if N+H < M+r; MN/2 if M+N < H+r; m = 1.
    """
    for name, value in (("M", M), ("N", N), ("H", H)):
        _check_int(name, value, 1)
    _check_int("r", r, 0)
    if r > min(M, N, H):
        raise ValueError(f"r must satisfy 0 <= r <= min(M, N, H) = {min(M, N, H)}, got r={r}")
    if N + r <= M + H and M + r <= N + H and H + r <= M + N:
        s = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
        if (M + N + H + r) % 2 == 0:
            return Fraction(s, 8), 1
        return Fraction(s + 1, 8), 2
    if M + H < N + r:
        return Fraction(H * M - H * r + N * r, 2), 1
    if N + H < M + r:
        return Fraction(H * N - H * r + M * r, 2), 1
    return Fraction(M * N, 2), 1


def _deep_linear_sigma(m: list[int]) -> tuple[list[int], list[int]] | None:
    """The smallest index set Σ of Aoyagi (2024) Thm 1, as (Σ values, rest values), or None."""
    order = sorted(m)
    for size in range(2, len(order) + 1):
        sigma, rest = order[:size], order[size:]
        ell, total = size - 1, sum(sigma)
        if rest and not max(sigma) < min(rest):
            continue  # a tie straddles the boundary: ties are kept together
        if total < ell * max(sigma):
            continue
        if rest and not total < ell * min(rest):
            continue
        return sigma, rest
    return None


def deep_linear(widths: Sequence[int], r: int) -> RLCT:
    """Deep linear network y = W_L ⋯ W_1 x with widths H_0 (input), …, H_L (output),
    truth a product of rank r (Aoyagi 2024, Neural Networks 173:106132, Thm 1).

    With M_i = H_i − r, Σ the smallest set of the k ≥ 2 smallest M_i meeting the theorem's
    conditions, ℓ = |Σ| − 1, S = Σ_{i∈Σ} M_i and a = S − ℓ(⌈S/ℓ⌉ − 1):

    .. math:: \\lambda = \\frac{r(H_0+H_L) - r^2}{2} + \\frac{a(\\ell-a)}{4\\ell}
              - \\frac{(\\ell-1)S^2}{4\\ell} + \\frac12\\sum_{i<j\\in\\Sigma} M_i M_j,
              \\quad m = a(\\ell-a) + 1.
    """
    widths = list(widths)
    if len(widths) < 2:
        raise ValueError(f"widths must list at least two layer widths (input and output), got {widths}")
    for i, w in enumerate(widths):
        _check_int(f"widths[{i}]", w, 1)
    _check_int("r", r, 0)
    if r > min(widths):
        raise ValueError(f"r must satisfy 0 <= r <= min(widths) = {min(widths)}, got r={r}")
    if len(widths) == 2:  # a single matrix: a regular model in its H_0·H_1 entries
        return Fraction(widths[0] * widths[1], 2), 1
    m = [w - r for w in widths]
    found = _deep_linear_sigma(m)
    if found is None:  # pragma: no cover - Aoyagi (2024) proves Σ exists
        raise ArithmeticError(f"no index set Σ satisfies Aoyagi's conditions for widths={widths}, r={r}")
    sigma, _ = found
    ell, total = len(sigma) - 1, sum(sigma)
    a = total - ell * (-(-total // ell) - 1)
    pairs = sum(x * y for x, y in combinations(sigma, 2))
    lam = (
        Fraction(r * (widths[0] + widths[-1]) - r * r, 2)
        + Fraction(a * (ell - a), 4 * ell)
        - Fraction((ell - 1) * total * total, 4 * ell)
        + Fraction(pairs, 2)
    )
    return lam, a * (ell - a) + 1


def tanh_zero(H: int) -> RLCT:
    """One-hidden-layer tanh network f(x,w) = Σ_h a_h tanh(b_h x), scalar input, truth f ≡ 0
    (Aoyagi & Watanabe 2005; Watanabe 2009 §7).

    .. math:: i = \\lfloor\\sqrt H\\rfloor, \\quad \\lambda = \\frac{H + i^2 + i}{4i + 2},
              \\quad m = 2 \\text{ if } i^2 = H \\text{ else } 1.
    """
    _check_int("H", H, 1)
    i = isqrt(H)
    return Fraction(H + i * i + i, 4 * i + 2), (2 if i * i == H else 1)


MIXTURE_KINDS = ("free-weight", "fixed-weight")


def mixture_zero(kind: str) -> RLCT:
    """Two-component unit-variance Gaussian mixtures with truth N(0,1) (Watanabe 2009).

    ``free-weight``: (1−a)N(0,1) + aN(b,1), a ~ U[0,1]: K ≍ a²b², λ = 1/2, m = 2.
    ``fixed-weight``: αN(b₁,1) + (1−α)N(b₂,1), α fixed in (0,1): K ≍ u² + v⁴ with
    u = αb₁ + (1−α)b₂, v = b₁ − b₂, so λ = 1/2 + 1/4 = 3/4, m = 1.
    """
    if kind == "free-weight":
        return Fraction(1, 2), 2
    if kind == "fixed-weight":
        return Fraction(3, 4), 1
    raise ValueError(f"mixture kind must be one of {', '.join(MIXTURE_KINDS)}; got {kind!r}")
