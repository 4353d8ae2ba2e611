"""Synthetic monthly statistics of the departments, per district: plausible, seeded, and never
real. Each district has a size (roughly its residents, in 10,000s, rounded from the 2020 census
order of magnitude) and a risk level that drifts slowly month to month, so ranks move over a
year; counts are Poisson draws around size x a national-order monthly rate per 10,000 residents x
risk x season (more disputes before the Spring Festival, more fires in winter). The same seed,
month and district give the same rows.

``rows(dataset, month, ...)`` gives a dataset's rows for a month keyed by its column headers (the
``source`` of each column), as a department pushes them; ``so_far`` scales a running month's
counts to the part of it elapsed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from citybrain.sdk import data, poisson

SIZE = {
    "360102": 50,
    "360103": 50,
    "360104": 35,
    "360111": 70,
    "360112": 80,
    "360113": 50,
    "360121": 100,
    "360123": 25,
    "360124": 75,
}
# monthly events per 10,000 residents (orders of magnitude for a Chinese city; synthetic)
RATES = {
    "illegal_gatherings": 0.03,
    "sensitive_incidents": 0.02,
    "criminal_alerts": 2.0,
    "criminal_cases": 0.8,
    "public_order_alerts": 3.0,
    "telecom_fraud": 1.0,
    "illegal_fundraising": 0.04,
    "wage_arrears": 0.6,
    "fire_alarms": 0.5,
    "work_accident_deaths": 0.02,
    "disputes_received": 2.5,
    "cyber_incidents": 0.1,
    "negative_opinion": 1.5,
    "data_leaks": 0.03,
}
WINTER = {"fire_alarms": 0.3, "disputes_received": 0.2, "wage_arrears": 0.4}  # extra share in Dec-Feb


def _rng(seed: int, *parts: str) -> random.Random:
    return random.Random(":".join([str(seed), *parts]))


def risk(seed: int, district: str, month: str) -> float:
    """The district's risk level in ``month``: a base in [0.7, 1.4] and a slow sine drift."""
    base = 0.7 + 0.7 * _rng(seed, "base", district).random()
    phase = _rng(seed, "phase", district).random() * 2 * math.pi
    n = int(month[:4]) * 12 + int(month[5:7])
    return base * (1 + 0.15 * math.sin(phase + n / 2.5))


def values(seed: int, district: str, month: str, so_far: float = 1.0) -> dict[str, float]:
    """Every statistic of ``district`` in ``month`` (counts scaled by ``so_far``)."""
    rng = _rng(seed, "values", district, month)
    size, r = SIZE.get(district, 50), risk(seed, district, month)
    winter = int(month[5:7]) in (12, 1, 2)
    out: dict[str, float] = {}
    for name, rate in sorted(RATES.items()):
        lam = size * rate * r * (1 + (WINTER.get(name, 0.0) if winter else 0.0)) * so_far
        out[name] = float(poisson(rng, lam))
    out["mediation_success"] = round(min(99.5, max(80.0, 97.0 - 6.0 * (r - 1.0) + rng.gauss(0, 1.0))), 1)
    out["residents"] = float(residents(district, month))
    return out


def residents(district: str, month: str) -> int:
    """The district's residents (synthetic: its size grown 1 % a year from 2020), never scaled by
    how much of the month is over."""
    years = int(month[:4]) - 2020 + (int(month[5:7]) - 1) / 12
    return round(SIZE.get(district, 50) * 10_000 * math.pow(1.01, years))


def rows(
    ds: data.Dataset, month: str, districts: Sequence[str], seed: int, so_far: float = 1.0
) -> list[dict[str, Any]]:
    """The dataset's rows for ``month`` (one per district), keyed by the columns' headers."""
    out = []
    for d in districts:
        v: Mapping[str, float] = values(seed, d, month, so_far)
        row: dict[str, Any] = {}
        for c in ds.columns:
            header = c.source or c.name
            if c.name == "district":
                row[header] = d
            elif c.name == "month":
                row[header] = f"{month}-01"
            elif c.type == "int":
                row[header] = int(v[c.name])
            else:
                row[header] = v[c.name]
        out.append(row)
    return out
