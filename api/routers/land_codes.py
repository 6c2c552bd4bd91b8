"""一码管地: a land code's file (land, colour, renewal, enterprises, projects, 标准地) and its QR
code, and printable QR sheets per zone. The QR encodes the dossier page
(``LANDGIS_DOSSIER_URL_TEMPLATE``, default ``{base_url}/dossier/{parcel_id}``).

Every route needs a signed-in user and answers only for parcels in the user's region scope (a
code outside it is "not found", like one that does not exist)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import text

from api.deps import ConnDep, SettingsDep, UserDep, WorkflowDep
from landgis.errors import NotFound
from landgis.lifecycle import landcode
from landgis.settings import Settings

router = APIRouter(tags=["一码管地 land codes"])

#: QR images never change for a code unless the URL template does: let browsers keep them a day.
QR_CACHE = "private, max-age=86400"


def base_url(request: Request, settings: Settings) -> str:
    return (settings.public_base_url or str(request.base_url)).rstrip("/")


def _qr_target(conn: ConnDep, settings: Settings, request: Request, parcel: dict[str, Any]) -> str:
    return landcode.dossier_url(
        settings.dossier_url_template,
        base_url=base_url(request, settings),
        parcel_id=parcel["id"],
        land_code=parcel["land_code"],
    )


@router.get("/land-codes/{code}", summary="The file of one land code (地块码档案)")
def land_code_dossier(code: str, conn: ConnDep, workflow: WorkflowDep, user: UserDep) -> dict[str, Any]:
    return landcode.dossier(conn, workflow, code)


@router.get(
    "/land-codes/{code}/qr.{fmt}",
    summary="QR code (PNG or SVG) of a land code, encoding its dossier URL",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
)
def land_code_qr(
    code: str,
    fmt: str,
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    user: UserDep,
    scale: int = Query(6, ge=1, le=20, description="pixels per module (PNG)"),
) -> Response:
    parcel = landcode.parcel_by_code(conn, code)
    return _qr_response(_qr_target(conn, settings, request, parcel), fmt, scale)


@router.get(
    "/parcels/{parcel_id}/qr.{fmt}",
    summary="QR code (PNG or SVG) of a parcel's land code",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
)
def parcel_qr(
    parcel_id: int,
    fmt: str,
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    user: UserDep,
    scale: int = Query(6, ge=1, le=20),
) -> Response:
    row = (
        conn.execute(
            text("SELECT id, land_code FROM parcel WHERE id = :id AND landgis_in_scope(region_code)"),
            {"id": parcel_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"地块 {parcel_id} 不存在或不在您的管辖范围内 (parcel not found)")
    return _qr_response(_qr_target(conn, settings, request, dict(row)), fmt, scale)


def _qr_response(url: str, fmt: str, scale: int) -> Response:
    headers = {"Cache-Control": QR_CACHE, "X-QR-Target": url}
    if fmt == "png":
        return Response(landcode.qr_png(url, scale=scale), media_type="image/png", headers=headers)
    if fmt == "svg":
        return Response(landcode.qr_svg(url, scale=scale), media_type="image/svg+xml", headers=headers)
    raise NotFound("只提供 png 或 svg (qr.png or qr.svg)")


@router.get("/zones/{zone_id}/qr-sheet", response_class=HTMLResponse, summary="Printable QR sheet of a zone's parcels")
def zone_qr_sheet(
    zone_id: int,
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    user: UserDep,
    colour: str | None = Query(None, description="only parcels of this colour: red, yellow, green"),
) -> HTMLResponse:
    html = landcode.qr_sheet_html(
        conn,
        zone_id=zone_id,
        base_url=base_url(request, settings),
        template=settings.dossier_url_template,
        colour=colour,
    )
    return HTMLResponse(html)
