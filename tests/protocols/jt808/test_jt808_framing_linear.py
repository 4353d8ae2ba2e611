"""Issue 10: the JT/T 808 splitter's work per byte is bounded whatever a client sends.

The splitter used to build ``self._buf + data`` and search all of it on every read, so a peer
sending one byte at a time re-copied and re-scanned the whole tail per byte (quadratic up to
``max_frame``). Complexity is asserted as a ratio of CPU times (16x the input may cost at most 40x,
where the old code cost ~256x), not as a speed target: speed lives in bench/gateway_flood.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.protocols.jt808 import FrameSplitter

HEARTBEAT = bytes.fromhex("7E00020000012345678900000A817E")  # SmallChi, JT-SC-02


class ReferenceSplitter:
    """The splitter as it was (commit e1c2c62): quadratic, but the behaviour to keep."""

    def __init__(self, max_frame: int) -> None:
        self.max_frame, self.buf, self.open, self.dropped_bytes = max_frame, b"", False, 0

    def feed(self, data: bytes) -> list[bytes]:
        if not self.open:
            i = data.find(0x7E)
            if i < 0:
                self.dropped_bytes += len(data)
                return []
            self.dropped_bytes += i
            data, self.open = data[i + 1 :], True
        buf = self.buf + data
        parts = buf.split(b"\x7e")
        rest = parts.pop()
        if len(rest) > self.max_frame:
            self.dropped_bytes += len(rest)
            rest, self.open = b"", False
        self.buf = rest
        return [p for p in parts if p]


PIECES = st.one_of(
    st.binary(max_size=30),
    st.sampled_from([HEARTBEAT, b"\x7e", b"\x7e\x7e\x7e", b"\x7d", b"\x7d\x02", b"\x7e\x7d\x01\x7e"]),
    st.integers(0, 200).map(lambda n: b"\x55" * n),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=30), st.lists(st.integers(1, 80), min_size=1, max_size=8))
def test_same_frames_as_before_and_bounded(pieces: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(pieces)
    new, ref = FrameSplitter(max_frame=64), ReferenceSplitter(max_frame=64)
    i = k = 0
    while i < len(stream):
        chunk = stream[i : i + cuts[k % len(cuts)]]
        i, k = i + len(chunk), k + 1
        assert new.feed(chunk) == ref.feed(chunk)
        assert new.pending == len(ref.buf) <= 64
        assert new.dropped_bytes == ref.dropped_bytes


def cpu_seconds(stream: bytes, chunk: int, max_frame: int) -> float:
    """Least CPU time of three runs feeding ``stream`` in pieces of ``chunk`` bytes."""
    best = float("inf")
    for _ in range(3):
        sp = FrameSplitter(max_frame=max_frame)
        t0 = time.process_time()
        for i in range(0, len(stream), chunk):
            sp.feed(stream[i : i + chunk])
            assert sp.pending <= max_frame
        best = min(best, time.process_time() - t0)
    return max(best, 1e-6)


ADVERSARIAL: dict[str, Callable[[int], bytes]] = {
    "open frame, no end": lambda n: b"\x7e" + b"\x55" * n,
    "delimiters only": lambda n: b"\x7e" * n,
    "no delimiter": lambda n: b"\x55" * n,
    "random": os.urandom,
}


@pytest.mark.parametrize("kind", list(ADVERSARIAL))
def test_one_byte_at_a_time_is_linear(kind: str) -> None:
    # a large frame cap, so the tail really grows (the default cap only bounds the damage)
    make = ADVERSARIAL[kind]
    small = cpu_seconds(make(8192), 1, max_frame=1 << 20)
    large = cpu_seconds(make(131072), 1, max_frame=1 << 20)
    assert large / small < 40, f"{kind}: 8 KB {small * 1e3:.1f} ms, 128 KB {large * 1e3:.1f} ms"


def test_garbage_floods_keep_the_default_cap() -> None:
    sp = FrameSplitter()
    for stream in (b"\x7e" + os.urandom(1 << 20), b"\x7e" * (1 << 20), b"\x7e" + b"\x55" * (1 << 20)):
        for i in range(0, len(stream), 65536):
            sp.feed(stream[i : i + 65536])
            assert sp.pending <= sp.max_frame
    assert sp.feed(HEARTBEAT) or sp.feed(HEARTBEAT)  # resynchronised on the next delimiters
