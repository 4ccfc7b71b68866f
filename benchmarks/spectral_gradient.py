"""What a gradient of the collapsed marginal costs, in W_1's own coordinates and in spectral ones.

For each two-layer task: the compiled value-and-gradient of the marginal of W_1 (``collapse``) and of
Φ (``collapse`` + ``spectral``) at the first posterior of the standard grid (β₀, dataset seed 0, the
task's n), at one fixed point. The figure is the fastest of ``--repeats`` blocks of ``--calls`` calls,
in CPU time of this process, per call; the count of eigendecompositions in the compiled spectral
gradient is printed beside it. Run it on an idle machine: between rounds on one machine the figures
still scatter by up to a quarter. To compare two commits, run it in a checkout of each.

    python benchmarks/spectral_gradient.py [--task rrr/m3-n3-h3-r1 ...] [--repeats 25] [--calls 300]
"""

from __future__ import annotations

import argparse
import re
import time

TASKS = ("rrr/m2-n2-h6-r1", "rrr/m3-n3-h3-r1", "rrr/m5-n5-h3-r1", "rrr/m10-n10-h5-r2")


def _fastest(fn, z, repeats: int, calls: int) -> float:
    fn(z)[0].block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(calls):
            out = fn(z)
        out[0].block_until_ready()
        best = min(best, (time.process_time() - start) / calls)
    return best


def measure(key: str, repeats: int, calls: int) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    from slt_bench import reference as ref
    from slt_bench.methods import _collapse
    from slt_bench.target import TemperedTarget
    from slt_bench.tasks import load_catalog

    task = load_catalog().get(key)
    data = task.dataset(task.n, 0)
    posterior = ref.posteriors_for(task, data)[0]
    static, args = TemperedTarget(task, data, posterior.beta, posterior.centre, posterior.gamma).jax_parts()
    z = jnp.asarray(np.random.default_rng(0).normal(size=_collapse.theta_dim(task.model)))
    plain = jax.jit(jax.value_and_grad(lambda x: _collapse.logdensity(static, x, args)))
    spectral = jax.jit(jax.value_and_grad(lambda x: _collapse.spectral_logdensity(static, x, args)))
    hlo = spectral.lower(z).compile().as_text()
    return {"task": key, "plain_us": 1e6 * _fastest(plain, z, repeats, calls),
            "spectral_us": 1e6 * _fastest(spectral, z, repeats, calls),
            "eigendecompositions": len(re.findall(r'custom_call_target="[^"]*(?:syev|eigh|Eigh)[^"]*"', hlo))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", action="append", help="a two-layer linear task (repeatable)")
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--calls", type=int, default=300)
    opts = parser.parse_args(argv)
    print("| task | collapsed (µs) | spectral (µs) | ratio | eigendecompositions per spectral gradient |")
    print("|---|---:|---:|---:|---:|")
    for key in opts.task or TASKS:
        r = measure(key, opts.repeats, opts.calls)
        print(f"| {r['task']} | {r['plain_us']:.1f} | {r['spectral_us']:.1f} | "
              f"{r['spectral_us'] / r['plain_us']:.2f} | {r['eigendecompositions']} |")


if __name__ == "__main__":
    main()
