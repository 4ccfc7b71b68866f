"""Grid expansion: tasks × seeds (or × sample sizes) for one method preset, validated before anything runs.

Every bad option fails here with one line that names what is valid, before a store is opened or a
cell computed; the bounds are those of :mod:`slt_bench.limits`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

from slt_bench.errors import SltBenchError
from slt_bench.estimators import get_estimator, localised
from slt_bench.limits import (MAX_CELLS, MAX_DATA_BYTES, MAX_N, MAX_N_TEST, MAX_NS, MAX_SEEDS, MIN_N,
                              check_count)
from slt_bench.methods import get_method, make_method
from slt_bench.methods.protocol import check_task
from slt_bench.reference import check_file as check_reference_file
from slt_bench.runner.generalisation import DEFAULT_MAX_DRAWS, with_params
from slt_bench.runner.presets import Preset, load_preset
from slt_bench.runner.spec import CellSpec
from slt_bench.tasks import Catalog
from slt_bench.tasks.frozen import scheme_layers


def _checked(value: Any, name: str, low: int, high: int) -> int:
    try:
        return check_count(value, name, low, high)
    except ValueError as err:
        raise SltBenchError(str(err)) from None


def preset_and_method(method: str, tier: str, overrides: Mapping[str, Any] | None,
                      budget: float | None = None) -> tuple[Preset, Any]:
    """The preset (with ``--set`` overrides, and ``budget`` in place of its own when given) and a method
    built from it: an unknown method, a bad hyperparameter or budget fails here, before anything runs,
    not in a worker."""
    get_method(method)  # names the valid methods
    preset = load_preset(method, tier)
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not (0 < budget < math.inf):
            raise SltBenchError(f"--budget must be a positive number of gradient evaluations per tempered "
                                f"posterior, got {budget!r}")
    if overrides or budget is not None:
        preset = Preset(preset.method, preset.tier, {**preset.hyper, **(overrides or {})},
                        float(budget) if budget is not None else preset.budget)
    return preset, make_method(method, preset.hyper)


def _select(catalog: Catalog, patterns: Sequence[str], suite: str, instance: Any) -> list[Any]:
    tasks = catalog.select(patterns, suite)
    if not tasks:
        raise SltBenchError(f"no tasks selected (suite {suite!r}, patterns {list(patterns)})")
    for task in tasks:  # options the task's model cannot honour (e.g. a subset it lacks)
        check_task(instance, task)
        check_reference_file(task)  # a finite-n reference computed for other task content
    return tasks


def _check_data(task: Any, n: int) -> None:
    if task.streamed:  # drawn point by point, chunk by chunk: memory bounded whatever n is
        return
    size = task.data_bytes(n)
    if size > MAX_DATA_BYTES:
        raise SltBenchError(f"a dataset of n = {n:,} points for {task.key} takes {size / 2**30:.1f} GiB; "
                            f"at most {MAX_DATA_BYTES / 2**30:.0f} GiB is supported: choose a smaller n")


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
    estimator_options: Mapping[str, Any] | None = None,
    budget: float | None = None,
) -> list[CellSpec]:
    """λ̂ cells: tasks × dataset seeds 0..seeds−1 for one method preset and estimator (with
    ``estimator_options``, e.g. ``{"gamma": 100.0}`` for the local estimator).

    ``overrides`` replace preset hyperparameters (``--set key=value``) and ``budget`` the preset's
    budget (``--budget``); the preset hash covers both, so such a run is stored beside, never on top
    of, the preset's own cells.
    """
    est = get_estimator(estimator, **dict(estimator_options or {}))
    options = {f.name: getattr(est, f.name) for f in dataclasses.fields(est) if f.name != "name"}
    preset, instance = preset_and_method(method, tier, overrides, budget)
    _checked(seeds, "--seeds", 1, MAX_SEEDS)
    if n is not None:
        _checked(n, "--n", MIN_N, MAX_N)
    tasks = _select(catalog, patterns, suite, instance)
    if len(tasks) * seeds > MAX_CELLS:
        raise SltBenchError(f"{len(tasks)} tasks × {seeds:,} seeds = {len(tasks) * seeds:,} cells; at most "
                            f"{MAX_CELLS:,} cells per run: use fewer seeds or tasks")
    if localised(estimator):
        missing = [t.id for t in tasks if t.w_star is None]
        if missing:
            raise SltBenchError(f"the {estimator} estimator needs a w* and these tasks have none: {', '.join(missing)}")
    for task in tasks:
        _check_data(task, n or task.n)
    return [
        CellSpec(task.key, task.content_hash, method, tier, preset.hyper, preset.budget, preset.hash, seed,
                 n or task.n, "rlct", estimator, options, tuple(str(c) for c in catalogs))
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
    budget: float | None = None,
) -> list[CellSpec]:
    """One generalisation cell per task: the method at β = 1 over n grid × ``replicates`` datasets.

    ``ns`` defaults to 5 values evenly spaced from n/5 to n (n the task's own). Under a last-layer
    ``scheme`` the earlier layers are frozen at the ``map`` preset's MAP of the same tier.
    """
    preset, instance = preset_and_method(method, tier, overrides, budget)
    with_params(method, preset.hyper)
    _checked(replicates, "--seeds (dataset draws per n)", 1, MAX_SEEDS)
    _checked(n_test, "--n-test", 1, MAX_N_TEST)
    if ns is not None:
        if not 1 <= len(ns) <= MAX_NS:
            raise SltBenchError(f"--ns needs from 2 to {MAX_NS} sample sizes, comma-separated; got {list(ns)}")
        for value in ns:
            _checked(value, "each --ns value", MIN_N, MAX_N)
    map_hyper = {**load_preset("map", tier).hyper, **(map_overrides or {})}
    make_method("map", map_hyper)
    tasks = _select(catalog, patterns, suite, instance) if scheme == "all" else catalog.select(patterns, suite)
    if not tasks:
        raise SltBenchError(f"no tasks selected (suite {suite!r}, patterns {list(patterns)})")
    if len(tasks) > MAX_CELLS:
        raise SltBenchError(f"{len(tasks):,} cells; at most {MAX_CELLS:,} per run")
    specs = []
    for task in tasks:
        grid = tuple(int(v) for v in ns) if ns else tuple(sorted({max(MIN_N, round(task.n * f / 5)) for f in range(1, 6)}))
        if len(set(grid)) < (3 if intercept else 2):
            raise SltBenchError(f"the slope against 1/n needs at least {3 if intercept else 2} distinct n; got {list(grid)}")
        scheme_layers(task, scheme)
        for value in set(grid) | {n_test}:
            _check_data(task, value)
        options = {"ns": list(grid), "replicates": replicates, "n_test": n_test, "scheme": scheme,
                   "intercept": bool(intercept), "map_hyper": map_hyper, "max_draws": DEFAULT_MAX_DRAWS}
        specs.append(CellSpec(task.key, task.content_hash, method, tier, preset.hyper, preset.budget, preset.hash,
                              None, max(grid), "generalisation", "generalisation", options,
                              tuple(str(c) for c in catalogs)))
    return specs
