"""Coordinate systems and areas.

Geometry is stored in CGCS2000 geographic coordinates (EPSG:4490). Areas are computed in the
CGCS2000 3-degree Gauss-Krüger zone of the geometry (central-meridian form, EPSG:4534 for 75°E to
EPSG:4554 for 135°E), never in Web Mercator. The database computes the stored areas with the same
rule (``landgis_gk_srid`` in the first migration); this module is the Python side of it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

STORAGE_SRID: Final = 4490
#: 1亩 = 10000/15 m².
M2_PER_MU: Final = 10000.0 / 15.0

# CGCS2000 3-degree Gauss-Krüger zones: central meridian 75°E..135°E.
GK_CM_FIRST_EPSG: Final = 4534  # CM 75E, false easting 500000
GK_ZONED_FIRST_EPSG: Final = 4513  # zone 25 (CM 75E), false easting 25500000
GK_FIRST_CM: Final = 75
GK_LAST_CM: Final = 135


def m2_to_mu(area_m2: float) -> float:
    """Square metres to 亩."""
    return area_m2 / M2_PER_MU


def mu_to_m2(area_mu: float) -> float:
    """亩 to square metres."""
    return area_mu * M2_PER_MU


def gk_central_meridian(lon: float) -> int:
    """Central meridian (degrees E) of the 3-degree zone holding longitude ``lon``."""
    cm = 3 * round(lon / 3)
    return min(max(cm, GK_FIRST_CM), GK_LAST_CM)


def gk_epsg(lon: float, *, zoned: bool = False) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss-Krüger zone holding ``lon``.

    ``zoned=False`` gives the central-meridian form (false easting 500000, e.g. 4549 for 120°E);
    ``zoned=True`` the form whose eastings carry the zone number (e.g. 4528 = zone 40).
    """
    index = (gk_central_meridian(lon) - GK_FIRST_CM) // 3
    return (GK_ZONED_FIRST_EPSG if zoned else GK_CM_FIRST_EPSG) + index


def gk_zone_number(lon: float) -> int:
    """3-degree zone number (central meridian / 3), e.g. 40 for 120°E."""
    return gk_central_meridian(lon) // 3


@lru_cache(maxsize=64)
def transformer(src: int | str, dst: int | str) -> Transformer:
    """An always-xy transformer (longitude first, easting first) between two CRSs, cached."""
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def gk_area_m2(geom_4490: BaseGeometry) -> float:
    """Planar area in m² of a CGCS2000 geometry, computed in its Gauss-Krüger zone."""
    lon = geom_4490.centroid.x
    projected = shapely.transform(geom_4490, transformer(STORAGE_SRID, gk_epsg(lon)).transform, interleaved=False)
    return float(projected.area)
