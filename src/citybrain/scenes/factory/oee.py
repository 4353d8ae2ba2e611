"""OEE per ISO 22400-2 from time elements and counts, and the counter arithmetic behind them.

Per machine and shift instance we integrate (seconds):

* ``run_s``: the machine reported a running state;
* ``minor_s``: stops shorter than ``minor_stop_s`` (performance loss, as in Nakajima's six losses);
* ``pending_s``: the ongoing stop while it is still shorter than that (shown as a minor stop until
  it either ends or grows into an unplanned stop);
* ``down_s``: stops of at least ``minor_stop_s`` (ISO ADOT, availability loss);
* ``planned_s``: planned stops of the calendar or a planned state (ISO PDOT, not a loss);
* ``nodata_s``: time without data (a periodic source silent beyond ``max_gap_s``, or offline).

and the counter increments ``cycles`` (produced), ``good``, ``reject``. Then, with PRI the machine's
ideal cycle time:

* PBT (planned busy time) = run + minor + pending + down; APT (actual production time) = run +
  minor + pending, so minor stops hurt performance, not availability;
* Availability = APT / PBT; Performance (ISO "effectiveness") = PRI x PQ / APT;
  Quality = GQ / PQ; OEE = A x P x Q = PRI x GQ / PBT. Each is kept within 0..1 as a last guard
  (``Oee.clamped`` names any that had to be): the counts behind them are made sane first, since a
  counter that drops or jumps (a restart, a reset) starts a new baseline and never counts as
  production (:func:`counter_delta`).
* Losses partition PBT: unplanned stops (down), minor stops (minor + pending), speed loss
  (run - PRI x PQ), reject loss (PRI x rejects) and the fully productive time (PRI x GQ).

``nodata_s`` is kept out of PBT: a gap in the data is not a stop of the machine, and guessing would
bias OEE either way. ``coverage`` = PBT / (PBT + nodata) says how much of the time was observed.
An aggregate (line, day, plant) sums the elements and the ideal times of its machines first and
only then divides: it is a time-weighted OEE, never an average of ratios.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

ELEMENTS = ("run_s", "minor_s", "pending_s", "down_s", "planned_s", "nodata_s", "cycles", "good", "reject")


class Elements(msgspec.Struct):
    run_s: float = 0.0
    minor_s: float = 0.0
    pending_s: float = 0.0
    down_s: float = 0.0
    planned_s: float = 0.0
    nodata_s: float = 0.0
    cycles: float = 0.0
    good: float = 0.0
    reject: float = 0.0

    def add(self, other: Elements) -> None:
        for f in ELEMENTS:
            setattr(self, f, getattr(self, f) + getattr(other, f))


@dataclass(frozen=True)
class Counts:
    """Produced, good and rejected pieces from whichever counters the machine has."""

    produced: float
    good: float
    reject: float


def counts(e: Elements, roles: set[str]) -> Counts:
    """good+reject counters win (they are what quality is judged on); with a cycle counter and one
    of them the other is the difference; with a cycle counter only, every piece counts as good."""
    has_c, has_g, has_r = "cycle" in roles, "good" in roles, "reject" in roles
    if has_g and has_r:
        return Counts(e.good + e.reject, e.good, e.reject)
    if has_c and has_r:
        return Counts(e.cycles, max(e.cycles - e.reject, 0.0), e.reject)
    if has_c and has_g:
        return Counts(e.cycles, e.good, max(e.cycles - e.good, 0.0))
    if has_g:
        return Counts(e.good, e.good, 0.0)
    return Counts(e.cycles, e.cycles, 0.0)


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def _share(a: float, b: float) -> float | None:
    """A ratio that cannot leave 0..1 (the last guard: counters are made sane before, see
    :func:`counter_delta`; what still falls outside is a wrong ``ideal_cycle_s``, listed in
    ``Oee.as_dict()["clamped"]``)."""
    r = _ratio(a, b)
    return None if r is None else min(max(r, 0.0), 1.0)


@dataclass(frozen=True)
class Oee:
    pbt_s: float
    apt_s: float
    ideal_s: float  # PRI x produced
    good_ideal_s: float  # PRI x good
    produced: float
    good: float
    reject: float
    planned_s: float
    nodata_s: float
    down_s: float
    minor_s: float

    def _parts(self) -> dict[str, tuple[float, float]]:
        # quality by ideal time, so that a line's quality weights each machine by its work content
        q = (self.good_ideal_s, self.ideal_s) if self.ideal_s else (self.good, self.produced)
        return {
            "availability": (self.apt_s, self.pbt_s),
            "performance": (self.ideal_s, self.apt_s),
            "quality": q,
            "oee": (self.good_ideal_s, self.pbt_s),
        }

    @property
    def availability(self) -> float | None:
        return _share(*self._parts()["availability"])

    @property
    def performance(self) -> float | None:
        return _share(*self._parts()["performance"])

    @property
    def quality(self) -> float | None:
        return _share(*self._parts()["quality"])

    @property
    def oee(self) -> float | None:
        return _share(*self._parts()["oee"])

    def clamped(self) -> list[str]:
        """The ratios whose raw value left 0..1 and were clamped (e.g. performance above 100 %
        because ``ideal_cycle_s`` is longer than the machine's real best cycle)."""
        out = []
        for name, (a, b) in self._parts().items():
            r = _ratio(a, b)
            if r is not None and not 0.0 <= r <= 1.0:
                out.append(name)
        return out

    def as_dict(self) -> dict[str, Any]:
        speed = self.apt_s - self.minor_s - self.ideal_s
        return {
            "availability": self.availability,
            "performance": self.performance,
            "quality": self.quality,
            "oee": self.oee,
            "produced": self.produced,
            "good": self.good,
            "reject": self.reject,
            "first_pass_yield": _ratio(self.good, self.produced),
            "time_s": {
                "planned_busy": self.pbt_s,
                "actual_production": self.apt_s,
                "planned_stops": self.planned_s,
                "no_data": self.nodata_s,
            },
            "losses_s": {
                "unplanned_stops": self.down_s,
                "minor_stops": self.minor_s,
                "speed": speed,
                "rejects": self.ideal_s - self.good_ideal_s,
                "productive": self.good_ideal_s,
            },
            "coverage": _ratio(self.pbt_s, self.pbt_s + self.nodata_s),
            "clamped": self.clamped(),
        }


def machine_oee(e: Elements, pri_s: float, roles: set[str]) -> Oee:
    c = counts(e, roles)
    minor = e.minor_s + e.pending_s
    apt = e.run_s + minor
    return Oee(
        pbt_s=apt + e.down_s,
        apt_s=apt,
        ideal_s=pri_s * c.produced,
        good_ideal_s=pri_s * c.good,
        produced=c.produced,
        good=c.good,
        reject=c.reject,
        planned_s=e.planned_s,
        nodata_s=e.nodata_s,
        down_s=e.down_s,
        minor_s=minor,
    )


def combine(parts: Iterable[Oee]) -> Oee:
    """Sum the elements of machines (or shifts) and recompute: time-weighted, not a mean of ratios."""
    f = (
        "pbt_s",
        "apt_s",
        "ideal_s",
        "good_ideal_s",
        "produced",
        "good",
        "reject",
        "planned_s",
        "nodata_s",
        "down_s",
        "minor_s",
    )
    tot = dict.fromkeys(f, 0.0)
    for p in parts:
        for k in f:
            tot[k] += getattr(p, k)
    return Oee(**tot)


def counter_delta(
    prev: float | None, cur: float, counter_max: float, cap: float = math.inf
) -> tuple[float, str]:
    """Increment of a monotonic counter between two readings, and what happened.

    ``cap`` is the most the machine can physically have made since the previous reading (see
    :func:`counter_cap`). Only what is certain counts as production:

    * first reading (``prev`` None): a baseline, no increment (we cannot know what came before);
    * went up by at most ``cap``: the difference;
    * went up by more than ``cap``: a ``jump`` (a restarted simulator or PLC whose counter came
      back higher, a replaced device): a new baseline, no increment;
    * went down, from the top tenth of the declared width (``counter_max``) to its bottom tenth,
      and the increment through the wrap is at most ``cap``: a ``rollover``, counted through it;
    * went down otherwise: a ``reset`` (PLC restart, shift reset, simulator restart): a new
      baseline, no increment. The pieces made between the reset and this reading are not known
      for certain (the counter may have restarted from any value), so none are counted.
    """
    if prev is None:
        return 0.0, "baseline"
    if cur >= prev:
        return (cur - prev, "ok") if cur - prev <= cap else (0.0, "jump")
    span = counter_max + 1
    wrapped = cur + span - prev
    if prev >= 0.9 * span and 0 <= cur < 0.1 * span and wrapped <= cap:
        return wrapped, "rollover"
    return 0.0, "reset"


def counter_cap(elapsed_ms: int, ideal_cycle_s: float, rate_factor: float) -> float:
    """The most pieces a machine can make in ``elapsed_ms``: ``rate_factor`` times its ideal rate
    (1 / ``ideal_cycle_s``) over at least one second (timestamps may be that coarse), plus one piece
    in flight. Unbounded when the machine declares no ideal cycle time or no factor."""
    if ideal_cycle_s <= 0 or rate_factor <= 0:
        return math.inf
    return rate_factor * max(elapsed_ms / 1000, 1.0) / ideal_cycle_s + 1
