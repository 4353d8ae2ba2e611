"""JT/T 808 framing (2013/2019 section 4.4): delimiters, escaping and the XOR check code.

On the wire a frame is ``0x7E | escaped(header + body + check) | 0x7E``. Escaping turns 0x7D into
0x7D 0x01 (first) and 0x7E into 0x7D 0x02. The check code is the XOR of every byte from the first
header byte to the last body byte, taken *after* un-escaping. So a receiver splits on 0x7E,
un-escapes, then verifies the check; a sender computes the check, then escapes.
"""

from __future__ import annotations

from functools import reduce
from operator import xor

from citybrain.core.errors import DecodeError

FLAG = 0x7E
ESC = 0x7D
_FLAG_B = b"\x7e"
_ESC_B = b"\x7d"

# Largest un-escaped content: 2019 header with package fields (21) + 1023 body + 1 check.
MAX_CONTENT = 21 + 1023 + 1
# Escaping at most doubles it; a buffer without a delimiter beyond this is garbage.
DEFAULT_MAX_FRAME = 2 * MAX_CONTENT


def xor_check(data: bytes) -> int:
    """The JT/T 808 check code: XOR of every byte of ``data`` (header + body, un-escaped)."""
    return reduce(xor, data, 0)


def escape(data: bytes) -> bytes:
    """Escape 0x7D then 0x7E (the order matters: 0x7D first, so an inserted 0x7D is not re-escaped)."""
    if ESC in data:
        data = data.replace(_ESC_B, b"\x7d\x01")
    if FLAG in data:
        data = data.replace(_FLAG_B, b"\x7d\x02")
    return data


def unescape(data: bytes, *, allow_bare_7d: bool = False) -> bytes:
    """Undo :func:`escape`.

    0x7D followed by anything other than 0x01/0x02 (or at the very end) is rejected with
    :class:`DecodeError`, unless ``allow_bare_7d`` is set: some devices never escape 0x7D, and then
    the lone 0x7D is kept as a literal byte.
    """
    if ESC not in data:
        return data
    out = bytearray()
    start = 0
    n = len(data)
    while True:
        i = data.find(ESC, start)
        if i < 0:
            out += data[start:]
            return bytes(out)
        out += data[start:i]
        nxt = data[i + 1] if i + 1 < n else -1
        if nxt == 0x01:
            out.append(ESC)
            start = i + 2
        elif nxt == 0x02:
            out.append(FLAG)
            start = i + 2
        elif allow_bare_7d:
            out.append(ESC)
            start = i + 1
        else:
            what = "end of frame" if nxt < 0 else f"0x{nxt:02X}"
            raise DecodeError(f"jt808 escape: 0x7D followed by {what} at offset {i} (only 01/02 allowed)")


def strip_delimiters(frame: bytes) -> bytes:
    """Remove one leading and one trailing 0x7E when present (input may be with or without them)."""
    if frame[:1] == _FLAG_B:
        frame = frame[1:]
    if frame[-1:] == _FLAG_B:
        frame = frame[:-1]
    return frame


def wrap(content: bytes) -> bytes:
    """Header + body (un-escaped) -> wire frame: append the check, escape, add both delimiters."""
    return b"\x7e" + escape(content + bytes((xor_check(content),))) + b"\x7e"


class FrameSplitter:
    """Streaming splitter for a TCP byte stream.

    Feed it whatever ``recv`` returned; it returns the complete frames seen so far (the escaped
    bytes *between* two 0x7E, delimiters removed) and keeps the incomplete tail for the next call.
    It copes with a frame split over several reads, several frames in one read, frames sharing a
    single 0x7E between them, and garbage before the first 0x7E (dropped). The tail is bounded by
    ``max_frame``: when it grows beyond that without a delimiter the bytes are dropped and counted
    in :attr:`dropped_bytes`, so a misbehaving peer cannot grow memory.
    """

    __slots__ = ("_buf", "_open", "dropped_bytes", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame
        # A bytearray grown in place: each feed searches and copies only the new bytes, so a peer
        # sending one byte at a time costs O(1) per byte, not a re-copy of the whole tail.
        self._buf = bytearray()
        self._open = False  # True once a 0x7E was seen: _buf holds what followed it
        self.dropped_bytes = 0

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the closing delimiter."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        if not self._open:
            i = data.find(FLAG)
            if i < 0:
                self.dropped_bytes += len(data)
                return []
            self.dropped_bytes += i
            data = data[i + 1 :]
            self._open = True
        frames: list[bytes] = []
        last = data.rfind(FLAG)
        if last < 0:
            self._buf += data
        else:
            parts = data[:last].split(_FLAG_B)
            if self._buf:
                self._buf += parts[0]
                parts[0] = bytes(self._buf)
            frames = [p for p in parts if p]
            self._buf = bytearray(data[last + 1 :])
        if len(self._buf) > self.max_frame:
            self.dropped_bytes += len(self._buf)
            self._buf = bytearray()
            self._open = False  # resynchronise on the next delimiter
        return frames

    def reset(self) -> None:
        """Forget any partial frame (e.g. after the connection was re-established)."""
        self._buf = bytearray()
        self._open = False
