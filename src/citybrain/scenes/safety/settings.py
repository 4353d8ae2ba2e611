"""``[scenes.safety]``: which index spec, which districts, how often the running month is
recomputed, and the robustness analysis run with every computation (seeded, so a month's rank
intervals are the same each time its data are)."""

from __future__ import annotations

import msgspec

from citybrain import sdk


class SafetySettings(sdk.SceneSettings, forbid_unknown_fields=True):
    spec_file: str = ""  # the index spec (TOML); empty: citybrain/data/composite/safety.toml
    datasets_file: str = ""  # the departments' monthly statistics (TOML); empty: the shipped ones
    city: str = "3601"  # the units are this division's children (Nanchang's 9 districts and counties)
    units: list[str] = msgspec.field(default_factory=list)  # or these codes; empty: the city's children
    recompute_every_min: float = 10.0  # the running month is recomputed this often (0: only on demand)
    robustness_runs: int = 1000  # Monte Carlo runs of the rank analysis with each computation
    robustness_seed: int = 17  # its seed: the same data give the same rank intervals
    perturbation: float = 0.2  # weights perturbed by a factor in [1 - p, 1 + p]
