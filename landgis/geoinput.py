"""Geometry that users send (GeoJSON, bounding boxes): checked before it reaches SQL.

A geometry is parsed with shapely, its coordinates checked against the CRS's plausible range,
repaired when invalid, and handed to the database as WKB in a bound parameter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from landgis.errors import InvalidInput

MAX_VERTICES = 20_000
GEOGRAPHIC_BOUNDS = (-180.0, -90.0, 180.0, 90.0)


def parse_geojson(value: Any, *, field: str = "geometry", geographic: bool = True) -> BaseGeometry:
    """A shapely geometry from a GeoJSON geometry object, or InvalidInput naming ``field``."""
    if not isinstance(value, dict) or "type" not in value:
        raise InvalidInput(f"{field}: 需要 GeoJSON 几何对象 (expected a GeoJSON geometry object)")
    try:
        geom = shape(value)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, shapely.errors.ShapelyError) as exc:
        raise InvalidInput(f"{field}: GeoJSON 几何无效 (invalid GeoJSON geometry: {type(exc).__name__})") from None
    return check_geometry(geom, field=field, geographic=geographic)


def check_geometry(geom: BaseGeometry, *, field: str, geographic: bool = True) -> BaseGeometry:
    if geom.is_empty:
        raise InvalidInput(f"{field}: 几何为空 (empty geometry)")
    if shapely.get_num_coordinates(geom) > MAX_VERTICES:
        raise InvalidInput(f"{field}: 顶点过多, 最多 {MAX_VERTICES} 个 (too many vertices)")
    coords = shapely.get_coordinates(geom)
    if not all(math.isfinite(v) for v in coords.ravel()):
        raise InvalidInput(f"{field}: 坐标无效 (coordinates must be finite numbers)")
    if geographic:
        minx, miny, maxx, maxy = geom.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise InvalidInput(f"{field}: 经纬度超出范围 (longitude/latitude out of range)")
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    return geom


def parse_bbox(values: Sequence[float] | str, *, field: str = "bbox", geographic: bool = True) -> tuple[float, ...]:
    """minx,miny,maxx,maxy (or the 6-number 3-D form, whose heights are ignored)."""
    if isinstance(values, str):
        try:
            numbers = [float(v) for v in values.split(",")]
        except ValueError:
            raise InvalidInput(f"{field}: 需要 4 个数字, 以逗号分隔 (expected 4 comma-separated numbers)") from None
    else:
        numbers = [float(v) for v in values]
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(math.isfinite(v) for v in numbers):
        raise InvalidInput(f"{field}: 需要 4 个数字 (expected 4 numbers: minx,miny,maxx,maxy)")
    minx, miny, maxx, maxy = numbers
    if miny > maxy:
        raise InvalidInput(f"{field}: 下边界大于上边界 (lower bound above upper bound)")
    if geographic and (miny < -90 or maxy > 90 or not -180 <= minx <= 180 or not -180 <= maxx <= 180):
        raise InvalidInput(f"{field}: 经纬度超出范围 (longitude/latitude out of range)")
    if not geographic and minx > maxx:
        raise InvalidInput(f"{field}: 左边界大于右边界 (lower bound above upper bound)")
    return (minx, miny, maxx, maxy)


def wkb(geom: BaseGeometry) -> bytes:
    return shapely.to_wkb(geom)  # type: ignore[no-any-return]
