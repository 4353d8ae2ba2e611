"""Every row of the shared JT/T 808 frame table, asserted against what its source states.

The table (tests/data/frames/jt808.tsv, copied from the research share with its provenance) holds frames from
SmallChi/JT808 and traccar/traccar with the values their tests assert. Each row's ``our_notes``
was read before writing its check; where a source disables checks (checksum, length) the row is
asserted in non-strict mode and strict mode must reject it.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from citybrain.core.errors import DecodeError
from citybrain.protocols import jt808
from citybrain.protocols.jt808 import (
    LocationReport,
    Message,
    RawItem,
    Register,
    TruncatedItem,
    decode_frame,
    decode_hex,
    encode_frame,
    encode_message,
    flags,
    frame_content,
    normalise_phone,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
TSV = REPO_ROOT / "tests" / "data" / "frames" / "jt808.tsv"
GMT8 = timezone(timedelta(hours=8))


def _rows() -> dict[str, dict[str, str]]:
    with TSV.open(encoding="utf-8", newline="") as fh:
        return {row["id"]: row for row in csv.DictReader(fh, delimiter="\t")}


ROWS = _rows()


def wire(row_id: str) -> bytes:
    return bytes.fromhex(ROWS[row_id]["hex_on_wire"])


def decode(row_id: str, *, strict: bool = True) -> Message:
    return decode_frame(wire(row_id), strict=strict)


def gmt8_ms(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> int:
    """A terminal time (GMT+8) as UTC epoch milliseconds."""
    return int(datetime(y, mo, d, h, mi, s, tzinfo=GMT8).timestamp() * 1000)


def sane(loc: LocationReport) -> None:
    """The sanity checks every decoded position must pass (Traccar's verifyPosition, and ours)."""
    assert loc.time_ms is not None
    assert gmt8_ms(2000, 1, 1) <= loc.time_ms <= time.time() * 1000 + 86_400_000
    assert -90 <= loc.lat <= 90
    assert -180 <= loc.lon <= 180
    assert 0 <= loc.direction <= 359
    assert 0 <= loc.speed_kmh < 400


def location(msg: Message) -> LocationReport:
    assert isinstance(msg.body, LocationReport)
    sane(msg.body)
    return msg.body


# ---- one check per row ---------------------------------------------------------------------


def check_sc01() -> None:
    m = decode("JT-SC-01")
    assert m.header.msg_id == 0x0001 and m.header.serial == 1203
    assert m.header.phone == "012345678900"
    assert m.body == jt808.TerminalGeneralResponse(reply_serial=1000, reply_msg_id=0x0002, result=0)


def check_sc02() -> None:
    m = decode("JT-SC-02")
    assert m.header.msg_id == 0x0002 and m.header.serial == 10
    assert normalise_phone(m.header.phone) == "12345678900"  # source strips the leading BCD zero
    assert m.body == jt808.Heartbeat()


def check_sc03() -> None:
    assert "7D02" in ROWS["JT-SC-03"]["hex_on_wire"]  # check byte 0x7E sent escaped
    m = decode("JT-SC-03")
    assert m.header.msg_id == 0x0002 and m.header.serial == 43
    assert normalise_phone(m.header.phone) == "40021679287"
    assert m.body == jt808.Heartbeat()


def check_sc04() -> None:
    m = decode("JT-SC-04")
    assert m.header.msg_id == 0x8001 and m.header.serial == 10
    assert normalise_phone(m.header.phone) == "12345678900"
    assert m.body == jt808.PlatformGeneralResponse(reply_serial=100, reply_msg_id=0x0200, result=0)


def _register(row: str) -> tuple[Message, Register]:
    m = decode(row)
    assert m.header.msg_id == 0x0100
    assert isinstance(m.body, Register)
    return m, m.body


def check_sc05() -> None:
    m, r = _register("JT-SC-05")
    assert m.header.serial == 10 and normalise_phone(m.header.phone) == "123456789"
    assert not m.header.is_2019
    assert r == Register(40, 50, "1234", "smallchi123", "CHI123", 1, "粤A12345", layout="2013")


def check_sc06() -> None:
    m, r = _register("JT-SC-06")
    assert m.header.protocol_version == 1 and m.header.version_flag and m.header.is_2019
    assert m.header.serial == 10 and normalise_phone(m.header.phone) == "123456789"
    assert r == Register(40, 50, "1234", "smallchi123", "CHI123", 1, "粤A12345", layout="2019")


def check_sc07() -> None:
    m, r = _register("JT-SC-07")
    assert m.header.serial == 10 and normalise_phone(m.header.phone) == "123456789"
    assert r == Register(40, 50, "1234", "tk12345", "CHI123", 1, "粤A12345", layout="2011")


def check_sc08() -> None:
    m, r = _register("JT-SC-08")
    assert normalise_phone(m.header.phone) == "22222222222" and m.header.protocol_version == 1
    assert (r.province, r.city, r.plate_color, r.plate.strip()) == (0, 0, 2, "粤A12346")
    # The device pads with ASCII '0'; like the source, the caller trims it (TrimStart('0')).
    assert r.maker.lstrip("0") == r.terminal_id.lstrip("0") == r.model.lstrip("0") == "Koike002"


def check_sc09() -> None:
    m = decode("JT-SC-09")
    assert m.header.msg_id == 0x0102 and m.header.serial == 12345
    assert normalise_phone(m.header.phone) == "12345678900"
    assert m.body == jt808.Authenticate(auth_code="456121111")


def check_sc10() -> None:
    m = decode("JT-SC-10")
    assert m.header.msg_id == 0x8100 and m.header.serial == 10
    assert normalise_phone(m.header.phone) == "12345678900"
    assert m.body == jt808.RegisterResponse(reply_serial=100, result=0, auth_code="123456")


def check_sc11() -> None:
    m = decode("JT-SC-11")
    assert m.header.serial == 10
    assert m.body == jt808.RegisterResponse(reply_serial=100, result=4, auth_code=None)


def _sc12_block(loc: LocationReport) -> None:
    assert loc.alarm == 1 and loc.alarms == ["emergency"]
    assert loc.status == 2 and loc.positioned and not loc.acc_on
    assert loc.lat == pytest.approx(12.222222, abs=1e-9)
    assert loc.lon == pytest.approx(132.444444, abs=1e-9)
    assert loc.speed_kmh == pytest.approx(6.0)  # raw 60
    assert loc.time_ms == gmt8_ms(2018, 7, 15, 10, 10, 10)


def check_sc12() -> None:
    m = decode("JT-SC-12")
    assert m.header.msg_id == 0x0200 and m.header.serial == 8888
    assert m.header.phone == "112233445566"
    assert not m.header.is_fragment and m.header.encryption == 0
    assert len(encode_message(m)) - m.header.length == 38  # DataLength
    loc = location(m)
    _sc12_block(loc)
    assert loc.extras == (jt808.Mileage(10.0), jt808.Fuel(5.5))  # raw 100 (1/10 km) and 55 (1/10 L)


def check_sc13() -> None:
    loc = location(decode("JT-SC-13"))
    _sc12_block(loc)
    assert loc.altitude_m == 40 and loc.direction == 0
    assert loc.extras == (
        jt808.Mileage(10.0),
        jt808.Fuel(5.5),
        jt808.RecorderSpeed(5.6),
        jt808.AlarmEventId(1),
        jt808.Overspeed(location_type=1, area_id=1),  # circular region 1
        jt808.AreaInOut(location_type=1, area_id=1, direction=1),  # circular region 1, out
        jt808.RoadSectionTime(section_id=2, drive_time_s=34, result=1),  # over-length
        jt808.VehicleSignals(23),
        jt808.IoStatus(244),
        jt808.Analog(ad0=242, ad1=0),  # source: Analogs=[0,242] (high word first on the wire)
        jt808.SignalStrength(2),
        jt808.Satellites(5),
    )


def check_sc14() -> None:
    m = decode("JT-SC-14")
    assert m.header.msg_id == 0x0704 and m.header.serial == 8888 and m.header.phone == "112233445566"
    assert isinstance(m.body, jt808.LocationBatch)
    b = m.body
    assert b.batch_type == 0 and not b.reissue and len(b.items) == 2
    p0, p1 = b.items
    sane(p0)
    sane(p1)
    _sc12_block(p0)
    assert p0.direction == 0 and p0.mileage_km == 10.0 and p0.fuel_l == 5.5
    assert p1.alarm == 2 and p1.status == 1
    assert p1.time_ms == gmt8_ms(2018, 7, 15, 10, 10, 30)
    assert p1.lat == pytest.approx(13.333333, abs=1e-9) and p1.lon == pytest.approx(132.555555, abs=1e-9)
    assert p1.speed_kmh == pytest.approx(5.4) and p1.direction == 120
    assert p1.mileage_km == pytest.approx(9.6) and p1.fuel_l == pytest.approx(6.6)


def check_sc15() -> None:
    # Source: parses only when forced to 2013 (bit 14 set, 2013 header). We detect it by length.
    m = decode("JT-SC-15")
    assert m.header.version_flag and m.header.protocol_version is None
    assert "version_flag_with_2013_header" in m.quirks
    loc = location(m)
    assert loc.time_ms == gmt8_ms(2021, 6, 25, 15, 57, 39)
    assert loc.acc_on and loc.positioned


def check_sc16() -> None:
    # Source disables the CRC check (our check: it does not verify); strict mode must refuse.
    with pytest.raises(DecodeError, match="check code"):
        decode("JT-SC-16")
    m = decode("JT-SC-16", strict=False)
    assert any(q.startswith("check_mismatch") for q in m.quirks)
    loc = location(m)
    kinds = Counter(
        "truncated" if isinstance(i, TruncatedItem) else "unknown" if isinstance(i, RawItem) else "basic"
        for i in loc.extras
    )
    assert kinds == {"truncated": 1, "basic": 6, "unknown": 12}
    last = loc.extras[-1]
    assert isinstance(last, TruncatedItem) and last.item_id == 0xF6 and last.declared_length == 4
    assert len(last.data) == 2


def _fragment(row: str) -> Message:
    m = decode(row)
    assert m.header.msg_id == 0x1205 and m.header.is_fragment and m.header.pkg_total == 2
    assert isinstance(m.body, jt808.RawBody)
    return m


def check_sc17() -> None:
    m = _fragment("JT-SC-17")
    assert m.header.pkg_index == 1 and m.header.serial == 0x00EB


def check_sc18() -> None:
    m = _fragment("JT-SC-18")
    assert m.header.pkg_index == 2 and m.header.serial == 0x00EC
    # The source concatenates both bodies before decoding; so does the reassembler.
    r = jt808.Reassembler()
    assert r.add(_fragment("JT-SC-17")) is None
    whole = r.add(m)
    assert whole is not None and not whole.header.is_fragment and whole.header.serial == 0x00EB
    assert isinstance(whole.body, jt808.RawBody)  # 0x1205 is JT/T 1078, not decoded here
    data = whole.body.data
    count = int.from_bytes(data[2:6], "big")  # 0x1205: serial WORD, count DWORD, 28-byte items
    assert count == 35 and len(data) == 6 + 28 * count


def check_tr01() -> None:
    # Traccar never verifies checksums; our check: the check byte is wrong and the declared
    # body length (50) exceeds the 40 bytes present. Strict rejects; lenient yields the position.
    with pytest.raises(DecodeError):
        decode("JT-TR-01")
    m = decode("JT-TR-01", strict=False)
    assert any(q.startswith("body_length_mismatch") for q in m.quirks)
    loc = location(m)
    assert loc.satellites == 11 and loc.time_ms == gmt8_ms(2014, 7, 23, 17, 20, 15)


def check_tr02() -> None:
    loc = location(decode("JT-TR-02"))
    assert loc.lat == pytest.approx(-19.591535) and loc.lon == pytest.approx(-46.912186)  # Brazil


def check_tr03() -> None:
    loc = location(decode("JT-TR-03"))
    assert loc.lat == pytest.approx(50.871735) and loc.lon == pytest.approx(-1.255923)  # UK
    assert isinstance(loc.extras[-1], RawItem) and loc.extras[-1].item_id == 0x36


def check_tr04() -> None:
    loc = location(decode("JT-TR-04"))
    assert loc.acc_on and not loc.positioned and loc.satellites == 3


def check_tr05() -> None:
    loc = location(decode("JT-TR-05"))
    assert loc.altitude_m == 128 and loc.direction == 8


CHECKS: dict[str, Callable[[], None]] = {
    "JT-SC-01": check_sc01,
    "JT-SC-02": check_sc02,
    "JT-SC-03": check_sc03,
    "JT-SC-04": check_sc04,
    "JT-SC-05": check_sc05,
    "JT-SC-06": check_sc06,
    "JT-SC-07": check_sc07,
    "JT-SC-08": check_sc08,
    "JT-SC-09": check_sc09,
    "JT-SC-10": check_sc10,
    "JT-SC-11": check_sc11,
    "JT-SC-12": check_sc12,
    "JT-SC-13": check_sc13,
    "JT-SC-14": check_sc14,
    "JT-SC-15": check_sc15,
    "JT-SC-16": check_sc16,
    "JT-SC-17": check_sc17,
    "JT-SC-18": check_sc18,
    "JT-TR-01": check_tr01,
    "JT-TR-02": check_tr02,
    "JT-TR-03": check_tr03,
    "JT-TR-04": check_tr04,
    "JT-TR-05": check_tr05,
}


def test_every_row_has_a_check() -> None:
    assert set(ROWS) == set(CHECKS)


@pytest.mark.parametrize("row_id", sorted(ROWS))
def test_row_as_stated_by_source(row_id: str) -> None:
    CHECKS[row_id]()


@pytest.mark.parametrize("row_id", sorted(ROWS))
def test_our_checksum_column_agrees(row_id: str) -> None:
    stated = ROWS[row_id]["checksum_ok(our check)"] == "True"
    try:
        frame_content(wire(row_id))
        ok = True
    except DecodeError:
        ok = False
    assert ok is stated


# Frames that re-encode byte for byte. Not: JT-SC-06 (SmallChi pads 2019 fields at the end; we
# pad at the front as 2019 says), JT-SC-16 and JT-TR-01 (bad check byte / length on the wire).
IDENTICAL = sorted(set(ROWS) - {"JT-SC-06", "JT-SC-16", "JT-TR-01"})


@pytest.mark.parametrize("row_id", IDENTICAL)
def test_real_frame_reencodes_byte_identical(row_id: str) -> None:
    m = decode(row_id)
    assert encode_frame(m) == wire(row_id)


@pytest.mark.parametrize("row_id", sorted(ROWS))
def test_real_frame_round_trips(row_id: str) -> None:
    m = decode(row_id, strict=False)
    again = decode_frame(encode_frame(m))
    assert again.header == m.header and again.body == m.body


def test_sc16_content_reencodes_identically_apart_from_the_check() -> None:
    m = decode("JT-SC-16", strict=False)
    assert encode_message(m) == frame_content(wire("JT-SC-16"), strict=False)


def test_all_rows_through_one_stream_split_at_every_7_bytes() -> None:
    stream = b"".join(wire(r) for r in sorted(ROWS))
    splitter = jt808.FrameSplitter()
    frames = [f for i in range(0, len(stream), 7) for f in splitter.feed(stream[i : i + 7])]
    assert len(frames) == len(ROWS)
    assert [decode_frame(f, strict=False) for f in frames] == [decode(r, strict=False) for r in sorted(ROWS)]


def test_decode_hex_on_rows_is_json_ready() -> None:
    import json

    for row_id in ROWS:
        strict = row_id not in {"JT-SC-16", "JT-TR-01"}
        out = decode_hex(ROWS[row_id]["hex_on_wire"], strict=strict)
        assert json.loads(json.dumps(out, ensure_ascii=False)) == out
    out = decode_hex(ROWS["JT-SC-12"]["hex_on_wire"])
    assert out["name"] == "location_report" and out["msg_id"] == "0x0200"
    body = out["body"]
    assert body["lat_deg"] == 12.222222 and body["speed_kmh"] == 6.0
    assert body["time_gmt8"] == "2018-07-15 10:10:10" and body["time_utc"] == "2018-07-15T02:10:10Z"
    assert body["extras"][0] == {"id": "0x01", "name": "mileage", "mileage_km": 10.0}


DOC = REPO_ROOT / "docs" / "protocols" / "jt808.md"


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_every_json_field_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    keys: set[str] = set()
    names: set[str] = set()
    for row_id in ROWS:
        out = decode_hex(ROWS[row_id]["hex_on_wire"], strict=False)
        keys |= _keys(out)
        names.add(out["name"])
        for loc in [out["body"], *out["body"].get("items", [])]:
            names |= set(loc.get("alarms", [])) | set(loc.get("status_flags", []))
            names |= {e["name"] for e in loc.get("extras", [])}
    for table in (flags.ALARM_BITS, flags.STATUS_BITS, flags.VEHICLE_SIGNAL_BITS, flags.IO_STATUS_BITS):
        names |= set(table.values())
    names |= set(flags.LOCATION_TYPES.values()) | set(flags.LOAD_STATES.values()) - {"reserved"}
    missing = sorted(k for k in keys | names if f"`{k}`" not in text)
    assert missing == []
