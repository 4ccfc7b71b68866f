"""The method registry: one place, the ``slt_bench.methods`` entry-point group.

Built-in methods are registered there by slt-bench's own ``pyproject.toml``; third-party
packages add theirs the same way. A method is a class whose constructor takes the
hyperparameters (keyword arguments, validated) and whose instances have
``sample(target, budget, seed) -> Draws`` and a ``name``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import sys
import types
import typing
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Mapping

from slt_bench.errors import SltBenchError, UnknownNameError

GROUP = "slt_bench.methods"


def _entry_points() -> dict[str, EntryPoint]:
    return dict(_scan(tuple(sys.path)))


@functools.lru_cache(maxsize=8)
def _scan(path: tuple[str, ...]) -> tuple[tuple[str, EntryPoint], ...]:
    """The registered methods, scanned once per ``sys.path`` (a plug-in added to the path is seen)."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)
    return tuple(found.items())


def method_names() -> list[str]:
    """Names of every installed method, built-in and plug-in, sorted."""
    return sorted(_entry_points())


def get_method(name: str) -> Any:
    """The method class registered under ``name`` (what ``slt-bench run --method`` uses)."""
    eps = _entry_points()
    if name not in eps:
        close = difflib.get_close_matches(name, list(eps), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UnknownNameError(f"unknown method {name!r}{hint}; valid methods: {', '.join(sorted(eps))}")
    try:
        return eps[name].load()
    except Exception as err:  # a broken plug-in must not take the whole tool down
        raise SltBenchError(f"method {name!r} is registered as {eps[name].value} but failed to load: {err}") from None


def _describe(kind: Any) -> str:
    if kind is bool:
        return "true or false (a TOML boolean)"
    if kind is int:
        return "an integer"
    if kind is float:
        return "a finite number"
    if kind is str:
        return "a string"
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if args:
        return " or ".join(_describe(a) for a in args)
    return getattr(kind, "__name__", str(kind))


def _fits(value: Any, kind: Any) -> bool:
    """Whether ``value`` (parsed from TOML) has the declared field type ``kind``."""
    if kind is Any:
        return True
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is str:
        return isinstance(value, str)
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(kind))
    if kind is type(None):
        return value is None
    if origin in (tuple, list):
        return isinstance(value, (list, tuple))
    return True  # a type this check does not know: left to the method's own validation


def check_hyper(name: str, cls: Any, hyper: Mapping[str, Any]) -> None:
    """Unknown keys and values of the wrong type fail with one line naming what is valid.

    Types come from the method's dataclass annotations: ``tamed = "False"`` (a string, from a
    ``--set tamed=False`` that is not TOML) is refused instead of being stored as a truthy string.
    """
    if not dataclasses.is_dataclass(cls):
        return
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(hyper) - set(fields))
    if unknown:
        raise SltBenchError(f"method {name}: unknown hyperparameters {unknown}; valid: {', '.join(fields)}")
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # annotations a plug-in wrote in a way we cannot resolve: its own checks apply
        return
    for key, value in hyper.items():
        kind = hints.get(key, Any)
        if not _fits(value, kind):
            raise SltBenchError(f"method {name}: {key} must be {_describe(kind)}, got {value!r}")


def make_method(name: str, hyper: Mapping[str, Any]) -> Any:
    """An instance of method ``name`` with hyperparameters ``hyper``; a bad key or value is a clear error."""
    cls = get_method(name)
    check_hyper(name, cls, hyper)
    try:
        return cls(**dict(hyper))
    except (TypeError, ValueError, OverflowError) as err:
        raise SltBenchError(f"method {name}: {err}") from None
