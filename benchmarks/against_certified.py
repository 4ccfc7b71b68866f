"""Methods' cells against certified finite-n references: the sampler's share of the error where a reference
(``tasks/references/``) gives the exact finite-n value on the same dataset, n and β grid.

    python benchmarks/against_certified.py --store runs.sqlite [--task tanh/h2 ...] \\
        [--write docs/accuracy.md [--mark against-certified]]

The runner attaches the target when it scores a cell (or ``slt-bench reference apply --store`` does,
for cells stored before the reference); this reads it back. A cell counts only where its
``finite_status`` is ``certified`` (every posterior the estimator needs certified on that dataset).
z is the stored ``finite_z``, (λ̂ − target)/SE with the cell's own SE: the reference's is at most a fifth
of a standard cell's (the certification rule), which would change a combined SE by at most 2%. Under "the sampler is exact",
z ~ N(0, 1), so |z| ≤ 3 fails by chance in 0.27% of cells. Statuses are the reports' (``reported``:
a cell that breaks the tempering identity is ``inconsistent`` and never counts as within 3 SE).

The last columns are the drifts of a cell's posteriors taken together: Σ drift_z / √k over its k posteriors
(``drift_z`` is each posterior's move of the mean of n L_n between the halves of its run, in SEs; see
``slt_bench/draws.py``). The posteriors are independent runs, so under stationarity the sum over √k has the
null SD of one drift z, about 1.1 (the runner's measured null, ``slt_bench/runner/outcome.py``). A climb every
posterior of the cell shares, which no single posterior's drift resolves, shows there; it is a diagnostic
here, not a status.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import publish  # noqa: E402

from slt_bench.scoring import reported  # noqa: E402
from slt_bench.store import ResultStore  # noqa: E402

MARK = "against-certified"


def _fmt(x: float | None, spec: str) -> str:
    return "–" if x is None else format(x, spec)


def settings(rows: list[dict]) -> dict[tuple, str]:
    """Per (task, n, method, preset hash), the hyperparameters that tell it apart from the other presets of the
    same task, n and method: a preset lists a key it sets where another preset leaves it at its default, and a
    key every preset sets where its value is not the one most of them have, e.g. ``step_fraction=0.0025``;
    "default" where it lists none; "" where the method has one preset."""
    by_method: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for r in rows:
        by_method[(r["task"], r["n"], r["method"])][r["preset_hash"]] = r.get("hyper") or {}
    out: dict[tuple, str] = {}
    for group, presets in by_method.items():
        keys = sorted({k for h in presets.values() for k in h})
        usual = {}
        for k in keys:
            counts = Counter(repr(h.get(k)) for h in presets.values())
            usual[k] = repr(None) if repr(None) in counts else counts.most_common(1)[0][0]
        differs = any(repr(h.get(k)) != usual[k] for h in presets.values() for k in keys)
        for preset, hyper in presets.items():
            shown = [f"{k}={hyper[k]:g}" if isinstance(hyper[k], float) else f"{k}={hyper[k]}"
                     for k in keys if k in hyper and repr(hyper[k]) != usual[k]]
            out[(*group, preset)] = (", ".join(shown) or "default") if differs else ""
    return out


def combined_drift(row: dict) -> float | None:
    """Σ drift_z / √k over the cell's posteriors that stored a drift z (None when none did)."""
    zs = [d["drift_z"] for d in row.get("diagnostics") or []
          if isinstance(d, dict) and isinstance(d.get("drift_z"), (int, float)) and math.isfinite(d["drift_z"])]
    return sum(zs) / math.sqrt(len(zs)) if zs else None


def tables(rows: list[dict]) -> str:
    """The per (task, method, preset) summary, the same pooled over tasks (:func:`pooled`) and the per-cell
    table, Markdown. Presets of one method that differ by more than the budget are told apart by a settings
    column (:func:`settings`)."""
    tag = settings(rows)

    def label(r: dict) -> str:
        return tag[(r["task"], r["n"], r["method"], r["preset_hash"])]

    rows = sorted(rows, key=lambda r: (r["task"], r["n"], r["method"], label(r) not in ("", "default"), label(r),
                                       -r["budget"], r["preset_hash"], r["seed"]))
    lines = ["| task | n | method | settings | budget per posterior | seed | λ̂ ± SE | status | certified finite-n target | z | against finite-n | against λ | posteriors' drift, Σz/√k |",
             "|---|---:|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        certified = r.get("finite_status") == "certified" and r.get("finite_target") is not None
        z = r.get("finite_z") if certified else None
        r = {**r, "_z": z, "_certified": certified}
        groups[(r["task"], r["n"], r["method"], r["preset_hash"])].append(r)
        hat = f"{r['rlct_hat']:.3f} ± {r['se']:.3f}" if r.get("rlct_hat") is not None and r.get("se") else "–"
        lines.append(f"| {r['task']} | {r['n']:,} | {r['method']} | {label(r)} | {r['budget']:.3g} | {r['seed']} | {hat} | {r['status']} | "
                     f"{_fmt(r['finite_target'] if certified else None, '.3f')} | {_fmt(z, '+.1f')} | "
                     f"{_fmt(r.get('finite_rel_error') if certified else None, '+.1%')} | {_fmt(r.get('rel_error'), '+.1%')} | "
                     f"{_fmt(combined_drift(r), '+.1f')} |")
    summary = ["| task | n | method | settings | budget per posterior | cells with a certified target | ok and within 3 SE | mean z | median (λ̂ − target)/target | median (λ̂ − λ)/λ | grad evals per cell | mean posteriors' drift |",
               "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (task, n, method, preset), rs in groups.items():
        budget = rs[0]["budget"]
        with_target = [r for r in rs if r["_certified"]]
        zs = [r["_z"] for r in with_target if r["_z"] is not None]
        good = sum(1 for r in with_target if r["status"] == "ok" and r["_z"] is not None and abs(r["_z"]) <= 3)
        rel_f = [r["finite_rel_error"] for r in with_target if r.get("finite_rel_error") is not None]
        rel = [r["rel_error"] for r in rs if r["status"] == "ok" and r.get("rel_error") is not None]
        drifts = [d for d in map(combined_drift, rs) if d is not None]
        summary.append(f"| {task} | {n:,} | {method} | {tag[(task, n, method, preset)]} | {budget:.3g} | {len(with_target)} of {len(rs)} | {good} of {len(with_target)} | "
                       f"{_fmt(statistics.mean(zs) if zs else None, '+.2f')} | "
                       f"{_fmt(statistics.median(rel_f) if rel_f else None, '+.1%')} | "
                       f"{_fmt(statistics.median(rel) if rel else None, '+.1%')} | {statistics.median(r['grad_evals'] for r in rs):.3g} | "
                       f"{_fmt(statistics.mean(drifts) if drifts else None, '+.2f')} |")
    return "\n".join(summary) + "\n\n" + pooled(groups, tag) + "\n\n" + "\n".join(lines)


def pooled(groups: dict[tuple, list[dict]], tag: dict[tuple, str]) -> str:
    """Per (n, method, settings), pooled over the tasks: the cells with a certified target, how many are ok
    and within 3 SE, the mean z with its SE under an exact sampler (1/√k for k cells), the mean relative
    error against the target, and the mean of the posteriors' drift. A method's only preset on a task counts
    as its default."""
    pools: dict[tuple, list[dict]] = defaultdict(list)
    tasks: dict[tuple, set] = defaultdict(set)
    for (task, n, method, preset), rs in groups.items():
        key = (n, method, tag[(task, n, method, preset)] or "default")
        with_target = [r for r in rs if r["_certified"] and r["_z"] is not None]
        pools[key] += with_target
        if with_target:
            tasks[key].add(task.split("@")[0])
    lines = ["| n | method | settings | tasks | cells with a certified target | ok and within 3 SE | mean z ± its SE under an exact sampler "
             "| mean (λ̂ − target)/target | mean posteriors' drift |",
             "|---:|---|---|---|---:|---:|---:|---:|---:|"]
    for (n, method, label), rs in sorted(pools.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] != "default", kv[0][2])):
        if not rs:
            continue
        good = sum(1 for r in rs if r["status"] == "ok" and abs(r["_z"]) <= 3)
        rel = [r["finite_rel_error"] for r in rs if r.get("finite_rel_error") is not None]
        drifts = [d for d in map(combined_drift, rs) if d is not None]
        lines.append(f"| {n:,} | {method} | {label} | {', '.join(sorted(tasks[(n, method, label)]))} | {len(rs)} | {good} of {len(rs)} | "
                     f"{statistics.mean(r['_z'] for r in rs):+.2f} ± {1 / math.sqrt(len(rs)):.2f} | "
                     f"{_fmt(statistics.mean(rel) if rel else None, '+.1%')} | "
                     f"{_fmt(statistics.mean(drifts) if drifts else None, '+.2f')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--task", action="append", help="only these task keys, e.g. tanh/h2 (repeatable)")
    ap.add_argument("--write", help="splice the tables into this Markdown file between the marker lines")
    ap.add_argument("--mark", default=MARK)
    args = ap.parse_args(argv)
    if not Path(args.store).is_file():
        sys.exit(f"--store: no such file {args.store!r}")
    rows = [r for r in reported(ResultStore(args.store).rows())
            if r.get("metric", "rlct") == "rlct" and (not args.task or r["task"].split("@")[0] in args.task)]
    if not rows:
        sys.exit(f"no rlct cells{' of ' + ', '.join(args.task) if args.task else ''} in {args.store}")
    text = tables(rows)
    publish(text, args.write, args.mark)


if __name__ == "__main__":
    main()
