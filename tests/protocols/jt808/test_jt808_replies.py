"""Reply rules (JT/T 808 8.2, 8.5-8.8), cross-checked against SmallChi's platform frames."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from citybrain.protocols.jt808 import (
    Authenticate,
    Body,
    EncodeError,
    Header,
    Heartbeat,
    LocationBatch,
    LocationReport,
    Logout,
    Message,
    PlatformGeneralResponse,
    RawBody,
    Register,
    RegisterResponse,
    SessionFacts,
    TerminalGeneralResponse,
    bad_message_reply,
    decode_frame,
    encode_frame,
    reply_for,
)

TSV = Path(__file__).resolve().parents[2] / "data" / "frames" / "jt808.tsv"
with TSV.open(encoding="utf-8", newline="") as _fh:
    WIRE = {r["id"]: bytes.fromhex(r["hex_on_wire"]) for r in csv.DictReader(_fh, delimiter="\t")}

PHONE = "012345678900"
LOC = LocationReport(0, 2, 30.0, 120.0, 0, 0.0, 0, 1_700_000_000_000)
REG = Register(40, 50, "1234", "m", "id", 1, "粤A12345")


def terminal(msg_id: int, body: Body, serial: int = 100, *, is_2019: bool = False) -> Message:
    if is_2019:
        h = Header(msg_id, PHONE.rjust(20, "0"), serial, protocol_version=1, version_flag=True)
    else:
        h = Header(msg_id, PHONE, serial)
    return Message(h, body)


def test_location_ack_matches_smallchi_0x8001_frame() -> None:
    # JT-SC-04 is SmallChi's 0x8001 acknowledging a 0x0200 with serial 100, platform serial 10.
    reply = reply_for(terminal(0x0200, LOC), SessionFacts(next_serial=10))
    assert reply is not None
    assert encode_frame(reply) == WIRE["JT-SC-04"]


def test_register_ok_matches_smallchi_0x8100_frame() -> None:
    reply = reply_for(terminal(0x0100, REG), SessionFacts(next_serial=10, auth_code="123456"))
    assert reply is not None and reply.body == RegisterResponse(100, 0, "123456")
    assert encode_frame(reply) == WIRE["JT-SC-10"]


def test_register_refused_sends_no_auth_code() -> None:
    facts = SessionFacts(next_serial=10, register_result=4, auth_code="ignored")
    reply = reply_for(terminal(0x0100, REG), facts)
    assert reply is not None and reply.body == RegisterResponse(100, 4, None)
    assert encode_frame(reply) == WIRE["JT-SC-11"]


def test_register_ok_needs_an_auth_code() -> None:
    with pytest.raises(EncodeError, match="auth code"):
        reply_for(terminal(0x0100, REG), SessionFacts(next_serial=1))


@pytest.mark.parametrize(
    ("code", "expected", "result"),
    [("abc", "abc", 0), ("abc", "xyz", 1), ("abc", None, 1)],
)
def test_authenticate(code: str, expected: str | None, result: int) -> None:
    reply = reply_for(terminal(0x0102, Authenticate(code), serial=77), SessionFacts(5, auth_code=expected))
    assert reply is not None and reply.header.msg_id == 0x8001 and reply.header.serial == 5
    assert reply.body == PlatformGeneralResponse(reply_serial=77, reply_msg_id=0x0102, result=result)


@pytest.mark.parametrize(
    ("msg_id", "body"),
    [(0x0002, Heartbeat()), (0x0003, Logout()), (0x0200, LOC), (0x0704, LocationBatch(1, (LOC,)))],
)
def test_general_ack_echoes_serial_and_id(msg_id: int, body: Body) -> None:
    reply = reply_for(terminal(msg_id, body, serial=65535), SessionFacts(next_serial=65536 + 3))
    assert reply is not None
    assert reply.header.serial == 3  # the platform serial wraps at 65535
    assert reply.body == PlatformGeneralResponse(65535, msg_id, 0)


def test_reply_mirrors_2019_header() -> None:
    reply = reply_for(terminal(0x0002, Heartbeat(), is_2019=True), SessionFacts(next_serial=1))
    assert reply is not None
    assert reply.header.is_2019 and reply.header.protocol_version == 1 and reply.header.version_flag
    assert reply.header.phone == PHONE.rjust(20, "0")
    assert decode_frame(encode_frame(reply)) == reply


def test_no_reply_to_responses_or_platform_messages() -> None:
    facts = SessionFacts(next_serial=1)
    assert reply_for(terminal(0x0001, TerminalGeneralResponse(1, 0x8103, 0)), facts) is None
    assert reply_for(terminal(0x8001, PlatformGeneralResponse(1, 2, 0)), facts) is None


def test_unknown_terminal_message_is_unsupported() -> None:
    reply = reply_for(terminal(0x0900, RawBody(b"x")), SessionFacts(next_serial=1))
    assert reply is not None and reply.body == PlatformGeneralResponse(100, 0x0900, 3)


def test_each_package_of_a_split_message_is_acknowledged() -> None:
    h = Header(0x0801, PHONE, 41, pkg_total=3, pkg_index=2)
    reply = reply_for(Message(h, RawBody(b"chunk")), SessionFacts(next_serial=1))
    assert reply is not None and reply.body == PlatformGeneralResponse(41, 0x0801, 0)


def test_bad_message_reply() -> None:
    reply = bad_message_reply(Header(0x0200, PHONE, 9), SessionFacts(next_serial=2))
    assert reply.body == PlatformGeneralResponse(9, 0x0200, 2)
