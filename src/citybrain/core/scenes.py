"""Scenes as plug-ins: a scene bundles event kinds, processors, API routes, a dashboard panel
descriptor, a report section and simulators. Built-in scenes are found exactly as a third-party
package's are: through the ``citybrain.scenes`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citybrain.core.cases.model import CaseType
from citybrain.core.errors import ConfigError
from citybrain.core.events import REGISTRY, Event
from citybrain.core.pipeline import ProcessorSpec
from citybrain.core.processor import AlertRule

if TYPE_CHECKING:
    import typer

ENTRY_POINT_GROUP = "citybrain.scenes"
LISTEN_ANY, LISTEN_FREE = "any", "free"


@dataclass
class Scene:
    name: str
    title: Mapping[str, str]  # by locale: {"zh-CN": ..., "en": ...}
    description: Mapping[str, str]
    events: list[type[Event]]
    # processors(runtime) -> the scene's processors, built from its runtime (settings, world)
    processors: Callable[[Any], list[ProcessorSpec]]
    alert_rules: list[AlertRule] = field(default_factory=list)
    # routes(platform) -> a FastAPI APIRouter mounted at /api/v1/scenes/<name>
    routes: Callable[[Any], Any] | None = None
    panel: Mapping[str, Any] = field(default_factory=dict)
    # report(store, start_ms, end_ms) -> a report section (title, rows, figures)
    report: Callable[[Any, int, int], Mapping[str, Any]] | None = None
    # simulators by name: factory(settings section) -> an object with ``async run(ctx, stop)``
    # (see citybrain.sim.base.Simulator and SimContext)
    simulators: Mapping[str, Callable[[Mapping[str, Any]], Any]] = field(default_factory=dict)
    # network servers the scene runs (protocol gateways, broker subscriptions):
    # servers(platform, scene settings) -> objects with ``async start()`` and ``async stop()``
    servers: Callable[[Any, Mapping[str, Any]], list[Any]] | None = None
    # where those servers listen: setting path in the scene's section -> what a test puts there to
    # get a free port: LISTEN_ANY ("0": the server binds a port of its own) or LISTEN_FREE (a port
    # found free beforehand, for a server whose port its clients must know before it starts)
    listen: Mapping[str, str] = field(default_factory=dict)
    # the scene's CLI sub-commands, ``citybrain <name> ...``: built only when such a command runs
    commands: Callable[[], typer.Typer] | None = None
    # protocol name -> "module:function" turning one hex frame into a JSON-ready dict
    # (``citybrain decode <protocol> HEX``); the module is imported only when that protocol is used
    decoders: Mapping[str, str] = field(default_factory=dict)
    # world(settings, data_path) -> what the scene's parts share while it runs (a road network, a
    # plant model): built once per runtime at first use (``Runtime.world``), never a module global
    world: Callable[[Any, Path], Any] | None = None
    # the scene's kinds of work order (names "<scene>.<kind>"), run by the platform's case engine;
    # or, when their limits are settings, a function of the scene's settings that builds them
    case_types: list[CaseType] | Callable[[Any], list[CaseType]] = field(default_factory=list)
    # datasets(settings, data_path) -> the departments' datasets the scene reads (by name; a
    # relative drop folder is under the data folder), declared beside [aggregation] datasets_file
    datasets: Callable[[Any, Path], Mapping[str, Any]] | None = None
    # on_facts(runtime, dataset, facts): each chunk of facts once saved as the current rows
    on_facts: Callable[[Any, Any, Sequence[Any]], None] | None = None

    def cases_for(self, settings: Any) -> list[CaseType]:
        """The scene's case types as its settings make them."""
        return list(self.case_types(settings) if callable(self.case_types) else self.case_types)

    @property
    def has_report(self) -> bool:
        return self.report is not None

    def section(self, platform: Any, start: int, end: int) -> Mapping[str, Any] | None:
        """This scene's report section for ``[start, end)`` (None when it has no report)."""
        return None if self.report is None else self.report(platform.store, start, end)

    def load_settings(self, section: Mapping[str, Any]) -> Any:
        """The scene's settings as its runtime holds them (typed for SDK scenes)."""
        return section

    def check(self) -> list[str]:
        """What is wrong with the scene as built (SDK scenes check their names and panel)."""
        return []

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": dict(self.title),
            "description": dict(self.description),
            "events": [k.kind_name() for k in self.events],
            "alert_rules": [
                {
                    "name": r.name,
                    "title": r.title,
                    "severity": r.severity,
                    "for_ms": r.for_ms,
                    "clear_ms": r.clear_ms,
                    "doc": r.doc,
                }
                for r in self.alert_rules
            ],
            "panel": dict(self.panel),
            "simulators": sorted(self.simulators),
        }


def discover(enabled: set[str] | None = None) -> dict[str, Scene]:
    """Load every installed scene (or only ``enabled``) and register its event kinds."""
    scenes: dict[str, Scene] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if enabled is not None and ep.name not in enabled:
            continue
        try:
            scene = ep.load()
        except Exception as err:  # a broken plug-in must say which one
            raise ConfigError(f"scene plug-in {ep.name!r} ({ep.value}) failed to load: {err}") from err
        if not isinstance(scene, Scene):
            raise ConfigError(f"scene plug-in {ep.name!r} ({ep.value}) is not a citybrain Scene")
        for kind in scene.events:
            REGISTRY.register(kind)
        scenes[scene.name] = scene
    return scenes
