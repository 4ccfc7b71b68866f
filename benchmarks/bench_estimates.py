"""A full λ estimate per built-in method on a fixed pair of tasks: time, peak memory, accuracy."""

from benchmarks.common import METHODS, TASKS, estimate, skip_if_excluded, version


class Estimate:
    """time_: one local-λ estimate (n = 1000, fixed seed, small fixed budget), compiled beforehand."""

    params = (list(METHODS), list(TASKS))
    param_names = ["method", "task"]
    version = version(*TASKS)
    timeout = 600
    number = 1
    repeat = (1, 3, 60.0)

    def setup(self, method, task):
        skip_if_excluded(method, task)
        estimate(method, task)  # warm caches (JIT compilation) outside the timed call

    def time_estimate(self, method, task):
        estimate(method, task)


class EstimateMemory:
    """peakmem_: the peak resident memory of a process that runs the same estimate once, compilation
    included (a warm-up in setup would only run it twice: the peak is over the whole process)."""

    params = (list(METHODS), list(TASKS))
    param_names = ["method", "task"]
    version = version(*TASKS)
    timeout = 600

    def setup(self, method, task):
        skip_if_excluded(method, task)

    def peakmem_estimate(self, method, task):
        estimate(method, task)


class Accuracy:
    """track_: the relative error of λ̂ against λ and, on tasks with ≤ 3 parameters, against the
    finite-n target (the sampler's own error), each with its standard error (``make bench-check``
    and the CI check compare changes with these SEs); and the gradient evaluations an estimate took.
    All are fixed-seed figures, the same on every run on one CPU."""

    params = (list(METHODS), list(TASKS))
    param_names = ["method", "task"]
    version = version(*TASKS)
    timeout = 900

    def setup_cache(self):
        out = {}
        for method in METHODS:
            for task in TASKS:
                try:
                    skip_if_excluded(method, task)
                except NotImplementedError:
                    continue
                out[(method, task)] = estimate(method, task)
        return out

    def setup(self, cache, method, task):
        skip_if_excluded(method, task)

    def track_rel_error(self, cache, method, task):
        return cache[(method, task)]["rel_error"]

    track_rel_error.unit = "relative error vs λ"

    def track_rel_error_se(self, cache, method, task):
        return cache[(method, task)]["rel_se"]

    track_rel_error_se.unit = "SE of relative error vs λ"

    def track_finite_rel_error(self, cache, method, task):
        return cache[(method, task)]["finite_rel_error"]

    track_finite_rel_error.unit = "relative error vs finite-n target"

    def track_finite_rel_error_se(self, cache, method, task):
        return cache[(method, task)]["finite_rel_se"]

    track_finite_rel_error_se.unit = "SE of relative error vs finite-n target"

    def track_grad_evals(self, cache, method, task):
        return cache[(method, task)]["grad_evals"]

    track_grad_evals.unit = "gradient evaluations"
