"""Grid expansion and execution: local processes, the driver the only writer of the store."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterable, Mapping, Sequence

from slt_bench.errors import SltBenchError
from slt_bench.estimators import get_estimator
from slt_bench.methods import get_method, make_method
from slt_bench.runner.cell import CellSpec, run_cell
from slt_bench.runner.generalisation import GeneralisationSpec, check_spec, run_generalisation
from slt_bench.runner.presets import Preset, load_preset
from slt_bench.store import ResultStore
from slt_bench.tasks import Catalog


def _preset_and_method(method: str, tier: str, overrides: Mapping[str, Any] | None) -> tuple[Preset, Any]:
    """The preset (with ``--set`` overrides) and a method built from it: an unknown method or a bad
    hyperparameter fails here, before anything runs, not in a worker."""
    get_method(method)  # names the valid methods
    preset = load_preset(method, tier)
    if overrides:
        preset = Preset(preset.method, preset.tier, {**preset.hyper, **overrides}, preset.budget)
    return preset, make_method(method, preset.hyper)


def expand_grid(
    catalog: Catalog,
    method: str,
    patterns: Sequence[str],
    suite: str,
    seeds: int,
    n: int | None,
    tier: str,
    estimator: str,
    catalogs: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
) -> list[CellSpec]:
    """Tasks × seeds for one method preset and estimator, validated before anything runs.

    ``overrides`` replace preset hyperparameters (``--set key=value``); the preset hash covers
    them, so an overridden run is stored beside, never on top of, the preset's own cells.
    """
    get_estimator(estimator)
    preset, instance = _preset_and_method(method, tier, overrides)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise SltBenchError(f"--seeds must be a positive integer, got {seeds!r}")
    if n is not None and (not isinstance(n, int) or n < 2):
        raise SltBenchError(f"--n must be an integer >= 2, got {n!r}")
    tasks = catalog.select(patterns, suite)
    if not tasks:
        raise SltBenchError(f"no tasks selected (suite {suite!r}, patterns {list(patterns)})")
    check_task = getattr(instance, "check_task", None)
    if check_task is not None:  # options the task's model cannot honour (e.g. a subset it lacks)
        for task in tasks:
            check_task(task)
    if estimator == "local":
        missing = [t.id for t in tasks if t.w_star is None]
        if missing:
            raise SltBenchError(f"the local estimator needs a w* and these tasks have none: {', '.join(missing)}")
    return [
        CellSpec(task.key, method, tier, preset.hyper, preset.budget, preset.hash, seed, n or task.n, estimator,
                 tuple(str(c) for c in catalogs))
        for task in tasks
        for seed in range(seeds)
    ]


def expand_generalisation(
    catalog: Catalog,
    method: str,
    patterns: Sequence[str],
    suite: str,
    replicates: int,
    ns: Sequence[int] | None,
    n_test: int,
    tier: str,
    scheme: str = "all",
    intercept: bool = False,
    catalogs: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
    map_overrides: Mapping[str, Any] | None = None,
) -> list[GeneralisationSpec]:
    """One generalisation cell per task: the method at β = 1 over n grid × ``replicates`` datasets.

    ``ns`` defaults to 5 values evenly spaced from n/5 to n (n the task's own). Under a last-layer
    ``scheme`` the earlier layers are frozen at the ``map`` preset's MAP of the same tier.
    """
    preset, instance = _preset_and_method(method, tier, overrides)
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise SltBenchError(f"--seeds (dataset draws per n) must be a positive integer, got {replicates!r}")
    if isinstance(n_test, bool) or not isinstance(n_test, int) or n_test < 1:
        raise SltBenchError(f"--n-test must be a positive integer, got {n_test!r}")
    map_hyper = {**load_preset("map", tier).hyper, **(map_overrides or {})}
    make_method("map", map_hyper)
    tasks = catalog.select(patterns, suite)
    if not tasks:
        raise SltBenchError(f"no tasks selected (suite {suite!r}, patterns {list(patterns)})")
    specs = []
    for task in tasks:
        grid = tuple(int(v) for v in ns) if ns else tuple(sorted({max(2, round(task.n * f / 5)) for f in range(1, 6)}))
        spec = GeneralisationSpec(task.key, method, tier, preset.hyper, preset.budget, preset.hash, grid, replicates,
                                  n_test, scheme, map_hyper, intercept, catalogs=tuple(str(c) for c in catalogs))
        check_spec(spec, task)
        check_task = getattr(instance, "check_task", None)
        if check_task is not None and scheme == "all":
            check_task(task)
        specs.append(spec)
    return specs


def _run_any(cell: CellSpec | GeneralisationSpec) -> dict[str, Any]:
    return run_generalisation(cell) if isinstance(cell, GeneralisationSpec) else run_cell(cell)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # J workers on J cores; small tensors run faster on one thread anyway


def execute(
    cells: Iterable[CellSpec | GeneralisationSpec],
    store: ResultStore,
    jobs: int = 1,
    force: bool = False,
    progress: Callable[[int], Any] | None = None,
) -> list[str]:
    """Run the cells not already stored (all of them with ``force``); return every cell's key.

    ``progress`` is called with the number of cells to run, and returns a bar with ``update``.
    """
    cells = list(cells)
    done = set() if force else store.keys()
    todo = [c for c in cells if c.key not in done]
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise SltBenchError(f"--jobs must be a positive integer, got {jobs!r}")
    bar = progress(len(todo)) if progress else None
    if jobs == 1 or len(todo) <= 1:
        _init_worker()
        for cell in todo:
            store.put(_run_any(cell))
            if bar:
                bar.update(1)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker) as pool:
            pending = {pool.submit(_run_any, cell) for cell in todo}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    store.put(fut.result())
                    if bar:
                        bar.update(1)
    if bar:
        bar.close()
    return [c.key for c in cells]
