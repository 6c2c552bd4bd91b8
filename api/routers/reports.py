"""Progress report of a zone or region for a year: printable HTML, Excel workbook or JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import ConnDep, UserDep, WorkflowDep
from landgis.errors import InvalidInput
from landgis.lifecycle import report

router = APIRouter(tags=["进展报告 progress reports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/reports/progress",
    summary="Targets against actuals, classes, maps and the parcels behind each number (html, xlsx or json)",
    response_class=Response,
    responses={200: {"content": {"text/html": {}, XLSX: {}, "application/json": {}}}},
)
def progress_report(
    conn: ConnDep,
    workflow: WorkflowDep,
    user: UserDep,
    year: int = Query(default_factory=lambda: dt.date.today().year - 1, ge=1990, le=2100),
    zone_id: int | None = None,
    region: str | None = Query(None, pattern=r"^\d{6}(\d{3}(\d{3})?)?$"),
    format: str = Query("html", pattern="^(html|xlsx|json)$"),
) -> Response:
    data = report.progress(conn, workflow, year=year, zone_id=zone_id, region=region, with_map=format == "html")
    if format == "html":
        return HTMLResponse(report.html(data))
    if format == "xlsx":
        name = quote(f"{data['title']}.xlsx")
        headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{name}"}
        return Response(report.workbook(data), media_type=XLSX, headers=headers)
    if format == "json":
        body: dict[str, Any] = {k: v for k, v in data.items() if k not in ("charts", "map")}
        return JSONResponse(jsonable_encoder(body))
    raise InvalidInput("format 应为 html、xlsx 或 json")  # pragma: no cover - the pattern refuses others
