"""Event kinds, the registry and the JSON / NDJSON batch codecs (incl. property-based fuzzing)."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.core.errors import CitybrainError, ValidationError
from citybrain.core.events import REGISTRY, content_id, encode_ndjson, stamp
from citybrain.core.ingest import TooLargeError, decode_body
from citybrain.core.scenes import discover
from citybrain.scenes.pulse.events import PulseReport

discover()
TS = 1_763_900_000_000


def ev(i: int, key: str = "360102") -> PulseReport:
    return PulseReport(key=key, ts=TS + i, category="hotline", id=f"e{i}")


def test_ndjson_and_array_decode_to_the_same_events() -> None:
    events = [ev(i) for i in range(5)]
    nd = decode_body(encode_ndjson(events))
    arr = decode_body(b"[" + b",".join(encode_ndjson(events).split(b"\n")[:-1]) + b"]", "application/json")
    assert nd.events == arr.events == events
    assert nd.problems == arr.problems == []


def test_every_bad_line_is_reported_with_line_and_field_and_good_lines_survive() -> None:
    body = b"\n".join(
        [
            json.dumps({"kind": "pulse.report", "key": "a", "ts": TS, "category": "x"}).encode(),
            json.dumps({"kind": "pulse.report", "key": "a", "ts": "soon", "category": "x"}).encode(),
            b"",
            json.dumps({"kind": "nope", "key": "a", "ts": TS}).encode(),
            json.dumps({"kind": "pulse.report", "key": "a", "ts": TS, "category": "x", "colour": 1}).encode(),
            json.dumps({"kind": "pulse.report", "key": "a", "ts": TS // 1000, "category": "x"}).encode(),
            b"{not json",
            json.dumps({"kind": "pulse.report", "key": "b", "ts": TS, "category": "y", "count": 3}).encode(),
        ]
    )
    batch = decode_body(body)
    assert [e.key for e in batch.events] == ["a", "b"]
    got = {(p.line, p.field) for p in batch.problems}
    assert got == {(2, "ts"), (4, "kind"), (5, "colour"), (6, "ts"), (7, "")}
    kind_problem = next(p for p in batch.problems if p.line == 4)
    assert "unknown event kind" in kind_problem.reason


def test_json_array_errors_name_the_item() -> None:
    body = (
        b'[{"kind":"pulse.report","key":"a","ts":%d,"category":"x"},{"kind":"pulse.report","key":"","ts":%d,"category":"x"}]'
        % (TS, TS)
    )
    batch = decode_body(body, "application/json")
    assert len(batch.events) == 1
    assert [(p.line, p.field) for p in batch.problems] == [(2, "key")]


def test_unparseable_array_is_one_clear_error() -> None:
    with pytest.raises(ValidationError) as err:
        decode_body(b"[{]", "application/json")
    assert err.value.problems[0].line == 0


def test_gzip_is_accepted_and_bombs_are_refused() -> None:
    events = [ev(i) for i in range(100)]
    assert decode_body(gzip.compress(encode_ndjson(events)), content_encoding="gzip").events == events
    bomb = gzip.compress(b" " * 5_000_000)
    with pytest.raises(TooLargeError):
        decode_body(bomb, content_encoding="gzip", limit=1_000_000)
    with pytest.raises(ValidationError):
        decode_body(gzip.compress(encode_ndjson(events))[:-10], content_encoding="gzip")


def test_content_id_is_stable_and_sensitive_to_content() -> None:
    a = PulseReport(key="k", ts=TS, category="x")
    b = PulseReport(key="k", ts=TS, category="x")
    c = PulseReport(key="k", ts=TS, category="y")
    assert content_id(a) == content_id(b) != content_id(c)
    stamp([a], 123)
    assert a.id == content_id(b) and a.ingest_ts == 123


def test_registry_refuses_a_second_class_with_the_same_kind() -> None:
    class Other(PulseReport, tag="pulse.report"):
        pass

    with pytest.raises(CitybrainError):
        REGISTRY.register(Other)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2_000))
def test_fuzz_random_bytes_only_raise_our_errors(data: bytes) -> None:
    try:
        batch = decode_body(data, limit=10_000)
    except CitybrainError:
        return
    assert batch.lines >= len(batch.problems)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 10_000), min_size=1, max_size=30),
    st.lists(st.binary(max_size=60).filter(lambda b: b"\n" not in b), max_size=10),
    st.randoms(use_true_random=False),
)
def test_fuzz_garbage_lines_never_block_valid_ones(offsets: list[int], garbage: list[bytes], rnd) -> None:  # type: ignore[no-untyped-def]
    good = [encode_ndjson([ev(i)]).rstrip(b"\n") for i in offsets]
    lines = good + garbage
    rnd.shuffle(lines)
    batch = decode_body(b"\n".join(lines))
    assert sorted(e.ts for e in batch.events) == sorted(TS + i for i in offsets)
    assert len(batch.events) + len(batch.problems) == len([ln for ln in lines if ln.strip()])
