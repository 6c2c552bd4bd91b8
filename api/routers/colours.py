"""一码管地 colours: the rules in force, a parcel's colour with its reasons, colours of a zone or
region for the map, counts per colour, a refresh, and replacing the rules.

Reading is open to every signed-in user, in their region scope. A refresh recomputes the
colours of the caller's parcels (admin); replacing the rules changes every region's colours, so
it needs an administrator of every region.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import AdminDep, ConnDep, GlobalAdminDep, UserDep
from landgis import audit
from landgis.lifecycle import colours

router = APIRouter(tags=["一码管地 colours"])

REGION = Query(None, pattern=r"^\d{6}(\d{3}(\d{3})?)?$", description="行政区划代码 prefix")


class RulesIn(BaseModel):
    rules: list[dict[str, Any]] = Field(
        min_length=1,
        description="the whole rule set, in order (as in colour_rules.yaml): code, kind, colour, label, enabled, params",
        examples=[
            [
                {"code": "idle_land", "kind": "idle_land", "colour": "red", "label": "闲置土地"},
                {
                    "code": "class_c",
                    "kind": "eval_class",
                    "colour": "yellow",
                    "label": "C类",
                    "params": {"classes": ["C"]},
                },
            ]
        ],
    )


@router.get("/colour-rules", summary="The colour rules in force (红码/黄码 rules, parameters, order)")
def colour_rules(conn: ConnDep, user: UserDep) -> list[dict[str, Any]]:
    return colours.list_rules(conn)


@router.put(
    "/colour-rules",
    summary="Replace the colour rules and recompute every colour (administrator of every region)",
)
def replace_colour_rules(
    body: RulesIn, conn: ConnDep, admin: GlobalAdminDep, as_of: dt.date | None = None
) -> dict[str, Any]:
    rules = colours.parse_rules({"rules": body.rules}, "rules")
    changed = colours.apply_rules(conn, rules, as_of=as_of)
    audit.record(conn, "colour_rules_replaced", target_table="colour_rule", details={"codes": [r.code for r in rules]})
    return {"rules": colours.list_rules(conn), "changed": changed}


@router.get("/parcels/{parcel_id}/colour", summary="A parcel's colour and the reasons for it")
def parcel_colour(parcel_id: int, conn: ConnDep, user: UserDep) -> dict[str, Any]:
    return colours.colour_of(conn, parcel_id)


@router.get("/colours", summary="Colours of the parcels of a zone or region (red first)")
def list_colours(
    conn: ConnDep,
    user: UserDep,
    zone_id: int | None = None,
    region: str | None = REGION,
    colour: str | None = Query(None, description="red, yellow or green"),
    limit: int = Query(1000, ge=1, le=10000),
    offset: int = Query(0, ge=0),
) -> list[dict[str, Any]]:
    return colours.list_colours(conn, zone_id=zone_id, region=region, colour=colour, limit=limit, offset=offset)


@router.get("/colours/summary", summary="Parcels and 亩 per colour, and matches per rule")
def colour_summary(
    conn: ConnDep, user: UserDep, zone_id: int | None = None, region: str | None = REGION
) -> dict[str, Any]:
    return colours.summary(conn, zone_id=zone_id, region=region)


@router.post("/colours/refresh", summary="Recompute the colours of the parcels in your scope (admin)")
def refresh_colours(conn: ConnDep, admin: AdminDep, as_of: dt.date | None = None) -> dict[str, Any]:
    changed = colours.refresh(conn, as_of=as_of)
    return {"changed": changed, "as_of": as_of or dt.date.today()}
