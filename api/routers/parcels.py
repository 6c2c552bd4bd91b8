"""``/parcels``: find parcels, read one, edit its attributes, renewal status and occupancy, read its history.

Reads are open to every signed-in user; edits need the officer role (or admin). Everything runs
under the caller's region scope: a parcel outside it answers 404, like one that does not exist.

The renewal status changes only through the renewal workflow (``landgis.lifecycle.events``):
``POST /parcels/{id}/status`` is a short form of ``POST /parcels/{id}/transitions`` and records
the same step, change history and audit event; ``PATCH`` cannot touch the status.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ConnDep, OfficerDep, UserDep, WorkflowDep
from landgis import audit
from landgis.errors import PreconditionFailed
from landgis.geoinput import parse_bbox, parse_geojson
from landgis.lifecycle import events
from landgis.parcels import edit, query

router = APIRouter(prefix="/parcels", tags=["parcels"])

ParcelId = Annotated[int, Field(ge=1, le=2**62)]


class ParcelSummary(BaseModel):
    id: int
    zddm: str | None = Field(description="宗地代码", examples=["330699001001GB00001"])
    zddm_raw: str | None
    region_code: str
    zone_id: int | None
    location: str | None = Field(description="坐落")
    right_holder: str | None = Field(description="权利人")
    area_mu: float = Field(description="面积, 亩")
    far: float | None = Field(description="容积率")
    land_use_code: str | None
    renewal_status: str
    updated_at: dt.datetime


class ParcelPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ParcelSummary]


class OccupancyOut(BaseModel):
    id: int
    enterprise_id: int
    enterprise_name: str
    uscc: str | None
    land_area_mu: float | None = Field(description="用地面积, 亩; null = the whole parcel")
    tenure: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    source: str | None


class ParcelDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    zddm: str | None
    region_code: str
    zone_id: int | None
    zone_name: str | None
    area_m2: float
    area_mu: float
    renewal_status: str
    renewal_status_label: str
    updated_at: dt.datetime
    occupancy: list[OccupancyOut]
    geometry: dict[str, Any] | None = Field(default=None, description="GeoJSON in CRS84, when geometry=true")


class ParcelSearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zddm: str | None = Field(default=None, max_length=40, description="宗地代码 or its beginning")
    address: str | None = Field(default=None, max_length=200, description="part of 坐落")
    right_holder: str | None = Field(default=None, max_length=200, description="part of 权利人")
    enterprise: str | None = Field(default=None, max_length=200, description="enterprise name (part) or USCC")
    region: str | None = Field(default=None, pattern=r"^\d{6,12}$", description="行政区划代码 prefix")
    zone_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    status: list[str] = Field(default_factory=list, max_length=9)
    polygon: dict[str, Any] | None = Field(
        default=None,
        description="GeoJSON Polygon/MultiPolygon (CRS84): parcels that intersect it",
        examples=[{"type": "Polygon", "coordinates": [[[120.5, 29.9], [120.7, 29.9], [120.7, 30.1], [120.5, 29.9]]]}],
    )
    sort: str = Field(default="id", max_length=20)
    limit: int = Field(default=50, ge=1, le=query.MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=query.MAX_OFFSET)


class ParcelPatch(BaseModel):
    """Attributes an officer may correct; fields left out stay as they are, null clears a value."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"far": 1.2, "building_safety_grade": "B"}]}
    )

    location: str | None = Field(default=None, max_length=500, description="坐落")
    right_holder: str | None = Field(default=None, max_length=500, description="权利人")
    land_use_code: str | None = Field(default=None, max_length=16, pattern=r"^[0-9A-Za-z]+$")
    land_use_system: str | None = Field(default=None, max_length=16)
    far: float | None = Field(default=None, ge=0, le=30, description="容积率")
    building_coverage: float | None = Field(default=None, ge=0, le=1, description="建筑密度")
    floor_area_m2: float | None = Field(default=None, ge=0, le=1e8)
    building_safety_grade: str | None = Field(default=None, pattern=r"^[ABCD]$")
    contract_no: str | None = Field(default=None, max_length=100)
    contract_date: dt.date | None = None
    supply_method: str | None = Field(default=None, max_length=16)
    is_standard_land: bool | None = None
    land_price_wan: float | None = Field(default=None, ge=0, le=1e8, description="土地价款, 万元")
    declared_area_m2: float | None = Field(default=None, ge=0, le=1e9)
    far_min: float | None = Field(default=None, ge=0, le=30)
    far_max: float | None = Field(default=None, ge=0, le=30)
    far_agreed_raw: str | None = Field(default=None, max_length=100)
    coverage_min: float | None = Field(default=None, ge=0, le=1)
    coverage_max: float | None = Field(default=None, ge=0, le=1)
    agreed_delivery_date: dt.date | None = None
    actual_delivery_date: dt.date | None = None
    agreed_start_date: dt.date | None = None
    actual_start_date: dt.date | None = None
    agreed_completion_date: dt.date | None = None
    actual_completion_date: dt.date | None = None
    agreed_production_date: dt.date | None = None
    actual_production_date: dt.date | None = None


class FieldChange(BaseModel):
    old: Any
    new: Any


class EditResult(BaseModel):
    id: int
    changed: dict[str, FieldChange]


class StatusChange(BaseModel):
    """A step of the renewal workflow, in short: the target status and why. Steps that need more
    (documents, a renewal mode, an area) take them here too; see ``GET /workflow``."""

    model_config = ConfigDict(extra="forbid")

    status: str = Field(max_length=32, examples=["identified"], description="one of /parcels/statuses")
    reason: str = Field(min_length=2, max_length=1000, examples=["2024年亩均税收低于3万元/亩, 经联审认定为低效用地"])
    event_date: dt.date | None = Field(default=None, description="date the step took effect; default today")
    documents: list[str] = Field(
        default_factory=list, max_length=50, description="document references (文号), required by some steps"
    )
    renewal_mode: str | None = Field(default=None, max_length=32, description="改造方式 code, for steps that take one")
    area_mu: float | None = Field(default=None, ge=0, le=1e6, description="area concerned in 亩 (partial steps)")


class StatusResult(BaseModel):
    id: int
    from_status: str
    to_status: str
    to_label: str
    event_id: int = Field(description="the renewal_event recorded for the step")


class StatusInfo(BaseModel):
    code: str
    label: str
    next: list[str]


class OccupancyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enterprise_id: int = Field(ge=1, le=2**62)
    land_area_mu: float | None = Field(default=None, ge=0, le=1e6, description="亩; null = the whole parcel")
    tenure: str = Field(default="own", pattern=r"^(own|lease)$")
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


class OccupancyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    land_area_mu: float | None = Field(default=None, ge=0, le=1e6)
    tenure: str | None = Field(default=None, pattern=r"^(own|lease)$")
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


class HistoryEntryOut(BaseModel):
    kind: str = Field(description="change (a row change) or event (an audited action)")
    occurred_at: dt.datetime
    actor: str
    client_addr: str | None
    request_id: str | None
    table_name: str
    row_id: int | None
    action: str
    changes: dict[str, Any] = Field(description='{"field": {"old": .., "new": ..}} or the event details')


@router.get(
    "",
    response_model=ParcelPage,
    summary="Find parcels by 宗地代码, address, holder, enterprise, region, status or bbox",
)
def list_parcels(
    conn: ConnDep,
    user: UserDep,
    zddm: str | None = Query(default=None, max_length=40, description="宗地代码 or its beginning"),
    address: str | None = Query(default=None, max_length=200, description="part of 坐落"),
    right_holder: str | None = Query(default=None, max_length=200),
    enterprise: str | None = Query(default=None, max_length=200, description="enterprise name (part) or USCC"),
    enterprise_id: int | None = Query(default=None, ge=1, le=2**62),
    region: str | None = Query(default=None, pattern=r"^\d{6,12}$"),
    zone_id: int | None = Query(default=None, ge=1, le=2**31 - 1),
    status: list[str] = Query(default=[], max_length=9),
    bbox: str | None = Query(default=None, max_length=200, description="minlon,minlat,maxlon,maxlat (CRS84)"),
    sort: str = Query(
        default="id", max_length=20, description=f"one of {', '.join(query.SORT_COLUMNS)}; -x descending"
    ),
    limit: int = Query(default=50, ge=1, le=query.MAX_LIMIT),
    offset: int = Query(default=0, ge=0, le=query.MAX_OFFSET),
) -> ParcelPage:
    search = query.ParcelSearch(
        zddm=zddm,
        address=address,
        right_holder=right_holder,
        enterprise=enterprise,
        enterprise_id=enterprise_id,
        region=region,
        zone_id=zone_id,
        status=status,
        bbox=parse_bbox(bbox) if bbox else None,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    total, rows = query.search_parcels(conn, search)
    return ParcelPage(total=total, limit=limit, offset=offset, items=[ParcelSummary(**r) for r in rows])


@router.post("/search", response_model=ParcelPage, summary="Find parcels, also by a polygon (GeoJSON)")
def search_parcels(body: ParcelSearchBody, conn: ConnDep, user: UserDep) -> ParcelPage:
    polygon = parse_geojson(body.polygon, field="polygon") if body.polygon is not None else None
    search = query.ParcelSearch(
        zddm=body.zddm,
        address=body.address,
        right_holder=body.right_holder,
        enterprise=body.enterprise,
        region=body.region,
        zone_id=body.zone_id,
        status=body.status,
        polygon=polygon,
        sort=body.sort,
        limit=body.limit,
        offset=body.offset,
    )
    total, rows = query.search_parcels(conn, search)
    return ParcelPage(total=total, limit=body.limit, offset=body.offset, items=[ParcelSummary(**r) for r in rows])


@router.get(
    "/statuses", response_model=list[StatusInfo], summary="Renewal statuses, their labels and allowed next steps"
)
def renewal_statuses(user: UserDep, workflow: WorkflowDep) -> list[StatusInfo]:
    return [
        StatusInfo(code=code, label=label, next=[t.target for t in workflow.allowed_from(code)])
        for code, label in workflow.states.items()
    ]


@router.get("/{parcel_id}", response_model=ParcelDetail, summary="One parcel with its zone and enterprises (ETag)")
def get_parcel(
    parcel_id: ParcelId,
    conn: ConnDep,
    user: UserDep,
    workflow: WorkflowDep,
    response: Response,
    geometry: bool = False,
) -> ParcelDetail:
    parcel = query.get_parcel(conn, parcel_id, geometry=geometry)
    parcel["renewal_status_label"] = workflow.state_label(parcel["renewal_status"])
    response.headers["ETag"] = query.parcel_etag(conn, parcel_id)
    return ParcelDetail(**parcel)


def _check_if_match(conn: ConnDep, parcel_id: int, if_match: str | None) -> None:
    if if_match is not None and if_match.strip() != "*" and if_match.strip() != query.parcel_etag(conn, parcel_id):
        raise PreconditionFailed("宗地已被他人修改, 请刷新后重试 (the parcel changed since you read it)")


@router.patch("/{parcel_id}", response_model=EditResult, summary="Correct a parcel's attributes (officer)")
def patch_parcel(
    parcel_id: ParcelId,
    body: ParcelPatch,
    conn: ConnDep,
    officer: OfficerDep,
    response: Response,
    if_match: str | None = Header(default=None, max_length=100, description="ETag from GET; 412 when stale"),
) -> EditResult:
    _check_if_match(conn, parcel_id, if_match)
    changed = edit.update_attributes(conn, parcel_id, body.model_dump(exclude_unset=True))
    response.headers["ETag"] = query.parcel_etag(conn, parcel_id)
    return EditResult(id=parcel_id, changed={k: FieldChange(**v) for k, v in changed.items()})


@router.post(
    "/{parcel_id}/status",
    response_model=StatusResult,
    summary="Take the renewal workflow's step to a status, with a reason (officer)",
)
def change_status(
    parcel_id: ParcelId,
    body: StatusChange,
    request: Request,
    conn: ConnDep,
    officer: OfficerDep,
    workflow: WorkflowDep,
) -> StatusResult:
    step = events.TransitionRequest(
        to_status=body.status,
        event_date=body.event_date or dt.date.today(),
        user=officer.actor,
        renewal_mode=body.renewal_mode,
        area_mu=body.area_mu,
        documents=body.documents,
        note=body.reason,
    )
    event = events.apply_transition(
        conn, workflow, parcel_id, step, request_id=getattr(request.state, "request_id", None)
    )
    return StatusResult(
        id=parcel_id,
        from_status=event["from_status"],
        to_status=event["to_status"],
        to_label=event["to_label"],
        event_id=event["id"],
    )


@router.get("/{parcel_id}/occupancy", response_model=list[OccupancyOut], summary="Enterprises using the parcel")
def list_occupancy(parcel_id: ParcelId, conn: ConnDep, user: UserDep, current_only: bool = False) -> list[OccupancyOut]:
    query.region_of(conn, parcel_id)  # 404 outside the scope
    return [OccupancyOut(**o) for o in query.occupancy_of(conn, parcel_id, current_only=current_only)]


@router.post(
    "/{parcel_id}/occupancy",
    response_model=OccupancyOut,
    status_code=201,
    summary="Record an enterprise on the parcel (officer)",
)
def add_occupancy(parcel_id: ParcelId, body: OccupancyIn, conn: ConnDep, officer: OfficerDep) -> OccupancyOut:
    new_id = edit.add_occupancy(conn, parcel_id, body.model_dump())
    return next(OccupancyOut(**o) for o in query.occupancy_of(conn, parcel_id) if o["id"] == new_id)


@router.patch(
    "/{parcel_id}/occupancy/{occupancy_id}", response_model=EditResult, summary="Change an occupancy (officer)"
)
def patch_occupancy(
    parcel_id: ParcelId, occupancy_id: ParcelId, body: OccupancyPatch, conn: ConnDep, officer: OfficerDep
) -> EditResult:
    changed = edit.update_occupancy(conn, parcel_id, occupancy_id, body.model_dump(exclude_unset=True))
    return EditResult(id=occupancy_id, changed={k: FieldChange(**v) for k, v in changed.items()})


@router.delete(
    "/{parcel_id}/occupancy/{occupancy_id}",
    status_code=204,
    summary="Delete an occupancy recorded by mistake (officer)",
)
def delete_occupancy(parcel_id: ParcelId, occupancy_id: ParcelId, conn: ConnDep, officer: OfficerDep) -> Response:
    edit.delete_occupancy(conn, parcel_id, occupancy_id)
    return Response(status_code=204)


@router.get(
    "/{parcel_id}/history", response_model=list[HistoryEntryOut], summary="Who changed what and when, newest first"
)
def history(
    parcel_id: ParcelId,
    conn: ConnDep,
    user: UserDep,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=100_000),
) -> list[HistoryEntryOut]:
    entries = audit.parcel_history(conn, parcel_id, limit=limit, offset=offset)
    return [HistoryEntryOut(**e.__dict__) for e in entries]
