"""λ estimators: multi-β regression, single-β variance, local learning coefficient, and the multi-β
line through localised posteriors."""

from __future__ import annotations

import dataclasses
from typing import Any

from slt_bench.errors import SltBenchError, UnknownNameError
from slt_bench.estimators.base import Estimate, Estimator, FiniteTarget, Posterior, beta0
from slt_bench.estimators.local import Local
from slt_bench.estimators.multi_beta import LocalMultiBeta, MultiBeta, line_fit
from slt_bench.estimators.variance import Variance

ESTIMATORS = {"multi-beta": MultiBeta, "variance": Variance, "local": Local, "local-multi-beta": LocalMultiBeta}


def localised(name: str) -> bool:
    """Whether the estimator of this name samples posteriors localised at w* (it takes a ``gamma``)."""
    return name in ESTIMATORS and any(f.name == "gamma" for f in dataclasses.fields(ESTIMATORS[name]))


def get_estimator(name: str, **options: Any) -> Estimator:
    """An estimator by name, e.g. ``get_estimator("local", gamma=100.0)``."""
    if name not in ESTIMATORS:
        raise UnknownNameError(f"unknown estimator {name!r}; valid estimators: {', '.join(ESTIMATORS)}")
    try:
        return ESTIMATORS[name](**options)
    except TypeError as err:
        raise SltBenchError(f"bad options for estimator {name}: {err}") from None


__all__ = [
    "ESTIMATORS",
    "Estimate",
    "Estimator",
    "FiniteTarget",
    "Local",
    "LocalMultiBeta",
    "MultiBeta",
    "Posterior",
    "Variance",
    "beta0",
    "get_estimator",
    "line_fit",
    "localised",
]
