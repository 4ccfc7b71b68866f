"""The scale family: minibatch SG-MCMC steps on deep linear networks of 10⁴ and 10⁵ parameters
(streamed data, n = 10⁵, batch 500, 4 chains), time and peak memory; one fixed short run each."""

import jax.numpy as jnp

from benchmarks.common import version
from slt_bench.estimators import get_estimator
from slt_bench.methods import make_method
from slt_bench.methods._sgmcmc import noise_heat
from slt_bench.methods.sgld import langevin_rule
from slt_bench.target import Budget, TemperedTarget
from slt_bench.tasks import load_catalog

SCALE_TASKS = ("dls/d10k", "dls/d100k")
# noise_heat and the end check off: these time the steps; time_noise_heat and time_end_check time the two
# measurements a run adds at its end
HYPER = {"chains": 4, "warmup": 0, "steps": 200, "thin": 50, "batch_size": 500, "step_size": 1e-7, "noise_heat": False,
         "end_curvature": False}


class ScaleSteps:
    """200 minibatch steps of rmsprop-sgld (4 chains), plus the full-batch n L_n of 16 kept draws;
    and, apart, the noise heat a Langevin-form run measures at its end (32 minibatch gradients per
    chain at the 4 chains' points), and the end check (the step against the top curvature, 60 full-batch
    gradients per chain at the same points)."""

    params = [list(SCALE_TASKS)]
    param_names = ["task"]
    version = version(*SCALE_TASKS)
    timeout = 900
    number = 1
    repeat = (1, 2, 120.0)

    hyper = HYPER

    def setup(self, task_id):
        task = load_catalog().get(task_id)
        data = task.dataset(100_000, 0)
        (post,) = get_estimator("local").posteriors(task, data)
        self.target = TemperedTarget(task, data, post.beta, post.centre, post.gamma)
        self.target.n_loss_numpy(self.target.initial_point())  # the statistics, accumulated once
        self.method = make_method("rmsprop-sgld", self.hyper)
        self.method.sample(self.target, Budget(1e12), 0)  # compile outside the timed call
        self.chains = jnp.broadcast_to(jnp.asarray(self.target.initial_point()), (4, self.target.dim))
        self.noise_heat(0)  # compile outside the timed call
        self.end_check(0)  # compile outside the timed call

    def noise_heat(self, seed):
        return noise_heat(langevin_rule("lm", True), self.target, self.chains, None, 1e-7, 500, seed,
                          self.hyper.get("precision", "float64"))

    def end_check(self, seed):
        import jax

        from slt_bench.methods._stiffness import end_curvature

        return end_curvature(self.target, self.chains, 1e-7, jax.random.PRNGKey(seed))

    def time_end_check(self, task_id):
        self.end_check(1)

    def time_steps(self, task_id):
        self.method.sample(self.target, Budget(1e12), 1)

    def time_noise_heat(self, task_id):
        self.noise_heat(1)

    def peakmem_steps(self, task_id):
        self.method.sample(self.target, Budget(1e12), 1)


class ScaleSteps1M(ScaleSteps):
    """The 10⁶-parameter instance (dls/d1m, 1,031,910 parameters, n = 10⁵ streamed, held as float32
    blocks: 0.43 GiB): 20 minibatch steps of rmsprop-sgld with 4 chains at precision float32, plus the
    full-batch n L_n of one kept draw per chain. ``peakmem_`` is the peak RSS of the whole process —
    the sufficient statistics, the held data, the compiled loop and the chains: what a 4-chain cell of
    this size needs."""

    params = [["dls/d1m"]]
    param_names = ["task"]
    version = version("dls/d1m")
    timeout = 1200
    number = 1
    repeat = (1, 2, 300.0)

    hyper = {**HYPER, "steps": 20, "thin": 20, "precision": "float32"}
