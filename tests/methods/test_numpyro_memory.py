"""The numpyro kernels' sampling scan keeps only the kept positions: its working memory does not grow with
``thin`` (at 10³ parameters and 10⁶ transitions the old scan held every transition's position, 11 GB)."""

from __future__ import annotations

from slt_bench.target import TemperedTarget


def test_the_draw_scans_memory_does_not_grow_with_thin(catalog):
    """XLA's own accounting of the compiled sampling scan (temporary buffers) at thin 1 and thin 1,000 for 100
    kept draws on rrr/m3-n3-h3-r1 (d = 18): the difference must stay below one d-vector per kept draw
    (100 × 18 × 8 B = 14.4 kB), where holding every transition's position would add 100 × 999 × 18 × 8 B
    (14.4 MB)."""
    import jax
    import jax.numpy as jnp

    from slt_bench.methods import _numpyro

    task = catalog.get("rrr/m3-n3-h3-r1")
    target = TemperedTarget(task, task.dataset(1000, 0), 0.1, task.w_star, 1.0)
    static, args = target.jax_parts()
    options = tuple(sorted({"num_steps": 1, "trajectory_length": None, "step_size": 0.01, "adapt_step_size": False,
                            "adapt_mass_matrix": False}.items()))
    temp = {}
    for thin in (1, 1000):
        warm, draw = _numpyro._compiled(static, "HMC", options, 0, 100, thin)
        state, _ = warm(jax.random.PRNGKey(0), jnp.asarray(target.initial_point()), args)
        temp[thin] = draw.lower(state, args).compile().memory_analysis().temp_size_in_bytes
    assert temp[1000] - temp[1] < 100 * target.dim * 8, temp
