"""A scene's runtime: what its processors, routes, servers and reports may use, handed to them by
dependency (never a module global): its typed settings, its world (the read-mostly resources its
parts share, built once from the settings: a road network, a plant model), the store's read side,
``submit`` (make events durable, as a gateway does), ``publish`` (live feed), ``record_alerts`` and
``audit``. The platform builds one per scene (``Platform.runtime(name)``)."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic

from typing_extensions import TypeVar

from citybrain.core.clock import now_ms
from citybrain.core.events import Event
from citybrain.core.outputs import Alert, AlertOp
from citybrain.core.store.base import ReadModel

if TYPE_CHECKING:
    from citybrain.core.aggregation.runner import Aggregator
    from citybrain.core.cases.engine import CaseEngine

S = TypeVar("S")
W = TypeVar("W", default=Any)
_UNBUILT: Any = object()


@dataclass
class Runtime(Generic[S, W]):
    name: str
    settings: S
    data_path: Path  # the platform's data folder (journals, files a scene keeps beside the store)
    store: ReadModel  # what scenes read: states, metrics, alerts, find_events ...
    submit: Callable[[list[Event]], Awaitable[None]]  # durable when it returns (gateways)
    _publish: Callable[[str, Any], None]
    _record_alerts: Callable[[Sequence[AlertOp]], list[Alert]]
    _audit: Callable[[int, str, str, str, dict[str, Any]], None]
    _make_world: Callable[[S, Path], W] | None = None  # the scene's ``world`` hook
    _cases: Callable[[], CaseEngine] | None = None  # the platform's case engine, built at first use
    _aggregator: Callable[[], Aggregator] | None = None  # the platform's datasets and their runs
    api_url: str = ""  # where this platform's HTTP API answers (for callbacks: a provider's notices)
    _time_problem: Callable[[Event], str | None] | None = None  # the platform's event-time window
    _world: W = field(default=_UNBUILT, init=False, repr=False)
    _world_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _closers: list[Callable[[], None]] = field(default_factory=list, init=False, repr=False)

    @property
    def world(self) -> W:
        """What the scene's parts share (``Scene(world=...)``), built from its settings and data
        folder at first use, once per runtime; a scene without a world hook has ``None``."""
        if self._world is _UNBUILT:
            with self._world_lock:  # the pipeline thread and a request may ask at the same time
                if self._world is _UNBUILT:
                    made = self._make_world(self.settings, self.data_path) if self._make_world else None
                    self._world = made  # type: ignore[assignment]
        return self._world

    @property
    def cases(self) -> CaseEngine:
        """The platform's case engine (every scene's case types, the store, the city's calendar)."""
        if self._cases is None:
            raise RuntimeError(f"scene {self.name}: this runtime has no case engine")
        return self._cases()

    @property
    def aggregator(self) -> Aggregator:
        """The platform's datasets, their runs and current rows (docs/aggregation.md)."""
        if self._aggregator is None:
            raise RuntimeError(f"scene {self.name}: this runtime has no data aggregation")
        return self._aggregator()

    def time_problem(self, ev: Event) -> str | None:
        """Why the platform would refuse ``ev``'s time (outside ``ingest.max_future_s`` or
        ``ingest.max_age_days``), or None. ``submit`` quarantines such an event rather than store
        it, so a route that answers from an event (a gate's decision) checks it first."""
        return self._time_problem(ev) if self._time_problem is not None else None

    def on_close(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` when the platform stops, before the store closes (a scene's own thread)."""
        self._closers.append(fn)

    def close(self) -> None:
        for fn in reversed(self._closers):
            fn()
        self._closers.clear()

    def publish(self, topic: str, data: Any, sub: str = "") -> None:
        """Push to live-feed subscribers of ``<topic>.<scene>`` (e.g. ``state.nev``), or of
        ``<topic>.<scene>.<sub>`` (e.g. one replay session's frames)."""
        self._publish(f"{topic}.{self.name}.{sub}" if sub else f"{topic}.{self.name}", data)

    def audit(self, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        """Record who changed what (e.g. an operator editing the plant model) in the audit log."""
        self._audit(now_ms(), actor, action, target, detail)

    def record_alerts(self, ops: Sequence[AlertOp]) -> list[Alert]:
        """Alert changes from outside a processor batch (e.g. a gateway's identity alerts)."""
        return self._record_alerts(ops)
