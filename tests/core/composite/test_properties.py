"""Properties (hypothesis): a spec built from a random valid tree computes without error and its
scores stay within the scale; a broken spec raises an error naming the place; min-max output lies
in [0, 1]; weights sum to 1; permuting the units permutes the results."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from citybrain.core.composite import SpecError, compute, parse_spec
from citybrain.core.composite.normalise import Params, normalise
from citybrain.core.composite.weights import ahp, entropy, expert

Goalposts = tuple[float, float] | None
FLOATS = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
POSITIVE = st.floats(0.01, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def trees(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec: 1-4 dimensions of 1-4 indicators, any direction, transform, goalposts,
    bounded normalisation, weighting (consistent AHP matrices), aggregation, scale and bands."""
    method = draw(st.sampled_from(["minmax", "rank", "efficacy"]))
    weighting = draw(st.sampled_from(["equal", "expert", "entropy", "ahp"]))
    within = draw(st.sampled_from(["equal", "expert", "entropy", "ahp"]))
    dims, matrices, n = [], {}, 0
    for k in range(draw(st.integers(1, 4))):
        inds = []
        for _ in range(draw(st.integers(1, 4))):
            ind: dict[str, Any] = {"id": f"i{n}", "name": f"指标{n}", "weight": draw(st.floats(0.1, 10)),
                                   "direction": draw(st.sampled_from(["up", "down"])),
                                   "transform": draw(st.sampled_from(["none", "log"]))}  # fmt: skip
            if draw(st.booleans()):
                lo = draw(st.floats(0.5, 100))
                ind["goalposts"] = {"min": lo, "max": lo + draw(st.floats(0.5, 1000))}
                ind["normalisation"] = draw(st.sampled_from(["minmax", "efficacy"]))
            if draw(st.booleans()):
                ind["per"] = "pop"
            inds.append(ind)
            n += 1
        rule = draw(st.sampled_from(["arithmetic", "geometric"]))
        weight = draw(st.floats(0.1, 10))
        dims.append(
            {"id": f"d{k}", "name": f"维度{k}", "weight": weight, "indicators": inds, "aggregation": rule}
        )
        matrices[f"d{k}"] = _consistent(draw, len(inds))
    matrices["index"] = _consistent(draw, len(dims))
    scale = draw(st.sampled_from([1.0, 100.0]))
    cuts = sorted(set(draw(st.lists(st.floats(0, 1), max_size=4))), reverse=True)
    return {
        "name": "随机指数",
        "scale": scale,
        "aggregation": draw(st.sampled_from(["arithmetic", "geometric"])),
        "imputation": draw(st.sampled_from(["none", "mean", "median"])),
        "normalisation": {"method": method},
        "weighting": {"method": weighting, "within": within, "ahp": matrices},
        "bands": [{"min": c * scale, "label": f"band {c}"} for c in cuts],
        "dimensions": dims,
    }


def _consistent(draw: st.DrawFn, n: int) -> list[list[float]]:
    w = [draw(st.floats(1, 3)) for _ in range(n)]  # ratios within Saaty's 1/9..9
    return [[a / b for b in w] for a in w]


@st.composite
def scored(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, dict[str, float | None]], dict[str, Any]]:
    spec = draw(trees())
    ids = [i["id"] for d in spec["dimensions"] for i in d["indicators"]]
    units = [f"u{k}" for k in range(draw(st.integers(2, 7)))]
    data: dict[str, dict[str, float | None]] = {u: {i: draw(POSITIVE) for i in ids} for u in units}
    if spec["imputation"] != "none":  # some holes, never a whole column
        for i in ids:
            for u in units[1:]:
                if draw(st.booleans()) and draw(st.booleans()):
                    data[u][i] = None
    return spec, data, {u: {"pop": draw(POSITIVE)} for u in units}


@settings(max_examples=150, deadline=None)
@given(scored())
def test_random_valid_trees_compute_within_the_scale(case: tuple[Any, Any, Any]) -> None:
    raw, data, dens = case
    r = compute(parse_spec(raw), data, dens)
    eps = 1e-9 * raw["scale"]
    for u in r.units.values():
        assert -eps <= u.score <= raw["scale"] + eps
        assert all(-eps <= d.score <= raw["scale"] + eps for d in u.dimensions.values())
        assert all(0 <= i.normalised <= 1 for i in u.indicators.values())
        assert 1 <= u.rank <= len(data)
        if raw["bands"]:
            assert u.band is not None
        if r.additive:
            assert sum(i.contribution for i in u.indicators.values()) == pytest.approx(u.score, abs=eps)
    assert sum(r.dimension_weights.values()) == pytest.approx(1.0)
    assert min(u.rank for u in r.units.values()) == 1


BREAKS = ["goalposts", "duplicate", "empty", "weight", "direction", "transform"]


@settings(max_examples=150, deadline=None)
@given(trees(), st.sampled_from(BREAKS), st.data())
def test_invalid_specs_name_the_place(raw: dict[str, Any], how: str, data: st.DataObject) -> None:
    bad = copy.deepcopy(raw)
    k = data.draw(st.integers(0, len(bad["dimensions"]) - 1))
    dim = bad["dimensions"][k]
    j = data.draw(st.integers(0, len(dim["indicators"]) - 1))
    ind = dim["indicators"][j]
    here = f"dimension {dim['name']}, indicator {ind['id']}"
    if how == "goalposts":
        ind["goalposts"], ind["normalisation"] = {"min": 5, "max": data.draw(st.floats(-10, 5))}, "minmax"
        expected = f"{here}: goalposts min >= max"
    elif how == "duplicate":
        other = bad["dimensions"][data.draw(st.integers(0, len(bad["dimensions"]) - 1))]
        other["indicators"].append({"id": ind["id"], "name": "again"})
        expected = f"indicator id {ind['id']!r} is used more than once"
    elif how == "empty":
        dim["indicators"] = []
        expected = f"dimension {dim['name']}: no indicators"
    elif how == "weight":
        ind["weight"] = data.draw(st.floats(-100, -0.01))
        expected = f"{here}: weight"
    elif how == "direction":
        ind["direction"] = "sideways"
        expected = f"$.dimensions[{k}].indicators[{j}].direction"
    else:
        ind["transform"] = "sqrt"
        expected = f"$.dimensions[{k}].indicators[{j}].transform"
    with pytest.raises(SpecError) as err:
        parse_spec(bad)
    assert expected in str(err.value)


@given(arrays(np.float64, st.integers(1, 30), elements=FLOATS), st.booleans(),
       st.none() | st.tuples(FLOATS, FLOATS).filter(lambda t: t[0] < t[1]))  # fmt: skip
def test_bounded_methods_stay_in_unit_interval(x: np.ndarray, up: bool, gp: Goalposts) -> None:
    for method in ("minmax", "rank", "efficacy"):
        out = normalise(method, x, Params(up=up, goalposts=gp))
        assert out.shape == x.shape
        assert ((out >= 0) & (out <= 1)).all()


@given(arrays(np.float64, st.tuples(st.integers(2, 12), st.integers(1, 8)),
              elements=st.floats(0, 1e6, allow_nan=False)))  # fmt: skip
def test_entropy_weights_sum_to_one(x: np.ndarray) -> None:
    w = entropy(x)
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0)


@given(st.lists(st.floats(0.01, 100), min_size=1, max_size=10))
def test_expert_and_ahp_weights_sum_to_one(given_weights: list[float]) -> None:
    assert expert(given_weights).sum() == pytest.approx(1.0)
    w = np.array([min(max(v, 1.0), 9.0) for v in given_weights])  # ratios within 1/9..9
    a = ahp((w[:, None] / w[None, :]).tolist())
    assert a.weights.sum() == pytest.approx(1.0) and a.weights == pytest.approx(w / w.sum())


@settings(max_examples=100, deadline=None)
@given(scored(), st.randoms(use_true_random=False))
def test_permuting_units_permutes_results(case: tuple[Any, Any, Any], rnd: Any) -> None:
    raw, data, dens = case
    order = list(data)
    rnd.shuffle(order)
    spec = parse_spec(raw)
    a = compute(spec, data, dens)
    b = compute(spec, {u: data[u] for u in order}, dens)
    assert list(b.units) == order
    for u in data:
        assert b.units[u].score == pytest.approx(a.units[u].score, rel=1e-9, abs=1e-12)
        assert b.units[u].rank == a.units[u].rank
        for i, v in a.units[u].indicators.items():
            assert b.units[u].indicators[i].normalised == pytest.approx(v.normalised, abs=1e-12)
            assert b.units[u].indicators[i].imputed == v.imputed
