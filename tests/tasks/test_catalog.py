"""Interface tests over every registered task, and catalogue validation."""

import math
import textwrap

import numpy as np
import pytest

from slt_bench.errors import CatalogError, UnknownNameError
from slt_bench.models import log_likelihood
from slt_bench.models.ops import numpy_ops
from slt_bench.tasks import load_catalog

ALL = [t.id for t in load_catalog()]


def test_catalogue_covers_what_the_foundation_promises(catalog):
    fams = {}
    for t in catalog:
        fams.setdefault(t.family, []).append(t)
    assert len(fams["regular"]) >= 2
    assert len(fams["normal_crossing"]) >= 5
    assert any((t.multiplicity or 0) > 1 for t in fams["normal_crossing"])
    assert any(t.prior.exponents for t in fams["normal_crossing"])
    assert len(fams["reduced_rank"]) >= 8
    assert {t.multiplicity for t in fams["reduced_rank"]} == {1, 2}
    assert len(fams["deep_linear"]) >= 5
    for t in fams["deep_linear"]:
        widths = t.params_dict["widths"]
        assert 3 <= len(widths) - 1 <= 5
        assert t.rlct < widths[0] * widths[-1] / 2
    assert sorted(t.params_dict["H"] for t in fams["tanh_zero"]) == [1, 2, 3, 4, 5]
    assert len(fams["mixture"]) == 2
    refs = fams["murfet2020_s6"]
    assert len(refs) == 6 and all(t.kind == "reference" and "not yet reproduced" in t.provenance for t in refs)
    assert all(t.n_params == 21 for t in refs)


def _points(data, count):
    """(x, y) of the first ``count`` points, of a held or a streamed dataset."""
    return data.points(0, count) if getattr(data, "streamed", False) else (data.x[:count], data.y[:count])


@pytest.mark.parametrize("task_id", ALL)
def test_dataset_shapes_and_seeds(catalog, task_id):
    task = catalog.get(task_id)
    data = task.dataset(100, 3)
    x, y = _points(data, 100)
    assert x.shape == (100, task.model.in_dim) and y.shape == (100, task.model.out_dim)
    x2, y2 = _points(task.dataset(100, 3), 100)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(x, x2)
    assert not np.array_equal(_points(task.dataset(100, 4), 100)[1], y)


@pytest.mark.parametrize("task_id", ALL)
def test_rlct_at_most_half_the_dimension(catalog, task_id):
    task = catalog.get(task_id)
    lam = task.rlct_value
    if task.kind == "unknown":  # the Section 5 networks: no λ claimed, only generalisation slopes
        assert lam is None
        return
    assert lam is not None and 0 < lam <= task.n_params / 2


def _mean_loss_minus_entropy(task, w, n=20_000):
    """(mean per-point −log p(y|x,w) − entropy of the noise, its SE) on data drawn from the truth.

    At a true parameter the residuals are pure noise, so the difference is 0 within sampling error;
    anywhere else it is the KL divergence K(w) > 0 plus noise.
    """
    x, y = _points(task.dataset(n, 0), 2000)
    per_point = -log_likelihood(numpy_ops(), task.model, np.asarray(w, dtype=np.float64), x, y, task.noise_std)
    sigma = task.noise_std
    entropy = task.model.out_dim * 0.5 * (math.log(2 * math.pi * sigma**2) + 1)
    return per_point.mean() - entropy, per_point.std() / math.sqrt(len(per_point))


@pytest.mark.parametrize("task_id", ALL)
def test_truth_has_zero_population_loss(catalog, task_id):
    """E[n L_n(w₀)]/n equals the entropy of the truth: the residuals at w₀ are pure noise (4 SE)."""
    gap, se = _mean_loss_minus_entropy(catalog.get(task_id), catalog.get(task_id).truth)
    assert abs(gap) < 4 * se


@pytest.mark.parametrize("task_id", [t.id for t in load_catalog() if t.w_star is not None])
def test_w_star_is_a_most_singular_true_parameter(catalog, task_id):
    """w* must be a true parameter (residuals at w* are pure noise, 4 SE), and the most singular one
    the family's theorem is about, checked from the family's definition rather than from the truth:
    the origin for monomials and tanh networks, every factor of rank exactly r for reduced rank and
    deep linear networks (Aoyagi's setting), the unique truth for a regular model."""
    task = catalog.get(task_id)
    w = np.asarray(task.w_star, dtype=np.float64)
    gap, se = _mean_loss_minus_entropy(task, w)
    assert abs(gap) < 4 * se
    params = task.params_dict
    if task.family in ("normal_crossing", "tanh_zero", "mixture"):
        assert np.all(w == 0.0)
    elif task.family in ("reduced_rank", "deep_linear", "deep_linear_scale"):
        r = params["r"] if "r" in params else params["rank"]
        layers = task.model.layers(w)
        assert all(np.linalg.matrix_rank(weight) == r for weight, _ in layers)
        assert np.linalg.matrix_rank(task.model.linear_map(numpy_ops(), w)) == r
    elif task.family == "regular":  # identifiable: the least-squares solution on a large sample is w*
        data = task.dataset(200_000, 1)
        fit, *_ = np.linalg.lstsq(data.x, data.y[:, 0], rcond=None)
        assert np.all(np.abs(fit - w) < 5 * task.noise_std / math.sqrt(200_000))


def test_exact_tasks_have_w_star_reference_tasks_do_not(catalog):
    for task in catalog:
        assert (task.w_star is not None) == (task.kind == "exact")


def test_lookup_with_version_and_close_match(catalog):
    assert catalog.get("rrr/m3-n3-h3-r1@1").key == "rrr/m3-n3-h3-r1@1"
    with pytest.raises(UnknownNameError, match=r"did you mean rrr/m5-n5-h3-r1\?"):
        catalog.get("rrr/m5-n5-h3-rl")
    with pytest.raises(UnknownNameError, match="version 1"):
        catalog.get("rrr/m3-n3-h3-r1@7")


def test_globs_and_suites(catalog):
    assert {t.family for t in catalog.select(["rrr/*"])} == {"reduced_rank"}
    smoke = catalog.select([], "smoke")
    assert 3 <= len(smoke) <= 10
    with pytest.raises(UnknownNameError, match="valid suites"):
        catalog.select([], "huge")


def _write(tmp_path, body, name="extra.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_extra_catalogue_file_and_env_var(tmp_path, monkeypatch):
    path = _write(tmp_path, """
        family = "reduced_rank"
        [[tasks]]
        id = "rrr/m4-n4-h2-r1"
        version = 1
        params = { M = 4, N = 4, H = 2, r = 1 }
        rlct = "5"
        multiplicity = 2
    """)
    assert load_catalog([path]).get("rrr/m4-n4-h2-r1").rlct == 5
    monkeypatch.setenv("SLT_BENCH_CATALOG", str(tmp_path))
    assert "rrr/m4-n4-h2-r1" in load_catalog().tasks


@pytest.mark.parametrize(
    "body, fragment",
    [
        ('family = "reduced_rank"\n[[tasks]]\nid = "rrr/x"\nversion = 1\nparams = { M = 3, N = 3, H = 3, r = 1 }\nrlct = "7/2"\n',
         "disagrees with the exact value 4"),
        ('family = "reduced_rank"\n[[tasks]]\nid = "rrr/x"\nversion = 1\nparams = { M = 3, N = 3, H = 3, r = 5 }\n',
         "r must satisfy"),
        ('family = "nope"\n[[tasks]]\nid = "a/b"\nversion = 1\n', "family must be one of"),
        ('family = "regular"\n[[tasks]]\nid = "regular/x"\nversion = 1\nparams = { d = 2 }\ncolour = 3\n', "unknown keys"),
        ('family = "regular"\n[[tasks]]\nid = "regular/x"\nversion = 0\nparams = { d = 2 }\n', "version must be"),
        ('family = "regular"\n[[tasks]]\nid = "regular/d2"\nversion = 1\nparams = { d = 2 }\n', "already defined"),
        ('family = "regular"\n[[tasks]\n', "not valid TOML"),
        ('family = "murfet2020_s6"\n[[tasks]]\nid = "m/x"\nversion = 1\nparams = { m = 3 }\nkind = "reference"\n', "rlct_ref"),
    ],
)
def test_malformed_catalogue_is_a_clear_error(tmp_path, body, fragment):
    path = _write(tmp_path, body)
    with pytest.raises(CatalogError, match=fragment):
        load_catalog([path])


def test_missing_catalogue_path(tmp_path):
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog([tmp_path / "nothing.toml"])
