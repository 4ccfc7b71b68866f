"""Accuracy studies (marker ``slow``; ``make test-slow``, about an hour on 2 cores). They run
the real CLI over 5 dataset seeds at tier ``standard`` and check the acceptance criteria whose
figures are quoted in the closing notes and in docs/accuracy.md.

Tolerances come from each cell's own standard error (a sampler is "right" on a cell when
|λ̂ − finite-n target| < 3 SE); the 90% threshold allows the few misses expected by chance and
by heavy tails of the ESS-based SE over 50 cells.
"""

import json
import statistics
import subprocess
import sys
from collections import defaultdict

import pytest

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "slt_bench.cli"]
# every task with at most 3 parameters: the quadrature gives its finite-n target
QUADRATURE_TASKS = ["regular/d2", "nc/*", "mixture/*", "tanh/h1"]
# exact λ, multiplicity 1, at most 30 parameters
M1 = ["regular/d2", "regular/d10", "nc/k1-3", "nc/k1-2", "nc/k2", "nc/k1-1-h1-0", "rrr/m3-n3-h3-r1",
      "rrr/m3-n3-h3-r3", "rrr/m5-n5-h3-r1", "rrr/m2-n6-h1-r1", "rrr/m6-n2-h1-r1", "rrr/m2-n2-h6-r1",
      "dln/w3-1-2-3-r0", "dln/w4-2-3-4-r1", "mixture/fixed-weight", "tanh/h2", "tanh/h3", "tanh/h5"]
ESTIMABLE = ("ok", "diverged")  # a diverged NUTS run still has its draws; the status is kept beside λ̂


def _run(method, tasks, tmp_path, estimator="multi-beta", seeds=5, n=None):
    args = CLI + ["run", "--method", method, "--tier", "standard", "--seeds", str(seeds), "--estimator", estimator,
                  "--store", str(tmp_path / f"{method}.sqlite"), "--json", "--jobs", "2"]
    if n is not None:
        args += ["--n", str(n)]
    for t in tasks:
        args += ["--task", t]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=4 * 3600)
    return json.loads(out.stdout)


@pytest.mark.parametrize("method", ["sgld", "nuts"])
def test_sampler_error_against_finite_n_target(method, tmp_path):
    """≥ 90% of cells within 3 SE of the quadrature target (multi-β estimator, 5 seeds)."""
    rows = _run(method, QUADRATURE_TASKS, tmp_path)
    assert len(rows) == 50 and all(r["status"] in ESTIMABLE for r in rows), [r["reason"] for r in rows]
    z = [abs(r["rlct_hat"] - r["finite_target"]) / r["se"] for r in rows]
    assert sum(v < 3 for v in z) / len(z) >= 0.9


def test_sgld_error_against_lambda_per_family(tmp_path):
    """Median |relative error| against λ (multi-β, n = 10⁴, 5 seeds) is at most 10% on the
    regular, reduced rank, deep linear and mixture families; on the normal crossings, where the
    estimator's own finite-n value sits well below λ, the sampler is judged against that value:
    every cell within 3 SE of it at n = 10³, 10⁴ and 10⁵."""
    rows = _run("sgld", M1, tmp_path)
    assert all(r["status"] in ESTIMABLE for r in rows), [r["reason"] for r in rows]
    by_family = defaultdict(list)
    for r in rows:
        by_family[r["family"]].append(abs(r["rel_error"]))
    medians = {f: statistics.median(v) for f, v in by_family.items()}
    for family in ("regular", "reduced_rank", "deep_linear", "mixture"):
        assert medians[family] <= 0.10, medians
    for n in (1_000, 10_000, 100_000):
        nc = _run("sgld", ["nc/k1-3", "nc/k1-2", "nc/k2", "nc/k1-1-h1-0"], tmp_path, n=n)
        z = [abs(r["rlct_hat"] - r["finite_target"]) / r["se"] for r in nc]
        assert max(z) < 3, (n, z)


def test_nuts_error_against_lambda_on_linear_models(tmp_path):
    """NUTS (2 seeds: about 2 minutes a cell on these 10–30 parameter tasks) on the regular,
    reduced rank and deep linear m = 1 tasks: median |relative error| at most 10% per family."""
    rows = _run("nuts", ["regular/d10", "rrr/m3-n3-h3-r1", "rrr/m3-n3-h3-r3", "rrr/m5-n5-h3-r1", "rrr/m2-n6-h1-r1",
                         "rrr/m6-n2-h1-r1", "rrr/m2-n2-h6-r1", "dln/w3-1-2-3-r0", "dln/w4-2-3-4-r1"], tmp_path, seeds=2)
    assert all(r["status"] in ESTIMABLE for r in rows), [r["reason"] for r in rows]
    by_family = defaultdict(list)
    for r in rows:
        by_family[r["family"]].append(abs(r["rel_error"]))
    for family, errors in by_family.items():
        assert statistics.median(errors) <= 0.10, (family, errors)


@pytest.mark.parametrize("task_id", ["regular/d2", "regular/d10", "nc/k1-2", "dln/w3-1-2-3-r0"])
def test_nuts_bayes_predictive_slope_is_lambda(task_id, tmp_path):
    # The learning coefficient of generalisation of the Bayes predictive is λ. 20 datasets × 5
    # values of n (200–1000), 10 000 test points, NUTS at tier smoke; tolerance 3 SE of the slope
    # (SE from the spread across datasets). Measured: regular/d2 1.06 ± 0.11, regular/d10
    # 5.57 ± 0.36, nc/k1-2 0.41 ± 0.20, dln/w3-1-2-3-r0 0.94 ± 0.13 (rrr/m3-n3-h3-r1, tier standard: 3.90 ± 0.29).
    out = subprocess.run(CLI + ["run", "--method", "nuts", "--metric", "generalisation", "--task", task_id,
                                "--seeds", "20", "--ns", "200,400,600,800,1000",
                                "--store", str(tmp_path / "g.sqlite"), "--json"],
                         capture_output=True, text=True, check=True)
    (row,) = json.loads(out.stdout)
    assert row["status"] == "ok", row["reason"]
    assert abs(row["rlct_hat"] - row["rlct_value"]) <= 3 * row["se"], row
