"""``landgis load parcels``: cadastral parcels from a vector file into the ``parcel`` table.

Pipeline: inspect the file (encoding, CRS) → map fields → read in batches → parse and check each
row → transform to EPSG:4490 and repair invalid rings → COPY into a temporary stage table →
check against the database (region, overlaps, declared area) → merge into ``parcel`` by key in
the same transaction. Any rejected row fails the whole load unless ``accept_partial``; a re-run
of the same file changes nothing and says so.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from sqlalchemy import Connection, text

from landgis import codes
from landgis.db.engine import set_audit_context
from landgis.errors import InvalidInput
from landgis.geo import STORAGE_SRID, transformer
from landgis.loading import source as src
from landgis.loading import values
from landgis.loading.batch import (
    LoadFailed,
    LoadOptions,
    Progress,
    close_batch,
    copy_frame,
    no_progress,
    open_batch,
    previous_batch,
    record_failed_batch,
)
from landgis.loading.mapping import ResolvedMapping, best_preset, load_mapping, resolve
from landgis.loading.report import LoadReport, Severity

KIND = "parcels"
BATCH_SIZE = 20_000

#: The parcel fields a mapping may fill, with their stage column type and parser.
#: Order matters: it is the column order of the stage table and the COPY stream.
FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "zddm_raw": ("text", values.clean_text),
    "bdcdyh": ("text", values.clean_text),
    "right_holder": ("text", values.clean_text),
    "location": ("text", values.clean_text),
    "declared_area_m2": ("double precision", values.parse_number),
    "land_use_code": ("text", values.clean_text),
    "far": ("double precision", values.parse_number),
    "building_coverage": ("double precision", values.parse_ratio),
    "floor_area_m2": ("double precision", values.parse_number),
    "far_agreed_raw": ("text", values.clean_text),
    "supply_method": ("text", values.parse_supply_method),
    "is_standard_land": ("boolean", values.parse_bool),
    "land_price_wan": ("double precision", values.parse_number),
    "contract_no": ("text", values.clean_text),
    "contract_date": ("date", values.parse_date),
    "agreed_delivery_date": ("date", values.parse_date),
    "actual_delivery_date": ("date", values.parse_date),
    "agreed_start_date": ("date", values.parse_date),
    "actual_start_date": ("date", values.parse_date),
    "agreed_completion_date": ("date", values.parse_date),
    "actual_completion_date": ("date", values.parse_date),
    "agreed_production_date": ("date", values.parse_date),
    "actual_production_date": ("date", values.parse_date),
    "building_safety_grade": ("text", values.parse_safety_grade),
    "region_code": ("text", values.clean_text),
}
#: Columns derived by the loader rather than read.
DERIVED = {
    "zddm": "text",
    "zddm_valid": "boolean",
    "far_min": "double precision",
    "far_max": "double precision",
    "land_use_system": "text",
}
#: Columns written to ``parcel`` by a merge, in order.
MERGED = [*DERIVED, *(f for f in FIELDS if f != "region_code"), "region_code", "geom", "source", "source_attrs"]
#: Text fields where mis-decoded (mojibake) text is an error, not data.
KEY_TEXT = ("right_holder", "location", "zddm_raw")
#: How far the computed area may stray from the declared 宗地面积 before the row is flagged.
AREA_TOLERANCE = 0.10
#: Unit factors to m² and 万元.
AREA_UNITS = {"m2": 1.0, "mu": 10000.0 / 15.0, "ha": 10000.0}
MONEY_UNITS = {"wan": 1.0, "yuan": 1e-4}


@dataclass
class ParcelLoadOptions(LoadOptions):
    """Options of a parcel load."""

    mapping: str | None = None
    encoding: str | None = None
    crs: str | None = None
    region: str | None = None
    layer: str | None = None
    overlap_threshold: float = 0.05
    extra: dict[str, Any] = field(default_factory=dict)


def load_parcels(
    conn: Connection,
    path: Path,
    options: ParcelLoadOptions | None = None,
    progress: Progress = no_progress,
) -> LoadReport:
    """Load parcels from ``path`` (a file, a directory holding one, or a .zip); see the module doc.

    Runs inside a savepoint of ``conn``'s transaction; the caller commits. Returns the report;
    raises ``LoadFailed`` (with the report) when rows were rejected and ``accept_partial`` is
    off: then nothing reached the live tables, and only the failed batch record remains.
    """
    options = options or ParcelLoadOptions()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="landgis-load-") as scratch:
        dataset = _unpack(path, Path(scratch))
        report = LoadReport(kind=KIND, file=path.name, dry_run=options.dry_run)
        hint_lon = _region_longitude(conn, options.region)
        info = src.inspect(dataset, encoding=options.encoding, crs=options.crs, hint_lon=hint_lon, layer=options.layer)
        report.checksum = info.checksum
        report.source = info.describe()
        resolved = _resolve_mapping(options.mapping, info.fields)
        report.mapping = {"name": resolved.mapping.name, "columns": resolved.columns, "unmapped": resolved.unmapped}
        try:
            with conn.begin_nested() as savepoint:
                _run(conn, info, resolved, options, report, progress)
                if options.dry_run:
                    savepoint.rollback()
        except LoadFailed as exc:
            report.elapsed_s = time.monotonic() - started
            if not options.dry_run:
                report.batch_id = record_failed_batch(conn, KIND, exc.report, options)
            raise
        report.elapsed_s = time.monotonic() - started
        return report


def _unpack(path: Path, scratch: Path) -> Path:
    if not path.exists():
        raise InvalidInput(f"{path}: 文件不存在 (no such file)")
    if path.is_file() and path.suffix.lower() == ".zip":
        src.safe_extract(path, scratch / "unzipped")
        return src.find_dataset(scratch / "unzipped")
    return src.find_dataset(path)


def _region_longitude(conn: Connection, region: str | None) -> float | None:
    if not region:
        return None
    lon = conn.execute(
        text("SELECT ST_X(ST_PointOnSurface(boundary)) FROM region WHERE code = :code AND boundary IS NOT NULL"),
        {"code": region},
    ).scalar()
    return float(lon) if lon is not None else None


def _resolve_mapping(name: str | None, columns: list[str]) -> ResolvedMapping:
    if name:
        resolved = resolve(load_mapping(name, KIND), columns)
        if resolved.mapping.key not in resolved.columns:
            aliases = ", ".join(resolved.mapping.fields[resolved.mapping.key].source)
            raise InvalidInput(f"文件缺少主键字段 {resolved.mapping.key} (looked for: {aliases})")
        return resolved
    return best_preset(KIND, columns)


# --------------------------------------------------------------------------- reading


def _batches(info: src.SourceInfo) -> Iterator[tuple[int, pd.DataFrame, np.ndarray]]:
    """(first row number, attribute frame, geometry array) batches, memory flat."""
    if info.driver == "CSV":
        yield from _csv_batches(info)
        return
    try:
        with pyogrio.open_arrow(
            info.path,
            layer=info.layer,
            encoding=info.encoding if info.driver == "ESRI Shapefile" else None,
            batch_size=BATCH_SIZE,
            use_pyarrow=True,
        ) as (meta, reader):
            geom_name = meta["geometry_name"] or "wkb_geometry"
            first = 1
            for batch in reader:
                frame = batch.to_pandas(date_as_object=False)
                wkb = frame.pop(geom_name).to_numpy() if geom_name in frame else np.full(len(frame), None)
                geoms = shapely.from_wkb(wkb, on_invalid="ignore")
                yield first, frame, geoms
                first += len(frame)
    except InvalidInput:
        raise
    except Exception as exc:
        raise InvalidInput(f"{info.path.name}: 读取失败, 文件可能已损坏 ({src._short(exc)})") from exc


def _csv_batches(info: src.SourceInfo) -> Iterator[tuple[int, pd.DataFrame, np.ndarray]]:
    wkt_column = next(c for c in info.fields if c.strip().upper() in ("WKT", "GEOMETRY", "几何", "SHAPE"))
    first = 1
    for frame in pd.read_csv(info.path, encoding=info.encoding, dtype=str, chunksize=BATCH_SIZE):
        wkt = frame.pop(wkt_column).to_numpy()
        geoms = shapely.from_wkt(wkt, on_invalid="ignore")
        yield first, frame, geoms
        first += len(frame)


# --------------------------------------------------------------------------- per-row checks


def _parse_column(
    series: pd.Series, parser: Callable[[Any], Any], target: str, column: str, first: int, report: LoadReport
) -> pd.Series:
    """Parse a column value by value, once per distinct value; failures become row issues."""
    if parser is values.parse_number and pd.api.types.is_numeric_dtype(series):
        numbers = series.astype("float64")
        bad = ~np.isfinite(numbers) & numbers.notna()
        bad |= numbers.abs() > 1e13
        for pos in np.flatnonzero(np.asarray(bad)):
            report.flag(
                first + int(pos), column, "error", "number_range", f"{target}: 数值超出合理范围", str(series.iloc[pos])
            )
        return numbers.where(~bad)
    if parser is values.parse_date and pd.api.types.is_datetime64_any_dtype(series):
        dates: pd.Series = series.dt.date.where(series.notna(), None)
        return dates
    parsed: dict[Any, Any] = {}
    failed: dict[Any, str] = {}
    for value in pd.unique(series.to_numpy(dtype=object)):
        try:
            parsed[value] = parser(value)
        except ValueError as exc:
            failed[value] = str(exc)
        except TypeError:
            failed[value] = f"无法解析 {value!r}"
    if failed:
        for index, value in enumerate(series.to_numpy(dtype=object)):
            if value in failed:
                report.flag(first + index, column, "error", "bad_value", f"{target}: {failed[value]}", value)
    return pd.Series([parsed.get(v) for v in series.to_numpy(dtype=object)], index=series.index, dtype=object)


def _prepare(
    first: int,
    frame: pd.DataFrame,
    geoms: np.ndarray,
    info: src.SourceInfo,
    resolved: ResolvedMapping,
    seen: dict[str, int],
    report: LoadReport,
) -> pd.DataFrame:
    """One batch as stage rows (rejected rows left out, their reasons in the report)."""
    n = len(frame)
    rows = pd.DataFrame({"row_no": np.arange(first, first + n)})
    for target, (_, parser) in FIELDS.items():
        source_target = {"zddm_raw": "zddm", "far_agreed_raw": "far_agreed"}.get(target, target)
        column = resolved.source_for(source_target)
        if column is None:
            rows[target] = None
            continue
        parsed = _parse_column(frame[column], parser, source_target, column, first, report)
        unit = resolved.units.get(source_target)
        if unit in AREA_UNITS and target.endswith("_m2"):
            parsed = parsed * AREA_UNITS[unit]
        elif unit in MONEY_UNITS and target.endswith("_wan"):
            parsed = parsed * MONEY_UNITS[unit]
        rows[target] = parsed.to_numpy()

    # Mis-decoded text in key fields is an error, not data.
    for target in KEY_TEXT:
        column = resolved.source_for("zddm" if target == "zddm_raw" else target)
        if column is None:
            continue
        for pos, value in enumerate(rows[target].to_numpy(dtype=object)):
            if isinstance(value, str) and src.looks_mojibake(value):
                report.flag(
                    first + pos,
                    column,
                    "error",
                    "mojibake",
                    f"文本疑似乱码, 编码 {info.encoding} 可能有误; 请用 --encoding 指定",
                    value[:40],
                )

    _check_codes(rows, first, resolved, seen, report)
    _parse_far_agreed(rows, first, resolved, report)
    rows["land_use_system"] = resolved.mapping.land_use_system if resolved.source_for("land_use_code") else None
    rows["is_standard_land"] = rows["is_standard_land"].map(lambda v: v is True)
    rows["geom"] = _check_geometries(geoms, first, info, report)
    rows["source"] = info.path.name
    attrs = frame.copy()
    for column in attrs.columns:
        if pd.api.types.is_datetime64_any_dtype(attrs[column]):
            attrs[column] = attrs[column].dt.strftime("%Y-%m-%d")
    rows["source_attrs"] = attrs.to_json(orient="records", lines=True, force_ascii=False).splitlines() if n else []
    rejected = report.rejected_rows
    keep = ~rows["row_no"].isin(rejected)
    return rows[keep]


def _check_codes(
    rows: pd.DataFrame, first: int, resolved: ResolvedMapping, seen: dict[str, int], report: LoadReport
) -> None:
    column = resolved.source_for("zddm") or "宗地代码"
    zddm: list[str | None] = []
    valid: list[bool] = []
    for pos, raw in enumerate(rows["zddm_raw"].to_numpy(dtype=object)):
        check = codes.check_zddm(raw)
        zddm.append(check.value)
        valid.append(check.valid)
        row = first + pos
        if not check.valid:
            severity: Severity = "error" if resolved.mapping.key == "zddm" and values.is_blank(raw) else "warning"
            report.flag(row, column, severity, "zddm_invalid", check.reason or "", raw)
    rows["zddm"] = zddm
    rows["zddm_valid"] = valid
    bdcdyh_column = resolved.source_for("bdcdyh")
    if bdcdyh_column:
        cleaned: list[str | None] = []
        for pos, raw in enumerate(rows["bdcdyh"].to_numpy(dtype=object)):
            if values.is_blank(raw):
                cleaned.append(None)
                continue
            check = codes.check_bdcdyh(raw)
            cleaned.append(check.value)
            if not check.valid:
                report.flag(first + pos, bdcdyh_column, "warning", "bdcdyh_invalid", check.reason or "", str(raw))
        rows["bdcdyh"] = cleaned
    key = resolved.mapping.key
    key_values = rows["zddm"].where(rows["zddm"].notna(), rows["zddm_raw"]) if key == "zddm" else rows[key]
    key_column = resolved.source_for(key) or key
    for pos, value in enumerate(key_values.to_numpy(dtype=object)):
        if values.is_blank(value):
            continue
        row = first + pos
        if value in seen:
            report.flag(row, key_column, "error", "duplicate_key", f"主键重复: 与第{seen[value]}行相同", str(value))
        else:
            seen[value] = row


def _parse_far_agreed(rows: pd.DataFrame, first: int, resolved: ResolvedMapping, report: LoadReport) -> None:
    column = resolved.source_for("far_agreed") or "约定容积率"
    lows: list[float | None] = []
    highs: list[float | None] = []
    cache: dict[str, tuple[float | None, float | None] | str] = {}
    for pos, raw in enumerate(rows["far_agreed_raw"].to_numpy(dtype=object)):
        if values.is_blank(raw):
            lows.append(None)
            highs.append(None)
            continue
        if raw not in cache:
            try:
                cache[raw] = values.parse_far_range(raw)
            except ValueError as exc:
                cache[raw] = str(exc)
        parsed = cache[raw]
        if isinstance(parsed, str):
            report.flag(first + pos, column, "error", "far_text", parsed, raw)
            lows.append(None)
            highs.append(None)
        else:
            lows.append(parsed[0])
            highs.append(parsed[1])
    rows["far_min"] = lows
    rows["far_max"] = highs


_POLYGONAL = {"Polygon", "MultiPolygon"}


def _check_geometries(geoms: np.ndarray, first: int, info: src.SourceInfo, report: LoadReport) -> list[str | None]:
    """Hex EWKB MultiPolygons in EPSG:4490; bad geometries become row issues."""
    out: list[str | None] = [None] * len(geoms)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    polygonal = np.isin(types, (3, 6))  # Polygon, MultiPolygon
    for pos in np.flatnonzero(missing):
        report.flag(first + int(pos), "geometry", "error", "geometry_missing", "几何为空 (null or empty geometry)")
    for pos in np.flatnonzero(~missing & ~polygonal):
        kind = shapely.get_type_id(geoms[pos])
        name = {0: "点", 1: "线", 2: "线", 4: "多点", 5: "多线", 7: "几何集合"}.get(int(kind), str(kind))
        report.flag(
            first + int(pos), "geometry", "error", "geometry_type", f"几何类型应为面, 实为{name} (not a polygon)"
        )
    ok = np.flatnonzero(~missing & polygonal)
    if len(ok) == 0:
        return out
    work = shapely.force_2d(geoms[ok])
    if not _is_storage_crs(info.crs):
        work = shapely.transform(work, transformer(info.crs.to_wkt(), STORAGE_SRID).transform, interleaved=False)
    coords_ok = _coordinates_plausible(work)
    for local in np.flatnonzero(~coords_ok):
        report.flag(
            first + int(ok[local]),
            "geometry",
            "error",
            "geometry_coordinates",
            "坐标超出中国范围, 坐标系可能有误 (coordinates outside China after transformation)",
        )
    invalid = ~shapely.is_valid(work) & coords_ok
    for local in np.flatnonzero(invalid):
        row = first + int(ok[local])
        reason = shapely.is_valid_reason(work[local])
        repaired = _polygonal_part(shapely.make_valid(work[local]))
        if repaired is None or shapely.is_empty(repaired) or not shapely.is_valid(repaired):
            report.flag(row, "geometry", "error", "geometry_invalid", f"几何无效且无法修复: {reason}")
            coords_ok[local] = False
        else:
            work[local] = repaired
            report.flag(row, "geometry", "repaired", "geometry_repaired", f"几何无效, 已用MakeValid修复: {reason}")
    multi = np.array([g if shapely.get_type_id(g) == 6 else shapely.multipolygons([g]) for g in work], dtype=object)
    multi = shapely.set_srid(multi, STORAGE_SRID)
    hexed = shapely.to_wkb(multi, hex=True, include_srid=True)
    for i, position in enumerate(ok):
        if coords_ok[i]:
            out[int(position)] = str(hexed[i])
    return out


def _is_storage_crs(crs: CRS) -> bool:
    return crs.to_epsg(min_confidence=90) == STORAGE_SRID


def _coordinates_plausible(geoms: np.ndarray) -> np.ndarray:
    bounds = shapely.bounds(geoms)
    plausible: np.ndarray = (
        np.isfinite(bounds).all(axis=1)
        & (bounds[:, 0] >= 73)
        & (bounds[:, 2] <= 136)
        & (bounds[:, 1] >= 3)
        & (bounds[:, 3] <= 54)
    )
    return plausible


def _polygonal_part(geom: shapely.Geometry) -> shapely.Geometry | None:
    """The polygons of a MakeValid result (which may mix in lines and points)."""
    if geom is None:
        return None
    kind = shapely.get_type_id(geom)
    if kind in (3, 6):
        return geom
    if kind == 7:
        parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
        if not parts:
            return None
        return shapely.union_all(parts)
    return None


# --------------------------------------------------------------------------- staging and merging

STAGE = "_stage_parcel"


def _stage_ddl() -> str:
    columns = ["row_no integer PRIMARY KEY"]
    columns += [f"{name} {kind}" for name, kind in DERIVED.items()]
    columns += [f"{name} {kind}" for name, (kind, _) in FIELDS.items()]
    columns += ["geom geometry(MultiPolygon, 4490) NOT NULL", "source text", "source_attrs jsonb"]
    return f"CREATE TEMP TABLE {STAGE} ({', '.join(columns)}) ON COMMIT DROP"


STAGE_COLUMNS = ["row_no", *DERIVED, *FIELDS, "geom", "source", "source_attrs"]


def _run(
    conn: Connection,
    info: src.SourceInfo,
    resolved: ResolvedMapping,
    options: ParcelLoadOptions,
    report: LoadReport,
    progress: Progress,
) -> None:
    conn.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
    conn.execute(text(_stage_ddl()))
    seen: dict[str, int] = {}
    total = info.feature_count
    for first, frame, geoms in _batches(info):
        report.counts["read"] += len(frame)
        staged = _prepare(first, frame, geoms, info, resolved, seen, report)
        copy_frame(conn, STAGE, STAGE_COLUMNS, _for_copy(staged))
        progress(report.counts["read"], total)
    if report.counts["read"] == 0:
        raise LoadFailed(f"{report.file}: 文件不含任何要素 (no features)", report)
    conn.execute(text(f"ANALYZE {STAGE}"))
    _check_in_database(conn, resolved, options, report)
    rejected = report.rejected_rows
    report.counts["rejected"] = len(rejected)
    if rejected and not options.accept_partial:
        report.status = "failed"
        report.message = f"{len(rejected)} 行被拒绝, 未写入任何数据 (all-or-nothing; use --accept-partial)"
        raise LoadFailed(report.message, report)
    if rejected:
        conn.execute(text(f"DELETE FROM {STAGE} WHERE row_no = ANY(:rows)"), {"rows": sorted(rejected)})
    _merge(conn, resolved, options, report)


def _for_copy(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[STAGE_COLUMNS].copy()
    for column in ("zddm_valid", "is_standard_land"):
        out[column] = out[column].map({True: "t", False: "f"})
    for column, (kind, _) in FIELDS.items():
        if kind == "date":
            out[column] = out[column].map(lambda d: d.isoformat() if isinstance(d, dt.date) else None)
    return out


def _check_in_database(
    conn: Connection, resolved: ResolvedMapping, options: ParcelLoadOptions, report: LoadReport
) -> None:
    """Checks that need the database: region, location, declared area, overlaps."""
    # Region: the file's own code, else the ZDDM's county, else --region; refined to the finest
    # region whose boundary holds the parcel.
    conn.execute(
        text(
            f"UPDATE {STAGE} s SET region_code = coalesce("
            " (SELECT r.code FROM region r WHERE r.code = s.region_code),"
            " (SELECT r.code FROM region r WHERE r.code = left(s.zddm, 6)),"
            " (SELECT r.code FROM region r WHERE r.code = :region))"
        ),
        {"region": options.region},
    )
    unknown = conn.execute(
        text(f"SELECT row_no, zddm_raw FROM {STAGE} WHERE region_code IS NULL ORDER BY row_no")
    ).all()
    for row_no, raw in unknown:
        report.flag(
            row_no,
            "region",
            "error",
            "region_unknown",
            "无法确定所属行政区 (no region: the code's county is not loaded; use --region)",
            raw,
        )
    conn.execute(
        text(
            f"UPDATE {STAGE} s SET region_code = coalesce(("
            "  SELECT r.code FROM region r"
            "  WHERE r.code LIKE s.region_code || '%' AND r.boundary IS NOT NULL"
            "    AND ST_Intersects(r.boundary, ST_PointOnSurface(s.geom))"
            "  ORDER BY r.level DESC LIMIT 1), s.region_code)"
            " WHERE s.region_code IS NOT NULL"
        )
    )
    outside = conn.execute(
        text(
            f"SELECT s.row_no, s.region_code FROM {STAGE} s JOIN region r ON r.code = s.region_code"
            " WHERE r.boundary IS NOT NULL AND NOT ST_Intersects(r.boundary, ST_PointOnSurface(s.geom))"
            " ORDER BY s.row_no"
        )
    ).all()
    for row_no, region in outside:
        report.flag(
            row_no,
            "geometry",
            "error",
            "outside_region",
            f"宗地不在所属行政区 {region} 范围内 (outside its region)",
            region,
        )
    deviating = conn.execute(
        text(
            f"SELECT row_no, declared_area_m2, landgis_area_m2(geom) FROM {STAGE}"
            " WHERE declared_area_m2 > 0"
            "   AND abs(landgis_area_m2(geom) - declared_area_m2) > :tol * declared_area_m2"
            " ORDER BY row_no"
        ),
        {"tol": AREA_TOLERANCE},
    ).all()
    column = resolved.source_for("declared_area_m2") or "宗地面积"
    for row_no, declared, computed in deviating:
        report.flag(
            row_no,
            column,
            "warning",
            "area_deviation",
            f"图形面积 {computed:.1f}㎡ 与登记面积 {declared:.1f}㎡ 相差 {abs(computed - declared) / declared:.0%}",
            f"{declared}",
        )
    overlaps = conn.execute(
        text(
            f"SELECT s.row_no, p.id, coalesce(p.zddm, p.zddm_raw),"
            "       ST_Area(ST_Intersection(s.geom, p.geom)) / least(ST_Area(s.geom), ST_Area(p.geom))"
            f" FROM {STAGE} s JOIN parcel p ON ST_Intersects(s.geom, p.geom)"
            " WHERE (s.zddm IS NULL OR p.zddm IS DISTINCT FROM s.zddm)"
            "   AND (s.zddm IS NOT NULL OR p.zddm_raw IS DISTINCT FROM s.zddm_raw)"
            # cheap bounding-box overlap first: neighbours that share an edge never pass it
            "   AND greatest(0, least(ST_XMax(s.geom), ST_XMax(p.geom)) - greatest(ST_XMin(s.geom), ST_XMin(p.geom)))"
            "     * greatest(0, least(ST_YMax(s.geom), ST_YMax(p.geom)) - greatest(ST_YMin(s.geom), ST_YMin(p.geom)))"
            "     > :t * least(ST_Area(s.geom), ST_Area(p.geom))"
            "   AND ST_Relate(s.geom, p.geom, '2********')"
            "   AND ST_Area(ST_Intersection(s.geom, p.geom)) > :t * least(ST_Area(s.geom), ST_Area(p.geom))"
            " ORDER BY s.row_no"
        ),
        {"t": options.overlap_threshold},
    ).all()
    for row_no, _pid, code, share in overlaps:
        report.flag(
            row_no,
            "geometry",
            "error",
            "overlap",
            f"与已有宗地 {code} 重叠 {share:.0%} (overlaps an existing parcel)",
            code,
        )


#: Model columns that depend on one mapped source field.
_COLUMNS_OF = {
    "zddm": ("zddm", "zddm_raw", "zddm_valid"),
    "far_agreed": ("far_agreed_raw", "far_min", "far_max"),
    "land_use_code": ("land_use_code", "land_use_system"),
}
_ALWAYS = ("region_code", "geom", "source", "source_attrs")


def written_columns(resolved: ResolvedMapping) -> list[str]:
    """The parcel columns a load with this mapping writes, in ``MERGED`` order."""
    wanted = set(_ALWAYS)
    for target in resolved.columns:
        wanted.update(_COLUMNS_OF.get(target, (target,)))
    return [c for c in MERGED if c in wanted]


def _merge(conn: Connection, resolved: ResolvedMapping, options: ParcelLoadOptions, report: LoadReport) -> None:
    batch_extra = {"mapping": resolved.mapping.name, "dry_run": options.dry_run, **options.extra}
    previous = previous_batch(conn, KIND, report.checksum)
    batch_id = open_batch(conn, KIND, report, options, batch_extra)
    report.batch_id = batch_id
    set_audit_context(conn, actor=options.actor, batch_id=batch_id)
    # A file updates only what it holds: columns its mapping does not fill keep their values.
    written = written_columns(resolved)
    mapped = [c for c in written if c not in ("source", "source_attrs")]
    compared = ", ".join(f"p.{c}" for c in mapped)
    staged = ", ".join(f"s.{c}" for c in mapped)
    assignments = ", ".join(f"{c} = s.{c}" for c in written)
    columns = ", ".join(written)
    selected = ", ".join(f"s.{c}" for c in written)
    # One equality join per kind of key, so each statement is a hash join: parcels with a valid
    # 宗地代码 match on it; the others on the raw code they were loaded with.
    key = resolved.mapping.key
    matches = (
        ["p.zddm = s.zddm", "s.zddm IS NULL AND p.zddm IS NULL AND p.zddm_raw = s.zddm_raw"]
        if key == "zddm"
        else [f"p.{key} = s.{key}"]
    )
    updated = inserted = 0
    for match in matches:
        updated += conn.execute(
            text(
                f"UPDATE parcel p SET {assignments}, load_batch_id = :batch FROM {STAGE} s"
                f" WHERE {match} AND ({compared}) IS DISTINCT FROM ({staged})"
            ),
            {"batch": batch_id},
        ).rowcount
    unmatched = " AND ".join(f"NOT EXISTS (SELECT 1 FROM parcel p WHERE {m})" for m in matches)
    inserted = conn.execute(
        text(
            f"INSERT INTO parcel ({columns}, load_batch_id) SELECT {selected}, :batch FROM {STAGE} s WHERE {unmatched}"
        ),
        {"batch": batch_id},
    ).rowcount
    staged_count = conn.execute(text(f"SELECT count(*) FROM {STAGE}")).scalar_one()
    report.counts["inserted"] = inserted
    report.counts["updated"] = updated
    report.counts["unchanged"] = int(staged_count) - inserted - updated
    conn.execute(text(f"DROP TABLE {STAGE}"))
    if inserted or updated:
        assign_zones(conn, batch_id=batch_id)
    changed = inserted + updated
    status = "committed" if changed else "unchanged"
    if options.dry_run:
        status = "dry_run"
    close_batch(conn, batch_id, status, report.counts)
    report.status = status
    if options.dry_run:
        report.message = (
            f"试运行: 将新增 {inserted}, 更新 {updated}, 不变 {report.counts['unchanged']} (nothing written)"
        )
    elif not changed:
        since = f" (与批次 {previous} 相同)" if previous else ""
        report.message = f"数据无变化, 未修改任何宗地{since} (nothing changed)"
    else:
        report.message = f"新增 {inserted}, 更新 {updated}, 不变 {report.counts['unchanged']}"


def assign_zones(conn: Connection, *, batch_id: int | None = None) -> int:
    """Set ``parcel.zone_id`` from the smallest zone holding each parcel's interior point.

    Only the parcels last written by ``batch_id`` when given, else all; returns how many changed.
    """
    # Zones drive the join (few, large boundaries): consecutive point-in-polygon tests then reuse
    # PostGIS's prepared geometry of the same boundary, and parcels are found through their index.
    result = conn.execute(
        text(
            "WITH hit AS ("
            "  SELECT DISTINCT ON (q.id) q.id, z.id AS zone_id"
            "  FROM zone z JOIN parcel q ON ST_Intersects(z.boundary, q.geom)"
            "   AND ST_Intersects(z.boundary, ST_PointOnSurface(q.geom))"
            "  WHERE CAST(:batch AS bigint) IS NULL OR q.load_batch_id = :batch"
            "  ORDER BY q.id, z.area_m2),"
            " wanted AS ("
            "  SELECT q.id, hit.zone_id FROM parcel q LEFT JOIN hit ON hit.id = q.id"
            "  WHERE CAST(:batch AS bigint) IS NULL OR q.load_batch_id = :batch)"
            " UPDATE parcel p SET zone_id = wanted.zone_id FROM wanted"
            " WHERE p.id = wanted.id AND p.zone_id IS DISTINCT FROM wanted.zone_id"
        ),
        {"batch": batch_id},
    )
    return int(result.rowcount)
