"""MALA: Metropolis-adjusted Langevin, as numpyro's HMC with one leapfrog step per transition.

One leapfrog step of HMC with a fresh Gaussian momentum is exactly the MALA proposal; numpyro
adapts the step size to ``target_accept`` (0.574 is optimal for MALA in high dimension).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from slt_bench.draws import Draws
from slt_bench.methods._numpyro import run_kernel
from slt_bench.methods._validate import non_negative_int, open_unit, positive_ints
from slt_bench.target import Budget, TemperedTarget


@dataclass(frozen=True)
class MALA:
    chains: int = 4
    warmup: int = 1000
    samples: int = 4000
    target_accept: float = 0.574
    dense_mass: bool = False
    thin: int = 1
    chunks: int = 1
    max_divergence_rate: float = 0.01
    keep_params: bool = False

    name: ClassVar[str] = "mala"

    def __post_init__(self) -> None:
        positive_ints(self, "chains", "samples", "thin", "chunks")
        non_negative_int(self, "warmup")
        open_unit(self, "target_accept")

    def sample(self, target: TemperedTarget, budget: Budget, seed: int) -> Draws:
        options = {"num_steps": 1, "trajectory_length": None, "target_accept_prob": self.target_accept,
                   "dense_mass": self.dense_mass}
        return run_kernel(target, budget, seed, "HMC", options, self.chains, self.warmup, self.samples,
                          self.thin, self.chunks, self.max_divergence_rate, self.keep_params)
