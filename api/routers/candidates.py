"""``/candidates``: inefficient-land candidates by rules or presets, with reasons, totals and
contiguous blocks; presets and the rule catalogue; exports."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Response

from api.deps import ConnDep, PlannerDep
from api.download import EXPORT_RESPONSES, export_response
from landgis.candidates.presets import presets
from landgis.candidates.rules import LEAVES
from landgis.candidates.selection import CandidateRequest, geojson_response, parse_request, select_candidates
from landgis.export import export_candidates

router = APIRouter(prefix="/candidates", tags=["候选地块 candidates"])

EXAMPLE = {
    "preset": "huzhou-sandi",
    "params": {"above_mu_tax": 6},
    "area": {"region_code": "330699"},
    "year": 2024,
    "blocks": {"distance_m": 20, "min_block_mu": 50},
}


@router.get("/presets", summary="Shipped rule presets: id, name, description, rules, params")
def list_presets() -> list[dict[str, Any]]:
    return [p.document() for p in presets().values()]


@router.get("/rules", summary="The leaf rules a rule set can use, with their parameters")
def rule_catalogue() -> list[dict[str, Any]]:
    out = []
    for name, cls in LEAVES.items():
        schema = cls.model_json_schema()
        params = {k: v for k, v in schema.get("properties", {}).items() if k not in ("rule", "label")}
        out.append({"rule": name, "title": cls.title, "doc": (cls.__doc__ or "").strip(), "params": params})
    return out


@router.post(
    "",
    summary="Candidate parcels with reasons, totals and blocks (GeoJSON, EPSG:4490)",
    response_description="{request, totals, parcels: FeatureCollection, blocks: FeatureCollection}",
)
def candidates(conn: ConnDep, planner: PlannerDep, body: dict[str, Any] = Body(..., examples=[EXAMPLE])) -> Response:
    request = parse_request(body)
    selection = select_candidates(conn, request)
    return Response(content=geojson_response(conn, selection), media_type="application/json")


@router.post(
    "/export",
    summary="Export candidates (and blocks): xlsx, gpkg, shp (GBK, zipped), geojson",
    responses=EXPORT_RESPONSES,
)
def export(
    conn: ConnDep,
    planner: PlannerDep,
    format: Literal["xlsx", "gpkg", "shp", "geojson"] = "xlsx",
    body: dict[str, Any] = Body(..., examples=[EXAMPLE]),
) -> Response:
    request: CandidateRequest = parse_request(body)
    selection = select_candidates(conn, request)
    stem = f"候选地块_{request.preset or '自定义规则'}_{request.year}"
    return export_response(
        stem, format, lambda path: export_candidates(conn, format, path, selection.totals, selection.blocks)
    )
