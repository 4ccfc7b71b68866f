"""The method registry: one place, the ``slt_bench.methods`` entry-point group.

Built-in methods are registered there by slt-bench's own ``pyproject.toml``; third-party
packages add theirs the same way. A method is a class whose constructor takes the
hyperparameters (keyword arguments, validated) and whose instances have
``sample(target, budget, seed) -> Draws`` and a ``name``.
"""

from __future__ import annotations

import dataclasses
import difflib
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Mapping

from slt_bench.errors import SltBenchError, UnknownNameError

GROUP = "slt_bench.methods"


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)
    return found


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


def make_method(name: str, hyper: Mapping[str, Any]) -> Any:
    """An instance of method ``name`` with hyperparameters ``hyper``; a bad key or value is a clear error."""
    cls = get_method(name)
    if dataclasses.is_dataclass(cls):
        valid = [f.name for f in dataclasses.fields(cls) if f.init]
        unknown = sorted(set(hyper) - set(valid))
        if unknown:
            raise SltBenchError(f"method {name}: unknown hyperparameters {unknown}; valid: {', '.join(valid)}")
    try:
        return cls(**dict(hyper))
    except (TypeError, ValueError) as err:
        raise SltBenchError(f"method {name}: {err}") from None
