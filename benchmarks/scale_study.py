"""Why SGLD fell short at 10³–10⁴ parameters, and how the SG-MCMC family's step rule was chosen:
the runs behind docs/scale.md.

    python benchmarks/scale_study.py run sweep     # the step-size sweep (about 45 min on 2 cores)
    python benchmarks/scale_study.py run gamma     # the localisation study on dls/d1k (about 8 min)
    python benchmarks/scale_study.py run trace     # one long sgld chain on a 2,647-parameter network (about 3 min)
    python benchmarks/scale_study.py write docs/scale.md

Each run appends JSON lines to benchmarks/studies/<name>.jsonl (committed: the page is rebuilt
from them). One dataset seed (0) per setting; the local estimator at β = 1/log n.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ROOT / "benchmarks" / "studies"
SWEEP_TASKS = (("nc/k1-2", 10_000), ("regular/d2", 10_000), ("dls/d1k", 100_000))
SWEEP_GRID = (("sgld", "target_accept", (0.99, 0.999, 0.9999)),
              ("rmsprop-sgld", "step_fraction", (0.003, 0.01, 0.03, 0.1)),
              ("adam-sgld", "step_fraction", (0.003, 0.01, 0.03, 0.1)),
              ("sghmc", "step_fraction", (0.003, 0.01, 0.03, 0.1)),
              ("sgnht", "step_fraction", (0.003, 0.01, 0.03, 0.1)))
GAMMA_RUNS = (("rmsprop-sgld", 100.0, 10_000, {"step_fraction": 0.03}), ("sgld", 100.0, 10_000, {}),
              ("sghmc", 100.0, 10_000, {"step_fraction": 0.003}), ("rmsprop-sgld", 1000.0, 10_000, {"step_fraction": 0.03}),
              ("rmsprop-sgld", 100.0, 40_000, {"step_fraction": 0.03}))
# the 2,647-parameter network of the issue that asked for this study (widths 21-34-25-19-32, rank 3)
TRACE_CATALOG = ('family = "deep_linear"\n[[tasks]]\nid = "dln/w21-34-25-19-32-r3"\nversion = 1\n'
                 'params = { widths = [21, 34, 25, 19, 32], r = 3 }\n')


def _local_run(task, n, method, hyper, gamma=1.0, blocks=5):
    from slt_bench.estimators import get_estimator
    from slt_bench.methods import make_method
    from slt_bench.runner.outcome import posterior_status
    from slt_bench.target import Budget, TemperedTarget

    data = task.dataset(n, 0)
    est = get_estimator("local", gamma=gamma)
    posts = est.posteriors(task, data)
    p = posts[0]
    start = time.perf_counter()
    draws = make_method(method, hyper).sample(TemperedTarget(task, data, p.beta, p.centre, p.gamma), Budget(1e12), 0)
    result = est.estimate(task, data, posts, [draws])
    finite = est.finite_n_target(task, data, posts, result)
    at_centre = float(task.n_loss_numpy(np.asarray(task.w_star), data))
    block_means = [p.beta * (b.mean() - at_centre) for b in np.array_split(draws.n_loss.mean(0), blocks)]
    return {"task": task.id, "n": n, "method": method, "gamma": gamma, **hyper, "rlct": task.rlct_value,
            "finite": None if finite is None else finite.value, "rlct_hat": result.rlct_hat, "se": result.se,
            "eps": draws.diagnostics.get("step_size"), "ess": draws.diagnostics.get("ess"),
            "rhat": draws.diagnostics.get("rhat"), "status": posterior_status(draws)[0],
            "blocks": [round(float(v), 2) for v in block_means], "seconds": time.perf_counter() - start}


def run(name: str) -> None:
    from slt_bench.tasks import load_catalog

    STUDIES.mkdir(parents=True, exist_ok=True)
    out = open(STUDIES / f"{name}.jsonl", "a")
    if name == "trace":
        path = STUDIES / "trace.toml"
        path.write_text(TRACE_CATALOG)
        task = load_catalog([path]).get("dln/w21-34-25-19-32-r3")
        records = [_local_run(task, 10_000, "sgld", {"chains": 8, "warmup": 2000, "steps": 8000}, blocks=10),
                   _local_run(task, 10_000, "sgld", {"chains": 4, "warmup": 2000, "steps": 200_000, "thin": 100},
                              blocks=10)]
    else:
        catalog = load_catalog()
        records = []
        if name == "sweep":
            for task_id, n in SWEEP_TASKS:
                for method, key, values in SWEEP_GRID:
                    for value in values:
                        hyper = {"chains": 4, "warmup": 1000, "steps": 10_000, "thin": 10, "batch_size": 500, key: value}
                        records.append(_local_run(catalog.get(task_id), n, method, hyper))
                        out.write(json.dumps(records[-1]) + "\n")
                        out.flush()
            return
        for method, gamma, steps, extra in GAMMA_RUNS:
            hyper = {"chains": 4, "warmup": 1000, "steps": steps, "thin": 10, "batch_size": 500, **extra}
            records.append(_local_run(catalog.get("dls/d1k"), 100_000, method, hyper, gamma))
            out.write(json.dumps(records[-1]) + "\n")
            out.flush()
        return
    for rec in records:
        out.write(json.dumps(rec) + "\n")


def _load(name: str) -> list[dict]:
    path = STUDIES / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write(path: str) -> None:
    sweep, gamma, trace = _load("sweep"), _load("gamma"), _load("trace")
    text = [PREAMBLE]
    if trace:
        short, t = trace[-2], trace[-1]
        text += ["## Why `sgld` was 13–25% low on a 2,647-parameter deep linear network",
                 "",
                 f"Widths 21-34-25-19-32, a truth of rank 3, λ = {t['rlct']:g}, n = 10⁴, the local estimator "
                 f"(γ = 1, β = 1/log n), full-batch gradients. At the standard tier's length (8 chains × (2000 + 8000) "
                 f"steps) `sgld` gives "
                 f"λ̂ = {short['rlct_hat']:.1f} ± {short['se']:.1f} ({short['rlct_hat'] / t['rlct'] - 1:+.0%}), "
                 f"ESS of n L_n {short['ess']:.0f}, R-hat {short['rhat']:.3f}: status `{short['status']}`. "
                 f"The same rule (ε = {t['eps']:.2g}, tuned to a 0.999 MALA acceptance at w*) run 4 chains × "
                 "200 000 steps from w*; the local λ̂ of each tenth of the run (n L_n averaged over the chains in "
                 "that stretch):",
                 "",
                 "| stretch of the run (steps) | " + " | ".join(f"{20 * i}k–{20 * (i + 1)}k" for i in range(10)) + " |",
                 "|---|" + "---:|" * 10,
                 "| λ̂ | " + " | ".join(f"{v:.0f}" for v in t["blocks"]) + " |",
                 "",
                 TRACE_READING, ""]
    if sweep:
        text += ["## The step-size rule, against a sweep", "", SWEEP_INTRO, "",
                 "| task | method | setting | λ̂ ± SE | target | z | ESS | R-hat | status |",
                 "|---|---|---|---:|---:|---:|---:|---:|---|"]
        for r in sweep:
            key = "target_accept" if "target_accept" in r else "step_fraction"
            target = r["finite"] if r["finite"] is not None else r["rlct"]
            name = "finite-n" if r["finite"] is not None else "λ"
            z = (r["rlct_hat"] - target) / r["se"] if r["se"] else float("nan")
            finite = abs(r["rlct_hat"]) < 1e6
            hat = f"{r['rlct_hat']:.3g} ± {r['se']:.2g}" if finite else "diverged"
            ztext = f"{z:+.1f}" if finite else "–"
            text.append(f"| {r['task']} | {r['method']} | {key} {r[key]} | {hat} | {target:.3g} ({name}) | "
                        f"{ztext} | {r['ess'] or 0:.0f} | {r['rhat'] or 0:.3f} | {r['status']} |")
        text += ["", SWEEP_READING, ""]
    if gamma:
        text += ["## The local estimator at scale depends on γ", "", GAMMA_INTRO, "",
                 "| method | γ | steps | λ̂ ± SE | λ | λ̂ by fifths of the run | ESS | R-hat | status |",
                 "|---|---:|---:|---:|---:|---|---:|---:|---|"]
        for r in gamma:
            text.append(f"| {r['method']} | {r['gamma']:g} | {r['steps']} | {r['rlct_hat']:.1f} ± {r['se']:.1f} | "
                        f"{r['rlct']:g} | {', '.join(f'{v:.0f}' for v in r['blocks'])} | {r['ess'] or 0:.0f} | "
                        f"{r['rhat'] or 0:.3f} | {r['status']} |")
        text += ["", GAMMA_READING, ""]
    Path(path).write_text("\n".join(text))
    print("\n".join(text))


PREAMBLE = """# SG-MCMC at scale: what the samplers measure, and why

The runs behind the minibatch SG-MCMC family's step rule and behind what we know of its accuracy at
10³–10⁶ parameters. Produced by `python benchmarks/scale_study.py` (its docstring has the commands);
the raw records are in `benchmarks/studies/*.jsonl`. One dataset (seed 0) per setting, the local
estimator (β = 1/log n, localisation γ at w*); the sweep and the γ study use minibatches of 500 and
4 chains, the long trace full-batch gradients as the standard tier runs `sgld`.
"""

TRACE_READING = """The chains start at w*, the minimum of the potential, and n L_n climbs for tens of thousands of steps
before it levels off; the level it reaches (about 240 over the last half of the run) is about 20%
above λ. At the standard tier's 8 000 steps the estimate sits early in the climb: that is the
shortfall measured before, and it is the sampler's (burn-in from w*), not the step size's alone. The
slowest directions are the flat ones of the singular set, where only the weak localisation γ = 1
pulls; they relax in about 1/(εγ) steps, of order 10⁵ at this ε. What sets the plateau above λ we
cannot separate here: with 2,647 parameters there is no quadrature target, so the estimator's own
finite-n bias at n = 10⁴, γ = 1 and the discretisation bias of an unadjusted step both remain
candidates. Both runs have an ESS of n L_n near 60 and are stored as `unmixed` (ESS < 100 or
R-hat > 1.1), so a leaderboard never counts them as a success; earlier releases stored such runs as
`ok`. Longer runs alone do not fix the number (the plateau is not λ), which is why the scale suite's
accuracy goal stays open."""

SWEEP_INTRO = """Each method at several settings of its step rule (`target_accept` for `sgld`'s MALA rule,
`step_fraction` for the curvature rule ε = fraction/κ of the others), 4 chains × (1000 + 10 000)
steps, minibatches of 500. On the two tasks with ≤ 3 parameters the target is the exact finite-n value
of the estimator on the same dataset (quadrature), so z is the sampler's own error in units of its SE."""

SWEEP_READING = """Reading: larger steps mix faster (ESS up) but bias λ̂ upwards through the minibatch noise and the
discretisation, most for the momentum methods without a noise correction (`sghmc` at 0.03 doubles λ̂
on regular/d2 and diverges at 0.1) and least for `rmsprop-sgld`. The defaults are the largest setting
that keeps both small tasks within 2 SE of the finite-n target: a margin under the 3 SE that counts
as a success, because each setting here is one dataset and z itself scatters by about ±1. That gives
`rmsprop-sgld` 0.03, `adam-sgld` 0.01 (0.03 sits at +2.9 SE on regular/d2), `sghmc` and `sgnht`
0.003. `sgld` keeps the 0.999 acceptance its full-batch preset was chosen with (methods/sgld.toml);
with minibatches of 500 of 10⁴ it sits at +2.9 SE on regular/d2, inside 3 SE but outside the margin:
the minibatch noise matters most where the posterior is narrowest.

On dls/d1k (1,171 parameters, n = 10⁵, λ = 104) no setting gives a trustworthy number in 10 000 steps
at γ = 1. Every `sgld`, `rmsprop-sgld` and `adam-sgld` run is `unmixed` (R-hat 1.09–1.59) and 21–61%
low; the momentum methods at their larger steps land far above λ (`sghmc` at 0.1: 1.3 × 10³, with an
R-hat of 1.02 and an ESS of 197, so stored `ok`: a chain can mix well around the wrong answer when the
step's discretisation bias dominates, which no convergence diagnostic sees; only a target can). The
two runs at 104 (`sghmc` and `sgnht` at 0.01) are `unmixed` (R-hat 1.34) and their agreement with λ
is a coincidence of the climb, not a measurement."""

GAMMA_INTRO = """The same network, dls/d1k (λ = 104, n = 10⁵), with a stronger localisation (`run --estimator local --gamma G`)."""

GAMMA_READING = """With γ = 100 or 1000 the chains mix (R-hat ≤ 1.06, ESS ≥ 127, status `ok`) and the methods agree with
one another, but on about half of λ: 48–54 at γ = 100, 43 at γ = 1000; four times as many steps at
γ = 100 move rmsprop-sgld from 48 to 51, so the runs are still drifting slowly upwards. Our reading,
not tested here: a strong localisation confines the posterior to a ball of radius about 1/√γ around
w*, smaller than the region over which the singular geometry sets the volume scaling at this n, so
the estimator sees less than λ; a weak one (γ = 1) does not equilibrate (the table above). At
n = 10⁵ we found no γ at which the local estimator is both equilibrated and within 5% of λ on this
network; a γ between 1 and 100 with much longer runs, or larger n, is where to look next. The scale
suite's accuracy goal (≤ 5% at 10³–10⁵ parameters) is therefore not met by any sampler here, and
this page says why rather than tuning a setting until one number comes out right."""


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        run(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        sys.exit(__doc__)
