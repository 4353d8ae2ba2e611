"""The factory's JSON telemetry path driven by a third-party MQTT 5 client (Eclipse paho-mqtt 1.6.1,
tests/interop/peers/mqtt5_telemetry.py, in its own process): through Mosquitto, which speaks MQTT 5,
what the device published is stored; the embedded broker (amqtt, MQTT 3.1.1 only) refuses an MQTT 5
client with a CONNACK that says so, and keeps serving 3.1.1 clients."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from citybrain.scenes.factory.events import FactoryTags
from citybrain.scenes.factory.gateway import site_user
from citybrain.testing import free_port
from tests.scenes.factory import factory_testkit as kit
from tests.scenes.factory.test_factory_mqtt import stored, until
from tests.support.peers import require_peers, run_peer

D0 = 1_782_950_400_000  # 2026-07-02 08:00 China time, in shift A


def test_mqtt5_device_telemetry_through_mosquitto_is_stored(tmp_path: Path) -> None:
    require_peers()
    kit.ensure_mosquitto()
    pfx, grp = f"cbt{uuid.uuid4().hex[:8]}", f"cbg{uuid.uuid4().hex[:8]}"
    plants = kit.write_plants(tmp_path, kit.small_site(group=grp))
    p = kit.factory_platform(kit.factory_settings(tmp_path, plants, ingest=kit.mqtt_ingest(pfx, grp)))
    docs = [
        {"ts": D0, "good": 10, "reject": 1, "state": "running", "temp_dc": 1680},
        {"ts": D0 + 60_000, "good": 70, "reject": 3, "temp_dc": 1702},
    ]
    pairs = [f"{pfx}/t1/L/a/telemetry={json.dumps(d)}" for d in docs]

    async def main() -> list[dict[str, Any]]:
        async with kit.serving(p) as srv:
            out = await run_peer("mqtt5_telemetry", "127.0.0.1", "1883", f"v5-{pfx}", "", "", *pairs)
            await until(lambda: srv.subscriber.stats.acked >= 2)
            return out

    try:
        lines = asyncio.run(main())
        assert lines[0]["connack"] == 0
        assert sum("puback" in ln for ln in lines) == 2
        tags = [e for e in stored(p, ["factory.tags"]) if isinstance(e, FactoryTags)]
        assert [(t.key, t.ts, t.values.get("temp"), t.values.get("good")) for t in tags] == [
            ("t1/a", D0, 168.0, 10),
            ("t1/a", D0 + 60_000, 170.2, 70),
        ]
    finally:
        p.stop()


def test_embedded_broker_refuses_mqtt5_clearly_and_keeps_serving(tmp_path: Path) -> None:
    require_peers()
    port = free_port()
    ingest = {"mqtt": {"embedded_port": port, "backoff_min_s": 0.1, "backoff_max_s": 1.0}}
    plants = kit.write_plants(tmp_path, kit.small_site())
    p = kit.factory_platform(kit.factory_settings(tmp_path, plants, ingest=ingest))
    user = site_user("t1")
    doc = json.dumps({"ts": D0, "good": 1})

    async def main() -> list[dict[str, Any]]:
        async with kit.serving(p) as srv:
            out = await run_peer(
                "mqtt5_telemetry", "127.0.0.1", str(port), f"{user}-v5", user, srv.passwords[user],
                f"factory/t1/L/a/telemetry={doc}",
            )  # fmt: skip
            assert srv.subscriber.connected.is_set()  # the platform's own 3.1.1 session is untouched
            return out

    try:
        lines = asyncio.run(main())
        # MQTT 5 reason code 0x84 "Unsupported Protocol Version", read by the device as such: a
        # refusal it can log (amqtt alone misreads the CONNECT and never answers)
        assert lines and lines[0] == {"connack": 0x84, "name": "Unsupported protocol version"}, lines
        assert not any("puback" in ln for ln in lines)
        assert stored(p, ["factory.tags"]) == []
    finally:
        p.stop()
