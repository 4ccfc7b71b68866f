"""Tempered sequential Monte Carlo (BlackJAX): one run from the prior through every β of the grid.

The path starts from exact draws of the prior φ (``Prior.sample_z``). A localised posterior (γ > 0)
first tempers the localisation in, exp(−a γ/2 ||w − w*||²) with a from 0 to 1, then the likelihood,
exp(−β n L_n) with β from 0 to the largest β asked for. Each stage is BlackJAX's tempered SMC
step (``blackjax.smc.tempered.build_kernel``): systematic resampling, ``mutations`` HMC moves of
``leapfrog`` steps at the current temperature, reweighting to the next. The next temperature is
the largest that keeps the conditional ESS of the weights (Zhou, Johansen & Aston 2016) at
``target_ess`` × particles, capped at the next β of the grid, so every β asked for is landed on
exactly. The HMC kernel is re-tuned between stages: its diagonal inverse mass matrix is the
weighted variance of the particles, its step size moves by exp(acceptance − ``target_accept``).

Draws at a β are the particles just after their moves at that β (equally weighted: the moves
follow a resampling), one row per independent run (``runs``): R-hat compares the runs, and the
ESS of n L_n along the particle index counts the copies a resampling left side by side (BlackJAX's
systematic resampling keeps copies of one ancestor adjacent). The log evidence
log ∫ φ(w) e^{−β n L_n(w) − γ/2 ||w − w*||²} dw (φ normalised) is accumulated on the way and
stored with each β, per run and averaged.

The draws at neighbouring β share ancestors, so their errors are positively correlated; the
multi-β fit treats them as independent, which overstates the SE of its slope (a shift common to all
β cancels in a slope): its SE is conservative for this method.

Cost, in gradient evaluations of n L_n per particle and stage: ``mutations`` × ``leapfrog`` for
the moves, plus one gradient when a move starts and three evaluations of n L_n without a gradient
(the weights, the next temperature, the draws), each counted as a whole gradient: an upper bound.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Sequence

import numpy as np

from slt_bench.draws import Draws, finish_status
from slt_bench.errors import SltBenchError
from slt_bench.methods._validate import open_unit, positive_ints
from slt_bench.target import Budget, JaxStatic, TemperedTarget, jax_n_loss, jax_rest_logdensity

_EVALS_PER_STAGE = 4  # the move's first gradient, weights, next temperature, draws (see the module docstring)
_MIN_STEP, _MAX_STEP = 1e-5, 2.0
_PROBE, _MAX_PROBES = 128, 30  # particles and rounds of the step-size search before each stage
_BATCH_POINTS = 100_000  # particles moved at once × data points, when the data are in the potential


@lru_cache(maxsize=32)
def _compiled(static: JaxStatic, mutations: int, leapfrog: int, batch: int):
    """{phase: (stage, probe, loglik)}: jitted pieces for one task shape, phases "loc" (the localisation
    tempered in, at β = 0) and "lik" (the likelihood tempered in). ``batch`` > 0 moves the particles
    ``batch`` at a time (``lax.map``) instead of all at once: with the data in the potential, a
    vmap over a thousand particles makes arrays of particles × n and runs 4–5× slower a gradient."""
    import blackjax
    import jax
    import jax.numpy as jnp
    from blackjax.smc import resampling, tempered

    def parts(phase, args):
        if phase == "loc":  # log prior without localisation; "likelihood" −||w − w*||²/2, tempered by a·γ
            free = {**args, "gamma": jnp.zeros_like(args["gamma"])}
            return (lambda z: jax_rest_logdensity(static, z, free),
                    lambda z: -0.5 * ((_constrained(static, z) - args["centre"]) ** 2).sum(-1))
        return (lambda z: jax_rest_logdensity(static, z, args), lambda z: -jax_n_loss(static, z, args))

    def over(fn, z):
        return jax.lax.map(fn, z, batch_size=batch) if batch else jax.vmap(fn)(z)

    def build(phase):
        def stage(key, state, lam_next, step_size, inv_mass, args):
            logprior, loglik = parts(phase, args)
            kernel = tempered.build_kernel(logprior, loglik, blackjax.hmc.build_kernel(), blackjax.hmc.init,
                                           resampling.systematic, batch_size=batch)
            params = {"step_size": step_size[None], "inverse_mass_matrix": inv_mass[None],
                      "num_integration_steps": jnp.array([leapfrog])}
            new, info = kernel(key, state, mutations, lam_next, params)
            upd = info.update_info
            return new, info.log_likelihood_increment, upd.acceptance_rate.mean(), upd.is_divergent.sum()

        def probe(key, z, lam, step_size, inv_mass, args):
            """(mean acceptance, share divergent) of one HMC move from each of the particles ``z`` at λ."""
            logprior, loglik = parts(phase, args)

            def logdensity(x):
                return logprior(x) + lam * loglik(x)

            move = blackjax.hmc.build_kernel()
            keys = jax.random.split(key, z.shape[0])

            def one(pair):
                k, x = pair
                _, info = move(k, blackjax.hmc.init(x, logdensity), logdensity, step_size, inv_mass, leapfrog)
                return info.acceptance_rate, info.is_divergent.astype(float)

            acc, div = over(one, (keys, z))
            return acc.mean(), div.mean()

        def loglik(z, args):
            return over(parts(phase, args)[1], z)

        return jax.jit(stage), jax.jit(probe), jax.jit(loglik)

    return {"loc": build("loc"), "lik": build("lik")}


def _constrained(static: JaxStatic, z: Any) -> Any:
    from slt_bench.models.ops import jax_ops

    return static.prior.constrain(jax_ops(), z)[0]


def next_temperature(loglik: np.ndarray, log_w: np.ndarray, lam: float, cap: float, target_ess: float) -> float:
    """The largest λ' ≤ ``cap`` whose conditional ESS, N (Σ W_i G_i)² / Σ W_i G_i² with
    G_i = exp((λ' − λ) ℓ_i) and W the current normalised weights, is at least ``target_ess`` × N.

    Non-finite ℓ_i get weight zero. Bisection on δ = λ' − λ to a relative precision of 1e-10.
    """
    ok = np.isfinite(loglik)
    if not ok.any():
        raise FloatingPointError("the log likelihood is not finite at any particle")
    ll = np.where(ok, loglik, -np.inf)
    w = np.exp(log_w - np.max(log_w))
    w = w / w.sum()

    def cess(delta: float) -> float:
        a = delta * (ll - ll[ok].max())
        g = np.exp(a)  # ≤ 1, zero where ℓ is not finite
        first, second = (w * g).sum(), (w * g * g).sum()
        return float(first * first / second) if second > 0 else 0.0

    full = cap - lam
    if cess(full) >= target_ess:
        return cap
    low, high = 0.0, full
    for _ in range(200):
        mid = 0.5 * (low + high)
        if cess(mid) >= target_ess:
            low = mid
        else:
            high = mid
        if high - low <= 1e-10 * high:
            break
    return lam + max(low, 1e-12 * max(full, 1.0))


@dataclass
class _Segment:
    """What one run did between two β of the grid, and the draws it left at the second."""

    n_loss: np.ndarray | None = None
    params: np.ndarray | None = None
    log_evidence: float = float("nan")
    grad_evals: float = 0.0
    wall_s: float = 0.0
    stages: int = 0
    accept: list[float] | None = None
    divergent: int = 0
    transitions: int = 0
    step_size: float = float("nan")


@dataclass(frozen=True)
class SMC:
    runs: int = 4
    particles: int = 1000
    mutations: int = 10
    leapfrog: int = 10
    target_ess: float = 0.5
    target_accept: float = 0.8
    max_stages: int = 2000
    max_divergence_rate: float = 0.01
    keep_params: bool = False

    name: ClassVar[str] = "smc"

    def __post_init__(self) -> None:
        positive_ints(self, "runs", "particles", "mutations", "leapfrog", "max_stages")
        open_unit(self, "target_ess")
        open_unit(self, "target_accept")
        if self.particles < 4:
            raise ValueError(f"particles must be at least 4, got {self.particles}")

    def check_task(self, task: Any) -> None:
        prior = task.prior
        if prior.exponents and any(prior.exponents[j] for j, _, _ in prior.bounds):
            raise SltBenchError(f"{task.key}: smc starts from exact prior draws, and a bounded coordinate with a "
                                "prior exponent has none; valid: priors whose bounded coordinates have exponent 0")

    def sample(self, target: TemperedTarget, budget: Budget, seed: int) -> Draws:
        return self.sample_path([target], budget, seed)[0]

    def sample_path(self, targets: Sequence[TemperedTarget], budget: Budget, seed: int) -> list[Draws]:
        """Draws at every target's β from one tempering path per run (targets of one dataset, one centre
        and one γ); ``budget`` is per posterior, so the path may spend ``len(targets)`` × it."""
        first = targets[0]
        for t in targets[1:]:
            same_centre = (t.centre is None and first.centre is None) or (
                t.centre is not None and first.centre is not None and np.array_equal(t.centre, first.centre))
            if t.task is not first.task or t.data is not first.data or t.gamma != first.gamma or not same_centre:
                raise SltBenchError("smc samples one tempering path: the posteriors must share task, data, centre and γ")
        self.check_task(first.task)
        order = sorted(range(len(targets)), key=lambda i: targets[i].beta)
        path = [targets[i] for i in order]
        total_budget = budget.grad_evals * len(targets)
        spent = 0.0
        segments: list[list[_Segment]] = [[] for _ in path]
        status, reason = "ok", ""
        for r in range(self.runs):
            try:
                done = self._run(path, int(seed), r, total_budget - spent)
            except _Stopped as stop:
                done, status, reason = stop.segments, stop.status, stop.reason
            for k, seg in enumerate(done):
                segments[k].append(seg)
                spent += seg.grad_evals
                path[k].grad_evals += seg.grad_evals
            if status != "ok":
                break
        results: list[Draws] = []
        for k, target in enumerate(path):
            results.append(self._draws(target, segments[k], status, reason))
        back: list[Draws | None] = [None] * len(targets)
        for k, i in enumerate(order):
            back[i] = results[k]
        return back  # type: ignore[return-value]

    # ---- one run -----------------------------------------------------------------------------
    def _run(self, path: Sequence[TemperedTarget], seed: int, run: int, budget_left: float) -> list[_Segment]:
        import jax
        import jax.numpy as jnp
        from blackjax.smc import tempered

        first = path[0]
        static, args = first.jax_parts()
        n = self.particles
        batch = 0 if static.use_stats else int(np.clip(_BATCH_POINTS // first.n, 1, n))
        compiled = _compiled(static, self.mutations, self.leapfrog, batch if batch < n else 0)
        rng = np.random.default_rng([seed, run])
        key = jax.random.PRNGKey(int(rng.integers(2**31)))
        state = tempered.init(jnp.asarray(first.task.prior.sample_z(rng, n, first.dim)))
        per_stage = float(n * (self.mutations * self.leapfrog + _EVALS_PER_STAGE))
        probe_size = min(_PROBE, n)
        per_probe = float(probe_size * (self.leapfrog + 1))
        segments = [_Segment(accept=[]) for _ in path]
        step, log_z = 1.0 / first.dim ** 0.25, 0.0
        spent = 0.0
        stages = 0

        def pay(cost: float, seg: _Segment) -> None:
            nonlocal spent
            if spent + cost > budget_left:
                raise _Stopped(segments, "budget_exceeded", f"{spent + cost:g} gradient evaluations needed, "
                               f"{budget_left:g} left of the path's budget ({self.runs} runs)")
            spent += cost
            seg.grad_evals += cost

        def tune(probe, lam, z, w, inv_mass, seg):
            """A step size at which one move from particles drawn by weight is accepted about
            ``target_accept`` of the time: halved while it is accepted less than target − 0.2 or any
            probe move diverges, grown ×1.5 while accepted more than target + 0.25 (never after a
            halving)."""
            nonlocal step, key
            idx = rng.choice(len(w), size=probe_size, p=w)
            pick, shrunk = jnp.asarray(z[idx]), False
            for _ in range(_MAX_PROBES):
                pay(per_probe, seg)
                key, sub = jax.random.split(key)
                acc, div = probe(sub, pick, jnp.asarray(lam), jnp.asarray(step), jnp.asarray(inv_mass), args)
                acc = float(acc) if math.isfinite(float(acc)) else 0.0
                if (acc < self.target_accept - 0.2 or float(div) > 0) and step > _MIN_STEP:
                    step, shrunk = max(step * 0.5, _MIN_STEP), True
                elif acc > min(0.95, self.target_accept + 0.25) and not shrunk and step < _MAX_STEP:
                    step = min(step * 1.5, _MAX_STEP)
                else:
                    break

        def advance(phase: str, lam: float, cap: float, seg: _Segment):
            nonlocal state, key, step, log_z, stages
            stage, probe, loglik = compiled[phase]
            if stages >= self.max_stages:
                raise _Stopped(segments, "budget_exceeded", f"more than {self.max_stages} tempering stages")
            start = time.perf_counter()
            pay(per_stage, seg)
            zs = np.asarray(state.particles)
            log_w = np.log(np.maximum(np.asarray(state.weights), 1e-300))
            ll = np.asarray(loglik(state.particles, args))
            if not np.isfinite(ll).any():
                raise _Stopped(segments, "nan", "the log likelihood is not finite at any particle")
            new_lam = next_temperature(ll, log_w, lam, cap, self.target_ess) if cap > lam else lam
            w = np.exp(log_w - log_w.max())
            w /= w.sum()
            mean = (w[:, None] * zs).sum(0)
            var = (w[:, None] * (zs - mean) ** 2).sum(0)
            inv_mass = np.maximum(var, 1e-12 * max(float(var.max()), 1e-300))
            tune(probe, lam, zs, w, inv_mass, seg)
            key, sub = jax.random.split(key)
            state, incr, acc, div = stage(sub, state, jnp.asarray(new_lam), jnp.asarray(step),
                                          jnp.asarray(inv_mass), args)
            acc, div, incr = float(acc), int(div), float(incr)
            acc = acc if math.isfinite(acc) else 0.0
            log_z += incr
            stages += 1
            seg.stages += 1
            seg.accept.append(acc)
            seg.divergent += div
            seg.transitions += n * self.mutations
            seg.step_size = step
            seg.wall_s += time.perf_counter() - start
            return new_lam, state.particles  # the particles as moved at λ, before reweighting to λ'

        if first.gamma > 0:  # phase 1: bring the localisation in, a·γ from 0 to γ, at β = 0
            lam = 0.0
            while lam < first.gamma:
                lam, _ = advance("loc", lam, first.gamma, segments[0])
            state = tempered.TemperedSMCState(state.particles, state.weights, 0.0)
        lam = 0.0
        loglik = compiled["lik"][2]
        for k, target in enumerate(path):
            while lam < target.beta:
                lam, _ = advance("lik", lam, target.beta, segments[k])
            segments[k].log_evidence = log_z
            # the draws at β_k: the particles as moved at β_k, in the stage that leaves it (or, after
            # the last β, a stage that stays there), equally weighted after that stage's resampling
            last = k + 1 == len(path)
            lam, moved = advance("lik", lam, lam if last else path[k + 1].beta, segments[k if last else k + 1])
            segments[k].n_loss = -np.asarray(loglik(moved, args))
            if self.keep_params:
                segments[k].params = target.constrain_numpy(np.asarray(moved))
        return segments

    def _draws(self, target: TemperedTarget, segs: list[_Segment], status: str, reason: str) -> Draws:
        complete = [s for s in segs if s.n_loss is not None]
        grad_evals = float(sum(s.grad_evals for s in segs))
        wall = float(sum(s.wall_s for s in segs))
        if status != "ok":  # a path that stopped early leaves no posterior with all its runs
            return Draws.without_draws(status, reason, grad_evals, wall)
        n_loss = np.stack([s.n_loss for s in complete])
        accept = [a for s in segs for a in (s.accept or [])]
        evidence = [s.log_evidence for s in complete]
        diag: dict[str, Any] = {
            "stages": int(sum(s.stages for s in segs)),
            "accept_prob": float(np.mean(accept)) if accept else float("nan"),
            "step_size": float(np.mean([s.step_size for s in segs])),
            "divergences": int(sum(s.divergent for s in segs)),
            "log_evidence": float(np.mean(evidence)),
            "log_evidence_runs": [float(e) for e in evidence],
            "log_evidence_se": float(np.std(evidence, ddof=1) / math.sqrt(len(evidence))) if len(evidence) > 1 else float("nan"),
            "run_means": [float(x.mean()) for x in n_loss],
        }
        transitions = int(sum(s.transitions for s in segs))
        if transitions:
            diag["transitions"] = transitions
            diag["divergence_rate"] = diag["divergences"] / transitions
        st, why = finish_status(n_loss, "ok", "", diag["divergences"], transitions, self.max_divergence_rate, diag)
        params = np.stack([s.params for s in complete]) if self.keep_params else None
        return Draws(n_loss, grad_evals, wall, st, why, diag, params)


class _Stopped(Exception):
    """A run stopped early (budget, stage limit): the segments it finished, and why."""

    def __init__(self, segments: list[_Segment], status: str, reason: str) -> None:
        super().__init__(reason)
        self.segments, self.status, self.reason = segments, status, reason
