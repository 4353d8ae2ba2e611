"""Reassembly of split (sub-packaged) JT/T 808 messages (§4.4; 2019 adds 0x0005 re-send requests).

A body over 1023 bytes is sent as ``total`` packages, indexed from 1, each with its own serial.
The packages of one message share phone, message id and total, and their serials run
consecutively, so ``serial - index`` identifies the message. Pure and bounded: at most
``max_pending`` messages are held; the oldest incomplete one is dropped first.
"""

from __future__ import annotations

from collections import OrderedDict

from citybrain.core.errors import DecodeError
from citybrain.protocols.jt808.decode import decode_body
from citybrain.protocols.jt808.header import Header
from citybrain.protocols.jt808.messages import Message, RawBody

_Key = tuple[str, int, int, int]


class Reassembler:
    """Feed every decoded message; whole messages come back at once, fragments are held until
    the last one arrives, then the whole message is returned, decoded by its message id."""

    __slots__ = ("_pending", "dropped", "max_packages", "max_pending")

    def __init__(self, max_pending: int = 64, max_packages: int = 256) -> None:
        self.max_pending = max_pending
        self.max_packages = max_packages
        self._pending: OrderedDict[_Key, dict[int, bytes]] = OrderedDict()
        self.dropped = 0  # incomplete messages evicted to stay within max_pending

    @property
    def pending(self) -> int:
        return len(self._pending)

    def missing(self, phone: str, msg_id: int, first_serial: int) -> list[int]:
        """Package indexes still missing for a pending message (for a re-send request)."""
        for key, parts in self._pending.items():
            if key[0] == phone and key[1] == msg_id and key[3] == first_serial:
                return [i for i in range(1, key[2] + 1) if i not in parts]
        return []

    def add(self, msg: Message) -> Message | None:
        h = msg.header
        if h.pkg_total is None or h.pkg_index is None or not isinstance(msg.body, RawBody):
            return msg
        total, index = h.pkg_total, h.pkg_index
        if not 1 <= index <= total or total > self.max_packages:
            raise DecodeError(
                f"jt808 msg 0x{h.msg_id:04X}: package {index} of {total} "
                f"(index from 1, at most {self.max_packages} packages)"
            )
        first = (h.serial - index + 1) & 0xFFFF
        key = (h.phone, h.msg_id, total, first)
        parts = self._pending.get(key)
        if parts is None:
            parts = self._pending[key] = {}
            while len(self._pending) > self.max_pending:
                self._pending.popitem(last=False)
                self.dropped += 1
        parts[index] = msg.body.data
        if len(parts) < total:
            return None
        del self._pending[key]
        body = b"".join(parts[i] for i in range(1, total + 1))
        whole = Header(
            msg_id=h.msg_id,
            phone=h.phone,
            serial=first,
            protocol_version=h.protocol_version,
            version_flag=h.version_flag,
            encryption=h.encryption,
            reserved_bit15=h.reserved_bit15,
        )
        quirks = list(msg.quirks)
        return Message(whole, decode_body(whole, body, quirks), tuple(quirks))
