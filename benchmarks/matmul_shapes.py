"""How close one float32 matrix product of the scale networks' shapes comes to this machine's peak.

    python benchmarks/matmul_shapes.py

The peak is the best rate of a 2048² product (as in ``benchmarks/peers.py --scale``); the shapes are a
minibatch of 500 points times one layer of dls/d1m (537 → 509) and of dls/d100k (177 → 141). Each rate
is the best of 10 rounds of repeated calls of one compiled product, in GFLOP/s (2·m·k·n per product).
Run it on an idle machine: the figures are for `docs/scale.md`, not for a test.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp

SHAPES = {"2048² (the peak)": (2048, 2048, 2048), "500 × 537 · 537 × 509 (a dls/d1m layer)": (500, 537, 509),
          "500 × 177 · 177 × 141 (a dls/d100k layer)": (500, 177, 141)}


def rate(m: int, k: int, n: int, seconds: float = 0.2, rounds: int = 10) -> float:
    a, b = jnp.ones((m, k), jnp.float32), jnp.ones((k, n), jnp.float32)
    product = jax.jit(lambda x, y: x @ y)
    product(a, b).block_until_ready()
    start = time.perf_counter()
    product(a, b).block_until_ready()
    reps = max(1, int(seconds / max(time.perf_counter() - start, 1e-6)))
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reps):
            out = product(a, b)
        out.block_until_ready()
        best = min(best, (time.perf_counter() - start) / reps)
    return 2.0 * m * k * n / best / 1e9


def main() -> None:
    rates = {name: rate(*shape) for name, shape in SHAPES.items()}
    peak = rates["2048² (the peak)"]
    for name, value in rates.items():
        print(f"{name}: {value:.0f} GFLOP/s ({value / peak:.0%} of the peak)")


if __name__ == "__main__":
    main()
