"""Enterprises (企业) and their yearly figures, as the caller's region scope lets them be seen.

An enterprise is visible when its own region is in scope or when it uses a parcel that is
(row-level security on ``enterprise``); its figures follow the enterprise.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, or_, select

from landgis.db.models import Enterprise, EnterpriseYear, Occupancy, Parcel
from landgis.errors import InvalidInput, NotFound

MAX_LIMIT = 500
MAX_OFFSET = 10_000

ENTERPRISE_COLUMNS = (
    Enterprise.id,
    Enterprise.uscc,
    Enterprise.name,
    Enterprise.scale,
    Enterprise.industry_code,
    Enterprise.registration_date,
    Enterprise.production_start_date,
    Enterprise.region_code,
    Enterprise.source,
    Enterprise.updated_at,
)

FIGURE_COLUMNS = (
    EnterpriseYear.year,
    EnterpriseYear.tax_wan,
    EnterpriseYear.value_added_wan,
    EnterpriseYear.revenue_wan,
    EnterpriseYear.output_wan,
    EnterpriseYear.energy_tce,
    EnterpriseYear.emissions_t,
    EnterpriseYear.rd_wan,
    EnterpriseYear.employees,
    EnterpriseYear.electricity_kwh,
    EnterpriseYear.sources,
)


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_enterprises(
    conn: Connection,
    *,
    q: str | None = None,
    uscc: str | None = None,
    scale: str | None = None,
    industry: str | None = None,
    region: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """Enterprises by name (part of it), 统一社会信用代码, 规上/规下, industry code prefix or region."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit 须在 1-{MAX_LIMIT} 之间 (limit out of range)")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"offset 最大 {MAX_OFFSET} (offset too large)")
    where = []
    if q:
        where.append(or_(Enterprise.name.ilike(_like(q.strip()), escape="\\"), Enterprise.uscc == q.strip().upper()))
    if uscc:
        where.append(Enterprise.uscc == uscc.strip().upper())
    if scale:
        if scale not in ("above", "below"):
            raise InvalidInput("scale: 只能是 above (规上) 或 below (规下)")
        where.append(Enterprise.scale == scale)
    if industry:
        where.append(Enterprise.industry_code.startswith(industry.strip().upper(), autoescape=True))
    if region:
        where.append(Enterprise.region_code.startswith(region.strip(), autoescape=True))
    total = conn.execute(select(func.count()).select_from(Enterprise).where(*where)).scalar_one()
    rows = conn.execute(
        select(*ENTERPRISE_COLUMNS).where(*where).order_by(Enterprise.id).limit(limit).offset(offset)
    ).mappings()
    return int(total), [dict(r) for r in rows]


def get_enterprise(conn: Connection, enterprise_id: int) -> dict[str, Any]:
    """One enterprise with the parcels it uses (in scope) and its yearly figures."""
    row = conn.execute(select(*ENTERPRISE_COLUMNS).where(Enterprise.id == enterprise_id)).mappings().first()
    if row is None:
        raise NotFound(f"企业 {enterprise_id} 不存在或不在您的范围内 (no such enterprise in your scope)")
    firm = dict(row)
    parcels = conn.execute(
        select(
            Occupancy.id.label("occupancy_id"),
            Parcel.id.label("parcel_id"),
            Parcel.zddm,
            Parcel.location,
            Parcel.area_mu,
            Occupancy.land_area_mu,
            Occupancy.tenure,
            Occupancy.valid_from,
            Occupancy.valid_to,
        )
        .join(Parcel, Parcel.id == Occupancy.parcel_id)
        .where(Occupancy.enterprise_id == enterprise_id)
        .order_by(Parcel.id)
    ).mappings()
    firm["parcels"] = [dict(p) for p in parcels]
    firm["figures"] = figures_of(conn, enterprise_id)
    return firm


def figures_of(conn: Connection, enterprise_id: int, year: int | None = None) -> list[dict[str, Any]]:
    """The enterprise's yearly figures, oldest first (万元, 吨标煤, 吨, 人, 千瓦时)."""
    query = select(*FIGURE_COLUMNS).where(EnterpriseYear.enterprise_id == enterprise_id).order_by(EnterpriseYear.year)
    if year is not None:
        query = query.where(EnterpriseYear.year == year)
    return [dict(r) for r in conn.execute(query).mappings()]


def require_enterprise(conn: Connection, enterprise_id: int) -> None:
    if conn.execute(select(Enterprise.id).where(Enterprise.id == enterprise_id)).first() is None:
        raise NotFound(f"企业 {enterprise_id} 不存在或不在您的范围内 (no such enterprise in your scope)")
