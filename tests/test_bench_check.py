"""`make bench-check` (benchmarks/check.py): what counts as a regression, on synthetic asv results."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_check", ROOT / "benchmarks" / "check.py")
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)

COLUMNS = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a", "stats_ci_99_b",
           "stats_q_25", "stats_q_75", "stats_number", "stats_repeat", "samples", "profile"]


def _write(path: Path, commit: str, results: dict) -> None:
    rows = {}
    for name, (values, params, ci_a, ci_b) in results.items():
        rows[name] = [values, params, "v1", 0, 1.0, ci_a, ci_b, None, None, None, None, None, None]
    path.write_text(json.dumps({"commit_hash": commit, "result_columns": COLUMNS, "results": rows, "version": 2}))


def _results(tmp_path, old: dict, new: dict):
    _write(tmp_path / "aaaa-env.json", "a" * 40, old)
    _write(tmp_path / "bbbb-env.json", "b" * 40, new)
    (tmp_path / "machine.json").write_text("{}")
    loaded = check.load_results(tmp_path)
    return check.compare(loaded["a" * 40], loaded["b" * 40], factor=1.2, z=2.0)


def test_time_regression_beyond_noise_is_flagged(tmp_path):
    params = [["'sgld'", "'nuts'"]]
    old = {"b.Estimate.time_estimate": ([1.0, 2.0], params, [0.95, 1.9], [1.05, 2.1])}
    new = {"b.Estimate.time_estimate": ([1.5, 2.1], params, [1.45, 2.0], [1.55, 2.2])}
    flagged, compared = _results(tmp_path, old, new)
    assert compared == 2
    assert len(flagged) == 1 and "time_estimate[sgld]" in flagged[0] and "1 -> 1.5" in flagged[0]


def test_slower_but_within_noise_is_not_flagged(tmp_path):
    old = {"b.K.time_k": ([1.0], [], [0.5], [1.6])}
    new = {"b.K.time_k": ([1.3], [], [0.8], [1.9])}  # +30% but the 99% intervals overlap
    flagged, _ = _results(tmp_path, old, new)
    assert flagged == []


@pytest.mark.parametrize("new_value, expect", [(-0.10, True), (-0.16, False), (-0.30, True)])
def test_accuracy_change_is_judged_by_its_standard_error(tmp_path, new_value, expect):
    params = [["'sgld'"]]
    old = {"b.A.track_rel_error": ([-0.2], params, None, None), "b.A.track_rel_error_se": ([0.02], params, None, None)}
    new = {"b.A.track_rel_error": ([new_value], params, None, None),
           "b.A.track_rel_error_se": ([0.02], params, None, None)}
    flagged, _ = _results(tmp_path, old, new)
    assert bool(flagged) is expect, flagged  # limit: 2 × √(0.02² + 0.02²) ≈ 0.057
    if expect:
        assert "ACCURACY" in flagged[0] and "track_rel_error[sgld]" in flagged[0]
