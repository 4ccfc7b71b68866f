"""The drift rule of ``unmixed`` on the run that motivated it: dls/d1k (n = 10⁵, dataset 0), the local
estimator at γ = 1, full-batch ``sgld`` at the step rule's ε, 4 chains from w*, 2 × 10⁵ steps (still
climbing at the end, R-hat 1.06) and 1.6 × 10⁶ steps (a plateau over its second half). Quoted in
docs/scale.md ("Equilibrated runs on dls/d1k"); about 8 CPU-minutes.

    python benchmarks/drift_check.py
"""

from __future__ import annotations

import json


def main() -> None:
    from slt_bench.draws import drift_z
    from slt_bench.estimators import get_estimator
    from slt_bench.methods import make_method
    from slt_bench.runner.outcome import posterior_status
    from slt_bench.target import Budget, TemperedTarget
    from slt_bench.tasks import load_catalog

    task = load_catalog().get("dls/d1k")
    data = task.dataset(100_000, 0)
    est = get_estimator("local", gamma=1.0)
    posts = est.posteriors(task, data)
    post = posts[0]
    for steps, thin in ((200_000, 50), (1_600_000, 400)):
        hyper = {"chains": 4, "warmup": 1000, "steps": steps, "thin": thin, "batch_size": None}
        draws = make_method("sgld", hyper).sample(TemperedTarget(task, data, post.beta, post.centre, post.gamma),
                                                  Budget(1e12), 0)
        result = est.estimate(task, data, posts, [draws])
        print(json.dumps({"steps": steps, "rlct_hat": result.rlct_hat, "se": result.se, "ess": draws.diagnostics.get("ess"),
                          "rhat": draws.diagnostics.get("rhat"), "drift_z": drift_z(draws.n_loss),
                          "status": posterior_status(draws)}), flush=True)


if __name__ == "__main__":
    main()
