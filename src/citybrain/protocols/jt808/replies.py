"""Which reply the platform owes a terminal message (JT/T 808-2013 §8.2, §8.5-8.8).

Pure: given the decoded terminal message and what the session knows, return the reply message
(or None). The gateway encodes it with :func:`encode_frame` and sends it.

==============================  ====================================================
terminal message                platform reply
==============================  ====================================================
0x0100 register                 0x8100 with the registry's result; the auth code only
                                when the result is 0 (2013 §8.6)
0x0102 authenticate             0x8001, result 0 if the code matches, else 1 (failed)
0x0002 heartbeat, 0x0003        0x8001 result 0, echoing the terminal's serial and id
logout, 0x0200 location,
0x0704 batch
a package of a split message    0x8001 result 0 for that package's serial
other terminal ids (0x0xxx)     0x8001 result 3 (unsupported)
0x0001 and platform ids         none (a response is never answered)
==============================  ====================================================

The reply's header mirrors the terminal's layout (2013 or 2019 header, version flag, protocol
version, phone) so that the terminal can parse it; the serial is the platform's own counter.
"""

from __future__ import annotations

import msgspec

from citybrain.protocols.jt808.fields import EncodeError
from citybrain.protocols.jt808.header import Header
from citybrain.protocols.jt808.messages import (
    AUTHENTICATE,
    HEARTBEAT,
    LOCATION_BATCH,
    LOCATION_REPORT,
    LOGOUT,
    PLATFORM_GENERAL_RESPONSE,
    REGISTER,
    REGISTER_OK,
    REGISTER_RESPONSE,
    RESULT_BAD_MESSAGE,
    RESULT_FAILED,
    RESULT_OK,
    RESULT_UNSUPPORTED,
    TERMINAL_GENERAL_RESPONSE,
    Authenticate,
    Message,
    PlatformGeneralResponse,
    RegisterResponse,
)

_ACK_OK = frozenset({HEARTBEAT, LOGOUT, LOCATION_REPORT, LOCATION_BATCH})


class SessionFacts(msgspec.Struct, frozen=True):
    """What the gateway knows when it answers.

    ``next_serial``: the platform's serial for this reply. ``register_result``: the registry's
    decision for a 0x0100 (0 ok, 1 vehicle already registered, 2 no such vehicle, 3 terminal
    already registered, 4 no such terminal). ``auth_code``: the code issued to this terminal
    (sent in 0x8100, expected in 0x0102); None when the terminal is unknown.
    """

    next_serial: int
    register_result: int = REGISTER_OK
    auth_code: str | None = None


def _reply_header(h: Header, msg_id: int, serial: int) -> Header:
    return Header(
        msg_id=msg_id,
        phone=h.phone,
        serial=serial & 0xFFFF,
        protocol_version=h.protocol_version,
        version_flag=h.version_flag,
    )


def general_response(header: Header, facts: SessionFacts, result: int) -> Message:
    """0x8001 answering the message with ``header`` (its serial and id) with ``result``."""
    body = PlatformGeneralResponse(reply_serial=header.serial, reply_msg_id=header.msg_id, result=result)
    return Message(_reply_header(header, PLATFORM_GENERAL_RESPONSE, facts.next_serial), body)


def bad_message_reply(header: Header, facts: SessionFacts) -> Message:
    """0x8001 result 2 (message error) for a frame whose header was readable but body was not."""
    return general_response(header, facts, RESULT_BAD_MESSAGE)


def reply_for(msg: Message, facts: SessionFacts) -> Message | None:
    """The reply the standard requires for ``msg``, or None when none is due."""
    h = msg.header
    mid = h.msg_id
    if mid == TERMINAL_GENERAL_RESPONSE or mid & 0x8000:
        return None
    if h.is_fragment:
        return general_response(h, facts, RESULT_OK)
    if mid == REGISTER:
        code = facts.auth_code if facts.register_result == REGISTER_OK else None
        if facts.register_result == REGISTER_OK and code is None:
            raise EncodeError("jt808 register accepted without an auth code: set SessionFacts.auth_code")
        body = RegisterResponse(reply_serial=h.serial, result=facts.register_result, auth_code=code)
        return Message(_reply_header(h, REGISTER_RESPONSE, facts.next_serial), body)
    if mid == AUTHENTICATE:
        ok = (
            isinstance(msg.body, Authenticate)
            and facts.auth_code is not None
            and msg.body.auth_code == facts.auth_code
        )
        return general_response(h, facts, RESULT_OK if ok else RESULT_FAILED)
    if mid in _ACK_OK:
        return general_response(h, facts, RESULT_OK)
    return general_response(h, facts, RESULT_UNSUPPORTED)
