"""The Dask executor: a LocalCluster of 2 worker processes, one killed in the middle of a grid."""

from __future__ import annotations

import os
import signal

import pytest

from slt_bench.runner import LocalExecutor, execute, expand_grid
from slt_bench.store import ResultStore

distributed = pytest.importorskip("distributed")


class KillAfter:
    """A progress bar that kills one worker process of ``client`` after ``after`` stored cells."""

    def __init__(self, client, after: int) -> None:
        self.client, self.after, self.done, self.killed = client, after, 0, None

    def __call__(self, total: int) -> "KillAfter":
        return self

    def update(self, count: int) -> None:
        self.done += count
        if self.done == self.after:
            pids = self.client.run(os.getpid)  # {worker address: pid}
            address, pid = sorted(pids.items())[0]
            os.kill(pid, signal.SIGKILL)
            self.killed = address

    def close(self) -> None:
        pass


def test_a_killed_worker_loses_no_cell_and_changes_no_number(catalog, tmp_path):
    import dask
    from distributed import Client, LocalCluster

    from slt_bench.runner.dask_executor import RETRIES, DaskExecutor

    cells = expand_grid(catalog, "sgld", ["nc/k1-2"], "all", 10, 1000, "smoke", "local")  # one kernel to compile
    assert len(cells) == 10
    with dask.config.set({"distributed.scheduler.allowed-failures": RETRIES}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=50)
    client = Client(cluster)
    try:
        killer = KillAfter(client, after=3)
        store = ResultStore(tmp_path / "dask.sqlite")
        keys = execute(cells, store, progress=killer, executor=DaskExecutor(cluster.scheduler_address))
        assert killer.killed is not None, "no worker was killed"
    finally:
        client.close()
        cluster.close()
    rows = store.rows()
    assert len(rows) == 10 and sorted(r["key"] for r in rows) == sorted(keys)
    assert all(len(store.history(k)) == 1 for k in keys)  # every cell stored exactly once
    assert {r["status"] for r in rows} == {"ok"}
    local = ResultStore(tmp_path / "local.sqlite")
    execute(cells, local, executor=LocalExecutor(1))
    by_key = {r["key"]: r["rlct_hat"] for r in local.rows()}
    assert {r["key"]: r["rlct_hat"] for r in rows} == by_key  # bit for bit


def test_a_cell_that_kills_every_worker_is_stored_as_error(catalog, tmp_path, monkeypatch):
    from slt_bench.runner import dask_executor
    from slt_bench.runner.dask_executor import DaskExecutor

    monkeypatch.setattr(dask_executor, "_cell_on_worker", _die_on_regular)
    cells = expand_grid(catalog, "sgld", ["nc/k1-2", "regular/d2"], "all", 1, 1000, "smoke", "variance")
    store = ResultStore(tmp_path / "die.sqlite")
    execute(cells, store, executor=DaskExecutor(None, workers=2))
    rows = {r["task"]: r for r in store.rows()}
    assert rows["regular/d2"]["status"] == "error" and "worker died" in rows["regular/d2"]["reason"]
    assert rows["nc/k1-2"]["status"] == "ok"


def _die_on_regular(spec):
    from slt_bench.runner.cell import run_cell

    if spec.task.startswith("regular/"):
        os._exit(1)  # as a worker killed by the kernel would
    return run_cell(spec)


def test_unreachable_scheduler_is_one_clear_error_before_anything_is_stored(cli, tmp_path):
    from slt_bench.errors import SltBenchError
    from slt_bench.runner.dask_executor import DaskExecutor
    from tests.conftest import assert_one_error_line

    with pytest.raises(SltBenchError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", timeout=1).connect()
    assert_one_error_line(cli("run", "--method", "sgld", "--scheduler", "tcp://x:1", "--store", str(tmp_path / "s")),
                          "--scheduler needs --executor dask")
    assert not (tmp_path / "s").exists()


def _die_on_seed_1(unit):
    from slt_bench import reference as ref

    if unit[1] == 1:
        os._exit(1)  # as a worker killed by the kernel would
    return ref._unit(unit)


REFERENCE_ARGS = ("reference", "build", "--task", "regular/d2", "--seeds", "2", "--nuts-samples", "200",
                  "--nuts-warmup", "200", "--particles", "64", "--mutations", "2")


def _entries(path):
    """A file's entries without the CPU times (which differ between any two runs)."""
    import json

    def strip(d):
        return {k: strip(v) if isinstance(v, dict) else v for k, v in d.items() if k != "cpu_s"}

    return [strip(e) for e in json.loads(path.read_text())["entries"]]


def test_reference_build_on_dask_survives_a_dead_worker_resumes_and_matches_local(cli, tmp_path, monkeypatch):
    """`reference build --executor dask`: a dataset whose worker dies on every attempt is one error
    line naming it while the other dataset is stored; run again, only the missing one is computed;
    the file then holds the same numbers, bit for bit, as a build on this machine's processes."""
    from slt_bench import reference as ref
    from tests.conftest import assert_one_error_line

    out = tmp_path / "dask"
    path = out / "regular" / "d2@1.json"
    monkeypatch.setattr(ref, "_unit", _die_on_seed_1)
    failed = cli(*REFERENCE_ARGS, "--out", str(out), "--executor", "dask", "--jobs", "2")
    assert_one_error_line(failed, "1 of 2 datasets failed")
    assert "regular/d2@1 seed 1, n = 10,000: the worker died on every attempt" in failed.err
    first = _entries(path)
    assert {e["seed"] for e in first} == {0}  # the finished dataset is kept
    monkeypatch.undo()
    again = cli(*REFERENCE_ARGS, "--out", str(out), "--executor", "dask", "--jobs", "2")
    assert again.code == 0, again.err
    assert "regular/d2@1 seed 0" not in again.out and "regular/d2@1 seed 1" in again.out  # only seed 1 ran
    both = _entries(path)
    assert [e for e in both if e["seed"] == 0] == first
    local = cli(*REFERENCE_ARGS, "--out", str(tmp_path / "local"))
    assert local.code == 0, local.err
    assert _entries(tmp_path / "local" / "regular" / "d2@1.json") == both


def test_reference_build_scheduler_needs_dask_and_a_reachable_address(cli, tmp_path):
    from tests.conftest import assert_one_error_line

    out = tmp_path / "refs"
    assert_one_error_line(cli(*REFERENCE_ARGS, "--out", str(out), "--scheduler", "tcp://x:1"),
                          "--scheduler needs --executor dask")
    assert_one_error_line(cli(*REFERENCE_ARGS, "--out", str(out), "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"),
                          "cannot reach the Dask scheduler at tcp://127.0.0.1:9")
    assert not out.exists()
