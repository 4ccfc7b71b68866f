"""benchmarks/against_certified.py: which cells count against a certified finite-n target, on hand-made rows
(the study is a command that takes minutes; the stored one is docs/tanh_n1000.sqlite)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("against_certified", ROOT / "benchmarks" / "against_certified.py")
against = importlib.util.module_from_spec(spec)
spec.loader.exec_module(against)


def _row(seed, hat, se, target=0.5, finite_status="certified", status="ok", method="sgld", budget=1e5):
    z = None if finite_status != "certified" else (hat - target) / se
    return {"task": "tanh/h2", "n": 1000, "method": method, "preset_hash": f"p{budget}", "budget": budget,
            "seed": seed, "rlct_hat": hat, "se": se, "status": status, "finite_target": target,
            "finite_status": finite_status, "finite_z": z, "finite_rel_error": None if z is None else (hat - target) / target,
            "rel_error": (hat - 2 / 3) / (2 / 3), "grad_evals": 4e5}


def _summary(text, method="sgld"):
    return [line for line in text.split("\n\n")[0].splitlines() if f"| {method} |" in line]


def test_only_ok_cells_with_a_certified_target_count_within_3_se():
    rows = [_row(0, 0.55, 0.05),                     # z = +1: counts
            _row(1, 0.70, 0.05),                     # z = +4: outside 3 SE
            _row(2, 0.52, 0.05, status="unmixed"),   # within 3 SE, but not ok: never a success
            _row(3, 0.50, 0.05, finite_status=None)]  # no certified target on this dataset
    [line] = _summary(against.tables(rows))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[5:8] == ["3 of 4", "1 of 3", f"{(1 + 4 + 0.4) / 3:+.2f}"]
    assert cells[8] == "+10.0%"  # median (λ̂ − target)/target over the 3 cells with a target: +10%, +40%, +4%


def test_presets_with_another_budget_are_separate_rows():
    rows = [_row(0, 0.55, 0.05, budget=1e5), _row(0, 0.6, 0.05, budget=2e5)]
    assert len(_summary(against.tables(rows))) == 2


def test_presets_that_differ_in_a_hyperparameter_are_labelled_by_it():
    base = {"chains": 8, "steps": 20000}
    rows = [{**_row(0, 0.55, 0.05, method="adam-sgld"), "preset_hash": "a", "hyper": base},
            {**_row(0, 0.52, 0.05, method="adam-sgld"), "preset_hash": "b", "hyper": {**base, "step_fraction": 0.0025}},
            {**_row(0, 0.50, 0.05), "preset_hash": "c", "hyper": base}]  # one preset of sgld: no label
    labels = {line.split("|")[3].split("|")[0].strip() + "/" + line.split("|")[4].strip()
              for line in _summary(against.tables(rows), "adam-sgld")}
    assert labels == {"adam-sgld/default", "adam-sgld/step_fraction=0.0025"}
    [sgld] = _summary(against.tables(rows), "sgld")
    assert sgld.split("|")[4].strip() == ""


def test_a_label_lists_only_what_differs_from_most_presets():
    base = {"chains": 8, "steps": 20000, "thin": 10}
    presets = {"a": base, "b": {**base, "step_fraction": 0.0025},
               "c": {**base, "step_fraction": 0.0025, "steps": 80000, "thin": 40}, "d": base}
    rows = [{**_row(0, 0.55, 0.05, method="rmsprop-sgld", budget=float(i)), "preset_hash": h, "hyper": hyper}
            for i, (h, hyper) in enumerate(presets.items())]
    tag = against.settings(rows)
    assert [tag[("tanh/h2", 1000, "rmsprop-sgld", h)] for h in "abcd"] == [
        "default", "step_fraction=0.0025", "step_fraction=0.0025, steps=80000, thin=40", "default"]


def test_a_value_set_by_most_presets_is_still_listed_where_another_preset_leaves_it_at_its_default():
    base = {"steps": 20000}
    presets = {"a": base, "b": {**base, "step_fraction": 0.0025}, "c": {"steps": 80000, "step_fraction": 0.0025}}
    rows = [{**_row(0, 0.55, 0.05, method="adam-sgld"), "preset_hash": h, "hyper": hyper} for h, hyper in presets.items()]
    tag = against.settings(rows)
    assert [tag[("tanh/h2", 1000, "adam-sgld", h)] for h in "abc"] == [
        "default", "step_fraction=0.0025", "step_fraction=0.0025, steps=80000"]


def test_the_posteriors_drift_is_their_sum_over_root_k_and_skips_posteriors_without_one():
    import math
    diagnostics = [{"drift_z": 1.0}, {"drift_z": 2.0}, {"drift_z": -0.5}, {"ess": 300.0}, {"drift_z": float("nan")}]
    assert math.isclose(against.combined_drift({"diagnostics": diagnostics}), 2.5 / math.sqrt(3))
    assert against.combined_drift({"diagnostics": [{"ess": 1.0}]}) is None
    assert against.combined_drift({}) is None
    # and it is the last column of the per-cell table, and its mean the last of the summary
    rows = [{**_row(0, 0.55, 0.05), "diagnostics": [{"drift_z": 3.0}] * 4},
            {**_row(1, 0.55, 0.05), "diagnostics": [{"drift_z": -1.0}] * 4}]
    summary, _, cells = against.tables(rows).split("\n\n")
    assert [line.rstrip(" |").rsplit("|", 1)[1].strip() for line in cells.splitlines()[2:]] == ["+6.0", "-2.0"]
    assert _summary(summary + "\n\n")[0].rstrip(" |").rsplit("|", 1)[1].strip() == "+2.00"


def test_the_pooled_table_adds_up_the_cells_with_a_target_over_tasks_per_method_and_settings():
    rows = [_row(0, 0.55, 0.05), _row(1, 0.36, 0.05),                      # tanh/h2: z = +1, −2.8
            {**_row(0, 0.70, 0.05), "task": "tanh/h3"},                      # z = +4: outside
            {**_row(1, 0.50, 0.05), "task": "tanh/h3", "finite_status": None}]  # no target: not pooled
    pooled = against.tables(rows).split("\n\n")[1].splitlines()
    [line] = [row for row in pooled if "| sgld |" in row]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2:6] == ["default", "tanh/h2, tanh/h3", "3", "2 of 3"]  # z = +4 is outside 3 SE
    assert cells[6] == f"{(1 - 2.8 + 4) / 3:+.2f} ± {1 / 3 ** 0.5:.2f}"
