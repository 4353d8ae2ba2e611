"""What the HMM's parts share: its tuning, :class:`HMMConfig`. ``assemble``, ``viterbi``, ``batch``
and ``hmm`` import this module rather than each other."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HMMConfig"]


@dataclass(frozen=True, slots=True)
class HMMConfig:
    """Tuning knobs; distances in metres."""

    sigma_m: float = 20.0  # GPS noise (standard deviation of the emission Gaussian)
    beta_m: float = 60.0  # scale of the transition exponential
    radius_m: float = 80.0  # candidate search radius
    max_candidates: int = 6  # per point
    route_factor: float = 3.0  # a route longer than factor * straight line + slack is impossible
    route_slack_m: float = 400.0
    max_route_m: float = 15_000.0  # hard cap on one transition's route search
    reverse_tolerance_m: float = 10.0  # backward jitter on the same edge that counts as standing still
    max_speed_mps: float | None = None  # if set and timestamps increase, also bounds the route
    max_skip: int = 3  # points that may be dropped as outliers before the chain breaks
