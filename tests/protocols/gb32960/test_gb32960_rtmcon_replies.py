"""citybrain's platform replies against what rtm-con (PyPI rtm_con 1.0.4) expects, from rtm-con's own
bytes (tests/data/interop/gb32960/, see SOURCE.md there): requests rtm-con built (some with a broken
BCC), the reply rtm-con builds for each, and rtm-con's reading of it.

rtm-con parses the data unit of every response (flag other than 0xFE) as
``Prefixed(Int16ub, Struct("timestamp" / 6 bytes))``: it needs at least the 6-byte time and reads only
that. Issue 12: the heartbeat acknowledgement and the error reply to a heartbeat with a bad BCC had an
empty data unit in the default ("echo") shape, and rtm-con failed on them with "stream read less than
specified amount, expected 6, found 0"."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from citybrain.protocols import gb32960 as gb
from citybrain.protocols.gb32960.replies import ReplyShape

DATA = Path(__file__).resolve().parents[2] / "data" / "interop" / "gb32960" / "rtm_con_replies.json"
CAPTURE: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
NOW = datetime.fromisoformat(CAPTURE["platform_time"])
CASES = CAPTURE["cases"]


def citybrain_reply(request: bytes, shape: ReplyShape) -> bytes | None:
    """What the gateway sends back for ``request``: split, then the success or the error reply."""
    (item,) = gb.FrameSplitter().feed(request)
    if isinstance(item, gb.BadBytes):
        assert item.reason == "bcc"
        return gb.reply_to_bad_frame(item.data, NOW, "check", shape)
    return gb.reply_to(gb.decode_frame(item.data), item.data, NOW, shape)


def test_the_capture_covers_both_editions_and_every_answered_request() -> None:
    assert CAPTURE["library"] == "rtm_con" and CAPTURE["version"] == "1.0.4"
    for edition in ("2016", "2025"):
        names = {c["case"] for c in CASES if c["edition"] == edition}
        assert {"heartbeat", "heartbeat_bad_bcc", "login", "logout", "realtime_bad_bcc"} <= names


@pytest.mark.parametrize("case", CASES, ids=[f"{c['edition']}-{c['case']}" for c in CASES])
@pytest.mark.parametrize("shape", ["echo", "time_only"])
def test_reply_is_what_rtm_con_reads(case: dict[str, Any], shape: ReplyShape) -> None:
    request, want = bytes.fromhex(case["request"]), bytes.fromhex(case["rtm_con_reply"])
    reply = citybrain_reply(request, shape)
    assert reply is not None
    gb.check_frame(reply)  # rtm-con's msg_checked verifies the BCC too
    # start, command, response flag (0x01 ok / 0x02 error), VIN, encryption: as rtm-con builds them
    assert reply[:22].hex() == want[:22].hex()
    n = int.from_bytes(reply[22:24], "big")
    assert n >= 6, f"data unit of {n} bytes: rtm-con needs the 6-byte time"
    assert reply[24:30] == want[24:30]  # the platform time, the one field rtm-con reads
    request_data = len(request) - 25
    if shape == "time_only" or request_data < 6 or case["case"] == "time_calibration":
        assert reply.hex() == want.hex()  # nothing else to keep: byte for byte rtm-con's reply
    else:  # Annex B.3.3.2: the rest of the request's data unit follows the time (rtm-con skips it)
        assert reply[30:-1] == request[30:-1]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['edition']}-{c['case']}" for c in CASES])
def test_citybrain_reads_rtm_con_replies_as_rtm_con_does(case: dict[str, Any]) -> None:
    reading = case["rtm_con_reading"]
    msg = gb.decode_frame(bytes.fromhex(case["rtm_con_reply"]))
    assert msg.header.vin == reading["vin"]
    assert msg.header.response == {"ok": 0x01, "nok": 0x02}[reading["ack"]]
    assert msg.header.edition == reading["starter"].removeprefix("protocol_")
    assert getattr(msg, "time", None) == datetime.fromisoformat(reading["timestamp"]) == NOW
