"""Indicator sources: each indicator's raw value per unit for a period ``[start, end)`` (epoch ms),
read from the store as its spec's ``source`` declares (model.Source). One reader per kind:

- ``metric``: a stored metric of the unit's key (``key``, ``{unit}`` replaced), aggregated over the
  period by ``agg`` (default sum); no point in the period: missing (None).
- ``alerts``: alerts of ``rule`` opened in the period whose location lies in the unit: the alert's
  key when it is a division code, else its ``data["district"]`` or ``data["area"]`` (prefix match,
  so a grid code counts in its district). A count: 0 when there is none. Alerts of the rule that
  carry no location (NEV alarms carry only lon/lat, and the repo has no district boundaries) are
  refused with a DataError rather than silently left out of every district.
- ``cases``: cases of ``type`` (and ``category``) opened in the period whose ``area`` lies in the
  unit (its code as a prefix). A count: 0 when there is none.
- ``dataset``: imported statistics (core/aggregation): the rows of ``dataset`` as they stand whose
  ``area_column`` is the unit and whose ``month_column`` ("2026-11" or a date) is a month starting
  (Beijing time) in the period, ``column`` aggregated by ``agg`` (default sum); no row: missing.

``gather`` fills ``engine.compute``'s data: unit -> indicator id -> value (None: missing, for the
spec's stated imputation); an indicator without a source is missing for every unit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import cast

from citybrain.core.cases.records import CaseQuery
from citybrain.core.composite.model import UNIT, DataError, IndexSpec, Source, indicators
from citybrain.core.errors import NotFoundError
from citybrain.core.store.base import Agg, AlertQuery, Store

Values = dict[str, float | None]  # unit -> value (None: missing)
Reader = Callable[[Store, Source, Sequence[str], int, int], Values]
BJT = timezone(timedelta(hours=8))  # China has one time zone and no daylight saving
MANY = 10_000_000  # alerts and cases read at once for one period (a limit the store asks for)


def _at(template: str, unit: str) -> str:
    return template.replace(UNIT, unit)


def read_metric(store: Store, src: Source, units: Sequence[str], start: int, end: int) -> Values:
    agg = cast(Agg, src.agg or "sum")  # checked against SOURCE_AGGS when the spec loaded
    out: Values = {}
    for u in units:
        # one bucket: ts - ts % end is 0 for every 0 <= ts < end
        rows = store.metric_series(src.name, _at(src.key, u), start, end, max(end, 1), agg)
        out[u] = rows[0][1] if rows else None
    return out


def _alert_place(key: str, data: Mapping[str, object]) -> str:
    if key.isdigit():
        return key
    for field in ("district", "area"):
        v = data.get(field)
        if isinstance(v, str) and v.isdigit():
            return v
    return ""


def read_alerts(store: Store, src: Source, units: Sequence[str], start: int, end: int) -> Values:
    scene = src.rule.split(".", 1)[0]
    found = store.alerts(AlertQuery(scene=scene, since=start, limit=MANY))  # since: last_ts >= start
    opened = [a for a in found if a.rule == src.rule and start <= a.opened_ts < end]
    places = [_alert_place(a.key, a.data) for a in opened]
    if lost := sum(1 for p in places if not p):
        raise DataError(f"alerts of {src.rule}: {lost} opened in the period carry no district "
                        "(neither a division-code key nor data.district / data.area)")  # fmt: skip
    prefixes = {u: _at(src.area, u) for u in units}
    return {u: float(sum(1 for p in places if p.startswith(pre))) for u, pre in prefixes.items()}


def read_cases(store: Store, src: Source, units: Sequence[str], start: int, end: int) -> Values:
    out: Values = {}
    for u in units:
        q = CaseQuery(type=src.type, category=src.category, area_prefix=_at(src.area, u), opened_since=start,
                      opened_until=end, limit=MANY)  # fmt: skip
        out[u] = float(len(store.find_cases(q)))
    return out


def _month_start(text: str) -> int | None:
    try:
        y, m = int(text[:4]), int(text[5:7])
        return int(datetime(y, m, 1, tzinfo=BJT).timestamp() * 1000)
    except (ValueError, IndexError):
        return None


def _dated_rows(store: Store, src: Source, units: Sequence[str]) -> list[tuple[str, int, float]]:
    """(unit, month start, value) of each row of ``src``'s dataset about ``units`` with a value."""
    cols = sorted({src.area_column, src.month_column, src.column})
    try:
        table = store.current_table(src.dataset, cols, where=(src.area_column, list(units)))
    except NotFoundError:  # no such dataset delivered here: no value (imputed, and flagged so)
        return []
    out = []
    for row in table.to_pylist():
        month, value = row[src.month_column], row[src.column]
        t = _month_start(str(month)) if month is not None else None
        if t is None:
            raise DataError(
                f"dataset {src.dataset}, row {row['key']}: {src.month_column} {month!r} is no month"
            )
        if value is not None:
            out.append((str(row[src.area_column]), t, float(value)))
    return out


def read_dataset(store: Store, src: Source, units: Sequence[str], start: int, end: int) -> Values:
    picked: dict[str, list[float]] = {}
    for unit, t, value in _dated_rows(store, src, units):
        if start <= t < end:
            picked.setdefault(unit, []).append(value)
    fold = FOLDS[src.agg or "sum"]
    return {u: fold(picked[u]) if picked.get(u) else None for u in units}


def read_standing(store: Store, src: Source, units: Sequence[str], end: int) -> Values:
    """Each unit's value of the newest row dated before ``end`` (a population stands until the
    next count)."""
    newest: dict[str, tuple[int, float]] = {}
    for unit, t, value in _dated_rows(store, src, units):
        if t < end and (unit not in newest or t > newest[unit][0]):
            newest[unit] = (t, value)
    return {u: newest[u][1] if u in newest else None for u in units}


def _avg(v: list[float]) -> float:
    return sum(v) / len(v)


FOLDS: dict[str, Callable[[list[float]], float]] = {"sum": sum, "max": max, "min": min, "avg": _avg}


READERS: dict[str, Reader] = {
    "metric": read_metric,
    "alerts": read_alerts,
    "cases": read_cases,
    "dataset": read_dataset,
}


def gather(
    spec: IndexSpec, store: Store, units: Sequence[str], start: int, end: int
) -> dict[str, dict[str, float | None]]:
    """Each unit's raw value of every indicator for ``[start, end)``, by the indicators' sources."""
    if start >= end:
        raise DataError(f"index {spec.name}: the period [{start}, {end}) is empty")
    data: dict[str, dict[str, float | None]] = {u: {} for u in units}
    for d, ind in indicators(spec):
        values = {} if ind.source is None else _read(ind.source, store, units, start, end, d.name, ind.id)
        for u in units:
            data[u][ind.id] = values.get(u)
    return data


def gather_denominators(
    spec: IndexSpec, store: Store, units: Sequence[str], start: int, end: int
) -> dict[str, dict[str, float]]:
    """Each unit's value of every denominator with a source, divided by its ``unit``: a DataError
    names the first unit and denominator without one (a rate cannot be made up)."""
    out: dict[str, dict[str, float]] = {u: {} for u in units}
    for den in spec.denominators:
        if den.source is None:
            continue
        src = den.source
        try:
            if src.kind == "dataset":
                values = read_standing(store, src, units, end)
            else:
                values = READERS[src.kind](store, src, units, start, end)
        except DataError as err:
            raise DataError(f"denominator {den.id}: {err}") from None
        for u in units:
            v = values.get(u)
            if v is None or not v > 0:
                raise DataError(f"denominator {den.name} ({den.id}) of {u}: no value > 0 dated before the "
                                "period's end")  # fmt: skip
            out[u][den.id] = v / den.unit
    return out


def _read(
    src: Source, store: Store, units: Sequence[str], start: int, end: int, dim: str, ind: str
) -> Values:
    try:
        return READERS[src.kind](store, src, units, start, end)
    except DataError as err:
        raise DataError(f"dimension {dim}, indicator {ind}: {err}") from None
