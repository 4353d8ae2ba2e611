"""Framing: 0x7E delimiters, 0x7D escaping, the XOR check, and the streaming splitter."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.core.errors import DecodeError
from citybrain.protocols.jt808 import FrameSplitter, decode_frame, escape, unescape, wrap, xor_check
from citybrain.protocols.jt808.framing import DEFAULT_MAX_FRAME, strip_delimiters

HEARTBEAT = bytes.fromhex("7E00020000012345678900000A817E")  # SmallChi, JT-SC-02
LOCATION = bytes.fromhex(
    "7E0200002611223344556622B8000000010000000200BA7F0E07E4F11C0028003C000018071510101001040000006402020037577E"
)  # SmallChi, JT-SC-12


def test_standard_escape_example() -> None:
    # JT/T 808 4.4: 30 7E 08 7D 55 is sent as 7E 30 7D 02 08 7D 01 55 7E.
    raw = bytes.fromhex("307E087D55")
    assert escape(raw) == bytes.fromhex("307D02087D0155")
    assert unescape(bytes.fromhex("307D02087D0155")) == raw


def test_escape_0x7d_before_0x7e() -> None:
    assert escape(b"\x7d\x02") == b"\x7d\x01\x02"  # not mistaken for an escaped 0x7E
    assert unescape(escape(b"\x7d\x02")) == b"\x7d\x02"


@pytest.mark.parametrize(
    ("data", "where"),
    [(b"\x01\x7d\x03\x02", "0x03 at offset 1"), (b"\x01\x02\x7d", "end of frame at offset 2")],
)
def test_bad_escape_rejected(data: bytes, where: str) -> None:
    with pytest.raises(DecodeError, match=where):
        unescape(data)


def test_bare_7d_allowed_when_asked() -> None:
    assert unescape(b"\x01\x7d\x03\x7d\x01", allow_bare_7d=True) == b"\x01\x7d\x03\x7d"


def test_xor_check() -> None:
    assert xor_check(b"") == 0
    assert xor_check(b"\x01\x02\x04") == 7
    content = unescape(strip_delimiters(HEARTBEAT))
    assert xor_check(content[:-1]) == content[-1]


def test_wrap_escapes_a_check_byte_of_0x7e() -> None:
    # JT-SC-03: the check code is 0x7E and goes out as 7D 02.
    content = bytes.fromhex("00020000040021679287002B")
    assert wrap(content) == bytes.fromhex("7E00020000040021679287002B7D027E")


@pytest.mark.parametrize("cut", range(1, len(LOCATION)))
def test_frame_split_across_two_reads(cut: int) -> None:
    s = FrameSplitter()
    first = s.feed(LOCATION[:cut])
    second = s.feed(LOCATION[cut:])
    assert first == []
    assert second == [LOCATION[1:-1]]
    assert s.pending == 0


def test_several_frames_in_one_read_and_a_partial_tail() -> None:
    s = FrameSplitter()
    frames = s.feed(HEARTBEAT + LOCATION + HEARTBEAT + LOCATION[:10])
    assert frames == [HEARTBEAT[1:-1], LOCATION[1:-1], HEARTBEAT[1:-1]]
    assert s.pending == 9
    assert s.feed(LOCATION[10:]) == [LOCATION[1:-1]]


def test_frames_sharing_one_delimiter() -> None:
    shared = HEARTBEAT[:-1] + LOCATION  # 7E hb 7E loc 7E
    assert FrameSplitter().feed(shared) == [HEARTBEAT[1:-1], LOCATION[1:-1]]


def test_garbage_before_first_delimiter_is_dropped_and_counted() -> None:
    s = FrameSplitter()
    assert s.feed(b"GET / HTTP/1.1\r\n") == []
    assert s.feed(b"xx" + HEARTBEAT) == [HEARTBEAT[1:-1]]
    assert s.dropped_bytes == 18
    assert decode_frame(HEARTBEAT[1:-1]).header.serial == 10


def test_buffer_is_bounded_and_resynchronises() -> None:
    s = FrameSplitter()
    s.feed(b"\x7e")
    for _ in range(20):
        s.feed(b"\x00" * 1000)
        assert s.pending <= DEFAULT_MAX_FRAME
    assert s.dropped_bytes > 0
    # The next delimiter resynchronises; the frame after it decodes.
    out = s.feed(HEARTBEAT + LOCATION)
    assert out[-2:] == [HEARTBEAT[1:-1], LOCATION[1:-1]]


def test_reset_forgets_partial_frame() -> None:
    s = FrameSplitter()
    s.feed(LOCATION[:20])
    s.reset()
    assert s.pending == 0
    assert s.feed(LOCATION[20:]) == []


@given(st.binary(max_size=600))
@settings(max_examples=200, deadline=None)
def test_escape_round_trip(data: bytes) -> None:
    escaped = escape(data)
    assert 0x7E not in escaped
    assert unescape(escaped) == data


@given(
    st.lists(st.sampled_from([HEARTBEAT, LOCATION]), min_size=1, max_size=6),
    st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30),
)
@settings(max_examples=150, deadline=None)
def test_any_chunking_gives_the_same_frames(frames: list[bytes], sizes: list[int]) -> None:
    stream = b"".join(frames)
    s = FrameSplitter()
    out: list[bytes] = []
    pos = 0
    i = 0
    while pos < len(stream):
        size = sizes[i % len(sizes)]
        out += s.feed(stream[pos : pos + size])
        pos += size
        i += 1
    assert out == [f[1:-1] for f in frames]


@given(st.lists(st.binary(max_size=300), max_size=8))
@settings(max_examples=200, deadline=None)
def test_random_bytes_into_splitter_and_decoder_raise_only_decode_error(chunks: list[bytes]) -> None:
    s = FrameSplitter(max_frame=256)
    for chunk in chunks:
        for frame in s.feed(chunk):
            assert 0x7E not in frame
            for strict in (True, False):
                with contextlib.suppress(DecodeError):
                    decode_frame(frame, strict=strict)
        assert s.pending <= 256
