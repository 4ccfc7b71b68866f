"""One spec, two backends: torch and JAX give the same n L_n and gradient (float64, rel 1e-10)."""

import numpy as np
import pytest
import torch

from slt_bench.models import Dense, Mixture, Monomial, SufficientStats, n_loss, n_loss_from_stats
from slt_bench.models.ops import jax_ops, numpy_ops, torch_ops

SPECS = [
    Dense((3, 4, 2)),
    Dense((3, 4, 2), bias=True, activation="tanh"),
    Dense((2, 5, 1), bias=True, activation="relu"),
    Dense((2, 5, 1), bias=True, activation="silu", tau=100.0),
    Dense((3, 2, 2, 3)),
    Monomial((1, 3)),
    Monomial((1, 1, 1)),
    Mixture(None),
    Mixture(0.3),
]


def _data(spec, rng, n=64):
    x = rng.standard_normal((n, spec.in_dim))
    y = rng.standard_normal((n, spec.out_dim))
    return x, y


def _params(spec, rng):
    w = rng.standard_normal(spec.n_params) * 0.7
    if isinstance(spec, Mixture) and spec.weight is None:
        w[0] = 0.35  # the weight a lies in [0, 1]
    return w


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: repr(s))
def test_torch_and_jax_agree_on_n_loss_and_gradient(spec):
    import jax

    rng = np.random.default_rng(0)
    x, y = _data(spec, rng)
    for _ in range(3):
        w = _params(spec, rng)
        wt = torch.tensor(w, requires_grad=True)
        lt = n_loss(torch_ops(), spec, wt, torch.tensor(x), torch.tensor(y), 0.7)
        (gt,) = torch.autograd.grad(lt, wt)
        jops = jax_ops()
        lj, gj = jax.value_and_grad(lambda v: n_loss(jops, spec, v, x, y, 0.7))(jax.numpy.asarray(w))
        np.testing.assert_allclose(float(lt.detach()), float(lj), rtol=1e-10)
        np.testing.assert_allclose(gt.numpy(), np.asarray(gj), rtol=1e-10, atol=1e-10 * float(np.abs(gt.numpy()).max()))
        ln = n_loss(numpy_ops(), spec, w, x, y, 0.7)
        np.testing.assert_allclose(float(lt.detach()), float(ln), rtol=1e-12)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.is_linear], ids=lambda s: repr(s))
def test_sufficient_statistics_equal_the_sum_over_data(spec):
    rng = np.random.default_rng(1)
    x, y = _data(spec, rng, n=200)
    stats = SufficientStats(x.T @ x, x.T @ y, float((y**2).sum()), 200, y.shape[1])
    w = rng.standard_normal((5, spec.n_params))  # a batch of chains
    direct = n_loss(numpy_ops(), spec, w, x, y, 1.3)
    via_stats = n_loss_from_stats(numpy_ops(), spec, w, stats, 1.3)
    np.testing.assert_allclose(direct, via_stats, rtol=1e-10)


def test_batched_parameters_match_one_at_a_time():
    spec = Dense((2, 5, 1), bias=True, activation="tanh")
    rng = np.random.default_rng(2)
    x, y = _data(spec, rng)
    w = rng.standard_normal((4, spec.n_params))
    batched = n_loss(numpy_ops(), spec, w, x, y, 1.0)
    single = [n_loss(numpy_ops(), spec, wi, x, y, 1.0) for wi in w]
    np.testing.assert_allclose(batched, single, rtol=1e-12)


def test_free_weight_mixture_is_finite_at_zero_weight():
    rng = np.random.default_rng(3)
    y = rng.standard_normal((50, 1))
    w = torch.tensor([0.0, 0.4], dtype=torch.float64, requires_grad=True)
    loss = n_loss(torch_ops(), Mixture(None), w, None, torch.tensor(y), 1.0)
    (g,) = torch.autograd.grad(loss, w)
    assert torch.isfinite(loss) and torch.isfinite(g).all()


def test_bad_specs_fail_clearly():
    with pytest.raises(ValueError, match="activation must be one of"):
        Dense((2, 3, 1), activation="gelu")
    with pytest.raises(ValueError, match="widths"):
        Dense((2,))
    with pytest.raises(ValueError, match="weight"):
        Mixture(1.5)
