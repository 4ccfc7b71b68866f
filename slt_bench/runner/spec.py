"""A cell of the grid, as plain values: what to compute, and the key it is stored under.

A cell is (task content, method preset, dataset seed, n, metric, estimator and its options). Its key
is a hash of all of them and of :data:`SCORING_VERSION`, so a change in any of them — a task whose
content changed under an old id, a ``--set`` override, an estimator option, a new meaning of a
stored number — is a new cell and never reuses an old one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Bump when the meaning of a stored number changes (how λ̂, its SE, a status or a cost is computed).
# 2: task-content keys, unmixed status, costs that count every gradient, split wall time,
#    divergences over transitions, quadrature targets checked for convergence.
# 3: a posterior whose n L_n drifts between the halves of its run (|z| > 4) is unmixed.
# 4: that drift is measured in the steadier half's SE, and the limit is |z| > 5 (a climb confined to
#    the first half of the run is caught).
SCORING_VERSION = 4
METRICS = ("rlct", "generalisation")


@dataclass(frozen=True)
class CellSpec:
    """Everything one cell needs, as plain values (it crosses process and machine boundaries).

    ``metric`` ``rlct``: λ̂ from the tempered posteriors of one dataset (``seed``, ``n``) by
    ``estimator``. ``generalisation``: the slope of E_n G(n) against 1/n over the sample sizes and
    dataset draws in ``options`` (``ns``, ``replicates``, …); ``seed`` is None and ``n`` the largest n.
    """

    task: str  # id@version
    task_hash: str  # Task.content_hash
    method: str
    tier: str
    hyper: dict[str, Any]
    budget: float  # gradient evaluations per tempered posterior
    preset_hash: str
    seed: int | None
    n: int
    metric: str
    estimator: str
    options: dict[str, Any] = field(default_factory=dict)
    catalogs: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        blob = json.dumps({
            "task": self.task, "task_hash": self.task_hash, "method": self.method, "tier": self.tier,
            "preset_hash": self.preset_hash, "seed": self.seed, "n": self.n, "metric": self.metric,
            "estimator": self.estimator, "options": self.options, "scoring_version": SCORING_VERSION,
        }, sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]


def posterior_seed(seed: int, index: int) -> int:
    """The method's seed for posterior ``index`` of the cell with dataset seed ``seed``."""
    return int(np.random.SeedSequence([seed, index, 7919]).generate_state(1)[0])
