"""GCJ-02, the offset coordinate system of Gaode/Tencent basemaps, applied only at the edge.

Our data stays in CGCS2000 (EPSG:4490, within centimetres of WGS 84 at map scales). When the web
map shows a GCJ-02 basemap, tiles are shifted by the GCJ-02 offset of the tile's centre: the
offset changes by well under a metre across a tile at the zooms parcels are drawn at (it varies
over tens of kilometres), so one translation per tile is exact at screen resolution.

The forward formula is the widely published one (Krasovsky 1940 ellipsoid constants); the
inverse is two fixed-point iterations, good to about a centimetre.
"""

from __future__ import annotations

import math

_A = 6378245.0
_EE = 0.00669342162296594323


def in_china(lon: float, lat: float) -> bool:
    """Outside this box GCJ-02 equals WGS 84 (the published convention)."""
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def _dlat(x: float, y: float) -> float:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _dlon(x: float, y: float) -> float:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def offset(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 minus WGS 84 at a point, in degrees (dlon, dlat); (0, 0) outside China."""
    if not in_china(lon, lat):
        return 0.0, 0.0
    dlat = _dlat(lon - 105.0, lat - 35.0)
    dlon = _dlon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return dlon, dlat


def to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    dlon, dlat = offset(lon, lat)
    return lon + dlon, lat + dlat


def from_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS 84 of a GCJ-02 point (iterated inverse)."""
    x, y = lon, lat
    for _ in range(3):
        gx, gy = to_gcj02(x, y)
        x, y = x - (gx - lon), y - (gy - lat)
    return x, y
