"""Method presets: ``methods/<name>.toml``, hyperparameters and a gradient budget per tier.

Format::

    method = "sgld"
    description = "..."
    [tiers.smoke]
    budget = 12500                # gradient evaluations of n L_n per tempered posterior
    hyper = { chains = 4, warmup = 500, steps = 2000 }

A method without a preset file (a plug-in) runs with its own defaults and a budget of
1e6 gradient evaluations per posterior at every tier.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from typing import Any

from slt_bench.errors import SltBenchError, UnknownNameError
from slt_bench.paths import builtin_dir

TIERS = ("smoke", "standard", "gold")
PLUGIN_BUDGET = 1_000_000.0


@dataclass(frozen=True)
class Preset:
    method: str
    tier: str
    hyper: dict[str, Any]
    budget: float

    @property
    def hash(self) -> str:
        """A short hash of (method, hyperparameters, budget): what makes two runs comparable."""
        blob = json.dumps({"method": self.method, "hyper": self.hyper, "budget": self.budget}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def load_preset(method: str, tier: str) -> Preset:
    if tier not in TIERS:
        raise UnknownNameError(f"unknown tier {tier!r}; valid tiers: {', '.join(TIERS)}")
    path = builtin_dir("methods") / f"{method}.toml"
    if not path.is_file():
        return Preset(method, tier, {}, PLUGIN_BUDGET)
    try:
        with open(path, "rb") as handle:
            doc = tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise SltBenchError(f"{path}: not valid TOML: {err}") from None
    tiers = doc.get("tiers", {})
    if tier not in tiers:
        raise UnknownNameError(f"{path}: no tier {tier!r}; this preset has {', '.join(tiers) or 'none'}")
    entry = tiers[tier]
    budget = entry.get("budget")
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0:
        raise SltBenchError(f"{path}: tiers.{tier}.budget must be a positive number of gradient evaluations, got {budget!r}")
    hyper = entry.get("hyper", {})
    if not isinstance(hyper, dict):
        raise SltBenchError(f"{path}: tiers.{tier}.hyper must be a table, got {hyper!r}")
    return Preset(method, tier, dict(hyper), float(budget))
