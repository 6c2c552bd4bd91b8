"""Coordinate reference systems the features API offers (OGC API - Features Part 2).

Geometry is stored in CGCS2000 (EPSG:4490) with longitude first. CRS84 (the default) is served
as stored: CGCS2000 and WGS 84 agree within a few centimetres, and PROJ treats the two as the
same datum as well. EPSG:4490 and EPSG:4326 have latitude first and the CGCS2000 Gauss-Krüger
zones northing first (their EPSG axis order), so those come out with the axes swapped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from landgis.errors import InvalidInput

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"
STORAGE_SRID = 4490

# CGCS2000 3-degree Gauss-Krüger zones: 4513-4533 carry the zone number in the easting
# (zones 25-45), 4534-4554 are the central-meridian forms (75°E-135°E).
GK_ZONED = range(4513, 4534)
GK_CM = range(4534, 4555)


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int
    #: The first axis is latitude/northing: coordinates are swapped on the way in and out.
    north_first: bool
    geographic: bool
    #: Decimal places worth sending (about 1 cm).
    precision: int

    @property
    def is_storage(self) -> bool:
        return self.srid == STORAGE_SRID


def _make(code: int) -> Crs:
    if code in (4490, 4326):
        return Crs(EPSG_URI.format(code=code), code, True, True, 7)
    if code == 3857:
        return Crs(EPSG_URI.format(code=code), code, False, False, 2)
    return Crs(EPSG_URI.format(code=code), code, True, False, 2)


DEFAULT = Crs(CRS84, STORAGE_SRID, False, True, 7)
SUPPORTED: tuple[Crs, ...] = (DEFAULT, *(_make(c) for c in (4490, 4326, 3857, *GK_ZONED, *GK_CM)))
_BY_URI = {c.uri: c for c in SUPPORTED}
_EPSG = re.compile(r"^(?:EPSG:|urn:ogc:def:crs:EPSG::|https?://www\.opengis\.net/def/crs/EPSG/0/)(\d{4,5})$")


@lru_cache(maxsize=128)
def parse(value: str | None, *, parameter: str = "crs") -> Crs:
    """The Crs for a URI (or the short forms EPSG:4490, urn:ogc:def:crs:EPSG::4490); 400 if not offered."""
    if value is None or value == "":
        return DEFAULT
    text = value.strip().strip("[]<>")
    if text in _BY_URI:
        return _BY_URI[text]
    if text.replace("https://", "http://") in _BY_URI:
        return _BY_URI[text.replace("https://", "http://")]
    if text in ("CRS84", "OGC:CRS84", "urn:ogc:def:crs:OGC:1.3:CRS84"):
        return DEFAULT
    match = _EPSG.match(text)
    if match:
        uri = EPSG_URI.format(code=int(match.group(1)))
        if uri in _BY_URI:
            return _BY_URI[uri]
    raise InvalidInput(
        f"{parameter}: 不支持的坐标系 {value[:80]!r}; 支持 CRS84, EPSG:4490, 4326, 3857 和 CGCS2000 高斯-克吕格分带"
        f" (unsupported CRS)",
        details={"parameter": parameter},
    )


def uris() -> list[str]:
    return [c.uri for c in SUPPORTED]
