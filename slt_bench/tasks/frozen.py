"""Last-layer schemes (seed paper §5): infer over the final k layers of a network with the earlier
layers frozen at a point estimate (the MAP).

Freezing layers 1..L−k turns the network into a smaller one on fixed features:

.. math::
    f(x, w) = T(\\phi(x; \\hat w_{\\le L-k}), w_{> L-k}),\\qquad
    \\phi = \\sigma_{L-k}(W_{L-k}\\,\\cdots\\,\\sigma_1(W_1 x))

so the tail T is an ordinary :class:`~slt_bench.models.Dense` spec and the frozen-feature problem
is an ordinary :class:`~slt_bench.tasks.Task` on the dataset (φ(x), y). Every method runs on it
unchanged (a linear tail even gets sufficient statistics).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from slt_bench.errors import SltBenchError
from slt_bench.models import Dense
from slt_bench.models.ops import numpy_ops
from slt_bench.models.spec import apply_activation
from slt_bench.tasks.task import Dataset, Inputs, Task

SCHEMES = {"all": None, "last_layer": 1, "last_two_layers": 2}


def scheme_layers(task: Task, scheme: str) -> int | None:
    """How many final layers ``scheme`` infers over (None: all); a clear error if the task has too few."""
    if scheme not in SCHEMES:
        raise SltBenchError(f"unknown scheme {scheme!r}; valid schemes: {', '.join(SCHEMES)}")
    k = SCHEMES[scheme]
    if k is None:
        return None
    layers = len(task.model.widths) - 1 if isinstance(task.model, Dense) else 1
    if layers <= k:
        raise SltBenchError(f"scheme {scheme!r} freezes all but the last {k} layer(s) and {task.key} has {layers}; "
                            f"valid schemes here: all" + (", last_layer" if layers > 1 else ""))
    return k


def _split(model: Dense, k: int) -> int:
    """Index in the flat vector where the last k layers start."""
    per_layer = [h_in * h_out + (h_out if model.bias else 0) for h_in, h_out in zip(model.widths[:-1], model.widths[1:])]
    return int(sum(per_layer[: len(per_layer) - k]))


def features(model: Dense, w: np.ndarray, k: int, x: np.ndarray) -> np.ndarray:
    """φ(x): the output of the first L−k layers (with their activations) at the flat weights w."""
    ops = numpy_ops()
    h = x
    for index, (weight, bias) in enumerate(model.layers(np.asarray(w, dtype=np.float64))[: len(model.widths) - 1 - k]):
        h = h @ weight.T
        if bias is not None:
            h = h + bias
        h = apply_activation(ops, model.hidden_activation(index), model.tau, h)
    return h


def freeze(task: Task, w_frozen: np.ndarray, k: int) -> tuple[Task, Any]:
    """(tail task, φ): the task over the last k layers with earlier ones fixed at ``w_frozen``.

    The tail task starts (its ``truth``, where samplers begin) at the tail of ``w_frozen``; its
    prior is the original one restricted to the tail.
    """
    model = task.model
    assert isinstance(model, Dense)
    first_hidden = len(model.widths) - 1 - k  # index of the hidden activation feeding the tail
    tail_widths = tuple(model.widths[first_hidden:])
    tail_acts = tuple(model.hidden_activation(i) for i in range(first_hidden, len(model.widths) - 2))
    tail = Dense(tail_widths, bias=model.bias, activation=model.activation, tau=model.tau,
                 activations=tail_acts if len(tail_widths) > 2 else ())
    start = _split(model, k)
    w_frozen = np.asarray(w_frozen, dtype=np.float64)
    tail_task = dataclasses.replace(
        task, id=f"{task.id}#last{k}", model=tail, truth=tuple(w_frozen[start:]), w_star=None,
        inputs=Inputs("normal", tail_widths[0]), kind="unknown", rlct=None,  # nominal: data come from φ
        multiplicity=None, rlct_ref=None, rlct_se=None,
        source=f"{task.key}, last {k} layer(s), earlier layers frozen",
    )

    def phi(x: np.ndarray) -> np.ndarray:
        return features(model, w_frozen, k, x)

    return tail_task, phi


def frozen_dataset(data: Dataset, phi: Any) -> Dataset:
    return Dataset(x=phi(data.x), y=data.y, seed=data.seed)
