"""The task catalogue: TOML files, one per family, each instance validated when loaded.

File format (``tasks/<family>.toml``)::

    family = "reduced_rank"
    [defaults]                 # optional: n, prior_std, noise_std, suites
    n = 10000
    [[tasks]]
    id = "rrr/m3-n3-h3-r1"
    version = 1
    params = { M = 3, N = 3, H = 3, r = 1 }
    rlct = "4"                 # optional for exact families; recomputed and checked
    multiplicity = 1
    suites = ["smoke"]

Reference tasks carry ``rlct_ref``, optionally ``rlct_se``, and ``provenance`` instead.
Extra files come from ``--catalog PATH`` or ``SLT_BENCH_CATALOG`` (``os.pathsep``-separated). The
certified finite-n references of an extra file's tasks live in the ``references`` folder beside it, as the
built-in catalogue's live in ``tasks/references`` (:mod:`slt_bench.reference`).
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import os
import tomllib
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Sequence

from slt_bench.errors import CatalogError, UnknownNameError
from slt_bench.limits import MAX_N, MAX_SCALE, MAX_VERSION, MIN_N, MIN_SCALE
from slt_bench.paths import builtin_dir
from slt_bench.tasks.families import FAMILIES
from slt_bench.tasks.task import KINDS, Prior, Task

ENV_VAR = "SLT_BENCH_CATALOG"
SUITES = ("smoke", "standard", "scale", "all")
_FILE_KEYS = {"family", "defaults", "tasks"}
_TASK_KEYS = {
    "id", "version", "params", "rlct", "multiplicity", "kind", "n", "prior_std", "noise_std",
    "suites", "rlct_ref", "rlct_se", "provenance", "source",
}
_DEFAULT_KEYS = {"n", "prior_std", "noise_std", "suites", "kind", "provenance", "source"}


_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./")


def _parse_fraction(value: Any, where: str) -> Fraction:
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError
            return Fraction(value).limit_denominator(10_000)
        return Fraction(str(value))
    except (ValueError, ZeroDivisionError, OverflowError):
        raise CatalogError(f"{where}: rlct must be a fraction like \"7/2\", got {value!r}") from None


def _scale(merged: dict[str, Any], name: str, where: str) -> float:
    """prior_std / noise_std: a finite number in [MIN_SCALE, MAX_SCALE]."""
    value = merged.get(name, 1.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and MIN_SCALE <= value <= MAX_SCALE):
        raise CatalogError(f"{where}: {name} must be a finite number from {MIN_SCALE:g} to {MAX_SCALE:g}, got {value!r}")
    return float(value)


def _optional_text(merged: dict[str, Any], name: str, where: str) -> str | None:
    value = merged.get(name)
    if value is not None and not isinstance(value, str):
        raise CatalogError(f"{where}: {name} must be a string, got {value!r}")
    return value


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, list) else value


def _build_task(entry: Any, family: str, defaults: dict[str, Any], where: str) -> Task:
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: each [[tasks]] entry must be a table, got {entry!r}")
    unknown = set(entry) - _TASK_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown keys {sorted(unknown)}; valid keys: {sorted(_TASK_KEYS)}")
    merged = {**defaults, **entry}
    task_id = merged.get("id")
    if (not isinstance(task_id, str) or task_id.count("/") < 1 or task_id.startswith("/") or task_id.endswith("/")
            or not set(task_id) <= _ID_CHARS or len(task_id) > 200):
        raise CatalogError(f"{where}: id must be a string like 'family/instance' (letters, digits, - _ . /; "
                           f"no '@version'), got {task_id!r}")
    where = f"{where} ({task_id})"
    version = merged.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
        raise CatalogError(f"{where}: version must be an integer from 1 to {MAX_VERSION:,}, got {version!r}")
    params = merged.get("params", {})
    if not isinstance(params, dict):
        raise CatalogError(f"{where}: params must be a table, got {params!r}")
    try:
        inst = FAMILIES[family](params)
    except (ValueError, TypeError, OverflowError) as err:
        raise CatalogError(f"{where}: {err}") from None
    kind = merged.get("kind", "exact" if inst.rlct is not None else "reference")
    if not isinstance(kind, str) or kind not in KINDS:
        raise CatalogError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    rlct, mult = inst.rlct, inst.multiplicity
    if kind == "exact":
        if rlct is None:
            raise CatalogError(f"{where}: family {family} has no exact λ; use kind 'reference' or 'unknown'")
        if "rlct" in merged and _parse_fraction(merged["rlct"], where) != rlct:
            raise CatalogError(
                f"{where}: stated rlct {merged['rlct']} disagrees with the exact value {rlct} for params {params}"
            )
        if "multiplicity" in merged and (isinstance(merged["multiplicity"], bool) or merged["multiplicity"] != mult):
            raise CatalogError(
                f"{where}: stated multiplicity {merged['multiplicity']} disagrees with the exact value {mult}"
            )
    else:
        rlct, mult = None, None
    rlct_ref = merged.get("rlct_ref")
    if rlct_ref is not None and (isinstance(rlct_ref, bool) or not isinstance(rlct_ref, (int, float))
                                 or not (math.isfinite(rlct_ref) and rlct_ref > 0)):
        raise CatalogError(f"{where}: rlct_ref must be a positive finite number, got {rlct_ref!r}")
    if kind == "reference" and rlct_ref is None:
        raise CatalogError(f"{where}: a reference task needs a numeric rlct_ref, got {rlct_ref!r}")
    rlct_se = merged.get("rlct_se")
    if rlct_se is not None and (isinstance(rlct_se, bool) or not isinstance(rlct_se, (int, float))
                                or not (math.isfinite(rlct_se) and rlct_se >= 0)):
        raise CatalogError(f"{where}: rlct_se must be a non-negative finite number, got {rlct_se!r}")
    provenance, source = _optional_text(merged, "provenance", where), _optional_text(merged, "source", where)
    if kind == "reference" and not provenance:
        raise CatalogError(f"{where}: a reference task needs a provenance (how its value was made)")
    suites = merged.get("suites", [])
    if not isinstance(suites, list) or not all(isinstance(s, str) for s in suites):
        raise CatalogError(f"{where}: suites must be a list of names from {', '.join(SUITES)}, got {suites!r}")
    bad_suites = [s for s in suites if s not in SUITES]
    if bad_suites:
        raise CatalogError(f"{where}: unknown suites {bad_suites}; valid suites: {', '.join(SUITES)}")
    n = merged.get("n", 10_000)
    if isinstance(n, bool) or not isinstance(n, int) or not MIN_N <= n <= MAX_N:
        raise CatalogError(f"{where}: n must be an integer from {MIN_N} to {MAX_N:,}, got {n!r}")
    prior_std = _scale(merged, "prior_std", where)
    try:
        prior = Prior(prior_std, inst.prior_bounds, inst.prior_exponents)
    except (TypeError, ValueError) as err:
        raise CatalogError(f"{where}: {err}") from None
    noise_std = _scale(merged, "noise_std", where)
    return Task(
        id=task_id,
        version=version,
        family=family,
        params=tuple((k, _freeze(v)) for k, v in params.items()),
        model=inst.model,
        truth=inst.truth,
        prior=prior,
        inputs=inst.inputs,
        noise_std=float(noise_std),
        n=n,
        kind=kind,
        source=source or inst.source,
        rlct=rlct,
        multiplicity=mult,
        rlct_ref=float(rlct_ref) if rlct_ref is not None else None,
        rlct_se=float(rlct_se) if rlct_se is not None else None,
        provenance=provenance,
        w_star=inst.w_star if kind == "exact" else None,
        suites=tuple(sorted(set(suites) | {"all"})),
        streamed=inst.streamed,
    )


def load_file(path: Path) -> list[Task]:
    """Parse and validate one catalogue file."""
    try:
        with open(path, "rb") as handle:
            doc = tomllib.load(handle)
    except OSError as err:
        raise CatalogError(f"cannot read catalogue file {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise CatalogError(f"{path}: not a TOML catalogue file (not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as err:
        raise CatalogError(f"{path}: not valid TOML: {err}") from None
    unknown = set(doc) - _FILE_KEYS
    if unknown:
        raise CatalogError(f"{path}: unknown top-level keys {sorted(unknown)}; valid: {sorted(_FILE_KEYS)}")
    family = doc.get("family")
    if not isinstance(family, str) or family not in FAMILIES:
        raise CatalogError(f"{path}: family must be one of {', '.join(FAMILIES)}; got {family!r}")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise CatalogError(f"{path}: [defaults] must be a table, got {defaults!r}")
    bad_defaults = set(defaults) - _DEFAULT_KEYS
    if bad_defaults:
        raise CatalogError(f"{path}: unknown [defaults] keys {sorted(bad_defaults)}; valid: {sorted(_DEFAULT_KEYS)}")
    entries = doc.get("tasks", [])
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{path}: expected at least one [[tasks]] entry (an array of tables), got {entries!r}")
    return [_build_task(entry, family, defaults, f"{path}: tasks[{i}]") for i, entry in enumerate(entries)]


def _catalog_files(extra: Sequence[str | os.PathLike[str]] = ()) -> list[Path]:
    files = sorted(builtin_dir("tasks").glob("*.toml"))
    env = os.environ.get(ENV_VAR, "")
    sources = [p for p in env.split(os.pathsep) if p] + [str(p) for p in extra]
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files.extend(sorted(path.glob("*.toml")))
        elif path.is_file():
            files.append(path)
        else:
            raise CatalogError(f"catalogue path {path} does not exist (give a .toml file or a folder of them)")
    return files


@dataclass(frozen=True)
class Catalog:
    """All known tasks, keyed by unversioned id."""

    tasks: dict[str, Task]

    def __iter__(self):
        return iter(self.tasks.values())

    def __len__(self) -> int:
        return len(self.tasks)

    def get(self, name: str) -> Task:
        """Look up ``family/instance`` or ``family/instance@version``."""
        task_id, _, version = name.partition("@")
        task = self.tasks.get(task_id)
        if task is None:
            close = difflib.get_close_matches(task_id, list(self.tasks), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise UnknownNameError(f"unknown task {name!r}{hint}; valid ids: {', '.join(self.tasks)}")
        if version and version != str(task.version):
            raise UnknownNameError(
                f"task {task_id} is at version {task.version} in this catalogue, not {version}; use {task.key}"
            )
        return task

    def select(self, patterns: Iterable[str] = (), suite: str | None = None) -> list[Task]:
        """Tasks matching any id or glob in ``patterns``; with no pattern, the tasks of ``suite``."""
        patterns = list(patterns)
        if not patterns:
            if suite not in SUITES:
                raise UnknownNameError(f"unknown suite {suite!r}; valid suites: {', '.join(SUITES)}")
            return [t for t in self.tasks.values() if suite in t.suites]
        chosen: dict[str, Task] = {}
        for pattern in patterns:
            if any(ch in pattern for ch in "*?["):
                hits = [t for t in self.tasks.values() if fnmatch.fnmatchcase(t.id, pattern)]
                if not hits:
                    raise UnknownNameError(f"no task matches {pattern!r}; valid ids: {', '.join(self.tasks)}")
            else:
                hits = [self.get(pattern)]
            for task in hits:
                chosen.setdefault(task.id, task)
        return list(chosen.values())


def load_catalog(extra: Sequence[str | os.PathLike[str]] = ()) -> Catalog:
    """The built-in catalogue plus ``SLT_BENCH_CATALOG`` plus ``extra`` paths."""
    tasks: dict[str, Task] = {}
    origin: dict[str, Path] = {}
    builtin = builtin_dir("tasks").resolve()
    for path in _catalog_files(extra):
        for task in load_file(path):
            if path.resolve().parent != builtin:
                task = replace(task, references=str(path.resolve().parent / "references"))
            if task.id in tasks:
                raise CatalogError(f"{path}: task id {task.id} is already defined in {origin[task.id]}")
            tasks[task.id], origin[task.id] = task, path
    return Catalog(tasks)
