"""``/totals``: zone and region totals against targets (治理/腾出 area, 亩均, FAR, classes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.deps import ConnDep
from api.download import EXPORT_RESPONSES, export_response
from landgis.export import export_totals
from landgis.totals import zone_totals

router = APIRouter(prefix="/totals", tags=["园区汇总 totals"])

Year = Annotated[int, Query(ge=1990, le=2100)]


@router.get("", summary="Totals per zone and region for a year, with target progress")
def totals(conn: ConnDep, year: Year, region_code: str | None = None) -> dict[str, Any]:
    return zone_totals(conn, year, region_code=region_code)


@router.get(
    "/export", summary="The totals as an Excel workbook (Chinese headers and units)", responses=EXPORT_RESPONSES
)
def export(conn: ConnDep, year: Year, region_code: str | None = None) -> Response:
    stem = f"园区汇总_{region_code or '全部'}_{year}"
    return export_response(stem, "xlsx", lambda path: export_totals(conn, year, path, region_code))
