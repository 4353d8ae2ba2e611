"""Decoded GB/T 32960.3 messages, one dataclass per command (Table 3 / Annex B Table B.2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .blocks_common import Signature
from .frame import Command, Header
from .realtime import Block


@dataclass(slots=True)
class VehicleLogin:
    """0x01, 2016: ``ress_count`` systems, each code ``code_length`` bytes (0 = codes not sent)."""

    header: Header
    time: datetime
    serial: int  # +1 per login, from 1, wraps at 65531, daily cycle (Table 6)
    iccid: str
    ress_count: int
    code_length: int
    ress_codes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class VehicleLogin2025:
    """0x01, 2025: one pack count per BMS, then sum(packs) 24-byte pack codes."""

    header: Header
    time: datetime
    serial: int
    iccid: str
    packs_per_bms: list[int] = field(default_factory=list)
    pack_codes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RealtimeReport:
    """0x02 real-time report, or 0x03 reissue (back-dated data buffered while offline)."""

    header: Header
    time: datetime
    blocks: list[Block] = field(default_factory=list)
    unparsed: bytes = b""
    unparsed_offset: int | None = None

    @property
    def reissue(self) -> bool:
        return self.header.command == Command.REISSUE

    def find(self, name: str) -> list[Block]:
        """Blocks whose ``NAME`` is ``name`` (e.g. "vehicle", "location"), in frame order."""
        return [b for b in self.blocks if name == b.NAME]


@dataclass(slots=True)
class VehicleLogout:
    header: Header
    time: datetime
    serial: int  # same value as the login serial


@dataclass(slots=True)
class PlatformLogin:
    header: Header
    time: datetime
    serial: int
    username: str  # 12 bytes
    password: str  # 20 bytes
    encryption_rule: int


@dataclass(slots=True)
class PlatformLogout:
    header: Header
    time: datetime
    serial: int


@dataclass(slots=True)
class Heartbeat:
    """0x07; the command has an empty data unit, a platform reply may carry a time."""

    header: Header
    time: datetime | None = None


@dataclass(slots=True)
class TimeCalibration:
    """0x08; the command is empty, the platform's reply carries its time."""

    header: Header
    time: datetime | None = None


@dataclass(slots=True)
class Ack:
    """A response frame whose data unit is only a time (rtm_con, main body) or empty."""

    header: Header
    time: datetime | None = None


@dataclass(slots=True)
class Activation:
    """0x09 (2025): security-chip id, public key, VIN, signature over time..VIN."""

    header: Header
    time: datetime
    chip_id: str
    public_key: bytes
    vin: str
    signature: Signature


@dataclass(slots=True)
class ActivationResponse:
    """0x0A (2025): result 1 ok / 2 failed; info 1 ok / 2 chip already used / 3 duplicate VIN."""

    header: Header
    result: int
    info: int


@dataclass(slots=True)
class KeyExchange:
    """0x0B (2025): data-unit key exchange."""

    header: Header
    algorithm: int
    key: bytes
    valid_from: datetime
    valid_to: datetime


@dataclass(slots=True)
class RawMessage:
    """A command we do not decode (unknown, downlink, encrypted): data unit kept as bytes."""

    header: Header
    data: bytes
    reason: str = "unknown command"


Message = (
    VehicleLogin
    | VehicleLogin2025
    | RealtimeReport
    | VehicleLogout
    | PlatformLogin
    | PlatformLogout
    | Heartbeat
    | TimeCalibration
    | Ack
    | Activation
    | ActivationResponse
    | KeyExchange
    | RawMessage
)
