"""The month's 平安指数: read from the store, computed, stored, read back.

``Safety`` is the scene's world: the spec (``spec_file`` or the shipped
``data/composite/safety.toml``), the units (the city's districts) with their names, and the
computations this runtime published and the store may not hold yet (the pipeline folds
``safety.computed`` into the month's state a moment later).

A month (Beijing time) is computed from the store (``composite.gather``: datasets, cases, metrics,
alerts of ``[start, end)``), then scored (``compute``) against the stored results of the month before
and of the same month a year before (month-on-month and year-on-year changes, imputation "last"),
and its ranks analysed (``robustness``, seeded). An indicator with no value in any district this
month (a metric never written, a department that has not delivered) is left out of that month's
index, its dimension's other weights renormalised, and named in ``excluded``: imputing "the mean
of the others" needs others. A dimension left with no indicator makes the month uncomputable
(its ``error`` says which); the stored error never replaces a good result.

A month computed after it closed is ``final``: ``ensure`` returns it as stored unless forced. The
running month is recomputed whenever asked (the scheduler in ``gateway``: every
``recompute_every_min``), and the month just closed once more after it closes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from citybrain import data as shipped
from citybrain import sdk
from citybrain.scenes.safety.events import Computed
from citybrain.scenes.safety.processors import state_of
from citybrain.scenes.safety.settings import SafetySettings
from citybrain.sdk import composite, data

month_range = sdk.case_kpi.month_range
month_of = sdk.case_kpi.month_of
State = dict[str, Any]  # a month's state: processors.state_of


def units_of(cfg: SafetySettings) -> list[str]:
    """The index's units: ``units`` as given, else the children of ``city`` (its districts)."""
    return list(cfg.units) or [d.code for d in data.nanchang().children(cfg.city)]


def shift(month: str, months: int) -> str:
    """The month ``months`` after ``month`` (before, when negative)."""
    n = int(month[:4]) * 12 + int(month[5:7]) - 1 + months
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


TREND_MONTHS = 13  # the months a trend shows (this one and the twelve before: a year-on-year change)


class Safety:
    """The scene's world: spec, units and their names, and what this runtime computed lately."""

    def __init__(self, cfg: SafetySettings, _data_path: Path | None = None) -> None:
        path = Path(cfg.spec_file) if cfg.spec_file else shipped.path("composite/safety.toml")
        self.cfg = cfg
        self.spec = composite.load_spec(path)
        divisions = data.nanchang()
        self.units = units_of(cfg)
        if not self.units:
            raise sdk.ConfigError(f"[scenes.safety] city {cfg.city!r} has no districts: give `units`")
        self.names = {u: (d.name if (d := divisions.get(u)) else u) for u in self.units}
        self.recent: dict[str, State] = {}  # month -> state published by this runtime
        self.lock = threading.Lock()
        self.running = asyncio.Lock()  # one computation at a time (the scheduler, a recompute)

    # -- reading ----------------------------------------------------------------------------
    def lookup(self, store: sdk.ReadModel, month: str) -> State | None:
        """The month's newest state: stored, or published here and not stored yet."""
        rows = store.states("safety", month, limit=1)
        stored: State | None = rows[0]["data"] if rows else None
        with self.lock:
            mine = self.recent.get(month)
        if mine is None or (stored is not None and stored["computed_ms"] >= mine["computed_ms"]):
            return stored
        if stored is not None and mine["error"] and not stored["error"]:
            return stored  # the processor keeps a good result over a later failure: so do we
        return mine

    def months(self, store: sdk.ReadModel) -> dict[str, State]:
        """Every month stored or published here, by month."""
        found: dict[str, State] = {r["key"]: r["data"] for r in store.states("safety")}
        with self.lock:
            months = set(self.recent)
        for m in months:
            if (s := self.lookup(store, m)) is not None:
                found[m] = s
        return dict(sorted(found.items()))

    def result(self, store: sdk.ReadModel, month: str) -> composite.IndexResult | None:
        state = self.lookup(store, month)
        return result_of(state)

    # -- computing --------------------------------------------------------------------------
    def compute(self, store: Any, month: str, now: int) -> Computed:
        """The month's index from the store (``store``: the platform's whole store, which the
        sources read: cases, datasets' current rows, metrics, alerts)."""
        start, end = month_range(month)
        final = now >= end
        try:
            raw = composite.gather(self.spec, store, self.units, start, end)
            per = composite.gather_denominators(self.spec, store, self.units, start, end)
            spec, excluded = self.without_empty(raw)
            values = {u: {k: v for k, v in row.items() if k not in excluded} for u, row in raw.items()}
            before, year_ago = self.result(store, shift(month, -1)), self.result(store, shift(month, -12))
            result = composite.compute(spec, values, per, previous=before, year_ago=year_ago)
            rob = composite.robustness(
                spec,
                values,
                per,
                previous=before,
                runs=self.cfg.robustness_runs,
                seed=self.cfg.robustness_seed,
                perturbation=self.cfg.perturbation,
            )
        except (composite.DataError, sdk.ConfigError) as err:
            return Computed(key=month, ts=now, month=month, final=final, error=str(err))
        return Computed(
            key=month,
            ts=now,
            month=month,
            final=final,
            result=msgspec.to_builtins(result),
            robustness=msgspec.to_builtins(rob),
            excluded=excluded,
        )

    def without_empty(
        self, raw: Mapping[str, Mapping[str, float | None]]
    ) -> tuple[composite.IndexSpec, list[str]]:
        """The spec without the indicators no unit has a value of, and their ids."""
        empty = [
            i.id for _, i in composite.indicators(self.spec) if all(raw[u].get(i.id) is None for u in raw)
        ]
        if not empty:
            return self.spec, []
        dims = []
        for d in self.spec.dimensions:
            kept = [i for i in d.indicators if i.id not in empty]
            if not kept:
                raise composite.DataError(
                    f"dimension {d.name} ({d.id}) has no data this month: none of "
                    f"{', '.join(i.id for i in d.indicators)} has a value in any district"
                )
            dims.append(msgspec.structs.replace(d, indicators=kept))
        return msgspec.structs.replace(self.spec, dimensions=dims), empty

    def remember(self, ev: Computed) -> State:
        state = state_of(ev)
        with self.lock:
            self.recent[ev.month] = state
        return state

    async def ensure(self, rt: sdk.Runtime[SafetySettings], month: str, force: bool = False) -> State:
        """The month's state: the stored one when the month was computed after it closed (unless
        ``force``), else computed now and published (durable when this returns)."""
        month_range(month)  # a ValidationError for a malformed month, before any work
        async with self.running:
            state = self.lookup(rt.store, month)
            if state is not None and state["final"] and not state["error"] and not force:
                return state
            ev = await asyncio.to_thread(self.compute, rt.aggregator.store, month, sdk.now_ms())
            await rt.submit([ev])
            return self.remember(ev)


def result_of(state: State | None) -> composite.IndexResult | None:
    if state is None or state.get("error") or not state.get("result"):
        return None
    return msgspec.convert(state["result"], composite.IndexResult)


def robustness_of(state: State | None) -> composite.Robustness | None:
    if state is None or state.get("error") or not state.get("robustness"):
        return None
    return msgspec.convert(state["robustness"], composite.Robustness)


def world(cfg: SafetySettings, data_path: Path) -> Safety:
    return Safety(cfg, data_path)


def datasets(cfg: SafetySettings, _data_path: Path | None = None) -> dict[str, data.Dataset]:
    """The departments' monthly statistics by district the index reads (push datasets)."""
    path = Path(cfg.datasets_file) if cfg.datasets_file else shipped.path("safety/datasets.toml")
    return data.load_datasets(path)
