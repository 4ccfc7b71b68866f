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


def _timed(time_s: float, mem: float, peak: float | None) -> dict:
    out = {"b.Estimate.time_estimate": ([time_s], [], [0.98 * time_s], [1.02 * time_s]),
           "b.Estimate.peakmem_estimate": ([mem], [], None, None)}
    if peak is not None:
        out["bench_machine.track_matmul_peak"] = (peak, [], None, None)
    return out


def test_times_from_a_faster_host_are_scaled_by_its_matmul_peak(tmp_path):
    # 0.5 s on a host 3x faster at a 2048^2 product is 1.5 s on the old host: a real 1.5x slow-down
    flagged, _ = _results(tmp_path, _timed(1.0, 100.0, 150.0), _timed(0.5, 100.0, 450.0))
    assert len(flagged) == 1 and "time_estimate" in flagged[0] and "1 -> 1.5 (x1.50" in flagged[0]
    assert "x3.00 for the host's matmul peak" in flagged[0]
    # without the peaks the same figures read as a 2x speed-up: nothing flagged
    assert _results(tmp_path, _timed(1.0, 100.0, None), _timed(0.5, 100.0, None))[0] == []


def test_a_slower_host_is_not_read_as_slower_code_and_memory_is_not_scaled(tmp_path):
    # 2.5x the time on a host 3x slower: 0.83x once scaled, not flagged; peak memory is compared as measured
    flagged, _ = _results(tmp_path, _timed(1.0, 100.0, 450.0), _timed(2.5, 130.0, 150.0))
    assert len(flagged) == 1 and "peakmem_estimate" in flagged[0] and "x1.30" in flagged[0]
    assert "host" not in flagged[0]
    flagged, _ = _results(tmp_path, _timed(1.0, 100.0, None), _timed(2.5, 100.0, None))
    assert len(flagged) == 1 and "time_estimate" in flagged[0] and "x2.50" in flagged[0]


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


def _stored_accuracy(tmp_path, value: float, se: float):
    params = [["'sgld'"], ["'nc/k1-2'"]]
    _write(tmp_path / "cccc-env.json", "c" * 40, {
        "bench_estimates.Accuracy.track_rel_error": ([value], params, None, None),
        "bench_estimates.Accuracy.track_rel_error_se": ([se], params, None, None),
    })
    (tmp_path / "machine.json").write_text("{}")
    return check.load_results(tmp_path)["c" * 40]


FRESH = {("sgld", "nc/k1-2"): {"rel_error": -0.05, "rel_se": 0.03, "finite_rel_error": float("nan"),
                               "finite_rel_se": float("nan"), "grad_evals": 1.0}}


def test_ci_accuracy_check_passes_on_the_same_figures(tmp_path):
    flagged, explained, compared = check.accuracy_check(_stored_accuracy(tmp_path, -0.05, 0.03), FRESH, [], 2.0)
    assert compared == 1 and flagged == [] and explained == []


def test_ci_accuracy_check_fails_on_a_perturbed_result_file(tmp_path):
    # the stored figure perturbed to look much better than what the code now gives: |error| up by
    # 0.15 against a limit of 2 × √(0.03² + 0.03²) ≈ 0.085
    stored = _stored_accuracy(tmp_path, 0.10 - 0.10, 0.03)
    flagged, _, _ = check.accuracy_check(stored, {k: {**v, "rel_error": 0.15} for k, v in FRESH.items()}, [], 2.0)
    assert len(flagged) == 1 and "track_rel_error[sgld, nc/k1-2]" in flagged[0]
    # an improvement is never a failure
    better, _, _ = check.accuracy_check(_stored_accuracy(tmp_path, -0.30, 0.03), FRESH, [], 2.0)
    assert better == []


def test_ci_accuracy_check_accepts_an_explained_change(tmp_path):
    stored = _stored_accuracy(tmp_path, 0.0, 0.03)
    expected = [{"benchmark": "track_rel_error", "method": "sgld", "task": "nc/k1-2", "reason": "new step rule"}]
    flagged, explained, _ = check.accuracy_check(stored, {k: {**v, "rel_error": 0.15} for k, v in FRESH.items()},
                                                 expected, 2.0)
    assert flagged == [] and len(explained) == 1 and "new step rule" in explained[0]
