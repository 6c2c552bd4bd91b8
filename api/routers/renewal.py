"""Renewal workflow: the configured states and transitions, a parcel's steps, and taking a step.

``POST /parcels/{id}/transitions`` takes a parcel one step (正常 → 认定低效 → 列入计划 → 整治中 →
已腾出 → 已再供应 → 已投产 …) or answers 409 with the steps allowed instead. Reading is open to
every signed-in user; steps and undo need the officer role, and are recorded as the signed-in
user's (a name sent in the request body is ignored).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.deps import ConnDep, OfficerDep, UserDep, WorkflowDep
from landgis.lifecycle import events

router = APIRouter(tags=["renewal workflow 更新流程"])

PAGE = Path(__file__).resolve().parent.parent / "static" / "lifecycle" / "workflow.html"


class TransitionIn(BaseModel):
    to_status: str = Field(description="target state code, e.g. identified, planned, freed")
    event_date: dt.date = Field(description="date the step took effect (not in the future)")
    renewal_mode: str | None = Field(default=None, description="改造方式 code: acquisition 收储, merger 兼并重组 …")
    area_mu: float | None = Field(default=None, description="area concerned in 亩 (partial steps); default: the parcel")
    documents: list[str] = Field(default_factory=list, description="document references, e.g. 县政办〔2024〕12号")
    note: str | None = None
    far_after: float | None = Field(default=None, description="new 容积率, for steps that record it")


class UndoIn(BaseModel):
    reason: str = Field(min_length=1, description="why the step is undone")
    event_id: int | None = Field(default=None, description="the latest event's id, as a guard")


class EventOut(BaseModel):
    id: int
    parcel_id: int
    from_status: str
    from_label: str
    to_status: str
    to_label: str
    event_date: dt.date
    renewal_mode: str | None
    renewal_mode_label: str | None
    area_mu: float
    counts_governed: bool
    counts_freed: bool
    documents: list[str]
    note: str | None
    details: dict[str, Any]
    recorded_by: str
    recorded_at: dt.datetime
    revoked: bool
    revoked_at: dt.datetime | None
    revoked_by: str | None
    revoke_reason: str | None


class ParcelStateOut(BaseModel):
    id: int
    land_code: str
    zddm: str | None
    renewal_status: str
    renewal_status_label: str
    area_mu: float
    far: float | None
    region_code: str
    zone_id: int | None


class HistoryOut(BaseModel):
    parcel: ParcelStateOut
    events: list[EventOut]
    allowed: list[dict[str, Any]]


class AllowedOut(BaseModel):
    parcel: ParcelStateOut
    allowed: list[dict[str, Any]]
    freed_so_far_mu: float


@router.get("/workflow", summary="The renewal workflow: states, renewal modes, transitions")
def get_workflow_config(workflow: WorkflowDep, user: UserDep) -> dict[str, Any]:
    return workflow.as_dict()


@router.get("/parcels/{parcel_id}/transitions", response_model=HistoryOut, summary="A parcel's renewal steps")
def list_transitions(parcel_id: int, conn: ConnDep, workflow: WorkflowDep, user: UserDep) -> dict[str, Any]:
    return events.history(conn, workflow, parcel_id)


@router.get(
    "/parcels/{parcel_id}/transitions/allowed", response_model=AllowedOut, summary="The steps a parcel may take now"
)
def allowed_transitions(parcel_id: int, conn: ConnDep, workflow: WorkflowDep, user: UserDep) -> dict[str, Any]:
    return events.allowed_next(conn, workflow, parcel_id)


@router.post(
    "/parcels/{parcel_id}/transitions",
    response_model=EventOut,
    status_code=201,
    summary="Take a parcel one step (officer; 409 with the allowed steps when the step is not allowed)",
)
def post_transition(
    parcel_id: int, body: TransitionIn, request: Request, conn: ConnDep, workflow: WorkflowDep, officer: OfficerDep
) -> dict[str, Any]:
    step = events.TransitionRequest(
        to_status=body.to_status,
        event_date=body.event_date,
        user=officer.actor,
        renewal_mode=body.renewal_mode,
        area_mu=body.area_mu,
        documents=body.documents,
        note=body.note,
        far_after=body.far_after,
    )
    return events.apply_transition(
        conn, workflow, parcel_id, step, request_id=getattr(request.state, "request_id", None)
    )


@router.post(
    "/parcels/{parcel_id}/transitions/undo", response_model=EventOut, summary="Undo a parcel's latest step (officer)"
)
def undo_transition(
    parcel_id: int, body: UndoIn, conn: ConnDep, workflow: WorkflowDep, officer: OfficerDep
) -> dict[str, Any]:
    return events.revoke_latest(
        conn,
        workflow,
        parcel_id,
        user=officer.actor,
        reason=body.reason,
        event_id=body.event_id,
    )


@router.get("/lifecycle/parcels/{parcel_id}", include_in_schema=False)
def workflow_page(parcel_id: int, user: UserDep) -> FileResponse:
    """A thin page to take a parcel through the workflow (the web map links here). It holds no
    data: its script reads and writes through the routes above with the session cookie, sending
    the session's CSRF token (from ``GET /auth/me``) with every step."""
    return FileResponse(PAGE, headers={"Cache-Control": "no-store"})
