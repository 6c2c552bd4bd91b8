"""The geometry checks of a parcel load, a batch at a time.

Each geometry must be present, polygonal, plausible once transformed to CGCS2000 (EPSG:4490)
and valid; an invalid ring is repaired with MakeValid (the polygonal part of the result) and
the repair reported, or the row refused when nothing polygonal is left. What comes out is what
the stage table takes: EWKB MultiPolygons in EPSG:4490, an interior point per parcel for the
region and zone tests, and the planar area in m² for the check against the declared 宗地面积.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import shapely
from pyproj import CRS

from landgis.geo import GK_CM_FIRST_EPSG, STORAGE_SRID, transformer
from landgis.loading.source import CHINA

#: flag(row, field, severity, code, message)
Flag = Callable[[int, str, str, str, str], None]

_TYPE_NAMES = {0: "点", 1: "线", 2: "线", 4: "多点", 5: "多线", 7: "几何集合"}
POLYGON, MULTIPOLYGON, COLLECTION = 3, 6, 7


@dataclass
class Geometries:
    """The checked geometries of one batch, aligned with its rows."""

    ok: np.ndarray  # bool: the geometry passed
    ewkb: pa.BinaryArray  # EWKB MultiPolygon, EPSG:4490 (null where not ok)
    points: np.ndarray  # shapely points inside each parcel, EPSG:4490 (None where not ok)
    area_m2: np.ndarray  # planar area in m² (NaN where not ok)


def check(geoms: np.ndarray, first: int, crs: CRS, flag: Flag) -> Geometries:
    """Check and convert one batch of source geometries (in ``crs``); problems go to ``flag``."""
    n = len(geoms)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    polygonal = np.isin(types, (POLYGON, MULTIPOLYGON))
    for pos in np.flatnonzero(missing):
        flag(first + int(pos), "geometry", "error", "geometry_missing", "几何为空 (null or empty geometry)")
    for pos in np.flatnonzero(~missing & ~polygonal):
        name = _TYPE_NAMES.get(int(types[pos]), str(types[pos]))
        flag(first + int(pos), "geometry", "error", "geometry_type", f"几何类型应为面, 实为{name} (not a polygon)")
    ok = ~missing & polygonal
    index = np.flatnonzero(ok)
    source = geoms[index]
    if shapely.has_z(source).any():
        source = shapely.force_2d(source)
    work = source
    if crs.to_epsg(min_confidence=90) != STORAGE_SRID:
        work = _transform(source, crs.to_wkt(), STORAGE_SRID)
    plausible = _inside_china(work)
    for local in np.flatnonzero(~plausible):
        flag(
            first + int(index[local]),
            "geometry",
            "error",
            "geometry_coordinates",
            "坐标超出中国范围, 坐标系可能有误 (coordinates outside China after transformation)",
        )
    repaired = np.zeros(len(work), dtype=bool)
    invalid = np.flatnonzero(plausible & ~shapely.is_valid(work))
    for local in invalid:
        row = first + int(index[local])
        reason = shapely.is_valid_reason(work[local])
        fixed = _polygonal_part(shapely.make_valid(work[local]))
        if fixed is None or shapely.is_empty(fixed) or not shapely.is_valid(fixed):
            flag(row, "geometry", "error", "geometry_invalid", f"几何无效且无法修复: {reason}")
            plausible[local] = False
        else:
            work[local] = fixed
            repaired[local] = True
            flag(row, "geometry", "repaired", "geometry_repaired", f"几何无效, 已用MakeValid修复: {reason}")
    keep = np.flatnonzero(plausible)
    final = work[keep]
    ok = np.zeros(n, dtype=bool)
    ok[index[keep]] = True

    points = np.full(n, None, dtype=object)
    points[index[keep]] = shapely.point_on_surface(final)
    area = np.full(n, np.nan)
    area[index[keep]] = _planar_area(final, source[keep], repaired[keep], crs)
    return Geometries(ok=ok, ewkb=_ewkb(_multi(final), index[keep], n), points=points, area_m2=area)


def _transform(geoms: np.ndarray, src: str | int, dst: str | int) -> np.ndarray:
    if len(geoms) == 0:
        return geoms
    result: np.ndarray = shapely.transform(geoms, transformer(src, dst).transform, interleaved=False)
    return result


def _inside_china(geoms: np.ndarray) -> np.ndarray:
    if len(geoms) == 0:
        return np.zeros(0, dtype=bool)
    bounds = shapely.bounds(geoms)
    inside: np.ndarray = (
        np.isfinite(bounds).all(axis=1)
        & (bounds[:, 0] >= CHINA.minx)
        & (bounds[:, 2] <= CHINA.maxx)
        & (bounds[:, 1] >= CHINA.miny)
        & (bounds[:, 3] <= CHINA.maxy)
    )
    return inside


def _polygonal_part(geom: shapely.Geometry | None) -> shapely.Geometry | None:
    """The polygons of a MakeValid result (which may mix in lines and points)."""
    if geom is None:
        return None
    kind = shapely.get_type_id(geom)
    if kind in (POLYGON, MULTIPOLYGON):
        return geom
    if kind == COLLECTION:
        parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (POLYGON, MULTIPOLYGON)]
        return shapely.union_all(parts) if parts else None
    return None


def _multi(geoms: np.ndarray) -> np.ndarray:
    """Every geometry as a MultiPolygon (polygons wrapped, one part each)."""
    out = geoms.copy()
    single = np.flatnonzero(shapely.get_type_id(geoms) == POLYGON)
    if len(single):
        out[single] = shapely.multipolygons(geoms[single], indices=np.arange(len(single)))
    return out


def _planar_area(final: np.ndarray, source: np.ndarray, repaired: np.ndarray, crs: CRS) -> np.ndarray:
    """Area in m²: in the source's own projection when it has one (Gauss-Krüger files: the same
    zone or the next, well within the tolerance of the declared-area check), else in the
    Gauss-Krüger zone of each parcel, as the database computes it."""
    area = np.full(len(final), np.nan)
    if len(final) == 0:
        return area
    projected = crs.is_projected and all(a.unit_name in ("metre", "meter") for a in crs.axis_info)
    todo = np.ones(len(final), dtype=bool)
    if projected:
        plain = ~repaired
        area[plain] = shapely.area(source[plain])
        todo = repaired
    if todo.any():
        lon = shapely.get_x(shapely.centroid(final[todo]))
        zones = GK_CM_FIRST_EPSG + np.clip(np.round((lon - 75.0) / 3.0), 0, 20).astype(int)
        positions = np.flatnonzero(todo)
        for epsg in np.unique(zones):
            chosen = positions[zones == epsg]
            area[chosen] = shapely.area(_transform(final[chosen], STORAGE_SRID, int(epsg)))
    return area


def _ewkb(geoms: np.ndarray, positions: np.ndarray, n: int) -> pa.BinaryArray:
    """EWKB (SRID 4490) of ``geoms`` placed at ``positions`` of an array of ``n`` (others null)."""
    wkb = shapely.to_wkb(shapely.set_srid(geoms, STORAGE_SRID), include_srid=True) if len(geoms) else []
    lengths = np.zeros(n, dtype=np.int64)
    lengths[positions] = [len(w) for w in wkb]
    offsets = np.concatenate([np.zeros(1, np.int64), np.cumsum(lengths)]).astype(np.int32)
    valid = np.zeros(n, dtype=bool)
    valid[positions] = True
    validity = pa.array(valid).buffers()[1]
    return pa.BinaryArray.from_buffers(
        pa.binary(),
        n,
        [validity, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(wkb))],
        null_count=int(n - valid.sum()),
    )
