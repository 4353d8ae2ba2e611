"""Case deadlines on the working-time calendar (issue 14): deadline computations per second on one core.

A mix of the four limit units (working days 1-20, working hours 1-48, natural days 1-30, natural
hours 1-72) over random start instants in 2025-2027 (2027 deadlines are computed and flagged as
assumed), plus each unit alone. Peer in the same run: chinesecalendar's ``find_workday`` (the
package whose data the calendar uses) on the working-days case, over starts on working days of
2025-2026 where both give the same day; the peer takes a date, ours an epoch-ms instant (its
conversion is included). Prints numbers only; nothing asserts a time. Runs about 5 s.
"""

from __future__ import annotations

import os
import platform
import random
import time
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import chinese_calendar

from citybrain.core.cases.workcal import UNITS, Unit, WorkCalendar

BJT = ZoneInfo("Asia/Shanghai")
AMOUNTS: dict[Unit, tuple[int, int]] = {
    "working_days": (1, 20),
    "working_hours": (1, 48),
    "days": (1, 30),
    "hours": (1, 72),
}


def ms(d: datetime) -> int:
    return int(d.timestamp() * 1000)


def rate(work: Callable[[], int], seconds: float) -> float:
    """Operations per second of ``work`` (which returns how many it did), over ``seconds``."""
    work()  # warm
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        n += work()
    return n / (time.perf_counter() - start)


def main() -> None:
    machine = f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpu(s)"
    print(f"{machine}; one core used")
    t0 = time.perf_counter()
    cal = WorkCalendar.shipped()
    print(f"calendar built (tables 2000-2099) in {1000 * (time.perf_counter() - t0):.1f} ms")

    rng = random.Random(14)
    lo, hi = ms(datetime(2025, 1, 1, tzinfo=BJT)), ms(datetime(2027, 12, 31, tzinfo=BJT))
    mix = [(rng.randrange(lo, hi), u) for u in UNITS for _ in range(2500)]
    rng.shuffle(mix)
    limits = [(s, rng.randint(*AMOUNTS[u]), u) for s, u in mix]
    assumed = sum(cal.deadline(s, a, u).assumed for s, a, u in limits)

    def run(batch: list[tuple[int, int, Unit]]) -> Callable[[], int]:
        deadline = cal.deadline

        def work() -> int:
            for s, a, u in batch:
                deadline(s, a, u)
            return len(batch)

        return work

    r = rate(run(limits), 1.5)
    print(
        f"deadline(), mix of {len(UNITS)} units, starts 2025-2027 "
        f"({100 * assumed / len(limits):.0f} % flagged assumed): {r:,.0f} ops/s, {1e6 / r:.2f} us/op"
    )
    for unit in UNITS:
        r = rate(run([x for x in limits if x[2] == unit]), 0.5)
        print(f"  {unit:>13}: {r:,.0f} ops/s, {1e6 / r:.2f} us/op")

    # peer: same working-day question, starts on working days of 2025..2026-11 (the package's range)
    peer_lo, peer_hi = ms(datetime(2025, 1, 1, tzinfo=BJT)), ms(datetime(2026, 11, 30, tzinfo=BJT))
    starts: list[tuple[int, date, int]] = []
    while len(starts) < 5000:
        s = rng.randrange(peer_lo, peer_hi)
        day = datetime.fromtimestamp(s / 1000, BJT).date()
        if chinese_calendar.is_workday(day):
            starts.append((s, day, rng.randint(1, 20)))
    for s, day, n in starts[:500]:
        ours = datetime.fromtimestamp(cal.after_working_days(s, n).at_ms / 1000, BJT).date()
        assert ours == chinese_calendar.find_workday(n, day), (day, n)

    def ours() -> int:
        f = cal.after_working_days
        for s, _, n in starts:
            f(s, n)
        return len(starts)

    def peer() -> int:
        f = chinese_calendar.find_workday
        for _, day, n in starts:
            f(n, day)
        return len(starts)

    r_ours, r_peer = rate(ours, 1.0), rate(peer, 1.0)
    print(
        f"working days 1-20 from a working day, 2025-2026: "
        f"citybrain {r_ours:,.0f} ops/s ({1e6 / r_ours:.2f} us), "
        f"chinesecalendar {chinese_calendar.__version__} find_workday {r_peer:,.0f} ops/s "
        f"({1e6 / r_peer:.2f} us): {r_ours / r_peer:.1f}x"
    )


if __name__ == "__main__":
    main()
