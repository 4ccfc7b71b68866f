"""Wall time of one 20-cell grid under each executor, side by side, in one run.

    python benchmarks/executors.py [--write docs/executors.md]

The grid: ``sgld`` at tier ``smoke``, multi-β, n = 4000, on the tanh networks with 1 and 2 hidden
units × ten dataset seeds (20 cells of about 15 s each: nonlinear models, so the work is in the
cells, not in starting the workers). Each configuration starts from an empty store in a fresh process, so the
times include starting the workers (and, for Dask, the LocalCluster) and the first compilation in
each worker: what a user waits for.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

TASKS = ("tanh/h1", "tanh/h2")
GRID = ["--method", "sgld", "--tier", "smoke", "--seeds", "10", "--n", "4000"] + [a for t in TASKS for a in ("--task", t)]
CONFIGS = (("local, --jobs 1, pinned to one core", ["--jobs", "1"]),
           ("local, --jobs 1", ["--jobs", "1"]), ("local, --jobs 2", ["--jobs", "2"]),
           ("dask LocalCluster, 1 worker", ["--executor", "dask", "--jobs", "1"]),
           ("dask LocalCluster, 2 workers", ["--executor", "dask", "--jobs", "2"]))


def measure(only: str | None = None) -> list[tuple[str, float]]:
    out = []
    for label, extra in CONFIGS:
        if only and only not in label:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            store = Path(tmp) / "grid.sqlite"
            start = time.perf_counter()
            pin = ["taskset", "-c", "0"] if "pinned" in label else []  # one core: XLA's and BLAS's threads too
            subprocess.run([*pin, sys.executable, "-m", "slt_bench.cli", "run", *GRID, *extra, "--store", str(store)],
                           check=True, capture_output=True, text=True)
            out.append((label, time.perf_counter() - start))
            print(f"{label}: {out[-1][1]:.1f} s", flush=True)
    return out


def markdown(results: list[tuple[str, float]]) -> str:
    times = dict(results)
    lines = [
        "# Executors: one grid, four ways",
        "",
        f"Produced by `python benchmarks/executors.py --write docs/executors.md` on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {platform.machine()}, {os.cpu_count()} cores.",
        "",
        "Grid: `slt-bench run " + " ".join(GRID) + "` (20 cells), from an empty store; the time includes "
        "starting the workers and their first compilation.",
        "",
        "| executor | wall s | speed-up against 1 worker of the same kind | speed-up against 1 worker on 1 core |",
        "|---|---:|---:|---:|",
    ]
    pinned = times["local, --jobs 1, pinned to one core"]
    base = {"local": times["local, --jobs 1"], "dask": times["dask LocalCluster, 1 worker"]}
    for label, seconds in results:
        kind = "dask" if label.startswith("dask") else "local"
        same = "–" if "pinned" in label else f"×{base[kind] / seconds:.2f}"
        lines.append(f"| {label} | {seconds:.1f} | {same} | ×{pinned / seconds:.2f} |")
    overhead = times["dask LocalCluster, 2 workers"] / times["local, --jobs 2"] - 1
    lines += [
        "",
        "One worker is not one core: a single process's XLA and BLAS spread over both cores (about 1.6 cores busy",
        "on average here), so the speed-up against one unpinned worker understates how the executors scale. Worker",
        "processes of `--jobs J` and of Dask run their XLA on one thread each, so that J of them share J cores;",
        "the last column compares with one worker pinned to one core (`taskset -c 0`).",
        "",
        f"Dask's overhead against `--jobs 2` on the same grid: {overhead:+.0%} of the wall time (starting the",
        "LocalCluster and its nannies, and scheduling).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", default=None, help="write the Markdown table here")
    parser.add_argument("--only", default=None, help="measure only the configurations whose label contains this")
    args = parser.parse_args()
    if args.only:
        measure(args.only)
        return 0
    text = markdown(measure())
    print(text)
    if args.write:
        Path(args.write).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
