"""Parcel search (宗地代码, 坐落, 权利人, 企业名称) and the 一宗一档 parcel dossier.

Both read through the caller's connection and keep to its region scope
(``landgis_in_scope(p.region_code)``): a parcel outside it is "not found".
Areas in 亩 and m², money in 万元, 亩均 in 万元/亩, coordinates in EPSG:4490.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, text

from landgis.errors import InvalidInput, NotFound

SEARCH_LIMIT_MAX = 50

RENEWAL_STATUS_LABELS = {
    "normal": "正常",
    "identified": "认定低效",
    "planned": "列入计划",
    "in_progress": "整治中",
    "freed": "已腾出",
    "resupplied": "已再供应",
    "producing": "已投产",
    "upgraded": "提容增效完成",
    "exempt": "豁免",
}

SEARCH_SQL = text(
    r"""
WITH hits AS (
    SELECT p.id, 1 AS rank, 'zddm' AS matched FROM parcel p
    WHERE (p.zddm LIKE :prefix ESCAPE '\' OR p.zddm_raw ILIKE :contains ESCAPE '\' OR p.bdcdyh LIKE :prefix ESCAPE '\')
      AND landgis_in_scope(p.region_code)
    UNION ALL
    SELECT o.parcel_id, 2, 'enterprise' FROM enterprise e JOIN occupancy o ON o.enterprise_id = e.id
    WHERE (e.name ILIKE :contains ESCAPE '\' OR e.uscc = :exact)
    UNION ALL
    SELECT p.id, 3, 'location' FROM parcel p
    WHERE p.location ILIKE :contains ESCAPE '\' AND landgis_in_scope(p.region_code)
    UNION ALL
    SELECT p.id, 4, 'right_holder' FROM parcel p
    WHERE p.right_holder ILIKE :contains ESCAPE '\' AND landgis_in_scope(p.region_code)
), best AS (
    SELECT id, min(rank) AS rank, array_agg(DISTINCT matched) AS matched FROM hits GROUP BY id
)
SELECT p.id, p.zddm, p.zddm_raw, p.location, p.right_holder, p.area_mu, p.renewal_status, b.rank, b.matched,
       ST_X(c.pt) AS lon, ST_Y(c.pt) AS lat,
       ST_XMin(p.geom) AS xmin, ST_YMin(p.geom) AS ymin, ST_XMax(p.geom) AS xmax, ST_YMax(p.geom) AS ymax,
       (SELECT string_agg(e.name, '、' ORDER BY e.name) FROM occupancy o JOIN enterprise e ON e.id = o.enterprise_id
        WHERE o.parcel_id = p.id) AS enterprises
FROM best b
JOIN parcel p ON p.id = b.id
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(p.geom) AS pt) c
WHERE landgis_in_scope(p.region_code)
ORDER BY b.rank, p.zddm NULLS LAST, p.id
LIMIT :limit
"""
)


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(conn: Connection, q: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """Parcels matching ``q``: a 宗地代码 (prefix) or 不动产单元号, an enterprise name or USCC, a
    坐落 or 权利人 (substring). Best matches first: code, enterprise, address, holder."""
    q = q.strip()
    if len(q) < 2:
        raise InvalidInput("搜索词至少两个字符 (the search text needs at least two characters)")
    if len(q) > 100:
        raise InvalidInput("搜索词过长, 最多 100 个字符 (search text too long)")
    limit = max(1, min(limit, SEARCH_LIMIT_MAX))
    escaped = _like_escape(q)
    rows = conn.execute(
        SEARCH_SQL, {"prefix": escaped.upper() + "%", "contains": f"%{escaped}%", "exact": q.upper(), "limit": limit}
    ).mappings()
    out = []
    for r in rows:
        item = dict(r)
        item["matched"] = list(item["matched"])
        item["renewal_status_label"] = RENEWAL_STATUS_LABELS.get(item["renewal_status"], item["renewal_status"])
        item["bbox"] = [item.pop("xmin"), item.pop("ymin"), item.pop("xmax"), item.pop("ymax")]
        out.append(item)
    return out


PARCEL_SQL = text(
    """
SELECT to_jsonb(p) - 'geom' AS attrs, ST_AsGeoJSON(p.geom, 7)::jsonb AS geometry,
       ST_X(ST_PointOnSurface(p.geom)) AS lon, ST_Y(ST_PointOnSurface(p.geom)) AS lat,
       ARRAY[ST_XMin(p.geom), ST_YMin(p.geom), ST_XMax(p.geom), ST_YMax(p.geom)] AS bbox,
       r.name AS region_name, z.code AS zone_code, z.name AS zone_name, z.zone_type
FROM parcel p
LEFT JOIN region r ON r.code = p.region_code
LEFT JOIN zone z ON z.id = p.zone_id
WHERE p.id = :id AND landgis_in_scope(p.region_code)
"""
)

ENTERPRISES_SQL = text(
    """
SELECT e.id, e.uscc, e.name, e.scale, e.industry_code, e.registration_date, e.production_start_date,
       o.land_area_mu, o.tenure, o.valid_from, o.valid_to,
       coalesce((SELECT jsonb_agg(to_jsonb(y) - 'id' - 'enterprise_id' - 'load_batch_id' - 'created_at' - 'updated_at'
                                  ORDER BY y.year)
                 FROM enterprise_year y WHERE y.enterprise_id = e.id), '[]'::jsonb) AS figures
FROM occupancy o JOIN enterprise e ON e.id = o.enterprise_id
WHERE o.parcel_id = :id
ORDER BY e.name, o.valid_from NULLS FIRST
"""
)

MU_SQL = text(
    """
SELECT year, enterprises, tax_wan, value_added_wan, land_mu, mu_tax, mu_value_added
FROM v_parcel_mu_tax WHERE parcel_id = :id ORDER BY year
"""
)

HISTORY_SQL = text(
    """
SELECT c.occurred_at, c.actor, c.table_name, c.row_id, c.action, c.batch_id, c.changes, b.source_name
FROM change_log c
LEFT JOIN load_batch b ON b.id = c.batch_id
WHERE (c.table_name = 'parcel' AND c.row_id = :id)
   OR (c.table_name = 'occupancy' AND c.row_id IN (SELECT o.id FROM occupancy o WHERE o.parcel_id = :id))
ORDER BY c.occurred_at DESC, c.id DESC
LIMIT 200
"""
)

#: Changes whose values are too large to list (geometry as GeoJSON, the source's raw row).
BULKY_FIELDS = {"geom": "（几何已变更）", "source_attrs": "（原始属性已变更）"}


def _relation_columns(conn: Connection, relation: str) -> set[str]:
    rows = conn.execute(
        text(
            "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass(:r) AND a.attnum > 0 "
            "AND NOT a.attisdropped"
        ),
        {"r": relation},
    ).scalars()
    return {str(r) for r in rows}


def _evaluation(conn: Connection, parcel_id: int) -> dict[str, Any] | None:
    """亩均评价 classes of the parcel from ``v_parcel_class`` (the evaluation module), when it exists."""
    columns = _relation_columns(conn, "v_parcel_class")
    if not {"parcel_id", "year", "class"} <= columns:
        return None
    wanted = [c for c in ("year", "class", "mu_tax", "mu_value_added", "run_id") if c in columns]
    quote = conn.dialect.identifier_preparer.quote
    sql = f"SELECT {', '.join(quote(c) for c in wanted)} FROM v_parcel_class WHERE parcel_id = :id ORDER BY year"  # noqa: S608 - whitelisted names
    rows = [dict(r) for r in conn.execute(text(sql), {"id": parcel_id}).mappings()]
    return {"classes": rows}


def _timeline(history: list[dict[str, Any]], current: str) -> list[dict[str, Any]]:
    steps = []
    for item in reversed(history):
        if item["table_name"] != "parcel":
            continue
        change = item["changes"].get("renewal_status") if item["action"] == "update" else None
        if item["action"] == "insert":
            steps.append({"at": item["occurred_at"], "status": None, "event": "入库", "actor": item["actor"]})
        elif change:
            steps.append(
                {
                    "at": item["occurred_at"],
                    "from": change.get("old"),
                    "status": change.get("new"),
                    "event": "状态变更",
                    "actor": item["actor"],
                }
            )
    first_status = next((s.get("from") for s in steps if s["event"] == "状态变更"), current)
    for step in steps:
        if step["event"] == "入库":
            step["status"] = first_status
    for step in steps:
        step["status_label"] = RENEWAL_STATUS_LABELS.get(step["status"] or "", step["status"])
    return steps


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def dossier(conn: Connection, parcel_id: int) -> dict[str, Any]:
    """Everything about one parcel: attributes, enterprises with yearly figures, 亩均 per year,
    evaluation classes (when the evaluation exists), renewal-status timeline and change history."""
    row = conn.execute(PARCEL_SQL, {"id": parcel_id}).mappings().one_or_none()
    if row is None:
        raise NotFound(f"宗地 {parcel_id} 不存在或不在您的管辖范围内 (parcel not found)")
    attrs = dict(row["attrs"])
    attrs["renewal_status_label"] = RENEWAL_STATUS_LABELS.get(attrs.get("renewal_status", ""))
    enterprises = [
        {k: _plain(v) for k, v in r.items()} for r in conn.execute(ENTERPRISES_SQL, {"id": parcel_id}).mappings()
    ]
    mu = [dict(r) for r in conn.execute(MU_SQL, {"id": parcel_id}).mappings()]
    history = []
    for r in conn.execute(HISTORY_SQL, {"id": parcel_id}).mappings():
        item = dict(r)
        changes = item["changes"] or {}
        if item["action"] == "update":
            changes = {k: BULKY_FIELDS.get(k, v) for k, v in changes.items()}
        elif item["action"] == "delete":
            changes = {k: v for k, v in changes.items() if k not in BULKY_FIELDS}
        item["changes"] = changes
        item["occurred_at"] = item["occurred_at"].isoformat()
        history.append(item)
    return {
        "parcel": attrs,
        "region_name": row["region_name"],
        "zone": {"code": row["zone_code"], "name": row["zone_name"], "zone_type": row["zone_type"]}
        if row["zone_code"]
        else None,
        "geometry": row["geometry"],
        "centre": [row["lon"], row["lat"]],
        "bbox": list(row["bbox"]),
        "enterprises": enterprises,
        "mu_by_year": mu,
        "evaluation": _evaluation(conn, parcel_id),
        "status_timeline": _timeline(history, attrs.get("renewal_status", "normal")),
        "history": history,
        "status_labels": RENEWAL_STATUS_LABELS,
    }


def as_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=_plain)


def dossier_exists(conn: Connection, parcel_id: int) -> None:
    """NotFound unless the parcel exists inside the caller's region scope."""
    found = conn.execute(
        text("SELECT 1 FROM parcel p WHERE p.id = :id AND landgis_in_scope(p.region_code)"), {"id": parcel_id}
    ).first()
    if found is None:
        raise NotFound(f"宗地 {parcel_id} 不存在或不在您的管辖范围内 (parcel not found)")
