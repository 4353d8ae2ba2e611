"""Reply rules (Annex B.2.1/B.2.5/B.2.6, B.3.3.2) and the reply shapes seen in the field."""

from __future__ import annotations

from datetime import datetime

import pytest

from citybrain.protocols import gb32960 as gb
from tests.protocols.gb32960.gb32960_testdata import frame

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=gb.BJT)
NOW_BYTES = bytes((26, 1, 2, 3, 4, 5))


def reply_for(row_id: str, shape: gb.replies.ReplyShape = "echo") -> bytes | None:
    raw = frame(row_id)
    return gb.reply_to(gb.decode_frame(raw), raw, NOW, shape)


def test_login_reply_echoes_data_with_new_time() -> None:
    raw = frame("GB-SS-02")
    reply = reply_for("GB-SS-02")
    assert reply is not None
    # only the response flag, the time and the BCC change (B.3.3.2)
    assert reply[:3] == raw[:3] and reply[3] == 0x01 and reply[4:24] == raw[4:24]
    assert reply[24:30] == NOW_BYTES and reply[30:-1] == raw[30:-1]
    ack = gb.decode_frame(reply)
    assert isinstance(ack, gb.VehicleLogin) and ack.header.response == gb.ResponseFlag.SUCCESS


def test_time_only_shape_decodes_as_ack() -> None:
    reply = reply_for("GB-RC-01", shape="time_only")
    assert reply is not None and reply[:2] == b"$$"
    ack = gb.decode_frame(reply)
    assert isinstance(ack, gb.Ack) and ack.time == NOW and ack.header.vin == "HAUV4BGN6S5002219"


@pytest.mark.parametrize("row_id", ["GB-SS-02", "GB-RC-01", "GB-RC-21", "GB-RC-23", "GB-RC-25"])
def test_acknowledged_commands(row_id: str) -> None:
    assert reply_for(row_id) is not None


@pytest.mark.parametrize("row_id", ["GB-SS-01", "GB-RC-07", "GB-RC-33", "GB-RC-35"])
def test_correct_reports_are_not_acknowledged(row_id: str) -> None:
    assert reply_for(row_id) is None


def test_reissue_is_not_acknowledged_and_is_flagged() -> None:
    raw = bytearray(frame("GB-SS-01"))
    raw[2] = 0x03
    raw[-1] = gb.bcc(raw[2:-1])
    msg = gb.decode_frame(bytes(raw))
    assert isinstance(msg, gb.RealtimeReport) and msg.reissue
    assert gb.reply_to(msg, bytes(raw), NOW) is None


def test_responses_are_never_answered() -> None:
    assert reply_for("GB-RC-27") is None  # an ack (flag 0x01) itself


@pytest.mark.parametrize("command", [0x07, 0x08])
def test_heartbeat_and_time_calibration(command: int) -> None:
    req = gb.build_frame(gb.Header("2016", command, vin="LTEST000000000001"), b"")
    msg = gb.decode_frame(req)
    reply = gb.reply_to(msg, req, NOW)
    assert reply is not None
    back = gb.decode_frame(reply)
    if command == 0x08:
        assert isinstance(back, gb.TimeCalibration) and back.time == NOW  # platform time
    else:
        assert isinstance(back, gb.Heartbeat) and back.header.response == 0x01


def test_bad_bcc_report_gets_error_reply() -> None:
    reply = gb.reply_to_bad_frame(frame("GB-RC-README"), NOW)
    assert reply is not None and reply[:4] == b"$$\x02\x02"
    assert reply[24:30] == NOW_BYTES
    gb.check_frame(reply)  # the reply's own BCC is right


def test_structure_error_reply_per_edition() -> None:
    r2016 = gb.reply_to_bad_frame(frame("GB-SS-01"), NOW, reason="structure", shape="time_only")
    r2025 = gb.reply_to_bad_frame(frame("GB-RC-33"), NOW, reason="structure", shape="time_only")
    assert r2016 is not None and r2016[3] == 0x02 and len(r2016) == 31
    assert r2025 is not None and r2025[3] == 0x06  # 2025: invalid structure


def test_no_error_reply_for_unreadable_or_response_frames() -> None:
    assert gb.reply_to_bad_frame(b"garbage", NOW) is None
    assert gb.reply_to_bad_frame(frame("GB-RC-27"), NOW) is None
    assert gb.needs_reply(0x02, 0xFE) is False and gb.needs_reply(0x01, 0xFE) is True
