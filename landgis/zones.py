"""Zones (开发区, 工业园区, 小微企业园, 整治片区) as a caller may see them.

``zone`` has no row-level security of its own (zone boundaries and targets are shared
planning data); a zone outside the caller's region scope is answered as "not found"
wherever a zone is named in a request.
"""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, text

from landgis.errors import NotFound

VISIBLE_ZONE_SQL = text("SELECT id, code, name, region_code FROM zone WHERE id = :id AND landgis_in_scope(region_code)")


def visible_zone(conn: Connection, zone_id: int, *, field: str = "zone_id") -> RowMapping:
    """The zone's id, code, name and region_code; NotFound naming ``field`` when it does not
    exist or lies outside the caller's scope (the two are not told apart)."""
    zone = conn.execute(VISIBLE_ZONE_SQL, {"id": zone_id}).mappings().first()
    if zone is None:
        raise NotFound(f"{field}: 园区 {zone_id} 不存在或不在您的管辖范围内 (zone not found)")
    return zone
