"""The λ̂ metric of one cell: sample the estimator's tempered posteriors of one dataset, estimate λ,
and look up the estimator's finite-n target: by quadrature on tasks with ≤ 3 parameters, else from a certified
reference for the same task content, dataset seed, n and β grid (``tasks/references/``)."""

from __future__ import annotations

import math
from typing import Any

from slt_bench.estimators import get_estimator
from slt_bench.methods import make_method
from slt_bench.methods.protocol import sample_path
from slt_bench.runner.outcome import ESTIMABLE, Outcome, posterior_status, summarise, trace_of, worst
from slt_bench.runner.spec import CellSpec, posterior_seed
from slt_bench.scoring import target_note
from slt_bench.target import Budget, TemperedTarget


def run_rlct(spec: CellSpec, task: Any, out: Outcome) -> None:
    """Fill ``out``: gradient evaluations and seconds as they are spent, then λ̂, SE and the target."""
    estimator = get_estimator(spec.estimator, **spec.options)
    method = make_method(spec.method, spec.hyper)
    data = task.dataset(spec.n, spec.seed)
    posteriors = estimator.posteriors(task, data)
    out.betas = [p.beta for p in posteriors]
    draws = []
    with out.timing("sample"):
        if hasattr(method, "sample_path"):  # all posteriors along one tempering path (smc)
            targets = [TemperedTarget(task, data, p.beta, p.centre, p.gamma) for p in posteriors]
            try:
                draws = sample_path(method, targets, Budget(spec.budget),
                                    [posterior_seed(spec.seed, i) for i in range(len(targets))])
            except BaseException:
                out.grad_evals += sum(t.grad_evals for t in targets)  # the work done still counts
                raise
            out.grad_evals += float(sum(d.grad_evals for d in draws))
        for i, post in enumerate(posteriors if not draws else []):
            target = TemperedTarget(task, data, post.beta, post.centre, post.gamma)
            try:
                found = method.sample(target, Budget(spec.budget), posterior_seed(spec.seed, i))
            except BaseException:
                out.grad_evals += target.grad_evals  # the work done before the failure still counts
                raise
            out.grad_evals += float(found.grad_evals)
            draws.append(found)
    out.traces = [trace_of(d) for d in draws]
    statuses = [posterior_status(d) for d in draws]
    out.diagnostics = [summarise(d, s, i) for i, (d, (s, _)) in enumerate(zip(draws, statuses))]
    out.worsen(*worst(statuses, [f"posterior {i} (β = {p.beta:.4g})" for i, p in enumerate(posteriors)]))
    beta_mid = posteriors[len(posteriors) // 2].beta
    if all(s in ESTIMABLE and d.n_loss.size for (s, _), d in zip(statuses, draws)):
        with out.timing("score"):
            est = estimator.estimate(task, data, posteriors, draws)
            out.rlct_hat, out.se, out.fit = est.rlct_hat, est.se, dict(est.fit)
            if math.isfinite(est.rlct_hat):
                finite = estimator.finite_n_target(task, data, posteriors, est)
                if finite is not None:
                    out.finite_target, out.finite_status = finite.value, finite.status
                    if finite.detail:
                        out.fit["finite_target_detail"] = finite.detail
    out.target_note = target_note(task.multiplicity, task.kind, out.finite_status, spec.n, beta_mid)
