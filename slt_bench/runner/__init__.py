"""Grid expansion, presets and local execution of cells."""

from slt_bench.runner.cell import CellSpec, run_cell
from slt_bench.runner.execute import execute, expand_generalisation, expand_grid
from slt_bench.runner.presets import TIERS, Preset, load_preset

__all__ = ["TIERS", "CellSpec", "Preset", "execute", "expand_generalisation", "expand_grid", "load_preset", "run_cell"]
