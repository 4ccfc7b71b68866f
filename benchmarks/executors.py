"""Wall time of one 20-cell grid under each executor, side by side, in one run; twice, with short and
with longer cells, and against what this machine's two cores allow at all.

    python benchmarks/executors.py [--write docs/executors.md] [--grid short|long]

The grids: ``sgld`` at tier ``smoke``, multi-β, on the tanh networks with 1 and 2 hidden units × ten
dataset seeds (20 cells), at n = 4000 (``short``: cells of a few seconds, every configuration) and
n = 12000 (``long``: three times the work per cell and the same fixed costs; one worker against two,
local and Dask). Each configuration starts from an empty store
in a fresh process, so the times include starting the workers (and, for Dask, the LocalCluster) and
the first compilation in each worker: what a user waits for. The time spent inside the cells is read
back from the store (each row's ``wall_s``), so the rest — starting processes, importing, compiling,
scheduling — is shown beside it.

The cores: the same single-threaded NumPy kernel (a tanh layer at n = 10⁴, as in the cells) run in
one process, then in two processes at once; 2 × t₁ / t₂ gauges how independent the two cores are
for work of this kind (1.0 if the two cores were one, 2.0 if they never compete).
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

TASKS = ("tanh/h1", "tanh/h2")
GRIDS = {"short": 4000, "long": 12000}
CONFIGS = (("local, --jobs 1, pinned to one core", ["--jobs", "1"]),
           ("local, --jobs 1", ["--jobs", "1"]), ("local, --jobs 2", ["--jobs", "2"]),
           ("dask LocalCluster, 1 worker", ["--executor", "dask", "--jobs", "1"]),
           ("dask LocalCluster, 2 workers", ["--executor", "dask", "--jobs", "2"]))
LONG = ("local, --jobs 1", "local, --jobs 2", "dask LocalCluster, 2 workers")  # the long grid's configurations
# one thread everywhere: the ceiling measures the cores, not a library's threading
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
KERNEL = ("import numpy as np, time; r = np.random.default_rng(0); x = r.normal(size=(10000, 2)); "
          "w = r.normal(size=(2, 16)); v = r.normal(size=(16, 1)); t = time.perf_counter()\n"
          "for _ in range(1500): np.tanh(x @ w) @ v\n"
          "print(time.perf_counter() - t)")


def grid_args(n: int) -> list[str]:
    return ["--method", "sgld", "--tier", "smoke", "--seeds", "10", "--n", str(n)] + \
        [a for t in TASKS for a in ("--task", t)]


def measure(n: int, only: str | None = None) -> list[tuple[str, float, float]]:
    """(label, wall seconds, seconds inside the cells) per configuration."""
    out = []
    for label, extra in CONFIGS:
        if (only and only not in label) or (n == GRIDS["long"] and label not in LONG):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            store = Path(tmp) / "grid.sqlite"
            start = time.perf_counter()
            pin = ["taskset", "-c", "0"] if "pinned" in label else []  # one core: XLA's and BLAS's threads too
            subprocess.run([*pin, sys.executable, "-m", "slt_bench.cli", "run", *grid_args(n), *extra,
                            "--store", str(store)], check=True, capture_output=True, text=True)
            wall = time.perf_counter() - start
            with sqlite3.connect(store) as con:
                (cells,) = con.execute("SELECT SUM(wall_s) FROM cells").fetchone()
            out.append((label, wall, float(cells)))
            print(f"n={n} {label}: {wall:.1f} s wall, {cells:.1f} s in cells", flush=True)
    return out


def ceiling() -> tuple[float, float]:
    """(one process alone, two processes at once: the slower), seconds for the same kernel."""
    env = {**os.environ, **ONE_THREAD}
    cmd = [sys.executable, "-c", KERNEL]
    alone = float(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    both = max(float(p.communicate()[0]) for p in procs)
    print(f"ceiling: {alone:.2f} s alone, {both:.2f} s two at once", flush=True)
    return alone, both


def table(n: int, results: list[tuple[str, float, float]]) -> list[str]:
    times = {label: wall for label, wall, _ in results}
    pinned = times.get("local, --jobs 1, pinned to one core")
    base = {"local": times["local, --jobs 1"], "dask": times.get("dask LocalCluster, 1 worker", times["local, --jobs 1"])}
    lines = [
        f"Grid: `slt-bench run {' '.join(grid_args(n))}` (20 cells), from an empty store.",
        "",
        "| executor | wall s | in cells s | outside cells s | speed-up against 1 worker of the same kind |"
        + (" speed-up against 1 worker on 1 core |" if pinned else ""),
        "|---|---:|---:|---:|---:|" + ("---:|" if pinned else ""),
    ]
    for label, wall, cells in results:
        kind = "dask" if label.startswith("dask") else "local"
        jobs = 2 if "2" in label.split(",")[-1] else 1
        same = "–" if "pinned" in label else f"×{base[kind] / wall:.2f}"
        if kind == "dask" and "dask LocalCluster, 1 worker" not in times:
            same += " (against local --jobs 1)"
        lines.append(f"| {label} | {wall:.1f} | {cells:.1f} | {wall - cells / jobs:.1f} | {same} |"
                     + (f" ×{pinned / wall:.2f} |" if pinned else ""))
    overhead = times["dask LocalCluster, 2 workers"] / times["local, --jobs 2"] - 1
    lines += ["", f"Dask's overhead against `--jobs 2` on this grid: {overhead:+.0%} of the wall time.", ""]
    return lines


def markdown(grids: dict[int, list[tuple[str, float, float]]], roof: tuple[float, float]) -> str:
    alone, both = roof
    lines = [
        "# Executors: one grid, five ways",
        "",
        f"Produced by `python benchmarks/executors.py --write docs/executors.md` on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {platform.machine()}, {os.cpu_count()} cores. "
        "Each time starts from an empty store and includes starting the workers and their first compilation. "
        "\"In cells\" adds up the wall time each stored row records; \"outside cells\" is the wall time less "
        "the cells' time divided by the number of workers: starting processes, importing torch/JAX/numpyro, "
        "compiling per worker, scheduling.",
        "",
        f"**How independent the two cores are.** The same single-threaded NumPy kernel (a tanh layer at n = 10⁴) took "
        f"{alone:.2f} s in one process alone and {both:.2f} s in each of two processes at once: two processes "
        f"did ×{2 * alone / both:.2f} the work of one in the same time (one short run of a small kernel: a gauge of "
        "how independent the two cores are, not a bound — it read ×1.90 in an earlier run).",
        "",
    ]
    for n, results in grids.items():
        lines += [f"## n = {n}", ""] + table(n, results)
    lines += [
        "How the workers are set up: each worker process of `--jobs J` and of a Dask LocalCluster runs torch,",
        "XLA and BLAS on one thread (BLAS's is set in the environment the worker is spawned with, since NumPy",
        "loads before any initializer runs; Dask's nanny sets the same variables) and, when J is at most the",
        "number of usable CPUs, stays on its own CPU (`sched_setaffinity`). Before that (commit 61194fa and",
        "earlier), the workers' BLAS ran two threads each and the OS moved them between cores: the same short",
        "grid took 119.9 s with `--jobs 2` (×1.17), its cells 227.6 s in all against 133.7 s for one worker",
        "alone. With one BLAS thread and no pinning it took 90.4 s; pinned as now, 77.9 s.",
        "",
        "`--jobs 1` runs the cells in the driver's own process, whose XLA and BLAS may use both cores; the",
        "first row pins that process to one core (`taskset -c 0`) to show what one core does alone.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", default=None, help="write the Markdown here")
    parser.add_argument("--grid", choices=sorted(GRIDS), default=None, help="only this grid (default: both)")
    parser.add_argument("--only", default=None, help="measure only the configurations whose label contains this")
    args = parser.parse_args()
    sizes = [GRIDS[args.grid]] if args.grid else list(GRIDS.values())
    if args.only:
        for n in sizes:
            measure(n, args.only)
        return 0
    roof = ceiling()
    text = markdown({n: measure(n) for n in sizes}, roof)
    print(text)
    if args.write:
        Path(args.write).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
