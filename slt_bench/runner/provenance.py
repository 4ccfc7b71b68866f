"""What every stored row records about the software that produced it."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

DISTRIBUTIONS = ("slt-bench", "numpy", "scipy", "torch", "jax", "jaxlib", "numpyro", "pyro-ppl", "laplace-torch", "pandas",
                 "blackjax")


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """The versions of the packages a result depends on, and the machine (``machine``): with the same
    packages and seed, another CPU's vector instructions change the last bits of a sum, and an adaptive
    method can carry that into another realisation (docs/leaderboard: the retrace)."""
    out = {}
    for dist in DISTRIBUTIONS:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    out["machine"] = machine()
    return out


VECTOR_FLAGS = ("avx512f", "avx2", "fma", "neon", "asimd", "sve")


def machine() -> str:
    """The architecture, the CPU model and the vector extensions XLA and BLAS choose their code by, e.g.
    'x86_64 AMD EPYC (avx512f avx2 fma)'; what cannot be read is left out."""
    import platform

    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key in ("model name", "Model") and not model:
                model = value
            elif key in ("flags", "Features"):
                flags |= set(value.split())
    except OSError:  # not Linux
        model = platform.processor()
    found = " ".join(f for f in VECTOR_FLAGS if f in flags)
    return " ".join(part for part in (platform.machine(), model, f"({found})" if found else "") if part)


CODE_PATHS = ("slt_bench", "methods", "tasks", "pyproject.toml")


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the slt-bench checkout in use, with '+dirty' for local changes to its code (CODE_PATHS);
    'unknown' outside git."""
    return commit_of(Path(__file__).resolve().parents[2])


def commit_of(root: Path) -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        # '+dirty' for changes to what computes a result (the package, presets, catalogue), not to data or docs
        # (a published store rewritten in the checkout does not make the next cell's code unknown)
        paths = [f":(top){p}" for p in CODE_PATHS]
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *paths], cwd=root,
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
