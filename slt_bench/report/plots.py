"""The report's figures, drawn by matplotlib and written as files (SVG for the summary plots, PNG for
the trace grids, which hold thousands of points).

Every function takes plain rows (dicts from the store) and a path, writes one figure and returns
the path. Output is deterministic (a fixed SVG hash salt and no dates in the metadata), so
regenerating an unchanged report changes no file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

COLOURS = ("#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c", "#8c564b", "#e377c2", "#7f7f7f",
           "#17becf", "#bcbd22", "#393b79")
STATUS_MARKERS = {"ok": "o", "diverged": "^", "unmixed": "s", "degenerate": "D"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "slt-bench", "svg.fonttype": "none", "font.size": 9,
                         "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"Date": None} if path.suffix == ".svg" else {}
    fig.savefig(path, metadata=metadata, dpi=90, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def colour_of(name: str, names: Sequence[str]) -> str:
    ordered = sorted(set(names))
    return COLOURS[ordered.index(name) % len(COLOURS)] if name in ordered else COLOURS[-1]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def rlct_against_truth(rows: Sequence[dict[str, Any]], path: Path, group: str = "method", title: str = "") -> Path:
    """λ̂ ± SE against λ on log–log axes, one panel per ``group`` value (small multiples), the line
    λ̂ = λ drawn; hollow markers for cells whose status is not ``ok``."""
    plt = _pyplot()
    usable = [r for r in rows if _finite(r.get("rlct_hat")) and _finite(r.get("rlct_value"))
              and r["rlct_hat"] > 0 and r["rlct_value"] > 0]
    groups = sorted({str(r[group]) for r in usable}) or ["(no estimates)"]
    cols = min(len(groups), 4)
    nrows = math.ceil(len(groups) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 3.0 * nrows), squeeze=False)
    values = [r["rlct_value"] for r in usable] + [r["rlct_hat"] for r in usable]
    low, high = (min(values) / 2, max(values) * 2) if values else (0.1, 10)
    for ax, name in zip(axes.flat, groups):
        mine = [r for r in usable if str(r[group]) == name]
        ax.plot([low, high], [low, high], color="#999999", lw=0.8, zorder=0)
        families = sorted({r["family"] for r in mine})
        for fam in families:
            sel = [r for r in mine if r["family"] == fam]
            for ok in (True, False):
                part = [r for r in sel if (r["status"] == "ok") == ok]
                if not part:
                    continue
                x = np.array([r["rlct_value"] for r in part])
                y = np.array([r["rlct_hat"] for r in part])
                err = np.array([r["se"] if _finite(r.get("se")) else 0.0 for r in part])
                lower = np.minimum(err, y * 0.999)  # a log axis cannot show an error bar below zero
                colour = colour_of(fam, families)
                ax.errorbar(x, y, yerr=[lower, err], fmt="o", ms=3.5, lw=0.6, color=colour,
                            mfc=colour if ok else "none", label=fam if ok else None, alpha=0.85)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("λ (exact or reference)")
        ax.set_ylabel("λ̂ ± SE")
        if any(r["status"] == "ok" for r in mine):
            ax.legend(fontsize=6, frameon=False, loc="upper left")
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def error_against_cost(board: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Median |relative error| against the sharpest target, against median gradient evaluations per
    cell, one point per leaderboard row, one colour per method (log–log)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    methods = sorted({r["method"] for r in board})
    for method in methods:
        mine = [r for r in board if r["method"] == method and _finite(r.get("rank_error"))
                and _finite(r.get("grad_evals_per_cell")) and r["grad_evals_per_cell"] > 0 and r["rank_error"] > 0]
        if mine:
            ax.scatter([r["grad_evals_per_cell"] for r in mine], [r["rank_error"] for r in mine], s=18,
                       color=colour_of(method, methods), label=method, alpha=0.85)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("gradient evaluations per cell (median)")
    ax.set_ylabel("|relative error| (median; finite-n target where one exists, else λ)")
    if title:
        ax.set_title(title, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def multi_beta_fits(cells: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """E_β[n L_n] ± MC SE against 1/β with each cell's fitted line (slope λ̂), one colour per cell."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    labels = [c["label"] for c in cells]
    for cell in cells:
        fit = cell["row"].get("fit") or {}
        betas, means = fit.get("betas"), fit.get("means")
        if not betas or not means:
            continue
        x = 1.0 / np.asarray(betas, dtype=float)
        y = np.asarray(means, dtype=float)
        ses = np.asarray(fit.get("mc_ses") or np.zeros_like(y), dtype=float)
        colour = colour_of(cell["label"], labels)
        ax.errorbar(x, y, yerr=ses, fmt="o", ms=4, color=colour, lw=0.8,
                    label=f"{cell['label']}: λ̂ = {fit.get('slope', float('nan')):.3g}")
        if _finite(fit.get("slope")) and _finite(fit.get("intercept")):
            grid = np.linspace(x.min(), x.max(), 20)
            ax.plot(grid, fit["intercept"] + fit["slope"] * grid, color=colour, lw=1)
    ax.set_xlabel("1/β")
    ax.set_ylabel("E_β[n L_n]")
    if title:
        ax.set_title(title, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def trace_grid(cells: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """n L_n per chain for each posterior (columns) of each cell (rows): the first thing to look at
    when a cell fails. Written as PNG (thousands of points)."""
    plt = _pyplot()
    cells = [c for c in cells if c["traces"]]
    ncols = max((len(c["traces"]) for c in cells), default=1)
    fig, axes = plt.subplots(max(len(cells), 1), ncols, figsize=(2.4 * ncols, 1.7 * max(len(cells), 1)),
                             squeeze=False)
    for i, cell in enumerate(cells):
        betas = cell["row"].get("betas") or []
        for j, trace in enumerate(cell["traces"]):
            ax = axes[i, j]
            for chain in np.atleast_2d(trace):  # a point estimate (one draw) is drawn as a point, not an empty line
                ax.plot(chain, lw=0.6, marker="o" if len(chain) == 1 else None, ms=3)
            beta = f"β = {betas[j]:.3g}" if j < len(betas) else f"posterior {j}"
            # the cell's label on a line of its own above the first panel: on the title's line it ran into the next
            ax.set_title(f"{cell['label']}\n{beta}" if j == 0 else beta, fontsize=7, loc="left")
            ax.tick_params(labelsize=6)
        for j in range(len(cell["traces"]), ncols):
            axes[i, j].set_visible(False)
    if not cells:
        axes[0, 0].text(0.5, 0.5, "no traces stored", ha="center", va="center")
        axes[0, 0].set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def generalisation_fits(cells: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Mean G(n) ± SE across dataset draws against 1/n with each cell's fitted slope."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    labels = [c["label"] for c in cells]
    for cell in cells:
        fit = cell["row"].get("fit") or {}
        ns, g = fit.get("ns"), fit.get("g_mean")
        if not ns or not g:
            continue
        x = 1.0 / np.asarray(ns, dtype=float)
        y = np.asarray([v if v is not None else np.nan for v in g], dtype=float)
        se = np.asarray([v if v is not None else 0.0 for v in (fit.get("g_se") or [0.0] * len(ns))], dtype=float)
        colour = colour_of(cell["label"], labels)
        ax.errorbar(x, y, yerr=se, fmt="o", ms=4, color=colour, lw=0.8,
                    label=f"{cell['label']}: slope {fit.get('slope', float('nan')):.3g}")
        if _finite(fit.get("slope")):
            grid = np.linspace(0, x.max() * 1.05, 20)
            ax.plot(grid, (fit.get("intercept") or 0.0) + fit["slope"] * grid, color=colour, lw=1)
    ax.set_xlabel("1/n")
    ax.set_ylabel("G(n), nats per test point")
    if title:
        ax.set_title(title, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _save(fig, path)
