"""Parking fees from tariffs kept as data: exact integer fen, with a receipt line for every charge.

The rules, each chosen to be explainable to a driver at the gate and in a dispute:

- **Grace** (``free_minutes``, the version in force at entry): a stay up to the grace, to the
  millisecond, is free (passes do not count: the grace is judged on the whole stay). Beyond it,
  ``free_counts = "whole"`` (the default) charges the whole stay; ``"excess"`` charges only the
  time after the grace.
- **Units**: a started unit counts in full (ceil). A period may price its first unit apart
  (``first_unit_minutes``/``first_unit_fen``, e.g. first hour 5 yuan then 2 yuan per 30 min).
- **Stretches**: the stay is cut where a period begins, where a tariff version begins and every 24 h
  after entry. Each piece, a *stretch*, is priced on its own clock: its first unit, its units and
  its ``cap_fen`` (e.g. night cap 10 yuan) count within it. Across midnight a night period 19:00-07:00
  is one stretch; a night cut by a 24 h cycle boundary or a version change is two, each with its
  first unit and its cap (each cycle is priced as a fresh stay, then capped).
- **Version change**: each part of the stay is priced by the version in force during it (a new
  price applies from its effective date, neither to time parked before it nor sparing time after).
  Stay-level rules (grace, new-energy discount) are the entry version's; a 24 h cycle's cap is the
  cap of the version in force when that cycle begins.
- **Daily cap**: ``daily_cap_fen`` caps each 24 h cycle counted from the entry time (00:00 is not
  a boundary); a stay of 2 days 3 hours has three cycles, the last 3 hours long. A cycle over its
  cap gets a negative ``daily_cap`` line.
- **Monthly passes** (per plate, not in the tariff file): time covered by a pass is free. It stops
  the stretch's clock rather than starting a new one, so more pass time never costs more.
- **New-energy discount** (``nev_discount_pct``): taken off the total after the caps, rounded half
  up to the fen (the half fen goes to the driver): 25 % of 150 fen is 37.5, so 38 off, 112 to pay.
- A stay longer than 400 days is not priced (it needs a person's review), nor a stay that ends
  before it begins; a zero-length stay costs 0.

``Fee.lines`` tile the stay (period, free and pass lines) and add up to the total with the cap and
discount lines.
"""

from __future__ import annotations

import tomllib
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, time, timedelta
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import msgspec

from citybrain.scenes.paylater.tariff_config import (
    EPOCH,
    TZ,
    Lot,
    Period,
    Tariff,
    TariffError,
    Version,
    local_ms,
    parse_tariffs,
)

__all__ = ["Fee", "FeeLine", "Lot", "TariffError", "Tariffs", "load_tariffs", "stay_fee", "version_at"]

MINUTE_MS = 60_000
DAY_MS = 86_400_000
MAX_STAY_MS = 400 * DAY_MS
SHIPPED = "paylater/tariffs.toml"  # inside the citybrain.data package
LineKind = Literal["period", "free", "pass", "daily_cap", "discount"]
Interval = tuple[int, int]


class FeeLine(msgspec.Struct, frozen=True):
    """One line of a parking receipt."""

    kind: LineKind
    period: str  # the period's name on "period" lines, else ""
    start_ms: int
    end_ms: int
    units: int  # units begun in this line (period lines)
    amount_fen: int  # negative on daily_cap and discount lines, 0 on free and pass lines
    capped: bool = False  # a cap took part of this line's price
    version: str = ""  # the tariff version priced ("from" as written in the file)


class Fee(msgspec.Struct, frozen=True):
    total_fen: int
    minutes: int  # the stay's length, a started minute counted
    lines: tuple[FeeLine, ...] = ()


def _local(ms: int) -> datetime:
    return (EPOCH + timedelta(milliseconds=ms)).astimezone(TZ)


def _show(ms: int) -> str:
    return _local(ms).strftime("%Y-%m-%d %H:%M:%S")


def version_at(tariff: Tariff, ms: int) -> Version:
    """The version of the tariff in force at ``ms``."""
    found = [v for v in tariff.versions if v.from_ms <= ms]
    if not found:
        first = tariff.versions[0].from_text
        raise TariffError(f"tariff {tariff.id}: no version in force at {_show(ms)} (the first: from {first})")
    return found[-1]


def _merge(intervals: Sequence[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(base: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    """``base`` less ``holes`` (both sorted and disjoint)."""
    out: list[Interval] = []
    for start, end in base:
        cursor = start
        for hole_start, hole_end in holes:
            if hole_end <= cursor or hole_start >= end:
                continue
            if hole_start > cursor:
                out.append((cursor, hole_start))
            cursor = max(cursor, hole_end)
        if cursor < end:
            out.append((cursor, end))
    return out


def _clip(intervals: Sequence[Interval], ends: Sequence[int], lo: int, hi: int) -> Iterator[Interval]:
    """The parts of sorted, disjoint ``intervals`` (``ends``: their ends) inside [lo, hi)."""
    for start, end in intervals[bisect_right(ends, lo) :]:
        if start >= hi:
            return
        yield max(start, lo), min(end, hi)


def _cuts(tariff: Tariff, entry: int, exit_: int) -> list[int]:
    """Where stretches begin: entry, each 24 h after it, each version's start, each period's start."""
    cuts = {entry + k * DAY_MS for k in range(-(-(exit_ - entry) // DAY_MS))}
    for i, version in enumerate(tariff.versions):
        lo = max(entry, version.from_ms)
        hi = min(exit_, tariff.versions[i + 1].from_ms) if i + 1 < len(tariff.versions) else exit_
        day, last = _local(lo).date(), _local(hi).date()
        while lo < hi and day <= last:
            starts = (local_ms(datetime.combine(day, time(*divmod(p.start, 60)))) for p in version.periods)
            cuts.update(t for t in starts if lo <= t < hi)  # the next version's day is cut by its own periods
            day += timedelta(days=1)
        cuts.add(lo)
    return sorted(c for c in cuts if entry <= c < exit_)


def _units(charged_ms: int, period: Period) -> int:
    """Units begun after ``charged_ms`` of charged time in a stretch (a started unit counts)."""
    if charged_ms <= 0:
        return 0
    after_first = max(0, charged_ms - period.first_unit_minutes * MINUTE_MS)
    return 1 + -(-after_first // (period.unit_minutes * MINUTE_MS))


def _price(units: int, period: Period, *, capped: bool) -> int:
    raw = 0 if units == 0 else period.first_unit_fen + (units - 1) * period.unit_fen
    return min(raw, period.cap_fen) if capped and period.cap_fen is not None else raw


def _stretch_lines(
    stretch: Interval, version: Version, period: Period, charged: Sequence[Interval], ends: Sequence[int]
) -> list[FeeLine]:
    """A stretch's charged parts: each prices the units its time adds to the stretch's clock."""
    lines: list[FeeLine] = []
    done = 0
    for start, end in _clip(charged, ends, *stretch):
        before, after = _units(done, period), _units(done + end - start, period)
        amount = _price(after, period, capped=True) - _price(before, period, capped=True)
        raw = _price(after, period, capped=False) - _price(before, period, capped=False)
        units, capped = after - before, amount < raw
        lines.append(FeeLine("period", period.name, start, end, units, amount, capped, version.from_text))
        done += end - start
    return lines


def _check_stay(tariff: Tariff, entry_ms: int, exit_ms: int, passes: Sequence[Interval]) -> None:
    if exit_ms < entry_ms:
        raise TariffError(f"tariff {tariff.id}: exit {_show(exit_ms)} is before entry {_show(entry_ms)}")
    if exit_ms - entry_ms > MAX_STAY_MS:
        days = (exit_ms - entry_ms) // DAY_MS
        raise TariffError(f"tariff {tariff.id}: a stay of {days} days is not priced automatically: review it")
    for start, end in passes:
        if end < start:
            raise TariffError(f"a monthly pass ends ({_show(end)}) before it starts ({_show(start)})")


def stay_fee(
    tariff: Tariff, entry_ms: int, exit_ms: int, *, new_energy: bool = False, passes: Sequence[Interval] = ()
) -> Fee:
    """The fee of a stay [entry_ms, exit_ms) under ``tariff``; ``passes`` are the plate's monthly
    passes for this lot, [start, end) in epoch ms."""
    _check_stay(tariff, entry_ms, exit_ms, passes)
    if exit_ms == entry_ms:
        return Fee(0, 0)
    first = version_at(tariff, entry_ms)
    minutes = -(-(exit_ms - entry_ms) // MINUTE_MS)
    grace = first.free_minutes * MINUTE_MS
    if exit_ms - entry_ms <= grace:
        return Fee(0, minutes, (FeeLine("free", "", entry_ms, exit_ms, 0, 0, version=first.from_text),))
    free = [(entry_ms, entry_ms + grace)] if first.free_counts == "excess" and grace else []
    covered = _subtract(_merge([(max(a, entry_ms), min(b, exit_ms)) for a, b in passes]), free)
    charged = _subtract(_subtract([(entry_ms, exit_ms)], free), covered)
    ends = [end for _, end in charged]
    lines = [FeeLine("free", "", a, b, 0, 0, version=first.from_text) for a, b in free]
    lines += [FeeLine("pass", "", a, b, 0, 0) for a, b in covered]
    cuts = _cuts(tariff, entry_ms, exit_ms)
    for start, end in zip(cuts, [*cuts[1:], exit_ms], strict=True):
        version = version_at(tariff, start)
        period = version.period_at(_local(start).hour * 60 + _local(start).minute)
        lines += _stretch_lines((start, end), version, period, charged, ends)
    lines += _daily_cap_lines(tariff, entry_ms, exit_ms, lines)
    # by 24 h cycle, each cycle's cap line after its charges
    lines.sort(key=lambda x: ((x.start_ms - entry_ms) // DAY_MS, x.kind == "daily_cap", x.start_ms))
    subtotal = sum(line.amount_fen for line in lines)
    if new_energy and first.nev_discount_pct and subtotal:
        off = (subtotal * first.nev_discount_pct + 50) // 100  # half a fen rounds up: to the driver
        lines.append(FeeLine("discount", "", entry_ms, exit_ms, 0, -off, version=first.from_text))
    return Fee(sum(line.amount_fen for line in lines), minutes, tuple(lines))


def _daily_cap_lines(tariff: Tariff, entry_ms: int, exit_ms: int, lines: Sequence[FeeLine]) -> list[FeeLine]:
    """One negative line for each 24 h cycle from entry that costs more than its version's cap."""
    spent: dict[int, int] = {}
    for line in lines:
        cycle = (line.start_ms - entry_ms) // DAY_MS
        spent[cycle] = spent.get(cycle, 0) + line.amount_fen
    out: list[FeeLine] = []
    for cycle, amount in sorted(spent.items()):
        start = entry_ms + cycle * DAY_MS
        version = version_at(tariff, start)
        cap = version.daily_cap_fen
        if cap is not None and amount > cap:
            end = min(exit_ms, start + DAY_MS)
            out.append(FeeLine("daily_cap", "", start, end, 0, cap - amount, True, version.from_text))
    return out


class Tariffs:
    """The lots and tariffs of one tariff file."""

    def __init__(self, lots: Mapping[str, Lot], tariffs: Mapping[str, Tariff], source: str) -> None:
        self.lots: Mapping[str, Lot] = MappingProxyType(dict(lots))
        self.tariffs: Mapping[str, Tariff] = MappingProxyType(dict(tariffs))
        self.source = source

    def lot(self, lot_id: str) -> Lot:
        if lot_id not in self.lots:
            raise TariffError(f"{self.source}: no lot {lot_id!r}")
        return self.lots[lot_id]

    def tariff(self, tariff_id: str) -> Tariff:
        if tariff_id not in self.tariffs:
            raise TariffError(f"{self.source}: no tariff {tariff_id!r}")
        return self.tariffs[tariff_id]

    def fee(
        self,
        lot_id: str,
        entry_ms: int,
        exit_ms: int,
        *,
        new_energy: bool = False,
        passes: Sequence[Interval] = (),
    ) -> Fee:
        """The fee of a stay at the lot (see the module's rules)."""
        tariff = self.tariff(self.lot(lot_id).tariff)
        return stay_fee(tariff, entry_ms, exit_ms, new_energy=new_energy, passes=passes)


def load_tariffs(path: Path | None = None) -> Tariffs:
    """The lots and tariffs of a tariff file (None: the shipped demo); TariffError names every problem."""
    if path is None:
        source = f"citybrain/data/{SHIPPED}"
        raw = resources.files("citybrain.data").joinpath(SHIPPED).read_bytes()
    else:
        source = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise TariffError(f"{source}: cannot read the tariff file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TariffError(f"{source}: not a UTF-8 TOML file: {exc}") from None
    lots, tariffs = parse_tariffs(data, source)
    return Tariffs(lots, tariffs, source)
