"""benchmarks/curvature_rule.py: the chains' heat, and each cell against the finite-n truth of its
dataset (quadrature stored in the cell, else a NUTS cell that passes the rules), on hand-made rows."""

import importlib.util
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
spec = importlib.util.spec_from_file_location("curvature_rule", ROOT / "benchmarks" / "curvature_rule.py")
rule = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rule)

GOOD = [{"rhat": 1.002, "ess": 1800.0, "sd": 10.0}, {"rhat": 1.002, "ess": 1800.0, "sd": 5.0}]


def _row(method, seed, hat, se, task="tanh/h2", finite=None, status="ok", diagnostics=GOOD, hyper=None):
    return {"method": method, "task": task, "task_hash": task, "seed": seed, "n": 10_000, "estimator": "multi-beta",
            "betas": [0.1, 0.2], "rlct_hat": hat, "se": se, "status": status, "rlct_value": 0.5,
            "finite_target": finite, "diagnostics": diagnostics, "hyper": hyper or {}, "fit": {"chi2_dof": 1.5}}


def test_heat_is_beta_squared_times_the_variance_over_lambda():
    stats = rule.cell_stats(_row("sghmc", 0, 0.5, 0.1))
    assert stats["heat"] == [0.1**2 * 10.0**2 / 0.5, 0.2**2 * 5.0**2 / 0.5]  # 2.0 and 2.0
    assert stats["chi2"] == 1.5


def test_each_cell_is_compared_with_quadrature_else_a_passing_nuts_cell():
    cells = [_row("sghmc", 0, 0.40, 0.05, task="nc/k1-1-h1-0", finite=0.48, hyper={"step_size": 1.5e-3}),
             _row("sghmc", 1, 0.60, 0.03),
             _row("sghmc", 2, 0.60, 0.03)]
    nuts = [_row("nuts", 1, 0.56, 0.04), _row("nuts", 2, 0.56, 0.04, status="diverged")]
    lines = rule.cell_table(cells, nuts).splitlines()
    by_task_seed = {(line.split(" | ")[0][2:], line.split(" | ")[3]): line for line in lines[2:]}
    quad = by_task_seed[("nc/k1-1-h1-0", "0")]
    assert "0.480 (quadrature)" in quad and f"| {(0.40 - 0.48) / 0.05:+.1f} |" in quad and "step_size 0.0015" in quad
    paired = by_task_seed[("tanh/h2", "1")]
    assert "0.560 ± 0.040 (NUTS)" in paired and f"| {(0.60 - 0.56) / math.hypot(0.03, 0.04):+.1f} |" in paired
    assert "| – | – |" in by_task_seed[("tanh/h2", "2")]  # the only NUTS cell diverged: no truth, no z


def test_measured_kappa_and_the_floor_count_per_task():
    """Cells computed with the floor store the measured κ beside the one used: the table reports the
    measured range and in how many posteriors the floor β n was used; older cells count as measured."""
    n = 10_000  # β = 0.1 and 0.2 (the rows of _row)
    floored = [{**GOOD[0], "curvature": 0.1 * n, "curvature_measured": 3.0},
               {**GOOD[1], "curvature": 4500.0, "curvature_measured": 4500.0}]
    flat = [{**GOOD[0], "curvature": 0.1 * n, "curvature_measured": None}, {**GOOD[1], "curvature": 0.2 * n,
                                                                            "curvature_measured": None}]
    old = [{**GOOD[0], "curvature": 7.0}, {**GOOD[1], "curvature": 9.0}]
    assert rule.cell_stats(_row("sghmc", 0, 0.5, 0.1, diagnostics=floored))["kappa"] == [3.0, 4500.0]
    assert rule.cell_stats(_row("sghmc", 0, 0.5, 0.1, diagnostics=floored))["floor"] == (1, 2)
    assert rule.cell_stats(_row("sghmc", 0, 0.5, 0.1, diagnostics=flat))["floor"] == (2, 2)
    assert rule.cell_stats(_row("sghmc", 0, 0.5, 0.1, diagnostics=old))["floor"] == (0, 0)
    rows = [_row("sghmc", 0, 0.5, 0.1, diagnostics=floored), _row("sghmc", 1, 0.5, 0.1, diagnostics=flat),
            _row("rmsprop-sgld", 0, 0.5, 0.1, diagnostics=old)]
    text = rule.table(rows, ["rmsprop-sgld", "sghmc"])
    assert "| sghmc | 2 | ok 2 | 3–4.5e+03 | 3/4 |" in text and "| rmsprop-sgld | 1 | ok 1 | 7–9 | – |" in text, text
    # every posterior of a task at a flat start (nothing measured): the floor, not sgld's MALA rule
    flat_only = rule.table([_row("sgnht", 0, 0.5, 0.1, diagnostics=flat), _row("sgld", 0, 0.5, 0.1)], ["sgld", "sgnht"])
    assert "| sgnht | 1 | ok 1 | 0 (flat start) | 2/2 |" in flat_only and "| sgld | 1 | ok 1 | – (MALA rule) | – |" in flat_only
