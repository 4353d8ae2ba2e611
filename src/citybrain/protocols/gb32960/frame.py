"""Frame envelope (GB/T 32960.3-2016 Table 2 / Annex B Table B.1; 2025 uses ``$$``).

offset 0 start (2) · 2 command · 3 response flag · 4 VIN (17) · 21 encryption · 22 data length
WORD · 24 data unit · 24+n BCC = XOR of bytes 2 .. 23+n (the start bytes are not covered).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from citybrain.core.errors import DecodeError

from ._codec import EncodeError, put_text

Edition = Literal["2016", "2025"]

START: dict[Edition, bytes] = {"2016": b"##", "2025": b"$$"}
EDITION_OF_START: dict[bytes, Edition] = {v: k for k, v in START.items()}
HEADER_SIZE = 24
MAX_DATA_LENGTH = 65531  # Table 2: data-unit length 0..65531
MAX_FRAME_SIZE = HEADER_SIZE + MAX_DATA_LENGTH + 1


class Command(IntEnum):
    VEHICLE_LOGIN = 0x01
    REALTIME = 0x02
    REISSUE = 0x03
    VEHICLE_LOGOUT = 0x04
    PLATFORM_LOGIN = 0x05
    PLATFORM_LOGOUT = 0x06
    HEARTBEAT = 0x07
    TIME_CALIBRATION = 0x08
    ACTIVATION = 0x09  # 2025
    ACTIVATION_RESPONSE = 0x0A  # 2025
    KEY_EXCHANGE = 0x0B  # 2025
    QUERY_PARAMETERS = 0x80
    SET_PARAMETERS = 0x81
    TERMINAL_CONTROL = 0x82


class ResponseFlag(IntEnum):
    SUCCESS = 0x01
    ERROR = 0x02
    DUPLICATE_VIN = 0x03
    VIN_UNKNOWN = 0x04  # 2025
    INVALID_SIGNATURE = 0x05  # 2025
    INVALID_STRUCTURE = 0x06  # 2025
    DECRYPTION_FAILED = 0x07  # 2025
    COMMAND = 0xFE


class Encryption(IntEnum):
    NONE = 0x01
    RSA = 0x02
    AES128 = 0x03
    SM2 = 0x04  # 2025
    SM4 = 0x05  # 2025
    ABNORMAL = 0xFE
    INVALID = 0xFF


KNOWN_ENCRYPTION = frozenset(int(e) for e in Encryption)
KNOWN_RESPONSE = frozenset(int(f) for f in ResponseFlag)


@dataclass(slots=True)
class Header:
    edition: Edition
    command: int
    response: int = ResponseFlag.COMMAND
    vin: str = ""
    encryption: int = Encryption.NONE


def bcc(data: bytes | bytearray | memoryview) -> int:
    """XOR check code over ``data`` (pass the bytes from the command byte to before the BCC).

    Folds the bytes as one big integer (log n big-int XORs instead of n Python steps).
    """
    n = len(data)
    x = int.from_bytes(data, "big")
    while n > 1:
        low = n // 2  # bytes kept in the low part
        x = (x >> (8 * low)) ^ (x & ((1 << (8 * low)) - 1))
        n -= low
    return x


def check_frame(data: bytes) -> tuple[Header, int]:
    """Validate start, length and BCC of one complete frame; return its header and data length."""
    if len(data) < HEADER_SIZE + 1:
        raise DecodeError(f"gb32960: frame of {len(data)} bytes is shorter than the 25-byte minimum")
    edition = EDITION_OF_START.get(bytes(data[:2]))
    if edition is None:
        raise DecodeError(f"gb32960: bad start bytes {bytes(data[:2]).hex()} at offset 0 (want 2323 or 2424)")
    n = int.from_bytes(data[22:24], "big")
    if HEADER_SIZE + n + 1 != len(data):
        raise DecodeError(
            f"gb32960: data length field {n} at offset 22 implies a {HEADER_SIZE + n + 1}-byte frame, "
            f"got {len(data)} bytes"
        )
    want = bcc(memoryview(data)[2:-1])
    if want != data[-1]:
        raise DecodeError(
            f"gb32960: BCC mismatch at offset {len(data) - 1}: frame 0x{data[-1]:02X}, computed 0x{want:02X}"
        )
    header = Header(edition, data[2], data[3], bytes(data[4:21]).decode("latin-1"), data[21])
    return header, n


def build_frame(header: Header, data: bytes | bytearray) -> bytes:
    if len(data) > MAX_DATA_LENGTH:
        raise EncodeError(f"gb32960: data unit of {len(data)} bytes exceeds {MAX_DATA_LENGTH}")
    out = bytearray(START[header.edition])
    out += bytes((header.command & 0xFF, header.response & 0xFF))
    put_text(out, header.vin, 17, "vin")
    out.append(header.encryption & 0xFF)
    out += len(data).to_bytes(2, "big")
    out += data
    out.append(bcc(memoryview(out)[2:]))
    return bytes(out)
