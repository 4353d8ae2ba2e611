"""``Scene``: one domain bundle built from typed parts, the only object a scene module exports.

    noise = Scene("noise", title={...}, description={...}, settings=NoiseSettings)

    @noise.event
    class Reading(Event, tag="noise.reading"): ...

    loud = noise.rule("loud", "噪声超标 / Too loud", for_="2m")
    level = noise.metric("db_per_min", "mean level per minute, dB(A)")
    minute = noise.aggregate("minute", Reading, tumbling("1m"), db=mean("db"))

Names are the scene's: event tags, metrics, rules and processors start with ``<scene>.``, and the
scene checks that once when it is built. Settings are validated once at start (a ConfigError
naming ``[scenes.<name>]``). Routes, servers and reports receive the scene's
:class:`~citybrain.sdk.runtime.Runtime`, never the platform. What the parts share while the scene
runs (a road network, a plant model) is its ``world``: ``world(settings, data_path)`` builds it
once per runtime (``rt.world``), and hand-written processors get it as their third argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import msgspec
from fastapi import APIRouter

from citybrain.api.route_table import walk
from citybrain.core.cases.model import CaseType
from citybrain.core.errors import ConfigError
from citybrain.core.events import REGISTRY, Event
from citybrain.core.pipeline import ProcessorSpec
from citybrain.core.processor import AlertRule, Processor
from citybrain.core.runtime import Runtime
from citybrain.core.scenes import Scene as CoreScene
from citybrain.sdk.aggregate import processor_class
from citybrain.sdk.panels import Panel, check_panel
from citybrain.sdk.rules import make_rule
from citybrain.sdk.settings import SceneSettings, load_settings
from citybrain.sdk.windows import Acc, Aggregation, WindowDef

S = TypeVar("S", bound=msgspec.Struct)
E = TypeVar("E", bound=type[Event])
P = TypeVar("P", bound=type[Processor[Any]])

Report = Callable[[Runtime[Any], int, int], Mapping[str, Any]]
Servers = Callable[[Runtime[Any]], list[Any]]


class Scene(CoreScene, Generic[S]):
    def __init__(
        self,
        name: str,
        *,
        title: Mapping[str, str],
        description: Mapping[str, str],
        settings: type[S] = SceneSettings,  # type: ignore[assignment]
        router: APIRouter | None = None,
        panel: Panel | None = None,
        report: Report | None = None,
        servers: Servers | None = None,
        simulators: Mapping[str, Callable[[Mapping[str, Any]], Any]] | None = None,
        events: Sequence[type[Event]] = (),
        rules: Sequence[AlertRule] = (),
        metrics: Mapping[str, str] | None = None,
        aggregations: Sequence[Aggregation[Any]] = (),
        processors: Sequence[type[Processor[Any]]] = (),
        world: Callable[[S, Path], Any] | None = None,
        case_types: Sequence[CaseType] | Callable[[S], Sequence[CaseType]] = (),
        **hooks: Any,  # commands, decoders, listen: see core.scenes.Scene
    ) -> None:
        """Parts may be passed here (a scene spread over modules) or declared with the methods
        below (a scene in one file); either way their names are checked against the scene's."""
        super().__init__(
            name=name,
            title=title,
            description=description,
            events=[],
            processors=self._processor_specs,
            routes=(lambda _platform: router) if router is not None else None,
            simulators=dict(simulators or {}),
            servers=self._start_servers if servers is not None else None,
            world=world,
            **hooks,
        )
        self.settings_type = settings
        self.router = router
        self._report = report
        self._servers = servers
        self.aggregations: list[Aggregation[Any]] = []
        self.custom: list[tuple[str, Callable[..., Processor[Any]]]] = []
        self.metrics: dict[str, str] = {}  # full metric name -> what it measures
        if panel is not None:
            panel = msgspec.structs.replace(panel, id=panel.id or name, title=panel.title or dict(title))
            self.panel = panel.to_dict()
        self.typed_panel = panel
        for ev in events:
            self.event(ev)
        for r in rules:
            if not r.name.startswith(f"{name}.") or r.scene != name:
                raise ConfigError(f"scene {name}: rule {r.name!r} must be made with sdk.rule({name!r}, ...)")
            self.alert_rules.append(r)
        for m, doc in (metrics or {}).items():
            self.metric(m.removeprefix(f"{name}."), doc)
        for agg in aggregations:
            self._named("aggregation", agg.name)
            self.aggregations.append(agg)
        for proc in processors:
            self.processor(proc)
        if callable(case_types):
            self.case_types = lambda settings: [self._checked(ct) for ct in case_types(settings)]
        else:
            for ct in case_types:
                self.case_type(ct)

    # -- declaring parts ------------------------------------------------------------------------
    def _named(self, what: str, name: str) -> str:
        if not name or name.startswith(f"{self.name}."):
            raise ConfigError(
                f"scene {self.name}: {what} {name!r}: give the short name, the scene prefixes it"
            )
        return f"{self.name}.{name}"

    def event(self, cls: E) -> E:
        """Class decorator: an event kind of this scene (its tag must start with ``<scene>.``)."""
        kind = cls.kind_name()
        if not kind.startswith(f"{self.name}."):
            raise ConfigError(f"scene {self.name}: event kind {kind!r} must be tagged '{self.name}.<name>'")
        REGISTRY.register(cls)
        self.events.append(cls)
        return cls

    def rule(self, name: str, title: str, **options: Any) -> AlertRule:
        """An alert rule of this scene, listed with it; ``options`` as for ``sdk.rule``."""
        self._named("rule", name)
        rule = make_rule(self.name, name, title, **options)
        self.alert_rules.append(rule)
        return rule

    def metric(self, name: str, doc: str = "") -> str:
        """Declare a metric (``ctx.metric(name, ...)`` stores ``<scene>.<name>``); its full name."""
        full = self._named("metric", name)
        self.metrics[full] = doc
        return full

    def aggregate(
        self,
        name: str,
        kind: type[Event],
        window: WindowDef | Callable[[Any], WindowDef],
        *,
        key: Callable[[Any], str] | None = None,
        keystate: type[msgspec.Struct] | None = None,
        **values: Acc,
    ) -> Aggregation[Any]:
        """A windowed aggregation of ``kind`` with named ``values``; attach hooks to the result."""
        self._named("aggregation", name)
        agg: Aggregation[Any] = Aggregation(name, kind, window, dict(values), keystate=keystate)
        if key is not None:
            agg.key = key
        self.aggregations.append(agg)
        return agg

    def processor(self, cls: P) -> P:
        """Class decorator: a hand-written processor (multi-stage scenes), built as
        ``cls(partition, settings)``, or ``cls(partition, settings, world)`` in a scene with a world."""
        if not cls.name.startswith(f"{self.name}."):
            raise ConfigError(f"scene {self.name}: processor {cls.name!r} must be named '{self.name}.<name>'")
        self.custom.append((cls.name, cls))
        return cls

    def case_type(self, ct: CaseType) -> CaseType:
        """A kind of work order of this scene (named "<scene>.<kind>"), checked as it is added."""
        assert isinstance(self.case_types, list), "this scene builds its case types from its settings"
        self.case_types.append(self._checked(ct))
        return ct

    def _checked(self, ct: CaseType) -> CaseType:
        if not ct.name.startswith(f"{self.name}."):
            raise ConfigError(f"scene {self.name}: case type {ct.name!r} must be named '{self.name}.<kind>'")
        ct.check()
        return ct

    # -- what the platform calls ------------------------------------------------------------------
    def load_settings(self, section: Mapping[str, Any]) -> S:
        return load_settings(self.settings_type, section, self.name)

    def _processor_specs(self, rt: Runtime[S]) -> list[ProcessorSpec]:
        made = [processor_class(self.name, agg) for agg in self.aggregations]
        extra = (rt.world,) if self.world is not None else ()
        return [ProcessorSpec(cls.name, _bind(cls, rt.settings)) for cls in made] + [
            ProcessorSpec(name, _bind(cls, rt.settings, *extra)) for name, cls in self.custom
        ]

    def _start_servers(self, platform: Any, _section: Mapping[str, Any]) -> list[Any]:
        assert self._servers is not None
        return self._servers(platform.runtime(self.name))

    def section(self, platform: Any, start: int, end: int) -> Mapping[str, Any] | None:
        return None if self._report is None else self._report(platform.runtime(self.name), start, end)

    @property
    def has_report(self) -> bool:
        return self._report is not None

    def check(self) -> list[str]:
        """What is wrong with the scene as built (empty when sound)."""
        problems: list[str] = []
        if self.typed_panel is not None:
            routes = {check_template(path): model for path, model in self.routes_declared()}
            problems += check_panel(self.name, self.typed_panel, routes, set(self.metrics))
        return problems

    def routes_declared(self) -> list[tuple[str, Any]]:
        """(path, response type) of every route of the scene's router, included routers too."""
        return [] if self.router is None else _flatten(self.router)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["metrics"] = dict(self.metrics)
        out["aggregations"] = [a.describe() for a in self.aggregations]
        return out


def _flatten(router: APIRouter) -> list[tuple[str, Any]]:
    return [(path, getattr(r, "response_model", None)) for path, r in walk(router)]


def _bind(factory: Callable[..., Processor[Any]], *args: Any) -> Callable[[int], Processor[Any]]:
    return lambda partition: factory(partition, *args)


def check_template(path: str) -> str:
    from citybrain.sdk.panels import _template

    return _template(path)
