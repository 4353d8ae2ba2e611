"""Screening: every household's features built from the departments' current rows, decided by
the rule sets, turned into a risk (level, types, monitored group) and published as events.

Two ways in. **After new facts** (``Screener.notify``: the aggregation tells the scene of each
chunk of rows it saved): the households those rows concern (a bill names a person: the member
register names the household) are gathered for ``settle_ms`` and screened again alone, every
one of them published (at risk or no longer). **Everyone** (``Screener.full``: every
``screen_every_h``, on demand, or when more households wait than ``full_above``): only the
households at risk are published, then ``welfare.screened``, after which a household at risk
before and not found again is no longer at risk. A crash between saved rows and their screening
loses nothing for long: the next full screening finds what it missed.

The model (``Model``: datasets, features, rule book, settings) is the scene's world: built once per
runtime from the TOML files, checked together (a feature reading an undeclared column, a rule set
reading an undeclared feature is a ConfigError at start).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from citybrain import sdk
from citybrain.scenes.welfare.events import Assessed, ScreeningDone
from citybrain.scenes.welfare.settings import WelfareSettings
from citybrain.sdk import data

log = logging.getLogger(__name__)
BJT = timezone(timedelta(hours=8))
LEVELS = ("none", "medium", "high")


def shipped(name: str) -> Path:
    return Path(str(resources.files("citybrain.data") / "welfare" / name))


def screening_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, BJT).date()


def _months_back(day: date, n: int) -> date:
    """The first day of the month ``n`` months before ``day``'s."""
    months = day.year * 12 + day.month - 1 - n
    return date(months // 12, months % 12 + 1, 1)


def day_params(day: date) -> dict[str, data.Value]:
    """What a feature's ``where`` compares with: the screening day; the first day of its month and
    of the months 12 and 24 before (monthly records: the 12 whole months before this one, whatever
    the day); the days 183 and 365 before (dated records)."""
    return {
        "today": day.isoformat(),
        "month_start": _months_back(day, 0).isoformat(),
        "months_12": _months_back(day, 12).isoformat(),
        "months_24": _months_back(day, 24).isoformat(),
        "days_183": (day - timedelta(days=183)).isoformat(),
        "days_365": (day - timedelta(days=365)).isoformat(),
    }


@dataclass(frozen=True)
class Model:
    """The scene's data model and rules, checked together once."""

    cfg: WelfareSettings
    datasets: dict[str, data.Dataset]
    subjects: data.SubjectSpec
    features: list[data.FeatureSpec]
    book: data.RuleBook

    @classmethod
    def load(cls, cfg: WelfareSettings, _data_path: Path | None = None) -> Model:
        datasets = data.load_datasets(
            Path(cfg.datasets_file) if cfg.datasets_file else shipped("datasets.toml")
        )
        subjects, features = data.load_features(
            Path(cfg.features_file) if cfg.features_file else shipped("features.toml")
        )
        book = data.load_rules(Path(cfg.rules_file) if cfg.rules_file else shipped("rules.toml"))
        data.check_features(subjects, features, datasets, day_params(date(2000, 1, 1)))
        declared = {f.name for f in features}
        for rs in book.sets:
            if missing := sorted(set(rs.features) - declared):
                raise sdk.ConfigError(f"rule set {rs.label}: feature {missing[0]!r} is not declared")
        for policy in [cfg.eligibility, cfg.monitor_range, *cfg.risks, *cfg.delivery]:
            if not any(rs.name == policy for rs in book.sets):
                raise sdk.ConfigError(
                    f"[scenes.welfare] names rule set {policy!r}, which no rules file declares"
                )
        for name, r in cfg.risks.items():
            if r.level not in LEVELS[1:]:
                raise sdk.ConfigError(
                    f"[scenes.welfare] risks.{name}.level: {r.level!r} is not medium or high"
                )
        return cls(cfg, datasets, subjects, features, book)

    @property
    def policies(self) -> list[str]:
        """Every rule set a household page explains, the eligibility first."""
        out = [self.cfg.eligibility, self.cfg.monitor_range, *self.cfg.risks, *self.cfg.delivery]
        return list(dict.fromkeys(out))

    def population(self, store: Any, day: date, keys: Sequence[str] | None = None) -> data.Population:
        return data.build(
            store, self.subjects, self.features, self.datasets, keys=keys, params=day_params(day)
        )

    def households_of(self, store: Any, ds: data.Dataset, facts: Sequence[data.Fact]) -> set[str]:
        """The households that rows of ``ds`` concern: named by the row, or through the dataset a
        feature links it by (a person's ID number -> the member register -> the household)."""
        key = self.subjects.key
        if ds.name == self.subjects.dataset:
            return {f.key for f in facts}
        if key in {c.name for c in ds.columns}:
            return {str(f.data[key]) for f in facts if f.data.get(key)}
        out: set[str] = set()
        for via, by in {(f.via, f.by) for f in self.features if f.dataset == ds.name and f.via}:
            ids = sorted({str(f.data[by]) for f in facts if f.data.get(by)})
            for row in store.current_rows(via, ids) if ids else []:
                if row.data.get(key):
                    out.add(str(row.data[key]))
        return out


@dataclass(frozen=True)
class Risk:
    level: str
    types: list[str]
    group: str


Found = tuple[str, Risk, dict[str, tuple[str, str]]]  # area, risk, rule set -> (outcome, version)
PAGE = 2_000  # households screened together after new facts (their members' IDs fill one query)
PRIOR_MAX = 10_000_000  # households at risk before a full screening, read back to clear them


SMALL = 64  # households decided in Python (``explain``) rather than in a database: a re-screen


def _decide(
    book: data.RuleBook, policies: Sequence[str], day: date, table: pa.Table, eligible_only: bool = False
) -> dict[str, dict[str, tuple[str, str]]]:
    """Policy -> household -> (outcome, version) (``eligible_only``: of the eligible ones): in
    DuckDB at once, or for a few households in Python (the same clauses; tests/core/rules hold the
    two evaluators to the same answers)."""
    policies = [p for p in dict.fromkeys(policies) if book.in_force(p, day)]
    out: dict[str, dict[str, tuple[str, str]]] = {p: {} for p in policies}
    if table.num_rows > SMALL:
        for p, t in data.screen_many(book, policies, day, table).items():
            if eligible_only:
                t = t.filter(pc.equal(t.column("outcome"), "eligible"))
            pairs = zip(t.column("outcome").to_pylist(), t.column("version").to_pylist(), strict=True)
            out[p] = dict(zip(t.column("key").to_pylist(), pairs, strict=True))
        return out
    for row in table.to_pylist():
        for p in policies:
            rs = book.for_area(p, str(row["area"] or ""), day)
            if rs is not None:
                outcome = data.explain(rs, row["key"], row).outcome
                if outcome == "eligible" or not eligible_only:
                    out[p][row["key"]] = (outcome, rs.version)
    return out


class Screener:
    """One per runtime (the world makes it): decides households and publishes what it found."""

    def __init__(self, rt: sdk.Runtime[WelfareSettings], model: Model) -> None:
        self.rt, self.model, self.cfg = rt, model, model.cfg
        self._dirty: set[str] = set()
        self._lock = threading.Lock()  # the dirty set
        self._running = threading.Lock()  # one screening at a time
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_full_ms = 0
        self.last: dict[str, Any] = {}  # the last full screening's summary
        self._stopping = False
        rt.on_close(self.stop)

    def stop(self) -> None:
        """Stop the background screening (the platform stops): the one running ends first."""
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=120)

    # -- deciding ---------------------------------------------------------------------------------
    def assess(self, pop: data.Population, day: date, only: set[str] | None = None) -> dict[str, Found]:
        """Household -> (area, risk, outcome and version per rule set) of every household of
        ``pop``; with ``only``, of those at risk and those of ``only`` (at risk before)."""
        book, t = self.model.book, pop.table
        met: dict[str, list[str]] = {}
        for policy, eligible in _decide(book, list(self.cfg.risks), day, t, eligible_only=True).items():
            for key in eligible:
                met.setdefault(key, []).append(policy)
        keys = set(t.column("key").to_pylist()) if only is None else set(met) | only
        if not keys:
            return {}
        chosen = (
            t if only is None else t.filter(pc.is_in(t.column("key"), pa.array(sorted(keys), pa.string())))
        )
        policies = [*self.cfg.risks, self.cfg.eligibility, self.cfg.monitor_range, *self.cfg.delivery]
        decided = _decide(book, policies, day, chosen)  # every rule set, of those published
        names = chosen.column("key").to_pylist()
        status = dict(zip(names, chosen.column("status").to_pylist(), strict=True)) \
            if "status" in chosen.column_names else {}  # fmt: skip
        areas = dict(zip(names, chosen.column("area").to_pylist(), strict=True))
        out: dict[str, Found] = {key: ("", Risk("none", [], ""), {}) for key in keys - set(names)}  # gone
        got: dict[str, dict[str, tuple[str, str]]] = {key: {} for key in names}
        for policy, by_key in decided.items():
            for key, decision in by_key.items():
                got[key][policy] = decision
        for key, mine in got.items():
            in_range = mine.get(self.cfg.monitor_range, ("", ""))[0]
            out[key] = (
                str(areas.get(key) or ""),
                self.risk(met.get(key, []), status.get(key), in_range),
                mine,
            )
        return out

    def risk(self, policies: Sequence[str], status: str | None, in_range: str) -> Risk:
        """The level (high: a high screen met, or two screens), the types, the monitored group."""
        if not policies:
            return Risk("none", [], "")
        kinds = [self.cfg.risks[p] for p in policies]
        level = "high" if len(kinds) > 1 or any(k.level == "high" for k in kinds) else "medium"
        if status == "脱贫户":
            group = "脱贫不稳定户"
        elif in_range == "eligible":
            group = "边缘易致贫户"
        else:
            group = "突发严重困难户"
        return Risk(level, [k.type for k in kinds], group)

    def _events(self, run: str, now: int, found: Mapping[str, Found]) -> list[sdk.Event]:
        return [
            Assessed(
                key=key,
                ts=now,
                id=f"{run}:{key}",
                run=run,
                area=area,
                level=r.level,
                types=r.types,
                group=r.group,
                outcomes={p: o for p, (o, _) in got.items()},
                versions={p: v for p, (_, v) in got.items()},
            )
            for key, (area, r, got) in sorted(found.items())
        ]

    # -- running ----------------------------------------------------------------------------------
    def households(self, keys: Iterable[str], now: int | None = None) -> int:
        """Screen these households again now and publish each; how many were screened."""
        chosen = sorted(set(keys))
        if not chosen:
            return 0
        now = now or sdk.now_ms()
        day = screening_day(now)
        with self._running:
            pop = self.model.population(self.rt.aggregator.store, day, chosen)
            found = self.assess(pop, day)
            self.rt.aggregator.publish(self._events(f"facts:{now}", now, found))
        return len(found)

    def full(self, now: int | None = None) -> dict[str, Any]:
        """Screen everyone; publish those at risk, then the end of the run."""
        now = now or sdk.now_ms()
        day = screening_day(now)
        t0 = time.perf_counter()
        with self._running:
            store = self.rt.aggregator.store
            pop = self.model.population(store, day)
            before = {
                s["key"] for s in store.states("welfare", limit=PRIOR_MAX) if s["data"].get("level") != "none"
            }
            found = self.assess(pop, day, only=before)  # at risk now, and no longer (those before)
            at_risk = sum(1 for _, r, _ in found.values() if r.level != "none")
            run = f"full:{now}"
            seconds = round(time.perf_counter() - t0, 3)
            events = self._events(run, now, found)
            events.append(
                ScreeningDone(
                    key=run,
                    ts=now,
                    id=run,
                    households=pop.table.num_rows,
                    at_risk=at_risk,
                    seconds=seconds,
                    day=day.isoformat(),
                )
            )
            self.rt.aggregator.publish(events)
            self.last_full_ms = now
            self.last = {
                "run": run,
                "day": day.isoformat(),
                "households": pop.table.num_rows,
                "at_risk": at_risk,
                "seconds": seconds,
            }
        log.info(
            "welfare: screened %d households in %.2f s, %d at risk", pop.table.num_rows, seconds, at_risk
        )
        return self.last

    def notify(self, households: Iterable[str]) -> None:
        """Households whose data changed: screened again after ``settle_ms`` (in the background)."""
        with self._lock:
            self._dirty.update(households)
            if self._stopping:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="welfare-screening", daemon=True)
                self._thread.start()
        self._wake.set()

    def _loop(self) -> None:
        every_ms = self.cfg.screen_every_h * 3_600_000
        while True:
            self._wake.wait(timeout=60.0)
            self._wake.clear()
            time.sleep(self.cfg.settle_ms / 1000)
            with self._lock:
                if self._stopping:
                    return
                dirty, self._dirty = self._dirty, set()
            try:
                if len(dirty) > self.cfg.full_above:
                    self.full()
                    continue
                waiting = sorted(dirty)
                for i in range(0, len(waiting), PAGE):  # pages: a query names at most so many
                    self.households(waiting[i : i + PAGE])
                    dirty -= set(waiting[i : i + PAGE])
            except Exception:
                log.exception("welfare screening failed; %d households wait for the next run", len(dirty))
                with self._lock:
                    self._dirty |= dirty
            try:  # everyone, every screen_every_h, whatever became of the households above
                if every_ms > 0 and sdk.now_ms() - self.last_full_ms >= every_ms:
                    self.full()
            except Exception:
                log.exception("welfare: the screening of everyone failed; it runs again in an hour")
                self.last_full_ms = sdk.now_ms() - int(every_ms) + 3_600_000


class Welfare:
    """The scene's world: its model, and the screener of its runtime (made at first use)."""

    def __init__(self, cfg: WelfareSettings, data_path: Path) -> None:
        self.model = Model.load(cfg, data_path)
        self._screener: Screener | None = None
        self._lock = threading.Lock()

    def screener(self, rt: sdk.Runtime[WelfareSettings]) -> Screener:
        with self._lock:
            if self._screener is None:
                self._screener = Screener(rt, self.model)
            return self._screener


def world(cfg: WelfareSettings, data_path: Path) -> Welfare:
    return Welfare(cfg, data_path)


def datasets(cfg: WelfareSettings, data_path: Path) -> dict[str, data.Dataset]:
    """The scene's datasets, for the platform's aggregation (drop folders under the data folder)."""
    return data.load_datasets(Path(cfg.datasets_file) if cfg.datasets_file else shipped("datasets.toml"))


def on_facts(rt: sdk.Runtime[WelfareSettings], ds: data.Dataset, facts: Sequence[data.Fact]) -> None:
    """A chunk of facts was saved: screen the households it concerns again."""
    w: Welfare = rt.world
    if ds.name not in w.model.datasets:
        return
    households = w.model.households_of(rt.aggregator.store, ds, facts)
    if households:
        w.screener(rt).notify(households)
