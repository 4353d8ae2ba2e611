"""Event-time windows: assignment, watermark, allowed lateness, expiry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citybrain.core.windows import Windows, WindowState, agg


def test_tumbling_assigns_one_window_and_closes_after_lateness() -> None:
    w = Windows(size_ms=60_000, allowed_lateness_ms=30_000)
    s = WindowState()
    assert w.add(s, "k", 10_000) == [0]
    assert w.add(s, "k", 61_000) == [60_000]
    assert w.expire(s) == []  # watermark 61 s < 0 + 60 + 30 s
    assert w.add(s, "k", 59_000) == [0]  # late but within allowed lateness: still counted
    w.add(s, "k", 95_000)
    closed = w.expire(s)
    assert [(c.start, agg(c.acc, "count")) for c in closed] == [(0, 2.0)]
    assert w.add(s, "k", 5_000) == []  # its window is closed: late


def test_sliding_windows_overlap() -> None:
    w = Windows(size_ms=300_000, step_ms=60_000)
    s = WindowState()
    assert list(w.add(s, "k", 250_000)) == [0, 60_000, 120_000, 180_000, 240_000][-5:]
    with pytest.raises(ValueError):
        Windows(size_ms=300_000, step_ms=70_000)


def test_aggregates() -> None:
    w = Windows(size_ms=1_000)
    s = WindowState()
    for ts, v in ((1, 3.0), (5, 1.0), (3, 7.0)):
        w.add(s, "k", ts, v)
    acc = s.open["k"][0]
    assert [agg(acc, a) for a in ("count", "sum", "avg", "min", "max", "last")] == [3, 11, 11 / 3, 1, 7, 1.0]


@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=200))
def test_in_order_tumbling_counts_sum_to_the_events(times: list[int]) -> None:
    w = Windows(size_ms=60_000)
    s = WindowState()
    for t in sorted(times):
        assert w.add(s, "k", t)
    w.advance(s, 10**9)
    assert sum(agg(c.acc, "count") for c in w.expire(s)) == len(times)
    assert s.open == {}
