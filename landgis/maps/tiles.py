"""Mapbox Vector Tiles generated in PostGIS (ST_TileEnvelope, ST_AsMVTGeom, ST_AsMVT).

One SQL statement per layer and zoom level is built once from the layer definition (identifiers
from the definition, checked against the catalog and quoted by the dialect); every request value
is a bound parameter. The statement also returns the map data version read in the same
snapshot, so a tile is cached under the version of the data it was rendered from.

Tiles are in the WebMercatorQuad tile matrix set (EPSG:3857, 256 px at zoom 0 by OGC's
convention; MapLibre draws them at 512 px, which is the pixel the thinning settings use).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, TextClause, text
from sqlalchemy.dialects import postgresql

from landgis.db.engine import driver_sql
from landgis.errors import InvalidInput, NotFound
from landgis.maps import gcj02
from landgis.maps.layers import MAX_ZOOM, Param, VectorLayer, ZoomLevel

EXTENT = 4096
BUFFER = 64
#: Web Mercator's full width in metres.
WORLD_M = 2 * math.pi * 6378137.0
#: Latitudes Web Mercator can show; geometries reaching beyond are left out of tiles rather than
#: failing the whole tile in ST_Transform.
MAX_LAT = 85.05112878

_PREPARER = postgresql.dialect().identifier_preparer  # type: ignore[no-untyped-call]


def _quote(name: str) -> str:
    return str(_PREPARER.quote(name))


@dataclass(frozen=True)
class Tile:
    z: int
    x: int
    y: int

    def bounds(self) -> tuple[float, float, float, float]:
        """West, south, east, north in degrees."""
        n = 2.0**self.z

        def lat(yy: float) -> float:
            return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))

        return self.x / n * 360.0 - 180.0, lat(self.y + 1), (self.x + 1) / n * 360.0 - 180.0, lat(self.y)

    def centre(self) -> tuple[float, float]:
        w, s, e, n = self.bounds()
        return (w + e) / 2, (s + n) / 2


def check_tile(z: int, x: int, y: int) -> Tile:
    """A tile of the WebMercatorQuad matrix, or InvalidInput saying why not."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"缩放级别 {z} 超出范围 0–{MAX_ZOOM} (zoom outside the tile matrix set)")
    limit = 2**z
    if not (0 <= x < limit and 0 <= y < limit):
        raise InvalidInput(
            f"瓦片 {z}/{x}/{y} 超出瓦片矩阵, 该级别行列号应在 0–{limit - 1} 之间 (tile outside the WebMercatorQuad matrix)"
        )
    return Tile(z, x, y)


def check_zoom(layer: VectorLayer, tile: Tile) -> None:
    if not layer.minzoom <= tile.z <= layer.maxzoom:
        raise NotFound(
            f"图层 {layer.id} 只在缩放级别 {layer.minzoom}–{layer.maxzoom} 提供瓦片, 请求的是 {tile.z} "
            "(zoom outside the layer's range)"
        )


@dataclass(frozen=True)
class TileQuery:
    sql: TextClause
    level: ZoomLevel
    params: tuple[str, ...]
    #: the same statement in psycopg's own form (``%(name)s``), for ``api.tilefast``
    driver_sql: str


def build_query(layer: VectorLayer, level: ZoomLevel, *, shifted: bool = False) -> TileQuery:
    """The tile statement of ``layer`` at ``level``; ``shifted`` adds a per-tile translation (GCJ-02)."""
    src = layer.source
    q = _quote
    geom = f"s.{q(src.geometry)}"
    if src.srid != 4490 and src.srid != 4326:
        geom = f"ST_Transform({geom}, 4326)"
    moved = f"ST_Translate({geom}, :dx, :dy)" if shifted else geom
    projected = f"ST_Transform({moved}, 3857)"
    if level.simplify_px > 0:
        projected = f"ST_Simplify({projected}, :tolerance, true)"

    lookup_names = set(src.lookup.columns) if src.lookup else set()
    columns = [f"s.{q(src.id)} AS {q('id')}"] if src.id else []
    for name in level.attributes:
        if name == src.id:
            continue
        alias = "l" if name in lookup_names else "s"
        columns.append(f"{alias}.{q(name)}")
    columns.append(f"ST_AsMVTGeom({projected}, ST_TileEnvelope(:z, :x, :y), {EXTENT}, {BUFFER}, true) AS mvt_geom")

    joins = ""
    if src.lookup:
        lk = src.lookup
        year_filter = ""
        order = ""
        if lk.year:
            year_filter = f" AND (CAST(:year AS integer) IS NULL OR j.{q(lk.year)} = :year)"
            order = f" ORDER BY j.{q(lk.year)} DESC"
        picked = ", ".join(f"j.{q(c)}" for c in lk.columns)
        assert src.id is not None  # a lookup needs the id (checked by the definition)
        joins = (
            f" LEFT JOIN LATERAL (SELECT {picked} FROM {q(lk.relation)} j"
            f" WHERE j.{q(lk.key)} = s.{q(src.id)}{year_filter}{order} LIMIT 1) l ON true"
        )

    bbox = "ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :margin), 4490)"
    if shifted:
        bbox = f"ST_Translate({bbox}, -CAST(:dx AS float8), -CAST(:dy AS float8))"
    where = [
        f"{geom} && {bbox}",
        f"ST_YMax({geom}) <= {MAX_LAT}",
        f"ST_YMin({geom}) >= -{MAX_LAT}",
    ]
    if src.scope:
        where.append(f"landgis_in_scope(s.{q(src.scope)})")
    if src.area_m2 and level.min_area_px > 0:
        where.append(f"s.{q(src.area_m2)} >= :min_area")
    names: list[str] = []
    for pname, param in src.params.items():
        cast = param_cast(param)
        if param.required:
            where.append(f"s.{q(param.column)} = CAST(:p_{pname} AS {cast})")
        else:
            where.append(f"(CAST(:p_{pname} AS {cast}) IS NULL OR s.{q(param.column)} = CAST(:p_{pname} AS {cast}))")
        names.append(pname)
    # LIMIT/OFFSET fence the subquery: inlined, the planner would run ST_AsMVTGeom twice per
    # feature (once for the IS NOT NULL filter, once for the value).
    limit = f" LIMIT {int(level.max_features)}" if level.max_features else " OFFSET 0"

    feature_id = ", 'id'" if src.id else ""
    features = f"SELECT {', '.join(columns)} FROM {q(src.relation)} s{joins} WHERE {' AND '.join(where)}{limit}"
    sql = (
        "SELECT (SELECT version FROM map_data_version WHERE id = 1) AS version,"
        f" (SELECT ST_AsMVT(t.*, :layer_name, {EXTENT}, 'mvt_geom'{feature_id})"
        f" FROM ({features}) t WHERE t.mvt_geom IS NOT NULL) AS tile"
    )
    clause = text(sql)
    return TileQuery(sql=clause, level=level, params=tuple(names), driver_sql=driver_sql(clause))


def param_values(layer: VectorLayer, raw: Mapping[str, str], *, enforce_required: bool = True) -> dict[str, object]:
    """The layer's request parameters (``?plan_id=3``) as bound values ``p_<name>``, checked by
    type; a missing one is None, or refused when the layer requires it and ``enforce_required``."""
    values: dict[str, object] = {}
    for pname, param in layer.source.params.items():
        value = raw.get(pname)
        if value in (None, ""):
            if param.required and enforce_required:
                raise InvalidInput(f"图层 {layer.id} 需要参数 {pname} (missing query parameter {pname})")
            values[f"p_{pname}"] = None
        elif param.type == "integer":
            try:
                values[f"p_{pname}"] = int(str(value))
            except ValueError:
                raise InvalidInput(f"参数 {pname} 应为整数 (integer expected): {value!r}") from None
        else:
            values[f"p_{pname}"] = str(value)
    return values


def param_cast(param: Param) -> str:
    """The SQL type a parameter's bound value is cast to."""
    return "bigint" if param.type == "integer" else "text"


class TileRenderer:
    """The statements of one vector layer, built once (per zoom level, plain and shifted)."""

    def __init__(self, layer: VectorLayer) -> None:
        self.layer = layer
        self._plain = {level.minzoom: build_query(layer, level) for level in layer.zooms}
        self._shifted = {level.minzoom: build_query(layer, level, shifted=True) for level in layer.zooms}

    def query(self, z: int, *, shifted: bool = False) -> TileQuery:
        level = self.layer.level(z)
        return (self._shifted if shifted else self._plain)[level.minzoom]

    def bind(self, tile: Tile, raw: dict[str, str], *, crs: str = "wgs84") -> tuple[TileQuery, dict[str, object]]:
        """The statement and bound values for ``tile``; ``raw`` are the request's layer parameters."""
        shifted = crs == "gcj02"
        query = self.query(tile.z, shifted=shifted)
        level = query.level
        pixel_m = WORLD_M / (2**tile.z) / 512.0
        _, lat = tile.centre()
        ground_pixel_m = pixel_m * math.cos(math.radians(lat))
        values: dict[str, object] = {
            "z": tile.z,
            "x": tile.x,
            "y": tile.y,
            "margin": BUFFER / EXTENT,
            "layer_name": self.layer.id,
            "min_area": level.min_area_px * ground_pixel_m**2,
            "tolerance": level.simplify_px * pixel_m,
        }
        if self.layer.source.lookup and self.layer.source.lookup.year:
            values["year"] = parse_year(raw.get("year"))
        if shifted:
            lon, lat = tile.centre()
            values["dx"], values["dy"] = gcj02.offset(lon, lat)
        values.update(param_values(self.layer, raw))
        return query, values

    def render(
        self, conn: Connection, tile: Tile, raw: dict[str, str] | None = None, *, crs: str = "wgs84"
    ) -> tuple[bytes, int]:
        """The tile's MVT bytes (possibly empty) and the data version they were rendered from."""
        check_zoom(self.layer, tile)
        query, values = self.bind(tile, raw or {}, crs=crs)
        row = conn.execute(query.sql, values).one()
        return bytes(row.tile or b""), int(row.version)


def parse_crs(value: str | None) -> str:
    """A ``?crs=`` value: ``wgs84`` (the default) or ``gcj02``; InvalidInput otherwise."""
    crs = (value if value is not None else "wgs84").lower()
    if crs not in ("wgs84", "gcj02"):
        raise InvalidInput(f"crs 只能是 wgs84 或 gcj02 (unsupported crs): {crs!r}")
    return crs


def parse_year(value: str | None) -> int | None:
    """A ``?year=`` value (1990–2100), or None when absent; InvalidInput otherwise."""
    if value in (None, ""):
        return None
    try:
        year = int(str(value))
    except ValueError:
        raise InvalidInput(f"year 应为年份 (a year is expected): {value!r}") from None
    if not 1990 <= year <= 2100:
        raise InvalidInput(f"year {year} 超出范围 1990–2100 (year out of range)")
    return year
