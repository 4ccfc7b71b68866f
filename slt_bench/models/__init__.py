"""Model specs (one definition) evaluated in torch or JAX (two backends, same numbers)."""

from slt_bench.models.spec import (
    ACTIVATIONS,
    Dense,
    Mixture,
    ModelSpec,
    Monomial,
    SufficientStats,
    log_likelihood,
    n_loss,
    n_loss_from_stats,
)

__all__ = [
    "ACTIVATIONS",
    "Dense",
    "Mixture",
    "ModelSpec",
    "Monomial",
    "SufficientStats",
    "log_likelihood",
    "n_loss",
    "n_loss_from_stats",
]
