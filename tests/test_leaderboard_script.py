"""benchmarks/leaderboard.py carries the baseline from one machine to the next: the committed store holds
the published methods with the traces the pages plot, pending.sqlite the methods computed in part, and
a fresh clone's working store gets both back without recomputing anything (real cells, smoke tier)."""

import importlib.util
import sqlite3
import sys
from pathlib import Path

import pytest

from slt_bench.runner import LocalExecutor, execute, expand_grid
from slt_bench.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
spec = importlib.util.spec_from_file_location("leaderboard_script", ROOT / "benchmarks" / "leaderboard.py")
lb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lb)


def _traced(path: Path) -> set[str]:
    with sqlite3.connect(path) as con:
        return {k for (k,) in con.execute("SELECT c.key FROM traces t JOIN cells c ON c.row_id = t.row_id")}


@pytest.fixture(scope="module")
def work(tmp_path_factory, catalog):
    root = tmp_path_factory.mktemp("leaderboard")
    path = root / "baseline.sqlite.work"
    store = ResultStore(path)
    cells = expand_grid(catalog, "sgld", ["nc/k1-2", "regular/d2"], "all", 2, 1000, "smoke", "multi-beta")
    cells += expand_grid(catalog, "mala", ["nc/k1-2"], "all", 1, 1000, "smoke", "multi-beta")
    execute(cells, store, executor=LocalExecutor(1))
    for method, wall in (("sgld", 12.0), ("mala", 3.0)):
        store.put_meta(f"leaderboard/{method}", {"wall_s": wall, "runs": 1, "jobs": 1, "command": "x"})
    return path


def test_publish_then_restore_on_a_fresh_clone(work, tmp_path, monkeypatch):
    monkeypatch.setattr(lb, "screenshot", lambda page, png: None)
    before = {r["key"]: r for r in ResultStore(work, writable=False).rows()}
    assert len(before) == 5 and len(_traced(work)) == 5  # every cell stored its traces
    sgld = {k for k, r in before.items() if r["method"] == "sgld"}

    store, out = tmp_path / "baseline.sqlite", tmp_path / "site"
    lb.publish(["sgld"], work, store, out)
    published = ResultStore(store, writable=False)
    assert {r["key"] for r in published.rows()} == sgld  # mala, computed in part, is not a baseline
    index = (out / "index.html").read_text()
    assert "<p>Not yet computed: " in index and "mala" in index.split("<p>Not yet computed: ")[1].split("</p>")[0]
    assert "Known failures: mala" not in index  # a method the table does not hold has no paragraph
    # the traces kept are those of the cells the pages plot: one cell per task here (seed 0, or a failing one)
    kept = _traced(store)
    assert len(kept) == 2 and kept <= sgld
    assert published.get_meta("leaderboard/mala") is None and published.get_meta("leaderboard/sgld")["wall_s"] == 12.0
    pending = lb.pending_path(store)
    assert {r["method"] for r in ResultStore(pending, writable=False).rows()} == {"mala"}
    assert len(_traced(pending)) == 1 and ResultStore(pending, writable=False).get_meta("leaderboard/mala")["wall_s"] == 3.0

    # a fresh clone: no working store. Everything comes back, numbers identical, nothing recomputed
    fresh = tmp_path / "clone" / "baseline.sqlite.work"
    fresh.parent.mkdir()
    assert lb.restore(fresh, [store, pending]) == 5
    restored = ResultStore(fresh, writable=False)
    again = {r["key"]: r for r in restored.rows()}
    assert again.keys() == before.keys()
    for key, row in again.items():
        assert (row["rlct_hat"], row["se"], row["status"], row["grad_evals"]) == (
            before[key]["rlct_hat"], before[key]["se"], before[key]["status"], before[key]["grad_evals"])
    assert _traced(fresh) == kept | _traced(pending)
    assert restored.get_meta("leaderboard/mala")["wall_s"] == 3.0
    assert lb.restore(fresh, [store, pending]) == 0  # a second restore copies nothing

    # and the pages can be written again from it, with the same trace plots
    lb.publish(["sgld", "mala"], fresh, tmp_path / "b2.sqlite", tmp_path / "site2")
    assert sorted(p.name for p in (tmp_path / "site2" / "plots").glob("*traces.png")) == \
        sorted(p.name for p in (out / "plots").glob("*traces.png"))
    assert not lb.pending_path(tmp_path / "b2.sqlite").exists()  # nothing left in part
    index = (tmp_path / "site2" / "index.html").read_text()
    not_yet = index.split("<p>Not yet computed: ")[1].split("</p>")[0]  # the other built-in methods
    assert "mala" not in not_yet and "<p>Known failures: mala: " in index  # a paragraph of its own


def test_restore_keeps_what_the_working_store_already_has(work, tmp_path):
    """A cell recomputed in the working store (a newer row) is not overwritten by the committed copy."""
    store = tmp_path / "baseline.sqlite"
    own = tmp_path / "own.sqlite.work"
    source = ResultStore(work, writable=False)
    row = source.rows()[0]
    ResultStore(own).put({**row, "rlct_hat": 123.0})
    assert lb.restore(own, [work, store]) == 4  # the four others; the missing store is skipped
    mine = {r["key"]: r for r in ResultStore(own, writable=False).rows()}
    assert mine[row["key"]]["rlct_hat"] == 123.0


def test_retrace_recomputes_only_the_plotted_cells_without_traces(work, tmp_path):
    """A store restored from a committed copy that kept no traces (as published before the traces were
    kept): the plotted cells are recomputed; those that reproduce the stored numbers get their traces, one
    whose stored λ̂ differs (tampered here by one unit, many SE) keeps its stored row and gets none."""
    bare = tmp_path / "bare.sqlite"
    with sqlite3.connect(work) as con:
        con.execute("VACUUM INTO ?", (str(bare),))
    plotted = [r for r in lb_traced_rows(work) if r["method"] == "sgld"]
    assert len(plotted) == 2
    tampered, kept = plotted
    with sqlite3.connect(bare) as con:
        con.execute("DELETE FROM traces")
        con.execute("UPDATE cells SET rlct_hat = rlct_hat + 1 WHERE row_id = ?", (tampered["row_id"],))
    fresh = tmp_path / "fresh.sqlite.work"
    assert lb.restore(fresh, [bare]) == 5 and not _traced(fresh)

    counts = lb.retrace(["sgld"], fresh, 1)
    assert counts == {"missing": 2, "attached": 1, "exact": 1, "differs": 1, "not_expanded": 0}
    store = ResultStore(fresh, writable=False)
    assert _traced(fresh) == {kept["key"]}  # mala's cell was not asked for, the tampered one differs
    newest = {r["key"]: r for r in store.rows()}
    assert newest[tampered["key"]]["rlct_hat"] == tampered["rlct_hat"] + 1  # the stored row is kept as it was
    assert len(store.history(tampered["key"])) == 1
    again = lb.retrace(["sgld"], fresh, 1)  # the differing cell is not recomputed a second time
    assert again["missing"] == 1 and again["differs"] == 1 and again["attached"] == 0


def test_retrace_compares_the_stored_status_not_the_reported_one(work, tmp_path):
    """A plotted cell that the reports show as `inconsistent` (stored `ok`): its recomputation is stored `ok`
    too, so it is the same computation and gets its traces. (Its means are shifted here so that the tempering
    identity fails; the recomputation's λ̂ and SE are the stored ones, the means are not compared.)"""
    import json

    from slt_bench.scoring import IDENTITY_STATUS, reported

    bare = tmp_path / "bare.sqlite"
    with sqlite3.connect(work) as con:
        con.execute("VACUUM INTO ?", (str(bare),))
    with sqlite3.connect(bare) as con:
        con.execute("DELETE FROM traces")
        row_id, fit = con.execute("SELECT row_id, fit FROM cells WHERE method = 'sgld' AND task LIKE 'regular/d2%' "
                                  "AND seed = 1").fetchone()
        fit = json.loads(fit)
        fit["means"] = [m + 1e4 * (i % 2) for i, m in enumerate(fit["means"])]  # drops far from the variances'
        con.execute("UPDATE cells SET fit = ? WHERE row_id = ?", (json.dumps(fit), row_id))
    fresh = tmp_path / "fresh.sqlite.work"
    lb.restore(fresh, [bare])
    shown = {r["row_id"]: r for r in reported(ResultStore(fresh, writable=False).rows())}
    assert shown[row_id]["status"] == IDENTITY_STATUS and shown[row_id]["stored_status"] == "ok"
    assert row_id in {r["row_id"] for r in lb_traced_rows(fresh)}  # the page plots the cell that needs a look
    counts = lb.retrace(["sgld"], fresh, 1)
    assert counts["differs"] == 0 and counts["attached"] == counts["missing"] == 2
    assert ResultStore(fresh, writable=False).traces(row_id)


def test_same_up_to_rounding_is_a_thousandth_of_the_cells_se():
    old = {"status": "ok", "rlct_hat": 0.5, "se": 0.1}
    assert lb.same_up_to_rounding(old, {**old, "rlct_hat": 0.5 + 0.9e-4})  # 0.9e-3 SE: rounding carried along
    assert not lb.same_up_to_rounding(old, {**old, "rlct_hat": 0.5 + 1.1e-4})
    assert not lb.same_up_to_rounding(old, {**old, "se": 0.1 + 1.1e-4})
    assert not lb.same_up_to_rounding(old, {**old, "status": "unmixed"})
    failed = {"status": "nan", "rlct_hat": None, "se": None}
    assert lb.same_up_to_rounding(failed, dict(failed)) and not lb.same_up_to_rounding(failed, old | {"status": "nan"})


def lb_traced_rows(path: Path) -> list[dict]:
    from slt_bench.report.html import traced_cells

    return traced_cells(ResultStore(path, writable=False).rows())
