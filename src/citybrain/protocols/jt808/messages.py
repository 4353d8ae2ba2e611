"""JT/T 808 message types: one frozen struct per message body, and the :class:`Message` envelope.

Units are in the field names or docstrings: degrees, metres, km/h, UTC epoch milliseconds.
Raw flag words (alarm, status) are kept as integers so a message re-encodes byte for byte;
:mod:`citybrain.protocols.jt808.flags` names their bits.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

import msgspec

from citybrain.protocols.jt808 import flags
from citybrain.protocols.jt808.extras import (
    ExtraItem,
    Fuel,
    Mileage,
    RecorderSpeed,
    Satellites,
    SignalStrength,
)
from citybrain.protocols.jt808.header import Header

# Message ids (the per-message sections of chapter 8; 2019 Annex B Table B.1).
TERMINAL_GENERAL_RESPONSE = 0x0001
HEARTBEAT = 0x0002
LOGOUT = 0x0003
REGISTER = 0x0100
AUTHENTICATE = 0x0102
LOCATION_REPORT = 0x0200
LOCATION_BATCH = 0x0704
PLATFORM_GENERAL_RESPONSE = 0x8001
REGISTER_RESPONSE = 0x8100

# General-response results (§8.1 / §8.2).
RESULT_OK = 0
RESULT_FAILED = 1
RESULT_BAD_MESSAGE = 2
RESULT_UNSUPPORTED = 3
RESULT_ALARM_CONFIRMED = 4  # 0x8001 only

# Register-response results (2013 §8.6).
REGISTER_OK = 0
REGISTER_VEHICLE_TAKEN = 1
REGISTER_NO_SUCH_VEHICLE = 2
REGISTER_TERMINAL_TAKEN = 3
REGISTER_NO_SUCH_TERMINAL = 4

_T = TypeVar("_T")


class TerminalGeneralResponse(msgspec.Struct, frozen=True):
    """0x0001 (2013/2019 §8.1): the terminal answers a platform message.

    Body: reply serial, reply id, result (0 ok, 1 failed, 2 bad message, 3 unsupported)."""

    MSG_ID: ClassVar[int] = TERMINAL_GENERAL_RESPONSE
    reply_serial: int
    reply_msg_id: int
    result: int


class PlatformGeneralResponse(msgspec.Struct, frozen=True):
    """0x8001 (2013/2019 §8.2): the platform answers a terminal message (result 4 = alarm confirmed)."""

    MSG_ID: ClassVar[int] = PLATFORM_GENERAL_RESPONSE
    reply_serial: int
    reply_msg_id: int
    result: int


class Heartbeat(msgspec.Struct, frozen=True):
    """0x0002 (2013/2019 §8.3): empty body."""

    MSG_ID: ClassVar[int] = HEARTBEAT


class Logout(msgspec.Struct, frozen=True):
    """0x0003 terminal deregistration (2013 §8.7): empty body."""

    MSG_ID: ClassVar[int] = LOGOUT


class Register(msgspec.Struct, frozen=True):
    """0x0100 (2013 §8.5, 2019 §8.8). ``layout`` is the body layout: '2011' (model BYTE[8]), '2013' (maker 5,
    model 20, id 7, padded at the end) or '2019' (maker 11, model 30, id 30, padded at the front).
    ``plate`` is the VIN when ``plate_color`` is 0 (vehicle without plate)."""

    MSG_ID: ClassVar[int] = REGISTER
    province: int
    city: int
    maker: str
    model: str
    terminal_id: str
    plate_color: int
    plate: str
    layout: str = "2013"


class RegisterResponse(msgspec.Struct, frozen=True):
    """0x8100 (2013 §8.6): reply serial, result, and the auth code (only sent when result is 0)."""

    MSG_ID: ClassVar[int] = REGISTER_RESPONSE
    reply_serial: int
    result: int
    auth_code: str | None = None


class Authenticate(msgspec.Struct, frozen=True):
    """0x0102 (2013 §8.8, 2019 §8.11). 2013: the whole body is the auth code. 2019: code length BYTE, code,
    IMEI BYTE[15], software version BYTE[20]; ``imei`` is None for the 2013 body."""

    MSG_ID: ClassVar[int] = AUTHENTICATE
    auth_code: str
    imei: str | None = None
    software_version: str | None = None


class LocationReport(msgspec.Struct, frozen=True):
    """0x0200 (2013 §8.18, 2019 §8.21) basic block and additional items.

    ``lat``/``lon`` are degrees, negative for south/west (the wire value is unsigned; the sign
    comes from status bits 2 and 3). ``time_ms`` is UTC epoch milliseconds converted from the
    terminal's GMT+8 BCD time, or None when the terminal sent no valid time.
    """

    MSG_ID: ClassVar[int] = LOCATION_REPORT
    alarm: int
    status: int
    lat: float
    lon: float
    altitude_m: int
    speed_kmh: float
    direction: int
    time_ms: int | None
    extras: tuple[ExtraItem, ...] = ()

    @property
    def acc_on(self) -> bool:
        return bool(self.status & flags.STATUS_ACC_ON)

    @property
    def positioned(self) -> bool:
        return bool(self.status & flags.STATUS_POSITIONED)

    @property
    def alarms(self) -> list[str]:
        return flags.alarm_names(self.alarm)

    @property
    def status_flags(self) -> list[str]:
        return flags.status_names(self.status)

    def extra(self, kind: type[_T]) -> _T | None:
        """The first additional item of the given type, if any."""
        for item in self.extras:
            if isinstance(item, kind):
                return item
        return None

    @property
    def mileage_km(self) -> float | None:
        item = self.extra(Mileage)
        return None if item is None else item.km

    @property
    def fuel_l(self) -> float | None:
        item = self.extra(Fuel)
        return None if item is None else item.litres

    @property
    def recorder_speed_kmh(self) -> float | None:
        item = self.extra(RecorderSpeed)
        return None if item is None else item.kmh

    @property
    def signal_strength(self) -> int | None:
        item = self.extra(SignalStrength)
        return None if item is None else item.value

    @property
    def satellites(self) -> int | None:
        item = self.extra(Satellites)
        return None if item is None else item.count


class LocationBatch(msgspec.Struct, frozen=True):
    """0x0704 batch location upload: ``batch_type`` 0 = normal batch, 1 = blind-area reissue (back-dated data
    stored while the link was down). Never treat a reissue as live data."""

    MSG_ID: ClassVar[int] = LOCATION_BATCH
    batch_type: int
    items: tuple[LocationReport, ...]

    @property
    def reissue(self) -> bool:
        return self.batch_type == 1


class RawBody(msgspec.Struct, frozen=True):
    """A body we do not decode: an unknown message id, or one fragment of a split message."""

    data: bytes


Body = (
    TerminalGeneralResponse
    | PlatformGeneralResponse
    | Heartbeat
    | Logout
    | Register
    | RegisterResponse
    | Authenticate
    | LocationReport
    | LocationBatch
    | RawBody
)

MESSAGE_NAMES: dict[int, str] = {
    TERMINAL_GENERAL_RESPONSE: "terminal_general_response",
    HEARTBEAT: "heartbeat",
    LOGOUT: "logout",
    REGISTER: "register",
    AUTHENTICATE: "authenticate",
    LOCATION_REPORT: "location_report",
    LOCATION_BATCH: "location_batch",
    PLATFORM_GENERAL_RESPONSE: "platform_general_response",
    REGISTER_RESPONSE: "register_response",
}


class Message(msgspec.Struct, frozen=True):
    """One JT/T 808 message: header, decoded body, and the device quirks met while decoding."""

    header: Header
    body: Body
    quirks: tuple[str, ...] = ()

    @property
    def msg_id(self) -> int:
        return self.header.msg_id

    @property
    def name(self) -> str:
        if isinstance(self.body, RawBody):
            return "fragment" if self.header.is_fragment else "unknown"
        return MESSAGE_NAMES.get(self.header.msg_id, "unknown")
