"""Datum conversion against published point pairs, plus round-trip properties."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.geo.datum import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

# Published in the README of wandergis/coordtransform (the reference implementation most Chinese
# GIS code is checked against), input (116.404, 39.915) in every case.
PUBLISHED = [
    (wgs84_to_gcj02, (116.41024449916938, 39.91640428150164)),
    (gcj02_to_bd09, (116.41036949371029, 39.92133699351021)),
    (bd09_to_gcj02, (116.39762729119315, 39.90865673957631)),
    (wgs84_to_bd09, (116.41662724378733, 39.922699552216216)),
]


@pytest.mark.parametrize(("fn", "expected"), PUBLISHED)
def test_published_pairs(
    fn: Callable[[float, float], tuple[float, float]], expected: tuple[float, float]
) -> None:
    lon, lat = fn(116.404, 39.915)
    assert lon == pytest.approx(expected[0], abs=1e-12)
    assert lat == pytest.approx(expected[1], abs=1e-12)


def test_gcj_inverse_is_exact_where_the_one_step_formula_is_not() -> None:
    # the same README lists the one-step approximation
    # gcj02towgs84 -> (116.39775550083061, 39.91359571849836);
    # the iterated inverse must be within a few 1e-6 deg of it and round-trip to < 1e-7 deg.
    lon, lat = gcj02_to_wgs84(116.404, 39.915)
    assert lon == pytest.approx(116.39775550083061, abs=5e-6)
    assert lat == pytest.approx(39.91359571849836, abs=5e-6)
    back = wgs84_to_gcj02(lon, lat)
    assert back[0] == pytest.approx(116.404, abs=1e-7)
    assert back[1] == pytest.approx(39.915, abs=1e-7)


def test_bd09_to_wgs84_chain() -> None:
    lon, lat = bd09_to_wgs84(116.41662724378733, 39.922699552216216)
    assert lon == pytest.approx(116.404, abs=1e-5)
    assert lat == pytest.approx(39.915, abs=1e-5)


@pytest.mark.parametrize(("lon", "lat"), [(-0.1246, 51.5007), (139.74556, 35.65861), (-122.4, 37.8)])
def test_outside_china_unchanged(lon: float, lat: float) -> None:
    assert out_of_china(lon, lat)
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == pytest.approx((lon, lat))


def test_arrays_match_scalars() -> None:
    lon = np.array([116.404, 121.4998, -0.1246])
    lat = np.array([39.915, 31.2397, 51.5007])
    glon, glat = wgs84_to_gcj02(lon, lat)
    for i in range(3):
        assert (glon[i], glat[i]) == wgs84_to_gcj02(float(lon[i]), float(lat[i]))


china = st.tuples(st.floats(73.0, 135.0), st.floats(18.0, 53.5))


@settings(max_examples=200, deadline=None)
@given(china)
def test_gcj_round_trip(p):  # type: ignore[no-untyped-def]
    g = wgs84_to_gcj02(*p)
    w = gcj02_to_wgs84(*g)
    assert abs(w[0] - p[0]) < 1e-6 and abs(w[1] - p[1]) < 1e-6
    # the offset is a few hundred metres at most
    assert abs(g[0] - p[0]) < 0.01 and abs(g[1] - p[1]) < 0.01


@settings(max_examples=200, deadline=None)
@given(china)
def test_bd_round_trip(p):  # type: ignore[no-untyped-def]
    b = gcj02_to_bd09(*p)
    g = bd09_to_gcj02(*b)
    assert abs(g[0] - p[0]) < 2e-5 and abs(g[1] - p[1]) < 2e-5
    w = bd09_to_wgs84(*wgs84_to_bd09(*p))
    assert abs(w[0] - p[0]) < 2e-5 and abs(w[1] - p[1]) < 2e-5
