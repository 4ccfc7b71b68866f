"""A method's cells against long NUTS runs on the same datasets: the sampler's share of its error
where no quadrature and no certified reference exists (the tanh networks beyond H = 1).

    python benchmarks/against_nuts.py --method-store lb.sqlite --method sgld --nuts-store nuts.sqlite \\
        [--write docs/accuracy.md [--mark against-nuts]]

Cells are paired when they share the task content hash, dataset seed, n, estimator and β grid, so
both estimate the same finite-n quantity. A NUTS cell serves as the finite-n truth only when every
tempered posterior has split R-hat of n L_n < 1.01 and a bulk ESS of at least 1000 (:data:`RULES`),
and the cell's status is ``ok`` (the runner's rule: at most 1% of the transitions of any posterior
divergent; and, as the reports show it, its posteriors satisfy the tempering identity). That is weaker than a certified reference (no second sampler, a few divergences
allowed), and the table says which pairs pass. z is the difference in units of
the combined SE, sqrt(SE_method² + SE_nuts²): under "both estimate the same thing", z ~ N(0, 1).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import publish  # noqa: E402

from slt_bench.scoring import reported  # noqa: E402
from slt_bench.store import ResultStore  # noqa: E402

RULES = {"rhat": 1.01, "ess": 1000.0}
MARK = "against-nuts"


def pair_key(row: dict) -> tuple:
    return (row["task_hash"], row["seed"], row["n"], row["estimator"], str(row["betas"]))


def nuts_summary(row: dict) -> dict:
    """Worst diagnostics over the cell's tempered posteriors, and whether they pass :data:`RULES`."""
    diags = row.get("diagnostics") or []
    if isinstance(diags, dict):
        diags = [diags]
    rhat = max((d.get("rhat", math.inf) for d in diags), default=math.inf)
    ess = min((d.get("ess", 0.0) for d in diags), default=0.0)
    div_rate = max((d.get("divergences", 0) / max(d.get("transitions", 0), 1) for d in diags), default=0.0)
    failed = [name for name, bad in (("rhat", not rhat < RULES["rhat"]), ("ess", not ess >= RULES["ess"]),
                                     (f"status {row['status']}", row["status"] != "ok")) if bad]
    return {"rhat": rhat, "ess": ess, "div_rate": div_rate, "failed": failed}


def hyper(row: dict) -> dict:
    value = row.get("hyper") or {}
    return json.loads(value) if isinstance(value, str) else value


def pairs(method_rows: list[dict], nuts_rows: list[dict]) -> list[tuple[dict, dict]]:
    """Each method cell with the NUTS cell on the same dataset, n, estimator and β grid; of several
    NUTS cells (different settings), the first that passes the rules, else the last."""
    nuts: dict[tuple, dict] = {}
    for r in nuts_rows:
        if r.get("rlct_hat") is not None and (pair_key(r) not in nuts or nuts_summary(nuts[pair_key(r)])["failed"]):
            nuts[pair_key(r)] = r
    return sorted(((r, nuts[pair_key(r)]) for r in method_rows if pair_key(r) in nuts and r.get("rlct_hat") is not None),
                  key=lambda p: (p[0]["task"], p[0]["seed"]))


def table(method: str, matched: list[tuple[dict, dict]], truth: str = "NUTS") -> str:
    """The pairs and a per-task summary; ``truth`` names the sampler that serves as the finite-n truth."""
    lines = [f"| task | λ | seed | {truth} λ̂ ± SE | {truth} target accept; min ESS, max R-hat, most divergent | {method} λ̂ ± SE | "
             f"{method} status | z | {truth} against λ |", "|---|---:|---:|---:|---|---:|---|---:|---:|"]
    per_task = defaultdict(list)
    for m, nu in matched:
        s = nuts_summary(nu)
        z = (m["rlct_hat"] - nu["rlct_hat"]) / math.hypot(m["se"], nu["se"])
        lam = m.get("rlct_value")
        rel = f"{(nu['rlct_hat'] - lam) / lam:+.1%}" if lam else "–"
        flag = "" if not s["failed"] else f" (fails: {', '.join(s['failed'])})"
        lines.append(f"| {m['task']} | {lam:.4g} | {m['seed']} | {nu['rlct_hat']:.3f} ± {nu['se']:.3f} | "
                     f"{hyper(nu).get('target_accept', '–')}; {s['ess']:.0f}, {s['rhat']:.3f}, {s['div_rate']:.2%}{flag} | {m['rlct_hat']:.3f} ± {m['se']:.3f} | "
                     f"{m['status']} | {z:+.1f} | {rel} |")
        if not s["failed"]:
            per_task[m["task"]].append((m, nu, z))
    lines += ["", f"| task | pairs that pass | {method} ok and within 3 SE | mean z | mean ({method} − {truth}) ± SE | "
              f"mean {truth} against λ ± SE |", "|---|---:|---:|---:|---:|---:|"]
    for task, rows in sorted(per_task.items()):
        k = len(rows)
        within = sum(abs(z) < 3 and m["status"] == "ok" for m, _, z in rows)  # an unmixed cell is no success
        diff = sum(m["rlct_hat"] - nu["rlct_hat"] for m, nu, _ in rows) / k
        diff_se = math.sqrt(sum(m["se"] ** 2 + nu["se"] ** 2 for m, nu, _ in rows)) / k
        lam = rows[0][0]["rlct_value"]
        bias = sum(nu["rlct_hat"] for _, nu, _ in rows) / k - lam
        bias_se = math.sqrt(sum(nu["se"] ** 2 for _, nu, _ in rows)) / k
        lines.append(f"| {task} | {k} | {within}/{k} | {sum(z for _, _, z in rows) / k:+.2f} | "
                     f"{diff:+.3f} ± {diff_se:.3f} | {bias / lam:+.1%} ± {bias_se / lam:.1%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method-store", required=True)
    parser.add_argument("--method", default="sgld")
    parser.add_argument("--nuts-store", required=True, nargs="+")
    parser.add_argument("--truth-method", default="nuts",
                        help="the method whose cells of --nuts-store serve as the truth, under the same rules (default nuts)")
    parser.add_argument("--task", default="tanh/", help="task id prefix (default: the tanh networks)")
    parser.add_argument("--write", default=None, help="splice into this Markdown file between <!-- MARK:start/end -->")
    parser.add_argument("--mark", default=MARK, help=f"the marker name MARK (default {MARK})")
    args = parser.parse_args(argv)
    # statuses as the reports show them: an ok cell failing the tempering identity is inconsistent, on both sides
    method_rows = [r for r in reported(ResultStore(args.method_store).rows())
                   if r["method"] == args.method and r["task"].startswith(args.task)]
    nuts_rows = [r for path in args.nuts_store for r in reported(ResultStore(path).rows())
                 if r["method"] == args.truth_method and r["task"].startswith(args.task)]
    matched = pairs(method_rows, nuts_rows)
    if not matched:
        raise SystemExit(f"no {args.method} cell has a {args.truth_method} cell on the same dataset, n, estimator and β grid")
    text = table(args.method, matched, "NUTS" if args.truth_method == "nuts" else args.truth_method)
    publish(text, args.write, args.mark)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
