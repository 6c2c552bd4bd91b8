"""标准地: agreements with committed indicators and milestones, the 达产复核 check (shortfall per
indicator) and recorded reviews with their outcome and action.

Reading is open to every signed-in user, in their region scope; recording an agreement or a
review needs the officer role (the reviewer is the signed-in user)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ConnDep, OfficerDep, UserDep
from landgis.lifecycle import standard

router = APIRouter(tags=["标准地 standard land"])


class AgreementIn(BaseModel):
    parcel_id: int
    commitments: dict[str, float] = Field(
        description='indicator → committed value, e.g. {"mu_tax": 30, "investment_intensity": 400, "far": 1.2}'
    )
    comparators: dict[str, str] = Field(
        default_factory=dict, description="indicator → '>=' or '<=' (defaults per indicator)"
    )
    enterprise_uscc: str | None = None
    agreement_no: str | None = None
    signed_on: dt.date | None = None
    land_area_mu: float | None = Field(None, gt=0)
    initial_period_months: int = Field(36, ge=0, le=240, description="达产期: months from 投产 to 达产复核")
    review_due_date: dt.date | None = Field(None, description="达产复核 date when agreed explicitly")
    note: str | None = None


class ReviewIn(BaseModel):
    reviewed_on: dt.date
    figures_year: int | None = Field(None, ge=1990, le=2100, description="default: the year before the due date")
    overrides: dict[str, float] = Field(default_factory=dict, description="actual values the database lacks")
    action: str = Field("none", description="none, rectify, penalty, withdraw_incentives, recover_land, other")
    action_note: str | None = None
    penalty_wan: float | None = Field(None, ge=0)


@router.get("/standard/indicators", summary="The indicators a 标准地 agreement may commit to")
def indicators(user: UserDep) -> list[dict[str, Any]]:
    return [
        {"code": i.code, "label": i.label, "unit": i.unit, "comparator": i.comparator}
        for i in standard.INDICATORS.values()
    ]


@router.get("/standard/agreements", summary="标准地 agreements of a zone or region with 达产复核 dates")
def list_agreements(
    conn: ConnDep,
    user: UserDep,
    zone_id: int | None = None,
    region: str | None = Query(None, pattern=r"^\d{6}(\d{3}(\d{3})?)?$"),
) -> list[dict[str, Any]]:
    return standard.list_agreements(conn, zone_id=zone_id, region=region)


@router.post("/standard/agreements", status_code=201, summary="Record a parcel's 标准地 agreement (officer)")
def create_agreement(body: AgreementIn, conn: ConnDep, officer: OfficerDep) -> dict[str, Any]:
    return standard.create_agreement(
        conn,
        parcel_id=body.parcel_id,
        commitments_in=body.commitments,
        comparators=body.comparators,
        enterprise_uscc=body.enterprise_uscc,
        agreement_no=body.agreement_no,
        signed_on=body.signed_on,
        land_area_mu=body.land_area_mu,
        initial_period_months=body.initial_period_months,
        review_due_date=body.review_due_date,
        note=body.note,
    )


@router.get("/standard/agreements/{agreement_id}", summary="An agreement: commitments, milestones, reviews")
def agreement(agreement_id: int, conn: ConnDep, user: UserDep) -> dict[str, Any]:
    return standard.agreement_detail(conn, agreement_id)


@router.get("/parcels/{parcel_id}/standard", summary="The 标准地 agreement of a parcel")
def parcel_agreement(parcel_id: int, conn: ConnDep, user: UserDep) -> dict[str, Any]:
    return standard.agreement_for_parcel(conn, parcel_id)


@router.get("/standard/agreements/{agreement_id}/check", summary="达产复核 check: shortfall per indicator")
def check(
    agreement_id: int,
    conn: ConnDep,
    user: UserDep,
    year: int | None = Query(None, ge=1990, le=2100, description="figures year"),
) -> dict[str, Any]:
    return standard.check(conn, agreement_id, year=year)


@router.post(
    "/standard/agreements/{agreement_id}/reviews",
    status_code=201,
    summary="Record the 达产复核, its outcome and action (officer)",
)
def review(agreement_id: int, body: ReviewIn, conn: ConnDep, officer: OfficerDep) -> dict[str, Any]:
    return standard.record_review(
        conn,
        agreement_id,
        reviewed_on=body.reviewed_on,
        reviewer=officer.actor,
        year=body.figures_year,
        overrides=body.overrides,
        action=body.action,
        action_note=body.action_note,
        penalty_wan=body.penalty_wan,
    )
