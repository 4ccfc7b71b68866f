"""The results store: SQLite in the working directory, one row per cell, append-only.

Each finished cell is one committed transaction, so a run killed at any moment (SIGKILL
included) leaves every finished row intact; SQLite's journal rolls back a half-written one.
Only the driver process writes. Dict-valued fields are stored as JSON text.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, Iterable

DEFAULT_PATH = "slt_bench_results.sqlite"

COLUMNS: dict[str, str] = {
    "key": "TEXT PRIMARY KEY",
    "task": "TEXT", "task_version": "INTEGER", "family": "TEXT", "n_params": "INTEGER",
    "method": "TEXT", "tier": "TEXT", "preset_hash": "TEXT", "hyper": "JSON", "budget": "REAL",
    "seed": "INTEGER", "n": "INTEGER", "estimator": "TEXT", "betas": "JSON",
    "rlct": "TEXT", "rlct_value": "REAL", "multiplicity": "INTEGER", "kind": "TEXT",
    "rlct_hat": "REAL", "se": "REAL", "finite_target": "REAL",
    "rel_error": "REAL", "z": "REAL", "finite_rel_error": "REAL", "finite_z": "REAL", "target_note": "TEXT",
    "status": "TEXT", "reason": "TEXT", "grad_evals": "REAL", "wall_s": "REAL",
    "diagnostics": "JSON", "fit": "JSON", "versions": "JSON", "git_commit": "TEXT", "created_at": "TEXT",
}
_JSON = [name for name, kind in COLUMNS.items() if kind == "JSON"]


class ResultStore:
    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        self.path = Path(path)
        with closing(self._connect()) as con, con:
            cols = ", ".join(f"{name} {kind.replace('JSON', 'TEXT')}" for name, kind in COLUMNS.items())
            con.execute(f"CREATE TABLE IF NOT EXISTS cells ({cols})")
            con.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        return con

    def keys(self) -> set[str]:
        with closing(self._connect()) as con:
            return {row[0] for row in con.execute("SELECT key FROM cells")}

    def put(self, row: dict[str, Any]) -> None:
        """Insert (or, for a recomputed cell, replace) one row in one transaction."""
        values = [json.dumps(row.get(c)) if c in _JSON else row.get(c) for c in COLUMNS]
        marks = ", ".join("?" for _ in COLUMNS)
        with closing(self._connect()) as con, con:
            con.execute(f"INSERT OR REPLACE INTO cells ({', '.join(COLUMNS)}) VALUES ({marks})", values)

    def rows(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        with closing(self._connect()) as con:
            con.row_factory = sqlite3.Row
            found = [dict(r) for r in con.execute("SELECT * FROM cells ORDER BY created_at")]
        wanted = None if keys is None else set(keys)
        out = []
        for row in found:
            if wanted is not None and row["key"] not in wanted:
                continue
            for c in _JSON:
                row[c] = json.loads(row[c]) if row[c] is not None else None
            out.append(row)
        return out

    def put_meta(self, name: str, value: Any) -> None:
        """Record a small JSON value beside the cells (e.g. how long a reproduction took)."""
        with closing(self._connect()) as con, con:
            con.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, json.dumps(value)))

    def get_meta(self, name: str, default: Any = None) -> Any:
        with closing(self._connect()) as con:
            found = con.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return json.loads(found[0]) if found else default

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=list(COLUMNS))
