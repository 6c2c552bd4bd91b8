"""Projects and matching: a land request returns ranked freed, vacant or idle parcels and blocks
with the reasons for each rank; projects are placed on parcels (一码管地 link).

Project lists are open to every signed-in user, in their region scope; matching, recording a
project and placing it on land need a planner or an officer (招商供地), and only ever see and
use land in the caller's scope."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ConnDep, PlannerOrOfficerDep, UserDep
from landgis.lifecycle import projects
from landgis.lifecycle.matching import ProjectRequest, match

router = APIRouter(tags=["项目与供地匹配 projects and matching"])

REGION_PATTERN = r"^\d{6}(\d{3}(\d{3})?)?$"


class MatchIn(BaseModel):
    area_min_mu: float = Field(gt=0, description="用地面积下限 亩")
    area_max_mu: float = Field(gt=0, description="用地面积上限 亩")
    industry_code: str | None = Field(None, description="GB/T 4754 行业代码, e.g. C3311")
    far_min: float | None = Field(None, ge=0, description="容积率 the project needs")
    investment_intensity: float | None = Field(None, ge=0, description="固定资产投资强度 万元/亩")
    preferred_zone_ids: list[int] = Field(default_factory=list)
    contiguous: bool = Field(True, description="one contiguous block required")
    region: str | None = Field(None, pattern=REGION_PATTERN)
    limit: int = Field(20, ge=1, le=200)
    as_of: dt.date | None = None

    def to_request(self) -> ProjectRequest:
        return ProjectRequest(
            area_min_mu=self.area_min_mu,
            area_max_mu=self.area_max_mu,
            industry_code=self.industry_code,
            far_min=self.far_min,
            investment_intensity=self.investment_intensity,
            preferred_zone_ids=self.preferred_zone_ids,
            contiguous=self.contiguous,
            region=self.region,
            limit=self.limit,
        )


class ProjectIn(MatchIn):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1)
    region_code: str = Field(pattern=REGION_PATTERN)
    uscc: str | None = None
    note: str | None = None


class LinkIn(BaseModel):
    parcel_ids: list[int] = Field(min_length=1)


@router.post("/matching", summary="Ranked freed, vacant or idle land for a project's request, with reasons")
def matching(body: MatchIn, conn: ConnDep, planner: PlannerOrOfficerDep) -> dict[str, Any]:
    return match(conn, body.to_request(), as_of=body.as_of)


@router.get("/projects", summary="Projects (招商项目) in a region")
def list_projects(
    conn: ConnDep, user: UserDep, region: str | None = Query(None, pattern=REGION_PATTERN)
) -> list[dict[str, Any]]:
    return projects.list_projects(conn, region=region)


@router.post("/projects", status_code=201, summary="Record a project and its land request (planner, officer)")
def create_project(body: ProjectIn, conn: ConnDep, planner: PlannerOrOfficerDep) -> dict[str, Any]:
    return projects.create_project(
        conn,
        code=body.code,
        name=body.name,
        region_code=body.region_code,
        request=body.to_request(),
        uscc=body.uscc,
        note=body.note,
    )


@router.get("/projects/{project_id}", summary="A project with its parcels")
def get_project(project_id: int, conn: ConnDep, user: UserDep) -> dict[str, Any]:
    return projects.get_project(conn, project_id)


@router.get("/projects/{project_id}/matches", summary="Ranked land for a stored project (planner, officer)")
def project_matches(
    project_id: int,
    conn: ConnDep,
    planner: PlannerOrOfficerDep,
    as_of: dt.date | None = None,
    limit: int = Query(20, ge=1, le=200),
) -> dict[str, Any]:
    request = projects.request_of(projects.get_project(conn, project_id))
    request.limit = limit
    return match(conn, request, as_of=as_of)


@router.post("/projects/{project_id}/parcels", summary="Place a project on parcels (它们的地块码; planner, officer)")
def link_parcels(project_id: int, body: LinkIn, conn: ConnDep, planner: PlannerOrOfficerDep) -> dict[str, Any]:
    return projects.link_parcels(conn, project_id, body.parcel_ids, user=planner.actor)
