"""Chinese map datums: WGS-84 <-> GCJ-02 <-> BD-09.

GCJ-02 (used by Amap/高德, Tencent) is WGS-84 plus a deliberate, smooth, non-linear offset of a few
hundred metres; BD-09 (Baidu) is a further rotation/scaling of GCJ-02. The forward formulas are the
well-known public ones (Krasovsky ellipsoid constants and the sine-series offset). There is no closed
inverse for GCJ-02, so ``gcj02_to_wgs84`` iterates the forward formula until the round trip is within
``tol`` degrees (default 1e-7, i.e. about a centimetre).

Points outside mainland China (by the customary bounding box) are returned unchanged, as every
GCJ-02 implementation does. All functions take scalars or numpy arrays and return the same shape.
"""

from __future__ import annotations

import math
from typing import overload

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "out_of_china",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0  # BD-09 rotation constant

F = NDArray[np.float64]


def _arr(v: float | F) -> F:
    return np.asarray(v, dtype=np.float64)


def _ret(v: F, like: float | F) -> float | F:
    return float(v) if np.ndim(like) == 0 else v


def out_of_china(lon: float | F, lat: float | F) -> bool | NDArray[np.bool_]:
    """True where the point lies outside the box in which GCJ-02 applies."""
    lo, la = _arr(lon), _arr(lat)
    res = (lo < 72.004) | (lo > 137.8347) | (la < 0.8293) | (la > 55.8271)
    return bool(res) if res.ndim == 0 else res


def _offset(lon: F, lat: F) -> tuple[F, F]:
    """GCJ-02 minus WGS-84, in degrees, evaluated at a WGS-84 point."""
    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    inside = ~np.asarray(out_of_china(lon, lat))
    return dlon * inside, dlat * inside


@overload
def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_gcj02(lon: F, lat: F) -> tuple[F, F]: ...
def wgs84_to_gcj02(lon: float | F, lat: float | F) -> tuple[float | F, float | F]:
    """WGS-84 (GPS) to GCJ-02 (Amap/Tencent)."""
    lo, la = _arr(lon), _arr(lat)
    dlon, dlat = _offset(lo, la)
    return _ret(lo + dlon, lon), _ret(la + dlat, lat)


@overload
def gcj02_to_wgs84(lon: float, lat: float, tol: float = ...) -> tuple[float, float]: ...
@overload
def gcj02_to_wgs84(lon: F, lat: F, tol: float = ...) -> tuple[F, F]: ...
def gcj02_to_wgs84(lon: float | F, lat: float | F, tol: float = 1e-7) -> tuple[float | F, float | F]:
    """GCJ-02 to WGS-84 by fixed-point iteration of the forward formula (to ``tol`` degrees)."""
    glo, gla = _arr(lon), _arr(lat)
    wlo, wla = glo.copy(), gla.copy()
    for _ in range(30):
        flo, fla = wgs84_to_gcj02(wlo, wla)
        elo, ela = flo - glo, fla - gla
        wlo, wla = wlo - elo, wla - ela
        if float(np.max(np.abs(elo), initial=0.0)) < tol and float(np.max(np.abs(ela), initial=0.0)) < tol:
            break
    return _ret(wlo, lon), _ret(wla, lat)


@overload
def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def gcj02_to_bd09(lon: F, lat: F) -> tuple[F, F]: ...
def gcj02_to_bd09(lon: float | F, lat: float | F) -> tuple[float | F, float | F]:
    """GCJ-02 to BD-09 (Baidu). Applied everywhere, like Baidu's own API."""
    x, y = _arr(lon), _arr(lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return _ret(z * np.cos(theta) + 0.0065, lon), _ret(z * np.sin(theta) + 0.006, lat)


@overload
def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def bd09_to_gcj02(lon: F, lat: F) -> tuple[F, F]: ...
def bd09_to_gcj02(lon: float | F, lat: float | F) -> tuple[float | F, float | F]:
    """BD-09 to GCJ-02 (the customary closed-form inverse, accurate to ~1e-6 degrees)."""
    x, y = _arr(lon) - 0.0065, _arr(lat) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _ret(z * np.cos(theta), lon), _ret(z * np.sin(theta), lat)


@overload
def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_bd09(lon: F, lat: F) -> tuple[F, F]: ...
def wgs84_to_bd09(lon: float | F, lat: float | F) -> tuple[float | F, float | F]:
    """WGS-84 to BD-09 (via GCJ-02)."""
    glo, gla = wgs84_to_gcj02(_arr(lon), _arr(lat))
    blo, bla = gcj02_to_bd09(glo, gla)
    return _ret(blo, lon), _ret(bla, lat)


@overload
def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def bd09_to_wgs84(lon: F, lat: F) -> tuple[F, F]: ...
def bd09_to_wgs84(lon: float | F, lat: float | F) -> tuple[float | F, float | F]:
    """BD-09 to WGS-84 (via GCJ-02, with the iterative GCJ-02 inverse)."""
    glo, gla = bd09_to_gcj02(_arr(lon), _arr(lat))
    wlo, wla = gcj02_to_wgs84(glo, gla)
    return _ret(wlo, lon), _ret(wla, lat)
