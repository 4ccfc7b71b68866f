"""The ``slt-bench`` command line: list, theory, run, report.

Bad input (an unknown task, method, estimator, family; a malformed catalogue; a bad number) prints
one line ``error: …`` naming what is valid and exits with code 2.
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from typing import Any, Sequence

import click

from slt_bench.errors import SltBenchError

EXIT_USAGE = 2


def _rlct_text(value: Fraction | None) -> str:
    return "–" if value is None else f"{value} ({float(value):.4g})"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="slt-bench")
def main() -> None:
    """slt-bench: benchmark posterior approximations on singular models with known λ."""


# ---- list -------------------------------------------------------------------------------
@main.command("list")
@click.argument("what", type=click.Choice(["tasks", "methods"]), default="tasks")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@click.option("--catalog", "catalogs", multiple=True, type=click.Path(), help="Extra catalogue TOML file or folder.")
def list_cmd(what: str, as_json: bool, catalogs: tuple[str, ...]) -> None:
    """List the tasks of the catalogue (default) or the installed methods."""
    if what == "methods":
        from slt_bench.methods import method_names
        from slt_bench.methods.registry import _entry_points

        eps = _entry_points()
        items = [{"name": name, "entry_point": eps[name].value} for name in method_names()]
        if as_json:
            click.echo(json.dumps(items, indent=1))
        else:
            for item in items:
                click.echo(f"{item['name']:<14} {item['entry_point']}")
        return
    from slt_bench.tasks import load_catalog

    catalog = load_catalog(catalogs)
    items = [
        {
            "id": t.id, "version": t.version, "key": t.key, "family": t.family, "n_params": t.n_params,
            "rlct": str(t.rlct) if t.rlct is not None else None,
            "rlct_float": t.rlct_value, "rlct_se": t.rlct_se, "multiplicity": t.multiplicity, "kind": t.kind,
            "source": t.source, "provenance": t.provenance, "params": t.params_dict, "n": t.n,
            "suites": list(t.suites),
        }
        for t in catalog
    ]
    if as_json:
        click.echo(json.dumps(items, indent=1))
        return
    click.echo(f"{'id':<24} {'family':<16} {'d':>3}  {'λ':<18} {'m':>2}  {'kind':<9} source")
    for t in catalog:
        lam = _rlct_text(t.rlct) if t.rlct is not None else (f"≈{t.rlct_ref:g} (ref)" if t.rlct_ref else "–")
        click.echo(f"{t.key:<24} {t.family:<16} {t.n_params:>3}  {lam:<18} {t.multiplicity or '–':>2}  {t.kind:<9} {t.source}")


# ---- theory ---------------------------------------------------------------------------
def _int_list(text: str, option: str = "the list", example: str = "3,2,2,3") -> list[int]:
    parts = [v.strip() for v in text.split(",")]
    try:
        values = [int(v) for v in parts if v]
    except ValueError:
        raise SltBenchError(f"{option}: expected a comma-separated list of integers like {example}; got {text!r}") from None
    if not values or len(values) != len(parts):
        raise SltBenchError(f"{option}: expected a comma-separated list of integers like {example}; got {text!r}")
    return values


def _print_rlct(fn, *args: Any) -> None:
    try:
        lam, m = fn(*args)
    except ValueError as err:  # the theory functions say what is allowed
        raise SltBenchError(str(err)) from None
    click.echo(f"λ = {lam} ({float(lam):.6g}), m = {m}")


@main.group()
def theory() -> None:
    """Exact λ and multiplicity m of a family, from its parameters."""


@theory.command("regular")
@click.option("--d", "d", type=int, required=True, help="Number of parameters.")
def theory_regular(d: int) -> None:
    from slt_bench.theory import regular

    _print_rlct(regular, d)


@theory.command("normal-crossing")
@click.option("--k", "k", required=True, help="Exponents k_j, comma-separated (K = Π w_j^{2k_j}).")
@click.option("--h", "h", default=None, help="Prior exponents h_j (φ ∝ Π |w_j|^{h_j}), comma-separated.")
def theory_nc(k: str, h: str | None) -> None:
    from slt_bench.theory import normal_crossing

    _print_rlct(normal_crossing, _int_list(k, "--k"), _int_list(h, "--h") if h else None)


@theory.command("reduced-rank")
@click.option("--M", "M", type=int, required=True, help="Input dimension.")
@click.option("--N", "N", type=int, required=True, help="Output dimension.")
@click.option("--H", "H", type=int, required=True, help="Hidden (inner) dimension.")
@click.option("--r", "r", type=int, required=True, help="Rank of the true map.")
def theory_rrr(M: int, N: int, H: int, r: int) -> None:
    from slt_bench.theory import reduced_rank

    _print_rlct(reduced_rank, M, N, H, r)


@theory.command("deep-linear")
@click.option("--widths", required=True, help="Layer widths H_0,…,H_L, comma-separated.")
@click.option("--r", "r", type=int, required=True, help="Rank of the true product.")
def theory_dln(widths: str, r: int) -> None:
    from slt_bench.theory import deep_linear

    _print_rlct(deep_linear, _int_list(widths, "--widths"), r)


@theory.command("tanh-zero")
@click.option("--H", "H", type=int, required=True, help="Hidden units.")
def theory_tanh(H: int) -> None:
    from slt_bench.theory import tanh_zero

    _print_rlct(tanh_zero, H)


@theory.command("mixture")
@click.option("--kind", type=click.Choice(["free-weight", "fixed-weight"]), required=True)
def theory_mixture(kind: str) -> None:
    from slt_bench.theory import mixture_zero

    _print_rlct(mixture_zero, kind)


# ---- run --------------------------------------------------------------------------------
@main.command()
@click.option("--method", required=True, help="Method name (see `slt-bench list methods`).")
@click.option("--task", "tasks", multiple=True, help="Task id or glob (repeatable); default: the suite.")
@click.option("--suite", type=click.Choice(["smoke", "standard", "scale", "all"]), default="smoke", show_default=True)
@click.option("--seeds", type=int, default=1, show_default=True, help="Dataset seeds 0..K-1 per task.")
@click.option("--n", "n", type=int, default=None, help="Sample size (default: each task's n).")
@click.option("--tier", type=click.Choice(["smoke", "standard", "gold"]), default="smoke", show_default=True,
              help="Budget tier of the method's preset: smoke (a pipeline check), standard, gold.")
@click.option("--estimator", default="multi-beta", show_default=True,
              help="multi-beta, variance, local, or local-multi-beta (the multi-β line through posteriors localised at w*).")
@click.option("--gamma", type=float, default=None,
              help="local and local-multi-beta: the localisation strength γ (default 1); part of the cell key.")
@click.option("--jobs", type=int, default=1, show_default=True,
              help="Worker processes on this machine (local executor, or the Dask LocalCluster's workers).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: processes on this machine. dask: Dask distributed (a LocalCluster, or --scheduler).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="With --executor dask: an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (SLURM/PBS via dask-jobqueue).")
@click.option("--catalog", "catalogs", multiple=True, type=click.Path(), help="Extra catalogue TOML file or folder.")
@click.option("--store", "store_path", default=None, help="SQLite results file (default: ./slt_bench_results.sqlite).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a preset hyperparameter, VALUE in TOML syntax (repeatable), e.g. --set target_accept=0.99.")
@click.option("--budget", type=float, default=None, metavar="GRADIENTS",
              help="Gradient evaluations per tempered posterior in place of the tier's (a run past it stops as "
                   "budget_exceeded), e.g. for a longer --set warmup; like --set, part of the preset hash.")
@click.option("--force", is_flag=True, help="Recompute cells already in the store (the new row is appended; "
                                            "the old one is kept as history).")
@click.option("--dry-run", "dry_run", is_flag=True, help="Validate everything and print the grid; compute and store nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array of the cells instead of a table.")
@click.option("--metric", type=click.Choice(["rlct", "generalisation"]), default="rlct", show_default=True,
              help="rlct: λ̂ from tempered posteriors. generalisation: slope of E_n G(n) against 1/n at β = 1.")
@click.option("--ns", default=None, help="generalisation: sample sizes, comma-separated (default: 5 from n/5 to n).")
@click.option("--n-test", "n_test", type=int, default=10_000, show_default=True, help="generalisation: held-out points.")
@click.option("--scheme", type=click.Choice(["all", "last_layer", "last_two_layers"]), default="all", show_default=True,
              help="generalisation: infer over all weights, or the last layer(s) with earlier ones frozen at the MAP.")
@click.option("--intercept", is_flag=True, help="generalisation: fit G = c + λ/n (a truth outside the model).")
def run(method, tasks, suite, seeds, n, tier, estimator, gamma, jobs, executor, scheduler, catalogs, store_path,
        overrides, budget, force, dry_run, as_json, metric, ns, n_test, scheme, intercept) -> None:
    """Run a method over tasks × seeds, store every cell, print λ̂ against λ.

    With --metric generalisation, each task is one cell: the method's predictive at β = 1 over the
    n grid (--ns) × --seeds dataset draws, scored on --n-test held-out points.
    """
    from tqdm import tqdm

    from slt_bench.estimators import ESTIMATORS, localised
    from slt_bench.report import run_notes, run_table
    from slt_bench.runner import execute, expand_generalisation, expand_grid
    from slt_bench.scoring import reported
    from slt_bench.store import DEFAULT_PATH, ResultStore, inspect_store
    from slt_bench.tasks import load_catalog

    if metric != "generalisation":
        unused = [name for name, used in (("--ns", ns is not None), ("--scheme", scheme != "all"),
                                          ("--intercept", intercept), ("--n-test", n_test != 10_000)) if used]
        if unused:
            raise SltBenchError(f"{', '.join(unused)} only apply with --metric generalisation")
    elif n is not None or estimator != "multi-beta" or gamma is not None:
        raise SltBenchError("--n, --estimator and --gamma do not apply with --metric generalisation (use --ns)")
    if gamma is not None and not localised(estimator):
        names = " or ".join(name for name in ESTIMATORS if localised(name))
        raise SltBenchError(f"--gamma is the localisation strength of the localised estimators: it needs --estimator {names}")
    catalog = load_catalog(catalogs)
    parsed = _parse_overrides(overrides)
    if metric == "generalisation":
        grid = _int_list(ns, "--ns", "1000,10000") if ns is not None else None
        cells = expand_generalisation(catalog, method, tasks, suite, seeds, grid, n_test, tier, scheme, intercept,
                                      catalogs, parsed, budget=budget)
    else:
        cells = expand_grid(catalog, method, tasks, suite, seeds, n, tier, estimator, catalogs, parsed,
                            {"gamma": gamma} if gamma is not None else None, budget=budget)
    runner = make_executor(executor, jobs, scheduler)
    path = store_path or DEFAULT_PATH
    if dry_run:
        existing = inspect_store(path)
        stored = ResultStore(path, writable=False).keys() if existing is not None else set()
        todo = [c for c in cells if force or c.key not in stored]
        tasks_shown = sorted({c.task for c in cells})
        click.echo(f"{len(cells)} cells ({len(todo)} to compute, {len(cells) - len(todo)} already in {path}): "
                   f"method {method}, tier {tier}, metric {metric}, {len(tasks_shown)} tasks: {', '.join(tasks_shown)}")
        return
    store = ResultStore(path)

    def bar(total: int):
        return tqdm(total=total, desc=f"{method} ({tier})", unit="cell", file=sys.stderr, disable=total == 0)

    keys = execute(cells, store, force=force, progress=bar, executor=runner)
    rows = reported(store.rows(keys))  # the statuses reports show: an ok cell failing the tempering identity is inconsistent
    if as_json:
        fields = ("task", "family", "method", "tier", "preset_hash", "seed", "n", "metric", "estimator", "rlct",
                  "rlct_value", "multiplicity", "rlct_hat", "se", "rel_error", "z", "finite_target", "finite_status",
                  "finite_rel_error", "finite_z", "status", "stored_status", "identity_z", "reason", "grad_evals",
                  "sample_s", "score_s", "wall_s", "target_note", "options", "noise_heat", "end_accept", "end_eps_kappa",
                  "end_stiffness")
        click.echo(json.dumps([{f: r[f] for f in fields} for r in rows], indent=1, default=_json_default))
        return
    click.echo(run_table(rows).to_string(index=False))
    notes = run_notes(rows)
    if notes:
        click.echo("\nNot ok:\n" + "\n".join(f"  {line}" for line in notes))
    click.echo(f"\n{len(rows)} cells; results stored in {store.path} (`slt-bench report` for the leaderboard)")


def make_executor(kind: str, jobs: int, scheduler: str | None) -> Any:
    """The executor of ``--executor`` (validated before anything runs)."""
    from slt_bench.runner import LocalExecutor

    if scheduler is not None and kind != "dask":
        raise SltBenchError("--scheduler needs --executor dask")
    if kind == "dask":
        if scheduler is not None and not scheduler.strip():
            raise SltBenchError("--scheduler needs an address such as tcp://10.0.0.5:8786")
        try:
            from slt_bench.runner.dask_executor import DaskExecutor
        except ImportError:
            raise SltBenchError("--executor dask needs Dask distributed: pip install 'dask[distributed]'") from None
        return DaskExecutor(scheduler, jobs).connect()
    return LocalExecutor(jobs)


def _parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["chains=8", "dense_mass=true"]`` → ``{"chains": 8, "dense_mass": True}`` (TOML values;
    a bare word that is not TOML is taken as a string, and its type is then checked against the
    method's hyperparameter: ``tamed=False`` is refused, ``tamed=false`` is a boolean)."""
    import tomllib

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise SltBenchError(f"--set expects KEY=VALUE with KEY a hyperparameter name, got {item!r}")
        if key in out:
            raise SltBenchError(f"--set gives {key} twice")
        try:
            out[key] = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = raw.strip()
    return out


def _json_default(value: Any) -> Any:
    return None


# ---- report -----------------------------------------------------------------------------
@main.command()
@click.option("--store", "store_path", default=None, help="SQLite results file (default: ./slt_bench_results.sqlite).")
@click.option("--baseline", "baselines", multiple=True, type=click.Path(),
              help="Another store to compare against (repeatable), e.g. docs/leaderboard/baseline.sqlite; "
                   "a cell in both is taken from --store.")
@click.option("--output", "-o", type=click.Path(), default=None, help="Write the report here instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "json"]), default="md", show_default=True,
              help="md: the Markdown leaderboard; csv/json: one record per leaderboard row.")
@click.option("--html", "html_dir", type=click.Path(), default=None,
              help="Also write the static HTML site (leaderboard, plots, a page per method and task) into this folder.")
@click.option("--method", "methods", multiple=True, help="Only these methods (repeatable).")
@click.option("--family", "families", multiple=True, help="Only these task families (repeatable).")
@click.option("--tier", "tiers", multiple=True, type=click.Choice(["smoke", "standard", "gold"]),
              help="Only these tiers (repeatable).")
@click.option("--estimator", "estimators", multiple=True, help="Only these estimators (repeatable).")
def report(store_path, baselines, output, fmt, html_dir, methods, families, tiers, estimators) -> None:
    """The leaderboard from the store: one row per method preset × estimator × family × n."""
    from pathlib import Path

    from slt_bench.report import filter_rows, leaderboard_markdown, leaderboard_records
    from slt_bench.store import DEFAULT_PATH, ResultStore

    main_store = ResultStore(Path(store_path or DEFAULT_PATH), writable=False)
    stores = {"this store": main_store}
    for i, path in enumerate(baselines):
        stores[f"baseline {Path(path).name}" if len(baselines) == 1 else f"baseline {i + 1} ({Path(path).name})"] = \
            ResultStore(Path(path), writable=False)
    if output and not Path(output).parent.is_dir():
        raise SltBenchError(f"--output: folder {Path(output).parent} does not exist")
    if html_dir and Path(html_dir).exists() and not Path(html_dir).is_dir():
        raise SltBenchError(f"--html: {html_dir} exists and is not a folder")
    rows, seen = [], set()
    for source, store in stores.items():
        for row in store.rows():
            if row["key"] not in seen:
                seen.add(row["key"])
                rows.append({**row, "source": source})
    rows = filter_rows(rows, methods=methods, families=families, tiers=tiers, estimators=estimators)
    if html_dir:
        from slt_bench.report.html import write_site

        command = "slt-bench report " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "slt-bench report"
        index = write_site(rows, Path(html_dir), lambda r: stores[r["source"]].traces(r["row_id"]), command)
        click.echo(f"wrote {index} (open it in a browser; it needs no network)", err=True)
    if fmt == "md":
        text = leaderboard_markdown(rows)
    else:
        records = leaderboard_records(rows)
        if fmt == "json":
            text = json.dumps(records, indent=1, default=_json_default) + "\n"
        else:
            import pandas as pd

            text = pd.DataFrame(records).to_csv(index=False)
    if output:
        Path(output).write_text(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


# ---- reproduce ----------------------------------------------------------------------------
@main.command()
@click.argument("paper", type=click.Choice(["murfet2020"]))
@click.option("--table", "tables", type=click.Choice(["1", "2"]), multiple=True,
              help="Which table (repeatable; default both).")
@click.option("--tier", type=click.Choice(["smoke", "standard", "gold"]), default="standard", show_default=True,
              help="smoke: a pipeline check; standard: reduced scale; gold: the paper's scale.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Worker processes (local or Dask LocalCluster).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", default=None, metavar="ADDRESS", help="With --executor dask: an existing scheduler.")
@click.option("--store", "store_path", default=None, help="SQLite results file (default: ./slt_bench_results.sqlite).")
@click.option("--output", "-o", type=click.Path(), default="docs/reproduction.md", show_default=True)
def reproduce(paper: str, tables: tuple[str, ...], tier: str, jobs: int, executor: str, scheduler: str | None,
              store_path: str | None, output: str) -> None:
    """Reproduce a paper's tables and write them, beside the paper's numbers, to --output."""
    from pathlib import Path

    from tqdm import tqdm

    from slt_bench.reproduce import murfet2020
    from slt_bench.runner.provenance import git_commit
    from slt_bench.store import DEFAULT_PATH, ResultStore
    from slt_bench.tasks import load_catalog

    catalog = load_catalog()
    store = ResultStore(store_path or DEFAULT_PATH)
    chosen = tuple(sorted({int(t) for t in tables} or {1, 2}, reverse=True))

    def bar(label: str):
        return lambda total: tqdm(total=total, desc=label, unit="cell", file=sys.stderr, disable=total == 0)

    elapsed = murfet2020.run(catalog, store, chosen, tier, jobs, bar, make_executor(executor, jobs, scheduler))
    command = (f"slt-bench reproduce {paper}" + "".join(f" --table {t}" for t in sorted(tables)) + f" --tier {tier} --jobs {jobs}"
               + (f" --store {store_path}" if store_path else "") + (f" -o {output}" if output != "docs/reproduction.md" else ""))
    text = murfet2020.write_markdown(catalog, store, tier, elapsed, jobs, command, git_commit())
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(text)
    click.echo(text)
    click.echo(f"wrote {output}")


# ---- reference --------------------------------------------------------------------------
@main.group()
def reference() -> None:
    """Certified finite-n references (E_β[n L_n], Var_β[n L_n] from NUTS and SMC) for tasks beyond quadrature."""


@reference.command("build")
@click.option("--task", "tasks", multiple=True, help="Task id or glob (repeatable); default: every standard-suite task.")
@click.option("--suite", type=click.Choice(["smoke", "standard", "scale", "all"]), default="standard", show_default=True)
@click.option("--seeds", type=int, default=5, show_default=True, help="Dataset seeds 0..K-1 per task and sample size.")
@click.option("--ns", default=None, help="Sample sizes, comma-separated, e.g. 1000,10000 (default: each task's n).")
@click.option("--jobs", type=int, default=1, show_default=True, help="Worker processes, one (task, seed, n) each.")
@click.option("--catalog", "catalogs", multiple=True, type=click.Path(),
              help="Extra catalogue TOML file or folder; its tasks' files go to the references folder beside it.")
@click.option("--out", "out", type=click.Path(), default=None,
              help="Folder for the files (default: beside each task's catalogue file: tasks/references for the "
                   "built-in one).")
@click.option("--nuts-samples", type=int, default=25_000, show_default=True, help="NUTS draws per chain (4 chains).")
@click.option("--nuts-warmup", type=int, default=2000, show_default=True)
@click.option("--target-accept", type=float, default=0.95, show_default=True, help="NUTS's target acceptance.")
@click.option("--particles", type=int, default=4000, show_default=True, help="SMC particles per run (4 runs).")
@click.option("--mutations", type=int, default=20, show_default=True, help="SMC HMC moves per stage.")
@click.option("--collapse/--no-collapse", default=True, show_default=True,
              help="On linear networks, run NUTS with the last layer integrated out and drawn exactly.")
@click.option("--spectral/--no-spectral", default=True, show_default=True,
              help="With --collapse on two-layer networks, run NUTS on the first layer in spectral coordinates "
                   "(removes the divergences near its small singular values).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: processes on this machine. dask: Dask distributed (a LocalCluster of --jobs workers, "
                   "or --scheduler); one (task, seed) per worker either way.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="With --executor dask: an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (SLURM/PBS via dask-jobqueue).")
def reference_build(tasks, suite, seeds, ns, jobs, catalogs, out, nuts_samples, nuts_warmup, target_accept, particles, mutations,
                    collapse, spectral, executor, scheduler) -> None:
    """Compute reference values for tasks × seeds with two samplers and certify them (resumable)."""
    from pathlib import Path

    from slt_bench import reference as ref
    from slt_bench.limits import MAX_N, MAX_NS, MAX_SEEDS, MIN_N, check_count
    from slt_bench.tasks import load_catalog

    sizes = None
    if ns is not None:
        sizes = sorted(set(_int_list(ns, "--ns", "1000,10000")))
        if len(sizes) > MAX_NS or not all(MIN_N <= n <= MAX_N for n in sizes):
            raise SltBenchError(f"--ns: at most {MAX_NS} sample sizes, each from {MIN_N} to {MAX_N:,}; got {ns!r}")
    try:
        seeds = check_count(seeds, "--seeds", 1, MAX_SEEDS)
        jobs = check_count(jobs, "--jobs", 1, 64)
        for name, value in (("--nuts-samples", nuts_samples), ("--nuts-warmup", nuts_warmup),
                            ("--particles", particles), ("--mutations", mutations)):
            check_count(value, name, 4 if name == "--particles" else (0 if name == "--nuts-warmup" else 1), 10**7)
    except ValueError as err:
        raise SltBenchError(str(err)) from None
    if not 0 < target_accept < 1:
        raise SltBenchError(f"--target-accept must lie in (0, 1), got {target_accept}")
    chosen = load_catalog(catalogs).select(tasks, suite)
    if not chosen:
        raise SltBenchError(f"no tasks selected (suite {suite!r}, patterns {list(tasks)})")
    settings = ref.Settings(nuts_samples=nuts_samples, nuts_warmup=nuts_warmup, nuts_target_accept=target_accept,
                            smc_particles=particles, smc_mutations=mutations, nuts_collapse=collapse,
                            nuts_spectral=spectral)
    runner = make_executor(executor, jobs, scheduler) if executor == "dask" or scheduler is not None else None
    paths = ref.build(chosen, seeds, settings, Path(out) if out else None, jobs, progress=click.echo, executor=runner,
                      ns=sizes)
    for path in paths:
        doc = ref.load(path)
        entries = doc["entries"] if doc else []
        done = sum(e["certified"] for e in entries)
        click.echo(f"{path}: {done}/{len(entries)} posteriors certified")
    click.echo("cells stored before now are scored against these files by `slt-bench reference apply --store FILE`")


@reference.command("list")
@click.option("--dir", "root", type=click.Path(), default=None,
              help="Folder of reference files (default: the built-in catalogue's, and those beside each --catalog).")
@click.option("--catalog", "catalogs", multiple=True, type=click.Path(), help="Extra catalogue TOML file or folder.")
def reference_list(root, catalogs) -> None:
    """A Markdown table of the reference files: seeds, posteriors certified, precision, failing rules, CPU."""
    from pathlib import Path

    from slt_bench import reference as ref
    from slt_bench.tasks import load_catalog

    if root:
        click.echo(ref.coverage_markdown(Path(root)))
        return
    folders = [ref.references_dir()]
    for task in load_catalog(catalogs).tasks.values():
        if ref.task_dir(task) not in folders:
            folders.append(ref.task_dir(task))
    click.echo(ref.coverage_markdown(folders))


@reference.command("apply")
@click.option("--store", "store_path", default=None, help="SQLite results file (default: ./slt_bench_results.sqlite).")
@click.option("--catalog", "catalogs", multiple=True, type=click.Path(), help="Extra catalogue TOML file or folder.")
@click.option("--dry-run", is_flag=True, help="Count what would change; write nothing.")
def reference_apply(store_path, catalogs, dry_run) -> None:
    """Score stored cells against the reference files as they are now (cells stored before a reference
    was built, extended or rebuilt): a new row per changed cell, λ̂ and cost untouched, the old row kept."""
    from pathlib import Path

    from slt_bench.runner.retarget import retarget
    from slt_bench.store import DEFAULT_PATH

    path = Path(store_path or DEFAULT_PATH)
    if not path.is_file():
        raise SltBenchError(f"--store: no results file at {path}")
    summary = retarget(path, catalogs, dry_run=dry_run)
    click.echo(summary.text(dry_run))


def cli(argv: Sequence[str] | None = None) -> None:
    """Entry point: one-line errors with exit code 2 for anything the user can fix; SIGTERM behaves
    like Ctrl-C (workers stopped, finished cells kept, exit code 130)."""
    import signal

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        main.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except SltBenchError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_USAGE)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted: every finished cell is stored; run the same command again to resume", err=True)
        sys.exit(130)
    except click.ClickException as err:
        click.echo(f"error: {err.format_message()}", err=True)
        sys.exit(EXIT_USAGE)
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    cli()
