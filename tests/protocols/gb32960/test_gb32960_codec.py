"""Codec behaviour beyond the TSV rows: negatives, sentinels, unknown blocks, reassembly, fuzz."""

from __future__ import annotations

import contextlib
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citybrain.core.errors import DecodeError
from citybrain.protocols import gb32960 as gb
from citybrain.protocols.gb32960 import blocks_2016 as b16
from citybrain.protocols.gb32960 import blocks_2025 as b25
from citybrain.protocols.gb32960._codec import Layout
from tests.protocols.gb32960.gb32960_testdata import frame

T = datetime(2026, 3, 4, 5, 6, 7, tzinfo=gb.BJT)
TIME = bytes((26, 3, 4, 5, 6, 7))
VIN = "LNBSCU3H0KR000001"


def realtime_frame(edition: gb.Edition, body: bytes, command: int = 0x02) -> bytes:
    return gb.build_frame(gb.Header(edition, command, vin=VIN), TIME + body)


def refit(raw: bytes, data: bytes) -> bytes:
    """Same header, new data unit, right length and BCC."""
    h, _ = gb.check_frame(raw)
    return gb.build_frame(h, data)


# ---- negatives: each raises DecodeError naming what and where -----------------------------------------


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"##\x01", "shorter than the 25-byte minimum"),
        (b"@@" + frame("GB-SS-02")[2:], "bad start bytes"),
        (frame("GB-SS-02")[:-2] + frame("GB-SS-02")[-1:], "data length field 30 at offset 22"),
        (frame("GB-SS-02") + b"\x00", "data length field"),
    ],
)
def test_envelope_negatives(raw: bytes, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        gb.decode_frame(raw)


def test_bcc_mismatch_names_offset() -> None:
    raw = bytearray(frame("GB-SS-02"))
    raw[30] ^= 0x01
    with pytest.raises(DecodeError, match=r"BCC mismatch at offset 54"):
        gb.decode_frame(bytes(raw))


def test_truncated_block_names_block_field_and_offset() -> None:
    raw = realtime_frame("2016", bytes.fromhex("0201010203"))  # one motor announced, 3 bytes given
    with pytest.raises(
        DecodeError, match=r"offset 32 \(block 0x02 drive_motors at offset 30, field number\)"
    ):
        gb.decode_frame(raw)


def test_invalid_time_is_rejected() -> None:
    raw = gb.build_frame(gb.Header("2016", 0x04, vin=VIN), bytes((26, 13, 1, 0, 0, 0, 0, 1)))
    with pytest.raises(DecodeError, match=r"invalid time 26-13-01 .* at offset 24"):
        gb.decode_frame(raw)


def test_trailing_bytes_after_fixed_message() -> None:
    raw = refit(frame("GB-RC-21"), gb.encode_data_unit(gb.decode_frame(frame("GB-RC-21"))) + b"\x00")
    with pytest.raises(DecodeError, match="1 unexpected trailing byte"):
        gb.decode_frame(raw)


def test_login_codes_truncated() -> None:
    data = gb.encode_data_unit(gb.decode_frame(frame("GB-RC-03")))[:-5]
    with pytest.raises(DecodeError, match="field ress_codes"):
        gb.decode_frame(refit(frame("GB-RC-03"), data))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_bcc_is_the_xor_of_all_bytes(data: bytes) -> None:
    expected = 0
    for byte in data:
        expected ^= byte
    assert gb.bcc(data) == expected


def test_bad_hex() -> None:
    with pytest.raises(DecodeError, match="not a hex string"):
        gb.decode_hex("23 23 zz")


# ---- unknown things are kept, not lost -----------------------------------------------------------------


def test_unknown_block_stops_parsing_and_keeps_rest_raw() -> None:
    tail = bytes.fromhex("0A01020304")
    raw = realtime_frame("2016", bytes.fromhex("0401000F00FA") + tail)
    msg = gb.decode_frame(raw)
    assert isinstance(msg, gb.RealtimeReport)
    engine = msg.blocks[0]
    assert isinstance(engine, gb.Engine) and (engine.state, engine.crank_speed_rpm) == (1, 15)
    assert engine.fuel_consumption_l_per_100km == 2.5
    assert msg.unparsed == tail and msg.unparsed_offset == 24 + 6 + 6
    assert gb.encode(msg) == raw


def test_unknown_command_and_encrypted_units_are_raw() -> None:
    unknown = gb.build_frame(gb.Header("2016", 0xC5, vin=VIN), b"\x01\x02")
    msg = gb.decode_frame(unknown)
    assert isinstance(msg, gb.RawMessage) and msg.data == b"\x01\x02" and gb.encode(msg) == unknown
    enc = gb.build_frame(gb.Header("2025", 0x02, vin=VIN, encryption=gb.Encryption.SM4), b"\xaa" * 16)
    msg = gb.decode_frame(enc)
    assert isinstance(msg, gb.RawMessage) and msg.reason.startswith("encrypted") and gb.encode(msg) == enc


def test_2016_has_no_activation_command() -> None:
    raw = gb.build_frame(gb.Header("2016", 0x09, vin=VIN), b"\x00")
    assert isinstance(gb.decode_frame(raw), gb.RawMessage)


# ---- sentinels, signs, scaling -----------------------------------------------------------------------------


def test_sentinels_never_scaled_and_round_trip() -> None:
    body = bytes.fromhex("01FEFF03FFFEFFFFFFFFFFFEFFFFFE010EFFFFFEFF")
    msg = gb.decode_frame(realtime_frame("2016", body))
    assert isinstance(msg, gb.RealtimeReport)
    v = msg.blocks[0]
    assert isinstance(v, gb.VehicleData)
    assert v.invalid == {
        "vehicle_state": "abnormal",
        "charging_state": "invalid",
        "speed_kmh": "abnormal",
        "odometer_km": "invalid",
        "total_voltage_v": "abnormal",
        "total_current_a": "invalid",
        "soc_pct": "abnormal",
        "accelerator_pedal_pct": "abnormal",
        "brake_pedal_pct": "invalid",
    }
    assert v.speed_kmh is None and v.running_mode == 3 and v.insulation_kohm == 0xFFFF
    assert gb.encode(msg) == realtime_frame("2016", body)


def test_location_hemispheres_and_2025_current_offset() -> None:
    body = bytes.fromhex("050606D1193A01D2C845")  # south + west, fix valid
    loc = gb.decode_frame(realtime_frame("2016", body)).blocks[0]  # type: ignore[union-attr]
    assert isinstance(loc, gb.Location)
    assert (loc.longitude_deg, loc.latitude_deg, loc.fix_valid) == (-114.366778, -30.591045, True)
    body25 = bytes.fromhex("0701011BE2000000010F75")
    cells = gb.decode_frame(realtime_frame("2025", body25)).blocks[0]  # type: ignore[union-attr]
    assert isinstance(cells, gb.CellVoltages2025) and cells.packs is not None
    assert (cells.packs[0].current_a, cells.packs[0].cell_voltages_v) == (-3000.0, [3.957])


def test_count_sentinels_carry_no_list() -> None:
    body = bytes.fromhex("060200000001FFFE0000FF")
    msg = gb.decode_frame(realtime_frame("2025", body))
    alarm = msg.blocks[0]  # type: ignore[union-attr]
    assert isinstance(alarm, gb.Alarm2025)
    assert alarm.ress_faults is None and alarm.motor_faults is None and alarm.levels is None
    assert alarm.invalid == {"ress_faults": "invalid", "motor_faults": "abnormal", "levels": "invalid"}
    assert alarm.active_alarms == ["temperature_difference"]
    assert gb.encode(msg) == realtime_frame("2025", body)


def test_encode_rejects_unrepresentable_values() -> None:
    msg = gb.decode_frame(frame("GB-SS-01"))
    assert isinstance(msg, gb.RealtimeReport)
    v = msg.blocks[0]
    assert isinstance(v, gb.VehicleData)
    v.speed_kmh = 6553.4  # would collide with the abnormal sentinel 0xFFFE
    with pytest.raises(gb.EncodeError, match="speed_kmh"):
        gb.encode(msg)
    v.speed_kmh = -1.0
    with pytest.raises(gb.EncodeError):
        gb.encode(msg)
    v.speed_kmh, v.gear_raw = 4.8, 300
    with pytest.raises(gb.EncodeError):
        gb.encode(msg)


def test_a_2016_block_in_a_2025_report_is_refused() -> None:
    msg = gb.decode_frame(frame("GB-SS-01"))
    assert isinstance(msg, gb.RealtimeReport)
    msg.header.edition = "2025"
    with pytest.raises(gb.EncodeError, match="not a 2025-edition block"):
        gb.encode(msg)


# ---- split packs ------------------------------------------------------------------------------------------


def test_reassembly_of_split_pack() -> None:
    def part(first: int, n: int) -> gb.SubsystemVoltages:
        cells: list[float | None] = [round(3 + (first + i) / 1000, 3) for i in range(n)]
        return gb.SubsystemVoltages(1, 700.0, 5.0, 450, first, cells)

    asm = gb.CellVoltageReassembler()
    assert asm.add(VIN, T, part(1, 200)) is None
    assert asm.add(VIN, T, part(201, 200)) is None
    pack = asm.add(VIN, T, part(401, 50))
    assert pack is not None and len(pack.cell_voltages_v) == 450 and pack.cell_voltages_v[449] == 3.45
    assert len(asm) == 0
    # a newer time replaces an unfinished pack, which is counted as dropped
    asm.add(VIN, T, part(1, 200))
    assert asm.add(VIN, T.replace(second=9), part(1, 200)) is None and asm.dropped == 1
    whole = gb.SubsystemVoltages(2, 1.0, 0.0, 2, 1, [3.1, 3.2])
    got = asm.add(VIN, T, whole)
    assert got is not None and got.cell_voltages_v == [3.1, 3.2]


# ---- property tests ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    for raw in (data, b"##" + data, b"$$" + data):
        with contextlib.suppress(DecodeError):
            gb.decode_frame(raw)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["2016", "2025"]), st.integers(0, 0x0B), st.binary(max_size=80))
def test_random_data_units_raise_only_decode_error(edition: gb.Edition, command: int, data: bytes) -> None:
    raw = gb.build_frame(gb.Header(edition, command, vin=VIN), TIME + data)
    try:
        msg = gb.decode_frame(raw)
    except DecodeError:
        return
    assert gb.encode(msg) == raw  # whatever decodes re-encodes byte-identically


def layout_bytes(layout: Layout) -> st.SearchStrategy[bytes]:
    parts = [st.integers(0, (1 << (8 * f.width)) - 1) for f in layout.fields]
    return st.tuples(*parts).map(lambda raws: layout.st.pack(*raws))


def counted(width: int, item: st.SearchStrategy[bytes], max_size: int = 4) -> st.SearchStrategy[bytes]:
    return st.lists(item, max_size=max_size).map(lambda xs: len(xs).to_bytes(width, "big") + b"".join(xs))


U8 = st.binary(min_size=1, max_size=1)
U16 = st.binary(min_size=2, max_size=2)
U32 = st.binary(min_size=4, max_size=4)
CUSTOM = st.tuples(st.integers(0x80, 0xFE), st.binary(max_size=8)).map(
    lambda t: bytes([t[0]]) + len(t[1]).to_bytes(2, "big") + t[1]
)
TEMPS = counted(1, st.tuples(U8, counted(2, U8)).map(b"".join))
BLOCKS_2016 = st.one_of(
    layout_bytes(b16.VEHICLE).map(lambda b: b"\x01" + b),
    counted(1, layout_bytes(b16.MOTOR)).map(lambda b: b"\x02" + b),
    st.tuples(layout_bytes(b16.FUEL_HEAD), counted(2, U8), layout_bytes(b16.FUEL_TAIL)).map(
        lambda t: b"\x03" + b"".join(t)
    ),
    layout_bytes(b16.ENGINE).map(lambda b: b"\x04" + b),
    layout_bytes(b16.LOCATION).map(lambda b: b"\x05" + b),
    layout_bytes(b16.EXTREMES).map(lambda b: b"\x06" + b),
    st.tuples(U8, U32, *[counted(1, U32) for _ in range(4)]).map(lambda t: b"\x07" + b"".join(t)),
    counted(1, st.tuples(layout_bytes(b16.RESS_HEAD), counted(1, U16)).map(b"".join)).map(
        lambda b: b"\x08" + b
    ),
    TEMPS.map(lambda b: b"\x09" + b),
    CUSTOM,
)
SIG = st.tuples(st.integers(1, 3), st.binary(max_size=6), st.binary(max_size=6)).map(
    lambda t: bytes([0xFF, t[0]]) + len(t[1]).to_bytes(2, "big") + t[1] + len(t[2]).to_bytes(2, "big") + t[2]
)
BLOCKS_2025 = st.one_of(
    layout_bytes(b25.VEHICLE).map(lambda b: b"\x01" + b),
    counted(1, layout_bytes(b25.MOTOR)).map(lambda b: b"\x02" + b),
    layout_bytes(b25.FUEL_CELL).map(lambda b: b"\x03" + b),
    layout_bytes(b25.ENGINE).map(lambda b: b"\x04" + b),
    layout_bytes(b25.LOCATION).map(lambda b: b"\x05" + b),
    st.tuples(U8, U32, *[counted(1, U32) for _ in range(4)], counted(1, U16)).map(
        lambda t: b"\x06" + b"".join(t)
    ),
    counted(1, st.tuples(layout_bytes(b25.PACK_HEAD), counted(2, U16)).map(b"".join)).map(
        lambda b: b"\x07" + b
    ),
    TEMPS.map(lambda b: b"\x08" + b),
    counted(1, st.tuples(layout_bytes(b25.STACK_HEAD), counted(2, U8)).map(b"".join)).map(
        lambda b: b"\x30" + b
    ),
    st.tuples(layout_bytes(b25.SUPERCAP_HEAD), counted(2, U16), counted(2, U8)).map(
        lambda t: b"\x31" + b"".join(t)
    ),
    layout_bytes(b25.SUPERCAP_EXTREMES).map(lambda b: b"\x32" + b),
    CUSTOM,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["2016", "2025"]),
    st.data(),
    st.booleans(),
)
def test_generated_reports_round_trip(edition: gb.Edition, data: st.DataObject, reissue: bool) -> None:
    blocks = data.draw(st.lists(BLOCKS_2016 if edition == "2016" else BLOCKS_2025, max_size=6))
    tail = data.draw(SIG) if edition == "2025" else b""
    raw = realtime_frame(edition, b"".join(blocks) + tail, command=0x03 if reissue else 0x02)
    try:
        msg = gb.decode_frame(raw)
    except DecodeError as exc:  # a block whose count makes it overrun the unit is still malformed
        assert "truncated" in str(exc)
        return
    assert isinstance(msg, gb.RealtimeReport) and msg.reissue is reissue
    assert msg.unparsed == b""
    assert len(msg.blocks) == len(blocks) + (1 if tail else 0)
    again = gb.encode(msg)
    assert again == raw
    assert gb.decode_frame(again) == msg
    gb.message_json(msg)  # the JSON view never fails on a decodable message
