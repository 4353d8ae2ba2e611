"""GB/T 32960.3 (NEV remote monitoring) codec, 2016 (``##``) and 2025 (``$$``) editions.

Pure: bytes in, messages out, and back; no sockets. The gateway's loop is::

    splitter = FrameSplitter()
    for item in splitter.feed(chunk):
        if isinstance(item, BadBytes):           # log hex, count, maybe answer
            reply = reply_to_bad_frame(item.data, now) if item.reason == "bcc" else None
            continue
        try:
            msg = decode_frame(item.data)
        except DecodeError:
            reply = reply_to_bad_frame(item.data, now, reason="structure")
            continue
        reply = reply_to(msg, item.data, now)   # None for a correct 0x02/0x03 report

See docs/protocols/gb32960.md for the field names and the rules.
"""

from ._codec import BJT, EncodeError
from .alarms import ALARM_BITS_2016, ALARM_BITS_2025, Alarm, Alarm2025, AlarmLevel
from .blocks_2016 import (
    CellVoltages,
    DriveMotor,
    DriveMotors,
    Engine,
    Extremes,
    FuelCell,
    Location,
    SubsystemVoltages,
    VehicleData,
)
from .blocks_2025 import (
    CellVoltages2025,
    DriveMotor2025,
    DriveMotors2025,
    Engine2025,
    FuelCell2025,
    FuelCellStack,
    FuelCellStacks,
    Location2025,
    PackVoltages,
    SuperCapacitor,
    SuperCapacitorExtremes,
    VehicleData2025,
)
from .blocks_common import CustomBlock, ProbeTemperatures, Signature, SubsystemTemperatures
from .decoder import decode_frame, decode_hex_frame
from .encoder import encode, encode_data_unit
from .frame import Command, Edition, Encryption, Header, ResponseFlag, bcc, build_frame, check_frame
from .jsonview import decode_hex, message_json
from .messages import (
    Ack,
    Activation,
    ActivationResponse,
    Heartbeat,
    KeyExchange,
    Message,
    PlatformLogin,
    PlatformLogout,
    RawMessage,
    RealtimeReport,
    TimeCalibration,
    VehicleLogin,
    VehicleLogin2025,
    VehicleLogout,
)
from .realtime import Block
from .reassembly import AssembledPack, CellVoltageReassembler
from .replies import needs_reply, reply_to, reply_to_bad_frame
from .splitter import BadBytes, FrameSplitter, RawFrame, SplitItem

__all__ = [
    "ALARM_BITS_2016",
    "ALARM_BITS_2025",
    "BJT",
    "Ack",
    "Activation",
    "ActivationResponse",
    "Alarm",
    "Alarm2025",
    "AlarmLevel",
    "AssembledPack",
    "BadBytes",
    "Block",
    "CellVoltageReassembler",
    "CellVoltages",
    "CellVoltages2025",
    "Command",
    "CustomBlock",
    "DriveMotor",
    "DriveMotor2025",
    "DriveMotors",
    "DriveMotors2025",
    "Edition",
    "EncodeError",
    "Encryption",
    "Engine",
    "Engine2025",
    "Extremes",
    "FrameSplitter",
    "FuelCell",
    "FuelCell2025",
    "FuelCellStack",
    "FuelCellStacks",
    "Header",
    "Heartbeat",
    "KeyExchange",
    "Location",
    "Location2025",
    "Message",
    "PackVoltages",
    "PlatformLogin",
    "PlatformLogout",
    "ProbeTemperatures",
    "RawFrame",
    "RawMessage",
    "RealtimeReport",
    "ResponseFlag",
    "Signature",
    "SplitItem",
    "SubsystemTemperatures",
    "SubsystemVoltages",
    "SuperCapacitor",
    "SuperCapacitorExtremes",
    "TimeCalibration",
    "VehicleData",
    "VehicleData2025",
    "VehicleLogin",
    "VehicleLogin2025",
    "VehicleLogout",
    "bcc",
    "build_frame",
    "check_frame",
    "decode_frame",
    "decode_hex",
    "decode_hex_frame",
    "encode",
    "encode_data_unit",
    "message_json",
    "needs_reply",
    "reply_to",
    "reply_to_bad_frame",
]
