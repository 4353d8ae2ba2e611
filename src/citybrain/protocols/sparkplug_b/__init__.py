"""Sparkplug B payloads and topics: a small protocol-buffers wire-format codec written for this project.

Pure: bytes in, messages out, and back; no sockets, no MQTT session. We do not use generated code
(Eclipse Tahu's) nor the protobuf runtime at run time: the Sparkplug B ``Payload`` and ``Metric``
messages are few fields, and a hand decoder lets us bound every length, reject what is malformed
with our own :class:`DecodeError`, and skip what we do not model. The field numbers follow the
Sparkplug 3.0 specification (see :mod:`.messages`). The tests check this codec against the protobuf
runtime, with the schema built from descriptors, in both directions.

The host logic (births, deaths, aliases, sequence numbers) belongs to the scene that uses it.
"""

from citybrain.core.errors import DecodeError

from .decode import decode_payload
from .encode import encode_metric, encode_payload
from .messages import (
    BOOLEAN,
    BYTES,
    DATASET,
    DATATYPE_NAMES,
    DATETIME,
    DOUBLE,
    FILE,
    FLOAT,
    INT8,
    INT16,
    INT32,
    INT64,
    MAX_PAYLOAD,
    STRING,
    TEMPLATE,
    TEXT,
    UINT8,
    UINT16,
    UINT32,
    UINT64,
    UUID,
    Metric,
    Payload,
    Value,
)
from .topics import NAMESPACE, MessageType, SpbTopic, parse_topic, topic_for

__all__ = [
    "BOOLEAN",
    "BYTES",
    "DATASET",
    "DATATYPE_NAMES",
    "DATETIME",
    "DOUBLE",
    "FILE",
    "FLOAT",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "MAX_PAYLOAD",
    "NAMESPACE",
    "STRING",
    "TEMPLATE",
    "TEXT",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "UUID",
    "DecodeError",
    "MessageType",
    "Metric",
    "Payload",
    "SpbTopic",
    "Value",
    "decode_payload",
    "encode_metric",
    "encode_payload",
    "parse_topic",
    "topic_for",
]
