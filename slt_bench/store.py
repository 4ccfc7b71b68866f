"""The results store: one SQLite file, append-only, one row per computed cell.

Every computed cell is appended as one committed transaction, so a run killed at any moment
(SIGKILL included) leaves every finished row intact; SQLite's journal rolls back a half-written
one. ``--force`` recomputes a cell and appends the new row beside the old one: nothing is ever
overwritten, :meth:`ResultStore.rows` returns the newest row of each cell, and
:meth:`ResultStore.history` every row a cell has had. Only the driver process writes.

Besides the cells, a ``traces`` table keeps each row's n L_n traces (a few chains per posterior,
evenly thinned, float32, compressed): what the report's trace plots show. Copying a store without
that table (``sqlite3 x.sqlite "DROP TABLE traces; VACUUM"``) keeps every number and drops only the
pictures, which is how the committed baseline stays small.

The file carries its schema version (``meta.schema_version``). A store written by an earlier
release (schema 1: one row per key, replaced by ``--force``) is read as it is and migrated in one
transaction when it is first opened for writing. A path that is not a slt-bench store (a folder,
a text file, another program's SQLite database, a newer schema) is refused with one line and left
untouched: it is inspected read-only before anything is written.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import zlib
from contextlib import closing
from pathlib import Path
from typing import Any, Iterable

from slt_bench.errors import SltBenchError

DEFAULT_PATH = "slt_bench_results.sqlite"
SCHEMA_VERSION = 2
_SQLITE_MAGIC = b"SQLite format 3\x00"

COLUMNS: dict[str, str] = {
    "key": "TEXT NOT NULL",
    "task": "TEXT", "task_version": "INTEGER", "task_hash": "TEXT", "family": "TEXT", "n_params": "INTEGER",
    "method": "TEXT", "tier": "TEXT", "preset_hash": "TEXT", "hyper": "JSON", "budget": "REAL",
    "seed": "INTEGER", "n": "INTEGER", "metric": "TEXT", "estimator": "TEXT", "options": "JSON", "betas": "JSON",
    "rlct": "TEXT", "rlct_value": "REAL", "rlct_se": "REAL", "multiplicity": "INTEGER", "kind": "TEXT",
    "rlct_hat": "REAL", "se": "REAL", "finite_target": "REAL", "finite_status": "TEXT",
    "rel_error": "REAL", "z": "REAL", "finite_rel_error": "REAL", "finite_z": "REAL", "target_note": "TEXT",
    "status": "TEXT", "reason": "TEXT", "grad_evals": "REAL", "sample_s": "REAL", "score_s": "REAL", "wall_s": "REAL",
    "diagnostics": "JSON", "fit": "JSON", "versions": "JSON", "git_commit": "TEXT", "scoring_version": "INTEGER",
    "created_at": "TEXT",
}
_JSON = [name for name, kind in COLUMNS.items() if kind == "JSON"]
# Schema 1 (releases up to 8093453): ``key`` was the primary key and ``--force`` replaced rows.
_V1_COLUMNS = (
    "key", "task", "task_version", "family", "n_params", "method", "tier", "preset_hash", "hyper", "budget", "seed",
    "n", "estimator", "betas", "rlct", "rlct_value", "multiplicity", "kind", "rlct_hat", "se", "finite_target",
    "rel_error", "z", "finite_rel_error", "finite_z", "target_note", "status", "reason", "grad_evals", "wall_s",
    "diagnostics", "fit", "versions", "git_commit", "created_at",
)


def _fail(path: Path, what: str) -> SltBenchError:
    return SltBenchError(f"results store {path}: {what}")


def _sql_type(kind: str) -> str:
    return kind.replace("JSON", "TEXT")


def _inspect(path: Path, writable: bool) -> int | None:
    """The schema version of the store at ``path`` (None: no store yet), read without writing.

    Raises a one-line error for anything that is not a slt-bench store or cannot be used.
    """
    if path.is_dir():
        raise _fail(path, "is a folder; give a file name such as results.sqlite")
    parent = path.parent if str(path.parent) else Path(".")
    if not path.exists():
        if not writable:
            where = "" if parent.is_dir() else f" (folder {parent} does not exist)"
            raise SltBenchError(f"no results store at {path}{where}; run `slt-bench run --method sgld` first "
                                "or pass --store")
        if not parent.is_dir():
            raise _fail(path, f"folder {parent} does not exist; create it or choose another --store")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise _fail(path, f"cannot create a file in {parent} (not writable); choose another --store")
        return None
    if not path.is_file():
        raise _fail(path, "is not a regular file; give a file name such as results.sqlite")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as err:
        raise _fail(path, f"cannot be read ({err.strerror})") from None
    if not head:
        return None  # an empty file: nobody's data, initialised as a new store
    if head != _SQLITE_MAGIC:
        raise _fail(path, "is not a slt-bench results store (not an SQLite database); choose another --store")
    try:
        with closing(sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, timeout=30)) as con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "cells" not in tables:
                shown = ", ".join(sorted(tables)) or "none"
                raise _fail(path, f"is an SQLite database but not a slt-bench store (its tables: {shown}); "
                                  "choose another --store")
            columns = {r[1] for r in con.execute("PRAGMA table_info(cells)")}
            version = None
            if "meta" in tables:
                found = con.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
                version = int(json.loads(found[0])) if found else None
    except sqlite3.DatabaseError as err:
        raise _fail(path, f"cannot be read as an SQLite database ({err})") from None
    if version is None:
        missing = sorted(set(_V1_COLUMNS) - columns)
        if missing:
            raise _fail(path, f"has a 'cells' table that is not slt-bench's (missing columns {missing[:5]}); "
                              "choose another --store")
        version = 1
    if version > SCHEMA_VERSION:
        raise _fail(path, f"was written by a newer slt-bench (schema {version}); this version reads schemas up to "
                          f"{SCHEMA_VERSION}: upgrade slt-bench")
    missing = sorted(set(COLUMNS if version == SCHEMA_VERSION else _V1_COLUMNS) - columns)
    if missing:
        raise _fail(path, f"is damaged: its 'cells' table lacks columns {missing[:5]}")
    if writable and not (os.access(path, os.W_OK) and os.access(parent, os.W_OK | os.X_OK)):
        raise _fail(path, "is not writable (the file or its folder); choose another --store")
    return version


class ResultStore:
    """The cells of every run, newest row per cell key; see the module docstring."""

    def __init__(self, path: str | Path = DEFAULT_PATH, writable: bool = True) -> None:
        self.path = Path(path)
        self.writable = writable
        version = _inspect(self.path, writable)
        self.schema = SCHEMA_VERSION if version is None else version
        if writable:
            self._guard(self._prepare, version)

    # ---- set-up ---------------------------------------------------------------------------
    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except sqlite3.Error as err:
            raise _fail(self.path, f"{type(err).__name__}: {err}") from None

    def _connect(self) -> sqlite3.Connection:
        if not self.writable:
            return sqlite3.connect(f"file:{self.path.resolve()}?mode=ro", uri=True, timeout=30)
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        return con

    def _prepare(self, version: int | None) -> None:
        cols = ", ".join(f"{name} {_sql_type(kind)}" for name, kind in COLUMNS.items())
        with closing(self._connect()) as con, con:
            if version is None:
                con.execute(f"CREATE TABLE cells (row_id INTEGER PRIMARY KEY AUTOINCREMENT, {cols})")
                con.execute("CREATE INDEX cells_key ON cells (key)")
                con.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
                con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (json.dumps(SCHEMA_VERSION),))
            elif version == 1:
                self._migrate_v1(con, cols)
            con.execute("CREATE TABLE IF NOT EXISTS traces (row_id INTEGER PRIMARY KEY, data BLOB)")
        self.schema = SCHEMA_VERSION

    @staticmethod
    def _migrate_v1(con: sqlite3.Connection, cols: str) -> None:
        """Schema 1 → 2 in the caller's transaction: rows kept in order, scoring_version 1, metric rlct or
        generalisation, no task_hash (those cells were keyed without the task's content)."""
        old = ", ".join(_V1_COLUMNS)
        con.execute(f"CREATE TABLE cells_v2 (row_id INTEGER PRIMARY KEY AUTOINCREMENT, {cols})")
        con.execute(
            f"INSERT INTO cells_v2 ({old}, metric, scoring_version) "
            f"SELECT {old}, CASE WHEN estimator = 'generalisation' THEN 'generalisation' ELSE 'rlct' END, 1 "
            "FROM cells ORDER BY created_at"
        )
        con.execute("DROP TABLE cells")
        con.execute("ALTER TABLE cells_v2 RENAME TO cells")
        con.execute("CREATE INDEX cells_key ON cells (key)")
        con.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (json.dumps(SCHEMA_VERSION),))

    def _empty(self) -> bool:
        return not self.path.exists() or self.path.stat().st_size == 0

    # ---- reading ---------------------------------------------------------------------------
    def keys(self) -> set[str]:
        """Keys of every stored cell."""
        if self._empty():
            return set()
        return self._guard(self._keys)

    def _keys(self) -> set[str]:
        with closing(self._connect()) as con:
            return {row[0] for row in con.execute("SELECT DISTINCT key FROM cells")}

    def rows(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The newest row of each cell (of ``keys`` when given), oldest cell first."""
        if self._empty():
            return []
        wanted = None if keys is None else set(keys)
        return [r for r in self._guard(self._select, True) if wanted is None or r["key"] in wanted]

    def history(self, key: str) -> list[dict[str, Any]]:
        """Every row ever stored for one cell, oldest first (``--force`` appends)."""
        if self._empty():
            return []
        return [r for r in self._guard(self._select, False) if r["key"] == key]

    def _select(self, newest_only: bool) -> list[dict[str, Any]]:
        order = "row_id" if self.schema >= 2 else "rowid"
        query = f"SELECT {order} AS row_order, * FROM cells"
        if newest_only:
            query += f" WHERE {order} IN (SELECT MAX({order}) FROM cells GROUP BY key)"
        with closing(self._connect()) as con:
            con.row_factory = sqlite3.Row
            found = [dict(r) for r in con.execute(query + f" ORDER BY {order}")]
        out = []
        for row in found:
            full = {name: row.get(name) for name in COLUMNS}
            for c in _JSON:
                full[c] = json.loads(full[c]) if full[c] is not None else None
            if self.schema < 2:  # schema 1: everything below was scored the schema-1 way
                full["scoring_version"] = 1
                full["metric"] = "generalisation" if full["estimator"] == "generalisation" else "rlct"
            full["row_id"] = row["row_order"]
            out.append(full)
        return out

    def traces(self, row_id: int) -> list[Any]:
        """The n L_n traces stored with a row: one (chains, points) array per posterior; [] if none."""
        if self._empty():
            return []

        def read() -> Any:
            with closing(self._connect()) as con:
                tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if "traces" not in tables:
                    return None
                return con.execute("SELECT data FROM traces WHERE row_id = ?", (row_id,)).fetchone()

        found = self._guard(read)
        return _unpack_traces(found[0]) if found else []

    def get_meta(self, name: str, default: Any = None) -> Any:
        if self._empty():
            return default

        def read() -> Any:
            with closing(self._connect()) as con:
                tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if "meta" not in tables:
                    return default
                found = con.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
            return json.loads(found[0]) if found else default

        return self._guard(read)

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=["row_id", *COLUMNS])

    # ---- writing ---------------------------------------------------------------------------
    def put(self, row: dict[str, Any]) -> None:
        """Append one row in one transaction (a recomputed cell adds a row; nothing is replaced)."""
        if not self.writable:
            raise _fail(self.path, "opened read-only")
        values = [json.dumps(_plain(row.get(c)), allow_nan=False) if c in _JSON else _plain(row.get(c)) for c in COLUMNS]
        marks = ", ".join("?" for _ in COLUMNS)

        traces = row.get("traces") or []

        def write() -> None:
            with closing(self._connect()) as con, con:
                cursor = con.execute(f"INSERT INTO cells ({', '.join(COLUMNS)}) VALUES ({marks})", values)
                if traces:
                    con.execute("INSERT INTO traces (row_id, data) VALUES (?, ?)", (cursor.lastrowid, _pack_traces(traces)))

        self._guard(write)

    def put_traces(self, row_id: int, traces: list[Any]) -> None:
        """Store the traces of a row already stored without them (its cell recomputed to the same numbers
        elsewhere); the row itself is not touched."""
        if not self.writable:
            raise _fail(self.path, "opened read-only")

        def write() -> None:
            with closing(self._connect()) as con, con:
                if con.execute("SELECT 1 FROM cells WHERE row_id = ?", (row_id,)).fetchone() is None:
                    raise SltBenchError(f"{self.path}: no row {row_id} to attach traces to")
                con.execute("INSERT OR REPLACE INTO traces (row_id, data) VALUES (?, ?)", (row_id, _pack_traces(traces)))

        self._guard(write)

    def put_meta(self, name: str, value: Any) -> None:
        """Record a small JSON value beside the cells (e.g. how long a reproduction took)."""
        if not self.writable:
            raise _fail(self.path, "opened read-only")

        def write() -> None:
            with closing(self._connect()) as con, con:
                con.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, json.dumps(value)))

        self._guard(write)


def _pack_traces(traces: list[Any]) -> bytes:
    """[(chains, points) arrays] → zlib(JSON shapes + NUL + float32 bytes)."""
    import numpy as np

    arrays = [np.asarray(t, dtype=np.float32) for t in traces]
    header = json.dumps([list(a.shape) for a in arrays]).encode()
    return zlib.compress(header + b"\0" + b"".join(a.tobytes() for a in arrays), 6)


def _unpack_traces(blob: bytes) -> list[Any]:
    import numpy as np

    raw = zlib.decompress(blob)
    header, _, body = raw.partition(b"\0")
    out, start = [], 0
    for shape in json.loads(header):
        size = int(np.prod(shape)) * 4
        out.append(np.frombuffer(body[start:start + size], dtype=np.float32).reshape(shape).astype(np.float64))
        start += size
    return out


def _plain(value: Any) -> Any:
    """JSON- and SQLite-ready copy: NumPy scalars to Python, non-finite floats to None."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def inspect_store(path: str | Path) -> int | None:
    """Check that ``path`` is (or could become) a slt-bench store, touching nothing: its schema
    version, or None when there is no store there yet. A one-line error otherwise."""
    return _inspect(Path(path), writable=True)
