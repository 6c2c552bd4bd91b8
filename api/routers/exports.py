"""Standalone HTML map exports with folium (a zone, a saved plan).

folium links Leaflet, jQuery and Bootstrap from CDNs by default; these exports drop those links
and inline Leaflet's JS and CSS from our own npm assets, so the file works on an intranet and
when opened from disk. The basemap tiles, when wanted, come from this service.
"""

from __future__ import annotations

import html
from typing import Any

import folium
from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from api.deps import ConnDep
from landgis.errors import NotFound
from landgis.maps.dossier import RENEWAL_STATUS_LABELS
from landgis.plans import get_plan
from landgis.settings import project_root

router = APIRouter(tags=["exports"])

STATUS_COLOURS = {
    "normal": "#b0bec5",
    "identified": "#e53935",
    "planned": "#fb8c00",
    "in_progress": "#fdd835",
    "freed": "#8e24aa",
    "resupplied": "#1e88e5",
    "producing": "#00897b",
    "upgraded": "#43a047",
    "exempt": "#6d4c41",
}

ZONE_SQL = text(
    "SELECT id, code, name, zone_type, area_mu, ST_AsGeoJSON(boundary, 7)::json AS geometry, "
    "ARRAY[ST_YMin(boundary), ST_XMin(boundary), ST_YMax(boundary), ST_XMax(boundary)] AS bounds "
    "FROM zone WHERE id = :id AND landgis_in_scope(region_code)"
)
ZONE_PARCELS_SQL = text(
    "SELECT p.id, p.zddm, p.location, p.area_mu, p.renewal_status, ST_AsGeoJSON(p.geom, 7)::json AS geometry "
    "FROM parcel p WHERE p.zone_id = :id AND landgis_in_scope(p.region_code) ORDER BY p.id"
)

# A plan's parcels, blocks and extent in the caller's scope (the views are security_invoker too).
PLAN_PARCELS_SQL = text(
    "SELECT v.parcel_id AS id, p.zddm, p.location, v.area_mu, p.renewal_status, "
    "ST_AsGeoJSON(v.geom, 7)::json AS geometry FROM v_plan_parcel v JOIN parcel p ON p.id = v.parcel_id "
    "WHERE v.plan_id = :id AND landgis_in_scope(v.region_code) ORDER BY v.parcel_id"
)
PLAN_BLOCKS_SQL = text(
    "SELECT block_id, parcels, area_mu, ST_AsGeoJSON(geom, 7)::json AS geometry FROM v_plan_block "
    "WHERE plan_id = :id AND landgis_in_scope(region_code) ORDER BY block_id"
)
PLAN_BOUNDS_SQL = text(
    "SELECT ARRAY[ST_YMin(e), ST_XMin(e), ST_YMax(e), ST_XMax(e)] FROM "
    "(SELECT ST_Extent(geom) e FROM v_plan_parcel WHERE plan_id = :id AND landgis_in_scope(region_code)) q"
)


def _leaflet_inline() -> tuple[str, str]:
    dist = project_root() / "node_modules" / "leaflet" / "dist"
    js = (dist / "leaflet.js").read_text(encoding="utf-8")
    css = (dist / "leaflet.css").read_text(encoding="utf-8")
    return js, css


def _map(bounds: list[float], base: str, title: str) -> folium.Map:
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=True)
    # No CDN: folium's default <script>/<link> tags are dropped and Leaflet is inlined below.
    m.default_js = []
    m.default_css = []
    js, css = _leaflet_inline()
    root: Any = m.get_root()  # a folium Figure (typed as its base Element)
    root.header.add_child(folium.Element(f"<style>{css}</style>"), name="leaflet_css")
    root.header.add_child(folium.Element(f"<script>{js}</script>"), name="leaflet_js")
    root.header.add_child(folium.Element(f"<title>{html.escape(title)}</title>"), name="title")
    folium.TileLayer(
        tiles=f"{base}/tiles/basemap_hillshade/{{z}}/{{x}}/{{y}}.png",
        attr="landgis 本地底图",
        name="本地底图",
        max_zoom=18,
    ).add_to(m)
    m.fit_bounds([[bounds[0], bounds[1]], [bounds[2], bounds[3]]])
    return m


def _features(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": r["geometry"],
                "properties": {
                    "宗地代码": r.get("zddm") or "",
                    "坐落": r.get("location") or "",
                    "面积(亩)": round(float(r.get("area_mu") or 0), 2),
                    "状态": RENEWAL_STATUS_LABELS.get(r.get("renewal_status") or "", r.get("renewal_status") or ""),
                    "_colour": STATUS_COLOURS.get(r.get("renewal_status") or "", "#b0bec5"),
                },
            }
            for r in rows
        ],
    }


def _html(m: folium.Map) -> Response:
    page = m.get_root().render()
    return Response(page, media_type="text/html; charset=utf-8")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/exports/zones/{zone_id}/map.html", summary="Standalone HTML map of a zone and its parcels (folium)")
def zone_map(zone_id: int, conn: ConnDep, request: Request) -> Response:
    zone = conn.execute(ZONE_SQL, {"id": zone_id}).mappings().one_or_none()
    if zone is None:
        raise NotFound(f"园区 {zone_id} 不存在或不在您的管辖范围内 (zone not found)")
    parcels = [dict(r) for r in conn.execute(ZONE_PARCELS_SQL, {"id": zone_id}).mappings()]
    m = _map(list(zone["bounds"]), _base(request), f"{zone['name']} 宗地分布")
    folium.GeoJson(
        {"type": "Feature", "geometry": zone["geometry"], "properties": {"name": zone["name"]}},
        name=f"园区 {zone['name']}",
        style_function=lambda f: {"color": "#3949ab", "weight": 3, "fill": False, "dashArray": "6 4"},
    ).add_to(m)
    _parcel_layer(parcels, "宗地（更新状态）").add_to(m)
    folium.LayerControl().add_to(m)
    return _html(m)


def _parcel_layer(parcels: list[dict[str, Any]], name: str) -> folium.GeoJson:
    return folium.GeoJson(
        _features(parcels),
        name=name,
        style_function=lambda f: {
            "fillColor": f["properties"]["_colour"],
            "color": "#37474f",
            "weight": 0.6,
            "fillOpacity": 0.7,
        },
        tooltip=folium.GeoJsonTooltip(fields=["宗地代码", "坐落", "面积(亩)", "状态"]),
    )


def _block_layer(blocks: list[dict[str, Any]]) -> folium.GeoJson:
    return folium.GeoJson(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": b["geometry"],
                    "properties": {
                        "连片区块": int(b["block_id"]),
                        "宗地数": int(b["parcels"]),
                        "连片面积(亩)": round(float(b["area_mu"] or 0), 2),
                    },
                }
                for b in blocks
            ],
        },
        name="连片区块",
        style_function=lambda f: {"color": "#6a1b9a", "weight": 3, "fill": False},
        tooltip=folium.GeoJsonTooltip(fields=["连片区块", "宗地数", "连片面积(亩)"]),
    )


@router.get("/exports/plans/{plan_id}/map.html", summary="Standalone HTML map of a saved plan (folium)")
def plan_map(plan_id: int, conn: ConnDep, request: Request) -> Response:
    # First of all the plan itself: one outside the caller's scope is as absent as a missing one.
    plan = get_plan(conn, plan_id)
    parcels = [dict(r) for r in conn.execute(PLAN_PARCELS_SQL, {"id": plan_id}).mappings()]
    if not parcels:
        raise NotFound(f"方案 {plan_id} 在您的管辖范围内没有候选宗地 (the plan has no parcels in your scope)")
    blocks = [dict(r) for r in conn.execute(PLAN_BLOCKS_SQL, {"id": plan_id}).mappings()]
    bounds = conn.execute(PLAN_BOUNDS_SQL, {"id": plan_id}).scalar_one()
    m = _map(list(bounds), _base(request), f"更新方案 {plan['name']}")
    _parcel_layer(parcels, "候选宗地").add_to(m)
    if blocks:  # a plan saved without blocks has none (and folium refuses a tooltip over no features)
        _block_layer(blocks).add_to(m)
    folium.LayerControl().add_to(m)
    return _html(m)
