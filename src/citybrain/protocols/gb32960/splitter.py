"""Streaming frame splitter for a TCP byte stream (no sockets here: feed it what ``recv`` gave).

It finds ``##`` (2016) or ``$$`` (2025) starts, waits for the length the header announces, and
checks the BCC. Whole frames come out as :class:`RawFrame`; everything dropped comes out as a
:class:`BadBytes` (garbage between frames, or a frame whose BCC fails) so the gateway can log its
hex, count it, and send the error reply the standard asks for (Annex B.2.1). The buffer never holds
more than one maximum-size frame (65 556 bytes by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .frame import HEADER_SIZE, KNOWN_ENCRYPTION, KNOWN_RESPONSE, MAX_DATA_LENGTH, bcc

_STARTS = (b"##", b"$$")


@dataclass(frozen=True, slots=True)
class RawFrame:
    data: bytes  # one complete frame whose length and BCC check
    stream_offset: int  # position of its first byte in the stream


@dataclass(frozen=True, slots=True)
class BadBytes:
    data: bytes
    stream_offset: int
    reason: Literal["garbage", "bcc"]


SplitItem = RawFrame | BadBytes


class FrameSplitter:
    """Split a byte stream into frames; call :meth:`feed` with each chunk read from the socket."""

    __slots__ = ("_buf", "_consumed", "max_data_length")

    def __init__(self, max_data_length: int = MAX_DATA_LENGTH) -> None:
        self._buf = bytearray()
        self._consumed = 0  # stream offset of _buf[0]
        self.max_data_length = max_data_length

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def _plausible(self, pos: int) -> bool:
        """Header fields a real frame cannot have: reject a false start early."""
        b = self._buf
        n = int.from_bytes(b[pos + 22 : pos + 24], "big")
        return b[pos + 3] in KNOWN_RESPONSE and b[pos + 21] in KNOWN_ENCRYPTION and n <= self.max_data_length

    def feed(self, chunk: bytes) -> list[SplitItem]:
        self._buf += chunk
        out: list[SplitItem] = []
        b = self._buf
        pos = 0
        garbage_from = -1
        while True:
            start = _find_start(b, pos)
            if start < 0:
                # keep a trailing '#'/'$' that may be the first half of a start marker
                keep = len(b) - 1 if len(b) > pos and b[-1] in (0x23, 0x24) else len(b)
                if keep > pos and garbage_from < 0:
                    garbage_from = pos
                pos = keep
                break
            if start > pos and garbage_from < 0:
                garbage_from = pos
            if len(b) - start < HEADER_SIZE:
                pos = start
                break
            if not self._plausible(start):
                pos = start + 1
                if garbage_from < 0:
                    garbage_from = start
                continue
            end = start + HEADER_SIZE + int.from_bytes(b[start + 22 : start + 24], "big") + 1
            if end > len(b):
                pos = start
                break
            ok = bcc(memoryview(b)[start + 2 : end - 1]) == b[end - 1]
            # A corrupted real frame is normally followed by the next start (or by nothing yet):
            # report it whole as "bcc". Otherwise it was a false start inside garbage.
            if not ok and end != len(b) and bytes(b[end : end + 2]) not in _STARTS:
                pos = start + 1
                if garbage_from < 0:
                    garbage_from = start
                continue
            if garbage_from >= 0:
                out.append(BadBytes(bytes(b[garbage_from:start]), self._consumed + garbage_from, "garbage"))
                garbage_from = -1
            if ok:
                out.append(RawFrame(bytes(b[start:end]), self._consumed + start))
            else:
                out.append(BadBytes(bytes(b[start:end]), self._consumed + start, "bcc"))
            pos = end
        if garbage_from >= 0 and garbage_from < pos:
            out.append(BadBytes(bytes(b[garbage_from:pos]), self._consumed + garbage_from, "garbage"))
        del b[:pos]
        self._consumed += pos
        return out


def _find_start(b: bytearray, pos: int) -> int:
    i = b.find(b"##", pos)
    j = b.find(b"$$", pos)
    if i < 0:
        return j
    if j < 0:
        return i
    return min(i, j)
