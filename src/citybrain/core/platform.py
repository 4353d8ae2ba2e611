"""The platform: settings -> store, bus, scenes, pipeline, live hub. One object the API, the CLI
and the tests share; it has no web framework in it."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import msgspec

from citybrain.core.aggregation.datasets import load_datasets
from citybrain.core.aggregation.runner import Aggregator
from citybrain.core.batcher import BatchPublisher
from citybrain.core.bus import Bus, EmbeddedBus
from citybrain.core.cases.engine import REPUBLISH_MS, CaseEngine
from citybrain.core.cases.engine import Actor as CaseActor
from citybrain.core.cases.engine import Open as CaseOpen
from citybrain.core.cases.engine import Outcome as CaseOutcome
from citybrain.core.cases.events import CaseChanged
from citybrain.core.cases.workcal import WorkCalendar
from citybrain.core.clock import now_ms
from citybrain.core.config import Settings
from citybrain.core.errors import ConfigError, NotFoundError, Problem
from citybrain.core.events import DecodedBatch, Event, kind_of, stamp
from citybrain.core.extras import require as require_extra
from citybrain.core.fieldcrypt import FieldCipher
from citybrain.core.ingest import IngestResult
from citybrain.core.live import Hub
from citybrain.core.logs import RateLimitedLog
from citybrain.core.outputs import Alert, AlertOp, Outputs, Quarantined
from citybrain.core.pipeline import Pipeline, ProcessorSpec
from citybrain.core.processor import AlertRule
from citybrain.core.reports.schedule import Reports
from citybrain.core.runtime import Runtime
from citybrain.core.scenes import Scene, discover
from citybrain.core.store.base import AlertQuery, Store
from citybrain.core.store.duck import DuckStore

log = logging.getLogger(__name__)
DAY_MS = 86_400_000


class Counters(msgspec.Struct):
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    throttled: int = 0
    out_of_window: int = 0  # refused for their event time (counted in rejected too)


def open_store(settings: Settings) -> Store:
    if settings.store == "postgres":
        require_extra("scaleout", "store 'postgres'")
        from citybrain.core.store.postgres import PostgresStore

        return PostgresStore(settings.postgres.dsn, settings.postgres.schema)
    if settings.store != "duckdb":
        raise ConfigError(f"store {settings.store!r} is not available; choose 'duckdb' or 'postgres'")
    settings.data_path.mkdir(parents=True, exist_ok=True)
    return DuckStore(settings.data_path / "citybrain.duckdb")


ROLES = ("all", "api", "gateway", "worker")


def open_bus(settings: Settings, store: Store, pipeline: Callable[[], Pipeline | None]) -> Bus:
    """The embedded bus (one process does everything), or JetStream for a scaled-out city where
    ``role`` says what this process does: workers own partitions and process them; api and gateway
    nodes only publish. ``pipeline`` gives the bus the pipeline once it exists (to reload tasks of
    partitions a worker takes over)."""
    b = settings.bus
    if settings.role not in ROLES:
        raise ConfigError(f"role {settings.role!r} is unknown; choose one of {', '.join(ROLES)}")
    if b.backend == "embedded":
        if settings.role != "all":
            raise ConfigError(
                f"role {settings.role!r} needs bus.backend 'nats'; the embedded bus runs everything"
            )
        return EmbeddedBus(store, b.partitions, b.tail, b.max_lag)
    if b.backend == "nats":
        require_extra("scaleout", "bus.backend 'nats'")
        from citybrain.core.bus.nats.bus import JetStreamBus
        from citybrain.core.store.postgres import PostgresStore

        if not isinstance(store, PostgresStore):
            raise ConfigError("bus.backend 'nats' needs store 'postgres' (workers on several hosts share it)")
        consume = settings.role in ("all", "worker")
        nats = settings.nats
        return JetStreamBus(
            store, nats, b.partitions, tail=b.tail, max_lag=b.max_lag, consume=consume, pipeline=pipeline
        )
    raise ConfigError(f"bus.backend {b.backend!r} is unknown; choose 'embedded' or 'nats'")


DISPATCH_PAGE = 1_000  # alerts opened as cases in one group commit


def _alert_case(a: Alert, rule: AlertRule) -> CaseOpen:
    """The case an alert of a dispatching rule opens (the command id is the alert's: once)."""
    data = a.data
    lon, lat = data.get("lon"), data.get("lat")
    return CaseOpen(
        rule.case_type, f"alert:{a.id}",
        {"alert": a.id, "description": a.message, "photos": data.get("photos") or [],
         **(data.get("case_fields") or {})},
        department=str(rule.case_department or data.get("department") or ""),
        area=str(data.get("area") or ""), category=str(data.get("category") or ""), title=a.title,
        lon=float(lon) if isinstance(lon, int | float) else None,
        lat=float(lat) if isinstance(lat, int | float) else None, note=f"{a.rule} {a.key}",
    )  # fmt: skip


class Platform:
    def __init__(self, settings: Settings, scenes: dict[str, Scene] | None = None) -> None:
        self.settings = settings
        self.scenes = discover() if scenes is None else scenes
        self.store = open_store(settings)
        self.bus: Bus = open_bus(settings, self.store, lambda: getattr(self, "pipeline", None))
        self.hub = Hub()
        # gateways submit here: many small submissions, few durable appends, ack after durable
        self.batcher = BatchPublisher(self.publish)
        self.counters = Counters()
        self.time_gate = settings.ingest.time_gate()
        self._window_log = RateLimitedLog(log, every_s=10.0)
        problems = [p for scene in self.scenes.values() for p in scene.check()]
        if problems:
            raise ConfigError("scenes are not sound: " + "; ".join(problems))
        self._runtimes: dict[str, Runtime[Any]] = {}
        specs: list[ProcessorSpec] = []
        for scene in self.scenes.values():
            # the runtime's settings: loaded and validated once, shared with routes and servers
            specs.extend(scene.processors(self.runtime(scene.name)))
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ConfigError(f"processor names must be unique, got {names}")
        p = settings.pipeline
        self.pipeline = Pipeline(self.bus, self.store, specs, self._on_commit, p.batch_max, p.tick_ms)
        self._retention_stop = threading.Event()
        self._retention_thread: threading.Thread | None = None
        self.started_at = time.time()
        self.servers: list[Any] = []  # the scenes' running network servers (gateways), set by the app
        self._rate_samples: deque[tuple[float, int]] = deque(maxlen=64)

    def runtime(self, scene: str) -> Runtime[Any]:
        """The runtime of ``scene`` (built once: settings validated, store, submit, live feed)."""
        rt = self._runtimes.get(scene)
        if rt is None:
            if scene not in self.scenes:
                raise NotFoundError(f"scene {scene!r} is not installed; installed: {sorted(self.scenes)}")
            cfg = self.scenes[scene].load_settings(self.settings.scenes.get(scene, {}))
            rt = self._runtimes[scene] = Runtime(
                scene, cfg, self.settings.data_path, self.store, self.batcher.submit, self.hub.publish,
                self.store.record_alerts, self.store.audit, self.scenes[scene].world, lambda: self.cases,
                lambda: self.aggregator, self.api_url, self.time_gate.problem,
            )  # fmt: skip
        return rt

    def report(self, start: int, end: int) -> dict[str, dict[str, Any]]:
        """Every scene's report section for ``[start, end)`` (``GET /api/v1/report``, the
        monthly report), by scene name."""
        return {n: dict(s.section(self, start, end) or {}) for n, s in self.scenes.items() if s.has_report}

    @property
    def api_url(self) -> str:
        """The base URL of this platform's HTTP API as its own servers reach it (a wildcard
        listen address is reached on loopback)."""
        srv = self.settings.server
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(srv.host, srv.host)
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if srv.tls_cert else 'http'}://{host}:{srv.port}"

    @cached_property
    def cases(self) -> CaseEngine:
        """The case engine over every scene's case types (built at first use: the calendar's
        tables take some 70 ms)."""
        scenes = self.scenes.items()
        types = {ct.name: ct for name, scene in scenes for ct in scene.cases_for(self.runtime(name).settings)}
        path = self.settings.cases.calendar_file
        calendar = WorkCalendar.from_file(path) if path else WorkCalendar.shipped()
        return CaseEngine(self.store, types, calendar, publish=self._publish_cases)

    def _publish_cases(self, events: Sequence[Event]) -> None:
        """Case changes onto the bus (durable before the command is answered) and the live feed."""
        stamp(events, now_ms())
        self.bus.publish(list(events), internal=True)
        for ev in events:
            if isinstance(ev, CaseChanged):  # the feed is read per scene: public fields only
                ct = self.cases.types.get(ev.type)
                shown = msgspec.to_builtins(ev)
                public = ct.public_fields if ct is not None else ()
                shown["fields"] = {k: v for k, v in ev.fields.items() if k in public}
                self.hub.publish(f"case.{ev.type.split('.', 1)[0]}", shown)

    def republish_cases(self) -> int:
        """At start: the case log of the minutes before its last change onto the bus again (what a
        crash between a change and its publish would have lost; the bus drops the ids it has)."""
        if not self.cases.types:
            return 0
        last = self.store.last_case_change()
        return 0 if last is None else self.cases.republish(max(0, last - REPUBLISH_MS))

    # -- data aggregation ---------------------------------------------------------------------
    @cached_property
    def field_cipher(self) -> FieldCipher:
        """The key sealing datasets' sensitive columns at rest (``[aggregation] key_file``, by default
        ``<data_dir>/keys/fields.key``). Made at first start with the embedded DuckDB store (one
        process); with PostgreSQL (perhaps many nodes) the file must be given, the same on every
        node: a node making a key of its own would seal values the others cannot open or join."""
        s = self.settings
        path = Path(s.aggregation.key_file) if s.aggregation.key_file else s.data_path / "keys" / "fields.key"
        return FieldCipher.from_file(path, create=s.store == "duckdb")

    @cached_property
    def aggregator(self) -> Aggregator:
        """The departments' datasets (``[aggregation] datasets_file``) and their runs: good rows
        become facts on the bus, through the same durable publish as every event."""
        path = self.settings.aggregation.datasets_file
        datasets = load_datasets(Path(path)) if path else {}
        for name, scene in self.scenes.items():
            if scene.datasets is None:
                continue
            for ds in scene.datasets(self.runtime(name).settings, self.settings.data_path).values():
                if ds.name in datasets:
                    raise ConfigError(f"dataset {ds.name!r} is declared twice (scene {name} declares it too)")
                if ds.folder and not Path(ds.folder).is_absolute():  # the scene's own, under the data folder
                    folder = self.settings.data_path / ds.folder
                    folder.mkdir(parents=True, exist_ok=True)
                    ds = msgspec.structs.replace(ds, folder=str(folder))
                datasets[ds.name] = ds
        made = Aggregator(
            self.store, datasets, lambda events: self.publish(events).accepted, self._platform_alerts,
            cipher=self.field_cipher if datasets else None,  # no dataset: no key needed
        )  # fmt: skip
        for name, scene in self.scenes.items():
            if scene.on_facts is not None:
                made.listeners.append(partial(scene.on_facts, self.runtime(name)))
        return made

    def _platform_alerts(self, ops: Sequence[AlertOp]) -> list[Alert]:
        changed = self.store.record_alerts(ops)
        for a in changed:
            self.hub.publish("alert.platform", msgspec.to_builtins(a))
        return changed

    def _aggregation_loop(self) -> None:
        every = max(1.0, self.settings.aggregation.poll_s)
        while not self._retention_stop.wait(every):
            try:
                self.aggregator.tick()
            except Exception:
                log.exception("aggregation round failed")

    @cached_property
    def reports(self) -> Reports:
        """The report archive (``<data_dir>/reports``) and its monthly schedule (``[reports]``)."""
        return Reports(
            self.settings.reports, self.settings.data_path / "reports",
            lambda periods: [self.report(start, end) for start, end in periods],
        )  # fmt: skip

    # -- alerts that become cases -------------------------------------------------------------
    @cached_property
    def dispatching_rules(self) -> dict[str, AlertRule]:
        """Alert rules that open a case for each alert (``AlertRule.case_type``)."""
        return {r.name: r for scene in self.scenes.values() for r in scene.alert_rules if r.case_type}

    def dispatch_alerts(self, alerts: Iterable[Alert], unseen_only: bool = False) -> list[str]:
        """Open the case of each open alert whose rule says so (once: the command id is the alert's),
        a thousand at a time (one group commit each); returns the case ids. Called after each
        commit and, at start, for the open alerts without a case yet (``unseen_only``: what a crash
        between an alert's commit and its case would have left)."""
        rules = self.dispatching_rules
        todo = [
            (a, rule) for a in alerts if (rule := rules.get(a.rule)) is not None and a.status != "resolved"
        ]
        actor = CaseActor("系统派单 / alert dispatch", ("system",))
        made: list[str] = []
        for i in range(0, len(todo), DISPATCH_PAGE):
            page = todo[i : i + DISPATCH_PAGE]
            if unseen_only:
                seen = self.store.cases_by_commands([f"alert:{a.id}" for a, _ in page])
                page = [(a, rule) for a, rule in page if f"alert:{a.id}" not in seen]
            try:  # one alert's case must never stop the pipeline or the start
                answers = self.cases.run([_alert_case(a, rule) for a, rule in page], actor)
            except Exception:
                log.exception("%d alerts not dispatched as cases", len(page))
                continue
            for (a, rule), answer in zip(page, answers, strict=True):
                if isinstance(answer, CaseOutcome):
                    made.append(answer.case.id)
                else:
                    log.error(
                        "alert %s (%s) not dispatched as a %s case: %s", a.id, a.rule, rule.case_type, answer
                    )
        return made

    def _dispatch_open_alerts(self) -> None:
        if self.dispatching_rules:
            for scene in {r.scene for r in self.dispatching_rules.values()}:
                for status in ("open", "acknowledged"):  # acknowledged before its case was made, too
                    found = self.store.alerts(AlertQuery(status=status, scene=scene, limit=100_000))
                    self.dispatch_alerts(
                        (a for a in found if a.rule in self.dispatching_rules), unseen_only=True
                    )

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self.republish_cases()
        self._dispatch_open_alerts()
        self.pipeline.start()
        self._retention_thread = threading.Thread(
            target=self._retention_loop, name="citybrain-retention", daemon=True
        )
        self._retention_thread.start()
        if self.aggregator.datasets and self.settings.role in ("all", "worker"):
            self._aggregation_thread = threading.Thread(
                target=self._aggregation_loop, name="citybrain-aggregation", daemon=True
            )
            self._aggregation_thread.start()
        if self.settings.reports.enabled and self.settings.role in ("all", "api"):
            self.reports.start()  # the node that serves the archive makes its reports

    def stop(self) -> None:
        self._retention_stop.set()
        if "reports" in self.__dict__:  # made: its schedule may be running
            self.reports.stop()
        for rt in self._runtimes.values():
            rt.close()
        self.pipeline.stop()
        self.bus.close()
        self.store.close()

    # -- ingest ---------------------------------------------------------------------------------
    def ingest(self, batch: DecodedBatch, scope: str = "") -> IngestResult:
        """Stamp and publish the valid events of an HTTP (or replayed) batch; durable when this
        returns. Ids the sender chose are scoped by ``scope`` (its token), so one sender cannot
        pre-empt another's ids and have that sender's real events dropped as duplicates; ids made
        from the content need no scope (the same content is the same fact whoever sends it)."""
        if scope:
            for ev in batch.events:
                if ev.id:
                    ev.id = f"{scope}:{ev.id}"
        return self.publish(batch.events, problems=batch.problems, rejected=batch.rejected)

    def publish(
        self, events: list[Event], problems: Iterable[Problem] = (), rejected: int = 0
    ) -> IngestResult:
        """Publish events from any entry point. Events whose time is outside the accepted window
        (``ingest.max_future_s``, ``ingest.max_age_days``) are not published: they are quarantined
        with the reason and counted as rejected (HTTP batches were checked line by line already)."""
        res = IngestResult(errors=list(problems))
        res.rejected = max(rejected, len(res.errors))
        if events:
            now = now_ms()
            events = self._refuse_out_of_window(events, now, res)
        if events:
            stamp(events, now)
            appended = self.bus.publish(events)
            res.accepted, res.duplicates = len(appended.accepted), appended.duplicates
        c = self.counters
        mono = time.monotonic()
        if not self._rate_samples or mono - self._rate_samples[-1][0] >= 1.0:
            self._rate_samples.append((mono, c.accepted))
        c.accepted += res.accepted
        c.duplicates += res.duplicates
        c.rejected += res.rejected
        return res

    def _refuse_out_of_window(self, events: list[Event], now: int, res: IngestResult) -> list[Event]:
        gate = self.time_gate
        refused = [(ev, why) for ev in events if (why := gate.problem(ev, now)) is not None]
        if not refused:
            return events
        stamp([ev for ev, _ in refused], now)
        self.store.quarantine([Quarantined.of("ingest", ev, why) for ev, why in refused])
        res.rejected += len(refused)
        self.counters.out_of_window += len(refused)
        self._window_log.warn(
            "%d events refused (time outside the accepted window), quarantined; first: %s %s from %r: %s",
            len(refused), kind_of(refused[0][0]), refused[0][0].key, refused[0][0].source, refused[0][1],
        )  # fmt: skip
        skip = {id(ev) for ev, _ in refused}
        return [ev for ev in events if id(ev) not in skip]

    def ingest_rate(self) -> float:
        """Accepted events per second over about the last 10 seconds."""
        now = time.monotonic()
        old = next(((t, n) for t, n in self._rate_samples if now - t <= 10.0), None)
        if old is None or now - old[0] < 0.5:
            return 0.0
        return (self.counters.accepted - old[1]) / (now - old[0])

    # -- outputs -> live feed ------------------------------------------------------------------
    def _on_commit(self, processor: str, out: Outputs, alerts: list[Alert]) -> None:
        by_name: dict[str, list[dict[str, Any]]] = {}
        for m in out.metrics:
            by_name.setdefault(m.name, []).append({"key": m.key, "ts": m.ts, "value": m.value})
        for name, points in by_name.items():
            self.hub.publish(f"metric.{name}", points)
        by_scene: dict[str, list[dict[str, Any]]] = {}
        for s in out.states:
            by_scene.setdefault(s.scene, []).append({"key": s.key, "ts": s.ts, "data": s.data})
        for scene, states in by_scene.items():
            self.hub.publish(f"state.{scene}", states)
        for a in alerts:
            self.hub.publish(f"alert.{a.scene}", msgspec.to_builtins(a))
        opened = {op.alert.id for op in out.alerts if op.op == "open"}
        if opened and self.dispatching_rules:
            self.dispatch_alerts(a for a in alerts if a.id in opened)

    def publish_alert(self, alert: Alert) -> None:
        self.hub.publish(f"alert.{alert.scene}", msgspec.to_builtins(alert))

    # -- retention ------------------------------------------------------------------------------
    def retention_cutoffs(self, now: int) -> dict[str, int]:
        r = self.settings.retention
        days = {
            "events": r.events_days,
            "metrics": r.metrics_days,
            "alerts": r.alerts_days,
            "late_events": r.late_events_days,
            "quarantine": r.quarantine_days,
            "audit": r.audit_days,
        }
        return {t: now - d * DAY_MS for t, d in days.items() if d > 0}

    def _retention_loop(self) -> None:
        every = max(1, self.settings.retention.check_every_s)
        while not self._retention_stop.wait(every):
            try:
                deleted = self.store.apply_retention(self.retention_cutoffs(now_ms()))
                if any(deleted.values()):
                    log.info("retention deleted %s", deleted)
            except Exception:
                log.exception("retention run failed")
