"""The host's speed, stored beside every asv run so that a slower host is not read as slower code.

Every clone records under one asv machine name (``slt-bench-ref``), and the hosts behind it differ: a
float32 2048² matrix product ran at 134–155 GFLOP/s in one session and at 466 in another, on CPUs with
the same name, and the same NUTS work (one reference dataset, the same leapfrog steps per draw) took 4×
less CPU on the faster one. ``track_matmul_peak`` measures that product with every ``make bench``;
``make bench-check`` scales the second commit's ``time_*`` figures by the ratio of the two hosts' peaks
before it compares them (``benchmarks/check.py``).
"""

from benchmarks.matmul_shapes import rate


def track_matmul_peak():
    """GFLOP/s of one jit-compiled float32 2048² product, best of 10 rounds (JAX, as the samplers run)."""
    return rate(2048, 2048, 2048)


track_matmul_peak.unit = "GFLOP/s"
