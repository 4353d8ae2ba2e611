"""A scene's runtime: what its routes, servers, reports and simulators may use, handed to them by
dependency (never a module global): its typed settings, the store's read side, ``submit`` (make
events durable, as a gateway does), ``publish`` (live feed), ``record_alerts`` and ``audit``. The platform
builds one per scene (``Platform.runtime(name)``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from citybrain.core.clock import now_ms
from citybrain.core.events import Event
from citybrain.core.outputs import Alert, AlertOp
from citybrain.core.store.base import ReadModel

S = TypeVar("S")


@dataclass
class Runtime(Generic[S]):
    name: str
    settings: S
    data_path: Path  # the platform's data folder (journals, files a scene keeps beside the store)
    store: ReadModel  # what scenes read: states, metrics, alerts, find_events ...
    submit: Callable[[list[Event]], Awaitable[None]]  # durable when it returns (gateways)
    _publish: Callable[[str, Any], None]
    _record_alerts: Callable[[Sequence[AlertOp]], list[Alert]]
    _audit: Callable[[int, str, str, str, dict[str, Any]], None]

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
