"""Streaming frame splitter for a TCP byte stream (no sockets here: feed it what ``recv`` gave).

It finds ``##`` (2016) or ``$$`` (2025) starts, waits for the length the header announces, and
checks the BCC. Whole frames come out as :class:`RawFrame`; everything dropped comes out as a
:class:`BadBytes` (garbage between frames, or a frame whose BCC fails) so the gateway can log its
hex, count it, and send the error reply the standard asks for (Annex B.2.1). The buffer never holds
more than one maximum-size frame (65 556 bytes by default).

The work is linear in the bytes fed, whatever they are, because one client's garbage runs on the
event loop that serves everything else (issue 10: 128 KB of ``$`` once stopped the API for 11 s):
- every position is classified once, when its 24 header bytes are there, by one C-speed regular
  expression scan ("a start marker followed by a plausible header"); the positions that pass are
  queued and are the only ones the Python loop looks at;
- the BCC of a candidate is two lookups in a prefix XOR of the buffer (kept incrementally with
  numpy), not a pass over up to 64 KB for every false start.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .frame import HEADER_SIZE, KNOWN_ENCRYPTION, KNOWN_RESPONSE, MAX_DATA_LENGTH

_STARTS = (b"##", b"$$")
_MARKER_BYTES = (0x23, 0x24)  # '#', '$'


def _byte_class(values: frozenset[int]) -> bytes:
    return b"[" + b"".join(b"\\x%02x" % v for v in sorted(values)) + b"]"


# A start marker, command, a known response flag, VIN (17), a known encryption and the length
# WORD: a lookahead, so every position is tried (headers may overlap) and a match needs all 24
# header bytes present. The declared length is checked in Python, on matches only.
_PLAUSIBLE_HEADER = re.compile(
    rb"(?=(?:##|\$\$)." + _byte_class(KNOWN_RESPONSE) + rb".{17}" + _byte_class(KNOWN_ENCRYPTION) + rb"..)",
    re.DOTALL,
)
_SMALL_CHUNK = 32  # below this a Python loop beats numpy's call overhead for the prefix XOR


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

    __slots__ = ("_buf", "_candidates", "_consumed", "_prefix", "_scanned", "max_data_length")

    def __init__(self, max_data_length: int = MAX_DATA_LENGTH) -> None:
        self._buf = bytearray()
        self._consumed = 0  # stream offset of _buf[0]
        # _prefix[i] is the XOR of every byte before _buf[i] (since some earlier point: only
        # differences are used), so the XOR of _buf[i:j] is _prefix[i] ^ _prefix[j].
        self._prefix = bytearray(1)
        self._scanned = 0  # stream offset of the first position not yet classified
        self._candidates: deque[int] = deque()  # stream offsets of plausible headers, ascending
        self.max_data_length = max_data_length

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def _append(self, chunk: bytes) -> None:
        self._buf += chunk
        last = self._prefix[-1]
        if len(chunk) < _SMALL_CHUNK:
            for byte in chunk:
                last ^= byte
                self._prefix.append(last)
            return
        acc = np.bitwise_xor.accumulate(np.frombuffer(chunk, dtype=np.uint8))
        if last:
            acc ^= np.uint8(last)
        self._prefix += acc.tobytes()

    def _classify(self) -> None:
        """Queue every newly complete header position that could start a frame."""
        b, base = self._buf, self._consumed
        first = max(self._scanned - base, 0)
        if len(b) - first < HEADER_SIZE:
            return
        limit = self.max_data_length
        for m in _PLAUSIBLE_HEADER.finditer(b, first):
            p = m.start()
            if (b[p + 22] << 8 | b[p + 23]) <= limit:
                self._candidates.append(base + p)
        self._scanned = base + len(b) - HEADER_SIZE + 1

    def feed(self, chunk: bytes) -> list[SplitItem]:
        if chunk:
            self._append(chunk)
        self._classify()
        out: list[SplitItem] = []
        b, px, base, cands = self._buf, self._prefix, self._consumed, self._candidates
        pos = 0  # everything before pos was emitted
        stop = -1  # where the kept tail starts
        while cands:
            start = cands[0] - base
            if start < pos:  # inside a frame already emitted
                cands.popleft()
                continue
            end = start + HEADER_SIZE + (b[start + 22] << 8 | b[start + 23]) + 1
            if end > len(b):
                stop = start  # wait for the rest of this frame
                break
            cands.popleft()
            ok = px[start + 2] ^ px[end - 1] == b[end - 1]
            # A corrupted real frame is normally followed by the next start (or by nothing yet):
            # report it whole as "bcc". Otherwise it was a false start inside garbage.
            if not ok and end != len(b) and bytes(b[end : end + 2]) not in _STARTS:
                continue
            if start > pos:
                out.append(BadBytes(bytes(b[pos:start]), base + pos, "garbage"))
            if ok:
                out.append(RawFrame(bytes(b[start:end]), base + start))
            else:
                out.append(BadBytes(bytes(b[start:end]), base + start, "bcc"))
            pos = end
        if stop < 0:
            # no frame pending: keep a start whose header is still incomplete (only the last 23
            # positions can be one), else a trailing '#'/'$' that may be the first half of one
            stop = _find_start(b, max(pos, len(b) - HEADER_SIZE + 1))
            if stop < 0:
                stop = len(b) - 1 if len(b) > pos and b[-1] in _MARKER_BYTES else len(b)
        if stop > pos:
            out.append(BadBytes(bytes(b[pos:stop]), base + pos, "garbage"))
        del b[:stop]
        del px[:stop]
        self._consumed += stop
        return out


def _find_start(b: bytearray, pos: int) -> int:
    i = b.find(b"##", pos)
    j = b.find(b"$$", pos)
    if i < 0:
        return j
    if j < 0:
        return i
    return min(i, j)
