"""Wall time of one 20-cell grid under each executor, side by side, in one run.

    python benchmarks/executors.py [--write docs/executors.md]

The grid: ``sgld`` at tier ``standard``, multi-β, n = 1000, on four tasks × five dataset seeds (20
cells, a few seconds each). Each configuration starts from an empty store in a fresh process, so the
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

TASKS = ("nc/k1-2", "regular/d2", "rrr/m3-n3-h3-r1", "dln/w3-1-2-3-r0")
GRID = ["--method", "sgld", "--tier", "standard", "--seeds", "5", "--n", "1000"] + [a for t in TASKS for a in ("--task", t)]
CONFIGS = (("local, --jobs 1", ["--jobs", "1"]), ("local, --jobs 2", ["--jobs", "2"]),
           ("dask LocalCluster, 1 worker", ["--executor", "dask", "--jobs", "1"]),
           ("dask LocalCluster, 2 workers", ["--executor", "dask", "--jobs", "2"]))


def measure() -> list[tuple[str, float]]:
    out = []
    for label, extra in CONFIGS:
        with tempfile.TemporaryDirectory() as tmp:
            store = Path(tmp) / "grid.sqlite"
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "slt_bench.cli", "run", *GRID, *extra, "--store", str(store)],
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
        "| executor | wall s | speed-up against 1 worker of the same kind |",
        "|---|---:|---:|",
    ]
    base = {"local": times["local, --jobs 1"], "dask": times["dask LocalCluster, 1 worker"]}
    for label, seconds in results:
        kind = "dask" if label.startswith("dask") else "local"
        lines.append(f"| {label} | {seconds:.1f} | ×{base[kind] / seconds:.2f} |")
    overhead = times["dask LocalCluster, 2 workers"] / times["local, --jobs 2"] - 1
    lines += ["", f"Dask's overhead against `--jobs 2` on the same grid: {overhead:+.0%} of the wall time.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", default=None, help="write the Markdown table here")
    args = parser.parse_args()
    text = markdown(measure())
    print(text)
    if args.write:
        Path(args.write).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
