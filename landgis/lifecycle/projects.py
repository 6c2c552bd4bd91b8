"""Projects looking for land (招商项目): their requests, matches and the parcels they are placed on
(一码管地 links land code ↔ project ↔ enterprise USCC)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from landgis.codes import check_uscc
from landgis.errors import Conflict, InvalidInput, NotFound
from landgis.lifecycle.matching import ProjectRequest

FIELDS = (
    "id",
    "code",
    "name",
    "region_code",
    "enterprise_id",
    "uscc",
    "industry_code",
    "area_min_mu",
    "area_max_mu",
    "far_min",
    "investment_intensity",
    "preferred_zone_ids",
    "contiguous",
    "status",
    "note",
    "created_at",
    "updated_at",
)


def create_project(
    conn: Connection,
    *,
    code: str,
    name: str,
    region_code: str,
    request: ProjectRequest,
    uscc: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Record a project and its land request (validated as a matching request)."""
    request.validate()
    if not code.strip() or not name.strip():
        raise InvalidInput("需填写项目编号和名称 (code and name are required)")
    if (
        conn.execute(
            text("SELECT 1 FROM region WHERE code = :c AND landgis_in_scope(code)"), {"c": region_code}
        ).first()
        is None
    ):
        raise NotFound(f"行政区划 {region_code} 不存在或不在您的管辖范围内 (region not found)")
    enterprise_id = None
    if uscc:
        checked = check_uscc(uscc)
        if not checked.valid:
            raise InvalidInput(f"统一社会信用代码无效: {checked.reason}")
        uscc = checked.value
        enterprise_id = conn.execute(
            text("SELECT id FROM enterprise WHERE uscc = :u"), {"u": uscc}
        ).scalar_one_or_none()
    try:
        with conn.begin_nested():
            project_id = conn.execute(
                text(
                    "INSERT INTO project (code, name, region_code, enterprise_id, uscc, industry_code, area_min_mu,"
                    " area_max_mu, far_min, investment_intensity, preferred_zone_ids, contiguous, note)"
                    " VALUES (:code, :name, :region, :enterprise, :uscc, :industry, :amin, :amax, :far, :intensity,"
                    " :zones, :contiguous, :note) RETURNING id"
                ),
                {
                    "code": code.strip(),
                    "name": name.strip(),
                    "region": region_code,
                    "enterprise": enterprise_id,
                    "uscc": uscc,
                    "industry": request.industry_code,
                    "amin": request.area_min_mu,
                    "amax": request.area_max_mu,
                    "far": request.far_min,
                    "intensity": request.investment_intensity,
                    "zones": request.preferred_zone_ids,
                    "contiguous": request.contiguous,
                    "note": note,
                },
            ).scalar_one()
    except IntegrityError:
        raise Conflict(f"项目编号 {code} 已存在 (project code exists)") from None
    return get_project(conn, int(project_id))


def get_project(conn: Connection, project_id: int) -> dict[str, Any]:
    """A project with the parcels it is placed on, as far as the caller's scope reaches.

    Row-level security decides which projects the caller sees: those of its regions, and those
    placed on its parcels (a city-level project on county land), like enterprises."""
    row = conn.execute(text("SELECT * FROM project WHERE id = :id"), {"id": project_id}).mappings().first()
    if row is None:
        raise NotFound(f"项目 {project_id} 不存在或不在您的管辖范围内 (project not found)")
    parcels = conn.execute(
        text(
            "SELECT p.id AS parcel_id, p.land_code, p.area_mu, l.linked_on, l.linked_by FROM project_parcel l"
            " JOIN parcel p ON p.id = l.parcel_id WHERE l.project_id = :id AND landgis_in_scope(p.region_code)"
            " ORDER BY p.land_code"
        ),
        {"id": project_id},
    ).mappings()
    return {**{k: row[k] for k in FIELDS}, "parcels": [dict(p) for p in parcels]}


def list_projects(conn: Connection, *, region: str | None = None) -> list[dict[str, Any]]:
    """Projects the caller sees (row-level security, as ``get_project``), newest first."""
    rows = conn.execute(
        text(
            "SELECT id, code, name, region_code, uscc, industry_code, area_min_mu, area_max_mu, status FROM project"
            " WHERE (CAST(:region AS text) IS NULL OR starts_with(region_code, CAST(:region AS text)))"
            " ORDER BY created_at DESC, id DESC"
        ),
        {"region": region},
    ).mappings()
    return [dict(r) for r in rows]


def request_of(project: dict[str, Any]) -> ProjectRequest:
    """The matching request a stored project makes (within its own region)."""
    if project["area_min_mu"] is None or project["area_max_mu"] is None:
        raise Conflict("项目未填写用地面积需求 (the project has no area range)")
    return ProjectRequest(
        area_min_mu=project["area_min_mu"],
        area_max_mu=project["area_max_mu"],
        industry_code=project["industry_code"],
        far_min=project["far_min"],
        investment_intensity=project["investment_intensity"],
        preferred_zone_ids=list(project["preferred_zone_ids"] or []),
        contiguous=project["contiguous"],
        region=project["region_code"],
    )


def link_parcels(
    conn: Connection, project_id: int, parcel_ids: list[int], *, user: str, on: dt.date | None = None
) -> dict[str, Any]:
    """Place a project on parcels (in scope); the project becomes 'matched'."""
    project = get_project(conn, project_id)
    if project["status"] == "cancelled":
        raise Conflict("项目已取消 (the project is cancelled)")
    if not parcel_ids:
        raise InvalidInput("至少选择一宗地块 (parcel_ids)")
    found = set(
        conn.execute(
            text(
                "SELECT id FROM parcel WHERE id IN (SELECT unnest(CAST(:ids AS bigint[])))"
                " AND landgis_in_scope(region_code)"
            ),
            {"ids": parcel_ids},
        ).scalars()
    )
    missing = sorted(set(parcel_ids) - found)
    if missing:
        raise NotFound(f"地块 {', '.join(map(str, missing))} 不存在或不在您的管辖范围内 (parcel not found)")
    conn.execute(
        text(
            "INSERT INTO project_parcel (project_id, parcel_id, linked_on, linked_by) VALUES (:j, :p, :on, :by)"
            " ON CONFLICT (project_id, parcel_id) DO NOTHING"
        ),
        [{"j": project_id, "p": p, "on": on or dt.date.today(), "by": user} for p in sorted(found)],
    )
    conn.execute(
        text("UPDATE project SET status = 'matched', updated_at = now() WHERE id = :id AND status = 'request'"),
        {"id": project_id},
    )
    return get_project(conn, project_id)
