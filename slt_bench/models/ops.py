"""The few array operations the model specs need, for torch and for JAX.

Both namespaces share names so that a spec's code is written once. JAX is imported lazily:
torch-only users never pay for it.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace


@lru_cache(maxsize=None)
def torch_ops() -> SimpleNamespace:
    import torch

    return SimpleNamespace(
        name="torch",
        tanh=torch.tanh,
        relu=torch.relu,
        sigmoid=torch.sigmoid,
        log=torch.log,
        log1p=torch.log1p,
        expm1=torch.expm1,
        logaddexp=torch.logaddexp,
        softplus=torch.nn.functional.softplus,
        stack_last=lambda arrays: torch.stack(arrays, dim=-1),
        swap_last=lambda a: a.transpose(-1, -2),
    )


@lru_cache(maxsize=None)
def jax_ops() -> SimpleNamespace:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    return SimpleNamespace(
        name="jax",
        tanh=jnp.tanh,
        relu=jax.nn.relu,
        sigmoid=jax.nn.sigmoid,
        log=jnp.log,
        log1p=jnp.log1p,
        expm1=jnp.expm1,
        logaddexp=jnp.logaddexp,
        softplus=jax.nn.softplus,
        stack_last=lambda arrays: jnp.stack(arrays, axis=-1),
        swap_last=lambda a: jnp.swapaxes(a, -1, -2),
    )


@lru_cache(maxsize=None)
def numpy_ops() -> SimpleNamespace:
    """NumPy, for drawing data and for quadrature on grids (float64 throughout)."""
    import numpy as np
    from scipy.special import expit

    return SimpleNamespace(
        name="numpy",
        tanh=np.tanh,
        relu=lambda a: np.maximum(a, 0.0),
        sigmoid=expit,
        log=np.log,
        log1p=np.log1p,
        expm1=np.expm1,
        logaddexp=np.logaddexp,
        softplus=lambda a: np.logaddexp(0.0, a),
        stack_last=lambda arrays: np.stack(arrays, axis=-1),
        swap_last=lambda a: np.swapaxes(a, -1, -2),
    )
