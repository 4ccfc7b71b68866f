"""The Task: a frozen (model, truth, prior) triplet with its known λ and where λ comes from."""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np

from slt_bench.models import ModelSpec, n_loss
from slt_bench.models.ops import numpy_ops

KINDS = ("exact", "reference", "unknown")


@dataclass(frozen=True)
class Prior:
    """φ(w) ∝ Π_{j unbounded} N(w_j; 0, std²) · Π_{j bounded} U[low_j, high_j] · Π_j |w_j|^{h_j}.

    ``bounds`` lists (index, low, high) for uniformly distributed coordinates; ``exponents``
    are the h_j of a prior that vanishes at 0 (None means all zero). Samplers work in
    unconstrained coordinates z: w_j = low + (high − low)·sigmoid(z_j) on bounded coordinates,
    the identity elsewhere.
    """

    std: float
    bounds: tuple[tuple[int, float, float], ...] = ()
    exponents: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not (self.std > 0 and math.isfinite(self.std)):
            raise ValueError(f"prior std must be a positive finite number, got {self.std}")
        for _, low, high in self.bounds:
            if not low < high:
                raise ValueError(f"prior bounds need low < high, got [{low}, {high}]")

    def describe(self) -> str:
        parts = [f"N(0, {self.std:g}²)"]
        parts += [f"w[{j}] ~ U[{lo:g}, {hi:g}]" for j, lo, hi in self.bounds]
        if self.exponents and any(self.exponents):
            parts.append("× Π|w_j|^h, h=" + ",".join(str(h) for h in self.exponents))
        return "; ".join(parts)

    def _bounded(self) -> dict[int, tuple[float, float]]:
        return {j: (lo, hi) for j, lo, hi in self.bounds}

    def log_density(self, ops: Any, w: Any) -> Any:
        """log φ(w) up to a constant, shape (...). Bounded coordinates must lie inside their box."""
        bounded = self._bounded()
        if not bounded and not (self.exponents and any(self.exponents)):
            return -0.5 * ((w / self.std) ** 2).sum(-1)  # one fused op: the common case, and the hot one
        total = 0.0
        for j in range(w.shape[-1]):
            if j not in bounded:
                total = total - 0.5 * (w[..., j] / self.std) ** 2
            if self.exponents and self.exponents[j]:
                total = total + 0.5 * self.exponents[j] * ops.log(w[..., j] ** 2)  # h log|w|
        return total

    def constrain(self, ops: Any, z: Any) -> tuple[Any, Any]:
        """(w(z), log |dw/dz|) for sampler coordinates z (..., d)."""
        bounded = self._bounded()
        if not bounded:
            return z, 0.0
        columns, log_jac = [], 0.0
        for j in range(z.shape[-1]):
            zj = z[..., j]
            if j in bounded:
                lo, hi = bounded[j]
                columns.append(lo + (hi - lo) * ops.sigmoid(zj))
                log_jac = log_jac + math.log(hi - lo) - ops.softplus(-zj) - ops.softplus(zj)
            else:
                columns.append(zj)
        return ops.stack_last(columns), log_jac

    def unconstrain(self, w: np.ndarray) -> np.ndarray:
        """z(w) in NumPy; points on a box's edge are moved inside by 1e-6 of its width."""
        z = np.array(w, dtype=np.float64, copy=True)
        for j, lo, hi in self.bounds:
            u = np.clip((z[..., j] - lo) / (hi - lo), 1e-6, 1 - 1e-6)
            z[..., j] = np.log(u) - np.log1p(-u)
        return z

    def sample_z(self, rng: np.random.Generator, size: int, dim: int) -> np.ndarray:
        """``size`` exact draws from φ in sampler coordinates z, shape (size, dim).

        Unbounded coordinates: N(0, std²), or with an exponent h the density ∝ |w|^h e^{−w²/2std²},
        whose w²/(2 std²) is Gamma((h+1)/2, 1), with a random sign; bounded ones: uniform on the
        box, mapped to z = logit of the position in it.
        """
        z = np.empty((size, dim))
        bounded = self._bounded()
        for j in range(dim):
            h = self.exponents[j] if self.exponents else 0
            if j in bounded:
                if h:
                    raise ValueError(f"coordinate {j}: a bounded prior with an exponent has no exact sampler")
                u = rng.uniform(1e-12, 1.0 - 1e-12, size)
                z[:, j] = np.log(u) - np.log1p(-u)
            elif h:
                z[:, j] = self.std * np.sqrt(2.0 * rng.gamma(0.5 * (h + 1), 1.0, size)) * rng.choice([-1.0, 1.0], size)
            else:
                z[:, j] = self.std * rng.standard_normal(size)
        return z

    def support(self, j: int, width: float = 8.0) -> tuple[float, float]:
        """An interval holding all but a negligible part of the prior mass of coordinate j."""
        bounded = self._bounded()
        if j in bounded:
            return bounded[j]
        extra = 2.0 * math.sqrt(max(self.exponents[j], 0)) if self.exponents else 0.0
        half = (width + extra) * self.std
        return -half, half


@dataclass(frozen=True)
class Inputs:
    """Input distribution: ``normal`` (N(0, I)), ``uniform`` (U[low, high]^dim) or ``none``."""

    kind: str
    dim: int
    low: float = -1.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("normal", "uniform", "none"):
            raise ValueError(f"inputs kind must be one of normal, uniform, none; got {self.kind!r}")

    def describe(self) -> str:
        if self.kind == "normal":
            return f"x ~ N(0, I_{self.dim})"
        if self.kind == "uniform":
            return f"x ~ U[{self.low:g}, {self.high:g}]^{self.dim}"
        return "no inputs"

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.kind == "normal":
            return rng.standard_normal((n, self.dim))
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high, (n, self.dim))
        return np.zeros((n, 0))


@dataclass(frozen=True)
class Dataset:
    """x (n, H_0) and y (n, N), float64; ``seed`` is the seed that drew them."""

    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    seed: int

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class Task:
    """A benchmark task with a versioned id such as ``rrr/m3-n3-h3-r1@1``.

    ``rlct``/``multiplicity`` are exact for kind ``exact``; for ``reference`` tasks ``rlct_ref``
    (a float) and ``rlct_se`` carry a published value with its ``provenance``.
    ``w_star`` is a true parameter at which the local learning coefficient equals λ.
    """

    id: str
    version: int
    family: str
    params: tuple[tuple[str, Any], ...]
    model: ModelSpec
    truth: tuple[float, ...]
    prior: Prior
    inputs: Inputs
    noise_std: float
    n: int
    kind: str
    source: str
    rlct: Fraction | None = None
    multiplicity: int | None = None
    rlct_ref: float | None = None
    rlct_se: float | None = None
    provenance: str | None = None
    w_star: tuple[float, ...] | None = None
    suites: tuple[str, ...] = ()
    streamed: bool = False
    # Where the task's certified reference files live: the ``references`` folder beside the catalogue
    # file that defined it, or None for the built-in catalogue (``slt_bench.reference.references_dir``).
    # Not part of the content: moving a catalogue does not change its tasks' posteriors.
    references: str | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    @property
    def n_params(self) -> int:
        return self.model.n_params

    @property
    def params_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.params}

    @cached_property
    def content_hash(self) -> str:
        """A hash of everything that defines the task's posterior and its score: id (it seeds the
        data), family and parameters, model, truth, w*, prior, inputs, noise, default n, and λ (or
        the reference value). Two tasks with the same id@version but different content differ here,
        so a result computed for one is never reused for the other."""
        def floats(values: Any) -> str | None:
            if values is None:
                return None
            return hashlib.sha256(np.asarray(values, dtype=np.float64).tobytes()).hexdigest()

        blob = json.dumps({
            "id": self.id, "family": self.family, "params": repr(self.params), "model": repr(self.model),
            "truth": floats(self.truth), "w_star": floats(self.w_star), "prior": repr(self.prior),
            "inputs": repr(self.inputs), "noise_std": repr(float(self.noise_std)), "n": self.n, "kind": self.kind,
            "rlct": str(self.rlct), "multiplicity": self.multiplicity, "rlct_ref": repr(self.rlct_ref),
            "rlct_se": repr(self.rlct_se), **({"streamed": True} if self.streamed else {}),
        }, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def data_bytes(self, n: int) -> int:
        """Bytes of a materialised dataset of n points (x and y, float64)."""
        from slt_bench.limits import data_bytes

        return data_bytes(n, self.model.in_dim, self.model.out_dim)

    @property
    def rlct_value(self) -> float | None:
        """λ as a float: the exact value, else the reference value, else None."""
        if self.rlct is not None:
            return float(self.rlct)
        return self.rlct_ref

    def dataset(self, n: int, seed: int) -> Any:
        """Draw n points from the truth; the same (task, n, seed) always gives the same data.

        A ``streamed`` task returns a :class:`~slt_bench.tasks.stream.StreamedDataset`: its points are
        drawn where they are used, never held whole.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if self.streamed:
            from slt_bench.tasks.stream import StreamedDataset

            truth_map = self.model.linear_map(numpy_ops(), np.asarray(self.truth, dtype=np.float64))
            return StreamedDataset(self.id, n, seed, truth_map, float(self.noise_std))
        rng = np.random.default_rng([seed, zlib.crc32(self.id.encode())])
        x = self.inputs.draw(rng, n)
        if self.model.kind == "density":
            y = rng.standard_normal((n, 1))  # every density task's truth is N(0, 1)
        else:
            mean = self.model.predict(numpy_ops(), np.asarray(self.truth), x)
            y = mean + self.noise_std * rng.standard_normal(mean.shape)
        return Dataset(x=x, y=y, seed=seed)

    def n_loss_numpy(self, w: np.ndarray, data: Any) -> np.ndarray:
        """n L_n(w) in NumPy for w of shape (..., d) (from sufficient statistics for streamed data)."""
        if getattr(data, "streamed", False):
            from slt_bench.models import n_loss_from_stats

            return n_loss_from_stats(numpy_ops(), self.model, np.asarray(w, dtype=np.float64), data.stats(),
                                     self.noise_std)
        return n_loss(numpy_ops(), self.model, np.asarray(w, dtype=np.float64), data.x, data.y, self.noise_std)
