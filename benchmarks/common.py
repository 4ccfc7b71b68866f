"""Shared fixtures of the asv suites: fixed tasks, seeds and small budgets per built-in method.

Every benchmark's ``version`` is built from the ids@versions of the tasks it runs and from
:data:`CONFIG_VERSION`, so changing a task (which bumps its version) or a benchmark setting
starts a new history instead of mixing numbers that measure different things.
"""

from __future__ import annotations

from typing import Any

import torch

from slt_bench.estimators import get_estimator
from slt_bench.methods import make_method
from slt_bench.target import Budget, TemperedTarget
from slt_bench.tasks import load_catalog

torch.set_num_threads(1)  # as in the runner's workers: stable figures, no oversubscription

CONFIG_VERSION = 2  # 2: the one cell pipeline (scoring version 2): finite-n targets checked for convergence
N = 1000
SEED = 0
TASKS = ("nc/k1-2", "rrr/m3-n3-h3-r1")
ESTIMATOR = "local"
HYPER: dict[str, dict[str, Any]] = {
    "sgld": {"chains": 4, "warmup": 500, "steps": 2000},
    "nuts": {"chains": 2, "warmup": 300, "samples": 500, "target_accept": 0.95},
    "mala": {"chains": 2, "warmup": 500, "samples": 2000},
    "nuts-pyro": {"chains": 1, "warmup": 200, "samples": 300, "target_accept": 0.95},
    # Laplace and VI are tracked so that a change to them shows; on these singular tasks Laplace's
    # error is large by design (a degenerate Hessian), which is what it should keep showing.
    "laplace": {"samples": 2000},
    "vi": {"steps": 3000, "samples": 2000},
    # the minibatch SG-MCMC family, represented by its preconditioned and its momentum member
    "rmsprop-sgld": {"chains": 4, "warmup": 500, "steps": 4000, "thin": 5, "batch_size": 100},
    "sghmc": {"chains": 4, "warmup": 500, "steps": 4000, "thin": 5, "batch_size": 100},
}
METHODS = tuple(HYPER)
# pyro's NUTS needs about a minute for one posterior of the 18-parameter reduced rank task at
# this size (400 leapfrog steps a draw, Python-level steps); it is compared on the small task
# here and side by side with numpyro in peers.py.
SKIP = {("nuts-pyro", "rrr/m3-n3-h3-r1")}


def version(*task_ids: str) -> str:
    catalog = load_catalog()
    return ";".join([catalog.get(t).key for t in task_ids] + [f"config={CONFIG_VERSION}"])


def skip_if_excluded(method: str, task_id: str) -> None:
    if (method, task_id) in SKIP:
        raise NotImplementedError(f"{method} on {task_id} is not part of this suite")  # asv: skipped


def estimate(method: str, task_id: str) -> dict[str, float]:
    """One full λ estimate (data, posterior, draws, estimator), as plain numbers."""
    task = load_catalog().get(task_id)
    data = task.dataset(N, SEED)
    est = get_estimator(ESTIMATOR)
    posts = est.posteriors(task, data)
    sampler = make_method(method, HYPER[method])
    draws = [sampler.sample(TemperedTarget(task, data, p.beta, p.centre, p.gamma), Budget(1e8), SEED + i)
             for i, p in enumerate(posts)]
    result = est.estimate(task, data, posts, draws)
    found = est.finite_n_target(task, data, posts, result)
    finite = None if found is None or found.status != "exact" else found.value
    lam = task.rlct_value
    return {
        "rel_error": (result.rlct_hat - lam) / lam,
        "rel_se": result.se / lam,
        "finite_rel_error": float("nan") if finite is None else (result.rlct_hat - finite) / finite,
        "finite_rel_se": float("nan") if finite is None else result.se / finite,
        "grad_evals": sum(d.grad_evals for d in draws),
    }


def splice(path: Any, start: str, end: str, block: str) -> None:
    """Write ``block`` (which begins with ``start`` and ends with ``end``) into the file at ``path``
    in place of the text between those markers, or append it when the markers are absent."""
    from pathlib import Path

    doc = Path(path).read_text()
    if start in doc and end in doc:
        doc = doc[: doc.index(start)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    Path(path).write_text(doc)


def splice_marked(path: Any, mark: str, text: str) -> None:
    """:func:`splice` between ``<!-- mark:start -->`` and ``<!-- mark:end -->``."""
    start, end = f"<!-- {mark}:start -->", f"<!-- {mark}:end -->"
    splice(path, start, end, f"{start}\n{text}\n{end}")


def publish(text: str, write: Any = None, mark: str = "") -> None:
    """Print a study's Markdown, and splice it into ``write`` between the ``mark`` lines when given."""
    if write:
        splice_marked(write, mark, text)
    print(text)
