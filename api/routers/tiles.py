"""Map tiles: ``/tiles/{layer}/{z}/{x}/{y}.mvt|png|webp``, TileJSON, OGC API Tiles URLs, MapLibre
styles and the layer list the web map reads.

Vector tiles come from PostGIS (``landgis.maps.tiles``) through the request's scoped connection
and are cached per process under (layer, tile, parameters, region scope) and the data version
they were rendered from; see ``landgis.maps.cache``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, text

from api.deps import ConnDep, SettingsDep, credentials
from api.maps import MapState, MapStateDep, lifespan, scope_key
from api.tilecache import MVT, tile_answer
from landgis.errors import InvalidInput, NotFound
from landgis.maps import raster
from landgis.maps.cache import CachedTile, make_entry, with_gzip
from landgis.maps.layers import RasterLayer, VectorLayer
from landgis.maps.styles import layer_style, layer_summary
from landgis.maps.tiles import Tile, check_tile, check_zoom, param_cast, param_values, parse_crs, parse_year

router = APIRouter(tags=["tiles"], lifespan=lifespan)
#: The XYZ tile route alone, included first by the app: a map asks for dozens of tiles a second and
#: each request is matched against the routes in order (the rest of ``router`` comes later).
tile_router = APIRouter(tags=["tiles"])

RASTER_TYPES = {"png": "image/png", "webp": "image/webp"}
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
_INT = re.compile(r"^-?\d{1,9}$")


def _int(value: str, name: str) -> int:
    if not _INT.match(value):
        raise InvalidInput(f"瓦片{name}应为整数, 收到 {value!r} (tile {name} must be an integer)")
    return int(value)


def _tile(z: str, x: str, y: str) -> Tile:
    return check_tile(_int(z, "级别 z"), _int(x, "列号 x"), _int(y, "行号 y"))


def _who(request: Request) -> tuple[str, ...]:
    """The cache key part of the caller's region scope (set on the request by ``prepare_connection``)."""
    scope: list[str] | None = request.state.region_scope
    return scope_key(scope)


def _remember_caller(request: Request, maps: MapState) -> None:
    """Let the front door (``api.tilecache``) answer this caller's next cached tiles by itself,
    while no account change intervenes (the access version read before authentication)."""
    found = credentials(request)
    principal = getattr(request.state, "principal", None)
    seen = getattr(request.state, "access_version", None)
    if found is not None and principal is not None and seen is not None:
        maps.principals.put(found, principal, access_version=int(seen))


def _relevant_params(maps: MapState, layer: VectorLayer | RasterLayer, request: Request) -> tuple[tuple[str, str], ...]:
    names = maps.relevant_params(layer)
    return tuple(sorted((k, v) for k, v in request.query_params.items() if k in names))


def _respond(request: Request, entry: CachedTile, max_age: int, *, cache_state: str) -> Response:
    status, headers, body = tile_answer(
        entry,
        if_none_match=request.headers.get("if-none-match", ""),
        accept_encoding=request.headers.get("accept-encoding", ""),
        max_age=max_age,
        cache_state=cache_state,
    )
    media_type = headers.pop("content-type", None)
    return Response(body, status_code=status, headers=headers, media_type=media_type)


@dataclass(frozen=True)
class TileConn:
    """A tile request's connection and the data version in its snapshot (what the caller can see)."""

    conn: Connection
    version: int


def tile_connection(conn: ConnDep, settings: SettingsDep) -> TileConn:
    """The request's connection under the (shorter) tile statement timeout, for the rest of its
    transaction: a slow tile answers 504 instead of holding a connection and a core. The data
    version is read in the same round trip."""
    version = conn.execute(
        text("SELECT set_config('statement_timeout', :ms, true), (SELECT version FROM map_data_version WHERE id = 1)"),
        {"ms": str(settings.tile_timeout_ms)},
    ).one()[1]
    return TileConn(conn, int(version))


TileConnDep = Annotated[TileConn, Depends(tile_connection)]


def vector_tile(request: Request, tc: TileConn, maps: MapState, layer_id: str, tile: Tile) -> Response:
    layer, renderer = maps.vector(layer_id)
    check_zoom(layer, tile)
    crs = parse_crs(request.query_params.get("crs"))
    state = maps.catalog.state(layer_id)
    query = dict(request.query_params)
    key = maps.tile_key(layer_id, "mvt", tile.z, tile.x, tile.y, query, _who(request))
    cached = state.cached and key is not None and maps.cache.max_bytes > 0
    gzip_ok = "gzip" in request.headers.get("accept-encoding", "")
    if cached:
        _remember_caller(request, maps)
        entry = maps.cache.get(key, tc.version)
        if entry is not None:
            if gzip_ok and entry.gzipped is None:
                entry = with_gzip(entry)
                maps.cache.put(key, entry)
            return _respond(request, entry, maps.settings.tile_max_age_s, cache_state="hit")
    body, rendered = renderer.render(tc.conn, tile, query, crs=crs)
    entry = make_entry(body, rendered, MVT, compress=gzip_ok)
    if cached:
        maps.cache.put(key, entry)
    return _respond(request, entry, maps.settings.tile_max_age_s, cache_state="miss")


def raster_tile(request: Request, tc: TileConn, maps: MapState, layer_id: str, tile: Tile, fmt: str) -> Response:
    layer = maps.raster(layer_id)
    if not layer.minzoom <= tile.z <= layer.maxzoom:
        raise NotFound(
            f"图层 {layer.id} 只在缩放级别 {layer.minzoom}–{layer.maxzoom} 提供瓦片, 请求的是 {tile.z} "
            "(zoom outside the layer's range)"
        )
    media_type = RASTER_TYPES[fmt]
    if layer.cog is not None:
        body = raster.cog_tile(
            maps.settings.home,
            layer,
            tile,
            fmt,
            rescale=raster.parse_rescale(request.query_params.get("rescale")),
            colormap=request.query_params.get("colormap"),
        )
        return _respond(request, make_entry(body, 0, media_type, compress=False), 3600, cache_state="none")
    key = maps.tile_key(layer_id, fmt, tile.z, tile.x, tile.y, dict(request.query_params), _who(request))
    cached = key is not None and maps.cache.max_bytes > 0
    if cached:
        _remember_caller(request, maps)
        entry = maps.cache.get(key, tc.version)
        if entry is not None:
            return _respond(request, entry, maps.settings.tile_max_age_s, cache_state="hit")
    year = parse_year(request.query_params.get("year"))
    body, rendered = raster.thematic_tile(tc.conn, layer, tile, fmt, year=year)
    entry = make_entry(body, rendered, media_type, compress=False)
    if cached:
        maps.cache.put(key, entry)
    return _respond(request, entry, maps.settings.tile_max_age_s, cache_state="miss")


@tile_router.get(
    "/tiles/{layer}/{z}/{x}/{y}.{fmt}",
    summary="Map tile: Mapbox Vector Tile (.mvt) of a vector layer, PNG/WebP of a raster layer",
    response_class=Response,
    responses={200: {"content": {MVT: {}, "image/png": {}}}, 204: {"description": "empty tile"}},
)
def tile(
    request: Request,
    layer: str,
    z: str,
    x: str,
    y: str,
    fmt: str,
    *,
    tc: TileConnDep,
    maps: MapStateDep,
) -> Response:
    t = _tile(z, x, y)
    if fmt in ("mvt", "pbf"):
        return vector_tile(request, tc, maps, layer, t)
    if fmt in RASTER_TYPES:
        return raster_tile(request, tc, maps, layer, t, fmt)
    raise NotFound(f"不支持的瓦片格式 .{fmt} (unsupported tile format; use .mvt, .png or .webp)")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _query_suffix(maps: MapState, layer: VectorLayer | RasterLayer, request: Request) -> str:
    params = _relevant_params(maps, layer, request)
    return ("?" + "&".join(f"{k}={v}" for k, v in params)) if params else ""


def _extent(conn: Connection, layer: VectorLayer | RasterLayer, request: Request) -> list[float] | None:
    """The layer's extent in the caller's scope, and for its request parameters when given (one
    plan's parcels for ``?plan_id=``)."""
    if not isinstance(layer, VectorLayer):
        row = conn.execute(
            text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM parcel) q")
        ).one()
    else:
        src = layer.source
        q = conn.dialect.identifier_preparer.quote
        where = [f"landgis_in_scope({q(src.scope)})"] if src.scope else []
        values = param_values(layer, request.query_params, enforce_required=False)
        for pname, param in src.params.items():
            if values[f"p_{pname}"] is not None:
                where.append(f"{q(param.column)} = CAST(:p_{pname} AS {param_cast(param)})")
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT ST_Extent({q(src.geometry)}) e FROM {q(src.relation)}{condition}"  # noqa: S608 - catalog-checked identifiers
        row = conn.execute(text(f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ({sql}) q"), values).one()  # noqa: S608
    if row[0] is None:
        return None
    return [round(float(v), 6) for v in row]


def tilejson(request: Request, conn: Connection, maps: MapState, layer_id: str) -> dict[str, Any]:
    layer = maps._available(layer_id)
    suffix = _query_suffix(maps, layer, request)
    if isinstance(layer, VectorLayer):
        url = f"{_base(request)}/tiles/{layer.id}/{{z}}/{{x}}/{{y}}.mvt{suffix}"
    else:
        url = f"{_base(request)}/tiles/{layer.id}/{{z}}/{{x}}/{{y}}.png{suffix}"
    bounds = _extent(conn, layer, request) or [-180.0, -85.0511, 180.0, 85.0511]
    doc: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": layer.title,
        "description": layer.description,
        "scheme": "xyz",
        "tiles": [url],
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, max(layer.minzoom, 12)],
        "attribution": layer.attribution,
    }
    if isinstance(layer, VectorLayer):
        doc["vector_layers"] = [
            {
                "id": layer.id,
                "description": layer.title,
                "minzoom": layer.minzoom,
                "maxzoom": layer.maxzoom,
                "fields": dict.fromkeys(layer.attribute_names(), ""),
            }
        ]
    return doc


@router.get("/tiles/{layer}/tilejson.json", summary="TileJSON 3.0 of a layer")
def tilejson_route(request: Request, layer: str, conn: ConnDep, maps: MapStateDep) -> dict[str, Any]:
    return tilejson(request, conn, maps, layer)


@router.get("/styles/{layer}.json", summary="MapLibre style JSON of one layer (QGIS, MapLibre, Mapbox clients)")
def style_route(request: Request, layer: str, maps: MapStateDep) -> JSONResponse:
    item = maps._available(layer)
    suffix = _query_suffix(maps, item, request)
    return JSONResponse(layer_style(item, _base(request), suffix))


@router.get("/maps/layers", summary="Every map layer with availability, legend and style, for the web map")
def layers_route(request: Request, maps: MapStateDep) -> dict[str, Any]:
    base = _base(request)
    return {
        "layers": [layer_summary(layer, maps.catalog.state(layer.id), base) for layer in maps.registry.values()],
        "basemaps": basemaps(maps, base),
    }


def basemaps(maps: MapState, base: str) -> list[dict[str, Any]]:
    """Basemaps the web map offers: local COG layers, 天地图 with a key, a GCJ-02 one when configured."""
    items: list[dict[str, Any]] = [
        {
            "id": layer.id,
            "title": layer.title,
            "tiles": [f"{base}/tiles/{layer.id}/{{z}}/{{x}}/{{y}}.png"],
            "crs": "wgs84",
        }
        for layer in maps.registry.raster()
        if layer.basemap and maps.catalog.state(layer.id).available and raster.cog_exists(maps.settings.home, layer)
    ]
    items.append({"id": "none", "title": "无底图", "tiles": [], "crs": "wgs84"})
    key = maps.settings.tianditu_key
    if key:
        items.append(
            {
                "id": "tianditu_vec",
                "title": "天地图 矢量",
                "tiles": [
                    f"https://t{i}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec"
                    f"&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
                    for i in range(4)
                ],
                "crs": "wgs84",
            }
        )
    if maps.settings.gcj02_basemap_url:
        items.append(
            {
                "id": "gcj02",
                "title": "高德风格底图 (GCJ-02)",
                "tiles": [maps.settings.gcj02_basemap_url],
                "crs": "gcj02",
            }
        )
    return items


# --- OGC API Tiles ---------------------------------------------------------------------------


def _collection(request: Request, maps: MapState, layer: VectorLayer | RasterLayer) -> dict[str, Any]:
    base = f"{_base(request)}/collections/{layer.id}"
    return {
        "id": layer.id,
        "title": layer.title,
        "description": layer.description,
        "links": [
            {"rel": "self", "href": base, "type": "application/json"},
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
                if isinstance(layer, VectorLayer)
                else "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map",
                "href": f"{base}/tiles",
                "type": "application/json",
            },
            {
                "rel": "describedby",
                "href": f"{_base(request)}/tiles/{layer.id}/tilejson.json",
                "type": "application/json",
            },
            {
                "rel": "stylesheet",
                "href": f"{_base(request)}/styles/{layer.id}.json",
                "type": "application/vnd.mapbox.style+json",
            },
        ],
    }


@router.get("/collections", summary="OGC API collections: the available map layers")
def collections(request: Request, maps: MapStateDep) -> dict[str, Any]:
    items = [
        _collection(request, maps, layer) for layer in maps.registry.values() if maps.catalog.state(layer.id).available
    ]
    return {"links": [{"rel": "self", "href": f"{_base(request)}/collections"}], "collections": items}


@router.get("/collections/{collection_id}", summary="OGC API collection")
def collection(request: Request, collection_id: str, maps: MapStateDep) -> dict[str, Any]:
    return _collection(request, maps, maps._available(collection_id))


def _tileset(request: Request, layer: VectorLayer | RasterLayer) -> dict[str, Any]:
    base = f"{_base(request)}/collections/{layer.id}/tiles/{TMS_ID}"
    vector = isinstance(layer, VectorLayer)
    return {
        "title": layer.title,
        "dataType": "vector" if vector else "map",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": TMS_URI,
        "links": [
            {"rel": "self", "href": base, "type": "application/json"},
            {
                "rel": "item",
                "href": f"{base}/{{tileMatrix}}/{{tileCol}}/{{tileRow}}",
                "templated": True,
                "type": MVT if vector else "image/png",
            },
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "href": TMS_URI},
        ],
        "tileMatrixSetLimits": [{"tileMatrix": str(z)} for z in range(layer.minzoom, layer.maxzoom + 1)],
        "layers": [
            {
                "id": layer.id,
                "dataType": "vector" if vector else "map",
                "minTileMatrix": str(layer.minzoom),
                "maxTileMatrix": str(layer.maxzoom),
            }
        ],
    }


@router.get("/collections/{collection_id}/tiles", summary="OGC API Tiles: tilesets of a collection")
def tilesets(request: Request, collection_id: str, maps: MapStateDep) -> dict[str, Any]:
    layer = maps._available(collection_id)
    return {"tilesets": [_tileset(request, layer)]}


@router.get("/collections/{collection_id}/tiles/{tms}", summary="OGC API Tiles: tileset metadata")
def tileset(request: Request, collection_id: str, tms: str, maps: MapStateDep) -> dict[str, Any]:
    layer = maps._available(collection_id)
    _check_tms(tms)
    return _tileset(request, layer)


def _check_tms(tms: str) -> None:
    if tms != TMS_ID:
        raise NotFound(f"只支持瓦片矩阵集 {TMS_ID}, 请求的是 {tms} (unsupported tile matrix set)")


@router.get(
    "/collections/{collection_id}/tiles/{tms}/{z}/{x}/{y}",
    summary="OGC API Tiles: one tile ({tileMatrix}/{tileCol}/{tileRow}, i.e. z/x/y)",
    response_class=Response,
)
def ogc_tile(
    request: Request,
    collection_id: str,
    tms: str,
    z: str,
    x: str,
    y: str,
    *,
    tc: TileConnDep,
    maps: MapStateDep,
) -> Response:
    _check_tms(tms)
    t = _tile(z, x, y)
    layer = maps._available(collection_id)
    if isinstance(layer, VectorLayer):
        return vector_tile(request, tc, maps, collection_id, t)
    return raster_tile(request, tc, maps, collection_id, t, "png")


# --- zonal statistics ------------------------------------------------------------------------

ZONE_GEOMETRY_SQL = {
    "parcel": text("SELECT ST_AsGeoJSON(geom)::json FROM parcel WHERE id = :id AND landgis_in_scope(region_code)"),
    "zone": text("SELECT ST_AsGeoJSON(boundary)::json FROM zone WHERE id = :id AND landgis_in_scope(region_code)"),
}


@router.get("/rasters/{layer}/zonal", summary="Zonal statistics of a raster layer over a parcel or a zone")
def zonal(
    layer: str, conn: ConnDep, maps: MapStateDep, parcel_id: int | None = None, zone_id: int | None = None
) -> dict[str, Any]:
    item = maps.raster(layer)
    if (parcel_id is None) == (zone_id is None):
        raise InvalidInput("请给出 parcel_id 或 zone_id 其中之一 (give exactly one of parcel_id, zone_id)")
    kind, ident = ("parcel", parcel_id) if parcel_id is not None else ("zone", zone_id)
    geometry = conn.execute(ZONE_GEOMETRY_SQL[kind], {"id": ident}).scalar_one_or_none()
    if geometry is None:
        raise NotFound(f"{'宗地' if kind == 'parcel' else '园区'} {ident} 不存在或不在您的管辖范围内 (not found)")
    stats = raster.zonal_stats(maps.settings.home, item, geometry)
    return {"layer": layer, kind + "_id": ident, "band": 1, "statistics": stats}
