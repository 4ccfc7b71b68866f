"""Certified finite-n references: what a perfect sampler gives on a task's datasets, where quadrature cannot.

For a task, each dataset seed at the task's n, and every tempered posterior the built-in estimators
ask for (the multi-β grid, β₀ for the variance estimator, the localised posterior at w*), two
independent samplers estimate E_β[n L_n] and Var_β[n L_n] with Monte Carlo standard errors: long
multi-chain NUTS with a dense mass matrix, and tempered SMC (:mod:`slt_bench.methods.smc`). On linear
networks (reduced rank, deep linear) NUTS runs with the last layer integrated out and drawn exactly
(:mod:`slt_bench.methods._collapse`; ``Settings.nuts_collapse``), which removes the funnels where NUTS on
every weight diverges; SMC samples every weight. A posterior's values are **certified** when every rule in :data:`RULES` holds:

* ``nuts_rhat``: NUTS's split R-hat of n L_n below 1.01;
* ``nuts_divergences``: no divergent NUTS transition;
* ``nuts_precision``: the reference SE of each quantity at most a fifth of the SE a standard-tier
  ``nuts`` cell has for it. That cell's ESS is taken as its draws (chains × samples of the preset)
  times the reference run's ESS per draw, capped at its draws: exact when both kernels are equally
  efficient per draw, conservative when the reference's dense mass is the more efficient;
* ``smc_status``: the SMC run is ``ok`` (mixed across its runs, no divergences past its limit);
* ``agreement``: NUTS and SMC agree within 3 combined SE on both quantities.

The stored value is the inverse-variance weighted mean of the two samplers, with its SE. Files live
under ``tasks/references/`` (one per task version, shipped in the wheel) and carry the hash of the
task content they were computed for; a file whose hash does not match its task is refused.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from slt_bench.errors import SltBenchError

FORMAT = 1
RULES = ("nuts_rhat", "nuts_divergences", "nuts_precision", "smc_status", "agreement")
ESTIMATORS = ("multi-beta", "variance", "local")
MAX_RHAT = 1.01
PRECISION = 5.0  # reference SE ≤ standard-tier SE / PRECISION
AGREE = 3.0  # combined SEs
MAX_PARAMS = 1000  # dense-mass NUTS keeps a d × d matrix and full-batch gradients: small tasks only


@dataclass(frozen=True)
class Settings:
    """Both samplers' settings; part of each entry, so a file mixes no unlike runs."""

    nuts_chains: int = 4
    nuts_warmup: int = 2000
    nuts_samples: int = 25_000
    nuts_target_accept: float = 0.95
    smc_runs: int = 4
    smc_particles: int = 4000
    smc_mutations: int = 20
    smc_leapfrog: int = 10
    budget: float = 1e10  # gradient evaluations per posterior, either sampler
    # NUTS on a linear network's other layers, its last layer integrated out and drawn exactly
    # (methods/_collapse.py); applies only where the task allows it (see for_task)
    nuts_collapse: bool = True
    # and, on a two-layer network, the first layer in spectral coordinates (methods/_collapse.py), which removes
    # the curvature spike of the integrated-out layer's Occam factor where NUTS diverged at n = 10⁴
    nuts_spectral: bool = True

    def nuts_hyper(self) -> dict[str, Any]:
        return {"chains": self.nuts_chains, "warmup": self.nuts_warmup, "samples": self.nuts_samples,
                "target_accept": self.nuts_target_accept, "dense_mass": True, "max_divergence_rate": 1.0,
                "collapse": self.nuts_collapse, "spectral": self.nuts_spectral}

    def for_task(self, task: Any) -> "Settings":
        """The settings a task's file is built with: ``nuts_collapse`` only where the task's last layer
        can be integrated out, ``nuts_spectral`` only with it on a two-layer network, so a file says what was run."""
        from dataclasses import replace

        from slt_bench.methods._collapse import spectral_why_not, why_not

        collapse = bool(self.nuts_collapse and why_not(task) is None)
        return replace(self, nuts_collapse=collapse,
                       nuts_spectral=bool(collapse and self.nuts_spectral and spectral_why_not(task) is None))

    def smc_hyper(self) -> dict[str, Any]:
        return {"runs": self.smc_runs, "particles": self.smc_particles, "mutations": self.smc_mutations,
                "leapfrog": self.smc_leapfrog, "max_divergence_rate": 0.01}


def stored_settings(doc: dict[str, Any]) -> dict[str, Any]:
    """A file's settings; files written before ``nuts_collapse`` (``nuts_spectral``) existed ran NUTS on every
    weight (on the first layer's own coordinates)."""
    return {"nuts_collapse": False, "nuts_spectral": False, **doc.get("settings", {})}


def references_dir() -> Path:
    from slt_bench.paths import builtin_dir

    return builtin_dir("tasks") / "references"


def task_dir(task: Any) -> Path:
    """Where a task's reference files live: beside the catalogue file that defined it (``task.references``),
    or the built-in catalogue's ``tasks/references``."""
    own = getattr(task, "references", None)
    return Path(own) if own else references_dir()


def file_for(task: Any, root: Path | None = None) -> Path:
    """``<root>/<family-prefixed id>@<version>.json``, e.g. ``references/nc/k1-1@1.json``; ``root`` defaults
    to the task's own folder (:func:`task_dir`)."""
    return (root or task_dir(task)) / f"{task.id}@{task.version}.json"


def posteriors_for(task: Any, data: Any) -> list[Any]:
    """Every posterior a built-in estimator (default options) asks for on this dataset, once each."""
    from slt_bench.estimators import get_estimator

    found: dict[tuple, Any] = {}
    for name in ESTIMATORS:
        try:
            posts = get_estimator(name).posteriors(task, data)
        except SltBenchError:  # e.g. the local estimator on a task without w*
            continue
        for p in posts:
            found.setdefault(_posterior_key(p.beta, p.centre, p.gamma), p)
    return list(found.values())


def _posterior_key(beta: float, centre: Any, gamma: float) -> tuple:
    return (float(beta).hex(), None if centre is None else tuple(float(c).hex() for c in centre), float(gamma).hex())


# ---- moments and rules ------------------------------------------------------------------
def moments(n_loss: np.ndarray) -> dict[str, float]:
    """Mean and variance of n L_n with Monte Carlo SEs (sd/√ESS of the series and of its squared
    deviations), bulk ESS and split R-hat (numpyro), from (chains, draws)."""
    from slt_bench.draws import chain_diagnostics

    x = np.asarray(n_loss, dtype=np.float64)
    diag = chain_diagnostics(x)
    dev = (x - x.mean()) ** 2
    dev_diag = chain_diagnostics(dev)
    ess = diag["ess"] if math.isfinite(diag["ess"]) and diag["ess"] > 1 else float(x.shape[0])
    ess_dev = dev_diag["ess"] if math.isfinite(dev_diag["ess"]) and dev_diag["ess"] > 1 else float(x.shape[0])
    return {"mean": float(x.mean()), "mean_se": float(x.std(ddof=1) / math.sqrt(ess)),
            "var": float(x.var(ddof=1)), "var_se": float(dev.std(ddof=1) / math.sqrt(ess_dev)),
            "ess": float(diag["ess"]), "ess_var": float(dev_diag["ess"]), "rhat": float(diag["rhat"]),
            "draws": int(x.size)}


def standard_nuts_draws() -> int:
    """Draws (chains × samples) of the standard-tier ``nuts`` preset."""
    from slt_bench.runner.presets import load_preset

    hyper = load_preset("nuts", "standard").hyper
    return int(hyper["chains"]) * int(hyper["samples"])


def check(nuts: dict[str, Any], smc: dict[str, Any], standard_draws: int) -> list[str]:
    """The rules that fail (each with its numbers); empty when the posterior's values are certified."""
    failed = []
    if nuts.get("status") not in ("ok", "diverged"):
        failed.append(f"nuts_status: {nuts.get('status')} {nuts.get('reason', '')}".strip())
        return failed
    if not nuts["rhat"] < MAX_RHAT:
        failed.append(f"nuts_rhat: R-hat {nuts['rhat']:.4f} ≥ {MAX_RHAT}")
    if nuts["divergences"] > 0:
        failed.append(f"nuts_divergences: {nuts['divergences']} divergent transitions")
    combined = combine(nuts, smc) if smc.get("status") == "ok" else nuts
    for q, ess_key in (("mean", "ess"), ("var", "ess_var")):
        per_draw = min(1.0, nuts[ess_key] / nuts["draws"]) if math.isfinite(nuts[ess_key]) else 0.0
        ess_std = max(standard_draws * per_draw, 1.0)
        sd = math.sqrt(nuts["var"]) if q == "mean" else nuts["var_se"] * math.sqrt(max(nuts[ess_key], 1.0))
        se_std = sd / math.sqrt(ess_std)
        if not combined[f"{q}_se"] * PRECISION <= se_std:
            failed.append(f"nuts_precision: SE of {q} {combined[f'{q}_se']:.3g} > standard-tier SE {se_std:.3g} / "
                          f"{PRECISION:g} (ESS {nuts[ess_key]:.0f}; needs ≈ ×{(combined[f'{q}_se'] * PRECISION / se_std) ** 2:.1f} the draws)")
    if smc.get("status") != "ok":
        failed.append(f"smc_status: {smc.get('status')} {smc.get('reason', '')}".strip())
    else:
        for q in ("mean", "var"):
            z = (nuts[q] - smc[q]) / math.hypot(nuts[f"{q}_se"], smc[f"{q}_se"])
            if not abs(z) <= AGREE:
                failed.append(f"agreement: {q} of n L_n differs between NUTS and SMC by z = {z:.2f}")
    return failed


def combine(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """Inverse-variance weighted mean and variance of two independent estimates, with SEs."""
    out = {}
    for q in ("mean", "var"):
        wa, wb = a[f"{q}_se"] ** -2, b[f"{q}_se"] ** -2
        out[q] = (wa * a[q] + wb * b[q]) / (wa + wb)
        out[f"{q}_se"] = (wa + wb) ** -0.5
    return out


# ---- building ---------------------------------------------------------------------------
def build_entries(task: Any, seed: int, n: int, settings: Settings) -> list[dict[str, Any]]:
    """One dataset: both samplers on every posterior, the rules checked; one entry per posterior."""
    from slt_bench.methods import make_method
    from slt_bench.methods.protocol import sample_path
    from slt_bench.runner.spec import posterior_seed
    from slt_bench.target import Budget, TemperedTarget

    settings = settings.for_task(task)
    data = task.dataset(n, seed)
    posts = posteriors_for(task, data)
    nuts, smc = make_method("nuts", settings.nuts_hyper()), make_method("smc", settings.smc_hyper())
    budget = Budget(settings.budget)
    standard = standard_nuts_draws()
    found_nuts, found_smc, cpu_nuts, cpu_smc = {}, {}, {}, {}
    for i, p in enumerate(posts):
        start = time.process_time()
        d = nuts.sample(TemperedTarget(task, data, p.beta, p.centre, p.gamma), budget, posterior_seed(seed, 100 + i))
        cpu_nuts[i] = time.process_time() - start
        found_nuts[i] = _summary(d)
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(posts):
        groups.setdefault(_posterior_key(0.0, p.centre, p.gamma), []).append(i)
    for g, (_, members) in enumerate(sorted(groups.items(), key=lambda kv: str(kv[0]))):
        start = time.process_time()
        targets = [TemperedTarget(task, data, posts[i].beta, posts[i].centre, posts[i].gamma) for i in members]
        draws = sample_path(smc, targets, budget, [posterior_seed(seed, 200 + g)])
        elapsed = time.process_time() - start
        for i, d in zip(members, draws):
            found_smc[i] = _summary(d)
            cpu_smc[i] = elapsed / len(members)
    entries = []
    for i, p in enumerate(posts):
        a, b = found_nuts[i], found_smc[i]
        failed = check(a, b, standard)
        value = combine(a, b) if b.get("status") == "ok" and a.get("status") in ("ok", "diverged") else None
        entries.append({
            "seed": seed, "n": n, "beta": p.beta, "centre": None if p.centre is None else list(p.centre),
            "gamma": p.gamma, "certified": not failed, "failed": failed, "value": value,
            "nuts": {**a, "cpu_s": cpu_nuts[i]}, "smc": {**b, "cpu_s": cpu_smc[i]},
        })
    return entries


def _summary(d: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"status": d.status, "reason": d.reason, "grad_evals": float(d.grad_evals),
                           "divergences": int(d.diagnostics.get("divergences", 0))}
    if d.n_loss.size and d.n_loss.shape[1] >= 4:
        out.update(moments(d.n_loss))
    if "log_evidence" in d.diagnostics:
        out["log_evidence"] = d.diagnostics["log_evidence"]
        out["log_evidence_se"] = d.diagnostics.get("log_evidence_se")
    return out


def _unit(args: tuple) -> tuple[str, int, list[dict[str, Any]], float]:
    """A worker's job: one (task, seed), returned with its wall time."""
    task, seed, n, settings = args
    start = time.perf_counter()
    return task.key, seed, build_entries(task, seed, n, settings), time.perf_counter() - start


def load(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise SltBenchError(f"{path}: not a readable reference file ({err}); delete it or rebuild it") from None


def _write(path: Path, doc: dict[str, Any]) -> None:
    """Atomically: a killed build leaves the previous file whole."""
    tmp = path.with_suffix(".json.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True, default=float) + "\n")
        os.replace(tmp, path)
    except OSError as err:
        raise SltBenchError(f"cannot write the reference file {path}: {err.strerror or err}; "
                            "choose a writable folder with --out") from None


def _fresh(task: Any, settings: Settings) -> dict[str, Any]:
    from slt_bench.runner.provenance import git_commit, package_versions

    return {"format": FORMAT, "task": task.key, "task_hash": task.content_hash, "settings": asdict(settings),
            "rules": list(RULES), "standard_nuts_draws": standard_nuts_draws(), "packages": package_versions(),
            "commit": git_commit(), "entries": []}


def build(tasks: Sequence[Any], seeds: int, settings: Settings, root: Path | None = None, jobs: int = 1,
          progress: Callable[[str], None] = lambda _: None, executor: Any = None,
          ns: Sequence[int] | None = None) -> list[Path]:
    """Reference files for ``tasks`` × dataset seeds 0..seeds−1 at each of ``ns`` (default: each task's
    n); resumable: a (seed, n) already in a file with the same settings is kept, and each finished
    dataset is written at once.

    Datasets run one per worker: ``jobs`` processes on this machine, or on ``executor`` (a
    :class:`~slt_bench.runner.dask_executor.DaskExecutor`). This process alone writes the files. A
    dataset that fails is reported (one line each) after the others are stored; run again to retry it."""
    paths, todo, docs = [], [], {}
    for base in {root or task_dir(t) for t in tasks}:
        if base.exists() and not base.is_dir():
            raise SltBenchError(f"{'--out ' if root else 'the references folder '}{base} is a file; give a folder for "
                                "the reference files")
    too_big = [t.key for t in tasks if t.n_params > MAX_PARAMS or t.streamed]
    if too_big:
        raise SltBenchError(f"reference build runs dense-mass NUTS on full batches: tasks of at most {MAX_PARAMS:,} "
                            f"parameters with data in memory; not {', '.join(too_big)}")
    for task in tasks:
        path = file_for(task, root)
        doc = load(path)
        if doc is not None and doc.get("task_hash") != task.content_hash:
            raise SltBenchError(refused(task, path, doc))
        own = settings.for_task(task)
        if doc is not None and stored_settings(doc) != asdict(own) and doc["entries"]:
            raise SltBenchError(_other_settings(path, doc, asdict(own)))
        if doc is None or stored_settings(doc) != asdict(own):
            doc = _fresh(task, own)
        have = {(e["seed"], e["n"]) for e in doc["entries"]}
        docs[task.key] = (path, doc)
        paths.append(path)
        todo += [(task, s, n, own) for n in (ns or [task.n]) for s in range(seeds) if (s, n) not in have]

    from slt_bench.runner.provenance import git_commit

    commit = git_commit()

    def store(key: str, seed: int, entries: list[dict[str, Any]], wall: float) -> None:
        path, doc = docs[key]
        for e in entries:
            e["commit"] = commit  # a resumed file's entries can come from several commits
        doc["entries"] = sorted(doc["entries"] + entries, key=lambda e: (e["seed"], e["n"], e["gamma"], e["beta"]))
        doc["cpu_s"] = doc.get("cpu_s", 0.0) + sum(e["nuts"]["cpu_s"] + e["smc"]["cpu_s"] for e in entries)
        _write(path, doc)
        ok = sum(e["certified"] for e in entries)
        progress(f"{key} seed {seed}, n = {entries[0]['n']:,}: {ok}/{len(entries)} posteriors certified ({wall:.0f} s)")

    failed = []
    for index, result, reason in _run_units(todo, jobs, executor):
        if reason is None:
            store(*result)
        else:
            task, seed, n = todo[index][:3]
            failed.append(f"{task.key} seed {seed}, n = {n:,}: {reason}")
            progress(f"{task.key} seed {seed}, n = {n:,}: failed ({reason})")
    if failed:
        more = f"; and {len(failed) - 3} more, listed above" if len(failed) > 3 else ""
        raise SltBenchError(f"{len(failed)} of {len(todo)} datasets failed and were not stored (the others are; "
                            f"run the same command again to retry): {'; '.join(failed[:3])}{more}")
    return paths


FLAGS = {"nuts_samples": "--nuts-samples", "nuts_warmup": "--nuts-warmup", "nuts_target_accept": "--target-accept",
         "smc_particles": "--particles", "smc_mutations": "--mutations", "nuts_collapse": "--collapse/--no-collapse",
         "nuts_spectral": "--spectral/--no-spectral"}


def _other_settings(path: Path, doc: dict[str, Any], wanted: dict[str, Any]) -> str:
    """One line: the file holds entries built with other settings, which ones differ, and what to do."""
    stored = stored_settings(doc)
    diff = "; ".join(f"{FLAGS.get(k, k)} {stored.get(k)!r} there, {v!r} here"
                     for k, v in sorted(wanted.items()) if stored.get(k) != v)
    return (f"{path} holds {len(doc['entries'])} posteriors built with other settings ({diff}); give the same "
            "settings to add to it, or --out another folder (or delete the file) to start it over")


def _run_units(todo: list[tuple], jobs: int, executor: Any) -> Iterator[tuple[int, Any, str | None]]:
    """``(index, result, None)`` or ``(index, None, reason)`` for each unit of ``todo``, as they finish."""
    from slt_bench.runner.outcome import describe_error

    if executor is not None:
        yield from executor.map(_unit, todo, [f"reference-{t.key}-seed{s}-n{n}" for t, s, n, _ in todo],
                                what="dataset")
        return
    if jobs <= 1 or len(todo) <= 1:
        for index, unit in enumerate(todo):
            try:
                result = _unit(unit)
            except Exception as err:  # noqa: BLE001 - reported with the dataset; the others go on
                yield index, None, describe_error(err)
            else:
                yield index, result, None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from slt_bench.runner.execute import ONE_THREAD_ENV, _terminate, init_worker, worker_environment

    with worker_environment(ONE_THREAD_ENV):  # each worker exits with this process, even on SIGKILL
        pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=init_worker,
                                   initargs=(os.getpid(), True, None))
        try:
            futures = {pool.submit(_unit, u): i for i, u in enumerate(todo)}
            for fut in as_completed(futures):
                try:
                    result = fut.result()
                except Exception as err:  # noqa: BLE001 - a dead worker or a failing dataset: reported, the others go on
                    yield futures[fut], None, describe_error(err)
                else:
                    yield futures[fut], result, None
        except BaseException:  # Ctrl-C, SIGTERM, or the caller gave up: the workers stop now, not after the queue
            _terminate(pool)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


# ---- using ------------------------------------------------------------------------------
def check_file(task: Any, root: Path | None = None) -> None:
    """Refuse (one line) a task's reference file computed for other task content; none is fine."""
    path = file_for(task, root)
    if path.is_file():
        doc = _cached(str(path), path.stat().st_mtime)
        if doc is not None and doc.get("task_hash") != task.content_hash:
            raise SltBenchError(refused(task, path, doc))


def refused(task: Any, path: Path, doc: dict[str, Any]) -> str:
    return (f"{path} was computed for task content {doc.get('task_hash')}, but {task.key} is now "
            f"{task.content_hash}: rebuild it with `slt-bench reference build --task {task.id}`")


@lru_cache(maxsize=256)
def _cached(path: str, mtime: float) -> dict[str, Any] | None:
    return load(Path(path))


def lookup(task: Any, seed: int, n: int, posteriors: Sequence[Any], root: Path | None = None) -> list[dict[str, Any]] | None:
    """The certified values (mean, mean_se, var, var_se) of each posterior for this dataset, or None
    when the task has no reference file or any posterior is missing or uncertified. A file computed
    for other task content is refused (:class:`SltBenchError`)."""
    path = file_for(task, root)
    if not path.is_file():
        return None
    doc = _cached(str(path), path.stat().st_mtime)
    if doc is None:
        return None
    if doc.get("task_hash") != task.content_hash:
        raise SltBenchError(refused(task, path, doc))
    index = {(e["seed"], e["n"], _posterior_key(e["beta"], e["centre"], e["gamma"])): e for e in doc["entries"]}
    out = []
    for p in posteriors:
        e = index.get((seed, n, _posterior_key(p.beta, p.centre, p.gamma)))
        if e is None or not e["certified"]:
            return None
        out.append(e["value"])
    return out


# ---- coverage -----------------------------------------------------------------------------
def coverage_rows(root: Path | Sequence[Path] | None = None) -> list[dict[str, Any]]:
    """One row per reference file and sample size: seeds, posteriors certified, the worst ratio of the
    reference SE of E_β[n L_n] to a standard-tier nuts cell's, the rules that failed (with counts) and
    CPU time (both samplers' process time). ``root``: a folder, or several (default: the built-in one)."""
    bases = [root] if isinstance(root, Path) else list(root or [references_dir()])
    standard = standard_nuts_draws()
    rows = []
    files = [path for base in bases for path in (sorted(base.rglob("*.json")) if base.is_dir() else [])]
    for path in files:
        doc = load(path)
        if not doc:
            continue
        for n in sorted({e["n"] for e in doc.get("entries", [])}):
            entries = [e for e in doc["entries"] if e["n"] == n]
            ratios, failed = [], {}
            for e in entries:
                nuts, value = e.get("nuts", {}), e.get("value")
                if value and nuts.get("ess") and nuts.get("draws"):
                    ess_std = max(standard * min(1.0, nuts["ess"] / nuts["draws"]), 1.0)
                    ratios.append(value["mean_se"] / (math.sqrt(nuts["var"]) / math.sqrt(ess_std)))
                for f in e.get("failed", []):
                    rule = f.split(":")[0]
                    failed[rule] = failed.get(rule, 0) + 1
            cpu = sum(e.get("nuts", {}).get("cpu_s", 0.0) + e.get("smc", {}).get("cpu_s", 0.0) for e in entries)
            rows.append({"task": doc.get("task", path.stem), "n": n, "seeds": len({e["seed"] for e in entries}),
                         "certified": sum(bool(e["certified"]) for e in entries), "posteriors": len(entries),
                         "worst_se_ratio": max(ratios) if ratios else float("nan"), "failed": failed,
                         "cpu_s": float(cpu), "path": str(path)})
    return rows


def coverage_markdown(root: Path | Sequence[Path] | None = None) -> str:
    rows = coverage_rows(root)
    if not rows:
        return "No reference files yet."
    lines = ["| task | n | seeds | posteriors certified | worst SE ratio (reference / standard nuts) | failing rules | CPU |",
             "|---|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        failed = ", ".join(f"{k} × {v}" for k, v in sorted(r["failed"].items())) or "–"
        lines.append(f"| {r['task']} | {r['n']:,} | {r['seeds']} | {r['certified']} of {r['posteriors']} | "
                     f"{r['worst_se_ratio']:.2f} | {failed} | {r['cpu_s'] / 60:.1f} min |")
    return "\n".join(lines)
