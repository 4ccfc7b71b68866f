"""`slt-bench reproduce murfet2020` end to end at a tiny scale: every cell stored, the page written
with both tables beside the paper's numbers, and a second call computing nothing."""

import dataclasses

import pytest

from slt_bench.reproduce import murfet2020
from slt_bench.store import ResultStore


@pytest.fixture()
def tiny(monkeypatch):
    scale = dataclasses.replace(
        murfet2020.SCALES["smoke"], seeds=1,
        nuts2={"chains": 1, "warmup": 30, "samples": 30, "target_accept": 0.8, "dense_mass": True, "max_tree_depth": 5},
        ns=(200, 400), replicates=2, n_test=500,
        nuts1={"chains": 1, "warmup": 50, "samples": 50, "target_accept": 0.8},
        laplace1={"samples": 100}, map1={"backend": "jax", "optimizer": "adam", "steps": 200, "lr": 0.01},
        smc_tier="smoke", smc_seeds=1, smc2={"runs": 2, "particles": 64, "mutations": 2, "leapfrog": 4})
    monkeypatch.setitem(murfet2020.SCALES, "smoke", scale)
    # one Table 1 panel (of four): the pipeline is the same for each, and the test stays short
    monkeypatch.setattr(murfet2020, "TABLE1_PANELS", murfet2020.TABLE1_PANELS[:1])
    # the ReLU networks of Table 2 (one compiled kernel instead of two); the SiLU ones run the same code
    monkeypatch.setattr(murfet2020, "TABLE2_TASKS", murfet2020.TABLE2_TASKS[:3])


def test_reproduce_writes_both_tables_and_resumes(catalog, tmp_path, tiny):
    store = ResultStore(tmp_path / "r.sqlite")
    elapsed = murfet2020.run(catalog, store, (2, 1), "smoke", 1)
    n_cells = sum(len(murfet2020.table2_cells(catalog, "smoke", s)) for s in ("nuts", "smc")) + len(
        murfet2020.table1_cells(catalog, "smoke"))
    assert set(elapsed) == {1, 2} and len(store.rows()) == n_cells == 3 + 3 + 5
    assert {r["method"] for r in store.rows()} == {"nuts", "smc", "map", "laplace"}
    text = murfet2020.write_markdown(catalog, store, "smoke", elapsed, 1, "slt-bench reproduce murfet2020", "abc")
    assert "## Table 2" in text and "## Table 1" in text and "Not computed" not in text
    assert "| relu | s_3 | 0.526 |" in text and "Ordering, relu, by NUTS" in text
    # the same networks by tempered SMC, its settings from the cells, and the two samplers side by side
    assert "### Table 2 by tempered SMC" in text and "Ordering, relu, by SMC" in text
    assert "2 independent runs ×\n64 particles" in text and text.count("| relu | s_3 | 0.526 |") == 2
    assert "### The two samplers on the same datasets" in text and "| relu | s_3 | 1 |" in text
    assert "| MAP | 10.71 |" in text and "min elapsed with --jobs 1 to compute its" in text
    murfet2020.run(catalog, store, (2, 1), "smoke", 1)
    assert len(store.rows()) == n_cells  # nothing recomputed, nothing duplicated


PAPER_RELU = [0.526, 0.540, 0.555]


def test_ordering_verdict_resolves_contradicts_or_says_what_se_it_needs():
    verdict = murfet2020.ordering_verdict
    # steps of 0.1 with SEs of 0.02: (0.1)/(0.02·√2) = 3.5 SE each
    assert "**Resolved**" in verdict(PAPER_RELU, [(0.5, 0.02), (0.6, 0.02), (0.7, 0.02)], mixed=True)
    # the second step −0.1: −3.5 SE
    assert "**Contradicted**" in verdict(PAPER_RELU, [(0.5, 0.02), (0.6, 0.02), (0.5, 0.02)], mixed=True)
    # the same numbers from unmixed chains contradict nothing
    text = verdict(PAPER_RELU, [(0.5, 0.02), (0.6, 0.02), (0.5, 0.02)], mixed=False)
    assert "**Not resolved**" in text and "did not mix" in text
    # the paper's smallest step is 0.014; both steps clear 2 combined SE when each SE ≤ 0.014 / (2√2)
    text = verdict(PAPER_RELU, [(0.53, 0.2), (0.54, 0.1), (0.56, 0.3)], mixed=True)
    assert "**Not resolved**" in text and "SE ≤ 0.0049 " in text and "largest SE of 0.300" in text
    # what it would take: an SE ten times the needed one is a hundred times the datasets × draws
    need = 0.014 / (2 * 2 ** 0.5)
    text = verdict(PAPER_RELU, [(0.53, need), (0.54, 10 * need), (0.56, need)], mixed=True)
    assert "about 100 times the datasets × draws" in text
    # with unmixed chains no cost is quoted: those SEs say nothing about what precision would take
    assert "times the" not in verdict(PAPER_RELU, [(0.53, need), (0.54, 10 * need), (0.56, need)], mixed=False)
