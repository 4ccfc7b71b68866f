"""benchmarks/against_nuts.py: which cells are paired, which NUTS cells may serve as the finite-n
truth, and the z-score, on hand-made rows (the study itself is a command that takes hours)."""

import importlib.util
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("against_nuts", ROOT / "benchmarks" / "against_nuts.py")
against = importlib.util.module_from_spec(spec)
spec.loader.exec_module(against)

GOOD = [{"rhat": 1.002, "ess": 1800.0, "divergences": 2, "transitions": 4000}] * 5


def _row(method, seed, hat, se, status="ok", diagnostics=GOOD, task_hash="h2", target_accept=0.95):
    return {"method": method, "task": "tanh/h2", "task_hash": task_hash, "seed": seed, "n": 10_000,
            "estimator": "multi-beta", "betas": [0.1, 0.2], "rlct_hat": hat, "se": se, "status": status,
            "rlct_value": 2 / 3, "diagnostics": diagnostics, "hyper": {"target_accept": target_accept}}


def test_pairs_need_the_same_dataset_and_prefer_a_nuts_cell_that_passes():
    method = [_row("sgld", 0, 0.5, 0.06), _row("sgld", 1, 0.6, 0.06), _row("sgld", 2, 0.6, 0.06, task_hash="other")]
    diverged = _row("nuts", 1, 0.9, 0.05, status="diverged")
    nuts = [_row("nuts", 0, 0.6, 0.05), diverged, _row("nuts", 1, 0.62, 0.05, target_accept=0.99),
            _row("nuts", 2, 0.6, 0.05)]  # seed 2: another task content, so another dataset: no pair
    matched = against.pairs(method, nuts)
    assert [(m["seed"], nu["rlct_hat"]) for m, nu in matched] == [(0, 0.6), (1, 0.62)]


def test_rules_fail_on_each_bad_diagnostic():
    assert against.nuts_summary(_row("nuts", 0, 0.6, 0.05))["failed"] == []
    high_rhat = [dict(GOOD[0], rhat=1.02)] + GOOD[1:]
    low_ess = [dict(GOOD[0], ess=300.0)] + GOOD[1:]
    assert against.nuts_summary(_row("nuts", 0, 0.6, 0.05, diagnostics=high_rhat))["failed"] == ["rhat"]
    assert against.nuts_summary(_row("nuts", 0, 0.6, 0.05, diagnostics=low_ess))["failed"] == ["ess"]
    assert against.nuts_summary(_row("nuts", 0, 0.6, 0.05, status="diverged"))["failed"] == ["status diverged"]
    assert against.nuts_summary(_row("nuts", 0, 0.6, 0.05, diagnostics=[]))["failed"] == ["rhat", "ess"]


def test_table_z_uses_the_combined_se_and_counts_only_ok_cells():
    matched = [(_row("sgld", 0, 0.5, 0.03), _row("nuts", 0, 0.6, 0.04)),
                (_row("sgld", 1, 0.6, 0.03, status="unmixed"), _row("nuts", 1, 0.6, 0.04))]
    text = against.table("sgld", matched)
    z = (0.5 - 0.6) / math.hypot(0.03, 0.04)  # = -2.0
    assert f"| {z:+.1f} |" in text.splitlines()[2]
    summary = text.splitlines()[-1]
    assert summary.startswith("| tanh/h2 | 2 | 1/2 |")  # the unmixed cell is within 3 SE but no success
    assert f"{(0.5 + 0.6) / 2 - 0.6:+.3f} ± {math.sqrt(2 * (0.03**2 + 0.04**2)) / 2:.3f}" in summary
