"""The factory's MQTT client against the machine's Mosquitto: the documented defaults hold when only
the broker's url is set, and the Sparkplug 3.0 host STATE is stamped as edge nodes need it."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from citybrain.core.errors import ConfigError
from citybrain.gateways.mqtt import MqttConfig, MqttSubscriber
from citybrain.scenes.factory import scene
from citybrain.scenes.factory.gateway import FactoryMqttServer
from tests.scenes.factory.factory_testkit import (
    MOSQUITTO,
    ensure_mosquitto,
    factory_platform,
    factory_settings,
    small_site,
    write_plants,
)


async def until(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)


async def forget_session(client_id: str) -> None:
    """Drop the persistent session a test left on the shared broker (it would queue for ever)."""
    async with aiomqtt.Client(*MOSQUITTO, identifier=client_id, clean_session=True):
        pass


def test_setting_only_the_url_keeps_the_factory_defaults() -> None:
    cfg = scene.load_settings({"ingest": {"mqtt": {"url": "mqtt://broker.example:1883"}}})
    mq = cfg.ingest.mqtt
    assert (mq.url, mq.topics, mq.client_id) == (
        "mqtt://broker.example:1883",
        ["factory/#", "spBv1.0/#"],
        "citybrain-factory",
    )
    assert mq.qos == 1 and mq.embedded_port == 1884  # the generic defaults still apply


@pytest.mark.parametrize(("field", "value"), [("topics", []), ("client_id", "")])
def test_a_subscriber_without_topics_or_client_id_is_refused(field: str, value: Any) -> None:
    fields: dict[str, Any] = {"url": "mqtt://127.0.0.1:1883", "topics": ["a/#"], "client_id": "x"}
    cfg = MqttConfig(**{**fields, field: value})

    async def submit(_events: Any) -> None:
        return None

    with pytest.raises(ConfigError, match=f"mqtt.{field} is empty"):
        MqttSubscriber(cfg, lambda _m: [], submit)


def test_only_factory_topics_are_taken_from_a_shared_broker(tmp_path: Path) -> None:
    ensure_mosquitto()
    tag = uuid.uuid4().hex[:8]
    client_id = f"cb-test-url-{tag}"
    # the url (and a client id of its own, as two tests must not share a session) and nothing else
    ingest = {"mqtt": {"url": "mqtt://127.0.0.1:1883", "client_id": client_id}, "host_id": f"cb-{tag}"}
    p = factory_platform(factory_settings(tmp_path, write_plants(tmp_path, small_site()), ingest=ingest))
    srv = FactoryMqttServer(p.runtime("factory"))

    async def main() -> None:
        await srv.start()
        try:
            await asyncio.wait_for(srv.subscriber.connected.wait(), 10)
            async with aiomqtt.Client(*MOSQUITTO) as other:
                await other.publish(f"other-app-{tag}/line/temp", b'{"t": 1}', qos=1)
                await other.publish(f"factory/x{tag}/w/l/telemetry", b'{"temp_dc": 1}', qos=1)
            await until(lambda: any(tag in k for k in srv.ingest.unmapped))
        finally:
            await srv.stop()
            await forget_session(client_id)
            await p.batcher.stop()

    asyncio.run(main())
    seen = [k for k in srv.ingest.unmapped if tag in k]
    assert seen and all(not k.startswith("other-app") for k in seen), seen
    assert srv.subscriber.cfg.topics == ["factory/#", "spBv1.0/#"]
    p.stop()


def test_host_state_carries_its_connect_time_in_birth_will_and_clean_death(tmp_path: Path) -> None:
    """Sparkplug 3.0: the Will (offline STATE) is stamped with the CONNECT time and the online
    STATE repeats it, so an edge node that saw that online STATE acts on the offline one; a
    clean stop publishes the offline STATE itself (a clean DISCONNECT drops the Will)."""
    ensure_mosquitto()
    tag = uuid.uuid4().hex[:8]
    host_id, client_id = f"cb-host-{tag}", f"cb-test-state-{tag}"
    ingest = {
        "mqtt": {"url": "mqtt://127.0.0.1:1883", "client_id": client_id, "topics": [f"cbs{tag}/#"],
                 "backoff_min_s": 0.1, "backoff_max_s": 0.5},
        "host_id": host_id,
    }  # fmt: skip
    p = factory_platform(factory_settings(tmp_path, write_plants(tmp_path, small_site()), ingest=ingest))
    srv = FactoryMqttServer(p.runtime("factory"))
    states: list[dict[str, Any]] = []

    async def watch(observer: aiomqtt.Client) -> None:
        async for m in observer.messages:
            assert isinstance(m.payload, bytes)
            if m.payload:  # the retained message cleared at the end is empty
                states.append(json.loads(m.payload))

    async def main() -> None:
        async with aiomqtt.Client(*MOSQUITTO) as observer:
            await observer.subscribe(f"spBv1.0/STATE/{host_id}", qos=1)
            watcher = asyncio.create_task(watch(observer))
            t0 = time.time_ns() // 1_000_000
            await srv.start()
            try:
                await until(lambda: len(states) >= 1)
                client = srv.subscriber._client
                assert client is not None
                # the connection drops without a DISCONNECT, as when the process dies
                sock = client._client.socket()
                assert isinstance(sock, socket.socket)
                sock.shutdown(socket.SHUT_RDWR)
                await until(lambda: len(states) >= 3)  # the Will, then the next connection's birth
            finally:
                await srv.stop()
            await until(lambda: len(states) >= 4)
            watcher.cancel()
            await observer.publish(f"spBv1.0/STATE/{host_id}", b"", qos=1, retain=True)
        await forget_session(client_id)
        await p.batcher.stop()
        first, will, second, death = states[:4]
        assert first["online"] is True and first["timestamp"] >= t0
        assert will == {"online": False, "timestamp": first["timestamp"]}
        assert second["online"] is True and second["timestamp"] >= first["timestamp"]
        assert death == {"online": False, "timestamp": second["timestamp"]}

    asyncio.run(main())
    p.stop()
