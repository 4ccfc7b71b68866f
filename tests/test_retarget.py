"""`slt-bench reference apply`: cells stored before their task's reference existed (or changed) get the
target the run would give them today, as a new row; λ̂, cost and provenance stay the stored cell's."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from slt_bench import reference as ref
from slt_bench.estimators import get_estimator
from slt_bench.runner import execute, expand_grid
from slt_bench.runner.retarget import retarget
from slt_bench.store import ResultStore
from tests.conftest import assert_one_error_line, file_digest

LAM, C = 0.8, 14_000.0  # a reference whose means lie on E_β[n L_n] = C + λ/β: the multi-β line's slope is λ


def _write_reference(root, task, seed, n, certified=True):
    """A reference file for ``task`` (seed, n) whose certified means lie exactly on C + LAM/β: whatever
    weights the GLS line gives the posteriors, its slope is LAM (up to rounding)."""
    data = task.dataset(n, seed)
    posts = get_estimator("multi-beta").posteriors(task, data)
    doc = {"format": ref.FORMAT, "task": task.key, "task_hash": task.content_hash, "settings": {}, "entries": [
        {"seed": seed, "n": n, "beta": p.beta, "centre": None, "gamma": p.gamma, "certified": certified,
         "failed": [] if certified else ["agreement: constructed"],
         "value": {"mean": C + LAM / p.beta, "mean_se": 0.01, "var": LAM / p.beta**2, "var_se": 0.1}}
        for p in posts]}
    path = ref.file_for(task, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    ref._cached.cache_clear()
    return path


@pytest.fixture
def tanh_store(catalog, tmp_path, monkeypatch):
    """One sgld cell of tanh/h2 (4 parameters: beyond quadrature) at n = 1000, stored while no reference
    existed."""
    monkeypatch.setattr(ref, "references_dir", lambda: tmp_path / "refs")
    cells = expand_grid(catalog, "sgld", ["tanh/h2"], "all", 1, 1000, "smoke", "multi-beta")
    store = ResultStore(tmp_path / "s.sqlite")
    execute(cells, store)
    (row,) = store.rows()
    assert row["finite_target"] is None and row["finite_status"] is None and math.isfinite(row["rlct_hat"])
    return store, row


def test_a_target_is_attached_then_kept_then_removed(catalog, tmp_path, tanh_store):
    store, old = tanh_store
    task = catalog.get("tanh/h2")
    path = _write_reference(tmp_path / "refs", task, 0, 1000)
    summary = retarget(store.path)
    assert (summary.examined, summary.attached, summary.written, summary.skipped) == (1, 1, 1, [])
    (new,) = store.rows()
    assert new["key"] == old["key"] and new["row_id"] > old["row_id"]
    assert len(store.history(old["key"])) == 2  # the old row stays as history
    assert new["finite_status"] == "certified" and new["finite_target"] == pytest.approx(LAM, rel=1e-9)
    lam_hat, se = old["rlct_hat"], old["se"]
    assert new["finite_rel_error"] == pytest.approx((lam_hat - LAM) / LAM, rel=1e-9)
    assert new["finite_z"] == pytest.approx((lam_hat - LAM) / se, rel=1e-9)
    assert "certified reference" in new["target_note"]
    for unchanged in ("rlct_hat", "se", "status", "grad_evals", "sample_s", "wall_s", "git_commit", "versions",
                      "created_at", "diagnostics", "betas", "rel_error", "z", "hyper", "preset_hash"):
        assert new[unchanged] == old[unchanged], unchanged
    source = new["fit"]["finite_target_source"]
    assert source["reference"] == "tanh/h2@1.json" and source["previous"] == {"finite_target": None,
                                                                               "finite_status": None}
    old_traces, new_traces = store.traces(old["row_id"]), store.traces(new["row_id"])
    assert old_traces and len(new_traces) == len(old_traces)
    assert all(np.array_equal(a, b) for a, b in zip(old_traces, new_traces))
    # nothing new: nothing written
    again = retarget(store.path)
    assert (again.examined, again.unchanged, again.written) == (1, 1, 0)
    assert len(store.history(old["key"])) == 2
    # the reference no longer certifies this dataset: the target is removed, not kept stale
    _write_reference(tmp_path / "refs", task, 0, 1000, certified=False)
    gone = retarget(store.path)
    assert (gone.removed, gone.written) == (1, 1)
    (last,) = store.rows()
    assert last["finite_target"] is None and last["finite_status"] is None and last["finite_z"] is None
    assert last["fit"]["finite_target_source"]["previous"]["finite_status"] == "certified"
    assert path.is_file()


def test_dry_run_writes_nothing_and_the_command_reports(catalog, tmp_path, tanh_store, cli):
    store, _ = tanh_store
    _write_reference(tmp_path / "refs", catalog.get("tanh/h2"), 0, 1000)
    before = file_digest(store.path)
    out = cli("reference", "apply", "--store", str(store.path), "--dry-run")
    assert out.code == 0 and "1 target(s) attached" in out.out and "would append 1 row(s)" in out.out
    assert file_digest(store.path) == before
    out = cli("reference", "apply", "--store", str(store.path))
    assert out.code == 0 and "appended 1 row(s)" in out.out
    assert len(store.history(store.rows()[0]["key"])) == 2
    assert_one_error_line(cli("reference", "apply", "--store", str(tmp_path / "none.sqlite")), "no results file")


def test_cells_it_cannot_check_are_skipped_and_named(catalog, tmp_path, tanh_store):
    """A cell whose task content is not the catalogue's is never scored against the catalogue's reference;
    a cell whose β grid is not today's estimator's is not either; a quadrature task's cell is not touched."""
    store, old = tanh_store
    _write_reference(tmp_path / "refs", catalog.get("tanh/h2"), 0, 1000)
    strip = {k: v for k, v in old.items() if k != "row_id"}
    store.put({**strip, "key": "other-content", "task_hash": "0" * 16})
    store.put({**strip, "key": "other-grid", "betas": [b * 1.01 for b in old["betas"]]})
    store.put({**strip, "key": "quadrature", "task": "regular/d2", "n_params": 2})
    summary = retarget(store.path)
    assert summary.examined == 3 and summary.attached == 1 and len(summary.skipped) == 2
    assert any("other content" in s for s in summary.skipped)
    assert any("β grid changed" in s for s in summary.skipped)
    rows = {r["key"]: r for r in store.rows()}
    for key in ("other-content", "other-grid", "quadrature"):
        assert rows[key]["finite_target"] is None and len(store.history(key)) == 1


@pytest.mark.parametrize("estimator", ["multi-beta", "local"])
def test_it_gives_what_the_run_gives(catalog, tmp_path, estimator):
    """Against the run pipeline on the shipped certified reference of regular/d10 (dataset seed 0, its n):
    a cell computed with the reference present has a target; the same row stored without it gets exactly
    that target back (the GLS line's weights come from the stored fit, the local estimator's centre loss
    from the regenerated dataset)."""
    cells = expand_grid(catalog, "sgld", ["regular/d10"], "all", 1, None, "smoke", estimator)
    store = ResultStore(tmp_path / "d10.sqlite")
    execute(cells, store)
    (ran,) = store.rows()
    assert ran["finite_status"] == "certified"
    blank = {k: v for k, v in ran.items() if k != "row_id"}
    blank.update(finite_target=None, finite_status=None, finite_rel_error=None, finite_z=None)
    blank["fit"] = {k: v for k, v in ran["fit"].items() if k != "finite_target_detail"}
    store.put(blank)
    summary = retarget(store.path)
    assert (summary.attached, summary.skipped) == (1, [])
    (new,) = store.rows()
    for name in ("finite_target", "finite_status", "finite_rel_error", "finite_z", "target_note"):
        assert new[name] == ran[name], name
    assert new["fit"]["finite_target_detail"] == ran["fit"]["finite_target_detail"]
