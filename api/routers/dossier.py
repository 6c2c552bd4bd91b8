"""Parcel search, the 一宗一档 dossier (data and page) and the web map page.

The dossier's QR code is served by the 一码管地 routes (``/parcels/{id}/qr.svg``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from api.deps import ConnDep, SettingsDep
from landgis.maps import dossier as dossier_core

router = APIRouter(tags=["dossier"])

STATIC = Path(__file__).resolve().parent.parent / "static" / "map"


@router.get("/search", summary="Search parcels by 宗地代码, enterprise name or USCC, 坐落 or 权利人")
def search(
    conn: ConnDep,
    q: str = Query(..., description="宗地代码 (prefix), 企业名称, 统一社会信用代码, 坐落 or 权利人"),
    limit: int = Query(20, ge=1, le=dossier_core.SEARCH_LIMIT_MAX),
) -> dict[str, Any]:
    return {"query": q, "results": dossier_core.search(conn, q, limit=limit)}


@router.get("/parcels/{parcel_id}/dossier", summary="一宗一档: everything about one parcel")
def dossier(parcel_id: int, conn: ConnDep, request: Request, settings: SettingsDep) -> Response:
    data = dossier_core.dossier(conn, parcel_id)
    data["links"] = {
        "page": _page_url(request, settings.public_base_url, parcel_id),
        "qr": f"/parcels/{parcel_id}/qr.svg",
    }
    return Response(dossier_core.as_json(data), media_type="application/json")


def _page_url(request: Request, public_url: str | None, parcel_id: int) -> str:
    base = (public_url or str(request.base_url)).rstrip("/")
    return f"{base}/dossier/{parcel_id}"


@router.get("/dossier/{parcel_id}", summary="一宗一档 page (HTML)", include_in_schema=False)
def dossier_page(parcel_id: int) -> FileResponse:
    return FileResponse(STATIC / "dossier.html", media_type="text/html; charset=utf-8")


@router.get("/map", summary="The web map (HTML)", include_in_schema=False)
def map_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")
