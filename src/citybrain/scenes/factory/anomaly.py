"""The explainable anomaly detector for process values (rule ``factory.anomaly``).

The detector is a robust z-score against a frozen reference: the first ``warmup`` values seen while
the machine runs give a median and a MAD (scaled by 1.4826 to estimate a standard deviation); a value
whose smoothed level (EWMA) lies more than ``z`` of those from the median on ``confirm`` readings in
a row is anomalous. The reference is frozen on purpose: any baseline that keeps adapting learns a
slow sensor drift as normal (an EWMA of the variance absorbs the bias, so z stays near 1). It is
relearned after ``relearn`` anomalous readings in a row (a new set point is the new normal). Every
alert says the value, the reference, the spread, the z-score and since when: an operator can check
the arithmetic.
"""

from __future__ import annotations

import statistics

import msgspec


class Detector(msgspec.Struct):
    """Per process tag: the reference window, its median/MAD, and the current run of deviations."""

    ref: list[float] = msgspec.field(default_factory=list)
    median: float = 0.0
    sigma: float = 0.0
    ref_ts: int = 0  # when the reference was complete
    level: float | None = None  # EWMA of the value
    over: int = 0  # consecutive readings beyond z
    since: int = 0  # ts of the first of them
    z: float = 0.0


def judge(
    d: Detector,
    x: float,
    ts: int,
    *,
    warmup: int,
    z_limit: float,
    alpha: float,
    confirm: int = 3,
    relearn: int = 1_800,
) -> bool:
    """Feed one value; True while it is anomalous."""
    d.level = x if d.level is None else d.level + alpha * (x - d.level)
    if len(d.ref) < warmup:
        d.ref.append(x)
        if len(d.ref) == warmup:
            d.median = statistics.median(d.ref)
            mad = statistics.median(abs(v - d.median) for v in d.ref)
            # a flat reference (a quantised sensor) would make any change infinite: floor the spread
            d.sigma = max(1.4826 * mad, 1e-6 * max(abs(d.median), 1.0), 1e-9)
            d.ref_ts = ts
        return False
    d.z = (d.level - d.median) / d.sigma
    if abs(d.z) > z_limit:
        if d.over == 0:
            d.since = ts
        d.over += 1
        if d.over >= relearn:  # persistent: accept it as the new normal
            d.ref, d.over, d.level = [], 0, None
            return False
        return d.over >= confirm
    d.over = 0
    return False


def explain(tag: str, unit: str, d: Detector, x: float) -> str:
    u = f" {unit}" if unit else ""
    return (
        f"{tag} 当前 {x:.2f}{u}, 平滑值 {d.level:.2f}{u} 偏离基准中位数 {d.median:.2f}{u} "
        f"{d.z:+.1f} 个稳健标准差 (σ≈{d.sigma:.3f}), 连续 {d.over} 个读数 · "
        f"{tag} is {x:.2f}{u}; smoothed {d.level:.2f}{u} is {d.z:+.1f} robust SDs from the reference "
        f"median {d.median:.2f}{u} (σ≈1.4826·MAD={d.sigma:.3f}) for {d.over} readings in a row"
    )
