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
    """One full-batch SGLD step (Leimkuhler–Matthews, tamed) of 16 chains: the rule the samplers use,
    compiled with jit(vmap) as they compile it. (Until 462ed2b this timed the torch step, now removed;
    the version string changed with it, so asv does not compare the two.)"""

    params = [list(KERNEL_TASKS)]
    param_names = ["task"]
    version = version(*KERNEL_TASKS) + ";step=jax-rule"

    def setup(self, task_id):
        import jax
        import jax.numpy as jnp

        from slt_bench.methods.sgld import langevin_rule

        task = load_catalog().get(task_id)
        target = TemperedTarget(task, task.dataset(10_000, 0), 0.1)
        grad = jax.vmap(jax.grad(target.logdensity_jax_fn()))
        rule = langevin_rule("lm", True)

        def step(key, z, aux):
            keys = jax.random.split(key, z.shape[0])
            g = grad(z)  # the whole log density's gradient as grad_rest; no minibatch part (β n = 0)
            return jax.vmap(lambda k, zi, ai, gi: rule.step(k, zi, ai, gi, jnp.zeros_like(gi), 0.0, 1e-5))(
                keys, z, aux, g)

        self.step = jax.jit(step)
        self.key = jax.random.PRNGKey(0)
        self.z = jnp.asarray(np.broadcast_to(target.initial_point(), (CHAINS, task.n_params)).copy())
        self.aux = jax.vmap(rule.init)(self.z, jax.random.split(self.key, CHAINS))
        self.step(self.key, self.z, self.aux)[0].block_until_ready()

    def time_sgld_step(self, task_id):
        self.step(self.key, self.z, self.aux)[0].block_until_ready()


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
