"""asv suite of the peer comparison (benchmarks/peers.py): slt-bench's SGLD against devinterp's
on the same posterior, and numpyro's NUTS against pyro's. Skipped where devinterp is not
installed (it is the optional ``peers`` extra)."""

import numpy as np

from benchmarks.common import version
from slt_bench.estimators.base import Posterior, beta0
from slt_bench.methods import make_method
from slt_bench.target import Budget, TemperedTarget
from slt_bench.tasks import load_catalog

PEER_TASKS = ("rrr/m3-n3-h3-r1", "tanh/h3")
CHAINS, BURNIN, DRAWS = 4, 200, 500


def devinterp_1() -> bool:
    """Whether devinterp 1.x (the version peers.py compares with) is installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("devinterp").startswith("1.")
    except PackageNotFoundError:
        return False


class SGLDPeers:
    """One local-λ SGLD run (4 chains × 700 steps, n = 10⁴): slt-bench against devinterp. slt-bench's
    end_curvature check (60 gradients a chain after the last step, which devinterp does not do) is off:
    the figure is the sampler's, as it was before the check existed."""

    params = (["slt-bench", "devinterp"], list(PEER_TASKS))
    param_names = ["tool", "task"]
    version = version(*PEER_TASKS)
    timeout = 600

    def setup(self, tool, task_id):
        if tool == "devinterp" and not devinterp_1():
            raise NotImplementedError("the peer comparison runs devinterp 1.3.2's LLC estimator, not installed "
                                      "(make peers installs it; the devinterp extra has 2.x)")
        task = load_catalog().get(task_id)
        self.task, self.data = task, task.dataset(10_000, 0)
        self.post = Posterior(beta0(self.data.n), tuple(task.w_star), 1.0)
        self.sgld = make_method("sgld", {"chains": CHAINS, "warmup": BURNIN, "steps": DRAWS, "end_curvature": False})
        draws = self._ours()  # compiles; gives the step size devinterp reuses
        self.eps = draws.diagnostics["step_size"]

    def _ours(self):
        p = self.post
        return self.sgld.sample(TemperedTarget(self.task, self.data, p.beta, p.centre, p.gamma), Budget(1e12), 0)

    def time_local_llc(self, tool, task_id):
        if tool == "slt-bench":
            self._ours()
        else:
            from benchmarks.peers import devinterp_llc

            devinterp_llc(self.task, self.data, self.post.beta, self.post.gamma, np.asarray(self.task.w_star),
                          self.eps, CHAINS, BURNIN, DRAWS, 0)


class NUTSPeers:
    """NUTS on the seed paper's ReLU network (n = 1000, 1 chain × (100 + 200)): numpyro against pyro."""

    params = [["nuts", "nuts-pyro"]]
    param_names = ["method"]
    version = version("murfet2020/relu-m3")
    timeout = 900
    number = 1
    repeat = (1, 2, 60.0)

    def setup(self, method):
        task = load_catalog().get("murfet2020/relu-m3")
        data = task.dataset(1000, 0)
        self.target = TemperedTarget(task, data, beta0(1000))
        self.nuts = make_method(method, {"chains": 1, "warmup": 100, "samples": 200, "dense_mass": True,
                                         "max_tree_depth": 6})
        self.nuts.sample(self.target, Budget(1e12), 1)

    def time_nuts(self, method):
        self.nuts.sample(self.target, Budget(1e12), 0)

    def track_grad_evals_per_second(self, method):
        d = self.nuts.sample(self.target, Budget(1e12), 0)
        return d.grad_evals / d.wall_s

    track_grad_evals_per_second.unit = "gradient evaluations per second"
