"""Running the cells of a grid: in this process, or in local worker processes; the driver (this
process) is the only writer of the store.

Guarantees, whatever happens to a worker:

* every cell ends as one stored row: a cell whose worker process dies (killed, out of memory) is
  retried up to :data:`MAX_ATTEMPTS` − 1 times in a fresh worker and then stored as ``error``;
  the other cells go on;
* nothing already stored is touched (the store only appends);
* Ctrl-C or SIGTERM of the driver stops its workers at once, and a SIGKILL of the driver makes each
  worker exit within about a second (each one watches its parent); rerunning the same command
  resumes with the cells not yet stored.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator, Sequence

from slt_bench.errors import SltBenchError
from slt_bench.limits import MAX_JOBS
from slt_bench.runner.cell import make_row, run_cell
from slt_bench.runner.outcome import Outcome
from slt_bench.runner.spec import CellSpec
from slt_bench.store import ResultStore

MAX_ATTEMPTS = 3  # a cell whose worker dies is tried at most this many times, then stored as error
PARENT_POLL_S = 0.5


def _watch_parent(parent: int) -> None:
    """Exit this worker when its parent (the driver) is gone: a SIGKILLed driver leaves no orphans."""
    def loop() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=loop, name="slt-bench-parent-watch", daemon=True).start()


ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
# BLAS/OpenMP read these when NumPy loads, which in a spawned worker is before its initializer runs:
# they are set in the worker's environment at spawn (Dask's nanny sets the same three by default).
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def pin_to_core(index: int) -> None:
    """Keep this process on one of the CPUs it may use (``index`` modulo their number), where the OS
    allows it. Measured in docs/executors.md: two unpinned single-threaded workers on two cores ran
    each cell about 1.2× slower than one worker alone; pinned, about 1.07× (the cores' own ceiling
    for such work is 1.05×)."""
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[index % len(cpus)]})


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def init_worker(parent: int | None = None, one_thread: bool = False, slot: Any = None) -> None:
    """Set up a worker process: one thread for torch (and, with ``one_thread``, for XLA: J workers
    on J cores should not each spread over every core), and exit with the parent. ``slot``, a shared
    counter, numbers the workers of one pool: worker k is pinned to the k-th usable CPU."""
    import sys

    if one_thread and "jax" not in sys.modules:  # XLA reads its flags when JAX is first imported
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + ONE_THREAD_XLA).strip()
    import torch

    torch.set_num_threads(1)  # J workers on J cores; small tensors run faster on one thread anyway
    if slot is not None:
        with slot.get_lock():
            index, slot.value = slot.value, slot.value + 1
        pin_to_core(index)
    if parent is not None:
        _watch_parent(parent)


@contextmanager
def worker_environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in os.environ while worker processes are spawned (they inherit it); restored after."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def died_row(spec: CellSpec, attempts: int, detail: str) -> dict[str, Any]:
    """The row of a cell whose worker died on every attempt."""
    out = Outcome(status="error", reason=f"the worker process died on all {attempts} attempts ({detail}); "
                                         "the cell may need more memory than a worker has")
    return make_row(spec, None, out)


class LocalExecutor:
    """Cells in ``jobs`` local processes (``jobs = 1``: in this process)."""

    def __init__(self, jobs: int = 1) -> None:
        if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS:
            raise SltBenchError(f"--jobs must be an integer from 1 to {MAX_JOBS}, got {jobs!r}")
        self.jobs = jobs

    def run(self, cells: Sequence[CellSpec]) -> Iterator[dict[str, Any]]:
        """Rows of ``cells`` as they finish (in any order)."""
        if self.jobs == 1 or len(cells) <= 1:
            init_worker()
            for cell in cells:
                yield run_cell(cell)
            return
        yield from self._pool(cells)

    def _pool(self, cells: Sequence[CellSpec]) -> Iterator[dict[str, Any]]:
        """A process pool, at most ``jobs`` cells in flight. When a worker dies, the pool breaks and
        every cell in flight is put back as a suspect; suspects then run one at a time, so a cell
        that kills its worker while running alone is known to be the cause: it is tried at most
        :data:`MAX_ATTEMPTS` times and then stored as ``error``."""
        queue = list(cells)[::-1]  # pop() from the end: cells run in grid order
        suspects: list[CellSpec] = []
        deaths: dict[str, int] = {}
        ctx = multiprocessing.get_context("spawn")
        pin = self.jobs <= usable_cpus()  # more workers than CPUs: leave them to the OS
        with worker_environment(ONE_THREAD_ENV):
            yield from self._pool_rounds(ctx, pin, queue, suspects, deaths)

    def _pool_rounds(self, ctx: Any, pin: bool, queue: list[CellSpec], suspects: list[CellSpec],
                     deaths: dict[str, int]) -> Iterator[dict[str, Any]]:
        while queue or suspects:
            slot = ctx.Value("i", 0) if pin else None  # a fresh pool numbers its workers from 0 again
            pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx, initializer=init_worker,
                                       initargs=(os.getpid(), True, slot))
            running: dict[Future, CellSpec] = {}
            broken = False
            try:
                while (queue or suspects or running) and not (broken and not running):
                    limit = 1 if suspects else self.jobs
                    while (suspects or queue) and len(running) < limit and not broken:
                        cell = suspects.pop() if suspects else queue.pop()
                        try:
                            running[pool.submit(run_cell, cell)] = cell
                        except BrokenProcessPool:
                            suspects.append(cell)
                            broken = True
                    if not running:
                        break
                    alone = len(running) == 1
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        cell = running.pop(fut)
                        try:
                            row = fut.result()
                        except BrokenProcessPool as err:
                            broken = True
                            if alone:
                                deaths[cell.key] = deaths.get(cell.key, 0) + 1
                            if deaths.get(cell.key, 0) >= MAX_ATTEMPTS:
                                yield died_row(cell, deaths[cell.key], type(err).__name__)
                            else:
                                suspects.append(cell)
                            continue
                        yield row
            except BaseException:
                _terminate(pool)
                raise
            finally:
                pool.shutdown(wait=not broken, cancel_futures=True)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop every worker of ``pool`` now (Ctrl-C, SIGTERM): they must not outlive the driver's run."""
    processes = list(getattr(pool, "_processes", {}).values())  # CPython: no public handle before 3.14
    for proc in processes:
        try:
            proc.terminate()
        except (OSError, AttributeError):
            pass
    for proc in processes:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def execute(
    cells: Iterable[CellSpec],
    store: ResultStore,
    jobs: int = 1,
    force: bool = False,
    progress: Callable[[int], Any] | None = None,
    executor: Any = None,
) -> list[str]:
    """Run the cells not already stored (all of them with ``force``); return every cell's key.

    ``progress`` is called with the number of cells to run, and returns a bar with ``update``.
    ``executor`` (default: :class:`LocalExecutor` with ``jobs``) has ``run(cells)`` yielding rows.
    """
    cells = list(cells)
    runner = executor or LocalExecutor(jobs)
    done = set() if force else store.keys()
    todo, seen = [], set()
    for cell in cells:
        if cell.key not in done and cell.key not in seen:
            todo.append(cell)
            seen.add(cell.key)
    bar = progress(len(todo)) if progress else None
    try:
        for row in runner.run(todo):
            store.put(row)
            if bar:
                bar.update(1)
    finally:
        if bar:
            bar.close()
    return [c.key for c in cells]
