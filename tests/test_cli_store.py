"""The command line and the results store, as a user meets them."""

import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

CLI = [sys.executable, "-m", "slt_bench.cli"]


def sh(*args, cwd=None, check=True):
    """The CLI in a fresh process (for the tests that kill it, or need its exact stderr)."""
    proc = subprocess.run(CLI + list(args), capture_output=True, text=True, cwd=cwd, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def run(cli):
    """The CLI in this process: fast, and a traceback fails the test."""
    def invoke(*args, cwd=None, check=True):
        out = cli(*args, cwd=cwd)
        if check:
            assert out.code == 0, out.err
        return out

    return invoke


def test_list_json_has_the_promised_keys(run):
    items = json.loads(run("list", "--json").out)
    by_id = {i["id"]: i for i in items}
    rrr = by_id["rrr/m3-n3-h3-r1"]
    assert rrr["rlct"] == "4" and rrr["multiplicity"] == 1 and rrr["n_params"] == 18
    assert rrr["params"] == {"M": 3, "N": 3, "H": 3, "r": 1} and rrr["family"] == "reduced_rank"
    assert by_id["rrr/m3-n3-h3-r0"]["rlct"] == "7/2"
    assert by_id["murfet2020/relu-m3"]["rlct"] is None and by_id["murfet2020/relu-m3"]["kind"] == "reference"


def test_list_table_and_methods(run):
    out = run("list").out
    assert "rrr/m3-n3-h3-r1@1" in out and "7/2 (3.5)" in out
    assert "sgld" in run("list", "methods").out


@pytest.mark.parametrize(
    "args, expected",
    [
        (["theory", "reduced-rank", "--M", "3", "--N", "3", "--H", "3", "--r", "1"], "λ = 4 (4), m = 1"),
        (["theory", "deep-linear", "--widths", "3,2,2,3", "--r", "0"], "λ = 2 (2), m = 3"),
        (["theory", "tanh-zero", "--H", "2"], "λ = 2/3"),
        (["theory", "normal-crossing", "--k", "1,3"], "λ = 1/6"),
        (["theory", "regular", "--d", "4"], "λ = 2 (2), m = 1"),
        (["theory", "mixture", "--kind", "fixed-weight"], "λ = 3/4"),
    ],
)
def test_theory_verbs(run, args, expected):
    assert expected in run(*args).out


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["theory", "reduced-rank", "--M", "3", "--N", "3", "--H", "3", "--r", "9"], "r must satisfy"),
        (["theory", "reduced-rank", "--M", "x", "--N", "3", "--H", "3", "--r", "1"], "not a valid integer"),
        (["theory", "nonsense"], "No such command"),
        (["run", "--method", "nope"], "valid methods"),
        (["run", "--method", "sgld", "--task", "rrr/zzz"], "valid ids"),
        (["run", "--method", "sgld", "--estimator", "wbic"], "valid estimators"),
        (["run", "--method", "sgld", "--task", "rrr/m3-n3-h3-r1", "--seeds", "0"], "--seeds"),
        (["run", "--method", "sgld", "--tier", "huge"], "huge"),
        (["list", "--catalog", "/nonexistent.toml"], "does not exist"),
        (["report", "--store", "/nonexistent/x.sqlite"], "no results store"),
        (["run", "--method", "sgld", "--set", "temperature=1"], "unknown hyperparameters ['temperature']"),
        (["run", "--method", "sgld", "--set", "chains=-1"], "chains must be a positive integer"),
        (["run", "--method", "sgld", "--set", "chains"], "--set expects KEY=VALUE"),
        (["run", "--method", "laplace", "--set", "hessian=blockwise"], "hessian must be one of full, diag, kron"),
        (["run", "--method", "laplace", "--task", "nc/k1-1", "--set", "subset=last_layer"], "valid subset here: all"),
        (["run", "--method", "vi", "--set", "guide=nice"], "guide must be one of meanfield, flow"),
        (["run", "--method", "map", "--set", "optimizer=newton"], "optimizer must be one of lbfgs, adam"),
        (["run", "--method", "nuts", "--metric", "generalisation", "--task", "regular/d2", "--scheme", "last_layer"],
         "valid schemes here: all"),
        (["run", "--method", "nuts", "--metric", "generalisation", "--ns", "100,x"], "comma-separated list of integers"),
        (["reproduce", "smith2021"], "Invalid value"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(run, args, fragment, tmp_path):
    out = run(*args, check=False, cwd=tmp_path)
    assert out.code == 2
    lines = out.error_lines
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], out.err
    assert "Traceback" not in out.err


def test_malformed_catalogue_via_cli(run, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('family = "regular"\n[[tasks]]\nid = "regular/x"\nversion = 1\nparams = { d = 2 }\nrlct = "3"\n')
    out = run("list", "--catalog", str(bad), check=False)
    assert out.code == 2 and "disagrees" in out.err


RUN = ["run", "--method", "sgld", "--task", "nc/k1-1", "--n", "1000", "--estimator", "variance"]


def test_run_stores_skips_and_forces(run, tmp_path):
    store = str(tmp_path / "r.sqlite")
    first = json.loads(run(*RUN, "--seeds", "2", "--store", store, "--json").out)
    assert len(first) == 2 and {r["seed"] for r in first} == {0, 1}
    row = first[0]
    for key in ("task", "method", "seed", "estimator", "rlct", "rlct_hat", "se", "status", "grad_evals", "wall_s"):
        assert key in row
    assert row["status"] == "ok" and row["rlct"] == "1/2" and row["finite_target"] is not None
    second = json.loads(run(*RUN, "--seeds", "2", "--store", store, "--json").out)
    assert [r["wall_s"] for r in second] == [r["wall_s"] for r in first]  # skipped, not recomputed
    forced = json.loads(run(*RUN, "--seeds", "1", "--store", store, "--json", "--force").out)
    assert forced[0]["rlct_hat"] == first[0]["rlct_hat"]  # same seed, same numbers
    assert forced[0]["wall_s"] != first[0]["wall_s"]  # recomputed, and appended beside the first row
    con = sqlite3.connect(store)
    (versions, commit, hyper) = con.execute("SELECT versions, git_commit, hyper FROM cells LIMIT 1").fetchone()
    assert "torch" in json.loads(versions) and commit and "chains" in json.loads(hyper)
    assert json.loads(versions)["machine"].startswith(platform.machine())  # the CPU a result was computed on
    report = run("report", "--store", store).out
    assert "| sgld" in report and "normal_crossing" in report


def test_set_overrides_a_hyperparameter_and_is_stored_apart(run, tmp_path):
    store = str(tmp_path / "o.sqlite")
    base = json.loads(run(*RUN, "--store", store, "--json").out)[0]
    over = json.loads(run(*RUN, "--store", store, "--json", "--set", "target_accept=0.9").out)[0]
    assert over["preset_hash"] != base["preset_hash"] and over["rlct_hat"] != base["rlct_hat"]
    con = sqlite3.connect(store)
    hypers = [json.loads(h) for (h,) in con.execute("SELECT hyper FROM cells ORDER BY created_at")]
    assert len(hypers) == 2 and hypers[1]["target_accept"] == 0.9 and hypers[0]["target_accept"] == 0.999


def test_table_output(run, tmp_path):
    out = run(*RUN, "--store", str(tmp_path / "t.sqlite")).out
    assert "λ̂ ± SE" in out and "nc/k1-1" in out and "finite-n" in out


def test_sigkill_loses_nothing(run, tmp_path):
    store = tmp_path / "k.sqlite"
    args = CLI + RUN + ["--seeds", "8", "--store", str(store), "--json"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    deadline = time.time() + 300
    rows = 0
    while time.time() < deadline and rows < 2:
        time.sleep(0.2)
        if store.exists():
            try:
                with sqlite3.connect(store) as con:
                    rows = con.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
            except sqlite3.OperationalError:
                rows = 0
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert rows >= 2
    with sqlite3.connect(store) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        before = dict(con.execute("SELECT key, rlct_hat FROM cells").fetchall())
    assert len(before) >= 2 and all(v is not None for v in before.values())
    after = json.loads(run(*RUN, "--seeds", "8", "--store", str(store), "--json").out)
    assert len(after) == 8
    with sqlite3.connect(store) as con:
        again = dict(con.execute("SELECT key, rlct_hat FROM cells").fetchall())
    assert all(again[k] == v for k, v in before.items())


@pytest.mark.parametrize("method", ["laplace", "vi", "map"])
def test_new_methods_run_end_to_end_through_the_cli(run, method, tmp_path):
    rows = json.loads(run("run", "--method", method, "--task", "regular/d2", "--task", "rrr/m3-n3-h3-r1",
                          "--n", "2000", "--store", str(tmp_path / "m.sqlite"), "--json").out)
    status = {r["task"]: r["stored_status"] for r in rows}  # how the method's cell ended, as stored
    if method == "map":
        assert set(status.values()) == {"point_estimate"}
    else:
        assert status["regular/d2"] == "ok"
        assert status["rrr/m3-n3-h3-r1"] == ("degenerate" if method == "laplace" else "ok")
        assert all(r["rlct_hat"] is not None for r in rows)
    # the status shown is the stored one, or `inconsistent` for an ok multi-β cell that fails the tempering
    # identity (VI's mean-field Gaussian on the singular reduced rank task may)
    assert all(r["status"] in (r["stored_status"], "inconsistent") for r in rows)
    assert all(r["status"] == r["stored_status"] or r["stored_status"] == "ok" for r in rows)


def test_the_commit_is_dirty_for_code_changes_only(tmp_path):
    """'+dirty' marks a result computed by code that is not the commit's; a data file or a page rewritten in
    the checkout (the published baseline, say) does not."""
    from slt_bench.runner.provenance import commit_of

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "slt_bench").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "slt_bench" / "x.py").write_text("a = 1\n")
    (tmp_path / "docs" / "page.md").write_text("one\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    clean = commit_of(tmp_path)
    assert len(clean) == 40 and "+" not in clean
    (tmp_path / "docs" / "page.md").write_text("two\n")
    assert commit_of(tmp_path) == clean
    (tmp_path / "slt_bench" / "x.py").write_text("a = 2\n")
    assert commit_of(tmp_path) == clean + "+dirty"
    assert commit_of(tmp_path / "docs").endswith("+dirty")  # asked from inside the checkout: the same answer
    assert commit_of(tmp_path.parent / "nowhere") == "unknown"


def test_minibatch_runs_show_their_noise_heat(run, tmp_path):
    """A minibatch sgld cell carries the noise heat it stored (JSON and the table's column); a
    full-batch cell has none, and the table then has no such column."""
    common = ["run", "--method", "sgld", "--task", "regular/d2", "--n", "2000", "--estimator", "local",
              "--tier", "smoke", "--store", str(tmp_path / "h.sqlite")]
    (cell,) = json.loads(run(*common, "--set", "batch_size=100", "--json").out)
    assert cell["noise_heat"] is not None and cell["noise_heat"] > 0
    assert "noise heat" in run(*common, "--set", "batch_size=100").out
    (full,) = json.loads(run(*common, "--json").out)
    assert full["noise_heat"] is None
    assert "noise heat" not in run(*common).out


def test_sgld_runs_show_their_acceptance_at_the_end(run, tmp_path):
    """An sgld cell asked for it (``end_accept=true``) carries the smallest end acceptance of its
    posteriors (JSON and the table's column), a probability, and its preset's budget grows by the
    measurement's 17 gradients a chain (beside end_curvature's 60); a cell without one (the preset as it is) has none, and its
    table no such column."""
    common = ["run", "--task", "regular/d2", "--n", "2000", "--estimator", "local", "--tier", "smoke",
              "--store", str(tmp_path / "a.sqlite")]
    asked = ["--method", "sgld", "--set", "end_accept=true", "--budget", str(8 * (500 + 3000 + 2 + 60 + 17))]
    (cell,) = json.loads(run(*common, *asked, "--json").out)
    assert cell["status"] != "budget_exceeded" and 0.0 <= cell["end_accept"] <= 1.0
    assert "end accept" in run(*common, *asked).out
    (other,) = json.loads(run(*common, "--method", "sgld", "--json").out)
    assert other["end_accept"] is None
    assert "end accept" not in run(*common, "--method", "sgld").out


def test_sgld_runs_show_the_step_against_the_curvature_where_the_chains_end(run, tmp_path):
    """An sgld cell carries end_eps_kappa by default (JSON and the table's column `εκ end`), positive, and
    on regular/d2 below the overshoot limit (status ok); with end_curvature=false it has none, and its table
    no such column."""
    common = ["run", "--method", "sgld", "--task", "regular/d2", "--n", "2000", "--estimator", "local", "--tier", "smoke",
              "--store", str(tmp_path / "k.sqlite")]
    (cell,) = json.loads(run(*common, "--json").out)
    assert cell["status"] == "ok" and 0 < cell["end_eps_kappa"] < 2
    assert "εκ end" in run(*common).out
    off = [*common, "--set", "end_curvature=false", "--budget", str(8 * (500 + 3000 + 2))]
    (other,) = json.loads(run(*off, "--json").out)
    assert other["end_eps_kappa"] is None and other["status"] == "ok"
    assert "εκ end" not in run(*off).out


def test_a_momentum_run_shows_its_step_against_its_own_limit(run, tmp_path):
    """An sghmc cell stores ε²κ where its chains ended and its limit (0.049 at friction 0.1): the JSON's
    end_stiffness is that step over that limit, the table has the column `εκ/limit`; at the smoke tier's start
    (s = step_fraction 0.003 on regular/d2, whose curvature is the same everywhere) the cell is below 1 and ok."""
    common = ["run", "--method", "sghmc", "--task", "regular/d2", "--n", "2000", "--estimator", "local", "--tier", "smoke",
              "--store", str(tmp_path / "m.sqlite")]
    (cell,) = json.loads(run(*common, "--json").out)
    assert cell["status"] == "ok" and 0 < cell["end_stiffness"] < 1
    assert cell["end_stiffness"] == pytest.approx(cell["end_eps_kappa"] / (2 ** 0.5 * 1.9 ** 0.5 - 1.9), rel=1e-9)
    table = run(*common).out
    assert "εκ/limit" in table and "Not ok" not in table  # an ok cell gets no note under the table


def test_budget_option_replaces_the_tiers_budget(run, tmp_path):
    """A longer run than the tier's budget allows stops as budget_exceeded; --budget lets it finish, and
    the cell is stored under its own preset hash, beside the tier's cells (8 chains × (500 + 4000 + 2)
    gradients, plus end_curvature's 60, is the smoke preset's 28,496 with 1,000 more steps a chain)."""
    common = ["run", "--method", "sgld", "--task", "regular/d2", "--n", "2000", "--estimator", "local",
              "--tier", "smoke", "--store", str(tmp_path / "b.sqlite"), "--set", "steps=4000", "--json"]
    (short,) = json.loads(run(*common).out)
    assert short["status"] == "budget_exceeded"
    (enough,) = json.loads(run(*common, "--budget", str(8 * (500 + 4000 + 2 + 60))).out)
    assert enough["status"] != "budget_exceeded" and enough["rlct_hat"] is not None
    assert enough["preset_hash"] != short["preset_hash"]


def test_a_cell_stopped_by_its_budget_says_why_and_what_to_do(run, tmp_path):
    """The run table shows only a status; under it, each cell that is not ok gets its stored reason, and one
    stopped by its budget the flag that raises it (the smoke preset with 1,000 more steps a chain asks for
    8 × (500 + 4000 + 2 + 60) = 36,496 gradients against the tier's 28,496)."""
    out = run("run", "--method", "sgld", "--task", "regular/d2", "--n", "2000", "--estimator", "local", "--tier", "smoke",
              "--store", str(tmp_path / "b.sqlite"), "--set", "steps=4000").out
    notes = out.split("Not ok:")[1]
    assert "regular/d2 seed 0 n 2000 local: budget_exceeded" in notes
    assert "36496 gradient evaluations requested, budget 28496" in notes and "--budget GRADIENTS" in notes
