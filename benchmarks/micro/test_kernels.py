"""Micro-benchmarks of the hot kernels (pytest-benchmark; ``make microbench`` autosaves each
run in .benchmarks/ and compares it with the previous one). Not part of ``make test``."""

import numpy as np
import pytest
import torch

from slt_bench.estimators.multi_beta import line_fit
from slt_bench.target import TemperedTarget
from slt_bench.tasks import load_catalog

torch.set_num_threads(1)
CHAINS = 16


@pytest.fixture(scope="module", params=["rrr/m3-n3-h3-r1", "tanh/h3", "mixture/fixed-weight"])
def target(request):
    task = load_catalog().get(request.param)
    return TemperedTarget(task, task.dataset(10_000, 0), 0.1)


def _chains(target):
    rng = np.random.default_rng(0)
    return target.initial_point() + 0.1 * rng.standard_normal((CHAINS, target.dim))


def test_grad_torch(benchmark, target):
    z = torch.as_tensor(_chains(target))
    logp, grad, _ = benchmark(target.logdensity_and_grad_torch, z)
    assert grad.shape == z.shape and torch.isfinite(grad).all()


def test_grad_jax(benchmark, target):
    import jax

    f = jax.jit(jax.vmap(jax.value_and_grad(target.logdensity_jax_fn())))
    z = jax.numpy.asarray(_chains(target))
    f(z)[1].block_until_ready()
    grad = benchmark(lambda: f(z)[1].block_until_ready())
    assert grad.shape == z.shape


def test_n_loss_numpy(benchmark, target):
    out = benchmark(target.n_loss_numpy, _chains(target))
    assert out.shape == (CHAINS,) and np.isfinite(out).all()


def test_multi_beta_line_fit(benchmark):
    x = 1.0 / np.linspace(0.1, 0.2, 5)
    y = 3.0 * x + 100.0
    fit = benchmark(line_fit, x, y, np.full(5, 0.1))
    assert fit["slope"] == pytest.approx(3.0)
