"""The drift rule of ``unmixed`` (slt_bench.draws.drift_z, limit MAX_DRIFT_Z).

On the run that motivated it: dls/d1k (n = 10⁵, dataset 0), the local estimator at γ = 1, full-batch
``sgld`` at the step rule's ε, 4 chains from w*, 2 × 10⁵ steps (still climbing at the end, R-hat 1.06)
and 1.6 × 10⁶ steps (a plateau over its second half). Quoted in docs/scale.md ("Equilibrated runs on
dls/d1k"); about 8 CPU-minutes.

    python benchmarks/drift_check.py

Its null distribution, which sets the limit: z over stationary AR(1) chains (φ, 4 chains × DRAWS,
unit variance), its SD over all replicates, how many pass the ESS rule and how many of those exceed
3, 4, 4.5, 5 and 6 (the defaults, φ = 0.9, 600 draws, 40,000 replicates, seed 11, put the whole-run ESS
around the rule's 100, where the SE estimates are noisiest; about 2.5 CPU-minutes):

    python benchmarks/drift_check.py null [PHI DRAWS REPLICATES SEED]
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np


def null(phi: float = 0.9, draws: int = 600, replicates: int = 40_000, seed: int = 11) -> None:
    from numpyro.diagnostics import effective_sample_size

    from slt_bench.draws import drift_z
    from slt_bench.runner.outcome import MIN_ESS

    rng = np.random.default_rng(seed)
    zs, passing = [], []
    for _ in range(replicates):
        x = np.empty((4, draws))
        x[:, 0] = rng.standard_normal(4)
        noise = rng.standard_normal((4, draws)) * math.sqrt(1 - phi * phi)
        for t in range(1, draws):
            x[:, t] = phi * x[:, t - 1] + noise[:, t]
        zs.append(drift_z(x))
        passing.append(float(effective_sample_size(x)) >= MIN_ESS)
    zs, passing = np.array(zs), np.array(passing)
    out = {"phi": phi, "draws": draws, "replicates": replicates, "seed": seed, "sd_all": float(zs.std()),
           "passing_ess": int(passing.sum()), "sd_passing": float(zs[passing].std()),
           "mean_passing": float(zs[passing].mean())}
    out.update({f"above_{t:g}": int((np.abs(zs[passing]) > t).sum()) for t in (3, 4, 4.5, 5, 6)})
    print(json.dumps(out), flush=True)


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
    if len(sys.argv) >= 2 and sys.argv[1] == "null":
        null(*(f(a) for f, a in zip((float, int, int, int), sys.argv[2:6])))
    else:
        main()
