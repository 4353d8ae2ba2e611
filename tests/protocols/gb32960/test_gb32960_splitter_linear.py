"""Issue 10: the splitter's work per byte is bounded whatever a client sends.

Adversarial streams (no start marker, start markers only, plausible headers declaring the maximum
length, one byte at a time) must cost time linear in their size, the buffer must stay under one
maximum frame, and the output must be exactly what the original (quadratic) splitter produced.
Complexity is asserted as a ratio of CPU times (a 16x larger input may cost at most 40x, where the
quadratic version cost ~256x), not as a speed target: speed lives in bench/gateway_flood.py.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.protocols import gb32960 as gb
from citybrain.protocols.gb32960.frame import (
    HEADER_SIZE,
    KNOWN_ENCRYPTION,
    KNOWN_RESPONSE,
    MAX_DATA_LENGTH,
    MAX_FRAME_SIZE,
    bcc,
)
from tests.protocols.gb32960.gb32960_testdata import frame

LOGIN = frame("GB-SS-02")
REALTIME = frame("GB-SS-01")
R2025 = frame("GB-RC-33")
BAD = frame("GB-RC-README")


def fake_header(length: int, start: bytes = b"##") -> bytes:
    """A header every field of which is plausible, declaring ``length`` data bytes."""
    return start + b"\x02\xfe" + b"LFAKE000000000000" + b"\x01" + length.to_bytes(2, "big")


# -- the splitter as it was (commit e1c2c62): quadratic, but the behaviour to keep -------------
class ReferenceSplitter:
    def __init__(self, max_data_length: int = MAX_DATA_LENGTH) -> None:
        self.buf = bytearray()
        self.consumed = 0
        self.max_data_length = max_data_length

    def plausible(self, pos: int) -> bool:
        b = self.buf
        n = int.from_bytes(b[pos + 22 : pos + 24], "big")
        return b[pos + 3] in KNOWN_RESPONSE and b[pos + 21] in KNOWN_ENCRYPTION and n <= self.max_data_length

    def feed(self, chunk: bytes) -> list[gb.SplitItem]:
        self.buf += chunk
        out: list[gb.SplitItem] = []
        b, pos, garbage_from = self.buf, 0, -1
        while True:
            cands = [i for i in (b.find(b"##", pos), b.find(b"$$", pos)) if i >= 0]
            start = min(cands) if cands else -1
            if start < 0:
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
            if not self.plausible(start):
                pos = start + 1
                garbage_from = start if garbage_from < 0 else garbage_from
                continue
            end = start + HEADER_SIZE + int.from_bytes(b[start + 22 : start + 24], "big") + 1
            if end > len(b):
                pos = start
                break
            ok = bcc(b[start + 2 : end - 1]) == b[end - 1]
            if not ok and end != len(b) and bytes(b[end : end + 2]) not in (b"##", b"$$"):
                pos = start + 1
                garbage_from = start if garbage_from < 0 else garbage_from
                continue
            if garbage_from >= 0:
                out.append(gb.BadBytes(bytes(b[garbage_from:start]), self.consumed + garbage_from, "garbage"))
                garbage_from = -1
            cls = gb.RawFrame(bytes(b[start:end]), self.consumed + start) if ok else None
            out.append(cls or gb.BadBytes(bytes(b[start:end]), self.consumed + start, "bcc"))
            pos = end
        if 0 <= garbage_from < pos:
            out.append(gb.BadBytes(bytes(b[garbage_from:pos]), self.consumed + garbage_from, "garbage"))
        del b[:pos]
        self.consumed += pos
        return out


# -- same output as before, bounded buffer, every byte accounted for -------------------------
PIECES = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([LOGIN, REALTIME, R2025, BAD, b"##", b"$$", b"#", b"$", b"#$", b"$$$$$$", b"######"]),
    st.integers(0, 300).map(fake_header),
    st.integers(0, 300).map(lambda n: fake_header(n, b"$$")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=30), st.lists(st.integers(1, 97), min_size=1, max_size=8))
def test_same_items_as_before_bounded_and_lossless(pieces: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(pieces)
    new, ref = gb.FrameSplitter(max_data_length=300), ReferenceSplitter(max_data_length=300)
    got: list[gb.SplitItem] = []
    want: list[gb.SplitItem] = []
    i = k = 0
    while i < len(stream):
        chunk = stream[i : i + cuts[k % len(cuts)]]
        i, k = i + len(chunk), k + 1
        got += new.feed(chunk)
        want += ref.feed(chunk)
        assert got == want
        assert new.buffered < HEADER_SIZE + 300 + 1  # never more than one maximum frame
    # every byte is in exactly one item, in order, or still buffered
    assert b"".join(item.data for item in got) == stream[: len(stream) - new.buffered]
    assert [item.stream_offset for item in got] == [
        sum(len(x.data) for x in got[:j]) for j in range(len(got))
    ]


def test_one_byte_at_a_time_over_adversarial_streams_keeps_the_cap() -> None:
    # the fake headers wait for 65 531 bytes each, then turn out false starts inside the noise
    noise = random.Random(10).randbytes(70_000)
    stream = b"$" * 3000 + fake_header(65531) * 40 + noise + b"#" * 3000 + LOGIN + REALTIME
    sp, out = gb.FrameSplitter(), []
    for byte in stream:
        out += sp.feed(bytes([byte]))
        assert sp.buffered <= MAX_FRAME_SIZE
    assert [i.data for i in out if isinstance(i, gb.RawFrame)][-1] == REALTIME


# -- linear work ----------------------------------------------------------------------------
def cpu_seconds(stream: bytes, chunk: int) -> float:
    """Least CPU time of three runs feeding ``stream`` in pieces of ``chunk`` bytes."""
    best = float("inf")
    for _ in range(3):
        sp = gb.FrameSplitter()
        t0 = time.process_time()
        for i in range(0, len(stream), chunk):
            sp.feed(stream[i : i + chunk])
            assert sp.buffered <= MAX_FRAME_SIZE
        best = min(best, time.process_time() - t0)
    return max(best, 1e-6)


ADVERSARIAL: dict[str, Callable[[int], bytes]] = {
    "dollars": lambda n: b"$" * n,
    "hashes": lambda n: b"#" * n,
    "alternating": lambda n: b"#$" * (n // 2),
    "no marker": lambda n: b"\xaa" * n,
    "max-length headers": lambda n: (fake_header(65531) + b"\x00" * 40) * (n // 64),
    "dense max-length headers": lambda n: fake_header(65531, b"$$") * (n // 24),
}


@pytest.mark.parametrize("kind", list(ADVERSARIAL))
def test_a_16x_larger_single_read_costs_at_most_40x(kind: str) -> None:
    # One read holding the whole stream: the old splitter was quadratic within a read
    # (64 KB of '$' took ~1.8 s against ~7 ms for 4 KB).
    make = ADVERSARIAL[kind]
    small, large = cpu_seconds(make(4096), 1 << 30), cpu_seconds(make(65536), 1 << 30)
    assert large / small < 40, f"{kind}: 4 KB {small * 1e3:.2f} ms, 64 KB {large * 1e3:.2f} ms"


@pytest.mark.parametrize("kind", list(ADVERSARIAL))
def test_adversarial_bytes_cost_at_most_40x_random_bytes(kind: str) -> None:
    # Reads of 64 KB as the gateway does. Headers declaring 65 531 bytes made the old splitter
    # XOR up to 64 KB again for every false start: work per byte was bounded only by the
    # maximum frame size.
    size = 1 << 19
    stream = ADVERSARIAL[kind](size)
    baseline = cpu_seconds(os.urandom(size), 65536)
    spent = cpu_seconds(stream, 65536)
    assert spent / baseline < 40, (
        f"{kind}: {spent * 1e3:.1f} ms against {baseline * 1e3:.1f} ms for random bytes"
    )


def test_one_byte_at_a_time_is_linear() -> None:
    make = ADVERSARIAL["max-length headers"]
    small, large = cpu_seconds(make(8192), 1), cpu_seconds(make(131072), 1)
    assert large / small < 40, f"8 KB {small * 1e3:.1f} ms, 128 KB {large * 1e3:.1f} ms"
