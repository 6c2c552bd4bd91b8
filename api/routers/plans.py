"""``/plans``: renewal plans (scenarios) saved from candidate results; comparison and export."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from api.deps import ConnDep, PlannerDep
from api.download import EXPORT_RESPONSES, export_response
from landgis.candidates.selection import parse_request
from landgis.export import export_plan
from landgis.plans import compare_plans, delete_plan, get_plan, list_plans, save_plan

router = APIRouter(prefix="/plans", tags=["更新方案 plans"])


class PlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str | None = None
    request: dict[str, Any] = Field(description="a POST /candidates body")


@router.post("", status_code=201, summary="Save a candidate selection as a named plan")
def create(body: PlanRequest, conn: ConnDep, request: Request, planner: PlannerDep) -> dict[str, Any]:
    actor = getattr(request.state, "actor", None) or "anonymous"
    return save_plan(conn, body.name, parse_request(body.request), description=body.description, actor=actor)


@router.get("", summary="Plans in your scope")
def plans(conn: ConnDep, year: int | None = None) -> list[dict[str, Any]]:
    return list_plans(conn, year)


@router.get("/compare", summary="Compare plans: totals and pairwise overlap in parcels and 亩")
def compare(conn: ConnDep, ids: Annotated[list[int], Query(min_length=2)]) -> dict[str, Any]:
    return compare_plans(conn, ids)


@router.get("/{plan_id}", summary="One plan with its request and totals")
def plan(plan_id: int, conn: ConnDep) -> dict[str, Any]:
    return get_plan(conn, plan_id)


@router.get("/{plan_id}/parcels", summary="A plan's parcels as GeoJSON (EPSG:4490)")
def plan_parcels(plan_id: int, conn: ConnDep) -> Response:
    get_plan(conn, plan_id)
    body = conn.execute(
        text(
            "SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object("
            "'type', 'Feature', 'id', pp.parcel_id, 'geometry', CAST(ST_AsGeoJSON(p.geom, 7) AS json),"
            " 'properties', json_build_object('parcel_id', pp.parcel_id, 'zddm', p.zddm, 'area_mu', pp.area_mu,"
            " 'mu_tax', pp.mu_tax, 'far', pp.far, 'tax_wan', pp.tax_wan, 'block_id', pp.block_no,"
            " 'reasons', pp.reasons)) ORDER BY pp.parcel_id), '[]'::json))::text"
            " FROM plan_parcel pp JOIN parcel p ON p.id = pp.parcel_id"
            " WHERE pp.plan_id = :id AND (landgis_setting('landgis.scope') IS NULL OR landgis_in_scope(p.region_code))"
        ),
        {"id": plan_id},
    ).scalar_one()
    return Response(content=body, media_type="application/geo+json")


@router.delete("/{plan_id}", status_code=204, summary="Delete a plan")
def remove(plan_id: int, conn: ConnDep, planner: PlannerDep) -> Response:
    delete_plan(conn, plan_id)
    return Response(status_code=204)


@router.get(
    "/{plan_id}/export", summary="Export a plan: xlsx, gpkg, shp (GBK, zipped), geojson", responses=EXPORT_RESPONSES
)
def export(
    plan_id: int,
    conn: ConnDep,
    format: Literal["xlsx", "gpkg", "shp", "geojson"] = "xlsx",
) -> Response:
    info = get_plan(conn, plan_id)
    return export_response(f"更新方案_{info['name']}", format, lambda path: export_plan(conn, plan_id, format, path))
