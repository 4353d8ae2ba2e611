"""Sparkplug B payloads written by a third-party implementation (mqtt-spb-wrapper 2.1.2 on Eclipse
Tahu's Python protobuf helpers), committed under tests/data/interop/sparkplug_b/ (see SOURCE.md
there): decoded by our codec, and through the host into tags. Needs only the committed bytes.

Tahu Python writes a negative Int8/Int16 as the two's complement of its own width (-5 as 251, -300
as 65236); the specification's form (and Tahu Java's, and protobuf's) sign-extends to 32 or 64
bits. Both decode to the negative number, as Tahu's Java decoder does."""

from __future__ import annotations

from pathlib import Path

import pytest

from citybrain.gateways.mqtt import Incoming
from citybrain.protocols import sparkplug_b as spb
from citybrain.protocols.sparkplug_b.wire import key, varint
from citybrain.scenes.factory.events import FactoryTags
from citybrain.scenes.factory.plant import MachineSpec, PlantBook
from citybrain.scenes.factory.spb_host import SparkplugHost
from tests.scenes.factory.factory_testkit import D0, small_site

DATA = Path(__file__).resolve().parents[2] / "data" / "interop" / "sparkplug_b"
UUID1, UUID2 = "6f1c7c2e-0000-4000-8000-000000000001", "6f1c7c2e-0000-4000-8000-000000000002"
# what the capture script set (tests/interop/peers/spb_edge.py, METRICS), by name and datatype
BIRTH = {
    "Int8": (spb.INT8, 7),
    "Int16": (spb.INT16, 300),
    "Int32": (spb.INT32, 70_000),
    "Int64": (spb.INT64, 2**53 + 1),
    "UInt8": (spb.UINT8, 1),
    "UInt16": (spb.UINT16, 2),
    "UInt32": (spb.UINT32, 3),
    "UInt64": (spb.UINT64, 2**53 + 1),
    "Float": (spb.FLOAT, 0.5),
    "Double": (spb.DOUBLE, 0.1),
    "Boolean": (spb.BOOLEAN, False),
    "String": (spb.STRING, "idle"),
    "Text": (spb.TEXT, "a"),
    "UUID": (spb.UUID, UUID1),
    "DateTime": (spb.DATETIME, D0 - 60_000),
    "Bytes": (spb.BYTES, b"\x00"),
}
DDATA = {
    "Int8": -5,
    "Int16": -300,
    "Int32": -70_000,
    "Int64": -(2**62) - 3,
    "UInt8": 250,
    "UInt16": 65_000,
    "UInt32": 4_000_000_000,
    "UInt64": 2**64 - 1,
    "Float": -1.25,
    "Double": -1234.5678e-9,
    "Boolean": True,
    "String": "运行 running",
    "Text": "b\nc",
    "UUID": UUID2,
    "DateTime": D0,
    "Bytes": b"\x00\xff\x10",
}


def _load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_the_peer_writes_negative_small_ints_narrow() -> None:
    """The committed bytes are what the regression is about: Int8 -5 is the varint 251 (fb 01) in
    int_value (field 10), Int16 -300 is 65236 (d4 fd 03)."""
    raw = _load("ddata.bin")
    assert key(10, 0) + varint(251) in raw and key(10, 0) + varint(65_236) in raw
    assert key(10, 0) + varint(-5 & 0xFFFFFFFF) not in raw


def test_decode_the_peers_ddata_exactly() -> None:
    p = spb.decode_payload(_load("ddata.bin"))
    assert p.seq == 1 and all(m.timestamp == D0 and m.alias is None for m in p.metrics)
    got = {m.name: (m.datatype, m.value) for m in p.metrics}
    assert got == {n: (BIRTH[n][0], v) for n, v in DDATA.items()}
    ints = [m.value for m in p.metrics if m.datatype in (1, 2, 3, 4, 5, 6, 7, 8, 13)]
    assert len(ints) == 9 and all(type(v) is int for v in ints)


def test_decode_the_peers_dbirth() -> None:
    p = spb.decode_payload(_load("dbirth.bin"))
    assert {m.name: (m.datatype, m.value) for m in p.metrics} == {f"DATA/{n}": dv for n, dv in BIRTH.items()}


@pytest.mark.parametrize(
    ("datatype", "raw", "value"),
    [
        (spb.INT8, 251, -5),  # Tahu Python, mqtt-spb-wrapper: 8-bit two's complement
        (spb.INT8, 0xFFFFFFFB, -5),  # the specification's 32-bit sign extension
        (spb.INT8, -5 & 0xFFFFFFFFFFFFFFFF, -5),  # protobuf int32 style: 64-bit sign extension
        (spb.INT8, 127, 127),
        (spb.INT8, 128, -128),
        (spb.INT8, 1000, 1000),  # neither form: kept, not truncated
        (spb.INT16, 65_236, -300),
        (spb.INT16, 0xFFFFFED4, -300),
        (spb.INT16, 32_767, 32_767),
        (spb.INT32, 2**32 - 70_000, -70_000),
        (spb.INT32, -70_000 & 0xFFFFFFFFFFFFFFFF, -70_000),
        (spb.UINT8, 251, 251),
        (spb.UINT32, 0xFFFFFFFB, 0xFFFFFFFB),
    ],
)
def test_both_forms_of_negative_small_ints(datatype: int, raw: int, value: int) -> None:
    metric = key(4, 0) + varint(datatype) + key(10, 0) + varint(raw)
    (m,) = spb.decode_payload(key(2, 2) + varint(len(metric)) + metric).metrics
    assert m.value == value


def test_small_ints_in_long_value_and_int64() -> None:
    def one(datatype: int, raw: int) -> spb.Value:
        metric = key(4, 0) + varint(datatype) + key(11, 0) + varint(raw)
        return spb.decode_payload(key(2, 2) + varint(len(metric)) + metric).metrics[0].value

    assert one(spb.INT8, 251) == -5 and one(spb.INT32, 2**32 - 7) == -7 and one(spb.INT64, -7) == -7
    assert one(spb.INT64, 2**32 - 7) == 2**32 - 7 and one(spb.UINT64, 2**64 - 1) == 2**64 - 1


def test_the_peers_birth_and_data_become_exact_tags() -> None:
    """Through the host: ints stay ints, the DATA messages' unprefixed names resolve to the BIRTH's
    ``DATA/<name>`` (mqtt-spb-wrapper's convention), bytes are not tags."""
    site = small_site(group="cbgroup")
    site.workshops[0].lines[0].machines.append(MachineSpec(id="w", source="spb:cbgroup/n1/w"))
    sent: list[str] = []
    host = SparkplugHost(PlantBook([site]), lambda topic, *a: sent.append(topic))
    # the captured DBIRTH has seq 0 (no NBIRTH before it in the capture): an NBIRTH of seq 255 precedes it
    nbirth = spb.encode_payload(
        spb.Payload(timestamp=D0, seq=255, metrics=[spb.Metric(name="bdSeq", datatype=spb.INT64, value=0)])
    )
    events = [
        ev
        for topic, body in (
            ("spBv1.0/cbgroup/NBIRTH/n1", nbirth),
            ("spBv1.0/cbgroup/DBIRTH/n1/w", _load("dbirth.bin")),
            ("spBv1.0/cbgroup/DDATA/n1/w", _load("ddata.bin")),
        )
        for ev in host.handle(Incoming(topic, body, 0, False, D0))
    ]
    tags = [e for e in events if isinstance(e, FactoryTags)]
    assert [t.birth for t in tags] == [True, False]
    want_birth = {f"DATA/{n}": v for n, (_, v) in BIRTH.items() if n != "Bytes"}
    assert tags[0].values == want_birth
    assert tags[1].values == {f"DATA/{n}": v for n, v in DDATA.items() if n != "Bytes"}
    assert all(type(tags[1].values[f"DATA/{n}"]) is type(DDATA[n]) for n in DDATA if n != "Bytes")
    assert sent == [] and host.stats.unknown_names == 0
