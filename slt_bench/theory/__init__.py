"""Exact λ and multiplicity for the task families (``THEORY.md`` §3)."""

from slt_bench.theory.exact import (
    MIXTURE_KINDS,
    deep_linear,
    mixture_zero,
    normal_crossing,
    reduced_rank,
    regular,
    tanh_zero,
)

__all__ = [
    "MIXTURE_KINDS",
    "deep_linear",
    "mixture_zero",
    "normal_crossing",
    "reduced_rank",
    "regular",
    "tanh_zero",
]
