"""JT/T 808 0x0200 decode throughput on one core: splitter + un-escape + check + decode.

Builds a seeded, realistic mix of location reports (2013 and 2019 headers; mileage, fuel,
signal, satellites, IO, analogue and vendor items; some frames with escaped bytes), cuts the
byte stream into 1460-byte TCP reads and decodes it repeatedly for a bounded time. Prints
frames/s for three stages so the cost of each layer is visible. Nothing asserts a time.

    .venv/bin/python bench/jt808_decode.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable

from citybrain.protocols.jt808 import (
    Analog,
    ExtraItem,
    FrameSplitter,
    Fuel,
    Header,
    IoStatus,
    LocationReport,
    Message,
    Mileage,
    RawItem,
    Satellites,
    SignalStrength,
    VehicleSignals,
    decode_frame,
    encode_frame,
    frame_content,
)

MSS = 1460


def build_stream(n: int, seed: int = 808) -> tuple[bytes, int]:
    rnd = random.Random(seed)
    frames = []
    for i in range(n):
        phone = f"{13800000000 + rnd.randrange(10_000):012d}"
        if i % 4 == 0:
            header = Header(0x0200, phone.rjust(20, "0"), i & 0xFFFF, protocol_version=1, version_flag=True)
        else:
            header = Header(0x0200, phone, i & 0xFFFF)
        extras: list[ExtraItem] = [
            Mileage(rnd.randrange(10_000_000) / 10),
            Fuel(rnd.randrange(2000) / 10),
            SignalStrength(rnd.randrange(32)),
            Satellites(rnd.randrange(4, 24)),
        ]
        if i % 2:
            extras += [IoStatus(0), Analog(rnd.randrange(4096), 0), VehicleSignals(rnd.randrange(1 << 15))]
        if i % 3 == 0:
            extras.append(RawItem(0xE1, rnd.randbytes(8)))  # vendor item, kept raw
        status = 0x000C0003 | (rnd.random() < 0.1) << 2
        loc = LocationReport(
            alarm=0 if rnd.random() < 0.95 else 1 << rnd.randrange(32),
            status=status,
            lat=(-1 if status & 4 else 1) * rnd.randrange(18_000_000, 45_000_000) / 1e6,
            lon=rnd.randrange(73_000_000, 135_000_000) / 1e6,
            altitude_m=rnd.randrange(0, 3000),
            speed_kmh=rnd.randrange(0, 1200) / 10,
            direction=rnd.randrange(360),
            time_ms=1_767_225_600_000 + i * 1000,
            extras=tuple(extras),
        )
        frames.append(encode_frame(Message(header, loc)))
    return b"".join(frames), n


def run(stage: Callable[[list[bytes]], int], chunks: list[bytes], seconds: float) -> tuple[float, int]:
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        done += stage(chunks)
    return done / (time.perf_counter() - start), done


def split_only(chunks: list[bytes]) -> int:
    s = FrameSplitter()
    return sum(len(s.feed(c)) for c in chunks)


def split_check(chunks: list[bytes]) -> int:
    s = FrameSplitter()
    n = 0
    for c in chunks:
        for f in s.feed(c):
            frame_content(f)
            n += 1
    return n


def full_decode(chunks: list[bytes]) -> int:
    s = FrameSplitter()
    n = 0
    for c in chunks:
        for f in s.feed(c):
            decode_frame(f)
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="total run time (split over 3 stages)")
    ap.add_argument("--frames", type=int, default=5000)
    args = ap.parse_args()
    stream, n = build_stream(args.frames)
    chunks = [stream[i : i + MSS] for i in range(0, len(stream), MSS)]
    escapes = stream.count(b"\x7d")
    print(f"python {sys.version.split()[0]} on {platform.machine()} ({os.cpu_count()} cpus), one core")
    print(f"mix: {n} frames, {len(stream) / n:.1f} B/frame avg, {len(chunks)} reads of <= {MSS} B")
    print(f"     escape sequences in the stream: {escapes}")
    share = args.seconds / 5
    rows = [
        ("split only", split_only, share),
        ("split + unescape + check", split_check, share),
        ("split + unescape + check + decode", full_decode, 3 * share),
    ]
    results = {}
    for name, fn, secs in rows:
        rate, done = run(fn, chunks, secs)
        results[name] = rate
        print(f"{name:36s} {rate:12,.0f} frames/s  ({done} frames)")
    full = results["split + unescape + check + decode"]
    print(f"0x0200 decoded per core: {full:,.0f} frames/s = {full * len(stream) / n / 1e6:.1f} MB/s")
    print(f"decode share of the full path: {1 - full / results['split + unescape + check']:.0%}")


if __name__ == "__main__":
    main()
