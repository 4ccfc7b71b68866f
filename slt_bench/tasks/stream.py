"""Datasets that are never held whole: each point is a pure function of (task, seed, index).

For the scale family (deep linear networks up to 10⁶ parameters, n up to 10⁶) a dataset of n points
is drawn block by block from the task's seed with JAX's counter-based random numbers: the points of
block b (:data:`BLOCK` of them) are

.. math::
    X_b = \\mathrm{normal}(\\mathrm{fold\\_in}(k_x, b)),\\qquad
    Y_b = X_b P_0^\\top + \\sigma\\,\\mathrm{normal}(\\mathrm{fold\\_in}(k_\\varepsilon, b)),

with (k_x, k_ε) derived from (seed, task id); point i is row i mod BLOCK of block ⌊i / BLOCK⌋, and n
must be a multiple of BLOCK. So a minibatch is generated where it is used, inside a compiled sampler
loop (:func:`draw_blocks`: random blocks, drawn uniformly with replacement, which keeps the minibatch
gradient unbiased), and the sufficient statistics XᵀX, XᵀY, YᵀY that give the full-batch n L_n of a
linear model are accumulated chunk by chunk (:meth:`StreamedDataset.stats`). Blocks rather than
single points: one random-number call per block is about 20× cheaper than one per point. Memory: one chunk of ``chunk_points`` × (H₀ + H_L) float64 values
plus the statistics, H₀ × (H₀ + H_L); never the n × H₀ design matrix. ``chunk_points`` is chosen from
``max_bytes`` (default 256 MiB).

A sampler that draws many minibatches may instead hold the points, generated once by the same
blocks (:meth:`StreamedDataset.blocks`), when they fit in :data:`HOLD_MAX_BYTES` (1 GiB; a dataset
of n = 10⁵ points of the 10⁶-parameter instance takes 0.86 GiB in float64, 0.43 GiB in float32):
a minibatch is then the same blocks gathered from memory instead of regenerated, the same points up
to the rounding of the last bit, at a fraction of the cost (random normals dominate a minibatch
step otherwise). Beyond that bound the points are regenerated in the loop as before.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slt_bench.models import SufficientStats

DEFAULT_MAX_BYTES = 256 * 1024**2
HOLD_MAX_BYTES = 1024**3  # a sampler holds a streamed dataset's points when they fit in this
BLOCK = 50  # points per block: n of a streamed dataset, and a minibatch, are multiples of it


def data_key(task_id: str, seed: int) -> Any:
    """The JAX key a streamed dataset's points come from."""
    import jax

    from slt_bench.models.ops import jax_ops

    jax_ops()  # float64 before any array is made
    return jax.random.fold_in(jax.random.PRNGKey(int(seed)), zlib.crc32(task_id.encode()) & 0x7FFFFFFF)


def draw_blocks(key: Any, blocks: Any, truth_map: Any, noise_std: float) -> tuple[Any, Any]:
    """(x, y) of the points of ``blocks`` (a JAX int array of block ids, shape (k,)), k·BLOCK rows:
    a pure function, jit-able. ``truth_map`` is the true linear map P₀ (H_L × H₀): y = P₀ x + σ ε."""
    import jax
    import jax.numpy as jnp

    kx, ke = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
    in_dim, out_dim = truth_map.shape[1], truth_map.shape[0]
    x = jax.vmap(lambda b: jax.random.normal(jax.random.fold_in(kx, b), (BLOCK, in_dim), dtype=jnp.float64))(blocks)
    eps = jax.vmap(lambda b: jax.random.normal(jax.random.fold_in(ke, b), (BLOCK, out_dim), dtype=jnp.float64))(blocks)
    x, eps = x.reshape(-1, in_dim), eps.reshape(-1, out_dim)
    return x, x @ truth_map.T + noise_std * eps


@dataclass(frozen=True)
class StreamedDataset:
    """n points of a linear task, drawn on demand (see the module docstring); ``seed`` as for
    :class:`~slt_bench.tasks.Dataset`. ``truth_map`` is P₀ = W_L⋯W_1 at the truth."""

    task_id: str
    n: int
    seed: int
    truth_map: np.ndarray = field(repr=False)
    noise_std: float
    max_bytes: int = DEFAULT_MAX_BYTES
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    streamed = True

    @property
    def in_dim(self) -> int:
        return int(self.truth_map.shape[1])

    @property
    def out_dim(self) -> int:
        return int(self.truth_map.shape[0])

    def __post_init__(self) -> None:
        if self.n % BLOCK:
            raise ValueError(f"a streamed dataset has n a multiple of {BLOCK} (its points come in blocks), got {self.n}")

    @property
    def chunk_points(self) -> int:
        """Points per chunk (whole blocks) so that one chunk of x and y stays within ``max_bytes``."""
        per_point = 8 * (self.in_dim + self.out_dim) * 3  # x, y, and the noise drawn beside them
        blocks = max(1, min(self.n // BLOCK, self.max_bytes // (per_point * BLOCK)))
        return blocks * BLOCK

    def key(self) -> Any:
        return data_key(self.task_id, self.seed)

    def points(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """x, y of points start..stop−1 (NumPy); refused beyond one chunk's memory bound."""
        import jax.numpy as jnp

        if not 0 <= start <= stop <= self.n:
            raise IndexError(f"points {start}..{stop} outside 0..{self.n}")
        first, last = start // BLOCK, -(-stop // BLOCK)
        if (last - first) * BLOCK > self.chunk_points:
            raise MemoryError(f"{stop - start} points exceed the bound of {self.chunk_points} per chunk "
                              f"({self.max_bytes} bytes); read the dataset in chunks")
        x, y = _draw_jit(self.key(), jnp.arange(first, last), jnp.asarray(self.truth_map), float(self.noise_std))
        offset = first * BLOCK
        return np.asarray(x)[start - offset:stop - offset], np.asarray(y)[start - offset:stop - offset]

    def stats(self) -> SufficientStats:
        """XᵀX, XᵀY, tr(YᵀY) over all n points, accumulated chunk by chunk (and kept)."""
        if "stats" not in self._cache:
            import jax.numpy as jnp

            key, truth = self.key(), jnp.asarray(self.truth_map)
            xtx = np.zeros((self.in_dim, self.in_dim))
            xty = np.zeros((self.in_dim, self.out_dim))
            yty = 0.0
            chunk = self.chunk_points // BLOCK
            blocks = self.n // BLOCK
            for start in range(0, blocks, chunk):
                stop = min(blocks, start + chunk)
                a, b, c = _stats_jit(key, jnp.arange(start, stop), truth, float(self.noise_std))
                xtx += np.asarray(a)
                xty += np.asarray(b)
                yty += float(c)
            self._cache["stats"] = SufficientStats(xtx, xty, yty, self.n, self.out_dim)
        return self._cache["stats"]

    def hold_bytes(self, dtype: str = "float64") -> int:
        """Bytes that holding every point (x and y) in ``dtype`` takes."""
        return self.n * (self.in_dim + self.out_dim) * np.dtype(dtype).itemsize

    def blocks(self, dtype: str = "float64") -> tuple[np.ndarray, np.ndarray]:
        """Every point, held: x as (n/BLOCK, BLOCK, H₀) and y as (n/BLOCK, BLOCK, H_L) arrays of
        ``dtype``, generated chunk by chunk from the same blocks a minibatch draws (so block b of the
        result is :func:`draw_blocks` of b). Kept for the next call with the same dtype (one dtype at a
        time); refused beyond :data:`HOLD_MAX_BYTES`."""
        if self.hold_bytes(dtype) > HOLD_MAX_BYTES:
            raise MemoryError(f"holding {self.n:,} points of {self.task_id} takes {self.hold_bytes(dtype) / 2**30:.2f} "
                              f"GiB, above the bound of {HOLD_MAX_BYTES / 2**30:.2f} GiB; draw them in the loop")
        name = f"blocks:{np.dtype(dtype).name}"
        if name not in self._cache:
            import jax.numpy as jnp

            for other in [k for k in self._cache if k.startswith("blocks:")]:
                del self._cache[other]  # one held copy at a time
            count = self.n // BLOCK
            bx = np.empty((count, BLOCK, self.in_dim), dtype=dtype)
            by = np.empty((count, BLOCK, self.out_dim), dtype=dtype)
            key, truth = self.key(), jnp.asarray(self.truth_map)
            chunk = self.chunk_points // BLOCK
            for start in range(0, count, chunk):
                stop = min(count, start + chunk)
                x, y = _draw_jit(key, jnp.arange(start, stop), truth, float(self.noise_std))
                bx[start:stop] = np.asarray(x).reshape(stop - start, BLOCK, self.in_dim)
                by[start:stop] = np.asarray(y).reshape(stop - start, BLOCK, self.out_dim)
            self._cache[name] = (bx, by)
        return self._cache[name]

    def identity(self) -> str:
        """What identifies the data (for caches): task, seed, n."""
        return f"{self.task_id}:{self.seed}:{self.n}"

    @property
    def x(self) -> np.ndarray:
        raise AttributeError("a streamed dataset is never held whole: use points(start, stop), stats(), "
                             "or draw_points() inside a compiled sampler")

    @property
    def y(self) -> np.ndarray:
        raise AttributeError("a streamed dataset is never held whole: use points(start, stop) or stats()")


def _draw(key: Any, blocks: Any, truth_map: Any, noise_std: float) -> tuple[Any, Any]:
    return draw_blocks(key, blocks, truth_map, noise_std)


def _stats(key: Any, blocks: Any, truth_map: Any, noise_std: float) -> tuple[Any, Any, Any]:
    x, y = draw_blocks(key, blocks, truth_map, noise_std)
    return x.T @ x, x.T @ y, (y * y).sum()


def _jit(fn):
    import functools

    cache: dict = {}

    @functools.wraps(fn)
    def wrapper(*args):
        import jax

        if "f" not in cache:
            cache["f"] = jax.jit(fn, static_argnums=(3,))
        return cache["f"](*args)

    return wrapper


_draw_jit = _jit(_draw)
_stats_jit = _jit(_stats)
