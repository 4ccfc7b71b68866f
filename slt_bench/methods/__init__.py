"""Method adapters, one file each, all with ``sample(target, budget, seed) -> Draws``."""

from slt_bench.methods.registry import GROUP, get_method, make_method, method_names

__all__ = ["GROUP", "get_method", "make_method", "method_names"]
