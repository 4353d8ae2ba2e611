"""JT/T 808 (2011/2013/2019) codec: pure functions and types, no sockets.

Typical gateway loop::

    splitter = FrameSplitter()
    reassembler = Reassembler()
    for frame in splitter.feed(data):            # escaped bytes between two 0x7E
        try:
            msg = decode_frame(frame)             # un-escape, check, header, body
        except DecodeError:
            header = peek_header(frame)           # log hex, count, drop; maybe answer result 2
            ...
            continue
        reply = reply_for(msg, SessionFacts(next_serial=...))
        if reply is not None:
            send(encode_frame(reply))
        whole = reassembler.add(msg)              # None while a split message is incomplete
        ...

Location times are converted from the terminal's GMT+8 BCD time to UTC epoch milliseconds.
See docs/protocols/jt808.md.
"""

from citybrain.protocols.jt808 import flags
from citybrain.protocols.jt808.decode import (
    BODY_DECODERS,
    decode_body,
    decode_frame,
    decode_message,
    frame_content,
    parse_location,
    peek_header,
)
from citybrain.protocols.jt808.encode import (
    encode_body,
    encode_frame,
    encode_location,
    encode_message,
    split_frames,
)
from citybrain.protocols.jt808.extras import (
    AlarmEventId,
    Analog,
    AreaInOut,
    ExtraItem,
    Fuel,
    IoStatus,
    Mileage,
    Overspeed,
    RawItem,
    RecorderSpeed,
    RoadSectionTime,
    Satellites,
    SignalStrength,
    TruncatedItem,
    VehicleSignals,
)
from citybrain.protocols.jt808.fields import EncodeError, normalise_phone
from citybrain.protocols.jt808.framing import FrameSplitter, escape, unescape, wrap, xor_check
from citybrain.protocols.jt808.header import Header
from citybrain.protocols.jt808.jsonview import decode_hex, to_json
from citybrain.protocols.jt808.messages import (
    AUTHENTICATE,
    HEARTBEAT,
    LOCATION_BATCH,
    LOCATION_REPORT,
    LOGOUT,
    PLATFORM_GENERAL_RESPONSE,
    REGISTER,
    REGISTER_RESPONSE,
    TERMINAL_GENERAL_RESPONSE,
    Authenticate,
    Body,
    Heartbeat,
    LocationBatch,
    LocationReport,
    Logout,
    Message,
    PlatformGeneralResponse,
    RawBody,
    Register,
    RegisterResponse,
    TerminalGeneralResponse,
)
from citybrain.protocols.jt808.reassembly import Reassembler
from citybrain.protocols.jt808.replies import (
    SessionFacts,
    bad_message_reply,
    general_response,
    reply_for,
)

__all__ = [
    "AUTHENTICATE",
    "BODY_DECODERS",
    "HEARTBEAT",
    "LOCATION_BATCH",
    "LOCATION_REPORT",
    "LOGOUT",
    "PLATFORM_GENERAL_RESPONSE",
    "REGISTER",
    "REGISTER_RESPONSE",
    "TERMINAL_GENERAL_RESPONSE",
    "AlarmEventId",
    "Analog",
    "AreaInOut",
    "Authenticate",
    "Body",
    "EncodeError",
    "ExtraItem",
    "FrameSplitter",
    "Fuel",
    "Header",
    "Heartbeat",
    "IoStatus",
    "LocationBatch",
    "LocationReport",
    "Logout",
    "Message",
    "Mileage",
    "Overspeed",
    "PlatformGeneralResponse",
    "RawBody",
    "RawItem",
    "Reassembler",
    "RecorderSpeed",
    "Register",
    "RegisterResponse",
    "RoadSectionTime",
    "Satellites",
    "SessionFacts",
    "SignalStrength",
    "TerminalGeneralResponse",
    "TruncatedItem",
    "VehicleSignals",
    "bad_message_reply",
    "decode_body",
    "decode_frame",
    "decode_hex",
    "decode_message",
    "encode_body",
    "encode_frame",
    "encode_location",
    "encode_message",
    "escape",
    "flags",
    "frame_content",
    "general_response",
    "normalise_phone",
    "parse_location",
    "peek_header",
    "reply_for",
    "split_frames",
    "to_json",
    "unescape",
    "wrap",
    "xor_check",
]
