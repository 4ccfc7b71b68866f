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
    out = {}
    for dist in DISTRIBUTIONS:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the slt-bench checkout in use, with '+dirty' for local changes; 'unknown' outside git."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
