"""The streaming splitter: partial reads, several frames per read, garbage, bad BCC, bounds."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.core.errors import DecodeError
from citybrain.protocols import gb32960 as gb
from tests.protocols.gb32960.gb32960_testdata import frame

LOGIN = frame("GB-SS-02")
REALTIME = frame("GB-SS-01")
R2025 = frame("GB-RC-33")
BAD = frame("GB-RC-README")


def frames_of(items: list[gb.SplitItem]) -> list[bytes]:
    return [i.data for i in items if isinstance(i, gb.RawFrame)]


def test_one_byte_at_a_time() -> None:
    sp = gb.FrameSplitter()
    out: list[gb.SplitItem] = []
    for byte in LOGIN + R2025 + REALTIME:
        out += sp.feed(bytes([byte]))
    assert frames_of(out) == [LOGIN, R2025, REALTIME]
    assert not [i for i in out if isinstance(i, gb.BadBytes)]
    assert sp.buffered == 0


def test_several_frames_in_one_read_with_offsets() -> None:
    out = gb.FrameSplitter().feed(LOGIN + REALTIME + LOGIN)
    assert frames_of(out) == [LOGIN, REALTIME, LOGIN]
    assert [i.stream_offset for i in out] == [0, len(LOGIN), len(LOGIN) + len(REALTIME)]


def test_resync_after_garbage() -> None:
    sp = gb.FrameSplitter()
    junk = b"\x00\x01#$ garbage ##\x05"
    out = sp.feed(junk + LOGIN[:10]) + sp.feed(LOGIN[10:] + b"xyz" + REALTIME)
    assert frames_of(out) == [LOGIN, REALTIME]
    garbage = [i for i in out if isinstance(i, gb.BadBytes)]
    assert all(g.reason == "garbage" for g in garbage)
    assert b"".join(g.data for g in garbage) == junk + b"xyz"


def test_bad_bcc_frame_reported_and_next_frame_kept() -> None:
    out = gb.FrameSplitter().feed(BAD + LOGIN)
    bad = out[0]
    assert isinstance(bad, gb.BadBytes) and bad.reason == "bcc" and bad.data == BAD
    assert frames_of(out) == [LOGIN]
    login = gb.decode_frame(LOGIN)
    assert isinstance(login, gb.VehicleLogin)
    reply = gb.reply_to_bad_frame(bad.data, login.time)
    assert reply is not None and reply[3] == gb.ResponseFlag.ERROR


def test_false_start_with_bad_bcc_inside_garbage() -> None:
    fake = bytearray(LOGIN)
    fake[-1] ^= 0xFF  # a plausible header whose BCC fails, followed by more junk
    out = gb.FrameSplitter().feed(bytes(fake) + b"junk" + REALTIME)
    assert frames_of(out) == [REALTIME]
    assert all(i.reason == "garbage" for i in out if isinstance(i, gb.BadBytes))


def test_buffer_stays_bounded() -> None:
    sp = gb.FrameSplitter(max_data_length=1024)
    for _ in range(200):
        sp.feed(b"\xaa" * 997 + b"#")
        assert sp.buffered <= 1
    # a header claiming more than the limit is treated as a false start
    header = bytearray(LOGIN[:24])
    header[22:24] = (5000).to_bytes(2, "big")
    sp.feed(bytes(header) + b"\x00" * 2000)
    assert sp.buffered <= 24 + 1024 + 1


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20), st.integers(min_value=1, max_value=50))
def test_random_bytes_around_frames(chunks: list[bytes], cut: int) -> None:
    stream = b"".join(chunks) + LOGIN + b"".join(chunks) + REALTIME
    sp = gb.FrameSplitter()
    out: list[gb.SplitItem] = []
    for i in range(0, len(stream), cut):
        out += sp.feed(stream[i : i + cut])
    for item in out:
        if isinstance(item, gb.RawFrame):
            with contextlib.suppress(DecodeError):
                gb.decode_frame(item.data)
    # the real frames after the junk are always recovered
    assert frames_of(out)[-1] == REALTIME


def _heartbeat_with_bcc(target: int) -> bytes:
    """A 2016 heartbeat whose check byte is ``target`` (chosen through the VIN's last byte)."""
    head, tail = bytes([0x07, 0xFE]) + b"LTEST00000000000", bytes([0x01, 0x00, 0x00])
    x = 0
    for b in head + tail:
        x ^= b
    body = head + bytes([x ^ target]) + tail
    return b"##" + body + bytes([target])


def test_a_check_byte_that_looks_like_a_start_is_not_garbage() -> None:
    # regression: a frame ending in 0x23 ('#') or 0x24 ('$') left that byte behind as "garbage"
    for target in (0x23, 0x24):
        hb = _heartbeat_with_bcc(target)
        sp = gb.FrameSplitter()
        out = sp.feed(hb) + sp.feed(hb)
        assert frames_of(out) == [hb, hb]
        assert not [i for i in out if isinstance(i, gb.BadBytes)]
