"""Helpers for the factory scene tests: the real Mosquitto, a small plant model, a platform with
only the factory scene, and a processor driven without a server."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec

from citybrain.core.config import Settings, load_settings
from citybrain.core.events import REGISTRY
from citybrain.core.outputs import Outputs
from citybrain.core.platform import Platform
from citybrain.core.processor import AlertBook, Emitter
from citybrain.scenes.factory import scene
from citybrain.scenes.factory.gateway import FactoryMqttServer
from citybrain.scenes.factory.plant import (
    LineSpec,
    MachineSpec,
    PlannedStop,
    PlantBook,
    ShiftSpec,
    SiteSpec,
    TagSpec,
    Thresholds,
    WorkshopSpec,
)
from citybrain.scenes.factory.processors import FactoryMachines, MachineEvent
from citybrain.scenes.factory.settings import FactorySettings
from citybrain.scenes.factory.world import FactoryWorld

MOSQUITTO = ("127.0.0.1", 1883)
# 2026-07-06 00:00 UTC = 08:00 in China (UTC+8): the start of the test day's first shift
D0 = 1_783_296_000_000
H = 3_600_000
M = 60_000


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def ensure_mosquitto() -> None:
    """The machine's Mosquitto on 127.0.0.1:1883; started with the machine-notes command if down."""
    if port_open(*MOSQUITTO):
        return
    subprocess.run(["mosquitto", "-d", "-c", "/etc/mosquitto/mosquitto.conf"], check=True)
    for _ in range(50):
        if port_open(*MOSQUITTO):
            return
        time.sleep(0.1)
    raise RuntimeError("Mosquitto did not come up on 127.0.0.1:1883")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def counters_machine(mid: str, source: str = "", pri: float = 1.0) -> MachineSpec:
    return MachineSpec(
        id=mid,
        name=mid,
        ideal_cycle_s=pri,
        source=source,
        tags={
            "good": TagSpec(role="good"),
            "reject": TagSpec(role="reject"),
            "state": TagSpec(role="state"),
            "temp": TagSpec(role="process", unit="°C", lo=150, hi=185),
        },
    )


def small_site(site_id: str = "t1", *, group: str = "g", max_gap_s: float = 3600) -> SiteSpec:
    """One line, machines a and b (JSON) and c (Sparkplug ``group/n1/c``); shift 08:00-16:00 and
    16:00-24:00 local, planned stop 12:00-12:30."""
    return SiteSpec(
        id=site_id,
        name="测试厂",
        industry="test",
        utc_offset_h=8,
        shifts=[ShiftSpec("A", "08:00", "16:00"), ShiftSpec("B", "16:00", "00:00")],
        planned_stops=[PlannedStop("12:00", "12:30", "lunch")],
        thresholds=Thresholds(minor_stop_s=300, max_gap_s=max_gap_s, quality_min_count=10),
        workshops=[
            WorkshopSpec(
                "W",
                lines=[
                    LineSpec(
                        "L",
                        plan_per_hour=3000,
                        machines=[
                            counters_machine("a"),
                            counters_machine("b", pri=2.0),
                            MachineSpec(
                                id="c",
                                ideal_cycle_s=1.0,
                                source=f"spb:{group}/n1/c",
                                output=True,
                                tags={
                                    "Good": TagSpec(role="good"),
                                    "Reject": TagSpec(role="reject"),
                                    "State": TagSpec(role="state"),
                                    "Humidity": TagSpec(role="process", unit="%RH"),
                                },
                            ),
                        ],
                    )
                ],
            )
        ],
    )


def write_plants(tmp_path: Path, *sites: SiteSpec) -> Path:
    path = tmp_path / f"plants-{uuid.uuid4().hex[:8]}.json"
    path.write_bytes(msgspec.json.encode({"sites": [msgspec.to_builtins(s) for s in sites]}))
    return path


def factory_settings(tmp_path: Path, plants: Path, **scene_settings: Any) -> Settings:
    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path / "var")})
    s.scenes["factory"] = {"plants_file": str(plants), **scene_settings}
    return s


def factory_platform(settings: Settings) -> Platform:
    for kind in scene.events:
        REGISTRY.register(kind)
    return Platform(settings, scenes={"factory": scene})


@asynccontextmanager
async def serving(p: Platform) -> AsyncIterator[FactoryMqttServer]:
    """The factory MQTT server of ``p``, connected to its broker; stopped, and what it submitted
    flushed, on the way out."""
    srv = FactoryMqttServer(p.runtime("factory"))
    await srv.start()
    try:
        await asyncio.wait_for(srv.subscriber.connected.wait(), 10)
        yield srv
    finally:
        await srv.stop()
        await p.batcher.stop()


def mqtt_ingest(prefix: str, group: str, url: str = "mqtt://127.0.0.1:1883") -> dict[str, Any]:
    """Ingest settings isolated on their own topics (the broker is shared with other tests and sims)."""
    return {
        "mqtt": {
            "url": url,
            "client_id": f"cb-test-{uuid.uuid4().hex[:8]}",
            "backoff_min_s": 0.1,
            "backoff_max_s": 1.0,
            "topics": [f"{prefix}/#", f"spBv1.0/{group}/#"],
        },
        "tag_rules": [
            {
                "topic": f"{prefix}/+/+/+/telemetry",
                "entity": "{1}/{3}",
                "fields": {"temp_dc": {"tag": "temp", "scale": 0.1, "unit": "°C"}},
            }
        ],
        "reject_topic": f"{prefix}/+/+/+/reject",
        "trace_topic": f"{prefix}/+/trace",
        "host_id": f"cb-test-{prefix}",
        "rebirth_interval_s": 0.0,
    }


class Driver:
    """A factory processor on one partition, fed events directly (no bus, no store)."""

    def __init__(self, book: PlantBook) -> None:
        self.proc = FactoryMachines(0, FactorySettings(), FactoryWorld(book))
        self.book = AlertBook()
        self.out = Outputs()

    def feed(self, *events: MachineEvent) -> Outputs:
        out = Outputs()
        self.proc.process(list(enumerate(events, start=1)), Emitter("factory.machines", 0, self.book, out))
        self.out.metrics += out.metrics
        self.out.alerts += out.alerts
        self.out.states += out.states
        return out

    def tick(self, now: int) -> Outputs:
        out = Outputs()
        self.proc.tick(now, Emitter("factory.machines", 0, self.book, out))
        self.out.alerts += out.alerts
        return out
