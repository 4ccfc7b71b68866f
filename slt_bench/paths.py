"""Where the built-in catalogue (``tasks/``) and method presets (``methods/``) live.

In a checkout (and an editable install) they are the top-level folders; in a wheel they ship
as ``slt_bench/_data/<name>``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def builtin_dir(name: str) -> Path:
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent / name
