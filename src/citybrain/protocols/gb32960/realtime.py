"""Real-time (0x02) and reissue (0x03) data units: time + a run of information blocks.

Most blocks carry no length (only user-defined 0x80-0xFE blocks do), so an unknown type id
makes the rest of the data unit unreadable: parsing stops there and the remaining bytes are
kept in ``RealtimeBody.unparsed`` (they re-encode unchanged). In 2025 frames the 0xFF signature
must come last; any bytes after it are kept in ``unparsed`` too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from . import blocks_2016 as b16
from . import blocks_2025 as b25
from ._codec import EncodeError, Reader, put_time
from .alarms import ALARM_2025_CODEC, ALARM_CODEC, Alarm, Alarm2025
from .blocks_common import (
    SIGNATURE,
    TEMPERATURES,
    BlockCodec,
    CustomBlock,
    ProbeTemperatures,
    Signature,
    decode_custom,
    encode_custom,
)
from .frame import Edition

Block = (
    b16.VehicleData
    | b16.DriveMotors
    | b16.FuelCell
    | b16.Engine
    | b16.Location
    | b16.Extremes
    | Alarm
    | b16.CellVoltages
    | ProbeTemperatures
    | b25.VehicleData2025
    | b25.DriveMotors2025
    | b25.FuelCell2025
    | b25.Engine2025
    | b25.Location2025
    | Alarm2025
    | b25.CellVoltages2025
    | b25.FuelCellStacks
    | b25.SuperCapacitor
    | b25.SuperCapacitorExtremes
    | CustomBlock
    | Signature
)

#: Dispatch tables: information-type byte -> block codec, one per edition (Table 8 / B.3).
CODECS: dict[Edition, dict[int, BlockCodec]] = {
    "2016": {
        0x01: b16.VEHICLE_CODEC,
        0x02: b16.MOTORS_CODEC,
        0x03: b16.FUEL_CELL_CODEC,
        0x04: b16.ENGINE_CODEC,
        0x05: b16.LOCATION_CODEC,
        0x06: b16.EXTREMES_CODEC,
        0x07: ALARM_CODEC,
        0x08: b16.CELL_VOLTAGES_CODEC,
        0x09: TEMPERATURES,
    },
    "2025": {
        0x01: b25.VEHICLE_CODEC,
        0x02: b25.MOTORS_CODEC,
        0x03: b25.FUEL_CELL_CODEC,
        0x04: b25.ENGINE_CODEC,
        0x05: b25.LOCATION_CODEC,
        0x06: ALARM_2025_CODEC,
        0x07: b25.CELL_VOLTAGES_CODEC,
        0x08: TEMPERATURES,
        0x30: b25.STACKS_CODEC,
        0x31: b25.SUPERCAP_CODEC,
        0x32: b25.SUPERCAP_EXTREMES_CODEC,
        0xFF: SIGNATURE,
    },
}
TYPE_IDS: dict[Edition, dict[type, int]] = {
    ed: {c.cls: t for t, c in tbl.items()} for ed, tbl in CODECS.items()
}


@dataclass(slots=True)
class RealtimeBody:
    time: datetime
    blocks: list[Block] = field(default_factory=list)
    unparsed: bytes = b""  # from the first unknown type id (or after the signature) to the end
    unparsed_offset: int | None = None  # frame offset where ``unparsed`` starts


def decode_realtime(r: Reader, edition: Edition) -> RealtimeBody:
    table = CODECS[edition]
    body = RealtimeBody(r.time("time"))
    blocks = body.blocks
    while r.remaining():
        start = r.pos
        type_id = r.buf[r.pos]
        codec = table.get(type_id)
        if codec is None and not 0x80 <= type_id <= 0xFE:
            r.where = ""
            body.unparsed_offset = r.offset()
            body.unparsed = r.take(r.remaining(), "unparsed")
            break
        r.pos += 1
        r.where = f"block 0x{type_id:02X} {codec.cls.NAME if codec else 'custom'} at offset {r.base + start}"
        blocks.append(codec.decode(r) if codec else decode_custom(type_id, r))
        if type_id == 0xFF and edition == "2025" and r.remaining():
            r.where = ""
            body.unparsed_offset = r.offset()
            body.unparsed = r.take(r.remaining(), "unparsed")
    r.where = ""
    return body


def encode_realtime(body: RealtimeBody, edition: Edition, out: bytearray) -> None:
    put_time(out, body.time)
    ids = TYPE_IDS[edition]
    table = CODECS[edition]
    for b in body.blocks:
        if isinstance(b, CustomBlock):
            out.append(b.type_id)
            encode_custom(b, out)
            continue
        type_id = ids.get(type(b))
        if type_id is None:
            raise EncodeError(f"gb32960: {type(b).__name__} is not a {edition}-edition block")
        out.append(type_id)
        table[type_id].encode(b, out)
    out += body.unparsed
