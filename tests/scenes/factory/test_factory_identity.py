"""Device identity on the embedded MQTT broker of the demo (issue 10, item 4), over real MQTT:
anonymous and wrong logins are refused, a device publishes only under its own topics, ``#`` is
refused, the Sparkplug host's STATE is the platform's alone (nor can a Will forge it), a client
cannot cut the platform's session by borrowing its client id; unmapped topics are bounded (item 5)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt
import msgspec
import pytest

from citybrain.gateways.mqtt import filter_covers
from citybrain.scenes.factory.gateway import BoundedCounts, FactoryMqttServer
from tests.scenes.factory.factory_testkit import (
    D0,
    factory_platform,
    factory_settings,
    free_port,
    small_site,
    write_plants,
)
from tests.scenes.factory.test_factory_mqtt import stored, until

J = msgspec.json.encode


def run(tmp_path: Path, main: Callable[[FactoryMqttServer, int], Awaitable[None]]) -> list[str]:
    """Run ``main`` against a factory server with its embedded broker; the keys of stored tags."""
    grp = f"cbg{uuid.uuid4().hex[:8]}"
    port = free_port()
    ingest = {
        "mqtt": {"embedded_port": port, "backoff_min_s": 0.1, "backoff_max_s": 1.0},
        "rebirth_interval_s": 0.0,
        "devices": {"site-rogue": {"password": "sha256:" + _sha("rogue-pw"), "publish": ["factory/rogue/#"]}},
    }
    plants = write_plants(tmp_path, small_site("t1", group=grp), small_site("t2", group=grp + "x"))
    s = factory_settings(tmp_path, plants, ingest=ingest)
    p = factory_platform(s)
    srv = FactoryMqttServer(p.runtime("factory"))

    async def go() -> None:
        await srv.start()
        try:
            await asyncio.wait_for(srv.subscriber.connected.wait(), 10)
            await asyncio.wait_for(main(srv, port), 30)
        finally:
            await srv.stop()
            await p.batcher.stop()

    try:
        asyncio.run(go())
        return sorted(e.key for e in stored(p, ["factory.tags"]))
    finally:
        p.stop()


def settled(srv: FactoryMqttServer, events: int) -> Callable[[], bool]:
    """``events`` events taken and every QoS 1 message received so far acknowledged (durable)."""
    st = srv.subscriber.stats
    return lambda: st.events >= events and st.acked == st.messages


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


@asynccontextmanager
async def device(
    srv: FactoryMqttServer, port: int, user: str, password: str | None = None, **kw: object
) -> AsyncIterator[aiomqtt.Client]:
    pw = password if password is not None else srv.passwords[user]
    ident = str(kw.pop("identifier", f"{user}-{uuid.uuid4().hex[:6]}"))
    async with aiomqtt.Client("127.0.0.1", port, identifier=ident, username=user, password=pw, **kw) as c:  # type: ignore[arg-type]
        yield c


def test_anonymous_and_wrong_logins_are_refused(tmp_path: Path) -> None:
    async def main(srv: FactoryMqttServer, port: int) -> None:
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", port, identifier="anon"):
                pass
        with pytest.raises(aiomqtt.MqttError):
            async with device(srv, port, "site-t1", "guessed"):
                pass
        async with device(srv, port, "site-rogue", "rogue-pw"):  # a configured device (hashed password)
            pass
        assert srv.broker is not None and srv.broker.accounts.stats.refused_logins == 2

    run(tmp_path, main)


def test_a_device_publishes_only_under_its_own_topics(tmp_path: Path) -> None:
    async def main(srv: FactoryMqttServer, port: int) -> None:
        async with device(srv, port, "site-t2") as t2:
            # t2 forges t1's telemetry, then sends its own: only its own reaches the platform
            await t2.publish("factory/t1/L/a/telemetry", J({"ts": D0, "good": 666}), qos=1)
            await t2.publish("factory/t2/L/a/telemetry", J({"ts": D0, "good": 5}), qos=1)
        await until(settled(srv, 1))
        async with device(srv, port, "site-t1") as t1:  # a fence post: t1's own message comes after
            await t1.publish("factory/t1/L/b/telemetry", J({"ts": D0, "good": 1}), qos=1)
        await until(settled(srv, 2))
        assert srv.broker is not None and srv.broker.accounts.stats.refused_publish == 1

    assert run(tmp_path, main) == ["t1/b", "t2/a"]


def test_hash_subscription_by_a_device_is_refused(tmp_path: Path) -> None:
    async def main(srv: FactoryMqttServer, port: int) -> None:
        grp = next(u for u in srv.passwords if u.startswith("spb-"))
        # the SUBACK codes are paho ReasonCodes, equal to their int values (mypy cannot see that: ignores)
        async with device(srv, port, "site-t1") as t1:  # 0x80: failure
            assert await t1.subscribe("#", qos=1) == [0x80]  # type: ignore[comparison-overlap]
        async with device(srv, port, grp) as edge:  # every plant's traffic: refused; what an edge node needs
            assert await edge.subscribe("spBv1.0/#", qos=1) == [0x80]  # type: ignore[comparison-overlap]
            assert await edge.subscribe("spBv1.0/STATE/+", qos=1) == [1]  # type: ignore[comparison-overlap]
        assert srv.broker is not None and srv.broker.accounts.stats.refused_subscribe == 2

    run(tmp_path, main)


def test_the_host_state_is_writable_only_by_the_host(tmp_path: Path) -> None:
    async def main(srv: FactoryMqttServer, port: int) -> None:
        state = srv.state_topic
        edge_user = next(u for u in srv.passwords if u.startswith("spb-"))
        await until(lambda: srv.subscriber.stats.sent >= 1)  # the platform's retained STATE birth
        spoof = J({"online": False, "timestamp": 1})
        async with device(srv, port, edge_user) as edge:
            await edge.publish(state, spoof, qos=1, retain=True)
        # nor can a Will publish it on the device's behalf: such a connection is refused
        with pytest.raises(aiomqtt.MqttError):
            async with device(srv, port, "site-t1", will=aiomqtt.Will(state, spoof, 1, True)):
                pass
        async with device(srv, port, edge_user) as edge:
            await edge.subscribe(state, qos=1)
            msg = await anext(edge.messages)
            assert msg.retain and msgspec.json.decode(msg.payload)["online"] is True

    run(tmp_path, main)


def test_a_borrowed_client_id_cannot_cut_the_platform_off(tmp_path: Path) -> None:
    async def main(srv: FactoryMqttServer, port: int) -> None:
        platform_id = srv.subscriber.cfg.client_id
        with pytest.raises(aiomqtt.MqttError):  # anonymous, with the platform's client id
            async with aiomqtt.Client("127.0.0.1", port, identifier=platform_id, clean_session=True):
                pass
        with pytest.raises(aiomqtt.MqttError):  # a real device, with the platform's client id
            async with device(srv, port, "site-t1", identifier=platform_id):
                pass
        async with device(srv, port, "site-t1") as t1:
            await t1.publish("factory/t1/L/a/telemetry", J({"ts": D0, "good": 3}), qos=1)
        await until(settled(srv, 1))
        assert srv.subscriber.stats.connects == 1  # never kicked off

    assert run(tmp_path, main) == ["t1/a"]


def test_unmapped_topics_are_bounded() -> None:
    counts = BoundedCounts(3)
    for i in range(10_000):
        counts.add(f"junk/{i}")
    counts.add("junk/9999")
    assert len(counts) == 3 and sum(counts.values()) == 10_001
    assert counts["junk/9999"] == 2 and counts["(other)"] == 9_998


def test_filter_covers() -> None:
    assert filter_covers("a/#", "a/+/b") and filter_covers("a/+", "a/b") and filter_covers("#", "#")
    assert (
        not filter_covers("a/+", "a/#") and not filter_covers("a/#", "#") and not filter_covers("a/b", "a/+")
    )
    assert filter_covers("a/#", "a") and not filter_covers("a/+/c", "a/b")
