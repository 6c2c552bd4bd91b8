"""``landgis load regions | zones | targets``: 行政区划, 园区/片区 boundaries and their targets.

These files are small (tens to thousands of features); each load is one transaction, merged on
the code, and a re-run of the same file changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from landgis import codes
from landgis.db.engine import set_audit_context
from landgis.errors import InvalidInput
from landgis.geo import STORAGE_SRID
from landgis.loading import values
from landgis.loading.batch import LoadFailed, LoadOptions, close_batch, open_batch, record_failed_batch
from landgis.loading.parcels import assign_zones
from landgis.loading.report import LoadReport
from landgis.loading.source import sha256_of
from landgis.loading.workbook import Column, read_table

REGION_FIELDS = {
    "code": ("代码", "code", "XZQDM"),
    "name": ("名称", "name", "XZQMC"),
    "level": ("级别", "level"),
    "parent_code": ("上级代码", "parent_code", "parent"),
}
ZONE_FIELDS = {
    "code": ("编码", "code"),
    "name": ("名称", "name"),
    "zone_type": ("类型", "zone_type", "type"),
    "region_code": ("所属区划", "region_code", "行政区划代码"),
}
METRICS = {
    "治理面积": "governed_mu",
    "腾出面积": "freed_mu",
    "容积率提升": "far_uplift",
    "亩均税收增长": "mu_tax_growth",
    "亩均增加值增长": "mu_value_added_growth",
}
TARGET_COLUMNS = [
    Column("zone_code", ("园区编码", "编码", "片区编码"), required=True),
    Column("metric", ("指标", "目标指标"), required=True),
    Column("year_from", ("起始年度", "开始年度", "年度"), required=True),
    Column("year_to", ("截止年度", "结束年度")),
    Column("value", ("目标值", "目标"), required=True),
    Column("unit", ("单位",)),
    Column("note", ("说明", "备注")),
]


def _read_features(path: Path) -> gpd.GeoDataFrame:
    if not path.is_file():
        raise InvalidInput(f"{path}: 文件不存在 (no such file)")
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:
        raise InvalidInput(f"{path.name}: 文件无法读取 ({type(exc).__name__})") from exc
    if frame.crs is not None and frame.crs.to_epsg() != STORAGE_SRID:
        frame = frame.to_crs(STORAGE_SRID)
    return frame


def _pick(frame: pd.DataFrame, aliases: tuple[str, ...]) -> str | None:
    return next((c for c in frame.columns if str(c).strip() in aliases), None)


def _multi_wkb(geom: Any) -> str | None:
    if geom is None or shapely.is_empty(geom):
        return None
    if shapely.get_type_id(geom) == 3:
        geom = shapely.multipolygons([geom])
    if not shapely.is_valid(geom):
        geom = shapely.make_valid(geom)
    return str(shapely.to_wkb(shapely.set_srid(geom, STORAGE_SRID), hex=True, include_srid=True))


def _guarded(
    conn: Connection, kind: str, report: LoadReport, options: LoadOptions, work: Callable[[Connection], int]
) -> LoadReport:
    """Run ``work`` in a savepoint as one batch; refuse it all when any row was rejected."""
    started = time.monotonic()
    try:
        with conn.begin_nested():
            report.batch_id = open_batch(conn, kind, report, options, {})
            set_audit_context(conn, actor=options.actor, batch_id=report.batch_id)
            changed = work(conn)
            report.counts["rejected"] = len(report.rejected_rows)
            if report.errors:
                report.status = "failed"
                report.message = f"{len(report.rejected_rows)} 行被拒绝, 未写入任何数据"
                raise LoadFailed(report.message, report)
            report.status = "committed" if changed else "unchanged"
            report.counts["inserted"] = changed
            close_batch(conn, report.batch_id, report.status, report.counts)
            report.message = f"写入 {changed} 条" if changed else "数据无变化 (nothing changed)"
    except LoadFailed as exc:
        report.batch_id = record_failed_batch(conn, kind, exc.report, options)
        raise
    finally:
        report.elapsed_s = time.monotonic() - started
    return report


def load_regions(conn: Connection, path: Path, options: LoadOptions | None = None) -> LoadReport:
    """Load 行政区划 (code, name, level, parent, boundary); parents before children."""
    options = options or LoadOptions()
    frame = _read_features(path)
    report = LoadReport(kind="regions", file=path.name, checksum=sha256_of([path]))
    report.counts["read"] = len(frame)
    cols = {k: _pick(frame, v) for k, v in REGION_FIELDS.items()}
    if cols["code"] is None or cols["name"] is None:
        raise InvalidInput(f"{path.name}: 缺少 代码/名称 字段 (fields: {', '.join(map(str, frame.columns))})")
    rows: list[dict[str, Any]] = []
    for index, record in enumerate(frame.itertuples(index=False)):
        data = record._asdict()
        check = codes.check_region_code(str(data[cols["code"]]))
        if not check.valid or check.value is None:
            report.flag(index + 1, str(cols["code"]), "error", "region_code", check.reason or "")
            continue
        parent = data.get(cols["parent_code"]) if cols["parent_code"] else None
        level = data.get(cols["level"]) if cols["level"] else None
        rows.append(
            {
                "code": check.value,
                "name": values.clean_text(data[cols["name"]]),
                "level": codes.region_level(check.value) if level is None or values.is_blank(level) else int(level),
                "parent": values.clean_text(parent),
                "boundary": _multi_wkb(data.get("geometry")),
            }
        )
    rows.sort(key=lambda r: (len(r["code"]), r["code"]))

    def work(conn: Connection) -> int:
        changed = 0
        for row in rows:
            changed += conn.execute(
                text(
                    "INSERT INTO region (code, name, level, parent_code, boundary)"
                    " VALUES (:code, :name, :level, :parent, ST_GeomFromEWKB(decode(:boundary, 'hex')))"
                    " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level,"
                    "   parent_code = EXCLUDED.parent_code, boundary = EXCLUDED.boundary"
                    " WHERE (region.name, region.level, region.parent_code, region.boundary)"
                    "   IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.level, EXCLUDED.parent_code, EXCLUDED.boundary)"
                ),
                row,
            ).rowcount
        return changed

    return _guarded(conn, "regions", report, options, work)


def load_zones(conn: Connection, path: Path, options: LoadOptions | None = None) -> LoadReport:
    """Load 开发区/工业园区/小微企业园/整治片区 boundaries and re-assign parcels to zones."""
    options = options or LoadOptions()
    frame = _read_features(path)
    report = LoadReport(kind="zones", file=path.name, checksum=sha256_of([path]))
    report.counts["read"] = len(frame)
    cols = {k: _pick(frame, v) for k, v in ZONE_FIELDS.items()}
    missing = [k for k, v in cols.items() if v is None]
    if missing:
        raise InvalidInput(f"{path.name}: 缺少字段 {', '.join('/'.join(ZONE_FIELDS[m]) for m in missing)}")
    rows: list[dict[str, Any]] = []
    for index, record in enumerate(frame.itertuples(index=False)):
        data = record._asdict()
        row_no = index + 1
        try:
            zone_type = values.parse_zone_type(data[cols["zone_type"]])
        except ValueError as exc:
            report.flag(row_no, str(cols["zone_type"]), "error", "zone_type", str(exc))
            continue
        boundary = _multi_wkb(data.get("geometry"))
        if boundary is None:
            report.flag(row_no, "geometry", "error", "geometry_missing", "园区边界为空")
            continue
        rows.append(
            {
                "code": values.clean_text(data[cols["code"]]),
                "name": values.clean_text(data[cols["name"]]),
                "zone_type": zone_type,
                "region": str(data[cols["region_code"]]).strip(),
                "boundary": boundary,
            }
        )

    def work(conn: Connection) -> int:
        changed = 0
        for row in rows:
            changed += conn.execute(
                text(
                    "INSERT INTO zone (code, name, zone_type, region_code, boundary)"
                    " VALUES (:code, :name, :zone_type, :region, ST_GeomFromEWKB(decode(:boundary, 'hex')))"
                    " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, zone_type = EXCLUDED.zone_type,"
                    "   region_code = EXCLUDED.region_code, boundary = EXCLUDED.boundary"
                    " WHERE (zone.name, zone.zone_type, zone.region_code, zone.boundary)"
                    "   IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.zone_type, EXCLUDED.region_code, EXCLUDED.boundary)"
                ),
                row,
            ).rowcount
        if changed:
            assign_zones(conn)
        return changed

    return _guarded(conn, "zones", report, options, work)


def load_targets(conn: Connection, path: Path, options: LoadOptions | None = None) -> LoadReport:
    """Load zone targets (园区编码, 指标, 起始年度, 截止年度, 目标值, 单位)."""
    options = options or LoadOptions()
    table = read_table(path, TARGET_COLUMNS)
    report = LoadReport(kind="targets", file=table.label, checksum=table.checksum)
    report.counts["read"] = len(table.frame)
    rows: list[dict[str, Any]] = []
    for index, record in table.frame.iterrows():
        row_no = table.sheet_row(int(str(index)))
        cell = {t: record[h] for t, h in table.columns.items()}
        metric = METRICS.get(str(cell["metric"]).strip())
        if metric is None:
            report.flag(
                row_no,
                table.columns["metric"],
                "error",
                "metric",
                f"未知指标 {cell['metric']!r} (known: {', '.join(METRICS)})",
            )
            continue
        try:
            year_from = int(values.parse_number(cell["year_from"]) or 0)
            year_to = int(values.parse_number(cell.get("year_to")) or year_from)
            value = values.parse_number(cell["value"])
        except ValueError as exc:
            report.flag(row_no, "", "error", "bad_value", str(exc))
            continue
        if value is None:
            report.flag(row_no, table.columns["value"], "error", "value_missing", "目标值为空")
            continue
        unit = str(cell.get("unit") or "").strip()
        if metric.endswith("growth") and (unit == "%" or value > 1):
            value /= 100.0
        rows.append(
            {
                "zone": str(cell["zone_code"]).strip(),
                "metric": metric,
                "year_from": year_from,
                "year_to": year_to,
                "value": value,
                "note": values.clean_text(cell.get("note")),
            }
        )

    def work(conn: Connection) -> int:
        zones: dict[str, int] = dict(conn.execute(text("SELECT code, id FROM zone")).all())
        changed = 0
        for row in rows:
            zone_id = zones.get(row["zone"])
            if zone_id is None:
                report.flag(
                    0,
                    table.columns["zone_code"],
                    "error",
                    "zone_unknown",
                    f"园区编码 {row['zone']} 不存在 (load zones first)",
                    row["zone"],
                )
                continue
            changed += conn.execute(
                text(
                    "INSERT INTO zone_target (zone_id, metric, year_from, year_to, value, note)"
                    " VALUES (:zone_id, :metric, :year_from, :year_to, :value, :note)"
                    " ON CONFLICT (zone_id, metric, year_from, year_to) DO UPDATE SET value = EXCLUDED.value,"
                    "   note = EXCLUDED.note WHERE (zone_target.value, zone_target.note)"
                    "   IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.note)"
                ),
                {**row, "zone_id": zone_id},
            ).rowcount
        return changed

    return _guarded(conn, "targets", report, options, work)
