"""torch ``nn.Module`` views of a model spec, for libraries that want modules (laplace-torch).

A :class:`~slt_bench.models.Dense` spec becomes an ``nn.Sequential`` of ``nn.Linear`` layers
whose parameters, flattened in order, are exactly the spec's flat vector w (so Kronecker-factored
and last-layer curvature work); any other regression spec becomes one module with a single flat
parameter.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def build_module(model: Any, w: np.ndarray):
    """An nn.Module computing f(x, w) in float64, its parameters set from the flat vector ``w``."""
    import torch
    from torch import nn

    from slt_bench.models import Dense
    from slt_bench.models.ops import torch_ops
    from slt_bench.models.spec import apply_activation

    class Activation(nn.Module):
        def __init__(self, name: str, tau: float) -> None:
            super().__init__()
            self.name, self.tau = name, tau

        def forward(self, h):
            return apply_activation(torch_ops(), self.name, self.tau, h)

    class Flat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(model.n_params, dtype=torch.float64))

        def forward(self, x):
            return model.predict(torch_ops(), self.w, x)

    if isinstance(model, Dense):
        layers: list[Any] = []
        pairs = list(zip(model.widths[:-1], model.widths[1:]))
        for index, (h_in, h_out) in enumerate(pairs):
            layers.append(nn.Linear(h_in, h_out, bias=model.bias, dtype=torch.float64))
            if index < len(pairs) - 1:
                layers.append(Activation(model.hidden_activation(index), model.tau))
        module = nn.Sequential(*layers)
    else:
        module = Flat()
    set_flat(module, w)
    return module


def set_flat(module: Any, w: np.ndarray) -> None:
    import torch
    from torch.nn.utils import vector_to_parameters

    vector_to_parameters(torch.as_tensor(np.asarray(w, dtype=np.float64)), module.parameters())


def n_layers(model: Any) -> int:
    """Number of weight layers a subset can refer to (1 for a spec without layers)."""
    from slt_bench.models import Dense

    return len(model.widths) - 1 if isinstance(model, Dense) else 1
