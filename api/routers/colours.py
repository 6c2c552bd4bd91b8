"""一码管地 colours: the rules in force, a parcel's colour with its reasons, colours of a zone or
region for the map, counts per colour, and a refresh."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query

from api.deps import ConnDep
from landgis.lifecycle import colours

router = APIRouter(tags=["一码管地 colours"])


@router.get("/colour-rules", summary="The colour rules in force (红码/黄码 rules, parameters, order)")
def colour_rules(conn: ConnDep) -> list[dict[str, Any]]:
    return colours.list_rules(conn)


@router.get("/parcels/{parcel_id}/colour", summary="A parcel's colour and the reasons for it")
def parcel_colour(parcel_id: int, conn: ConnDep) -> dict[str, Any]:
    return colours.colour_of(conn, parcel_id)


@router.get("/colours", summary="Colours of the parcels of a zone or region (red first)")
def list_colours(
    conn: ConnDep,
    zone_id: int | None = None,
    region: str | None = Query(None, pattern=r"^\d{6}(\d{3}(\d{3})?)?$", description="行政区划代码 prefix"),
    colour: str | None = Query(None, description="red, yellow or green"),
    limit: int = Query(1000, ge=1, le=10000),
    offset: int = Query(0, ge=0),
) -> list[dict[str, Any]]:
    return colours.list_colours(conn, zone_id=zone_id, region=region, colour=colour, limit=limit, offset=offset)


@router.get("/colours/summary", summary="Parcels and 亩 per colour, and matches per rule")
def colour_summary(
    conn: ConnDep,
    zone_id: int | None = None,
    region: str | None = Query(None, pattern=r"^\d{6}(\d{3}(\d{3})?)?$"),
) -> dict[str, Any]:
    return colours.summary(conn, zone_id=zone_id, region=region)


@router.post("/colours/refresh", summary="Recompute the colours of the parcels in scope (as of today)")
def refresh_colours(conn: ConnDep, as_of: dt.date | None = None) -> dict[str, Any]:
    changed = colours.refresh(conn, as_of=as_of)
    return {"changed": changed, "as_of": as_of or dt.date.today()}
