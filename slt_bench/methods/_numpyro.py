"""Shared harness for numpyro kernels (NUTS, MALA): chains, warm-up, budget, diagnostics."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from slt_bench.draws import Draws, chain_diagnostics, numerical_status
from slt_bench.errors import BudgetExceeded
from slt_bench.target import Budget, TemperedTarget


def run_kernel(
    target: TemperedTarget,
    budget: Budget,
    seed: int,
    make_kernel: Callable[[Callable[[Any], Any]], Any],
    chains: int,
    warmup: int,
    samples: int,
    thin: int,
    chunks: int,
    max_divergence_rate: float,
    keep_params: bool,
) -> Draws:
    """Run ``chains`` sequential chains of a numpyro kernel on the target's potential −log p_β.

    Warm-up, then sampling in ``chunks`` pieces; each leapfrog step is one gradient evaluation,
    charged to the target after each piece, so a run stops at the first piece past its budget.
    """
    import jax
    import jax.numpy as jnp
    from numpyro.infer import MCMC

    start = time.perf_counter()
    logdensity = target.logdensity_jax_fn()
    kernel = make_kernel(lambda z: -logdensity(z))
    per_chunk = max(1, -(-samples // chunks))
    mcmc = MCMC(kernel, num_warmup=warmup, num_samples=per_chunk, num_chains=chains, thinning=thin,
                chain_method="sequential", progress_bar=False)
    z0 = np.broadcast_to(target.initial_point(), (chains, target.dim)).copy()
    init = jnp.asarray(z0[0] if chains == 1 else z0)  # numpyro reads a leading axis as chains only when > 1
    key = jax.random.PRNGKey(int(seed))
    nl_fn = jax.jit(jax.vmap(jax.vmap(target.n_loss_of_z_jax_fn())))
    pieces, params, divergent, steps_total, accept = [], [], 0, 0, []
    status, reason = "ok", ""
    with target.metered(budget):
        try:
            mcmc.warmup(key, init_params=init, extra_fields=("num_steps",), collect_warmup=True)
            target.charge(float(np.sum(mcmc.get_extra_fields(group_by_chain=True)["num_steps"])))
            drawn = 0
            while drawn < samples:
                mcmc.post_warmup_state = mcmc.last_state
                mcmc.run(mcmc.post_warmup_state.rng_key, extra_fields=("num_steps", "diverging", "accept_prob"))
                extra = mcmc.get_extra_fields(group_by_chain=True)
                steps = float(np.sum(extra["num_steps"]))
                steps_total += steps
                target.charge(steps)
                z = mcmc.get_samples(group_by_chain=True)
                z = z.reshape(chains, -1, target.dim)
                pieces.append(np.asarray(nl_fn(z)))
                if keep_params:
                    params.append(target.constrain_numpy(np.asarray(z)))
                divergent += int(np.sum(extra["diverging"]))
                accept.append(float(np.mean(extra["accept_prob"])))
                drawn += per_chunk
        except BudgetExceeded as err:
            status, reason = "budget_exceeded", str(err)
        grad_evals = target.grad_evals
    n_loss = np.concatenate(pieces, axis=1) if pieces else np.full((chains, 0), np.nan)
    diag: dict[str, Any] = {"divergences": divergent, "accept_prob": float(np.mean(accept)) if accept else float("nan")}
    n_draws = n_loss.size
    if n_draws:
        diag["divergence_rate"] = divergent / n_draws
        diag["mean_tree_steps"] = steps_total / n_draws
    if status == "ok":
        status, reason = numerical_status(n_loss)
    if status == "ok" and n_draws and divergent / n_draws > max_divergence_rate:
        status, reason = "diverged", f"{divergent} of {n_draws} transitions diverged (limit {max_divergence_rate:.0%})"
    if n_loss.shape[1] > 0 and status in ("ok", "diverged"):
        diag.update(chain_diagnostics(n_loss))
    return Draws(n_loss, grad_evals, time.perf_counter() - start, status, reason, diag,
                 np.concatenate(params, axis=1) if params else None)
