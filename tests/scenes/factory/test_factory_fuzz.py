"""Property-based fuzz of the payload decoders: random bytes and topics raise only DecodeError."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.core.errors import DecodeError
from citybrain.gateways.mqtt import Incoming
from citybrain.protocols import sparkplug_b as spb
from citybrain.protocols.sparkplug_b import wire
from citybrain.scenes.factory.gateway import FactoryIngest
from citybrain.scenes.factory.plant import PlantBook
from citybrain.scenes.factory.settings import IngestSettings
from citybrain.scenes.factory.spb_host import SparkplugHost
from tests.scenes.factory.factory_testkit import small_site

BOOK = PlantBook([small_site()])
TOPICS = st.sampled_from(
    [
        "spBv1.0/g/NBIRTH/n1",
        "spBv1.0/g/DBIRTH/n1/c",
        "spBv1.0/g/DDATA/n1/c",
        "spBv1.0/g/NDATA/n1",
        "spBv1.0/g/NDEATH/n1",
        "spBv1.0/g/DDEATH/n1/c",
        "factory/t1/L/a/telemetry",
        "factory/t1/L/a/reject",
        "factory/t1/trace",
        "spBv1.0/g/BAD",
        "other/topic",
    ]
)
SCALAR = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=8), st.booleans(), st.none()
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_sparkplug_decoder_raises_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        spb.decode_payload(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 20), st.integers(0, 5), st.binary(max_size=12)), max_size=8))
def test_decoder_on_wellformed_fields_of_any_type(fields: list[tuple[int, int, bytes]]) -> None:
    """Valid protobuf framing with any field numbers and wire types, nested as metrics too."""
    out = bytearray()
    for num, wt, raw in fields:
        out += wire.key(num, wt if wt in (0, 1, 2, 5) else 2)
        if wt == 0:
            out += wire.varint(int.from_bytes(raw[:9] or b"\0", "little"))
        elif wt == 1:
            out += raw[:8].ljust(8, b"\0")
        elif wt == 5:
            out += raw[:4].ljust(4, b"\0")
        else:
            out += wire.varint(len(raw)) + raw
    for data in (bytes(out), wire.length_delimited(2, bytes(out))):
        with contextlib.suppress(DecodeError):
            spb.decode_payload(data)


@settings(max_examples=300, deadline=None)
@given(TOPICS, st.binary(max_size=200))
def test_ingest_raises_only_decode_error(topic: str, payload: bytes) -> None:
    host = SparkplugHost(BOOK, lambda *a: None, 0.0)
    ingest = FactoryIngest(IngestSettings(), BOOK, host)
    with contextlib.suppress(DecodeError):
        ingest(Incoming(topic, payload, 1, False, 1_783_296_000_000))


@settings(max_examples=300, deadline=None)
@given(
    TOPICS,
    st.dictionaries(
        st.sampled_from(["ts", "good", "reason", "count", "unit", "inputs", "temp_dc", "state"]),
        SCALAR,
        max_size=6,
    ),
)
def test_ingest_on_json_objects_of_any_shape(topic: str, doc: dict[str, object]) -> None:
    import json

    payload = json.dumps(doc, allow_nan=True).encode()
    ingest = FactoryIngest(IngestSettings(), BOOK, SparkplugHost(BOOK, lambda *a: None, 0.0))
    with contextlib.suppress(DecodeError):
        ingest(Incoming(topic, payload, 1, False, 1_783_296_000_000))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(max_size=10),
            st.one_of(st.none(), st.integers(0, 2**64 - 1)),
            st.sampled_from([3, 4, 8, 9, 10, 11, 12]),
            st.integers(-(2**31), 2**31 - 1),
        ),
        max_size=6,
    ),
    st.one_of(st.none(), st.integers(0, 2**64 - 1)),
)
def test_encode_decode_round_trip(metrics: list[tuple[str, int | None, int, int]], seq: int | None) -> None:
    ms = []
    for name, alias, dt, n in metrics:
        value: object = {
            3: n,
            4: n,
            8: abs(n),
            9: float(n % 4096) / 4,
            10: n / 3,
            11: n % 2 == 0,
            12: str(n),
        }[dt]
        ms.append(spb.Metric(name=name, alias=alias, datatype=dt, value=value))  # type: ignore[arg-type]
    p = spb.Payload(timestamp=1, seq=seq, metrics=ms)
    assert spb.decode_payload(spb.encode_payload(p)) == p
