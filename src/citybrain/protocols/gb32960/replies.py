"""Which reply the standard requires, as pure functions returning frame bytes (or None).

Rules (terminal -> platform, GB/T 32960.3-2016 Annex B; the 2025 edition keeps them):

* vehicle login 0x01, vehicle logout 0x04, platform login/logout 0x05/0x06, heartbeat 0x07 and
  time calibration 0x08 get a reply with response flag 0x01 (B.2.5, B.2.6; 6.3.2);
* a correct real-time 0x02 or reissue 0x03 report is **not** answered (B.2.1);
* a frame that fails its check gets an error reply, flag 0x02 (B.2.1); a frame that checks but
  cannot be decoded gets 0x02 too (0x06 "invalid structure" in the 2025 edition);
* a frame that is itself a response (flag other than 0xFE) is never answered.

Reply shape. Annex B (B.3.3.2) says a response changes only the response flag and the time and
recomputes the BCC, keeping the rest of the data unit ("echo", also what EMQX does). The main body
(6.3.2) and rtm_con's test vectors send a time only ("time_only"). Both are produced here; the
decoder accepts both. Every reply's data unit starts with the platform's 6-byte time, whatever the
shape: a request with no time of its own (heartbeat 0x07, time calibration 0x08, a frame too short
to hold one) is answered with the time alone. An empty data unit is not a reply rtm-con (1.0.4)
can parse: it reads the time of every response (issue 12).
Activation 0x09 (2025) is answered by a separate 0x0A message whose result the gateway decides:
build it with :class:`~.messages.ActivationResponse` and :func:`~.encoder.encode`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ._codec import BJT, put_time
from .frame import EDITION_OF_START, HEADER_SIZE, Command, Header, ResponseFlag, build_frame
from .messages import Message

ReplyShape = Literal["echo", "time_only"]

#: Commands the platform acknowledges when they are correct.
ACKNOWLEDGED = frozenset(
    {
        Command.VEHICLE_LOGIN,
        Command.VEHICLE_LOGOUT,
        Command.PLATFORM_LOGIN,
        Command.PLATFORM_LOGOUT,
        Command.HEARTBEAT,
        Command.TIME_CALIBRATION,
        Command.KEY_EXCHANGE,  # 2025: the vehicle encrypts with the key only once it is taken
    }
)
#: Commands that get an error reply when their frame is bad (B.2.1 and the acknowledged ones).
ERROR_REPLIED = ACKNOWLEDGED | {Command.REALTIME, Command.REISSUE}


def _time_bytes(now: datetime) -> bytes:
    out = bytearray()
    put_time(out, now if now.tzinfo else now.replace(tzinfo=BJT))
    return bytes(out)


def _reply(header: Header, data_unit: bytes, flag: int, now: datetime, shape: ReplyShape) -> bytes:
    t = _time_bytes(now)
    if header.command == Command.TIME_CALIBRATION or shape == "time_only" or len(data_unit) < 6:
        data = t  # a heartbeat (empty) has no time to replace: the reply carries the time alone
    else:
        data = t + data_unit[6:]  # every other acknowledged data unit starts with its time
    reply = Header(header.edition, header.command, flag, header.vin, header.encryption)
    return build_frame(reply, data)


def needs_reply(command: int, response: int) -> bool:
    """True when a correct frame with this command and response flag must be answered."""
    return response == ResponseFlag.COMMAND and command in ACKNOWLEDGED


def reply_to(message: Message, raw: bytes, now: datetime, shape: ReplyShape = "echo") -> bytes | None:
    """The success reply for a decoded frame ``raw`` (its bytes), or None when none is due."""
    h = message.header
    if not needs_reply(h.command, h.response):
        return None
    return _reply(h, bytes(raw[HEADER_SIZE:-1]), ResponseFlag.SUCCESS, now, shape)


def reply_to_bad_frame(
    raw: bytes,
    now: datetime,
    reason: Literal["check", "structure", "signature", "decryption"] = "check",
    shape: ReplyShape = "echo",
) -> bytes | None:
    """The error reply for a frame that failed its BCC ("check"), its decoding ("structure") or
    its 2025 signature check ("signature": flag 0x05 in 2025, the 2016 error flag 0x02 otherwise)
    or its decryption ("decryption": flag 0x07 in 2025).

    ``raw`` only needs a readable 24-byte header; None when no reply is due (unknown start,
    a response frame, or a command the standard does not answer).
    """
    if len(raw) < HEADER_SIZE or bytes(raw[:2]) not in EDITION_OF_START:
        return None
    edition = EDITION_OF_START[bytes(raw[:2])]
    command, response = raw[2], raw[3]
    if response != ResponseFlag.COMMAND or command not in ERROR_REPLIED:
        return None
    flag = ResponseFlag.ERROR
    if reason == "structure" and edition == "2025":
        flag = ResponseFlag.INVALID_STRUCTURE
    elif reason == "signature" and edition == "2025":
        flag = ResponseFlag.INVALID_SIGNATURE
    elif reason == "decryption" and edition == "2025":
        flag = ResponseFlag.DECRYPTION_FAILED
    header = Header(edition, command, flag, bytes(raw[4:21]).decode("latin-1"), raw[21])
    n = int.from_bytes(raw[22:24], "big")
    data = bytes(raw[HEADER_SIZE : min(HEADER_SIZE + n, len(raw) - 1)])
    return _reply(header, data, flag, now, shape)
