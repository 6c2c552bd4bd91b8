"""``/enterprises``: enterprises and their yearly figures (亩均 evaluation inputs), in the caller's scope."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ConnDep, UserDep
from landgis import enterprises as core

router = APIRouter(prefix="/enterprises", tags=["enterprises"])

EnterpriseId = Annotated[int, Field(ge=1, le=2**62)]


class EnterpriseOut(BaseModel):
    id: int
    uscc: str | None = Field(description="统一社会信用代码")
    name: str = Field(description="企业名称")
    scale: str | None = Field(description="above 规上, below 规下")
    industry_code: str | None
    registration_date: dt.date | None
    production_start_date: dt.date | None
    region_code: str | None
    source: str | None
    updated_at: dt.datetime


class EnterprisePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[EnterpriseOut]


class Figures(BaseModel):
    year: int
    tax_wan: float | None = Field(description="评价税收, 万元")
    value_added_wan: float | None = Field(description="工业增加值, 万元")
    revenue_wan: float | None = Field(description="主营业务收入, 万元")
    output_wan: float | None = Field(description="工业总产值, 万元")
    energy_tce: float | None = Field(description="综合能耗, 吨标煤")
    emissions_t: float | None = Field(description="主要污染物排放量, 吨")
    rd_wan: float | None = Field(description="R&D经费支出, 万元")
    employees: float | None = Field(description="年平均职工人数")
    electricity_kwh: float | None = Field(description="用电量, 千瓦时")
    sources: dict[str, Any] = Field(description="figure -> where it came from")


class EnterpriseParcel(BaseModel):
    occupancy_id: int
    parcel_id: int
    zddm: str | None
    location: str | None
    area_mu: float
    land_area_mu: float | None
    tenure: str
    valid_from: dt.date | None
    valid_to: dt.date | None


class EnterpriseDetail(EnterpriseOut):
    parcels: list[EnterpriseParcel]
    figures: list[Figures]


@router.get("", response_model=EnterprisePage, summary="Find enterprises by name, USCC, scale, industry or region")
def list_enterprises(
    conn: ConnDep,
    user: UserDep,
    q: str | None = Query(default=None, max_length=200, description="part of the name, or a USCC"),
    uscc: str | None = Query(default=None, max_length=18, pattern=r"^[0-9A-Za-z]{18}$"),
    scale: str | None = Query(default=None, pattern=r"^(above|below)$"),
    industry: str | None = Query(default=None, max_length=5, pattern=r"^[A-Za-z0-9]{1,5}$"),
    region: str | None = Query(default=None, pattern=r"^\d{6,12}$"),
    limit: int = Query(default=50, ge=1, le=core.MAX_LIMIT),
    offset: int = Query(default=0, ge=0, le=core.MAX_OFFSET),
) -> EnterprisePage:
    total, rows = core.search_enterprises(
        conn, q=q, uscc=uscc, scale=scale, industry=industry, region=region, limit=limit, offset=offset
    )
    return EnterprisePage(total=total, limit=limit, offset=offset, items=[EnterpriseOut(**r) for r in rows])


@router.get(
    "/{enterprise_id}", response_model=EnterpriseDetail, summary="One enterprise, its parcels and yearly figures"
)
def get_enterprise(enterprise_id: EnterpriseId, conn: ConnDep, user: UserDep) -> EnterpriseDetail:
    return EnterpriseDetail(**core.get_enterprise(conn, enterprise_id))


@router.get("/{enterprise_id}/figures", response_model=list[Figures], summary="Yearly figures (税收, 增加值, 能耗 ...)")
def figures(
    enterprise_id: EnterpriseId,
    conn: ConnDep,
    user: UserDep,
    year: int | None = Query(default=None, ge=1990, le=2100),
) -> list[Figures]:
    core.require_enterprise(conn, enterprise_id)
    return [Figures(**f) for f in core.figures_of(conn, enterprise_id, year)]
