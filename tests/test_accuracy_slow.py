"""Accuracy studies (marker ``slow``; ``make test-slow``). They run the real CLI over seeds and
check the issue's acceptance criteria; the figures are quoted in the closing notes."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "slt_bench.cli"]
QUADRATURE_TASKS = ["regular/d2", "nc/*", "mixture/*"]


def _run(method, estimator, tasks, tmp_path, seeds=5, tier="standard"):
    args = CLI + ["run", "--method", method, "--tier", tier, "--seeds", str(seeds), "--estimator", estimator,
                  "--store", str(tmp_path / "acc.sqlite"), "--json", "--jobs", "2"]
    for t in tasks:
        args += ["--task", t]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=7200)
    return json.loads(out.stdout)


@pytest.mark.parametrize("method", ["sgld", "nuts"])
def test_sampler_error_against_finite_n_target(method, tmp_path):
    """≥ 90% of cells within 3 SE of the quadrature target (5 seeds, tier standard)."""
    rows = _run(method, "local", QUADRATURE_TASKS, tmp_path)
    z = [abs(r["rlct_hat"] - r["finite_target"]) / r["se"] for r in rows if r["status"] == "ok"]
    assert len(z) == len(rows)
    assert sum(v < 3 for v in z) / len(z) >= 0.9
