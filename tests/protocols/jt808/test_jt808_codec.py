"""Decoder negatives and quirks, split messages, and encode/decode round-trips of generated messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.core.errors import DecodeError
from citybrain.protocols import jt808
from citybrain.protocols.jt808 import (
    Authenticate,
    Header,
    LocationBatch,
    LocationReport,
    Message,
    RawBody,
    Reassembler,
    decode_frame,
    decode_hex,
    encode_frame,
    encode_message,
    to_json,
)

H2013 = Header(msg_id=0x0200, phone="013912345678", serial=7)
H2019 = Header(msg_id=0x0200, phone="00000000013912345678", serial=7, protocol_version=1, version_flag=True)
LOC = LocationReport(
    alarm=0,
    status=3,
    lat=30.5,
    lon=114.25,
    altitude_m=20,
    speed_kmh=42.5,
    direction=90,
    time_ms=1_700_000_000_000,
    extras=(jt808.Mileage(1234.5), jt808.Satellites(9)),
)


def frame_of(header: Header, body: bytes, props: int | None = None) -> bytes:
    """Build a wire frame from raw parts (to make malformed but well-checked frames)."""
    msg = encode_message(Message(header, RawBody(b"")))
    if props is None:
        props = len(body)
    content = msg[:2] + props.to_bytes(2, "big") + msg[4:] + body
    framed: bytes = jt808.wrap(content)
    return framed


# ---- negatives -------------------------------------------------------------------------------


def test_escape_error_names_offset() -> None:
    good = encode_frame(Message(H2013, LOC))
    bad = good[:20] + b"\x7d\x03" + good[20:]
    with pytest.raises(DecodeError, match=r"0x7D followed by 0x03 at offset \d+"):
        decode_frame(bad)


def test_too_short_frame() -> None:
    with pytest.raises(DecodeError, match="at least 12 header"):
        decode_frame(bytes.fromhex("7E0002000001237E"))


def test_bad_check_names_msg_id_and_values() -> None:
    good = bytearray(encode_frame(Message(H2013, LOC)))
    good[-2] ^= 0x01
    with pytest.raises(DecodeError, match=r"msg 0x0200: check code at offset \d+ is 0x.., computed 0x.."):
        decode_frame(bytes(good))


def test_body_length_mismatch_strict_and_lenient() -> None:
    body = encode_message(Message(H2013, LOC))[12:]
    frame = frame_of(H2013, body, props=len(body) + 3)
    with pytest.raises(DecodeError, match="body_properties"):
        decode_frame(frame)
    m = decode_frame(frame, strict=False)
    assert m.body == LOC and m.quirks == (
        f"body_length_mismatch:declared={len(body) + 3},actual={len(body)}",
    )


@pytest.mark.parametrize(
    ("msg_id", "body", "match"),
    [
        (0x0200, bytes(27), "msg 0x0200: 27 bytes, the basic location block needs 28"),
        (0x0704, bytes.fromhex("000100"), None),  # empty batch: allowed, count mismatch is a quirk
        (0x0704, bytes.fromhex("0001"), "msg 0x0704: 2 bytes"),
        (0x0704, bytes.fromhex("00010000"), "item 1: length WORD cut off at offset 3"),
        (0x0704, bytes.fromhex("0001000050") + bytes(20), "item 1 at offset 5: declares 80 bytes, 20 remain"),
        (0x0704, bytes.fromhex("000100000A") + bytes(10), "msg 0x0704 item 1 at offset 5: 10 bytes"),
        (0x0001, bytes(3), "msg 0x0001: 3 bytes"),
        (0x8001, bytes(4), "msg 0x8001: 4 bytes"),
        (0x8100, bytes(2), "msg 0x8100: 2 bytes"),
        (0x0100, bytes(24), "msg 0x0100: 24 bytes"),
    ],
)
def test_short_bodies_rejected_with_where(msg_id: int, body: bytes, match: str | None) -> None:
    frame = frame_of(Header(msg_id=msg_id, phone="013912345678", serial=1), body)
    if match is None:
        m = decode_frame(frame)
        assert isinstance(m.body, LocationBatch) and m.body.items == ()
        assert m.quirks == ("batch_count_mismatch:declared=1,actual=0",)
        return
    with pytest.raises(DecodeError, match=match):
        decode_frame(frame)


def test_bad_package_index_rejected() -> None:
    h = Header(msg_id=0x0200, phone="013912345678", serial=1, pkg_total=2, pkg_index=3)
    with pytest.raises(DecodeError, match="package index 3 of total 2"):
        decode_frame(encode_frame(Message(h, RawBody(b"abc"))))


def test_decode_hex_input_errors() -> None:
    with pytest.raises(DecodeError, match="hex input"):
        decode_hex("7E zz 7E")
    with pytest.raises(DecodeError, match="empty"):
        decode_hex("  ")
    hb = "7E00020000012345678900000A817E"
    with pytest.raises(DecodeError, match="holds 2 frames"):
        decode_hex(hb + hb)
    # Delimiters, spaces and 0x prefixes are optional.
    assert decode_hex("00 02 00 00 01 23 45 67 89 00 00 0A 81")["name"] == "heartbeat"
    assert decode_hex("0x7E0002000001234567890000" + "0A817E")["header"]["serial"] == 10


# ---- unknown ids, quirks -------------------------------------------------------------------


def test_unknown_and_encrypted_bodies_are_raw_not_errors() -> None:
    m = decode_frame(
        encode_frame(Message(Header(msg_id=0x0900, phone="013912345678", serial=2), RawBody(b"\x01xyz")))
    )
    assert m.body == RawBody(b"\x01xyz") and m.name == "unknown"
    enc = Header(msg_id=0x0200, phone="013912345678", serial=2, encryption=1)
    m = decode_frame(encode_frame(Message(enc, RawBody(b"\x99" * 40))))
    assert isinstance(m.body, RawBody) and to_json(m)["header"]["encryption"] == "rsa"


def test_non_bcd_phone_is_kept_and_flagged() -> None:
    frame = encode_frame(Message(Header(msg_id=0x0002, phone="0A1B2C3D4E5F", serial=1), jt808.Heartbeat()))
    m = decode_frame(frame)
    assert m.header.phone == "0A1B2C3D4E5F" and m.quirks == ("phone_not_bcd",)
    assert encode_frame(m) == frame


def test_zero_time_becomes_none_and_round_trips() -> None:
    loc = LocationReport(0, 0, 0.0, 0.0, 0, 0.0, 0, None)
    m = decode_frame(encode_frame(Message(H2013, loc)))
    assert m.body == loc and m.quirks == ("invalid_time:000000000000",)
    assert to_json(m)["body"]["time_utc_ms"] is None


def test_invalid_calendar_date_is_none() -> None:
    body = bytearray(encode_message(Message(H2013, LOC))[12:])
    body[22:28] = bytes.fromhex("230230120000")  # 30 February
    m = decode_frame(frame_of(H2013, bytes(body)))
    assert isinstance(m.body, LocationReport) and m.body.time_ms is None


def test_bare_7d_accepted_only_when_lenient() -> None:
    # A device that does not escape 0x7D (the Traccar JT-TR-17 kind): latitude contains 0x7D 0x00.
    loc = LocationReport(0, 2, 0x7D0012 / 1e6, 114.0, 0, 0.0, 0, 1_700_000_000_000)
    content = encode_message(Message(H2013, loc))
    assert b"\x7d\x00" in content
    raw = b"\x7e" + content + bytes((0,)) + b"\x7e"
    check = 0
    for b in content:
        check ^= b
    raw = raw[:-2] + bytes((check,)) + b"\x7e"
    with pytest.raises(DecodeError):
        decode_frame(raw)
    m = decode_frame(raw, strict=False)
    assert m.body == loc and "unescaped_7d" in m.quirks


def test_2019_authenticate_and_mismatched_layouts() -> None:
    h = Header(msg_id=0x0102, phone="00000000013912345678", serial=3, protocol_version=1, version_flag=True)
    auth = Authenticate("code-1", imei="861234567890123", software_version="V1.2.3")
    m = decode_frame(encode_frame(Message(h, auth)))
    assert m.body == auth and m.quirks == ()
    # A 2019 header carrying a 2013 body (whole body = code): accepted, flagged.
    m = decode_frame(encode_frame(Message(h, Authenticate("abc"))))
    assert m.body == Authenticate("abc") and m.quirks == ("authenticate_2013_body_with_2019_header",)


def test_reissue_batch_is_flagged() -> None:
    h = Header(msg_id=0x0704, phone="013912345678", serial=9)
    m = decode_frame(encode_frame(Message(h, LocationBatch(batch_type=1, items=(LOC, LOC)))))
    assert isinstance(m.body, LocationBatch) and m.body.reissue
    assert to_json(m)["body"]["reissue"] is True


def test_mismatched_body_and_header_id_refused_on_encode() -> None:
    with pytest.raises(jt808.EncodeError, match="does not match"):
        encode_frame(Message(Header(msg_id=0x0002, phone="1", serial=1), LOC))


def test_body_over_1023_refused_unless_split() -> None:
    h = Header(msg_id=0x0900, phone="013912345678", serial=65535)
    big = Message(h, RawBody(bytes(range(256)) * 9))
    with pytest.raises(jt808.EncodeError, match="exceeds 1023"):
        encode_frame(big)
    frames = list(jt808.split_frames(big))
    assert len(frames) == 3
    r = Reassembler()
    decoded = [decode_frame(f) for f in frames]
    assert [d.header.serial for d in decoded] == [65535, 0, 1]  # serial wraps
    # Out of order: the message completes when the last missing package arrives.
    assert r.add(decoded[2]) is None
    assert r.missing("013912345678", 0x0900, 65535) == [1, 2]
    assert r.add(decoded[0]) is None
    whole = r.add(decoded[1])
    assert whole is not None and whole.body == big.body and whole.header.serial == 65535
    assert r.pending == 0


def test_split_location_batch_reassembles_to_a_decoded_batch() -> None:
    batch = LocationBatch(batch_type=1, items=(LOC,) * 30)
    msg = Message(Header(msg_id=0x0704, phone="013912345678", serial=100), batch)
    r = Reassembler()
    out = [r.add(decode_frame(f)) for f in jt808.split_frames(msg)]
    assert out[:-1] == [None] * (len(out) - 1)
    assert out[-1] is not None and out[-1].body == batch


def test_reassembler_is_bounded() -> None:
    r = Reassembler(max_pending=3)
    for serial in range(10):
        h = Header(msg_id=0x0900, phone="013912345678", serial=serial * 10, pkg_total=2, pkg_index=1)
        assert r.add(Message(h, RawBody(b"x"))) is None
    assert r.pending == 3 and r.dropped == 7
    with pytest.raises(DecodeError, match="at most"):
        r.add(Message(Header(msg_id=1, phone="1", serial=1, pkg_total=999, pkg_index=1), RawBody(b"")))


def test_peek_header_for_a_result_2_reply() -> None:
    bad = bytearray(encode_frame(Message(H2013, LOC)))
    bad[-2] ^= 0xFF
    h = jt808.peek_header(bytes(bad))
    assert h is not None and h.msg_id == 0x0200 and h.serial == 7
    assert jt808.peek_header(b"\x7e\x01\x02\x7e") is None


# ---- generated round-trips -------------------------------------------------------------------

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
TEXT = "ABCXYZ0123456789粤京沪鲁-"


def texts(max_bytes: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=TEXT, max_size=max_bytes).filter(lambda s: len(s.encode("gbk")) <= max_bytes)


def headers(msg_id: int, *, edition: str | None = None) -> st.SearchStrategy[Header]:
    def build(is_2019: bool, digits: str, serial: int, version: int) -> Header:
        if is_2019:
            return Header(msg_id, digits.rjust(20, "0"), serial, protocol_version=version, version_flag=True)
        return Header(msg_id, digits[-12:].rjust(12, "0"), serial)

    eds = st.sampled_from([True, False]) if edition is None else st.just(edition == "2019")
    return st.builds(build, eds, st.text("0123456789", min_size=1, max_size=20), u16, u8)


extra_items: st.SearchStrategy[jt808.ExtraItem] = st.one_of(
    st.builds(lambda r: jt808.Mileage(r / 10), u32),
    st.builds(lambda r: jt808.Fuel(r / 10), u16),
    st.builds(lambda r: jt808.RecorderSpeed(r / 10), u16),
    st.builds(jt808.AlarmEventId, u16),
    st.builds(jt808.Overspeed, st.just(0), st.none()),
    st.builds(jt808.Overspeed, st.integers(1, 4), u32),
    st.builds(jt808.AreaInOut, u8, u32, st.integers(0, 1)),
    st.builds(jt808.RoadSectionTime, u32, u16, st.integers(0, 1)),
    st.builds(jt808.VehicleSignals, u32),
    st.builds(jt808.IoStatus, u16),
    st.builds(jt808.Analog, u16, u16),
    st.builds(jt808.SignalStrength, u8),
    st.builds(jt808.Satellites, u8),
    st.builds(jt808.RawItem, st.sampled_from([0x05, 0x06, 0x36, 0x5F, 0xE1, 0xFE]), st.binary(max_size=30)),
)


def _loc(status: int, lat_raw: int, lon_raw: int, speed: int, secs: int | None, **kw: Any) -> LocationReport:
    lat = lat_raw / 1e6 * (-1 if status & 4 else 1)
    lon = lon_raw / 1e6 * (-1 if status & 8 else 1)
    return LocationReport(
        status=status,
        lat=lat,
        lon=lon,
        speed_kmh=speed / 10,
        time_ms=None if secs is None else secs * 1000,
        **kw,
    )


def locations(max_extras: int = 6) -> st.SearchStrategy[LocationReport]:
    # 2000-01-01 .. 2099-12-31 in GMT+8, whole seconds (BCD time has no milliseconds).
    secs = st.integers(946_656_000, 4_102_415_999)
    return st.builds(
        _loc,
        u32,
        st.integers(0, 90_000_000),
        st.integers(0, 180_000_000),
        u16,
        secs,
        alarm=u32,
        altitude_m=u16,
        direction=u16,
        extras=st.lists(extra_items, max_size=max_extras).map(tuple),
    )


def registers(layout: str) -> st.SearchStrategy[jt808.Register]:
    w = {"2011": (5, 8, 7), "2013": (5, 20, 7), "2019": (11, 30, 30)}[layout]
    return st.builds(
        jt808.Register,
        u16,
        u16,
        texts(w[0]),
        texts(w[1]),
        texts(w[2]),
        st.integers(0, 9),
        texts(17),
        st.just(layout),
    )


messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(Message, headers(0x0200), locations()),
    st.builds(
        Message,
        headers(0x0704),
        st.builds(LocationBatch, u8, st.lists(locations(2), max_size=5).map(tuple)),
    ),
    st.builds(Message, headers(0x0001), st.builds(jt808.TerminalGeneralResponse, u16, u16, u8)),
    st.builds(Message, headers(0x8001), st.builds(jt808.PlatformGeneralResponse, u16, u16, u8)),
    st.builds(Message, headers(0x0002), st.just(jt808.Heartbeat())),
    st.builds(Message, headers(0x0003), st.just(jt808.Logout())),
    st.builds(Message, headers(0x0100, edition="2013"), st.one_of(registers("2011"), registers("2013"))),
    st.builds(Message, headers(0x0100, edition="2019"), registers("2019")),
    st.builds(Message, headers(0x0102, edition="2013"), st.builds(Authenticate, texts(40))),
    st.builds(
        Message,
        headers(0x0102, edition="2019"),
        st.builds(Authenticate, texts(40), st.text("0123456789", min_size=15, max_size=15), texts(20)),
    ),
    st.builds(
        Message,
        headers(0x8100),
        st.builds(jt808.RegisterResponse, u16, u8, st.none() | texts(30).filter(bool)),
    ),
    st.builds(
        Message,
        headers(0x0900).flatmap(
            lambda h: st.sampled_from([0x0900, 0x0F01, 0xE123, 0x8F00]).map(
                lambda i: Header(i, h.phone, h.serial, h.protocol_version, h.version_flag)
            )
        ),
        st.builds(RawBody, st.binary(max_size=200)),
    ),
)


@given(messages)
@settings(max_examples=400, deadline=None)
def test_generated_messages_round_trip(m: Message) -> None:
    frame = encode_frame(m)
    back = decode_frame(frame)
    assert back.header == m.header
    assert back.body == m.body
    assert encode_frame(back) == frame
    json.dumps(to_json(back), ensure_ascii=False)


@given(
    st.sampled_from([*sorted(jt808.BODY_DECODERS), 0x1205]),
    st.integers(0, 0xFFFF),
    st.binary(min_size=10, max_size=10),
    st.binary(max_size=120),
    st.booleans(),
)
@settings(max_examples=500, deadline=None)
def test_well_checked_random_bodies_raise_only_decode_error(
    msg_id: int, props: int, head: bytes, body: bytes, strict: bool
) -> None:
    # Valid check code, so decoding reaches the body handlers with arbitrary content.
    content = msg_id.to_bytes(2, "big") + props.to_bytes(2, "big") + head + body
    try:
        m = decode_frame(jt808.wrap(content), strict=strict)
    except DecodeError:
        return
    json.dumps(to_json(m), ensure_ascii=False)
    # Whatever decodes also re-encodes and decodes again (text padding/U+FFFD may normalise).
    again = jt808.decode_message(encode_message(m), strict=False)
    assert again.header.msg_id == m.header.msg_id and type(again.body) is type(m.body)
