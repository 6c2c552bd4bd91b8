"""闲置土地 (国土资源部令第53号), 五未 land, the deadline list, approval batches and progress reports.

Lists are open to every signed-in user, in their region scope; recording an approval batch or a
progress report needs the officer role and is recorded as the signed-in user's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ConnDep, OfficerDep, UserDep
from landgis.lifecycle import idle

router = APIRouter(tags=["闲置土地与五未 idle land"])

REGION = Query(None, pattern=r"^\d{6}(\d{3}(\d{3})?)?$", description="行政区划代码 prefix")


def _today(as_of: dt.date | None) -> dt.date:
    return as_of or dt.date.today()


@router.get("/idle-land", summary="Idle land on a date (53号令): not started or halted 满一年, fee, 无偿收回")
def idle_land(
    conn: ConnDep, user: UserDep, as_of: dt.date | None = None, zone_id: int | None = None, region: str | None = REGION
) -> list[dict[str, Any]]:
    return idle.idle_land(conn, as_of=_today(as_of), zone_id=zone_id, region=region)


@router.get("/wuwei", summary="五未 land: 批而未供, 供而未用, 用而未尽, 建而未投, 投而未达")
def wuwei(
    conn: ConnDep,
    user: UserDep,
    as_of: dt.date | None = None,
    zone_id: int | None = None,
    region: str | None = REGION,
    production_months: int = Query(12, ge=1, le=120, description="建而未投 without an agreed 投产 date: months"),
) -> dict[str, Any]:
    return idle.wuwei(conn, as_of=_today(as_of), zone_id=zone_id, region=region, production_months=production_months)


@router.get("/deadlines", summary="What falls due in the next 30/90/180 days")
def deadlines(
    conn: ConnDep,
    user: UserDep,
    within: int = Query(180, ge=0, le=3650, description="days ahead"),
    as_of: dt.date | None = None,
    zone_id: int | None = None,
    region: str | None = REGION,
) -> dict[str, Any]:
    return idle.deadlines(conn, as_of=_today(as_of), within=within, zone_id=zone_id, region=region)


class SupplyIn(BaseModel):
    parcel_id: int
    supplied_area_mu: float = Field(gt=0)
    supplied_on: dt.date | None = None


class BatchIn(BaseModel):
    batch_no: str = Field(min_length=1, max_length=64, description="批次编号")
    approval_no: str | None = Field(None, description="批准文号")
    authority: str | None = Field(None, description="批准机关")
    approved_on: dt.date
    region_code: str = Field(pattern=r"^\d{6}(\d{3}(\d{3})?)?$")
    approved_area_mu: float = Field(gt=0)
    note: str | None = None
    supplies: list[SupplyIn] = Field(default_factory=list)


@router.get("/land-approval-batches", summary="用地批次 with supplied and unsupplied 亩 (批而未供)")
def list_batches(
    conn: ConnDep, user: UserDep, as_of: dt.date | None = None, region: str | None = REGION
) -> list[dict[str, Any]]:
    return idle.approval_batches(conn, as_of=_today(as_of), region=region)


@router.post(
    "/land-approval-batches", status_code=201, summary="Record a 用地批次 and the parcels supplied from it (officer)"
)
def add_batch(body: BatchIn, conn: ConnDep, officer: OfficerDep) -> dict[str, Any]:
    return idle.add_approval_batch(
        conn,
        batch_no=body.batch_no,
        approved_on=body.approved_on,
        region_code=body.region_code,
        approved_area_mu=body.approved_area_mu,
        approval_no=body.approval_no,
        authority=body.authority,
        note=body.note,
        supplies=[(s.parcel_id, s.supplied_area_mu, s.supplied_on) for s in body.supplies],
    )


class ProgressIn(BaseModel):
    report_date: dt.date
    developed_area_m2: float | None = Field(None, ge=0, description="已动工开发建设用地面积 m²")
    planned_area_m2: float | None = Field(None, ge=0, description="应动工开发建设用地总面积 m² (default: the parcel)")
    invested_wan: float | None = Field(None, ge=0, description="已投资额 万元")
    total_investment_wan: float | None = Field(None, ge=0, description="总投资额 万元")
    halted_since: dt.date | None = Field(None, description="中止开发建设 since")
    delay_cause: str | None = Field(None, description="enterprise, government or force_majeure")
    note: str | None = None


@router.post("/parcels/{parcel_id}/progress", status_code=201, summary="Record a development progress report (officer)")
def add_progress(parcel_id: int, body: ProgressIn, conn: ConnDep, officer: OfficerDep) -> dict[str, Any]:
    return idle.record_progress(
        conn,
        parcel_id,
        report_date=body.report_date,
        user=officer.actor,
        developed_area_m2=body.developed_area_m2,
        planned_area_m2=body.planned_area_m2,
        invested_wan=body.invested_wan,
        total_investment_wan=body.total_investment_wan,
        halted_since=body.halted_since,
        delay_cause=body.delay_cause,
        note=body.note,
    )
