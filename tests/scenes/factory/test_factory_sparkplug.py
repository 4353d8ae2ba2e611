"""Sparkplug B: the payload codec against the protobuf runtime (schema built from descriptors),
births/deaths/aliases through the real Mosquitto, sequence gaps and the rebirth request, stale
deaths, and alias tables restored from the store after a restart."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from citybrain.gateways.mqtt import Incoming
from citybrain.protocols import sparkplug_b as spb
from citybrain.scenes.factory.events import FactoryLink, FactoryTags
from citybrain.scenes.factory.gateway import FactoryMqttServer
from citybrain.scenes.factory.plant import PlantBook
from citybrain.scenes.factory.spb_host import SparkplugHost
from tests.scenes.factory.factory_testkit import (
    D0,
    ensure_mosquitto,
    factory_platform,
    factory_settings,
    mqtt_ingest,
    small_site,
    write_plants,
)
from tests.scenes.factory.test_factory_mqtt import stored, until


def runtime_classes() -> tuple[Any, Any]:
    """Payload and Metric classes of the protobuf runtime, from a schema written here with the
    descriptor API (scalar value fields only; field numbers of the Sparkplug 3.0 specification)."""
    f = descriptor_pb2.FileDescriptorProto(
        name=f"spb_test_{uuid.uuid4().hex}.proto", package="t", syntax="proto2"
    )
    T = descriptor_pb2.FieldDescriptorProto
    metric = f.message_type.add(name="Metric")
    fields = [
        ("name", 1, T.TYPE_STRING),
        ("alias", 2, T.TYPE_UINT64),
        ("timestamp", 3, T.TYPE_UINT64),
        ("datatype", 4, T.TYPE_UINT32),
        ("is_historical", 5, T.TYPE_BOOL),
        ("is_transient", 6, T.TYPE_BOOL),
        ("is_null", 7, T.TYPE_BOOL),
        ("int_value", 10, T.TYPE_UINT32),
        ("long_value", 11, T.TYPE_UINT64),
        ("float_value", 12, T.TYPE_FLOAT),
        ("double_value", 13, T.TYPE_DOUBLE),
        ("boolean_value", 14, T.TYPE_BOOL),
        ("string_value", 15, T.TYPE_STRING),
        ("bytes_value", 16, T.TYPE_BYTES),
    ]
    for name, num, typ in fields:
        metric.field.add(name=name, number=num, type=typ, label=T.LABEL_OPTIONAL)
    payload = f.message_type.add(name="Payload")
    payload.field.add(name="timestamp", number=1, type=T.TYPE_UINT64, label=T.LABEL_OPTIONAL)
    payload.field.add(
        name="metrics", number=2, type=T.TYPE_MESSAGE, type_name=".t.Metric", label=T.LABEL_REPEATED
    )
    payload.field.add(name="seq", number=3, type=T.TYPE_UINT64, label=T.LABEL_OPTIONAL)
    payload.field.add(name="uuid", number=4, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
    payload.field.add(name="body", number=5, type=T.TYPE_BYTES, label=T.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("t.Payload")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName("t.Metric")),
    )


SAMPLE = spb.Payload(
    timestamp=D0,
    seq=7,
    uuid="u-1",
    metrics=[
        spb.Metric(name="Production/Good", alias=1, datatype=spb.UINT64, value=2**40 + 5),
        spb.Metric(name="Temp", alias=2, timestamp=D0 - 5, datatype=spb.FLOAT, value=25.5),
        spb.Metric(name="Offset", alias=3, datatype=spb.INT32, value=-12),
        spb.Metric(name="Delta", alias=4, datatype=spb.INT64, value=-(2**40)),
        spb.Metric(name="Run", alias=5, datatype=spb.BOOLEAN, value=True),
        spb.Metric(name="State", alias=6, datatype=spb.STRING, value="运行 running"),
        spb.Metric(name="Blob", alias=7, datatype=spb.BYTES, value=b"\x00\xff"),
        spb.Metric(name="Missing", alias=8, datatype=spb.DOUBLE, is_null=True),
        spb.Metric(alias=9, datatype=spb.DOUBLE, value=-1.25),
    ],
)


def test_codec_matches_the_protobuf_runtime_both_ways() -> None:
    Payload, _ = runtime_classes()
    ours = spb.encode_payload(SAMPLE)
    theirs = Payload()
    theirs.ParseFromString(ours)
    assert theirs.seq == 7 and theirs.uuid == "u-1" and len(theirs.metrics) == 9
    assert theirs.metrics[0].long_value == 2**40 + 5 and theirs.metrics[1].float_value == 25.5
    assert theirs.metrics[2].int_value == 2**32 - 12  # two's complement in the uint32 field
    assert theirs.metrics[5].string_value == "运行 running" and theirs.metrics[7].is_null
    back = spb.decode_payload(theirs.SerializeToString())
    assert back == SAMPLE
    # and a payload written by the runtime, with negative numbers the way a Java/C edge writes them
    p = Payload(timestamp=D0, seq=255)
    p.metrics.add(name="I8", datatype=spb.INT8, int_value=(1 << 32) - 3)
    p.metrics.add(alias=12, datatype=spb.DOUBLE, double_value=3.5)
    got = spb.decode_payload(p.SerializeToString())
    assert (
        got.seq == 255
        and got.metrics[0].value == -3
        and got.metrics[1] == spb.Metric(alias=12, datatype=10, value=3.5)
    )


def test_topics() -> None:
    assert spb.parse_topic("spBv1.0/g/DDATA/n/d") == spb.SpbTopic("g", "DDATA", "n", "d")
    assert spb.topic_for(spb.SpbTopic("g", "NCMD", "n")) == "spBv1.0/g/NCMD/n"
    for bad in ("spBv1.0/g/NDATA/n/d", "spBv1.0/g/DDATA/n", "spBv1.0/g/XDATA/n", "spAv1.0/g/NDATA/n"):
        with pytest.raises(spb.DecodeError):
            spb.parse_topic(bad)


def _p(seq: int | None, *metrics: spb.Metric, ts: int = D0) -> bytes:
    return spb.encode_payload(spb.Payload(timestamp=ts, seq=seq, metrics=list(metrics)))


def _birth(group: str) -> list[tuple[str, bytes]]:
    M = spb.Metric
    return [
        (
            f"spBv1.0/{group}/NBIRTH/n1",
            _p(
                0,
                M(name="bdSeq", datatype=spb.INT64, value=0),
                M(name="Node Control/Rebirth", datatype=spb.BOOLEAN, value=False),
            ),
        ),
        (
            f"spBv1.0/{group}/DBIRTH/n1/c",
            _p(
                1,
                M(name="Good", alias=1, datatype=spb.UINT64, value=100),
                M(name="Reject", alias=2, datatype=spb.UINT64, value=0),
                M(name="State", alias=3, datatype=spb.STRING, value="running"),
                M(name="Humidity", alias=4, datatype=spb.DOUBLE, value=60.0),
            ),
        ),
    ]


def test_births_data_gaps_rebirth_and_deaths_through_mosquitto(tmp_path: Path) -> None:
    ensure_mosquitto()
    pfx, grp = f"cbt{uuid.uuid4().hex[:8]}", f"cbg{uuid.uuid4().hex[:8]}"
    s = factory_settings(
        tmp_path, write_plants(tmp_path, small_site(group=grp)), ingest=mqtt_ingest(pfx, grp)
    )
    p = factory_platform(s)
    srv = FactoryMqttServer(p.runtime("factory"))
    M = spb.Metric
    commands: list[bytes] = []

    async def main() -> None:
        await srv.start()
        await asyncio.wait_for(srv.subscriber.connected.wait(), 10)
        async with aiomqtt.Client("127.0.0.1", 1883) as edge:
            await edge.subscribe(f"spBv1.0/{grp}/NCMD/n1", qos=1)
            for topic, body in _birth(grp):
                await edge.publish(topic, body, qos=1)
            ddata = f"spBv1.0/{grp}/DDATA/n1/c"
            await edge.publish(
                ddata,
                _p(
                    2,
                    M(alias=1, datatype=spb.UINT64, value=150),
                    M(alias=4, datatype=spb.DOUBLE, value=61.5),
                    ts=D0 + 1000,
                ),
                qos=1,
            )
            await edge.publish(ddata, _p(5, M(alias=1, datatype=spb.UINT64, value=180), ts=D0 + 2000), qos=1)
            async for m in edge.messages:  # the gap 2 -> 5 makes the host ask for a rebirth
                assert isinstance(m.payload, bytes)
                commands.append(m.payload)
                break
            await edge.publish(ddata, _p(6, M(alias=99, datatype=spb.DOUBLE, value=1.0), ts=D0 + 3000), qos=1)
            stale = _p(None, M(name="bdSeq", datatype=spb.INT64, value=7))
            await edge.publish(f"spBv1.0/{grp}/NDEATH/n1", stale, qos=1)  # an older session's Will
            death = _p(None, M(name="bdSeq", datatype=spb.INT64, value=0), ts=D0 + 4000)
            await edge.publish(f"spBv1.0/{grp}/NDEATH/n1", death, qos=1)
        await until(lambda: srv.subscriber.stats.acked >= 7)
        await srv.stop()
        await p.batcher.stop()

    asyncio.run(main())
    try:
        cmd = spb.decode_payload(commands[0])
        assert [(m.name, m.value) for m in cmd.metrics] == [("Node Control/Rebirth", True)]
        host = srv.host
        assert host is not None
        assert (host.stats.seq_gaps, host.stats.stale_deaths, host.stats.unknown_aliases) == (1, 1, 1)
        tags = [e for e in stored(p, ["factory.tags"]) if isinstance(e, FactoryTags)]
        assert [(t.key, t.birth, t.values) for t in tags] == [
            ("t1/c", True, {"Good": 100.0, "Reject": 0.0, "State": "running", "Humidity": 60.0}),
            ("t1/c", False, {"Good": 150.0, "Humidity": 61.5}),
            ("t1/c", False, {"Good": 180.0}),  # kept: a gap means something is missing, not wrong
        ]
        links = [
            (e.key, e.online, e.reason) for e in stored(p, ["factory.link"]) if isinstance(e, FactoryLink)
        ]
        assert links == [("t1/c", True, "DBIRTH"), ("t1/c", False, "NDEATH of its node")]
        assert host.status()[0]["online"] is False
        p.pipeline.drain()
        live = p.store.states("factory", "t1/c")[0]["data"]
        assert live["online"] is False and live["values"]["Good"] == 180.0
    finally:
        p.stop()


def test_alias_tables_survive_a_host_restart(tmp_path: Path) -> None:
    grp = "g"
    s = factory_settings(tmp_path, write_plants(tmp_path, small_site(group=grp)))
    p = factory_platform(s)
    try:
        book = PlantBook([small_site(group=grp)])
        first = SparkplugHost(book, lambda *a: None)
        now = int(time.time() * 1000)
        births = [ev for t, b in _birth(grp) for ev in first.handle(Incoming(t, b, 0, False, now))]
        p.publish(births)
        sent: list[str] = []
        second = SparkplugHost(book, lambda topic, *a: sent.append(topic))

        second.restore(p.store.find_events(["factory.spb_birth"]))
        data = _p(42, spb.Metric(alias=4, datatype=spb.DOUBLE, value=62.0))
        (ev,) = second.handle(Incoming(f"spBv1.0/{grp}/DDATA/n1/c", data, 1, False, now))
        assert isinstance(ev, FactoryTags) and ev.values == {"Humidity": 62.0}
        assert sent == [] and second.stats.seq_gaps == 0  # the first sequence after a restart is no gap
    finally:
        p.stop()


def test_data_without_birth_asks_for_rebirth_once_per_interval() -> None:
    sent: list[str] = []
    clock = [100.0]
    host = SparkplugHost(
        PlantBook([small_site()]), lambda topic, *a: sent.append(topic), 5.0, lambda: clock[0]
    )
    msg = Incoming(
        "spBv1.0/g/DDATA/n1/c", _p(3, spb.Metric(alias=1, datatype=spb.UINT64, value=1)), 0, False, D0
    )
    assert host.handle(msg) == [] and host.handle(msg) == []
    clock[0] += 6
    host.handle(msg)
    assert sent == ["spBv1.0/g/NCMD/n1"] * 2
