"""GB/T 32960.3 decode throughput: full real-time frames with every block, frames/s on one core.

Prints numbers only; nothing asserts a time. Runs about 4 s. If the PyPI ``gb32960`` package is
importable it is not benchmarked yet (its API was not evaluated); a note is printed instead.
"""

from __future__ import annotations

import os
import platform
import time
from datetime import datetime

from citybrain.protocols import gb32960 as gb

T = datetime(2026, 3, 4, 5, 6, 7, tzinfo=gb.BJT)
VIN = "LNBSCU3H0KR000001"


def full_2016() -> bytes:
    cells: list[float | None] = [round(3.2 + (i % 50) / 1000, 3) for i in range(192)]
    blocks: list[gb.Block] = [
        gb.VehicleData(1, 3, 1, 48.2, 93266.0, 341.7, 2.5, 50, 1, 0x2E, 17884, 12, 0),
        gb.DriveMotors([gb.DriveMotor(i, 1, 44, 1437, 17.5, 33, 341.0, 0.3) for i in (1, 2)]),
        gb.FuelCell(300.0, 50.0, 1.25, [30, 31, 32, 33], 45.5, 2, 120, 3, 35.0, 1, 1),
        gb.Engine(1, 1500, 7.5),
        gb.Location(0, 114.366778, 30.591045),
        gb.Extremes(1, 5, 3.284, 1, 66, 3.282, 1, 4, 29, 1, 2, 27),
        gb.Alarm(1, 0x00000003, [], [0x0102], [], [0x00010003, 0x00080002]),
        gb.CellVoltages([gb.SubsystemVoltages(1, 341.4, 2.5, 192, 1, cells)]),
        gb.ProbeTemperatures([gb.SubsystemTemperatures(1, [27, 28, 29, 28, 27, 28, 29, 28] * 6)]),
        gb.CustomBlock(0x80, b"\x00" * 16),
    ]
    return gb.encode(gb.RealtimeReport(gb.Header("2016", 0x02, vin=VIN), T, blocks))


def full_2025() -> bytes:
    cells: list[float | None] = [round(3.95 + (i % 17) / 1000, 3) for i in range(180)]
    blocks: list[gb.Block] = [
        gb.VehicleData2025(1, 3, 1, 0.0, 15591.0, 713.8, 2.2, 75, 1, 0x1F, 6553),
        gb.DriveMotors2025([gb.DriveMotor2025(i, 3, 31, 0, -0.5, 34) for i in (1, 2)]),
        gb.FuelCell2025(45, 2, 0.12, 3, 35.0, 1, 1, 80, 40),
        gb.Engine2025(1500),
        gb.Location2025(0, 2, 114.366778, 30.591045),
        gb.Alarm2025(0, 0, [], [], [], [0x00080002], [gb.AlarmLevel(1, 2)]),
        gb.CellVoltages2025([gb.PackVoltages(1, 713.8, 2.2, cells)]),
        gb.ProbeTemperatures([gb.SubsystemTemperatures(1, [27, 28, 29, 31] * 12)]),
        gb.FuelCellStacks([gb.FuelCellStack(1, 300.0, 50.0, 20.0, 10.0, 40, [50, 51])]),
        gb.SuperCapacitor(1, 48.0, 1.5, [2.7] * 18, [30, 31]),
        gb.SuperCapacitorExtremes(1, 3, 2.75, 1, 7, 2.65, 1, 2, 31, 1, 1, 30),
        gb.Signature(1, b"\x11" * 32, b"\x22" * 32),
    ]
    return gb.encode(gb.RealtimeReport(gb.Header("2025", 0x02, vin=VIN), T, blocks))


def rate(raw: bytes, seconds: float) -> float:
    decode = gb.decode_frame
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            decode(raw)
        n += 200
    return n / (time.perf_counter() - start)


def split_rate(raw: bytes, seconds: float) -> float:
    stream = raw * 200
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        sp = gb.FrameSplitter()
        for i in range(0, len(stream), 4096):
            n += len(sp.feed(stream[i : i + 4096]))
    return n / (time.perf_counter() - start)


def main() -> None:
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpu(s); one core used"
    )
    for name, raw in (("2016", full_2016()), ("2025", full_2025())):
        assert gb.encode(gb.decode_frame(raw)) == raw
        print(
            f"gb32960 {name} full real-time frame ({len(raw)} B): "
            f"{rate(raw, 1.5):,.0f} frames/s decoded per core"
        )
    print(
        f"gb32960 splitter, 2016 frames in 4 KiB reads: {split_rate(full_2016(), 0.8):,.0f} frames/s per core"
    )
    print("peer comparison (rtm-con, on the same real frames): bench/gb32960_peer.py")


if __name__ == "__main__":
    main()
