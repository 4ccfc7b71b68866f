"""benchmarks/scale_study.py: its page writer touches only its own marked blocks, and the quadrature
study's two columns against closed forms on a regular (linear-Gaussian) task."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
spec = importlib.util.spec_from_file_location("scale_study", ROOT / "benchmarks" / "scale_study.py")
study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study)


def _quadrature_record(task="nc/k1-2", gamma=10.0):
    return {"task": task, "n": 100_000, "gamma": gamma, "rlct": 0.25, "m": 1, "gamma_over_nbeta": gamma / 8686.0,
            "gamma2_over_nbeta": gamma**2 / 8686.0, "local_mean": 0.518, "local_se": 0.048,
            "slope_mean": 0.529, "slope_se": 0.007}


def test_write_replaces_only_the_marked_blocks(tmp_path, monkeypatch):
    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / "gamma-quadrature.jsonl").write_text(json.dumps(_quadrature_record()) + "\n")
    monkeypatch.setattr(study, "STUDIES", studies)
    page = tmp_path / "scale.md"
    hand = "# A page\n\nWritten by hand, kept.\n\n"
    page.write_text(hand + "<!-- scale-gamma-quadrature:start -->\nold table\n<!-- scale-gamma-quadrature:end -->\n"
                    "\nAlso kept.\n<!-- scale-sweep:start -->\nsweep text with no records: kept\n"
                    "<!-- scale-sweep:end -->\n")
    study.write(str(page))
    text = page.read_text()
    assert text.startswith(hand) and "Also kept." in text and "old table" not in text
    assert "sweep text with no records: kept" in text  # no sweep.jsonl here: its block is left alone
    assert "| nc/k1-2 | 0.25 | 1 | 100,000 | 10 | 0.0012 | 0.012 | 0.518 ± 0.048 | 0.529 ± 0.007 |" in text


def test_quadrature_columns_match_the_closed_form_on_a_regular_task():
    """regular/d2 is y = w·x + ε, x ~ N(0, I₂), noise 1, prior N(0, 1): the localised tempered
    posterior is Gaussian with precision Λ_β = β XᵀX/σ² + c I (c = 1/σ_prior² + γ), so
    E_β[n L_n] = n L_n(m_β) + ½ tr(XᵀX Λ_β⁻¹)/σ² with m_β the posterior mean: closed form, independent of the quadrature. From it, the local estimator is
    β₀ (E_β₀[n L_n] − n L_n(w*)) and the line's slope the least-squares slope over the same β grid."""
    from slt_bench.tasks import load_catalog

    task = load_catalog().get("regular/d2")
    n = 10_000
    for gamma in (1.0, 100.0):  # γ = 100: the localisation moves the local column by −8% of λ here
        row = study._quadrature_row(task, n, gamma, seeds=2)
        local, slope = _closed_form(task, n, gamma, seeds=2)
        # Tolerance: the quadrature's own relative error on these moments (its half-resolution check
        # keeps it below 1e-6 of E[n L_n] ≈ 1.4e4, i.e. ~0.01 absolute) times β₀ ≈ 0.11 for the local
        # column, and for the slope that error over the span of 1/β (≈ 4.3): both under 1e-3 of λ = 1.
        assert abs(row["local_mean"] - np.mean(local)) < 1e-3, (gamma, row, local)
        assert abs(row["slope_mean"] - np.mean(slope)) < 1e-3, (gamma, row, slope)
    # What the page reads from them, at γ = 1: the slope sees λ = d/2 up to O(c/(nβ)) (c = 2, nβ ≥ 833 over
    # the grid, so < 5 c/(nβ) with room), while the local estimator is lower by β₀ (n L_n(w*) − n L_n(ŵ))/λ,
    # a χ²₂/2-sized fluctuation times β₀ ≈ 0.11.
    local, slope = _closed_form(task, n, 1.0, seeds=2)
    assert abs(np.mean(slope) - 1.0) < 5 * 2.0 / 833
    assert np.mean(local) < np.mean(slope)


def _closed_form(task, n, gamma, seeds):
    from slt_bench.estimators.base import beta0
    from slt_bench.estimators.multi_beta import MultiBeta, line_fit

    local, slope = [], []
    for seed in range(seeds):
        data = task.dataset(n, seed)
        x, y = np.asarray(data.x, float), np.asarray(data.y, float).reshape(-1)
        w_star = np.asarray(task.w_star, float)
        noise = float(task.noise_std) ** 2
        gram, xty = x.T @ x / noise, x.T @ y / noise
        prior_precision = 1.0 / float(task.prior.std) ** 2

        def n_loss(w):
            return float(task.n_loss_numpy(w, data))

        def mean_n_loss(beta):
            precision = beta * gram + (prior_precision + gamma) * np.eye(2)
            mean = np.linalg.solve(precision, beta * xty + gamma * w_star)
            return n_loss(mean) + 0.5 * np.trace(gram @ np.linalg.inv(precision))

        b0, betas = beta0(n), MultiBeta().betas(n)
        local.append(b0 * (mean_n_loss(b0) - n_loss(w_star)) / float(task.rlct_value))
        means = np.array([mean_n_loss(float(b)) for b in betas])
        slope.append(line_fit(1.0 / betas, means, None)["slope"] / float(task.rlct_value))
    return local, slope
