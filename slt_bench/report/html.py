"""The static HTML report: an index with the leaderboard and summary plots, a page per method and per
task, written into one folder that opens from ``file://`` with no network (no CDN, no fonts, the
script and stylesheet copied beside the pages).

``slt-bench report --html DIR [--store S] [--baseline B ...]``: the rows of ``S`` and, optionally,
of baseline stores (a published leaderboard's), a cell present in both taken from ``S``.
"""

from __future__ import annotations

import html
import math
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from slt_bench.draws import STATUS_MEANING
from slt_bench.report import plots
from slt_bench.report.tables import (FINITE_N_NOTE, RANKING_RULE, finite_n_text, generalisation_table, leaderboard,
                                    preset_label)
from slt_bench.scoring import TRUSTED_TARGETS, reported

STATIC = Path(__file__).resolve().parent / "static"
MAX_TRACE_ROWS = 12  # trace-grid rows (cells) per task page


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text.replace("/", "__")).strip("-") or "x"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any, spec: str) -> tuple[str, str]:
    """(shown text, sort key) of a number; missing or infinite numbers sort last and show '–'."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–", "inf"
    return format(value, spec), repr(float(value))


def _page(title: str, body: str, depth: int, generated: str) -> str:
    up = "../" * depth
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{_e(title)}</title>"
        f"<link rel=\"stylesheet\" href=\"{up}static/site.css\"><script src=\"{up}static/site.js\"></script></head>\n"
        f"<body><nav><a href=\"{up}index.html\">Leaderboard</a></nav>\n<h1>{_e(title)}</h1>\n"
        f"<p class=\"meta\">{generated}</p>\n{body}\n</body></html>\n"
    )


def _img(path: Path, root: Path, depth: int, alt: str) -> str:
    rel = "../" * depth + path.relative_to(root).as_posix()
    return f'<img src="{_e(rel)}" alt="{_e(alt)}">'


def _table(table_id: str, headers: Sequence[str], rows: Sequence[Sequence[tuple[str, str | None]]],
           row_attrs: Sequence[dict[str, str]] | None = None, sortable: bool = True) -> str:
    """A table; each cell is (html, sort key or None); numbers are right-aligned when they have a key."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for i, cells in enumerate(rows):
        attrs = "".join(f' data-{k}="{_e(v)}"' for k, v in (row_attrs[i] if row_attrs else {}).items())
        tds = "".join(f'<td class="num" data-sort="{_e(key)}">{text}</td>' if key is not None else f"<td>{text}</td>"
                      for text, key in cells)
        body.append(f"<tr{attrs}>{tds}</tr>")
    klass = ' class="sortable"' if sortable else ""
    return f'<table id="{table_id}"{klass}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _filters(table_id: str, options: dict[str, list[str]]) -> str:
    boxes = []
    for name, values in options.items():
        opts = '<option value="">all</option>' + "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in values)
        boxes.append(f'<label>{_e(name)} <select name="{_e(name)}">{opts}</select></label>')
    return f'<form class="filters" data-filters-for="{table_id}">{"".join(boxes)}</form>'


def _board_table(board: list[dict[str, Any]], link: Callable[[str], str], table_id: str) -> str:
    headers = ["family", "estimator", "n", "rank", "method", "preset", "cells", "statuses",
               "median |rel err| vs λ", "sampler error: median |rel err| vs finite-n", "median |z| vs finite-n",
               "estimator bias (finite-n − λ)/λ", "ok and within 3 SE", "grad evals / cell", "seconds / cell", "source"]
    rows, attrs = [], []
    for r in board:
        rows.append([
            (_e(r["family"]), None), (_e(r["estimator"]), None), _num(r["n"], "d"), _num(r["rank"], "d"),
            (f'<a href="{_e(link(r["method"]))}">{_e(r["method"])}</a>', None), (_e(r["preset"]), None),
            _num(r["cells"], "d"), (_e(r["statuses"]), None),
            _num(r["median_abs_rel_err"], ".1%"), _finite_n(r, "median_abs_rel_err_finite_n", ".1%"),
            _finite_n(r, "median_abs_z_finite_n", ".2f"), _num(r.get("estimator_bias"), "+.1%"),
            _num(r["within_3se"], ".0%"), _num(r["grad_evals_per_cell"], ".3g"), _num(r["seconds_per_cell"], ".1f"),
            (_e(r.get("source", "")), None),
        ])
        attrs.append({"tier": r["tier"], "estimator": r["estimator"], "family": r["family"]})
    return _table(table_id, headers, rows, attrs)


def _finite_n(row: dict[str, Any], field: str, spec: str) -> tuple[str, Any]:
    """A finite-n median with ``(k/m)`` when only k of the row's m ok cells have a finite-n target."""
    text, key = _num(row[field], spec)
    if text == "–":
        return text, key
    return _e(finite_n_text(text, row.get("finite_n_cells") or 0, row.get("ok_cells") or 0)), key


def _cells_table(rows: Sequence[dict[str, Any]], table_id: str, link: Callable[[str], str] | None = None,
                 show: str = "method") -> str:
    headers = [show, "preset", "estimator", "seed", "n", "λ", "λ̂ ± SE", "rel err vs λ", "finite-n target",
               "rel err vs finite-n", "status", "identity |z|", "reason", "grad evals", "seconds"]
    out = []
    for r in rows:
        name = r[show]
        name_html = f'<a href="{_e(link(name))}">{_e(name)}</a>' if link else _e(name)
        lam = r.get("rlct") or (f"{r['rlct_value']:.4g}" if r.get("rlct_value") is not None else "–")
        hat, key = _num(r.get("rlct_hat"), ".4g")
        se, _ = _num(r.get("se"), ".2g")
        status_class = "status-ok" if r["status"] == "ok" else "status-bad"
        finite, fkey = _num(r.get("finite_target"), ".4g")
        if r.get("finite_status") not in (None, *TRUSTED_TARGETS):
            finite += f" ({_e(r['finite_status'])})"
        out.append([
            (name_html, None), (_e(preset_label(r)), None), (_e(r["estimator"]), None),
            (_e("–" if r.get("seed") is None else r["seed"]), None), _num(r["n"], "d"), (_e(lam), None),
            (f"{hat} ± {se}", key), _num(r.get("rel_error"), "+.1%"), (finite, fkey),
            _num(r.get("finite_rel_error"), "+.1%"),
            (f'<span class="{status_class}">{_e(r["status"])}</span>', None), _num(r.get("identity_z"), ".1f"),
            (_e(r.get("reason") or ""), None), _num(r.get("grad_evals"), ".3g"), _num(r.get("wall_s"), ".1f"),
        ])
    return _table(table_id, headers, out)


def _status_legend() -> str:
    items = "".join(f"<li><code>{_e(k)}</code>: {_e(v)}</li>" for k, v in STATUS_MEANING.items())
    return f"<h2>Statuses</h2><ul>{items}</ul>"


def _sources(board: list[dict[str, Any]], rows: Sequence[dict[str, Any]]) -> None:
    """Mark each leaderboard row with where its cells came from (this store, a baseline, or both)."""
    by_group: dict[tuple, set[str]] = {}
    for r in rows:
        key = (r["method"], preset_label(r), r["family"], r["n"])
        by_group.setdefault(key, set()).add(r.get("source", "this store"))
    for b in board:
        found = by_group.get((b["method"], b["preset"], b["family"], b["n"]), set())
        b["source"] = " + ".join(sorted(found))


def write_site(rows: Sequence[dict[str, Any]], out: Path, traces: Callable[[dict[str, Any]], list[Any]],
               command: str = "", note: str = "") -> Path:
    """Write the site for ``rows`` into ``out``; ``traces(row)`` returns a row's stored traces; ``note`` is
    shown above the leaderboard, one paragraph per blank-line-separated part.

    Returns the index page's path.
    """
    out = Path(out)
    rows = reported(rows)  # the statuses the report shows: a cell failing the tempering identity is inconsistent
    (out / "plots").mkdir(parents=True, exist_ok=True)
    for stale in (out / "plots").glob("*"):
        stale.unlink()
    for sub in ("methods", "tasks"):
        if (out / sub).is_dir():
            shutil.rmtree(out / sub)
        (out / sub).mkdir()
    shutil.copytree(STATIC, out / "static", dirs_exist_ok=True)
    generated = _e(f"{len(rows)} cells; written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
                   + (f" by `{command}`" if command else ""))
    rlct_rows = _rlct_only(rows)
    gen_rows = [r for r in rows if r not in rlct_rows]
    board_frame = leaderboard(rlct_rows)
    board = board_frame.to_dict("records") if not board_frame.empty else []
    _sources(board, rlct_rows)
    methods = sorted({r["method"] for r in rows})
    tasks = sorted({r["task"] for r in rows})

    def method_link(name: str, depth: int = 0) -> str:
        return "../" * depth + f"methods/{slug(name)}.html"

    def task_link(name: str, depth: int = 0) -> str:
        return "../" * depth + f"tasks/{slug(name)}.html"

    # ---- index -------------------------------------------------------------------------------
    lam_plot = plots.rlct_against_truth(rlct_rows, out / "plots" / "index-rlct.svg", "method",
                                        "λ̂ against λ, one panel per method (hollow: status not ok)")
    cost_plot = plots.error_against_cost(board, out / "plots" / "index-cost.svg",
                                         "error against cost, one point per leaderboard row")
    body = ["".join(f"<p>{_e(part)}</p>" for part in note.split("\n\n")) if note else "",
            f'<p class="rule"><strong>Ranking.</strong> {_e(RANKING_RULE)}</p>',
            "<h2>Leaderboard</h2>",
            f"<p>{_e(FINITE_N_NOTE)}</p>",
            _filters("leaderboard", {"tier": sorted({b["tier"] for b in board}),
                                     "estimator": sorted({b["estimator"] for b in board}),
                                     "family": sorted({b["family"] for b in board})}),
            _board_table(board, method_link, "leaderboard") if board else "<p>No λ̂ cells in this store.</p>",
            '<div class="plots">', _img(lam_plot, out, 0, "λ̂ against λ per method"),
            _img(cost_plot, out, 0, "error against cost per method"), "</div>"]
    if gen_rows:
        gen = generalisation_table(gen_rows)
        body += ["<h2>Learning coefficient of generalisation</h2>",
                 _table("generalisation", list(gen.columns), [[(_e(v), None) for v in row]
                                                              for row in gen.itertuples(index=False)])]
    body += ["<h2>Methods</h2><ul>" + "".join(f'<li><a href="{_e(method_link(m))}">{_e(m)}</a></li>' for m in methods)
             + "</ul>",
             "<h2>Tasks</h2><ul>" + "".join(f'<li><a href="{_e(task_link(t))}">{_e(t)}</a></li>' for t in tasks)
             + "</ul>", _status_legend()]
    index = out / "index.html"
    index.write_text(_page("slt-bench leaderboard", "\n".join(body), 0, generated))

    # ---- a page per method ----------------------------------------------------------------------
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        mine_rlct = [r for r in mine if r in rlct_rows]
        mine_board = [b for b in board if b["method"] == method]
        name = slug(method)
        parts = []
        if mine_rlct:
            lam = plots.rlct_against_truth(mine_rlct, out / "plots" / f"method-{name}-rlct.svg", "estimator",
                                           f"{method}: λ̂ against λ, one panel per estimator")
            cost = plots.error_against_cost(mine_board, out / "plots" / f"method-{name}-cost.svg",
                                            f"{method}: error against cost")
            parts += ["<h2>Leaderboard rows</h2>", _board_table(mine_board, lambda m: method_link(m, 1), "board"),
                      '<div class="plots">', _img(lam, out, 1, f"{method}: λ̂ against λ"),
                      _img(cost, out, 1, f"{method}: error against cost"), "</div>"]
        parts += ["<h2>Cells</h2>", _cells_table(sorted(mine, key=lambda r: (r["task"], r.get("seed") or 0)), "cells",
                                                 lambda t: task_link(t, 1), show="task")]
        (out / "methods" / f"{name}.html").write_text(_page(f"Method {method}", "\n".join(parts), 1, generated))

    # ---- a page per task ------------------------------------------------------------------------
    for task in tasks:
        mine = _task_rows(rows, task)
        name = slug(task)
        first = mine[0]
        lam = first.get("rlct") or (f"≈ {first['rlct_value']:.4g} ({first.get('kind')})"
                                    if first.get("rlct_value") is not None else "unknown")
        parts = [f"<p>family {_e(first['family'])}; λ = {_e(lam)}; m = {_e(first.get('multiplicity') or '–')}; "
                 f"{_e(first.get('n_params'))} parameters.</p>", "<h2>Cells</h2>",
                 _cells_table(mine, "cells", lambda m: method_link(m, 1))]
        chosen = _representatives(_rlct_only(mine))
        fits = [c for c in chosen if (c["row"].get("fit") or {}).get("means")]
        if fits:
            path = plots.multi_beta_fits(fits, out / "plots" / f"task-{name}-fits.svg",
                                         f"{task}: E_β[n L_n] against 1/β, fitted lines (slope = λ̂)")
            parts += ["<h2>E_β[n L_n] against 1/β</h2>", '<div class="plots">', _img(path, out, 1, "fits"), "</div>"]
        for cell in chosen:
            cell["traces"] = traces(cell["row"])
        with_traces = [c for c in chosen if c["traces"]][:MAX_TRACE_ROWS]
        if with_traces:
            path = plots.trace_grid(with_traces, out / "plots" / f"task-{name}-traces.png",
                                    f"{task}: n L_n per chain (one row per method; the worst cell of each)")
            parts += ["<h2>Traces of n L_n</h2>", '<div class="plots">', _img(path, out, 1, "traces"), "</div>"]
        gens = [{"label": f"{r['method']} [{(r.get('options') or {}).get('scheme', 'all')}]", "row": r}
                for r in mine if r in gen_rows]
        if gens:
            path = plots.generalisation_fits(gens, out / "plots" / f"task-{name}-generalisation.svg",
                                             f"{task}: G(n) against 1/n")
            parts += ["<h2>G(n) against 1/n</h2>", '<div class="plots">', _img(path, out, 1, "G(n)"), "</div>"]
        (out / "tasks" / f"{name}.html").write_text(_page(f"Task {task}", "\n".join(parts), 1, generated))
    return index


def _rlct_only(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("metric") != "generalisation" and r["estimator"] != "generalisation"]


def traced_cells(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose n L_n traces the task pages plot (one per method, preset, estimator and n on each
    task: the first cell that is not ok, else the lowest seed); a store that keeps traces for these
    alone lets the site be written again."""
    rlct = _rlct_only(reported(rows))
    return [c["row"] for task in sorted({r["task"] for r in rlct}) for c in _representatives(_task_rows(rlct, task))]


def _task_rows(rows: Sequence[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    return sorted([r for r in rows if r["task"] == task], key=lambda r: (r["method"], r["estimator"], r.get("seed") or 0))


def _representatives(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One cell per (method, preset, estimator, n): the first that is not ok (what needs looking at),
    else the lowest seed."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["method"], preset_label(r), r["estimator"], r["n"]), []).append(r)
    out = []
    for (method, preset, estimator, n), cells in sorted(groups.items(), key=lambda kv: [str(k) for k in kv[0]]):
        bad = [c for c in cells if c["status"] != "ok"]
        row = (bad or sorted(cells, key=lambda c: c.get("seed") or 0))[0]
        label = f"{method} ({preset}, {estimator}, n={n}, seed {row.get('seed')}, {row['status']})"
        out.append({"label": label, "row": row})
    return out
