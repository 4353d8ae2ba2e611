"""Bytes of one frame -> a message: envelope check, then a dispatch table by command."""

from __future__ import annotations

from collections.abc import Callable

from citybrain.core.errors import DecodeError

from . import messages as msgs
from ._codec import Reader
from .blocks_common import decode_signature
from .frame import HEADER_SIZE, Command, Encryption, Header, ResponseFlag, check_frame
from .realtime import decode_realtime

Handler = Callable[[Header, Reader], msgs.Message]

#: Commands whose platform reply may be a bare time (or nothing): decoded as :class:`.messages.Ack`.
TIME_ONLY_REPLIES = frozenset({0x01, 0x02, 0x03, 0x04, 0x05, 0x06})


def _login(h: Header, r: Reader) -> msgs.Message:
    time, serial, iccid = r.time(), r.u16("serial"), r.text(20, "iccid")
    if h.edition == "2016":
        n, m = r.u8("ress_count"), r.u8("code_length")
        r.need(n * m, "ress_codes")
        return msgs.VehicleLogin(
            h, time, serial, iccid, n, m, [r.text(m, "ress_codes") for _ in range(n if m else 0)]
        )
    n = r.u8("bms_count")
    packs = list(r.take(n, "packs_per_bms"))
    r.need(24 * sum(packs), "pack_codes")
    return msgs.VehicleLogin2025(
        h, time, serial, iccid, packs, [r.text(24, "pack_codes") for _ in range(sum(packs))]
    )


def _realtime(h: Header, r: Reader) -> msgs.Message:
    b = decode_realtime(r, h.edition)
    return msgs.RealtimeReport(h, b.time, b.blocks, b.unparsed, b.unparsed_offset)


def _logout(h: Header, r: Reader) -> msgs.Message:
    return msgs.VehicleLogout(h, r.time(), r.u16("serial"))


def _platform_login(h: Header, r: Reader) -> msgs.Message:
    return msgs.PlatformLogin(
        h, r.time(), r.u16("serial"), r.text(12, "username"), r.text(20, "password"), r.u8("encryption_rule")
    )


def _platform_logout(h: Header, r: Reader) -> msgs.Message:
    return msgs.PlatformLogout(h, r.time(), r.u16("serial"))


def _heartbeat(h: Header, r: Reader) -> msgs.Message:
    return msgs.Heartbeat(h, r.time() if r.remaining() else None)


def _time_calibration(h: Header, r: Reader) -> msgs.Message:
    return msgs.TimeCalibration(h, r.time() if r.remaining() else None)


def _activation(h: Header, r: Reader) -> msgs.Message:
    time, chip = r.time(), r.text(16, "chip_id")
    key = r.take(r.u16("public_key_length"), "public_key")
    vin = r.text(17, "vin")
    r.where = "signature"
    return msgs.Activation(h, time, chip, key, vin, decode_signature(r))


def _activation_response(h: Header, r: Reader) -> msgs.Message:
    return msgs.ActivationResponse(h, r.u8("result"), r.u8("info"))


def _key_exchange(h: Header, r: Reader) -> msgs.Message:
    algo = r.u8("algorithm")
    key = r.take(r.u16("key_length"), "key")
    return msgs.KeyExchange(h, algo, key, r.time("valid_from"), r.time("valid_to"))


HANDLERS: dict[int, Handler] = {
    Command.VEHICLE_LOGIN: _login,
    Command.REALTIME: _realtime,
    Command.REISSUE: _realtime,
    Command.VEHICLE_LOGOUT: _logout,
    Command.PLATFORM_LOGIN: _platform_login,
    Command.PLATFORM_LOGOUT: _platform_logout,
    Command.HEARTBEAT: _heartbeat,
    Command.TIME_CALIBRATION: _time_calibration,
}
HANDLERS_2025: dict[int, Handler] = {
    **HANDLERS,
    Command.ACTIVATION: _activation,
    Command.ACTIVATION_RESPONSE: _activation_response,
    Command.KEY_EXCHANGE: _key_exchange,
}


def decode_frame(data: bytes) -> msgs.Message:
    """Decode one complete frame (start bytes to BCC). Raises only :class:`DecodeError`."""
    header, n = check_frame(data)
    if header.encryption != Encryption.NONE and n:
        reason = f"encrypted (0x{header.encryption:02X})"
        return msgs.RawMessage(header, bytes(data[HEADER_SIZE:-1]), reason)
    handler = (HANDLERS_2025 if header.edition == "2025" else HANDLERS).get(header.command)
    if handler is None:
        return msgs.RawMessage(header, bytes(data[HEADER_SIZE:-1]))
    r = Reader(data, HEADER_SIZE, HEADER_SIZE + n)
    if header.response != ResponseFlag.COMMAND and n in (0, 6) and header.command in TIME_ONLY_REPLIES:
        return msgs.Ack(header, r.time() if n else None)
    r.where = f"command 0x{header.command:02X}"
    msg = handler(header, r)
    if r.remaining():
        r.where = f"command 0x{header.command:02X}"
        raise r.fail(f"{r.remaining()} unexpected trailing byte(s)")
    return msg


def decode_hex_frame(hex_str: str) -> msgs.Message:
    try:
        data = bytes.fromhex("".join(hex_str.split()).removeprefix("0x"))
    except ValueError as exc:
        raise DecodeError(f"gb32960: not a hex string: {exc}") from None
    return decode_frame(data)
