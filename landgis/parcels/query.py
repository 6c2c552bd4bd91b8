"""Finding parcels and reading one parcel's data.

Every query runs under the caller's region scope: row-level security on ``parcel``,
``occupancy``, ``enterprise`` and ``enterprise_year`` hides rows outside it, so a parcel in
another county is "not found", exactly like a parcel that does not exist.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, Connection, and_, exists, func, literal, or_, select, text

from landgis.db.models import Enterprise, Occupancy, Parcel, Zone
from landgis.errors import InvalidInput, NotFound
from landgis.geoinput import wkb

MAX_LIMIT = 500
MAX_OFFSET = 10_000

#: Sort keys the search accepts, each a column of ours ("-" in front: descending).
SORT_COLUMNS: dict[str, Any] = {
    "id": Parcel.id,
    "zddm": Parcel.zddm,
    "area_mu": Parcel.area_mu,
    "far": Parcel.far,
    "location": Parcel.location,
    "renewal_status": Parcel.renewal_status,
    "updated_at": Parcel.updated_at,
}

SUMMARY_COLUMNS = (
    Parcel.id,
    Parcel.zddm,
    Parcel.zddm_raw,
    Parcel.region_code,
    Parcel.zone_id,
    Parcel.location,
    Parcel.right_holder,
    Parcel.area_mu,
    Parcel.far,
    Parcel.land_use_code,
    Parcel.renewal_status,
    Parcel.updated_at,
)


@dataclass
class ParcelSearch:
    """What a parcel search may filter on; every field is optional and they combine with AND."""

    zddm: str | None = None
    address: str | None = None
    right_holder: str | None = None
    enterprise: str | None = None
    enterprise_id: int | None = None
    region: str | None = None
    zone_id: int | None = None
    status: list[str] = field(default_factory=list)
    polygon: BaseGeometry | None = None
    bbox: tuple[float, ...] | None = None
    sort: str = "id"
    limit: int = 50
    offset: int = 0


def _like(value: str) -> str:
    """A LIKE pattern matching ``value`` anywhere, with the user's % and _ taken literally."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(search: ParcelSearch) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if search.zddm:
        code = search.zddm.strip().upper()
        where.append(or_(Parcel.zddm == code, Parcel.zddm.startswith(code, autoescape=True), Parcel.zddm_raw == code))
    if search.address:
        where.append(Parcel.location.ilike(_like(search.address.strip()), escape="\\"))
    if search.right_holder:
        where.append(Parcel.right_holder.ilike(_like(search.right_holder.strip()), escape="\\"))
    if search.enterprise or search.enterprise_id is not None:
        firm = [Occupancy.parcel_id == Parcel.id, Enterprise.id == Occupancy.enterprise_id]
        if search.enterprise:
            term = search.enterprise.strip()
            firm.append(or_(Enterprise.uscc == term.upper(), Enterprise.name.ilike(_like(term), escape="\\")))
        if search.enterprise_id is not None:
            firm.append(Enterprise.id == search.enterprise_id)
        where.append(exists(select(literal(1)).select_from(Occupancy, Enterprise).where(*firm)))
    if search.region:
        where.append(Parcel.region_code.startswith(search.region.strip(), autoescape=True))
    if search.zone_id is not None:
        where.append(Parcel.zone_id == search.zone_id)
    if search.status:
        where.append(Parcel.renewal_status.in_(search.status))
    if search.polygon is not None:
        shape = func.ST_GeomFromWKB(wkb(search.polygon), 4490)
        # && first: under row-level security only the (leakproof) bbox operator can use the index.
        where.append(and_(Parcel.geom.op("&&")(shape), func.ST_Intersects(Parcel.geom, shape)))
    if search.bbox is not None:
        where.append(Parcel.geom.op("&&")(func.ST_MakeEnvelope(*search.bbox, 4490)))
    return where


def search_parcels(conn: Connection, search: ParcelSearch) -> tuple[int, list[dict[str, Any]]]:
    """Parcels matching ``search`` (in the caller's scope): the total and one page of summaries."""
    if not 1 <= search.limit <= MAX_LIMIT:
        raise InvalidInput(f"limit 须在 1-{MAX_LIMIT} 之间 (limit out of range)")
    if not 0 <= search.offset <= MAX_OFFSET:
        raise InvalidInput(f"offset 最大 {MAX_OFFSET}; 翻页更深请用 OGC API (offset too large; page with /ogc)")
    descending = search.sort.startswith("-")
    key = search.sort.lstrip("-")
    if key not in SORT_COLUMNS:
        raise InvalidInput(f"sort 只能是 {', '.join(SORT_COLUMNS)} (unknown sort key {key!r})")
    where = _conditions(search)
    total = conn.execute(select(func.count()).select_from(Parcel).where(*where)).scalar_one()
    column = SORT_COLUMNS[key]
    order = [column.desc().nulls_last() if descending else column.asc().nulls_last(), Parcel.id]
    rows = conn.execute(
        select(*SUMMARY_COLUMNS).where(*where).order_by(*order).limit(search.limit).offset(search.offset)
    ).mappings()
    return int(total), [dict(r) for r in rows]


DETAIL_COLUMNS = [c for c in Parcel.__table__.columns if c.name not in ("geom", "source_attrs")]


def get_parcel(conn: Connection, parcel_id: int, *, geometry: bool = False) -> dict[str, Any]:
    """One parcel with its zone and current enterprises; NotFound outside the caller's scope."""
    columns: list[Any] = [*DETAIL_COLUMNS, Zone.name.label("zone_name")]
    if geometry:
        columns.append(func.ST_AsGeoJSON(Parcel.geom, 7).label("geometry"))
    row = (
        conn.execute(
            select(*columns)
            .select_from(Parcel)
            .outerjoin(Zone, Zone.id == Parcel.zone_id)
            .where(Parcel.id == parcel_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"宗地 {parcel_id} 不存在或不在您的范围内 (no such parcel in your scope)")
    parcel = dict(row)
    if geometry:
        parcel["geometry"] = json.loads(parcel["geometry"])
    parcel["occupancy"] = occupancy_of(conn, parcel_id)
    return parcel


def occupancy_of(conn: Connection, parcel_id: int, *, current_only: bool = False) -> list[dict[str, Any]]:
    """Who uses the parcel (一地多企), with each firm's name and code."""
    query = (
        select(
            Occupancy.id,
            Occupancy.enterprise_id,
            Enterprise.name.label("enterprise_name"),
            Enterprise.uscc,
            Occupancy.land_area_mu,
            Occupancy.tenure,
            Occupancy.valid_from,
            Occupancy.valid_to,
            Occupancy.source,
        )
        .join(Enterprise, Enterprise.id == Occupancy.enterprise_id)
        .where(Occupancy.parcel_id == parcel_id)
        .order_by(Occupancy.valid_from.nulls_first(), Occupancy.id)
    )
    if current_only:
        query = query.where(or_(Occupancy.valid_to.is_(None), Occupancy.valid_to >= dt.date.today()))
    return [dict(r) for r in conn.execute(query).mappings()]


def parcel_etag(conn: Connection, parcel_id: int) -> str:
    """A version tag of the parcel's row: a digest of all its values, so any change changes it."""
    digest = conn.execute(
        text("SELECT md5(CAST(to_jsonb(p) AS text)) FROM parcel p WHERE p.id = :id"), {"id": parcel_id}
    ).scalar()
    if digest is None:
        raise NotFound(f"宗地 {parcel_id} 不存在或不在您的范围内 (no such parcel in your scope)")
    return f'"{digest}"'


def region_of(conn: Connection, parcel_id: int) -> str:
    code = conn.execute(text("SELECT region_code FROM parcel WHERE id = :id"), {"id": parcel_id}).scalar()
    if code is None:
        raise NotFound(f"宗地 {parcel_id} 不存在或不在您的范围内 (no such parcel in your scope)")
    return str(code)
