"""benchmarks/reference_calibration.py: the agreement z's of reference files, on hand-made files (the shipped
table is in docs/references.md)."""

import importlib.util
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("reference_calibration", ROOT / "benchmarks" / "reference_calibration.py")
cal = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cal)


def _entry(n, z_mean, z_var, smc_status="ok"):
    # SEs 3 and 4 combine to 5, so a difference of 5 z is a z of exactly z
    nuts = {"mean": 100.0 + 5 * z_mean, "mean_se": 3.0, "var": 50.0 + 5 * z_var, "var_se": 3.0}
    smc = {"mean": 100.0, "mean_se": 4.0, "var": 50.0, "var_se": 4.0, "status": smc_status}
    return {"n": n, "seed": 0, "nuts": nuts, "smc": smc}


def test_the_table_counts_each_quantitys_z_per_sample_size(tmp_path):
    (tmp_path / "fam").mkdir()
    (tmp_path / "fam" / "a@1.json").write_text(json.dumps({"entries": [
        _entry(1000, 3.5, 0.0), _entry(1000, -1.0, 2.5), _entry(1000, 0.5, -0.5), _entry(10000, 1.0, 1.0)]}))
    (tmp_path / "fam" / "b@1.json").write_text(json.dumps({"entries": [
        _entry(1000, 0.0, 0.0, smc_status="unmixed"), _entry(10000, -1.0, -1.0)]}))
    by_n = cal.collect(tmp_path)
    assert sorted(by_n) == [1000, 10000]
    assert [round(z, 9) for z in by_n[1000]["z"]["mean"]] == [3.5, -1.0, 0.5]
    assert by_n[1000]["without"] == 1 and len(by_n[1000]["files"]) == 2
    [row_1k, row_10k] = cal.table(by_n).splitlines()[2:]
    cells = [c.strip() for c in row_1k.strip("|").split("|")]
    assert cells[:3] == ["1,000", "2", "3 (1)"]
    sd = math.sqrt(sum((z - 1.0) ** 2 for z in (3.5, -1.0, 0.5)) / 3)
    assert cells[3] == f"+1.00 ± {sd / math.sqrt(3):.2f}, {sd:.2f}"
    # of the six z's, one is above 3 (3.5) and two above 2 (3.5, 2.5)
    assert cells[5] == f"1, {6 * cal.P3:.1f}, {cal.poisson_at_least(1, 6 * cal.P3):.2f}"
    assert cells[6].startswith("2, ")
    assert row_10k.split("|")[3].strip() == "2 (0)"


def test_the_poisson_tail_and_the_normal_fractions():
    assert math.isclose(cal.poisson_at_least(5, 2.4), 0.0959, abs_tol=5e-4)  # 1 − Σ₀⁴ e^−2.4 2.4^i / i!
    assert cal.poisson_at_least(0, 3.0) == 1.0
    assert math.isclose(cal.P3, 0.0027, abs_tol=1e-4) and math.isclose(cal.P2, 0.0455, abs_tol=1e-4)


def test_a_posterior_without_usable_values_has_no_z():
    assert cal.agreement_z(_entry(1000, 1.0, 1.0, smc_status="budget_exceeded")) is None
    broken = _entry(1000, 1.0, 1.0)
    broken["nuts"]["var_se"] = broken["smc"]["var_se"] = 0.0
    assert cal.agreement_z(broken) is None
    assert cal.agreement_z({"nuts": {}, "smc": {"status": "ok"}}) is None


def test_files_of_several_roots_count_once_each(tmp_path):
    """A user catalogue's references folder adds its files to the shipped ones; a folder given twice counts once."""
    for name, z in (("shipped", 1.0), ("mine", -2.0)):
        (tmp_path / name / "fam").mkdir(parents=True)
        (tmp_path / name / "fam" / "a@1.json").write_text(json.dumps({"entries": [_entry(1000, z, z)]}))
    by_n = cal.collect(tmp_path / "shipped", tmp_path / "mine", tmp_path / "mine")
    assert len(by_n[1000]["files"]) == 2
    assert sorted(round(z, 9) for z in by_n[1000]["z"]["mean"]) == [-2.0, 1.0]
