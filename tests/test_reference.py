"""Certified finite-n references: the pipeline against quadrature, each rule failing where it should,
files refused when their task changed, scoring through a reference, and the command end to end."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from slt_bench import reference as ref
from slt_bench.errors import SltBenchError
from slt_bench.estimators import get_estimator
from slt_bench.tasks.quadrature import exact_moments
from tests.conftest import assert_one_error_line, file_digest
from tests.methods.gaussian import conjugate

# Small but honest settings for the test suite: 4 × 1500 NUTS draws, 4 SMC runs of 300 particles.
SMALL = ref.Settings(nuts_warmup=400, nuts_samples=1500, smc_particles=300, smc_mutations=5, smc_leapfrog=8)
# Every catalogue task quadrature can check; three kinds (regular, a normal crossing with its localised
# posterior, a mixture density) run in `make test`, all ten in `make test-slow` (≈ 40 s each).
FAST_TASKS = {"regular/d2", "nc/k1-1", "mixture/fixed-weight"}
QUADRATURE_TASKS = [pytest.param(t, marks=() if t in FAST_TASKS else pytest.mark.slow) for t in
                    ["regular/d2", "nc/k1-1", "nc/k1-2", "nc/k1-3", "nc/k2", "nc/k1-1-1", "nc/k1-1-h1-0",
                     "mixture/fixed-weight", "mixture/free-weight", "tanh/h1"]]


@pytest.mark.parametrize("task_id", QUADRATURE_TASKS)
def test_pipeline_agrees_with_quadrature(catalog, task_id):
    """On every task quadrature can check (≤ 3 parameters; n = 1000 to keep it quick), each sampler's
    E_β[n L_n] at every posterior the estimators use agrees with quadrature. With k posteriors × 2
    samplers comparisons per task, each uses the Bonferroni threshold that keeps the task's
    family-wise false-alarm rate at that of one 3-SE test (0.27%): |z| < 3.7 for 6 posteriors."""
    task = catalog.get(task_id)
    entries = ref.build_entries(task, 0, 1000, SMALL)
    comparisons = 2 * len(entries)
    z_max = stats.norm.ppf(1 - 0.0027 / (2 * comparisons))
    data = task.dataset(1000, 0)
    checked = 0
    for e in entries:
        exact = exact_moments(task, data, e["beta"], None if e["centre"] is None else np.asarray(e["centre"]), e["gamma"])
        assert exact.converged
        for name in ("nuts", "smc"):
            s = e[name]
            if s["status"] not in ("ok", "diverged"):
                continue
            z = (s["mean"] - exact.mean) / s["mean_se"]
            assert abs(z) < z_max, (name, e["beta"], e["gamma"], s["mean"], s["mean_se"], exact.mean)
            checked += 1
    assert checked >= len(entries)  # at least one sampler per posterior was compared


def test_committed_reference_matches_the_closed_form(catalog):
    """Beyond quadrature, where certification is what we trust: the shipped certified reference for
    regular/d10 (10 parameters, conjugate) against the closed form of E_β[n L_n] at every stored
    posterior, localised ones included. One Bonferroni threshold for all the file's entries keeps
    the family-wise false-alarm rate at 0.27%."""
    task = catalog.get("regular/d10")
    doc = ref.load(ref.file_for(task))
    assert doc is not None and doc["task_hash"] == task.content_hash
    entries = [e for e in doc["entries"] if e["certified"]]
    assert len(entries) >= 6
    z_max = stats.norm.ppf(1 - 0.0027 / (2 * len(entries)))
    for e in entries:
        data = task.dataset(e["n"], e["seed"])
        exact, _ = conjugate(task, data, e["beta"], e["centre"], e["gamma"])
        z = (e["value"]["mean"] - exact) / e["value"]["mean_se"]
        assert abs(z) < z_max, (e["seed"], e["beta"], e["gamma"], z)


def _good(mean=100.0, var=50.0, ess=60_000.0, rhat=1.001, div=0, status="ok"):
    """A sampler's summary with self-consistent SEs: sd/√ESS for the mean; for the variance of a
    Gaussian n L_n, var·√(2/ESS)."""
    return {"status": status, "reason": "", "mean": mean, "mean_se": math.sqrt(var / ess), "var": var,
            "var_se": var * math.sqrt(2 / ess), "ess": ess, "ess_var": ess, "draws": int(ess), "rhat": rhat,
            "divergences": div}


def test_each_rule_fails_on_a_constructed_bad_case():
    """A pair that passes, then one change at a time that must fail exactly its rule. With ESS per draw
    1, the standard tier's 4000 draws give SEs √(60000/4000) ≈ 3.9 times those of one 60,000-draw
    sampler; two such samplers combined are √2 more precise still, ≈ 5.5 > 5: the pair passes, and a
    pair of 4000-draw samplers (ratio √2 < 5) does not."""
    nuts, smc = _good(), _good(mean=100.01, var=50.2)
    assert ref.check(nuts, smc, 4000) == []
    rule = lambda failed: sorted({f.split(":")[0] for f in failed})  # noqa: E731
    assert rule(ref.check(_good(rhat=1.02), smc, 4000)) == ["nuts_rhat"]
    assert rule(ref.check(_good(div=3), smc, 4000)) == ["nuts_divergences"]
    assert rule(ref.check(_good(ess=4000), _good(ess=4000), 4000)) == ["nuts_precision"]
    assert rule(ref.check(nuts, _good(mean=100.5), 4000)) == ["agreement"]  # z = 0.5 / 0.041 ≈ 12
    # without SMC's half, NUTS alone (ratio 3.9) is not precise enough either
    assert rule(ref.check(nuts, {**_good(), "status": "unmixed", "reason": "R-hat 1.2"}, 4000)) == ["nuts_precision", "smc_status"]
    assert rule(ref.check({"status": "budget_exceeded", "reason": "budget"}, smc, 4000)) == ["nuts_status"]


def test_a_real_short_run_fails_precision(catalog):
    """NUTS with fewer draws than a standard-tier cell cannot be a fifth of its SE: the rule fails on
    real draws, and says how many more draws it needs (≈ 25 × 4000 / 1200 ≈ 80×)."""
    task = catalog.get("regular/d2")
    short = dataclasses.replace(SMALL, nuts_samples=300, nuts_warmup=300)
    entries = ref.build_entries(task, 1, 500, short)
    assert entries and not any(e["certified"] for e in entries)
    assert all(any(f.startswith("nuts_precision") for f in e["failed"]) for e in entries)


def _certified_file(root: Path, task, seed: int, n: int, posts, means, variances) -> Path:
    doc = {"format": ref.FORMAT, "task": task.key, "task_hash": task.content_hash, "settings": {}, "entries": [
        {"seed": seed, "n": n, "beta": p.beta, "centre": None if p.centre is None else list(p.centre), "gamma": p.gamma,
         "certified": True, "failed": [], "value": {"mean": m, "mean_se": 0.01, "var": v, "var_se": 0.1}}
        for p, m, v in zip(posts, means, variances)]}
    path = ref.file_for(task, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def test_scoring_uses_a_certified_reference(catalog, tmp_path, monkeypatch):
    """Beyond quadrature (a 4-parameter task), each estimator's finite-n target comes from the
    certified values: the multi-β line through the reference means (slope = the λ the means encode),
    β(E − n L_n(w*)) for the local estimator, β² Var for the variance estimator; uncertified or
    missing values give no target."""
    monkeypatch.setattr(ref, "references_dir", lambda: tmp_path)
    task = catalog.get("tanh/h2")
    data = task.dataset(task.n, 0)
    multi = get_estimator("multi-beta")
    posts = multi.posteriors(task, data)
    lam, c = 0.8, 14_000.0
    means = [c + lam / p.beta for p in posts]  # E_β[n L_n] = c + λ/β exactly: the fitted slope is λ
    path = _certified_file(tmp_path, task, 0, task.n, posts, means, [lam / p.beta**2 for p in posts])
    fake = type("E", (), {"fit": {"mc_ses": [0.01] * len(posts)}})()
    target = multi.finite_n_target(task, data, posts, fake)
    assert target.status == "certified" and target.value == pytest.approx(lam, rel=1e-9)
    var_est = get_estimator("variance")
    vposts = var_est.posteriors(task, data)
    _certified_file(tmp_path, task, 0, task.n, vposts, [c + lam / vposts[0].beta], [lam / vposts[0].beta**2])
    vt = var_est.finite_n_target(task, data, vposts, fake)
    assert vt.status == "certified" and vt.value == pytest.approx(lam, rel=1e-9)
    # another dataset seed has no reference: no target
    assert multi.finite_n_target(task, task.dataset(task.n, 1), posts, fake) is None
    # an uncertified entry gives none either
    doc = json.loads(path.read_text())
    doc["entries"] = [{**e, "certified": False} for e in doc["entries"]]
    path.write_text(json.dumps(doc))
    ref._cached.cache_clear()
    assert multi.finite_n_target(task, data, multi.posteriors(task, data), fake) is None


def test_a_file_for_changed_task_content_is_refused(catalog, tmp_path, monkeypatch, cli):
    """A reference computed for other task content (here: another noise level) is refused with one
    line naming the rebuild command, both when scoring and before a run starts."""
    monkeypatch.setattr(ref, "references_dir", lambda: tmp_path)
    task = catalog.get("tanh/h2")
    data = task.dataset(task.n, 0)
    posts = get_estimator("multi-beta").posteriors(task, data)
    changed = dataclasses.replace(task, noise_std=2.0)
    assert changed.content_hash != task.content_hash
    _certified_file(tmp_path, changed, 0, task.n, posts, [1.0] * len(posts), [1.0] * len(posts))
    with pytest.raises(SltBenchError, match="rebuild it with `slt-bench reference build --task tanh/h2`"):
        ref.lookup(task, 0, task.n, posts)
    result = cli("run", "--method", "sgld", "--task", "tanh/h2", "--dry-run")
    assert_one_error_line(result, "was computed for task content")


def test_reference_build_command_end_to_end(tmp_path, cli):
    """`slt-bench reference build` on one tiny task: a file with the task's hash, both samplers'
    settings and diagnostics, provenance and CPU time; run again, nothing is recomputed; `reference
    list` shows it uncertified, with the rule that failed."""
    args = ("reference", "build", "--task", "regular/d2", "--seeds", "1", "--out", str(tmp_path),
            "--nuts-samples", "200", "--nuts-warmup", "200", "--particles", "64", "--mutations", "2")
    first = cli(*args)
    assert first.code == 0, first.err
    path = tmp_path / "regular" / "d2@1.json"
    doc = json.loads(path.read_text())
    assert doc["task"] == "regular/d2@1" and len(doc["task_hash"]) == 16 and doc["rules"] == list(ref.RULES)
    assert doc["settings"]["nuts_samples"] == 200 and doc["settings"]["smc_particles"] == 64
    assert {"numpyro", "blackjax", "jax"} <= set(doc["packages"]) and doc["commit"] and doc["cpu_s"] > 0
    e = doc["entries"][0]
    assert e["seed"] == 0 and e["n"] == 10_000 and not e["certified"] and e["failed"]
    assert {"rhat", "ess", "divergences", "mean_se", "cpu_s"} <= set(e["nuts"])
    assert {"log_evidence", "mean_se", "cpu_s"} <= set(e["smc"])
    stamp = path.stat().st_mtime_ns
    again = cli(*args)
    assert again.code == 0 and path.stat().st_mtime_ns == stamp  # resumed: nothing to do
    listed = cli("reference", "list", "--dir", str(tmp_path))
    assert listed.code == 0 and f"| regular/d2@1 | 10,000 | 1 | 0 of {len(doc['entries'])} |" in listed.out
    assert "nuts_precision ×" in listed.out
    more = cli(*args, "--ns", "500,10000")  # another sample size joins the file; 10,000 is already there
    assert more.code == 0, more.err
    assert "seed 0, n = 500:" in more.out and "n = 10,000" not in more.out
    grown = json.loads(path.read_text())
    assert [e for e in grown["entries"] if e["n"] == 10_000] == doc["entries"]
    small = [e for e in grown["entries"] if e["n"] == 500]
    assert small and {e["seed"] for e in small} == {0}
    assert min(e["beta"] for e in small) > min(e["beta"] for e in doc["entries"])  # β₀ = 1/log n is larger at n = 500
    rows = cli("reference", "list", "--dir", str(tmp_path)).out
    assert f"| regular/d2@1 | 500 | 1 | 0 of {len(small)} |" in rows and "| regular/d2@1 | 10,000 | 1 |" in rows
    assert all(e["commit"] == grown["commit"] for e in small)  # the same checkout here
    before = file_digest(path)
    assert_one_error_line(cli(*args, "--target-accept", "0.99"),
                          f"{path} holds {len(grown['entries'])} posteriors built with other settings "
                          "(--target-accept 0.95 there, 0.99 here)")
    assert file_digest(path) == before  # refused, not started over
    assert_one_error_line(cli(*args, "--ns", "1000,x"),
                          "--ns: expected a comma-separated list of integers like 1000,10000")  # sample sizes, not widths
    assert_one_error_line(cli(*args, "--ns", "1"), "--ns: at most 50 sample sizes, each from 2 to")
    bad = cli("reference", "build", "--task", "regular/d2", "--seeds", "0", "--out", str(tmp_path))
    assert_one_error_line(bad, "--seeds must be between")


def test_a_failing_dataset_is_reported_and_the_others_are_stored(tmp_path, cli, monkeypatch):
    """On this machine's processes too: a dataset whose computation raises is one error line naming
    it, after the other datasets are written."""
    real = ref._unit

    def fail_seed_1(unit):
        if unit[1] == 1:
            raise RuntimeError("injected failure")
        return real(unit)

    monkeypatch.setattr(ref, "_unit", fail_seed_1)
    result = cli("reference", "build", "--task", "regular/d2", "--seeds", "2", "--out", str(tmp_path),
                 "--nuts-samples", "200", "--nuts-warmup", "200", "--particles", "64", "--mutations", "2")
    assert_one_error_line(result, "1 of 2 datasets failed")
    assert "regular/d2@1 seed 1, n = 10,000: RuntimeError: injected failure" in result.err
    doc = json.loads((tmp_path / "regular" / "d2@1.json").read_text())
    assert {e["seed"] for e in doc["entries"]} == {0}


def test_a_user_catalogues_references_live_beside_it(tmp_path, cli, catalog):
    """Tasks from `--catalog FILE` keep their reference files in the `references` folder beside FILE: `reference
    build --catalog` writes them there, `reference list --catalog` lists them with the built-in ones, and scoring
    reads its certified targets from there. The folder is not part of the task's content."""
    folder = tmp_path / "mine"
    folder.mkdir()
    toml = folder / "tanh.toml"
    toml.write_text('family = "tanh_zero"\n[defaults]\nn = 500\nprior_std = 1.0\nnoise_std = 1.0\n'
                    '[[tasks]]\nid = "mine/h2"\nversion = 1\nparams = { H = 2 }\nrlct = "2/3"\nmultiplicity = 1\n'
                    'suites = []\n')
    built = cli("reference", "build", "--catalog", str(toml), "--task", "mine/h2", "--seeds", "1",
                "--nuts-samples", "200", "--nuts-warmup", "200", "--particles", "64", "--mutations", "2")
    assert built.code == 0, built.err
    path = folder / "references" / "mine" / "h2@1.json"
    assert path.is_file() and not (ref.references_dir() / "mine").exists()
    assert json.loads(path.read_text())["task"] == "mine/h2@1"
    listed = cli("reference", "list", "--catalog", str(toml))
    assert listed.code == 0 and "| mine/h2@1 | 500 | 1 |" in listed.out and "| tanh/h2@1 |" in listed.out
    assert "| mine/h2@1 |" not in cli("reference", "list").out

    from slt_bench.tasks import load_catalog

    task = load_catalog([toml]).get("mine/h2")
    assert ref.task_dir(task) == folder / "references" and ref.file_for(task) == path
    assert ref.task_dir(catalog.get("tanh/h2")) == ref.references_dir()
    moved = dataclasses.replace(task, references=str(tmp_path / "elsewhere"))
    assert moved == task and moved.content_hash == task.content_hash
    # a certified file there is what scoring reads (the built one above is too short to be certified)
    data = task.dataset(task.n, 0)
    multi = get_estimator("multi-beta")
    posts = multi.posteriors(task, data)
    lam, c = 0.7, 700.0
    _certified_file(ref.task_dir(task), task, 0, task.n, posts, [c + lam / p.beta for p in posts],
                    [lam / p.beta**2 for p in posts])
    ref._cached.cache_clear()
    fake = type("E", (), {"fit": {"mc_ses": [0.01] * len(posts)}})()
    target = multi.finite_n_target(task, data, posts, fake)
    assert target.status == "certified" and target.value == pytest.approx(lam, rel=1e-9)
