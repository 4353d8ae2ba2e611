"""MQTT ingest against real brokers: JSON round trip through the machine's Mosquitto, the
embedded broker of the one-command demo, and a broker restart without loss of acknowledged data
(our own Mosquitto child on a free port with persistence)."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import msgspec

from citybrain.core.events import Event
from citybrain.core.platform import Platform
from citybrain.scenes.factory.events import FactoryReject, FactoryTags, FactoryTrace
from citybrain.scenes.factory.gateway import FactoryMqttServer
from tests.scenes.factory.factory_testkit import (
    D0,
    M,
    ensure_mosquitto,
    factory_platform,
    factory_settings,
    free_port,
    mqtt_ingest,
    port_open,
    small_site,
    write_plants,
)

J = msgspec.json.encode


async def until(cond: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)


def stored(p: Platform, kinds: list[str]) -> list[Event]:
    return p.store.find_events(kinds)


def test_json_round_trip_through_mosquitto(tmp_path: Path) -> None:
    ensure_mosquitto()
    pfx, grp = f"cbt{uuid.uuid4().hex[:8]}", f"cbg{uuid.uuid4().hex[:8]}"
    s = factory_settings(
        tmp_path, write_plants(tmp_path, small_site(group=grp)), ingest=mqtt_ingest(pfx, grp)
    )
    p = factory_platform(s)
    srv = FactoryMqttServer(p.runtime("factory"))

    async def main() -> None:
        await srv.start()
        await asyncio.wait_for(srv.subscriber.connected.wait(), 10)
        async with aiomqtt.Client("127.0.0.1", 1883) as c:
            base = f"{pfx}/t1/L/a"
            await c.publish(
                f"{base}/telemetry",
                J({"ts": D0, "good": 10, "reject": 1, "state": "running", "temp_dc": 1680}),
                qos=1,
            )
            await c.publish(
                f"{base}/telemetry", J({"ts": D0 + M, "good": 70, "reject": 3, "temp_dc": 1702}), qos=1
            )
            await c.publish(f"{base}/reject", J({"reason": "烫焦 scorch", "count": 2, "ts": D0 + M}), qos=1)
            await c.publish(
                f"{pfx}/t1/trace",
                J(
                    {
                        "unit": "B-1",
                        "ts": D0 + M,
                        "machine": "a",
                        "operator": "张伟",
                        "inputs": [{"lot": "Y-1", "qty": 2.5, "unit": "kg"}],
                    }
                ),
                qos=1,
            )
            await c.publish(f"{base}/telemetry", b"{not json", qos=1)  # a bad payload: counted, acknowledged
            await c.publish(
                f"{pfx}/t1/L/unknown/telemetry", J({"ts": D0, "good": 1}), qos=1
            )  # not in the model
        await until(lambda: srv.subscriber.stats.acked >= 6)
        await srv.stop()
        await p.batcher.stop()

    asyncio.run(main())
    try:
        assert srv.subscriber.stats.bad_payloads == 1
        assert srv.ingest.unmapped == {"t1/unknown": 1}
        tags = [e for e in stored(p, ["factory.tags"]) if isinstance(e, FactoryTags)]
        assert [(t.key, t.values.get("temp"), t.units) for t in tags] == [
            ("t1/a", 168.0, {"temp": "°C"}),
            ("t1/a", 170.2, {"temp": "°C"}),
        ]
        assert isinstance(stored(p, ["factory.reject"])[0], FactoryReject)
        trace = stored(p, ["factory.trace"])[0]
        assert isinstance(trace, FactoryTrace) and trace.inputs[0].lot == "Y-1" and trace.site == "t1"
        p.pipeline.drain()
        live = p.store.states("factory", "t1/a")[0]["data"]
        assert live["state"] == "running" and live["values"]["temp"] == 170.2
        assert live["oee"]["good"] == 60 and live["oee"]["reject"] == 2
    finally:
        p.stop()


def test_embedded_broker_demo_path(tmp_path: Path) -> None:
    pfx, grp = "factory", f"cbg{uuid.uuid4().hex[:8]}"
    port = free_port()
    ingest = mqtt_ingest(pfx, grp, url="")
    ingest["mqtt"]["embedded_port"] = port
    s = factory_settings(tmp_path, write_plants(tmp_path, small_site(group=grp)), ingest=ingest)
    p = factory_platform(s)
    srv = FactoryMqttServer(p.runtime("factory"))

    async def main() -> None:
        await srv.start()
        assert srv.broker is not None
        await asyncio.wait_for(srv.subscriber.connected.wait(), 10)
        user = "site-t1"  # the demo account of plant site t1 (no anonymous access)
        async with aiomqtt.Client(
            "127.0.0.1", port, identifier=f"{user}-test", username=user, password=srv.passwords[user]
        ) as c:
            await c.publish("factory/t1/L/b/telemetry", J({"ts": D0, "good": 5, "state": "running"}), qos=1)
        await until(lambda: srv.subscriber.stats.acked >= 1)
        await srv.stop()
        await p.batcher.stop()

    asyncio.run(main())
    try:
        assert [e.key for e in stored(p, ["factory.tags"])] == ["t1/b"]
        assert not port_open("127.0.0.1", port)  # the embedded broker stopped with the server
    finally:
        p.stop()


def _mosquitto(conf: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def test_broker_restart_loses_no_acknowledged_message(tmp_path: Path) -> None:
    """Messages the broker acknowledged to the publisher reach the store exactly once although the
    broker restarts while they are delivered to us and not yet acknowledged by us."""
    port = free_port()
    data = tmp_path / "mosq"
    data.mkdir()
    conf = tmp_path / "mosquitto.conf"
    # "user root": run as root, Mosquitto would switch to its own user, which cannot write in tmp_path
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nuser root\n"
        f"persistence true\npersistence_location {data}/\n"
    )
    broker = _mosquitto(conf)
    pfx, grp = f"cbr{uuid.uuid4().hex[:8]}", f"cbg{uuid.uuid4().hex[:8]}"
    s = factory_settings(
        tmp_path,
        write_plants(tmp_path, small_site(group=grp)),
        ingest=mqtt_ingest(pfx, grp, url=f"mqtt://127.0.0.1:{port}"),
    )
    p = factory_platform(s)
    gate = asyncio.Event()

    async def gated_submit(events: list[Event]) -> None:
        await gate.wait()  # the store is "slow": nothing can be acknowledged until the gate opens
        await p.batcher.submit(events)

    srv = FactoryMqttServer(p.runtime("factory"), submit=gated_submit)
    n = 200

    async def main() -> None:
        nonlocal broker
        for _ in range(50):
            if port_open("127.0.0.1", port):
                break
            await asyncio.sleep(0.1)
        await srv.start()
        await asyncio.wait_for(srv.subscriber.connected.wait(), 10)
        async with aiomqtt.Client("127.0.0.1", port) as c:
            for i in range(n):  # each publish returns once the broker sent PUBACK
                await c.publish(f"{pfx}/t1/L/a/telemetry", J({"ts": D0 + i * 1000, "good": i}), qos=1)
        await until(lambda: srv.subscriber.stats.messages > 0)
        assert srv.subscriber.stats.acked == 0
        broker.terminate()  # a clean restart: Mosquitto saves its sessions and queues
        broker.wait(10)
        await until(lambda: not srv.subscriber.connected.is_set())
        broker = _mosquitto(conf)
        gate.set()
        await until(lambda: p.store.count_events() >= n, timeout=30)
        await until(lambda: srv.subscriber.stats.acked >= n, timeout=30)
        await srv.stop()
        await p.batcher.stop()

    try:
        asyncio.run(main())
        goods = sorted(
            int(e.values["good"]) for e in stored(p, ["factory.tags"]) if isinstance(e, FactoryTags)
        )
        assert goods == list(range(n))  # every message, each once (redeliveries dedupe by content id)
        assert srv.subscriber.stats.connects >= 2
    finally:
        broker.terminate()
        broker.wait(10)
        p.stop()
