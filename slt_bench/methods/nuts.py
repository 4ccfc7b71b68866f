"""NUTS through numpyro on the tempered potential −log p_β(z), chains run one after another.

Sequential chains beat vmapped ones for NUTS on a CPU: the longest trajectory sets the pace of
a vectorised step. ``dense_mass`` adapts a dense mass matrix during warm-up (needed on the seed
paper's ReLU networks, where the diagonal default diverges 15–40% of the time). ``collapse`` runs NUTS
on a linear network's other layers with the last one integrated out and drawn exactly
(:mod:`slt_bench.methods._collapse`): the reduced rank and deep linear tasks' funnels, where NUTS on
all the weights has divergent transitions, are gone for two layers. ``spectral`` (two layers, with
``collapse``) runs it on the first layer in coordinates that stretch its small singular values, where the
integrated-out layer's Occam factor has a curvature spike of order βn and NUTS diverges at large n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from slt_bench.draws import Draws
from slt_bench.methods._numpyro import run_kernel
from slt_bench.methods._validate import non_negative_int, open_unit, positive_ints
from slt_bench.target import Budget, TemperedTarget


@dataclass(frozen=True)
class NUTS:
    chains: int = 4
    warmup: int = 500
    samples: int = 1000
    target_accept: float = 0.8
    dense_mass: bool = False
    max_tree_depth: int = 10
    thin: int = 1
    chunks: int = 1
    max_divergence_rate: float = 0.01
    keep_params: bool = False
    collapse: bool = False
    spectral: bool = False

    name: ClassVar[str] = "nuts"

    def __post_init__(self) -> None:
        positive_ints(self, "chains", "samples", "thin", "chunks", "max_tree_depth")
        non_negative_int(self, "warmup")
        open_unit(self, "target_accept")
        for flag in ("collapse", "spectral"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be true or false, got {getattr(self, flag)!r}")
        if self.spectral and not self.collapse:
            raise ValueError("spectral = true needs collapse = true (it reparametrises the layer left once the last "
                             "is integrated out)")

    def check_task(self, task: Any) -> None:
        if self.collapse:
            from slt_bench.methods._collapse import check

            check(task)
        if self.spectral:
            from slt_bench.methods._collapse import spectral_check

            spectral_check(task)

    def sample(self, target: TemperedTarget, budget: Budget, seed: int) -> Draws:
        options = {"target_accept_prob": self.target_accept, "dense_mass": self.dense_mass,
                   "max_tree_depth": self.max_tree_depth}
        return run_kernel(target, budget, seed, "NUTS", options, self.chains, self.warmup, self.samples,
                          self.thin, self.chunks, self.max_divergence_rate, self.keep_params, self.collapse,
                          self.spectral)
