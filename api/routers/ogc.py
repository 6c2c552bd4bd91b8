"""OGC API - Features (Part 1 Core, Part 2 CRS, Part 3 Filtering with CQL2) under ``/ogc``.

Collections come from ``landgis.features.collections.REGISTRY``. Output is GeoJSON (``f=json``)
or HTML (``f=html``, or a browser's Accept header). Items pages link to each other with keyset
cursors (``after``/``before``), so a client following ``next`` links through a large table
never makes the database skip rows.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from api.deps import ConnDep, UserDep
from landgis import __version__
from landgis.errors import InvalidInput, NotFound
from landgis.features import crs as crsmod
from landgis.features import filters, items
from landgis.features.collections import REGISTRY, Collection

router = APIRouter(prefix="/ogc", tags=["OGC API - Features"])
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))

GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    *filters.CONFORMANCE,
]
FORMAT_DOC = "Output format: json (GeoJSON) or html; default from the Accept header"
ITEMS_PARAMETERS = frozenset(
    {
        "f",
        "limit",
        "bbox",
        "bbox-crs",
        "crs",
        "datetime",
        "properties",
        "filter",
        "filter-lang",
        "filter-crs",
        "after",
        "before",
    }
)

_JSON_OBJECT: dict[str, Any] = {"type": "object"}
_FEATURES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {"type": "object"}},
        "links": {"type": "array", "items": {"type": "object"}},
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0},
        "timeStamp": {"type": "string"},
    },
}
_FEATURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {"type": {"type": "string", "enum": ["Feature"]}},
}


def _content(schema: dict[str, Any], media: str = "application/json") -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {media: {"schema": schema}, "text/html": {"schema": {"type": "string"}}}}}


def _wants_html(request: Request, f: str | None) -> bool:
    if f is not None:
        if f not in ("json", "geojson", "html"):
            raise InvalidInput("f: 只能是 json 或 html (f must be json or html)", details={"parameter": "f"})
        return f == "html"
    accept = request.headers.get("accept", "").lower()
    if "text/html" not in accept:
        return False
    return "json" not in accept or accept.find("text/html") < accept.find("json")


def _check_parameters(request: Request, allowed: frozenset[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise InvalidInput(
            f"未知参数 {unknown[0][:40]!r} (unknown query parameter)", details={"parameter": unknown[0][:40]}
        )


def _url(request: Request, path: str, **params: Any) -> str:
    base = str(request.base_url).rstrip("/")
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{base}{path}" + (f"?{query}" if query else "")


def _json(body: Any, media: str = "application/json", headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=str), media_type=media, headers=headers)


def _collection(collection_id: str) -> Collection:
    found = REGISTRY.get(collection_id)
    if found is None:
        raise NotFound(f"没有图层 {collection_id[:40]!r} (no such collection)")
    return found


def _html(
    request: Request, template: str, context: dict[str, Any], headers: dict[str, str] | None = None
) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    return templates.TemplateResponse(request, template, {**context, "principal": principal}, headers=headers)


@router.get("", summary="Landing page", responses=_content(_JSON_OBJECT))
def landing(request: Request, user: UserDep, f: str | None = Query(default=None, description=FORMAT_DOC)) -> Response:
    _check_parameters(request, frozenset({"f"}))
    body = {
        "title": "landgis 低效工业用地 OGC API",
        "description": "宗地、园区、行政区划和企业位置 (OGC API - Features, CQL2 filters, CGCS2000 CRS)",
        "links": [
            {"href": _url(request, "/ogc"), "rel": "self", "type": "application/json", "title": "this document"},
            {"href": _url(request, "/ogc", f="html"), "rel": "alternate", "type": "text/html", "title": "HTML"},
            {
                "href": _url(request, "/openapi.json"),
                "rel": "service-desc",
                "type": "application/vnd.oai.openapi+json;version=3.0",
                "title": "OpenAPI",
            },
            {"href": _url(request, "/docs"), "rel": "service-doc", "type": "text/html", "title": "API documentation"},
            {
                "href": _url(request, "/ogc/conformance"),
                "rel": "conformance",
                "type": "application/json",
                "title": "conformance classes",
            },
            {
                "href": _url(request, "/ogc/collections"),
                "rel": "data",
                "type": "application/json",
                "title": "collections",
            },
        ],
    }
    if _wants_html(request, f):
        return _html(request, "ogc_landing.html", {"body": body, "version": __version__})
    return _json(body)


@router.get("/conformance", summary="Conformance classes", responses=_content(_JSON_OBJECT))
def conformance(
    request: Request, user: UserDep, f: str | None = Query(default=None, description=FORMAT_DOC)
) -> Response:
    _check_parameters(request, frozenset({"f"}))
    body = {"conformsTo": CONFORMANCE}
    if _wants_html(request, f):
        return _html(request, "ogc_conformance.html", {"body": body})
    return _json(body)


def _describe(request: Request, collection: Collection, extent: list[float] | None) -> dict[str, Any]:
    path = f"/ogc/collections/{collection.id}"
    description: dict[str, Any] = {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "keywords": list(collection.keywords),
        "itemType": "feature",
        "crs": crsmod.uris(),
        "storageCrs": crsmod.EPSG_URI.format(code=crsmod.STORAGE_SRID),
        "links": [
            {"href": _url(request, path), "rel": "self", "type": "application/json", "title": collection.title},
            {"href": _url(request, path, f="html"), "rel": "alternate", "type": "text/html", "title": "HTML"},
            {"href": _url(request, f"{path}/items"), "rel": "items", "type": GEOJSON, "title": "items (GeoJSON)"},
            {
                "href": _url(request, f"{path}/items", f="html"),
                "rel": "items",
                "type": "text/html",
                "title": "items (HTML)",
            },
            {
                "href": _url(request, f"{path}/queryables"),
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": "application/schema+json",
                "title": "queryables",
            },
        ],
    }
    if extent is not None:
        description["extent"] = {"spatial": {"bbox": [extent], "crs": crsmod.CRS84}}
    return description


@router.get("/collections", summary="The feature collections", responses=_content(_JSON_OBJECT))
def collections(
    request: Request, conn: ConnDep, user: UserDep, f: str | None = Query(default=None, description=FORMAT_DOC)
) -> Response:
    _check_parameters(request, frozenset({"f"}))
    extent = items.extent(conn)
    body = {
        "links": [
            {
                "href": _url(request, "/ogc/collections"),
                "rel": "self",
                "type": "application/json",
                "title": "collections",
            },
            {
                "href": _url(request, "/ogc/collections", f="html"),
                "rel": "alternate",
                "type": "text/html",
                "title": "HTML",
            },
        ],
        "collections": [_describe(request, c, extent) for c in REGISTRY.values()],
    }
    if _wants_html(request, f):
        return _html(request, "ogc_collections.html", {"body": body})
    return _json(body)


@router.get("/collections/{collection_id}", summary="One collection", responses=_content(_JSON_OBJECT))
def collection(
    collection_id: str,
    request: Request,
    conn: ConnDep,
    user: UserDep,
    f: str | None = Query(default=None, description=FORMAT_DOC),
) -> Response:
    _check_parameters(request, frozenset({"f"}))
    found = _collection(collection_id)
    body = _describe(request, found, items.extent(conn))
    if _wants_html(request, f):
        return _html(request, "ogc_collection.html", {"body": body, "collection": found})
    return _json(body)


@router.get(
    "/collections/{collection_id}/queryables",
    summary="Properties a filter may use (JSON Schema)",
    responses=_content(_JSON_OBJECT, "application/schema+json"),
)
def queryables(
    collection_id: str, request: Request, user: UserDep, f: str | None = Query(default=None, description=FORMAT_DOC)
) -> Response:
    _check_parameters(request, frozenset({"f"}))
    found = _collection(collection_id)
    properties: dict[str, Any] = {
        "geometry": {
            "title": "几何 geometry",
            "format": f"geometry-{found.geometry_type.lower()}",
            "x-ogc-role": "primary-geometry",
        }
    }
    for prop in found.properties:
        if prop.type in ("date", "date-time"):
            properties[prop.name] = {"title": prop.title, "type": "string", "format": prop.type}
        else:
            properties[prop.name] = {"title": prop.title, "type": prop.type}
    body = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": _url(request, f"/ogc/collections/{found.id}/queryables"),
        "type": "object",
        "title": found.title,
        "properties": properties,
        "additionalProperties": False,
    }
    if _wants_html(request, f):
        return _html(request, "ogc_queryables.html", {"body": body, "collection": found})
    return _json(body, media="application/schema+json")


@router.get(
    "/collections/{collection_id}/items",
    summary="Features of a collection: bbox, datetime, CQL2 filter, CRS, keyset pages",
    responses=_content(_FEATURES_SCHEMA, GEOJSON),
)
def collection_items(
    collection_id: str,
    request: Request,
    conn: ConnDep,
    user: UserDep,
    f: str | None = Query(default=None, description=FORMAT_DOC),
    limit: int = Query(default=items.DEFAULT_LIMIT, ge=1, le=items.MAX_LIMIT),
    bbox: str | None = Query(
        default=None, max_length=200, description="minx,miny,maxx,maxy in bbox-crs (default CRS84)"
    ),
    bbox_crs: str | None = Query(default=None, alias="bbox-crs", max_length=200),
    crs: str | None = Query(default=None, max_length=200, description="output CRS (see the collection's crs list)"),
    datetime: str | None = Query(default=None, max_length=100, description="instant or interval, RFC 3339"),
    properties: str | None = Query(default=None, max_length=2000, description="comma-separated property names"),
    filter: str | None = Query(default=None, max_length=filters.MAX_FILTER_LENGTH, description="CQL2 filter"),
    filter_lang: str | None = Query(default=None, alias="filter-lang", pattern=r"^cql2-(text|json)$"),
    filter_crs: str | None = Query(default=None, alias="filter-crs", max_length=200),
    after: str | None = Query(default=None, max_length=64, description="cursor: the page after this key"),
    before: str | None = Query(default=None, max_length=64, description="cursor: the page before this key"),
) -> Response:
    _check_parameters(request, ITEMS_PARAMETERS)
    found = _collection(collection_id)
    out_crs = crsmod.parse(crs, parameter="crs")
    query = items.ItemsQuery(
        limit=limit,
        bbox=bbox,
        bbox_crs=crsmod.parse(bbox_crs, parameter="bbox-crs"),
        crs=out_crs,
        datetime=datetime,
        properties=[p for p in properties.split(",") if p.strip()] if properties is not None else None,
        filter=filter,
        filter_lang=filter_lang,
        filter_crs=crsmod.parse(filter_crs, parameter="filter-crs"),
        after=after,
        before=before,
    )
    page = items.items(conn, found, query)
    html = _wants_html(request, f)
    params = {k: v for k, v in request.query_params.items() if k not in ("after", "before", "f")}
    path = f"/ogc/collections/{found.id}/items"
    links = [
        {"href": _url(request, path, **params, f="json"), "rel": "self", "type": GEOJSON, "title": "this page"},
        {"href": _url(request, path, **params, f="html"), "rel": "alternate", "type": "text/html", "title": "HTML"},
        {"href": _url(request, f"/ogc/collections/{found.id}"), "rel": "collection", "type": "application/json"},
    ]
    if page.has_next and page.last_key is not None:
        links.append({"href": _url(request, path, **params, after=page.last_key), "rel": "next", "type": GEOJSON})
    if page.has_prev and page.first_key is not None:
        links.append({"href": _url(request, path, **params, before=page.first_key), "rel": "prev", "type": GEOJSON})
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    headers = {"Content-Crs": f"<{out_crs.uri}>"}
    if html:
        features = [json.loads(text) for text in page.features]
        return _html(
            request,
            "ogc_items.html",
            {
                "collection": found,
                "features": features,
                "links": links,
                "matched": page.number_matched,
                "estimate": page.matched_is_estimate,
                "geojson": {"type": "FeatureCollection", "features": features} if out_crs == crsmod.DEFAULT else None,
            },
            headers=headers,
        )
    tail = {"links": links, "numberReturned": len(page.features), "timeStamp": stamp}
    if page.number_matched is not None:
        tail["numberMatched"] = page.number_matched
    body = (
        '{"type":"FeatureCollection","features":['
        + ",".join(page.features)
        + "],"
        + json.dumps(tail, ensure_ascii=False)[1:]
    )
    return Response(body, media_type=GEOJSON, headers=headers)


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    summary="One feature",
    responses=_content(_FEATURE_SCHEMA, GEOJSON),
)
def collection_item(
    collection_id: str,
    feature_id: str,
    request: Request,
    conn: ConnDep,
    user: UserDep,
    f: str | None = Query(default=None, description=FORMAT_DOC),
    crs: str | None = Query(default=None, max_length=200),
) -> Response:
    _check_parameters(request, frozenset({"f", "crs"}))
    found = _collection(collection_id)
    out_crs = crsmod.parse(crs, parameter="crs")
    text = items.item(conn, found, feature_id, out_crs)
    headers = {"Content-Crs": f"<{out_crs.uri}>"}
    path = f"/ogc/collections/{found.id}/items/{feature_id}"
    links = [
        {"href": _url(request, path), "rel": "self", "type": GEOJSON},
        {"href": _url(request, path, f="html"), "rel": "alternate", "type": "text/html"},
        {"href": _url(request, f"/ogc/collections/{found.id}"), "rel": "collection", "type": "application/json"},
    ]
    if _wants_html(request, f):
        feature = json.loads(text)
        geojson = {"type": "FeatureCollection", "features": [feature]} if out_crs == crsmod.DEFAULT else None
        return _html(
            request, "ogc_item.html", {"collection": found, "feature": feature, "geojson": geojson}, headers=headers
        )
    body = text[:-1] + ',"links":' + json.dumps(links, ensure_ascii=False) + "}"
    return Response(body, media_type=GEOJSON, headers=headers)
