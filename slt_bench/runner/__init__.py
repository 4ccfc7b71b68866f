"""Grid expansion, the one cell pipeline, presets and executors."""

from slt_bench.runner.cell import make_row, run_cell
from slt_bench.runner.execute import LocalExecutor, execute
from slt_bench.runner.grid import expand_generalisation, expand_grid
from slt_bench.runner.presets import TIERS, Preset, load_preset
from slt_bench.runner.spec import SCORING_VERSION, CellSpec

__all__ = ["SCORING_VERSION", "TIERS", "CellSpec", "LocalExecutor", "Preset", "execute", "expand_generalisation",
           "expand_grid", "load_preset", "make_row", "run_cell"]
