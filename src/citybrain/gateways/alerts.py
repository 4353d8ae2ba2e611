"""Alerts a gateway raises about device identity (a terminal connected twice, a plate registered
from another phone, a second login for a live VIN, ...): stored in the alerts table and sent on
the live feed (``alert.<scene>``), so the operations centre sees them like any rule's finding.
:class:`AlertingGateway` is the part the device gateways share: their counters and a ``stop`` that
waits for the alerts in flight.

Processors raise alerts through their committed outputs; a gateway has no processor batch, so its
alerts are written by ``Store.record_alerts`` in a transaction of their own.

One (rule, key) opens one alert; repeats within ``repeat_window_ms`` update it (count + 1), so a
device flapping between two connections cannot flood the table; and at most ``max_per_minute``
alerts are written per minute (a client trying many keys): the rest are counted in ``suppressed``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from typing import Any

import msgspec

from citybrain.core.outputs import Alert, AlertOp, Severity
from citybrain.core.runtime import Runtime
from citybrain.gateways.tcp import TcpServer

log = logging.getLogger(__name__)

MAX_TRACKED = 10_000  # (rule, key) pairs remembered for the repeat window


class GatewayAlerts:
    """``raise_alert`` is synchronous and cheap (called from a session's ``feed``); the store write
    runs in a worker thread; it returns the alert (None when suppressed). ``drain`` waits for the
    writes in flight (tests, shutdown)."""

    def __init__(
        self,
        runtime: Runtime[Any] | None,
        scene: str,
        name: str,
        repeat_window_ms: int = 600_000,
        max_per_minute: int = 120,
    ) -> None:
        self.runtime = runtime  # None: alerts are counted and logged only (a gateway in a unit test)
        self.scene = scene
        self.processor = f"gateway.{name}"
        self.repeat_window_ms = repeat_window_ms
        self.open: OrderedDict[str, Alert] = OrderedDict()  # by dedupe key, most recent last
        self.raised = 0
        self.failed = 0
        self.suppressed = 0
        self.max_per_minute = max_per_minute
        self._minute = (0, 0)  # (minute number, alerts written in it)
        self._tasks: set[asyncio.Task[None]] = set()

    def raise_alert(
        self,
        rule: str,
        key: str,
        title: str,
        message: str,
        data: dict[str, Any],
        severity: Severity = "major",
    ) -> Alert | None:
        now = int(time.time() * 1000)
        dk = f"{rule}:{key}"
        self.raised += 1
        minute, written = self._minute
        if now // 60_000 != minute:
            minute, written = now // 60_000, 0
        self._minute = (minute, written + 1)
        if written >= self.max_per_minute:
            self.suppressed += 1
            if self.suppressed % 1_000 == 1:
                log.warning("%s: identity alerts over %d a minute; suppressing (%d so far)",
                            self.processor, self.max_per_minute, self.suppressed)  # fmt: skip
            return None
        log.warning("%s alert %s for %s: %s %s", self.processor, rule, key, message, data)
        old = self.open.get(dk)
        if old is not None and now - old.last_ts < self.repeat_window_ms:
            old.count += 1
            old.last_ts, old.message, old.data, old.severity = now, message, data, severity
            self.open.move_to_end(dk)
            self._write("update", old)
            return old
        alert = Alert(
            id=secrets.token_hex(8), rule=rule, scene=self.scene, key=key, dedupe_key=dk,
            severity=severity, title=title, message=message, data=data, opened_ts=now, last_ts=now,
        )  # fmt: skip
        self.open[dk] = alert
        while len(self.open) > MAX_TRACKED:
            self.open.popitem(last=False)
        self._write("open", alert)
        return alert

    def _write(self, op: str, alert: Alert) -> None:
        if self.runtime is None:
            return
        copy = msgspec.structs.replace(alert)  # later repeats mutate the tracked one
        try:
            task = asyncio.get_running_loop().create_task(self._commit(op, copy))
        except RuntimeError:  # no running loop (a synchronous caller): write now
            self._commit_sync(op, copy)
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _commit(self, op: str, alert: Alert) -> None:
        await asyncio.to_thread(self._commit_sync, op, alert)

    def _commit_sync(self, op: str, alert: Alert) -> None:
        assert self.runtime is not None
        try:
            changed = self.runtime.record_alerts([AlertOp(op, alert)])  # type: ignore[arg-type]
        except Exception:  # never let an alert write take a gateway down
            self.failed += 1
            log.exception("%s: could not store alert %s", self.processor, alert.dedupe_key)
            changed = []
        for a in changed or [alert]:
            self.runtime.publish("alert", msgspec.to_builtins(a))

    async def drain(self) -> None:
        """Wait until every alert raised so far is stored."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class AlertingGateway(TcpServer):
    """A device gateway: a :class:`TcpServer` whose sessions count frames by kind in ``kinds`` and
    raise identity alerts through ``alerts`` (a subclass sets both before its sessions run).

    ``counters`` are the server's, ``frames_<kind>``, the subclass's :meth:`extra_counters` and
    ``identity_alerts``; ``stop`` also waits until the alerts raised are stored."""

    kinds: dict[str, int]
    alerts: GatewayAlerts

    def extra_counters(self) -> dict[str, int]:
        """The gateway's own counters, listed between the frames and ``identity_alerts``."""
        return {}

    def counters(self) -> dict[str, int]:
        out: dict[str, int] = dict(self.stats.as_dict())
        out.update({f"frames_{k}": v for k, v in sorted(self.kinds.items())})
        out.update(self.extra_counters())
        out["identity_alerts"] = self.alerts.raised
        return out

    async def stop(self, grace: float = 5.0) -> None:
        await super().stop(grace)
        await self.alerts.drain()
