"""Bad input, as a new user meets it: every probe ends in exactly one ``error:`` line and exit code 2,
never a traceback, and leaves every existing file as it was.

The probes include the twenty that broke on 8093453 (issue "Scores you can trust"): marked
``# was broken``. ``test_generated_inputs_never_leak_a_traceback`` generates hundreds more with
hypothesis, valid and invalid.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import assert_one_error_line, file_digest

RRR = 'family = "reduced_rank"\n[[tasks]]\nid = "rrr/probe"\nversion = 1\n'
REG = 'family = "regular"\n[[tasks]]\nid = "regular/probe"\nversion = 1\n'


def _cat(body: str) -> bytes:
    return body.encode()


# (name, catalogue bytes, fragment of the one error line)
CATALOGUE_PROBES = [
    ("n = 1", _cat(REG + "params = { d = 2 }\nn = 1\n"), "n must be an integer from 2"),  # was broken
    ("n = 10**12", _cat(REG + "params = { d = 2 }\nn = 1000000000000\n"), "n must be an integer from 2"),  # was broken
    ("d = 10**9", _cat(REG + "params = { d = 1000000000 }\n"), "must be an integer from 1 to 2,000,000"),  # was broken
    ("widths of 10**5", _cat('family = "deep_linear"\n[[tasks]]\nid = "dln/p"\nversion = 1\n'
                             'params = { widths = [100000, 100000, 2], r = 1 }\n'), "at most 2,000,000"),
    ("tasks = [1, 2]", _cat('family = "regular"\ntasks = [1, 2]\n'), "must be a table"),  # was broken
    ("random bytes", bytes(range(256)) * 4, "not a TOML catalogue file"),  # was broken
    ("unknown parameter Q", _cat(RRR + "params = { M = 3, N = 3, H = 3, r = 1, Q = 7 }\n"),
     "unknown parameter(s) ['Q']"),  # was broken
    ("misspelt weigth", _cat('family = "mixture"\n[[tasks]]\nid = "mixture/p"\nversion = 1\n'
                             'params = { kind = "fixed-weight", weigth = 0.4 }\n'), "unknown parameter(s) ['weigth']"),  # was broken
    ("noise_std = inf", _cat(REG + "params = { d = 2 }\nnoise_std = inf\n"), "noise_std must be a finite number"),  # was broken
    ("noise_std = nan", _cat(REG + "params = { d = 2 }\nnoise_std = nan\n"), "noise_std must be a finite number"),  # was broken
    ("prior_std = 1e300", _cat(REG + "params = { d = 2 }\nprior_std = 1e300\n"), "prior_std must be a finite number"),  # was broken
    ("prior_std = -1", _cat(REG + "params = { d = 2 }\nprior_std = -1\n"), "prior_std must be"),
    ("version 0", _cat('family = "regular"\n[[tasks]]\nid = "regular/p"\nversion = 0\nparams = { d = 2 }\n'), "version must be"),
    ("version as a string", _cat('family = "regular"\n[[tasks]]\nid = "regular/p"\nversion = "1"\nparams = { d = 2 }\n'),
     "version must be"),
    ("id without a slash", _cat('family = "regular"\n[[tasks]]\nid = "plain"\nversion = 1\nparams = { d = 2 }\n'), "id must be"),
    ("id with @", _cat('family = "regular"\n[[tasks]]\nid = "regular/x@2"\nversion = 1\nparams = { d = 2 }\n'), "id must be"),
    ("id already built in", _cat('family = "regular"\n[[tasks]]\nid = "regular/d2"\nversion = 1\nparams = { d = 2 }\n'),
     "already defined"),
    ("stated λ disagrees", _cat(RRR + 'params = { M = 3, N = 3, H = 3, r = 1 }\nrlct = "7/2"\n'), "disagrees"),
    ("unknown family", _cat('family = "resnet"\n[[tasks]]\nid = "a/b"\nversion = 1\n'), "family must be one of"),
    ("family as a list", _cat('family = ["regular"]\n[[tasks]]\nid = "a/b"\nversion = 1\n'), "family must be one of"),
    ("invalid TOML", _cat('family = "regular"\n[[tasks]\n'), "not valid TOML"),
    ("missing r", _cat(RRR + "params = { M = 3, N = 3, H = 3 }\n"), "missing parameter 'r'"),
    ("two widths", _cat('family = "deep_linear"\n[[tasks]]\nid = "dln/p"\nversion = 1\nparams = { widths = [3, 3], r = 1 }\n'),
     "at least 3 entries"),
    ("negative width", _cat('family = "deep_linear"\n[[tasks]]\nid = "dln/p"\nversion = 1\n'
                            'params = { widths = [3, -2, 3], r = 1 }\n'), "widths must be a list"),
    ("suites as a string", _cat(REG + 'params = { d = 2 }\nsuites = "smoke"\n'), "suites must be a list"),
    ("unknown suite", _cat(REG + 'params = { d = 2 }\nsuites = ["huge"]\n'), "unknown suites"),
    ("unknown kind", _cat(REG + 'params = { d = 2 }\nkind = "exactly"\n'), "kind must be one of"),
    ("reference without value", _cat('family = "murfet2020_s6"\n[[tasks]]\nid = "m/p"\nversion = 1\n'
                                     'params = { m = 3 }\nkind = "reference"\nprovenance = "x"\n'), "rlct_ref"),
    ("negative reference value", _cat('family = "murfet2020_s6"\n[[tasks]]\nid = "m/p"\nversion = 1\n'
                                      'params = { m = 3 }\nkind = "reference"\nprovenance = "x"\nrlct_ref = -1\n'),
     "rlct_ref must be a positive"),
    ("unknown top-level key", _cat(REG + 'params = { d = 2 }\n[extra]\na = 1\n'), "unknown top-level keys"),
    ("unknown default key", _cat('family = "regular"\n[defaults]\ncolour = 1\n[[tasks]]\nid = "regular/p"\nversion = 1\n'
                                 'params = { d = 2 }\n'), "unknown [defaults] keys"),
    ("exponent k = 100", _cat('family = "normal_crossing"\n[[tasks]]\nid = "nc/p"\nversion = 1\nparams = { k = [100] }\n'),
     "k must be a list of 1 to 3 integers, each from 1 to 10"),
]


def _old_store(path: Path) -> None:
    """A real store from the current code with one finished-looking row, for 'left untouched' checks."""
    from slt_bench.store import ResultStore

    ResultStore(path).put({"key": "k1", "task": "regular/d2", "status": "ok", "rlct_hat": 1.0})


@pytest.mark.parametrize("name, content, fragment", CATALOGUE_PROBES, ids=[p[0] for p in CATALOGUE_PROBES])
def test_catalogue_probe(cli, tmp_path, name, content, fragment):
    path = tmp_path / "probe.toml"
    path.write_bytes(content)
    store = tmp_path / "kept.sqlite"
    _old_store(store)
    before = file_digest(store)
    start = time.perf_counter()
    assert_one_error_line(cli("list", "--catalog", str(path)), fragment)
    assert time.perf_counter() - start < 10  # d = 10**9 used to exhaust the memory while listing
    assert_one_error_line(cli("run", "--method", "sgld", "--catalog", str(path), "--store", str(store)), fragment)
    assert file_digest(store) == before


# (name, run arguments after --method sgld, fragment)
OPTION_PROBES = [
    ("--seeds 0", ["--seeds", "0"], "--seeds must be between 1 and 100,000"),
    ("--seeds 10**9", ["--seeds", "1000000000"], "--seeds must be between 1 and 100,000"),  # was broken
    ("--seeds -1", ["--seeds", "-1"], "--seeds must be"),
    ("too many cells", ["--suite", "all", "--seeds", "100000"], "cells per run"),
    ("--n 1", ["--n", "1"], "--n must be between 2 and 10,000,000"),
    ("--n 10**12", ["--n", "1000000000000"], "--n must be between 2 and 10,000,000"),  # was broken
    ("--ns ''", ["--metric", "generalisation", "--ns", ""],
     "--ns: expected a comma-separated list of integers like 1000,10000"),  # was broken
    ("--ns 100,x", ["--metric", "generalisation", "--ns", "100,x"], "comma-separated list of integers"),
    ("--ns 100,", ["--metric", "generalisation", "--ns", "100,"], "comma-separated list of integers"),
    ("--ns one value", ["--metric", "generalisation", "--ns", "100"], "at least 2 distinct n"),
    ("--ns 1,2", ["--metric", "generalisation", "--ns", "1,2"], "each --ns value must be between 2"),
    ("--n-test 0", ["--metric", "generalisation", "--n-test", "0"], "--n-test must be between 1"),
    ("--set tamed=False", ["--set", "tamed=False"], "tamed must be true or false"),  # was broken
    ("--set chains=2.5", ["--set", "chains=2.5"], "chains must be an integer"),
    ("--set step_size=nan", ["--set", "step_size=nan"], "step_size must be a finite number"),
    ("--set unknown key", ["--set", "temperature=1"], "unknown hyperparameters ['temperature']"),
    ("--set without =", ["--set", "chains"], "--set expects KEY=VALUE"),
    ("--set twice", ["--set", "chains=2", "--set", "chains=3"], "--set gives chains twice"),
    ("--budget 0", ["--budget", "0"], "--budget must be a positive number of gradient evaluations"),
    ("--budget nan", ["--budget", "nan"], "--budget must be a positive number"),
    ("--budget inf", ["--budget", "inf"], "--budget must be a positive number"),
    ("--budget not a number", ["--budget", "lots"], "not a valid float"),
    ("--jobs 0", ["--jobs", "0"], "--jobs must be an integer from 1"),
    ("--estimator wbic", ["--estimator", "wbic"], "valid estimators"),
    ("--gamma without a localised estimator", ["--gamma", "10"], "needs --estimator local or local-multi-beta"),
    ("--gamma with --estimator variance", ["--estimator", "variance", "--gamma", "10"], "needs --estimator local or"),
    ("--gamma 0", ["--estimator", "local-multi-beta", "--gamma", "0"], "gamma must be a positive number"),
    ("local-multi-beta on a task without w*", ["--estimator", "local-multi-beta", "--task", "murfet2020/relu-m3"],
     "local-multi-beta estimator needs a w*"),
    ("--tier huge", ["--tier", "huge"], "huge"),
    ("--task unknown", ["--task", "rrr/zzz"], "valid ids"),
    ("--task glob without match", ["--task", "zzz/*"], "no task matches"),
    ("--n with generalisation", ["--metric", "generalisation", "--n", "100"], "do not apply"),
    ("--ns without generalisation", ["--ns", "100,200"], "only apply with --metric generalisation"),
    ("--seeds not a number", ["--seeds", "x"], "not a valid integer"),
]


@pytest.mark.parametrize("name, args, fragment", OPTION_PROBES, ids=[p[0] for p in OPTION_PROBES])
def test_option_probe(cli, tmp_path, name, args, fragment):
    store = tmp_path / "kept.sqlite"
    _old_store(store)
    before = file_digest(store)
    start = time.perf_counter()
    assert_one_error_line(cli("run", "--method", "sgld", "--store", str(store), *args), fragment)
    assert time.perf_counter() - start < 10  # --seeds 10**9 used to build the whole grid in memory
    assert file_digest(store) == before


# (name, `reference build` arguments, fragment)
REFERENCE_PROBES = [
    ("--seeds 0", ["--task", "regular/d2", "--seeds", "0"], "--seeds must be between 1"),
    ("--jobs 0", ["--task", "regular/d2", "--jobs", "0"], "--jobs must be between 1 and 64"),
    ("--particles 2", ["--task", "regular/d2", "--particles", "2"], "--particles must be between 4"),
    ("--nuts-samples 0", ["--task", "regular/d2", "--nuts-samples", "0"], "--nuts-samples must be between 1"),
    ("--task unknown", ["--task", "rrr/zzz"], "valid ids"),
    ("--target-accept 1", ["--task", "regular/d2", "--target-accept", "1"], "--target-accept must lie in (0, 1)"),
    ("a scale task", ["--task", "dls/d1m"], "tasks of at most 1,000 parameters"),
    ("--out is a file", ["--task", "regular/d2", "--out", "FILE"], "is a file; give a folder"),
]


@pytest.mark.parametrize("name, args, fragment", REFERENCE_PROBES, ids=[p[0] for p in REFERENCE_PROBES])
def test_reference_build_probe(cli, tmp_path, name, args, fragment):
    """Every bad `reference build` option ends in one line before anything is sampled or written."""
    afile = tmp_path / "a_file"
    afile.write_text("kept")
    args = [str(afile) if a == "FILE" else a for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "refs")]
    assert_one_error_line(cli("reference", "build", *args), fragment)
    assert afile.read_text() == "kept" and not (tmp_path / "refs").exists()


def test_dataset_too_large_for_memory_is_refused(cli, tmp_path):
    path = tmp_path / "wide.toml"
    path.write_text(REG + "params = { d = 200 }\n")
    assert_one_error_line(cli("run", "--method", "sgld", "--catalog", str(path), "--task", "regular/probe",
                              "--n", "10000000"), "GiB")


def test_boolean_overrides_take_toml_booleans_only(cli, tmp_path):
    out = cli("run", "--method", "sgld", "--set", "tamed=false", "--dry-run", "--store", str(tmp_path / "s.sqlite"))
    assert out.code == 0 and "7 cells" in out.out
    assert not (tmp_path / "s.sqlite").exists()  # a dry run stores nothing


def _foreign_sqlite(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    con.execute("INSERT INTO users VALUES (1, 'ada')")
    con.commit()
    con.close()


def _newer_store(path: Path) -> None:
    _old_store(path)
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    con.commit()
    con.close()


def _cells_table_of_another_program(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE cells (x INTEGER, y INTEGER)")
    con.commit()
    con.close()


# (name, how to make the path under tmp_path, fragment); every kind checked for run and report
STORE_PROBES = [
    ("missing folder", lambda d: d / "no" / "such" / "r.sqlite", "does not exist"),  # was broken
    ("a folder", lambda d: (d / "dir").mkdir() or d / "dir", "is a folder"),  # was broken
    ("a text file", lambda d: (d / "notes.txt").write_text("my notes\n") and d / "notes.txt",
     "not an SQLite database"),  # was broken
    ("another program's SQLite", lambda d: _foreign_sqlite(d / "app.db") or d / "app.db",
     "not a slt-bench store (its tables: users)"),  # was broken
    ("a cells table that is not ours", lambda d: _cells_table_of_another_program(d / "c.db") or d / "c.db",
     "that is not slt-bench's"),
    ("a newer schema", lambda d: _newer_store(d / "new.sqlite") or d / "new.sqlite", "newer slt-bench"),
]


@pytest.mark.parametrize("command", ["run", "report"])
@pytest.mark.parametrize("name, make, fragment", STORE_PROBES, ids=[p[0] for p in STORE_PROBES])
def test_store_probe(cli, tmp_path, name, make, fragment, command):
    path = make(tmp_path)
    before = file_digest(path) if path.is_file() else None
    listing = sorted(p.name for p in tmp_path.rglob("*"))
    args = ["run", "--method", "sgld", "--task", "regular/d2"] if command == "run" else ["report"]
    assert_one_error_line(cli(*args, "--store", str(path)), fragment)
    assert file_digest(path) == before if before else True
    # nothing created beside it either (a store of ours is in WAL mode: SQLite's own -wal/-shm files
    # appear when it is read, which changes nothing in it)
    created = sorted(p.name for p in tmp_path.rglob("*") if not p.name.endswith(("-wal", "-shm")))
    assert created == [n for n in listing if not n.endswith(("-wal", "-shm"))]


def test_report_on_a_missing_store(cli, tmp_path):
    assert_one_error_line(cli("report", "--store", str(tmp_path / "none.sqlite")), "no results store")


def test_unwritable_store_is_refused(cli, tmp_path, monkeypatch):
    store = tmp_path / "ro.sqlite"
    _old_store(store)
    before = file_digest(store)
    real_access = os.access
    # as root every file is writable, so the refusal is exercised through the check itself
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == store and mode & os.W_OK
                        else real_access(p, mode))
    assert_one_error_line(cli("run", "--method", "sgld", "--task", "regular/d2", "--store", str(store)),
                          "is not writable")
    assert file_digest(store) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to a read-only folder")
def test_read_only_folder_is_refused(cli, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert_one_error_line(cli("run", "--method", "sgld", "--store", str(folder / "r.sqlite")), "not writable")
    finally:
        folder.chmod(0o700)


# ---- generated inputs -------------------------------------------------------------------------
_values = st.one_of(
    st.integers(min_value=-10**13, max_value=10**13), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.text(max_size=8), st.lists(st.integers(min_value=-5, max_value=10**7), max_size=5),
    st.sampled_from(["1/2", "7/2", "x", "", "reference", "exact", "smoke"]),
)
_FAMILIES = ["regular", "normal_crossing", "reduced_rank", "deep_linear", "tanh_zero", "mixture", "murfet2020_s6",
             "murfet2020_s5", "nope", 3]
_PARAM_KEYS = ["d", "k", "h", "M", "N", "H", "r", "widths", "kind", "weight", "m", "activation", "layers", "head",
               "truth_seed", "Q"]
_TASK_KEYS = ["id", "version", "params", "rlct", "multiplicity", "kind", "n", "prior_std", "noise_std", "suites",
              "rlct_ref", "rlct_se", "provenance", "source", "colour"]


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value == float("inf") else
                                             "-inf" if value == float("-inf") else repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


_VALID = {  # family → a valid instance's params, which the generator then mutates
    "regular": {"d": 2}, "reduced_rank": {"M": 3, "N": 3, "H": 2, "r": 1},
    "deep_linear": {"widths": [3, 2, 3], "r": 1}, "tanh_zero": {"H": 2}, "normal_crossing": {"k": [1, 2]},
    "mixture": {"kind": "fixed-weight", "weight": 0.3}, "murfet2020_s5": {"layers": 1, "head": "identity"},
}


@st.composite
def catalogues(draw) -> str:
    """A valid catalogue entry, then 0–3 mutations (a key replaced by a random value, deleted, or an
    unknown key added), so that both valid files and every kind of invalid one are common."""
    family = draw(st.sampled_from(sorted(_VALID)))
    params = dict(_VALID[family])
    entry: dict = {"id": draw(st.sampled_from(["gen/a", "gen/b-1", "gen/c.2"])), "version": 1}
    if draw(st.booleans()):
        entry["n"] = draw(st.sampled_from([2, 100, 1000, 10_000]))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["param", "param", "task", "drop", "family"]))
        if kind == "param":
            params[draw(st.sampled_from(_PARAM_KEYS))] = draw(_values)
        elif kind == "task":
            entry[draw(st.sampled_from(_TASK_KEYS))] = draw(_values)
        elif kind == "drop" and params:
            params.pop(draw(st.sampled_from(sorted(params))))
        else:
            family = draw(st.sampled_from(_FAMILIES))
    entry.setdefault("params", params)
    lines = [f"family = {_toml_value(family)}", "[[tasks]]"]
    for key, value in entry.items():
        if key == "params" and isinstance(value, dict):
            inner = ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items())
            lines.append(f"params = {{ {inner} }}")
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


_option = st.one_of(
    st.tuples(st.just("--seeds"), st.sampled_from(["0", "1", "2", "5", "-3", "1000000000", "x", ""])),
    st.tuples(st.just("--n"), st.sampled_from(["1", "2", "100", "1000000000000", "-5", "1e3"])),
    st.tuples(st.just("--tier"), st.sampled_from(["smoke", "standard", "gold", "huge"])),
    st.tuples(st.just("--estimator"), st.sampled_from(["multi-beta", "variance", "local", "wbic"])),
    st.tuples(st.just("--jobs"), st.sampled_from(["0", "1", "2", "100000"])),
    st.tuples(st.just("--task"), st.sampled_from(["gen/*", "gen/*", "rrr/m3-n3-h3-r1", "nc/*", "zzz", "murfet2020/*"])),
    st.tuples(st.just("--set"), st.sampled_from(["tamed=False", "tamed=false", "chains=2", "chains=0", "chains=2.5",
                                                 "step_size=1e-3", "step_size=nan", "x=1", "warmup=5", "=3", "a b=1"])),
    st.tuples(st.just("--metric"), st.sampled_from(["rlct", "generalisation", "wbic"])),
    st.tuples(st.just("--budget"), st.sampled_from(["0", "-1", "1e4", "nan", "x", "1e400"])),
    st.tuples(st.just("--ns"), st.sampled_from(["", "100,200", "1,2", "100", "a,b", "100,200,10000001"])),
    st.tuples(st.just("--method"), st.sampled_from(["sgld", "nuts", "laplace", "vi", "map", "nope"])),
)


def _stores(base: Path) -> list[Path]:
    """Existing files a generated run may point --store at; each must stay byte for byte the same."""
    stores = base / "stores"
    if not stores.exists():
        stores.mkdir()
        _old_store(stores / "valid.sqlite")
        (stores / "notes.txt").write_text("not a store\n")
        _foreign_sqlite(stores / "app.db")
    return sorted(p for p in stores.iterdir() if p.is_file())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=catalogues(), options=st.lists(_option, max_size=2), store_choice=st.integers(0, 3))
def test_generated_inputs_never_leak_a_traceback(cli, tmp_path_factory, body, options, store_choice):
    """Generated catalogue files and option lists, valid and invalid: every invocation either succeeds
    or prints exactly one ``error:`` line with exit code 2; existing stores are never changed.

    Two invocations per example (``list --catalog`` and a ``run --dry-run`` with the options), so
    300 examples are 600 cases; a valid run is a dry run (the grid validated, nothing computed).
    """
    base = tmp_path_factory.getbasetemp() / "generated"
    base.mkdir(exist_ok=True)
    stores = _stores(base)
    before = {p: file_digest(p) for p in stores}
    catalogue = base / "gen.toml"
    catalogue.write_text(body)
    listing = cli("list", "--catalog", str(catalogue))
    event(f"list: exit {listing.code}")
    if listing.code != 0:
        assert_one_error_line(listing)
    args = ["run", "--catalog", str(catalogue), "--dry-run"]
    if not any(o[0] == "--method" for o in options):
        args += ["--method", "sgld"]
    if not any(o[0] == "--task" for o in options):
        args += ["--task", "gen/*"]
    for flag, value in options:
        args += [flag, value]
    store = stores[store_choice] if store_choice < len(stores) else base / "fresh.sqlite"
    result = cli(*args, "--store", str(store))
    event(f"run --dry-run: exit {result.code}")
    if result.code != 0:
        assert_one_error_line(result)
    assert {p: file_digest(p) for p in stores} == before
    assert not (base / "fresh.sqlite").exists()
