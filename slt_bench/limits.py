"""The bounds every input is checked against, in one place, so that error messages can state them.

They are not mathematical limits; they keep a mistyped number from exhausting the machine before
anything useful happens (a ``d = 10**9`` catalogue entry used to fill the memory while listing).
"""

from __future__ import annotations

MIN_N = 2  # β₀ = 1/log n needs n ≥ 2
MAX_N = 10_000_000  # sample size of one dataset
MAX_PARAMS = 2_000_000  # parameters of one model (the truth is held in memory)
MAX_DATA_BYTES = 2 * 1024**3  # one dataset materialised as float64 (x and y)
MAX_SEEDS = 100_000  # dataset seeds per task in one run
MAX_CELLS = 100_000  # cells in one run's grid
MAX_JOBS = 1024  # local worker processes
MAX_NS = 50  # sample sizes in a generalisation grid
MAX_N_TEST = 1_000_000  # held-out points of the generalisation metric
MIN_SCALE, MAX_SCALE = 1e-6, 1e6  # prior_std and noise_std
MAX_VERSION = 1_000_000


def data_bytes(n: int, in_dim: int, out_dim: int) -> int:
    """Bytes of one materialised dataset: x (n, in_dim) and y (n, out_dim), float64."""
    return 8 * int(n) * (int(in_dim) + int(out_dim))


def check_count(value: object, name: str, low: int, high: int) -> int:
    """``value`` as an int in [low, high], or a ValueError that states the bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer between {low:,} and {high:,}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:,} and {high:,}, got {value:,}")
    return value
