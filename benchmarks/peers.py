"""slt-bench against the tools researchers use today, side by side in one run.

* ``sgld`` (slt-bench, default rule and backend) against devinterp 1.3.2's SGLD local learning
  coefficient estimator, on the same task, data, posterior (β = 1/log n, localisation γ = 1
  at w*, the Gaussian prior as devinterp's weight decay), the same step size (the one our rule
  picks) and the same chains × (burn-in + draws). devinterp gets the whole dataset as one
  in-memory batch (a one-element list as its loader), not a stock DataLoader.
* ``nuts`` (numpyro) against ``nuts-pyro`` (pyro) on the seed paper's 21-parameter ReLU network,
  same target, chains, warm-up and draws, dense mass matrix: effective samples of n L_n per second.

* ``--scale``: seconds per minibatch step at 10⁵ and 10⁶ parameters (the scale suite's deep linear
  networks), slt-bench's ``sgld`` and ``rmsprop-sgld`` against devinterp 2.x's ``SGMCMC.sgld`` and
  ``SGMCMC.rmsprop_sgld`` driven by its own ``sample_single_chain`` loop, same batch size and number
  of chains, with the achieved GFLOP/s against a matrix-multiply peak measured in the same run.

Wall times are steady-state: each side runs once untimed first (our JAX kernels compile once per
task shape; that compile time is reported separately). Usage::

    python benchmarks/peers.py                      # print the tables
    python benchmarks/peers.py --write docs/performance.md
    python benchmarks/peers.py --quick              # a smaller grid (one n, fewer steps)
    python benchmarks/peers.py --scale --write docs/performance.md   # devinterp 2.x, the scale section

devinterp is an optional extra: ``pip install -e '.[peers]'`` (``make peers`` does it) for 1.3.2,
``pip install -e '.[devinterp]'`` (what ``make install`` puts in) for 2.x and ``--scale``.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from slt_bench.draws import chain_diagnostics
from slt_bench.estimators import get_estimator
from slt_bench.estimators.base import Posterior, beta0, mean_and_se
from slt_bench.methods import make_method
from slt_bench.target import Budget, TemperedTarget
from slt_bench.tasks import Task, load_catalog

SGLD_TASKS = [
    ("rrr/m3-n3-h3-r1", (1_000, 10_000)),
    ("rrr/m5-n5-h3-r1", (1_000, 10_000)),
    ("rrr/m10-n10-h5-r2", (1_000, 10_000)),
    ("nc/k1-2", (1_000, 10_000)),
    ("nc/k1-3", (1_000, 10_000)),
    ("tanh/h3", (1_000, 10_000)),
    ("murfet2020/relu-m3", (1_000, 10_000)),
]
NUTS_TASK, NUTS_N = "murfet2020/relu-m3", 1_000
# At β = 1/log n the ReLU posterior's trajectories run to numpyro's default depth 10 (1023 leapfrog
# steps a draw); depth 8 keeps pyro's side to minutes. Both samplers get the same cap.
MAX_TREE_DEPTH = 8


# ---- devinterp side ---------------------------------------------------------------------------
def torch_module(task: Task, w: np.ndarray, dtype: Any):
    """The model as a plain torch module at parameters ``w``, the way a devinterp user writes it."""
    import torch
    from torch import nn

    from slt_bench.models.spec import Dense, Monomial

    spec = task.model
    if isinstance(spec, Dense):
        acts = {"identity": None, "tanh": nn.Tanh, "relu": nn.ReLU}
        if spec.activation not in acts:
            raise ValueError(f"no plain torch module for activation {spec.activation!r}")
        layers: list[nn.Module] = []
        pairs = list(zip(spec.widths[:-1], spec.widths[1:]))
        for i, ((h_in, h_out), (weight, bias)) in enumerate(zip(pairs, spec.layers(np.asarray(w)))):
            lin = nn.Linear(h_in, h_out, bias=spec.bias)
            with torch.no_grad():
                lin.weight.copy_(torch.as_tensor(weight))
                if spec.bias:
                    lin.bias.copy_(torch.as_tensor(bias))
            layers.append(lin)
            if i < len(pairs) - 1 and acts[spec.activation] is not None:
                layers.append(acts[spec.activation]())
        return nn.Sequential(*layers).to(dtype)
    if isinstance(spec, Monomial):
        class MonomialModule(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.w = nn.Parameter(torch.as_tensor(np.asarray(w, dtype=float)))

            def forward(self, x):
                coef = torch.prod(self.w ** torch.as_tensor(spec.k, dtype=self.w.dtype))
                return x * coef

        return MonomialModule().to(dtype)
    raise ValueError(f"no plain torch module for {type(spec).__name__}")


def devinterp_llc(task: Task, data, beta: float, gamma: float, w_star: np.ndarray, eps: float,
                  chains: int, burnin: int, draws: int, seed: int) -> dict[str, float]:
    import torch
    from devinterp.optim.sgmcmc import SGMCMC
    from devinterp.slt.sampler import estimate_learning_coeff_with_summary

    dtype = torch.float32
    x = torch.as_tensor(data.x, dtype=dtype)
    y = torch.as_tensor(data.y, dtype=dtype)
    sigma = task.noise_std
    const = 0.5 * y.shape[1] * math.log(2 * math.pi * sigma**2)

    def evaluate(model, batch):
        xb, yb = batch
        return ((yb - model(xb)) ** 2).sum(-1).mean() / (2 * sigma**2) + const

    model = torch_module(task, w_star, dtype)
    loader = _in_memory_loader(x, y)
    with torch.no_grad():
        init_loss = float(evaluate(model, (x, y)))
    start = time.perf_counter()
    with warnings.catch_warnings():  # devinterp warns on every call about settings we chose on purpose
        warnings.simplefilter("ignore")
        out = estimate_learning_coeff_with_summary(
            model, loader=loader, evaluate=evaluate, sampling_method=SGMCMC.sgld,
            optimizer_kwargs=dict(lr=eps, localization=gamma, nbeta=data.n * beta,
                                  weight_decay=1.0 / task.prior.std**2),
            num_chains=chains, num_draws=draws, num_burnin_steps=burnin, cores=1, seed=seed,
            device=torch.device("cpu"), verbose=False, init_loss=init_loss,
        )
    wall = time.perf_counter() - start
    losses = np.asarray(out["loss/trace"], dtype=np.float64)  # chains × draws, mean loss per point
    mean, se = mean_and_se(losses * data.n)
    return {"rlct_hat": beta * (mean - init_loss * data.n), "se": beta * se, "wall_s": wall,
            "ess": chain_diagnostics(losses)["ess"]}


def _in_memory_loader(x, y):
    """The whole dataset as one ready batch: no collation, no per-step indexing (devinterp
    type-checks for a DataLoader, so this is one, with the iteration replaced)."""
    from torch.utils.data import DataLoader, TensorDataset

    class InMemory(DataLoader):
        def __iter__(self):
            yield (x, y)

        def __len__(self):
            return 1

    return InMemory(TensorDataset(x, y), batch_size=len(x))


# ---- slt-bench side ---------------------------------------------------------------------------
def slt_llc(task: Task, data, chains: int, burnin: int, draws: int, seed: int) -> dict[str, float]:
    est = get_estimator("local")
    if task.w_star is not None:
        posts = est.posteriors(task, data)
    else:  # a reference task: localise at the truth
        posts = [Posterior(beta0(data.n), tuple(task.truth), est.gamma)]
    sgld = make_method("sgld", {"chains": chains, "warmup": burnin, "steps": draws})
    post = posts[0]
    compile_start = time.perf_counter()
    sgld.sample(TemperedTarget(task, data, post.beta, post.centre, post.gamma), Budget(1e12), seed + 1)
    first = time.perf_counter() - compile_start
    start = time.perf_counter()
    d = sgld.sample(TemperedTarget(task, data, post.beta, post.centre, post.gamma), Budget(1e12), seed)
    wall = time.perf_counter() - start
    result = est.estimate(task, data, posts, [d])
    found = est.finite_n_target(task, data, posts, result)
    finite = None if found is None or found.status != "exact" else found.value
    return {"rlct_hat": result.rlct_hat, "se": result.se, "wall_s": wall, "first_call_s": first,
            "eps": d.diagnostics["step_size"], "beta": post.beta, "gamma": post.gamma,
            "finite": finite, "ess": d.diagnostics.get("ess", float("nan")), "status": d.status}


@dataclass
class SgldRow:
    task: str
    n: int
    lam: float
    finite: float | None
    ours: dict[str, float]
    theirs: dict[str, float]

    @property
    def speedup(self) -> float:
        return self.theirs["wall_s"] / self.ours["wall_s"]


def sgld_rows(tasks, chains: int, burnin: int, draws: int, seed: int = 0, log=print) -> list[SgldRow]:
    catalog = load_catalog()
    rows = []
    for task_id, ns in tasks:
        task = catalog.get(task_id)
        w_star = np.asarray(task.w_star if task.w_star is not None else task.truth)
        for n in ns:
            data = task.dataset(n, seed)
            ours = slt_llc(task, data, chains, burnin, draws, seed)
            devinterp_llc(task, data, ours["beta"], ours["gamma"], w_star, ours["eps"], chains, 10, 10, seed + 1)
            theirs = devinterp_llc(task, data, ours["beta"], ours["gamma"], w_star, ours["eps"], chains, burnin,
                                   draws, seed)
            lam = task.rlct_value if task.rlct_value is not None and task.kind == "exact" else float("nan")
            row = SgldRow(task.id, n, lam, ours["finite"], ours, theirs)
            rows.append(row)
            log(f"  {task.id:20s} n={n:<6d} slt {ours['wall_s']:7.2f}s  devinterp {theirs['wall_s']:7.2f}s  "
                f"x{row.speedup:6.1f}  λ̂ {ours['rlct_hat']:.3f}±{ours['se']:.3f} vs {theirs['rlct_hat']:.3f}±{theirs['se']:.3f}")
    return rows


def nuts_rows(chains: int, warmup: int, samples: int, seed: int = 0, log=print) -> list[dict[str, Any]]:
    task = load_catalog().get(NUTS_TASK)
    data = task.dataset(NUTS_N, seed)
    beta = beta0(NUTS_N)
    rows = []
    for method in ("nuts", "nuts-pyro"):
        hyper = {"chains": chains, "warmup": warmup, "samples": samples, "target_accept": 0.9, "dense_mass": True,
                 "max_tree_depth": MAX_TREE_DEPTH}
        sampler = make_method(method, hyper)
        first = float("nan")
        if method == "nuts":  # numpyro compiles once per task shape: time that separately (pyro has nothing to warm)
            t0 = time.perf_counter()
            sampler.sample(TemperedTarget(task, data, beta * 1.01), Budget(1e12), seed + 1)
            first = time.perf_counter() - t0
        d = sampler.sample(TemperedTarget(task, data, beta), Budget(1e12), seed)
        diag = d.diagnostics
        row = {"method": method, "wall_s": d.wall_s, "first_call_s": first, "ess": diag.get("ess", float("nan")),
               "grad_evals": d.grad_evals, "divergences": diag.get("divergences"), "status": d.status,
               "mean_n_loss": float(np.mean(d.n_loss))}
        row["ess_per_s"] = row["ess"] / row["wall_s"]
        rows.append(row)
        log(f"  {method:10s} {row['wall_s']:7.1f}s  ESS {row['ess']:7.0f}  ESS/s {row['ess_per_s']:8.1f}  "
            f"grad evals {row['grad_evals']:.0f}  divergences {row['divergences']}  status {d.status}")
    return rows


# ---- scale: seconds per step against devinterp 2.x ----------------------------------------------
SCALE_TASKS = ("dls/d100k", "dls/d1m")
SCALE_N, SCALE_CHAINS, SCALE_BATCH = 100_000, 4, 500
SCALE_START, SCALE_END = "<!-- scale:start -->", "<!-- scale:end -->"


def matmul_peak(repeats: int = 10, size: int = 2048) -> dict[str, float]:
    """GFLOP/s of a square matrix product (2·size³ flops), best of ``repeats``: JAX (jit) in float32 and
    float64, torch in float32 — the hardware limit the samplers' minibatch gradients are compared to."""
    import jax
    import jax.numpy as jnp
    import torch

    out = {}
    for dtype in ("float32", "float64"):
        a = jnp.ones((size, size), dtype)
        f = jax.jit(lambda u, v: u @ v)
        f(a, a).block_until_ready()
        best = math.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            f(a, a).block_until_ready()
            best = min(best, time.perf_counter() - t0)
        out[f"jax {dtype}"] = 2 * size**3 / best / 1e9
    t = torch.ones(size, size)
    t @ t
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        t @ t
        best = min(best, time.perf_counter() - t0)
    out["torch float32"] = 2 * size**3 / best / 1e9
    return out


def step_flops(task: Task, batch: int, chains: int) -> float:
    """Flops of the matrix products in one minibatch step of ``chains`` chains of a dense network:
    2·b·P forward, 2·b·P for the weight gradients and 2·b·(P − P₁) for the gradients with respect to
    each layer's input (none for the data), P the weights and P₁ the first layer's. The elementwise
    update, the noise and the data are not counted: a floor on the work a step does."""
    widths = task.model.widths
    layers = [a * b for a, b in zip(widths[:-1], widths[1:])]
    return 2.0 * batch * chains * (2 * sum(layers) + sum(layers[1:]))


def slt_step_seconds(task: Task, data: Any, method: str, precision: str, steps: int) -> dict[str, float]:
    """Steady-state seconds per step of ``method`` (all chains), as the difference of a run of 2·steps and
    one of ``steps`` (the full-batch n L_n at the end, the set-up and the compile cancel)."""
    est = get_estimator("local")
    (post,) = est.posteriors(task, data)
    target = TemperedTarget(task, data, post.beta, post.centre, post.gamma)
    target.n_loss_numpy(target.initial_point())  # the sufficient statistics, once, outside the timing
    walls = {}
    for count in (steps, 2 * steps):
        hyper = {"chains": SCALE_CHAINS, "warmup": 0, "steps": count, "thin": count, "batch_size": SCALE_BATCH,
                 "step_size": 1e-9, "precision": precision}
        if method == "sgld":
            hyper["warmup"] = 10  # its step rule's warm-up: the same in both runs, so it cancels
        sampler = make_method(method, hyper)
        t0 = time.perf_counter()
        sampler.sample(target, Budget(1e15), 0)  # compiles
        first = time.perf_counter() - t0
        walls[count] = math.inf
        for repeat in range(2):  # best of two: a difference of two walls is fragile otherwise
            t0 = time.perf_counter()
            draws = sampler.sample(target, Budget(1e15), 1 + repeat)
            walls[count] = min(walls[count], time.perf_counter() - t0)
        if draws.status != "ok":
            raise RuntimeError(f"{method} on {task.id}: {draws.status} ({draws.reason})")
    return {"s_per_step": (walls[2 * steps] - walls[steps]) / steps, "first_call_s": first}


def devinterp_step_seconds(task: Task, data: Any, sampler: str, steps: int, points: int = 10_000) -> dict[str, float]:
    """Seconds per step of devinterp 2.x's ``SGMCMC.<sampler>`` in its own chain loop
    (``devinterp.slt.sampler.sample_single_chain``: a DataLoader over a torch Dataset, chains one after
    another), float32 as devinterp runs, the same posterior settings (nβ = β n, localisation γ = 1,
    weight decay 1/σ²), as the difference of 2·steps and ``steps`` draws over all chains. ``points`` of
    the task's data (the first ones) are held for its loader: a step's cost does not depend on n."""
    import torch
    from devinterp.optim import SGMCMC
    from devinterp.slt.sampler import sample_single_chain

    x, y = data.points(0, points)
    xy = torch.as_tensor(np.concatenate([x, y], axis=1), dtype=torch.float32)
    d_in = x.shape[1]

    class Points(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return points

        def __getitem__(self, i: int) -> dict[str, Any]:
            return {"input_ids": xy[i]}  # devinterp's loop moves the batch's "input_ids" to the device

    sigma = task.noise_std

    def evaluate(model, batch):
        b = batch["input_ids"]
        return ((b[:, d_in:] - model(b[:, :d_in])) ** 2).sum(-1) / (2 * sigma**2), {}

    model = torch_module(task, np.asarray(task.w_star), torch.float32)
    masks = {name: None for name, _ in model.named_parameters()}
    factory = getattr(SGMCMC, sampler)
    kwargs = dict(lr=1e-9, nbeta=data.n / math.log(data.n), localization=1.0, weight_decay=1.0 / task.prior.std**2)
    walls = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for count in (2, steps, 2 * steps):  # the first: warm the allocator, untimed
            t0 = time.perf_counter()
            for chain in range(SCALE_CHAINS):
                sample_single_chain(model, Points(), evaluate, masks, num_draws=count, sampling_method=factory,
                                    sampling_method_kwargs=kwargs, chain=chain, seed=chain, batch_size=SCALE_BATCH)
            walls[count] = time.perf_counter() - t0
    return {"s_per_step": (walls[2 * steps] - walls[steps]) / steps}


def scale_rows(steps: dict[str, int], log=print) -> list[dict[str, Any]]:
    catalog = load_catalog()
    rows = []
    for task_id in SCALE_TASKS:
        task = catalog.get(task_id)
        data = task.dataset(SCALE_N, 0)
        flops = step_flops(task, SCALE_BATCH, SCALE_CHAINS)
        count = steps[task_id]
        for ours, theirs in (("sgld", "sgld"), ("rmsprop-sgld", "rmsprop_sgld")):
            dv = devinterp_step_seconds(task, data, theirs, count)
            row = {"task": task_id, "params": task.n_params, "flops": flops, "ours": ours, "theirs": theirs,
                   "devinterp_s": dv["s_per_step"]}
            for precision in ("float32", "float64"):
                mine = slt_step_seconds(task, data, ours, precision, count)
                row[f"{precision}_s"] = mine["s_per_step"]
                row[f"{precision}_first_s"] = mine["first_call_s"]
            rows.append(row)
            log(f"  {task_id:10s} {ours:13s} float32 {row['float32_s'] * 1e3:8.1f} ms  float64 "
                f"{row['float64_s'] * 1e3:8.1f} ms  devinterp {theirs} {row['devinterp_s'] * 1e3:8.1f} ms  "
                f"x{row['devinterp_s'] / row['float32_s']:.2f} (float32)")
    return rows


def scale_markdown(rows: list[dict[str, Any]], peak: dict[str, float], steps: dict[str, int], command: str) -> str:
    lines = [
        SCALE_START,
        "## At scale: seconds per minibatch step against devinterp 2.x",
        "",
        f"Produced by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC ({_cpu_count()} cores; "
        f"devinterp {_version('devinterp')}, torch {_version('torch')}, jax {_version('jax')}). The scale suite's "
        f"deep linear networks, n = {SCALE_N:,}, {SCALE_CHAINS} chains, minibatches of {SCALE_BATCH}, the local "
        "posterior (β = 1/log n, γ = 1 at w*). slt-bench: its method with `precision` float32 (the "
        "minibatch likelihood, its gradient and the injected noise in float32, as devinterp computes) and "
        "float64 (the default), chains vmapped in one compiled loop, the data held as blocks of the stream. "
        "devinterp: its `SGMCMC.sgld` / `SGMCMC.rmsprop_sgld` in its own loop (`sample_single_chain`, a "
        "DataLoader over a torch Dataset, chains one after another), float32. Seconds per step of all "
        f"chains, steady state, from the difference of runs of {', '.join(f'{s} and {2 * s}' for s in dict.fromkeys(steps.values()))} steps. "
        "GFLOP/s counts the matrix products of the forward and backward pass only (per chain and step "
        "2·b·P forward, 2·b·P weight gradients, 2·b·(P − P₁) input gradients; P the weights, P₁ the first "
        "layer's), a floor on the work done, set against the float32 matrix-multiply peak (a 2048² product, "
        "best of 10) measured in the same run: "
        + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peak.items()) + ".",
        "",
        "| task | parameters | slt-bench method | float32 ms/step | float64 ms/step | devinterp sampler | devinterp ms/step | speed-up (float32) | speed-up (float64) | slt-bench float32 GFLOP/s (% of peak) | devinterp GFLOP/s (% of peak) |",
        "|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    jpeak, tpeak = peak["jax float32"], peak["torch float32"]
    for r in rows:
        ours_g = r["flops"] / r["float32_s"] / 1e9
        theirs_g = r["flops"] / r["devinterp_s"] / 1e9
        lines.append(
            f"| {r['task']} | {r['params']:,} | {r['ours']} | {r['float32_s'] * 1e3:.1f} | {r['float64_s'] * 1e3:.1f} | "
            f"{r['theirs']} | {r['devinterp_s'] * 1e3:.1f} | ×{r['devinterp_s'] / r['float32_s']:.2f} | "
            f"×{r['devinterp_s'] / r['float64_s']:.2f} | {ours_g:.0f} ({100 * ours_g / jpeak:.0f}%) | "
            f"{theirs_g:.0f} ({100 * theirs_g / tpeak:.0f}%) |")
    lines += ["", SCALE_END]
    return "\n".join(lines)


# ---- report -----------------------------------------------------------------------------------
def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def markdown(sgld: list[SgldRow], nuts: list[dict[str, Any]], command: str, config: dict[str, int]) -> str:
    lines = [
        "# Performance: slt-bench against its peers",
        "",
        f"Produced by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; "
        f"{platform.machine()}, {platform.system()}, {_cpu_count()} cores, Python {platform.python_version()}; "
        f"slt-bench {_version('slt-bench')}, devinterp {_version('devinterp')}, torch {_version('torch')}, "
        f"jax {_version('jax')}, numpyro {_version('numpyro')}, pyro-ppl {_version('pyro-ppl')}.",
        "",
        "## SGLD: slt-bench `sgld` against devinterp's SGLD LLC estimator",
        "",
        f"Same task, data (seed 0), posterior (β = 1/log n, γ = 1 at w*, prior N(0, 1) as weight decay), "
        f"step size (slt-bench's rule), {config['chains']} chains × ({config['burnin']} burn-in + "
        f"{config['draws']} draws). slt-bench counts its MALA warm-up as the burn-in. devinterp gets the "
        "data as one in-memory float32 batch (a DataLoader subclass that yields the whole dataset). Times are steady state; slt-bench's first call on a new task "
        "shape also compiles (column *first call*). λ̂ is the local learning coefficient; its SE is from the "
        "ESS of n L_n. *finite-n* is the exact value of that estimator for this dataset by quadrature "
        "(tasks with ≤ 3 parameters). λ is shown for exact tasks only: the seed paper's ReLU network has a "
        "reference value for the global λ, not for this local estimate at the truth.",
        "",
        "| task | n | λ | finite-n | slt-bench λ̂ ± SE | devinterp λ̂ ± SE | slt-bench s | first call s | devinterp s | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sgld:
        fin = f"{r.finite:.3f}" if r.finite is not None else "–"
        lam = f"{r.lam:.3f}" if math.isfinite(r.lam) else "–"
        lines.append(
            f"| {r.task} | {r.n} | {lam} | {fin} | {r.ours['rlct_hat']:.3f} ± {r.ours['se']:.3f} | "
            f"{r.theirs['rlct_hat']:.3f} ± {r.theirs['se']:.3f} | {r.ours['wall_s']:.2f} | "
            f"{r.ours['first_call_s']:.2f} | {r.theirs['wall_s']:.2f} | ×{r.speedup:.1f} |"
        )
    lines += ["", _speedup_summary(sgld), ""]
    if nuts:
        a, b = nuts
        lines += [
            "## NUTS: numpyro (`nuts`) against pyro (`nuts-pyro`)",
            "",
            f"The seed paper's 21-parameter ReLU network ({NUTS_TASK}, n = {NUTS_N}), β = 1/log n, dense mass "
            f"matrix, target acceptance 0.9, maximum tree depth {MAX_TREE_DEPTH}, {config['nuts_chains']} chain(s) × ({config['nuts_warmup']} warm-up + "
            f"{config['nuts_samples']} draws). ESS is the effective sample size of n L_n (numpyro.diagnostics).",
            "",
            "| method | wall s | first call s | ESS | ESS/s | gradient evaluations | divergences | status |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in nuts:
            first = f"{r['first_call_s']:.1f}" if math.isfinite(r["first_call_s"]) else "–"
            lines.append(f"| {r['method']} | {r['wall_s']:.1f} | {first} | {r['ess']:.0f} | "
                         f"{r['ess_per_s']:.1f} | {r['grad_evals']:.0f} | {r['divergences']} | {r['status']} |")
        per_grad = (a["grad_evals"] / a["wall_s"]) / (b["grad_evals"] / b["wall_s"])
        lines += ["", f"numpyro delivers **×{a['ess_per_s'] / b['ess_per_s']:.1f}** the effective samples per second "
                  f"of pyro on the same target (×{per_grad:.1f} the gradient evaluations per second; the two run the "
                  "same algorithm, so the ESS per gradient differs only by Monte Carlo noise).", ""]
    return "\n".join(lines)


def _speedup_summary(rows: list[SgldRow]) -> str:
    def fam(prefix):
        vals = [r.speedup for r in rows if r.task.startswith(prefix)]
        return f"×{min(vals):.1f}–×{max(vals):.1f}" if vals else "–"

    return (f"Speed-up at equal chains × steps: reduced rank regression {fam('rrr/')}, normal crossings "
            f"{fam('nc/')}, tanh network {fam('tanh/')}, the seed paper's ReLU network {fam('murfet2020/')}.")


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="slt-bench against devinterp and pyro, side by side")
    parser.add_argument("--write", default=None, help="write the Markdown report here")
    parser.add_argument("--quick", action="store_true", help="n = 1000 only and shorter chains")
    parser.add_argument("--no-nuts", action="store_true", help="skip the numpyro/pyro comparison")
    parser.add_argument("--nuts-samples", type=int, default=2400, help="draws per chain in the NUTS comparison")
    parser.add_argument("--scale", action="store_true",
                        help="only the scale section: seconds per step at 10⁵ and 10⁶ parameters against devinterp 2.x")
    args = parser.parse_args(argv)
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("devinterp")
    except PackageNotFoundError:
        found = "not installed"
    if args.scale:
        return _main_scale(args, found)
    if not found.startswith("1."):
        print(f"error: this comparison runs devinterp 1.3.2's LLC estimator, found devinterp {found}; "
              "`pip install -e '.[peers]'` (or `make peers`, which puts 2.x back afterwards)", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(1)
    config = {"chains": 4, "burnin": 500, "draws": 2000, "nuts_chains": 2, "nuts_warmup": 300,
              "nuts_samples": args.nuts_samples}
    tasks = SGLD_TASKS
    if args.quick:
        config.update(burnin=200, draws=500, nuts_chains=1, nuts_warmup=100, nuts_samples=200)
        tasks = [(t, (1_000,)) for t, _ in SGLD_TASKS]
    print("SGLD: slt-bench vs devinterp")
    sgld = sgld_rows(tasks, config["chains"], config["burnin"], config["draws"])
    print(_speedup_summary(sgld))
    nuts = [] if args.no_nuts else (print("NUTS: numpyro vs pyro") or
                                    nuts_rows(config["nuts_chains"], config["nuts_warmup"], config["nuts_samples"]))
    command = "python benchmarks/peers.py" + (" --quick" if args.quick else "") + (" --no-nuts" if args.no_nuts else "")
    if args.write:
        with open(args.write, "w") as handle:
            handle.write(markdown(sgld, nuts, command + f" --write {args.write}", config) + "\n")
        print(f"wrote {args.write}")
    return 0


def _main_scale(args: argparse.Namespace, found: str) -> int:
    if not found.startswith("2."):
        print(f"error: --scale compares with devinterp 2.x, found devinterp {found}; `pip install -e '.[devinterp]'`",
              file=sys.stderr)
        return 2
    steps = {"dls/d100k": 20 if args.quick else 100, "dls/d1m": 5 if args.quick else 60}
    print("matrix-multiply peak")
    peak = matmul_peak()
    print("  " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peak.items()))
    print("seconds per step: slt-bench vs devinterp 2.x")
    rows = scale_rows(steps)
    command = "python benchmarks/peers.py --scale" + (" --quick" if args.quick else "")
    block = scale_markdown(rows, peak, steps, command + (f" --write {args.write}" if args.write else ""))
    if args.write:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script
        from benchmarks.common import splice

        splice(args.write, SCALE_START, SCALE_END, block)
        print(f"wrote the scale section of {args.write}")
    else:
        print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
