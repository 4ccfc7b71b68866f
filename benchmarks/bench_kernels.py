"""Hot kernels: n L_n and its gradient in each backend, one batched SGLD step, the multi-β fit."""

import numpy as np

from benchmarks.common import version
from slt_bench.estimators.multi_beta import line_fit
from slt_bench.target import TemperedTarget
from slt_bench.tasks import load_catalog

KERNEL_TASKS = ("rrr/m3-n3-h3-r1", "tanh/h3")
CHAINS = 16


class Gradient:
    """∇ log p_β for a batch of 16 chains: torch (autograd) and JAX (jit(vmap(grad)))."""

    params = (list(KERNEL_TASKS), [1000, 10000])
    param_names = ["task", "n"]
    version = version(*KERNEL_TASKS)

    def setup(self, task_id, n):
        import jax
        import torch

        task = load_catalog().get(task_id)
        self.target = TemperedTarget(task, task.dataset(n, 0), 0.1)
        rng = np.random.default_rng(0)
        z = self.target.initial_point() + 0.1 * rng.standard_normal((CHAINS, task.n_params))
        self.z_torch = torch.as_tensor(z)
        self.z_jax = jax.numpy.asarray(z)
        f = self.target.logdensity_jax_fn()
        self.grad_jax = jax.jit(jax.vmap(jax.value_and_grad(f)))
        self.grad_jax(self.z_jax)[1].block_until_ready()
        self.target.logdensity_and_grad_torch(self.z_torch)

    def time_grad_torch(self, task_id, n):
        self.target.logdensity_and_grad_torch(self.z_torch)

    def time_grad_jax(self, task_id, n):
        self.grad_jax(self.z_jax)[1].block_until_ready()

    def time_n_loss_numpy(self, task_id, n):
        self.target.n_loss_numpy(self.z_torch.numpy())


class SGLDStep:
    """One SGLD (Leimkuhler–Matthews) step of 16 chains advanced as one tensor."""

    params = [list(KERNEL_TASKS)]
    param_names = ["task"]
    version = version(*KERNEL_TASKS)

    def setup(self, task_id):
        import torch

        from slt_bench.methods import make_method

        task = load_catalog().get(task_id)
        self.target = TemperedTarget(task, task.dataset(10_000, 0), 0.1)
        self.sgld = make_method("sgld", {"chains": CHAINS, "warmup": 10, "steps": 1, "step_size": 1e-5})
        self.z = torch.as_tensor(np.broadcast_to(self.target.initial_point(), (CHAINS, task.n_params)).copy())
        self.gen = torch.Generator().manual_seed(0)

    def time_sgld_step(self, task_id):
        self.sgld._run(self.target, self.z, 1e-5, self.gen, [], [])


class MultiBetaFit:
    """The GLS line fit of E_β[n L_n] on 1/β behind the multi-β estimator (5 β)."""

    version = "config=1"

    def setup(self):
        rng = np.random.default_rng(0)
        self.x = 1.0 / np.linspace(0.1, 0.2, 5)
        self.y = 3.0 * self.x + 100.0 + rng.normal(0, 0.1, 5)
        self.se = np.full(5, 0.1)

    def time_line_fit(self):
        line_fit(self.x, self.y, self.se)
