"""Exports of evaluations, candidates (with blocks), plans and zone totals.

Formats: Excel (.xlsx, Chinese headers with units), GeoPackage (one layer per table), Shapefile
(a .zip holding one shapefile per layer, text in GBK with a ``.cpg`` saying so and field names
of at most 10 bytes, as ArcGIS-era systems expect) and GeoJSON (one file, or a .zip when there
are several layers). Geometry is in CGCS2000 (EPSG:4490). Every query is limited to the caller's
region scope.
"""

from __future__ import annotations

import math
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import Connection, text

from landgis.errors import InvalidInput
from landgis.geo import STORAGE_SRID

FORMATS = ("xlsx", "gpkg", "shp", "geojson")
SUFFIX = {"xlsx": ".xlsx", "gpkg": ".gpkg", "shp": ".zip", "geojson": ".geojson"}
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "gpkg": "application/geopackage+sqlite3",
    "shp": "application/zip",
    "geojson": "application/geo+json",
}
SHP_TEXT_BYTES = 254


@dataclass(frozen=True)
class Col:
    """A column: source key, Chinese header, unit, and the ≤10-byte GBK shapefile field name."""

    key: str
    header: str
    short: str
    unit: str | None = None

    @property
    def title(self) -> str:
        return f"{self.header}({self.unit})" if self.unit else self.header


@dataclass
class Layer:
    """One table to export, with geometry (WKB, EPSG:4490) in ``geom`` when it has any."""

    name: str
    frame: pd.DataFrame
    columns: Sequence[Col]


def format_from(fmt: str | None, path: Path | None = None) -> str:
    """The export format named, or implied by the file suffix."""
    if fmt is None and path is not None:
        suffix = path.suffix.lower().lstrip(".")
        fmt = {"zip": "shp", "json": "geojson"}.get(suffix, suffix)
    if fmt not in FORMATS:
        raise InvalidInput(f"format: 不支持的导出格式 {fmt!r} (supported: {', '.join(FORMATS)})")
    return fmt


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    if value is pd.NA:
        return None
    return value


def write_xlsx(path: Path, layers: Sequence[Layer]) -> Path:
    """One sheet per layer, headers in Chinese with units, frozen header row."""
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for layer in layers:
        sheet = workbook.create_sheet(layer.name[:31])
        sheet.freeze_panes = "A2"
        for index, col in enumerate(layer.columns):
            width = max(10, min(40, len(col.title.encode("gbk", errors="replace")) + 2))
            sheet.column_dimensions[_letter(index)].width = width
        header = []
        for col in layer.columns:
            cell = WriteOnlyCell(sheet, value=col.title)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        keys = [c.key for c in layer.columns]
        for row in layer.frame[keys].itertuples(index=False, name=None):
            sheet.append([_clean(v) for v in row])
    workbook.save(path)
    return path


def _letter(index: int) -> str:
    letters, n = "", index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _geo_frame(layer: Layer, *, short: bool) -> gpd.GeoDataFrame:
    data = {}
    for col in layer.columns:
        values = layer.frame[col.key].map(_clean)
        if short and values.dtype == object:
            values = values.map(_gbk_cut)
        data[col.short if short else col.title] = values.to_numpy()
    geoms = shapely.from_wkb([bytes(g) if g is not None else None for g in layer.frame["geom"]])
    return gpd.GeoDataFrame(data, geometry=geoms, crs=STORAGE_SRID)


def _gbk_cut(value: Any) -> Any:
    """Text cut to what a DBF field holds in GBK, never in the middle of a character."""
    if not isinstance(value, str):
        return value
    encoded = value.encode("gbk", errors="replace")
    if len(encoded) <= SHP_TEXT_BYTES:
        return value
    return encoded[:SHP_TEXT_BYTES].decode("gbk", errors="ignore")


def write_geo(path: Path, fmt: str, layers: Sequence[Layer]) -> Path:
    """GeoPackage, zipped Shapefile(s) in GBK, or GeoJSON (zipped when several layers)."""
    if fmt == "gpkg":
        path.unlink(missing_ok=True)
        for layer in layers:
            _geo_frame(layer, short=False).to_file(path, layer=layer.name, driver="GPKG", engine="pyogrio")
        return path
    with tempfile.TemporaryDirectory(prefix="landgis-export-") as scratch:
        folder = Path(scratch)
        written: list[Path] = []
        for layer in layers:
            if fmt == "shp":
                for col in layer.columns:
                    assert len(col.short.encode("gbk")) <= 10, col.short
                target = folder / f"{layer.name}.shp"
                _geo_frame(layer, short=True).to_file(target, driver="ESRI Shapefile", encoding="GBK", engine="pyogrio")
                target.with_suffix(".cpg").write_text("GBK", encoding="ascii")
                written += sorted(folder.glob(f"{layer.name}.*"))
            else:
                target = folder / f"{layer.name}.geojson"
                _geo_frame(layer, short=False).to_file(target, driver="GeoJSON", engine="pyogrio")
                written.append(target)
        if fmt == "geojson" and len(written) == 1:
            path.write_bytes(written[0].read_bytes())
            return path
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for file in written:
                archive.write(file, arcname=file.name)
    return path


def write_layers(path: Path, fmt: str, layers: Sequence[Layer]) -> Path:
    """Write ``layers`` in ``fmt``; spatial formats skip layers without geometry."""
    if fmt == "xlsx":
        return write_xlsx(path, layers)
    spatial = [layer for layer in layers if "geom" in layer.frame.columns]
    if not spatial:
        raise InvalidInput(f"format: {fmt} 需要带几何的数据, 请导出为 xlsx (no geometry to export)")
    return write_geo(path, fmt, spatial)


def _frame(conn: Connection, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    result = conn.execute(text(sql), params)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


# --------------------------------------------------------------------------- candidates and plans

PARCEL_COLUMNS = (
    Col("parcel_id", "宗地编号", "宗地编号"),
    Col("zddm", "宗地代码", "宗地代码"),
    Col("location", "坐落", "坐落"),
    Col("right_holder", "权利人", "权利人"),
    Col("region_code", "行政区划代码", "区划代码"),
    Col("area_mu", "用地面积", "面积亩", "亩"),
    Col("far", "容积率", "容积率"),
    Col("renewal_status", "更新状态", "更新状态"),
    Col("firms", "企业数", "企业数"),
    Col("tax_wan", "税收", "税收万元", "万元"),
    Col("value_added_wan", "工业增加值", "增加值万元", "万元"),
    Col("mu_tax", "亩均税收", "亩均税收", "万元/亩"),
    Col("mu_value_added", "亩均增加值", "亩均增加值", "万元/亩"),
    Col("main_scale", "主要用地企业规模", "规模"),
    Col("main_industry", "主要用地企业行业代码", "行业代码"),
    Col("class", "亩均评价类别", "类别"),
    Col("block_id", "连片地块编号", "连片编号"),
    Col("reasons", "认定理由", "认定理由"),
)
BLOCK_COLUMNS = (
    Col("block_id", "连片地块编号", "连片编号"),
    Col("parcel_count", "宗地数", "宗地数"),
    Col("area_mu", "面积", "面积亩", "亩"),
    Col("far", "容积率(面积加权)", "容积率"),
    Col("tax_wan", "税收", "税收万元", "万元"),
    Col("value_added_wan", "工业增加值", "增加值万元", "万元"),
    Col("mu_tax", "亩均税收", "亩均税收", "万元/亩"),
    Col("parcel_ids", "宗地编号", "宗地编号"),
)
TOTAL_COLUMNS = (Col("item", "项目", "项目"), Col("value", "数值", "数值"), Col("unit", "单位", "单位"))


def _totals_layer(totals: dict[str, Any]) -> Layer:
    rows = [
        ("宗地数", totals.get("count"), "宗"),
        ("面积", totals.get("area_mu"), "亩"),
        ("税收", totals.get("tax_wan"), "万元"),
        ("工业增加值", totals.get("value_added_wan"), "万元"),
        ("亩均税收", totals.get("mu_tax"), "万元/亩"),
    ]
    blocks = totals.get("blocks")
    if blocks:
        rows += [("连片地块数", blocks["count"], "块"), ("连片面积", blocks["area_mu"], "亩")]
    return Layer("汇总", pd.DataFrame(rows, columns=["item", "value", "unit"]), TOTAL_COLUMNS)


def export_candidates(conn: Connection, fmt: str, path: Path, totals: dict[str, Any], has_blocks: bool) -> Path:
    """Export the selection held in the transaction (``select_candidates`` ran first)."""
    from landgis.candidates.selection import parcels_frame

    parcels = parcels_frame(conn, with_geometry=fmt != "xlsx")
    layers = [Layer("候选宗地", parcels, PARCEL_COLUMNS)]
    if has_blocks:
        geom = ", ST_AsBinary(geom) AS geom" if fmt != "xlsx" else ""
        blocks = _frame(
            conn,
            "SELECT block_id, parcel_count, area_mu, far, tax_wan, value_added_wan, mu_tax, parcel_ids"
            f"{geom} FROM landgis_block ORDER BY block_id",
            {},
        )
        layers.append(Layer("连片地块", blocks, BLOCK_COLUMNS))
    if fmt == "xlsx":
        layers.append(_totals_layer(totals))
    return write_layers(path, fmt, layers)


def export_plan(conn: Connection, plan_id: int, fmt: str, path: Path) -> Path:
    """A saved plan: its parcels (figures as saved) and its blocks (unions of their parcels)."""
    from landgis.plans import get_plan

    plan = get_plan(conn, plan_id)
    geom = ", ST_AsBinary(p.geom) AS geom" if fmt != "xlsx" else ""
    parcels = _frame(
        conn,
        "SELECT pp.parcel_id, p.zddm, p.location, p.right_holder, p.region_code, pp.area_mu, pp.far,"
        " p.renewal_status, NULL::integer AS firms, pp.tax_wan, pp.value_added_wan, pp.mu_tax,"
        " pp.value_added_wan / nullif(pp.area_mu, 0) AS mu_value_added, NULL AS main_scale,"
        " NULL AS main_industry, NULL AS class, pp.block_no AS block_id, pp.reasons"
        f"{geom} FROM plan_parcel pp JOIN parcel p ON p.id = pp.parcel_id"
        " WHERE pp.plan_id = :id AND (landgis_setting('landgis.scope') IS NULL OR landgis_in_scope(p.region_code)) ORDER BY pp.parcel_id",
        {"id": plan_id},
    )
    block_geom = ", ST_AsBinary(ST_Multi(ST_Union(p.geom))) AS geom" if fmt != "xlsx" else ""
    blocks = _frame(
        conn,
        "SELECT pp.block_no AS block_id, count(*) AS parcel_count, sum(pp.area_mu) AS area_mu,"
        " sum(pp.far * pp.area_mu) / nullif(sum(pp.area_mu) FILTER (WHERE pp.far IS NOT NULL), 0) AS far,"
        " coalesce(sum(pp.tax_wan), 0) AS tax_wan, coalesce(sum(pp.value_added_wan), 0) AS value_added_wan,"
        " coalesce(sum(pp.tax_wan), 0) / nullif(sum(pp.area_mu), 0) AS mu_tax,"
        f" array_agg(pp.parcel_id ORDER BY pp.parcel_id) AS parcel_ids{block_geom}"
        " FROM plan_parcel pp JOIN parcel p ON p.id = pp.parcel_id"
        " WHERE pp.plan_id = :id AND pp.block_no IS NOT NULL AND (landgis_setting('landgis.scope') IS NULL OR landgis_in_scope(p.region_code))"
        " GROUP BY pp.block_no ORDER BY pp.block_no",
        {"id": plan_id},
    )
    layers = [Layer("方案宗地", parcels, PARCEL_COLUMNS)]
    if not blocks.empty:
        layers.append(Layer("连片地块", blocks, BLOCK_COLUMNS))
    if fmt == "xlsx":
        layers.append(_totals_layer(plan["totals"]))
    return write_layers(path, fmt, layers)


# --------------------------------------------------------------------------- evaluations

EVALUATION_PARCEL_COLUMNS = (
    Col("parcel_id", "宗地编号", "宗地编号"),
    Col("zddm", "宗地代码", "宗地代码"),
    Col("location", "坐落", "坐落"),
    Col("region_code", "行政区划代码", "区划代码"),
    Col("area_mu", "用地面积", "面积亩", "亩"),
    Col("enterprise_count", "企业数", "企业数"),
    Col("tax_wan", "税收", "税收万元", "万元"),
    Col("value_added_wan", "工业增加值", "增加值万元", "万元"),
    Col("mu_tax", "亩均税收", "亩均税收", "万元/亩"),
    Col("mu_value_added", "亩均增加值", "亩均增加值", "万元/亩"),
    Col("main_enterprise", "主要用地企业", "主要企业"),
    Col("class", "主要用地企业类别", "类别"),
)


def export_evaluation(conn: Connection, run_id: int, fmt: str, path: Path) -> Path:
    """A run: per enterprise (xlsx) with every indicator's value and score, and per parcel."""
    from landgis.evaluation.runs import get_run, run_policy

    run = get_run(conn, run_id)
    policy = run_policy(conn, run_id)
    geom = ", ST_AsBinary(p.geom) AS geom" if fmt != "xlsx" else ""
    parcels = _frame(
        conn,
        "SELECT ep.parcel_id, p.zddm, p.location, ep.region_code, ep.area_mu, ep.enterprise_count, ep.tax_wan,"
        " ep.value_added_wan, ep.mu_tax, ep.mu_value_added, e.name AS main_enterprise, ep.class"
        f"{geom} FROM evaluation_parcel ep JOIN parcel p ON p.id = ep.parcel_id"
        " LEFT JOIN enterprise e ON e.id = ep.main_enterprise_id"
        " WHERE ep.run_id = :run AND (landgis_setting('landgis.scope') IS NULL OR landgis_in_scope(ep.region_code)) ORDER BY ep.parcel_id",
        {"run": run_id},
    )
    parcel_layer = Layer("宗地亩均", parcels, EVALUATION_PARCEL_COLUMNS)
    if fmt != "xlsx":
        return write_layers(path, fmt, [parcel_layer])
    firms = _frame(
        conn,
        "SELECT r.enterprise_id, e.uscc, e.name, e.scale, e.industry_code, r.segment, r.status, r.land_area_mu,"
        " r.figures, r.indicator_values, r.indicator_scores, r.base_score, r.adjustment, r.score, r.rank,"
        " r.rank_of, r.class, r.notes FROM evaluation_result r JOIN enterprise e ON e.id = r.enterprise_id"
        " WHERE r.run_id = :run ORDER BY r.segment, r.rank NULLS LAST, r.enterprise_id",
        {"run": run_id},
    )
    columns = [
        Col("uscc", "统一社会信用代码", "信用代码"),
        Col("name", "企业名称", "企业名称"),
        Col("scale_label", "规模", "规模"),
        Col("industry_code", "行业代码", "行业代码"),
        Col("segment_name", "评价分组", "评价分组"),
        Col("status_label", "状态", "状态"),
        Col("land_area_mu", "用地面积", "面积亩", "亩"),
        Col("tax_wan", "税收", "税收万元", "万元"),
        Col("value_added_wan", "工业增加值", "增加值万元", "万元"),
    ]
    names = {s.id: s.name for s in policy.segments}
    positions: dict[str, dict[str, int]] = {
        s.id: {spec.indicator: i for i, spec in enumerate(s.indicators)} for s in policy.segments
    }
    seen: dict[str, Any] = {}
    for segment in policy.segments:
        for spec in segment.indicators:
            seen.setdefault(spec.indicator, spec.definition)
    for code, definition in seen.items():
        firms[f"v_{code}"] = [
            (vals[positions[seg][code]] if vals is not None and code in positions.get(seg, {}) else None)
            for seg, vals in zip(firms["segment"], firms["indicator_values"], strict=True)
        ]
        firms[f"s_{code}"] = [
            (vals[positions[seg][code]] if vals is not None and code in positions.get(seg, {}) else None)
            for seg, vals in zip(firms["segment"], firms["indicator_scores"], strict=True)
        ]
        columns += [
            Col(f"v_{code}", definition.name, definition.name[:5], definition.unit),
            Col(f"s_{code}", f"{definition.name}得分", f"{definition.name[:3]}得分"),
        ]
    from landgis.evaluation.runs import STATUS_LABELS

    firms["scale_label"] = firms["scale"].map({"above": "规上", "below": "规下"})
    firms["segment_name"] = firms["segment"].map(names).fillna(firms["segment"])
    firms["status_label"] = firms["status"].map(STATUS_LABELS)
    firms["tax_wan"] = firms["figures"].map(lambda f: f.get("tax_wan"))
    firms["value_added_wan"] = firms["figures"].map(lambda f: f.get("value_added_wan"))
    labels = policy.classes.labels
    firms["class_label"] = firms["class"].map(lambda c: labels.get(c) if c else "不定等级")
    columns += [
        Col("base_score", "指标得分合计", "指标得分"),
        Col("adjustment", "加减分", "加减分"),
        Col("score", "综合得分", "综合得分"),
        Col("rank", "组内排名", "组内排名"),
        Col("rank_of", "组内参评企业数", "参评数"),
        Col("class", "类别", "类别"),
        Col("class_label", "类别名称", "类别名称"),
        Col("notes", "说明", "说明"),
    ]
    summary_rows = []
    for seg_id, data in run.summary.get("segments", {}).items():
        for klass, count in sorted(data.get("classes", {}).items()):
            summary_rows.append((names.get(seg_id, seg_id), klass, labels.get(klass, ""), count))
        for status, count in data.get("status", {}).items():
            if status != "rated":
                summary_rows.append((names.get(seg_id, seg_id), "", STATUS_LABELS.get(status, status), count))
    summary = pd.DataFrame(summary_rows, columns=["segment", "class", "label", "count"])
    summary_cols = (
        Col("segment", "评价分组", "评价分组"),
        Col("class", "类别", "类别"),
        Col("label", "名称", "名称"),
        Col("count", "企业数", "企业数"),
    )
    return write_layers(
        path,
        fmt,
        [Layer("企业评价结果", firms, columns), parcel_layer, Layer("分类汇总", summary, summary_cols)],
    )


# --------------------------------------------------------------------------- totals

ZONE_TOTAL_COLUMNS = (
    Col("code", "园区编码", "园区编码"),
    Col("name", "园区名称", "园区名称"),
    Col("industrial_mu", "工业用地面积", "工业用地", "亩"),
    Col("occupied_mu", "在用工业用地面积", "在用用地", "亩"),
    Col("class_A", "A类用地", "A类用地", "亩"),
    Col("class_B", "B类用地", "B类用地", "亩"),
    Col("class_C", "C类用地", "C类用地", "亩"),
    Col("class_D", "D类用地", "D类用地", "亩"),
    Col("class_none", "未评价用地", "未评价", "亩"),
    Col("tax_wan", "税收", "税收万元", "万元"),
    Col("value_added_wan", "工业增加值", "增加值万元", "万元"),
    Col("mu_tax", "亩均税收", "亩均税收", "万元/亩"),
    Col("mu_value_added", "亩均增加值", "亩均增加值", "万元/亩"),
    Col("mu_tax_above", "规上亩均税收", "规上亩均税", "万元/亩"),
    Col("mu_tax_above_growth", "规上亩均税收增长", "税收增长", "比上年"),
    Col("far_start_of_year", "年初容积率", "年初容积率"),
    Col("far", "当前容积率", "当前容积率"),
    Col("governed_this_year", "本年治理面积", "治理面积", "亩"),
    Col("freed_this_year", "本年腾出面积", "腾出面积", "亩"),
)
TARGET_COLUMNS = (
    Col("zone", "园区", "园区"),
    Col("label", "目标", "目标"),
    Col("period", "期间", "期间"),
    Col("target", "目标值", "目标值"),
    Col("actual", "完成值", "完成值"),
    Col("progress", "完成进度", "完成进度"),
    Col("unit", "单位", "单位"),
)


def export_totals(conn: Connection, year: int, path: Path, region_code: str | None = None) -> Path:
    """The totals page as a workbook: zones, target progress, regions."""
    from landgis.totals import zone_totals

    page = zone_totals(conn, year, region_code=region_code)

    def flat(unit: dict[str, Any], code: str, name: str) -> dict[str, Any]:
        classes = unit["by_class"]
        return {
            "code": code,
            "name": name,
            **{k: unit[k] for k in ("industrial_mu", "occupied_mu", "tax_wan", "value_added_wan", "mu_tax")},
            **{k: unit[k] for k in ("mu_value_added", "mu_tax_above", "mu_tax_above_growth", "far_start_of_year")},
            "far": unit["far"],
            "class_A": classes.get("A", 0.0),
            "class_B": classes.get("B", 0.0),
            "class_C": classes.get("C", 0.0),
            "class_D": classes.get("D", 0.0),
            "class_none": classes.get("未评价", 0.0),
            "governed_this_year": unit["governed_mu"].get(str(year), 0.0),
            "freed_this_year": unit["freed_mu"].get(str(year), 0.0),
        }

    zone_rows = [flat(z, z["code"], z["name"]) for z in page["zones"]]
    zone_rows.append(flat(page["outside_zones"], "", "园区外"))
    zone_rows.append(flat(page["total"], page["region_code"] or "", "合计"))
    targets = [
        {
            "zone": z["name"],
            "label": t["label"],
            "period": f"{t['year_from']}" if t["year_from"] == t["year_to"] else f"{t['year_from']}-{t['year_to']}",
            "target": t["target"],
            "actual": t["actual"],
            "progress": t["progress"],
            "unit": t["unit"],
        }
        for z in page["zones"]
        for t in z["targets"]
    ]
    region_rows = [flat(r, r["region_code"], r["name"]) for r in page["regions"]]
    region_cols = (Col("code", "行政区划代码", "区划代码"), Col("name", "名称", "名称"), *ZONE_TOTAL_COLUMNS[2:])
    return write_xlsx(
        path,
        [
            Layer(f"{year}年园区汇总", pd.DataFrame(zone_rows), ZONE_TOTAL_COLUMNS),
            Layer("目标进度", pd.DataFrame(targets, columns=[c.key for c in TARGET_COLUMNS]), TARGET_COLUMNS),
            Layer("区划汇总", pd.DataFrame(region_rows, columns=[c.key for c in region_cols]), region_cols),
        ],
    )
