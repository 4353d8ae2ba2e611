"""Monte Carlo uncertainty and sensitivity of the ranks (OECD/JRC Handbook step 7): deterministic
for a seed, a clear leader keeps its rank in the median and the 5-95 % band, and the indicator that
drives the ranking is reported as the most influential when dropped."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from citybrain.core.composite import compute, parse_spec, robustness
from citybrain.core.errors import ConfigError


def _spec(dims: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    return {"name": "test", "dimensions": [{"id": d, "name": d, "indicators": i} for d, i in dims]}


def _noisy() -> tuple[dict[str, Any], dict[str, dict[str, float | None]]]:
    """8 units, 3 dimensions x 2 indicators; unit L is the best on every indicator by far, the
    others are close to each other."""
    rng = np.random.default_rng(42)
    ids = [f"i{k}" for k in range(6)]
    spec = _spec([(f"d{k}", [{"id": i, "name": i} for i in ids[2 * k : 2 * k + 2]]) for k in range(3)])
    data: dict[str, dict[str, float | None]] = {
        u: {i: float(v) for i, v in zip(ids, rng.uniform(40, 60, 6), strict=True)} for u in "ABCDEFG"
    }
    data["L"] = {i: 100.0 for i in ids}
    return spec, data


def test_same_seed_same_output_other_seed_other_draws() -> None:
    spec, data = _noisy()
    s = parse_spec(spec)
    one = robustness(s, data, runs=400, seed=7)
    assert one == robustness(s, data, runs=400, seed=7)
    other = robustness(s, data, runs=400, seed=8)
    assert [u.mean_rank for u in one.units.values()] != [u.mean_rank for u in other.units.values()]
    assert one.runs == 400 and one.seed == 7


def test_a_clear_leader_keeps_its_rank() -> None:
    spec, data = _noisy()
    r = robustness(parse_spec(spec), data, runs=500, seed=1)
    leader = r.units["L"]
    assert leader.rank == 1
    assert leader.median_rank == 1.0 and leader.rank_low <= 1 <= leader.rank_high
    for u in r.units.values():
        assert 1 <= u.rank_low <= u.median_rank <= u.rank_high <= len(data)
    # the others are close: their ranks do move
    assert any(u.rank_high > u.rank_low for u in r.units.values())


def test_the_indicator_driving_the_ranking_is_the_most_influential() -> None:
    spec = _spec([
        ("main", [{"id": "driver", "name": "driver"},
                  {"id": "minor", "name": "minor", "goalposts": {"min": 0, "max": 100}}]),
        ("other", [{"id": "flat", "name": "flat"}]),
    ])  # fmt: skip
    # driver orders A > B > C > D > E by a wide margin; minor orders them the other way, by a
    # hair on its 0-100 goalposts; flat says nothing. Dropping the driver reverses the ranking:
    # shifts 4, 2, 0, 2, 4 -> mean 2.4; nothing else moves a rank.
    data = {u: {"driver": d, "minor": m, "flat": 7.0}
            for u, d, m in zip("ABCDE", [10, 8, 6, 4, 2], [50, 50.5, 51, 51.5, 52], strict=True)}  # fmt: skip
    s = parse_spec(spec)
    assert [u.rank for u in compute(s, data).units.values()] == [1, 2, 3, 4, 5]
    r = robustness(s, data, runs=200, seed=3)
    top = r.influence[0]
    assert (top.kind, top.name) == ("drop", "driver")
    assert top.mean_shift == pytest.approx(2.4) and top.max_shift == 4
    assert all(f.mean_shift == 0 for f in r.influence[1:])
    kinds = {(f.kind, f.name) for f in r.influence}
    assert {("drop", "minor"), ("drop", "flat"), ("normalisation", "rank"), ("aggregation", "geometric"),
            ("weights", "±20%")} <= kinds  # fmt: skip


def test_robustness_refuses_unbounded_methods() -> None:
    spec, data = _noisy()
    with pytest.raises(ConfigError, match="zscore"):
        robustness(parse_spec(spec), data, normalisations=("zscore",))
