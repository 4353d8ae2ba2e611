"""Sparkplug B ``Payload`` and ``Metric`` as we model them, and the metric datatypes.

Field numbers follow the Sparkplug 3.0 specification (chapter 6, ``sparkplug_b.proto``):

``Payload``: 1 timestamp (uint64), 2 metrics (repeated Metric), 3 seq (uint64), 4 uuid (string),
5 body (bytes); 6+ extensions (skipped).
``Metric``: 1 name, 2 alias, 3 timestamp, 4 datatype, 5 is_historical, 6 is_transient, 7 is_null,
8 metadata (skipped), 9 properties (skipped), value oneof: 10 int_value (uint32), 11 long_value
(uint64), 12 float_value (fixed32), 13 double_value (fixed64), 14 boolean_value, 15 string_value,
16 bytes_value, 17 dataset / 18 template / 19 extension (skipped: value None).

Signed integers travel as two's complement: Int8/16/32 in the 32-bit ``int_value``, Int64 in
``long_value``. Decoding also takes a negative Int8/Int16 as the 8/16-bit two's complement that
Eclipse Tahu Python and mqtt-spb-wrapper write (-5 as 251), as Tahu's Java decoder does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Value = int | float | bool | str | bytes | None

INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64 = 1, 2, 3, 4, 5, 6, 7, 8
FLOAT, DOUBLE, BOOLEAN, STRING, DATETIME, TEXT, UUID, DATASET, BYTES, FILE, TEMPLATE = range(9, 20)
DATATYPE_NAMES = {
    1: "Int8",
    2: "Int16",
    3: "Int32",
    4: "Int64",
    5: "UInt8",
    6: "UInt16",
    7: "UInt32",
    8: "UInt64",
    9: "Float",
    10: "Double",
    11: "Boolean",
    12: "String",
    13: "DateTime",
    14: "Text",
    15: "UUID",
    16: "DataSet",
    17: "Bytes",
    18: "File",
    19: "Template",
}
# which value field a datatype travels in (shared by the decoder and the encoder)
SIGNED32_TYPES = frozenset({INT8, INT16, INT32})
UNSIGNED32_TYPES = frozenset({UINT8, UINT16, UINT32})
LONG_TYPES = frozenset({INT64, UINT64, DATETIME})
TEXT_TYPES = frozenset({STRING, TEXT, UUID})
MAX_PAYLOAD = 4 * 1024 * 1024  # a bigger Sparkplug payload is a mistake, not data


@dataclass
class Metric:
    name: str = ""
    alias: int | None = None
    timestamp: int | None = None
    datatype: int = 0
    value: Value = None
    is_null: bool = False
    is_historical: bool = False
    is_transient: bool = False


@dataclass
class Payload:
    timestamp: int | None = None
    metrics: list[Metric] = field(default_factory=list)
    seq: int | None = None
    uuid: str | None = None
    body: bytes | None = None
