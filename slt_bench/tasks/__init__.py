"""Tasks: the Task type, the families, and the catalogue that loads ``tasks/*.toml``."""

from slt_bench.tasks.catalog import SUITES, Catalog, load_catalog, load_file
from slt_bench.tasks.families import FAMILIES
from slt_bench.tasks.quadrature import exact_expected_nll, exact_moments
from slt_bench.tasks.task import Dataset, Inputs, Prior, Task

__all__ = [
    "FAMILIES",
    "SUITES",
    "Catalog",
    "Dataset",
    "Inputs",
    "Prior",
    "Task",
    "exact_expected_nll",
    "exact_moments",
    "load_catalog",
    "load_file",
]
