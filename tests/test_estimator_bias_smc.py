"""benchmarks/estimator_bias.py --smc-store: the finite-n truth read off smc cells, on hand-made rows."""

import importlib.util
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
spec = importlib.util.spec_from_file_location("estimator_bias", ROOT / "benchmarks" / "estimator_bias.py")
bias = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bias)

N = 10_000
B0 = 1 / math.log(N)
BETAS = [0.9 * B0, B0, 1.1 * B0]


def _row(seed, hat, sd_at_b0, status="ok", method="smc", finite=None, betas=BETAS):
    diags = [{"sd": 99.0}, {"sd": sd_at_b0}, {"sd": 1.0}]
    return {"method": method, "estimator": "multi-beta", "metric": "rlct", "task": "rrr/x@1", "family": "reduced_rank",
            "n_params": 8, "rlct": "4", "rlct_value": 4.0, "multiplicity": 1, "n": N, "seed": seed, "betas": betas,
            "diagnostics": diags, "rlct_hat": hat, "se": 0.2, "status": status, "finite_target": finite}


def test_the_variance_estimator_is_beta0_squared_times_the_variance_at_beta0():
    assert bias.variance_value(_row(0, 4.0, 20.0)) == B0 * B0 * 400.0
    assert bias.variance_value(_row(0, 4.0, 20.0, betas=[0.05, 0.06, 0.07])) is None  # β₀ not on the grid


def test_the_table_pools_only_ok_smc_cells_and_shows_the_exact_value_where_stored():
    rows = [_row(0, 3.6, 20.0), _row(1, 4.4, 20.0), _row(2, 99.0, 20.0, status="unmixed"),
            _row(3, 1.0, 20.0, method="sgld")]
    line = bias.smc_table(rows).splitlines()[2]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[0] == "rrr/x" and cells[5] == "2 of 3"
    rel = [(3.6 - 4) / 4, (4.4 - 4) / 4]  # mean 0, SD 0.1414
    assert cells[6] == f"{sum(rel) / 2:+.1%} ± {math.sqrt(sum(r * r for r in rel)):.1%}"
    var_rel = (B0 * B0 * 400.0 - 4) / 4
    assert cells[7] == f"{var_rel:+.1%} ± 0.0%"
    assert cells[8] == "–"  # no exact target stored
    exact = bias.smc_table([_row(0, 3.6, 20.0, finite=3.8), _row(1, 4.4, 20.0, finite=3.8)]).splitlines()[2]
    assert f"{(3.8 - 4) / 4:+.1%} ± 0.0%" in exact


def test_certified_table_reads_the_shipped_references():
    """--certified: the tasks beyond quadrature with a reference file, one row each. rrr/m2-n6-h1-r1 has
    all 30 posteriors of seeds 0–4 certified, so each seed has a finite-n truth for every estimator and
    its row carries no '(k of 5 seeds)'; a task without a file has no row."""
    from slt_bench.reference import file_for
    from slt_bench.tasks import load_catalog

    tasks = bias.referenced_tasks()
    ids = {t.id for t in tasks}
    assert {"rrr/m2-n6-h1-r1", "regular/d10"} <= ids
    # tasks with an exact λ beyond quadrature and no file (there are some: dln/w4-2-3-4-r1 today): no row
    unbuilt = {t.id for t in load_catalog().select(suite="all")
               if t.rlct is not None and t.n_params > 3 and not file_for(t).is_file()}
    assert unbuilt and not unbuilt & ids
    assert all(t.n_params > 3 for t in tasks)
    task = next(t for t in tasks if t.id == "rrr/m2-n6-h1-r1")
    for name in bias.ESTIMATORS:
        assert None not in [bias.truth(task, 10_000, s, name) for s in range(5)], name
    text, _ = bias.table(5, [10_000], [task])
    assert text.splitlines()[2].startswith("| rrr/m2-n6-h1-r1 |") and "seeds)" not in text
