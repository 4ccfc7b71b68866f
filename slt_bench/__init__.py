"""slt-bench: a benchmark of posterior approximations on singular models with known λ."""

__version__ = "0.1.0"
