"""The method protocol, written once: what every method has, and the optional parts.

Required::

    class MyMethod:
        name: ClassVar[str]
        def sample(self, target: TemperedTarget, budget: Budget, seed: int) -> Draws: ...

Optional (each has a default here, so callers never probe for them themselves):

* ``check_task(task)`` raises :class:`~slt_bench.errors.SltBenchError` naming the valid options
  when the method's settings cannot run on ``task``; called for every task before a run starts.
  Default: every task is accepted.
* ``sample_many(targets, budget, seeds) -> list[Draws]`` samples several posteriors of one shape
  at once (MAP fits many datasets in one vmapped run). Default: :meth:`sample` one by one.
* ``sample_path(targets, budget, seed) -> list[Draws]`` samples the tempered posteriors of one
  dataset (one centre, one γ, several β) along one path, as tempered SMC does; ``budget`` is per
  posterior. Default: :meth:`sample` for each, with seeds ``seeds[i]``.
* a ``keep_params: bool`` hyperparameter: with it set, ``Draws.params`` holds parameter draws
  (needed by the generalisation metric, which builds a predictive from them).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Protocol, Sequence, runtime_checkable

from slt_bench.draws import Draws


@runtime_checkable
class Method(Protocol):
    name: ClassVar[str]

    def sample(self, target: Any, budget: Any, seed: int) -> Draws: ...


def check_task(method: Any, task: Any) -> None:
    """The method's own check of ``task``, if it has one."""
    hook = getattr(method, "check_task", None)
    if hook is not None:
        hook(task)


def sample_many(method: Any, targets: Sequence[Any], budget: Any, seeds: Sequence[int]) -> list[Draws]:
    """All posteriors of one shape: batched when the method can, else one by one."""
    hook = getattr(method, "sample_many", None)
    if hook is not None:
        return list(hook(list(targets), budget, list(seeds)))
    return [method.sample(t, budget, s) for t, s in zip(targets, seeds)]


def sample_path(method: Any, targets: Sequence[Any], budget: Any, seeds: Sequence[int]) -> list[Draws]:
    """The tempered posteriors of one dataset: along one path when the method can (seeded with
    ``seeds[0]``), else one by one with their own seeds."""
    hook = getattr(method, "sample_path", None)
    if hook is not None:
        return list(hook(list(targets), budget, seeds[0]))
    return [method.sample(t, budget, s) for t, s in zip(targets, seeds)]


def keeps_params(cls: Any) -> bool:
    """Whether the method class has a ``keep_params`` hyperparameter."""
    return dataclasses.is_dataclass(cls) and any(f.name == "keep_params" for f in dataclasses.fields(cls))
