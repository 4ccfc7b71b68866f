"""Cells on a Dask distributed cluster: a ``LocalCluster`` on this machine, or an existing scheduler.

The driver (this process) submits every cell, gathers each row as it finishes and is the only
writer of the store. Dask's own bookkeeping gives the fault tolerance:

* a worker that dies takes its cell with it; the scheduler gives the cell to another worker, up to
  :data:`RETRIES` more times (``distributed.scheduler.allowed-failures``), and then the cell comes
  back as ``KilledWorker`` and is stored as ``error``; the other cells go on;
* a worker process lives across cells, so compiled JAX and numpyro kernels (cached per task shape
  in each worker) are reused by every later cell of the same shape;
* with ``--scheduler`` the cluster is the user's (SLURM or PBS through dask-jobqueue, a cloud); its
  scheduler's ``allowed-failures`` setting then applies (set
  ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=2`` where it starts).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

from distributed.diagnostics.plugin import WorkerPlugin

from slt_bench.errors import SltBenchError
from slt_bench.limits import MAX_JOBS
from slt_bench.runner.cell import make_row, run_cell
from slt_bench.runner.execute import init_worker, pin_to_core, usable_cpus
from slt_bench.runner.outcome import Outcome, describe_error
from slt_bench.runner.spec import CellSpec

RETRIES = 2  # after the first attempt: a cell is tried at most 3 times
CONNECT_TIMEOUT_S = 10


class _WorkerSetup(WorkerPlugin):
    """The same per-process set-up as a local worker (one torch and XLA thread), on every (re)started
    worker; with ``pin`` (a LocalCluster of at most as many workers as CPUs) worker k stays on the
    k-th CPU, as local workers do. A user's cluster is left to its own placement."""

    name = "slt-bench-setup"
    idempotent = True

    def __init__(self, pin: bool = False) -> None:
        self.pin = pin

    def setup(self, worker: Any) -> None:
        init_worker(one_thread=True)
        if self.pin and isinstance(worker.name, int):  # a LocalCluster names its workers 0, 1, ...
            pin_to_core(worker.name)


def _cell_on_worker(spec: CellSpec) -> dict[str, Any]:
    return run_cell(spec)


class DaskExecutor:
    """Cells on Dask: ``scheduler`` an address such as ``tcp://10.0.0.5:8786``, or None for a
    ``LocalCluster`` of ``workers`` single-threaded worker processes."""

    def __init__(self, scheduler: str | None = None, workers: int = 1, timeout: float = CONNECT_TIMEOUT_S) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_JOBS:
            raise SltBenchError(f"--jobs (Dask local workers) must be an integer from 1 to {MAX_JOBS}, got {workers!r}")
        self.scheduler, self.workers, self.timeout = scheduler, workers, timeout
        self._connected: Any = None

    def connect(self) -> "DaskExecutor":
        """Reach ``scheduler`` now, so that a wrong address fails before anything is stored."""
        if self.scheduler and self._connected is None:
            from distributed import Client

            try:
                self._connected = Client(self.scheduler, timeout=self.timeout)
            except (OSError, TimeoutError, ValueError) as err:
                raise SltBenchError(f"cannot reach the Dask scheduler at {self.scheduler} ({err}); check the address "
                                    "(tcp://HOST:PORT) and that the scheduler is running") from None
        return self

    def _client(self) -> tuple[Any, Any]:
        import dask
        from distributed import Client, LocalCluster

        if self.scheduler:
            client, self._connected = self.connect()._connected, None
            return client, None
        with dask.config.set({"distributed.scheduler.allowed-failures": RETRIES}):
            cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=50)
            return Client(cluster), cluster

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], names: Sequence[str],
            what: str = "job") -> Iterator[tuple[int, Any, str | None]]:
        """``fn`` of each item on the cluster, as they finish: ``(index, result, None)``, or
        ``(index, None, reason)`` for an item whose worker died too often or whose ``fn`` raised;
        the other items go on. ``names`` (unique) name the items in the scheduler."""
        if not items:
            return
        from distributed import as_completed
        from distributed.client import FutureCancelledError

        try:
            from distributed import KilledWorker
        except ImportError:  # older distributed
            from distributed.scheduler import KilledWorker
        client, cluster = self._client()
        try:
            client.register_plugin(_WorkerSetup(pin=cluster is not None and self.workers <= usable_cpus()))
            futures = {client.submit(fn, item, key=f"slt-bench-{name}", pure=False): i
                       for i, (item, name) in enumerate(zip(items, names, strict=True))}
            for future in as_completed(futures):
                index = futures[future]
                try:
                    yield index, future.result(), None
                except KilledWorker as err:
                    yield index, None, (f"the worker died on every attempt ({RETRIES + 1}): {err}; the {what} may need "
                                        "more memory than a worker has")
                except (FutureCancelledError, Exception) as err:  # noqa: B014 - anything the cluster reports
                    yield index, None, describe_error(err)
                future.release()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    def run(self, cells: Sequence[CellSpec]) -> Iterator[dict[str, Any]]:
        """Rows of ``cells`` as they finish; a cell that lost its worker too often is an ``error`` row."""
        for index, row, reason in self.map(_cell_on_worker, cells, [f"cell-{c.key}" for c in cells], what="cell"):
            yield row if reason is None else make_row(cells[index], None, Outcome(status="error", reason=reason))
