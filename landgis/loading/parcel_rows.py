"""The per-row work of a parcel load, one batch at a time and without the database.

Each batch of source rows becomes the rows of the stage table: values parsed (once per distinct
value), codes checked, duplicates found, geometries checked and transformed, regions and zones
found, and every problem recorded with its row and field. Rows with an error are left out of
the stage; the report says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from landgis import codes
from landgis.loading import arrowtext, geometry, pgcopy, values
from landgis.loading.mapping import ResolvedMapping
from landgis.loading.placement import Placement
from landgis.loading.reader import Batch
from landgis.loading.report import Issue, Severity
from landgis.loading.source import SourceInfo

#: Stage table columns in order, with their SQL types.
STAGE_COLUMNS: dict[str, str] = {
    "row_no": "integer",
    "zddm": "text",
    "zddm_raw": "text",
    "zddm_valid": "boolean",
    "bdcdyh": "text",
    "right_holder": "text",
    "location": "text",
    "declared_area_m2": "double precision",
    "land_use_code": "text",
    "land_use_system": "text",
    "far": "double precision",
    "building_coverage": "double precision",
    "floor_area_m2": "double precision",
    "far_agreed_raw": "text",
    "far_min": "double precision",
    "far_max": "double precision",
    "coverage_min": "double precision",
    "coverage_max": "double precision",
    "supply_method": "text",
    "is_standard_land": "boolean",
    "land_price_wan": "double precision",
    "contract_no": "text",
    "contract_date": "date",
    "agreed_delivery_date": "date",
    "actual_delivery_date": "date",
    "agreed_start_date": "date",
    "actual_start_date": "date",
    "agreed_completion_date": "date",
    "actual_completion_date": "date",
    "agreed_production_date": "date",
    "actual_production_date": "date",
    "building_safety_grade": "text",
    "region_code": "text",
    "zone_id": "integer",
    "geom": "geometry(MultiPolygon, 4490)",
    "source": "text",
    "source_attrs": "jsonb",
}
#: Columns only rows written straight into ``parcel`` carry (see ``Context.columns``).
DIRECT_COLUMNS: dict[str, str] = {"load_batch_id": "bigint", "land_code": "text"}
_ARROW_TYPES = {
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "text": pa.string(),
    "boolean": pa.bool_(),
    "double precision": pa.float64(),
    "date": pa.date32(),
    "geometry(MultiPolygon, 4490)": pa.binary(),
    "jsonb": pa.string(),
}

#: Mapped fields parsed value by value: target -> parser. Text fields are cleaned in bulk.
PARSED: dict[str, Callable[[Any], Any]] = {
    "declared_area_m2": values.parse_number,
    "far": values.parse_number,
    "building_coverage": values.parse_ratio,
    "floor_area_m2": values.parse_number,
    "far_min": values.parse_number,
    "far_max": values.parse_number,
    "coverage_min": values.parse_ratio,
    "coverage_max": values.parse_ratio,
    "supply_method": values.parse_supply_method,
    "is_standard_land": values.parse_bool,
    "land_price_wan": values.parse_number,
    "contract_date": values.parse_date,
    "agreed_delivery_date": values.parse_date,
    "actual_delivery_date": values.parse_date,
    "agreed_start_date": values.parse_date,
    "actual_start_date": values.parse_date,
    "agreed_completion_date": values.parse_date,
    "actual_completion_date": values.parse_date,
    "agreed_production_date": values.parse_date,
    "actual_production_date": values.parse_date,
    "building_safety_grade": values.parse_safety_grade,
}
TEXT_FIELDS = ("right_holder", "location", "contract_no", "region_code")
#: Quantities that cannot be negative (the database refuses a negative 容积率 outright).
NON_NEGATIVE = ("declared_area_m2", "far", "floor_area_m2", "far_min", "far_max", "land_price_wan")
#: Text fields where mis-decoded (mojibake) text is an error, not data.
KEY_TEXT = ("zddm", "feature_id", "right_holder", "location")
#: How far the computed area may stray from the declared 宗地面积 before the row is flagged.
AREA_TOLERANCE = 0.10
AREA_UNITS = {"m2": 1.0, "mu": 10000.0 / 15.0, "ha": 10000.0}
MONEY_UNITS = {"wan": 1.0, "yuan": 1e-4}
_BLANKS = ["", "-", "--", "/", "无", "NULL", "null", "None", "NONE"]


@dataclass
class Context:
    """What every batch of one load shares."""

    info: SourceInfo
    resolved: ResolvedMapping
    placement: Placement
    source_name: str
    #: the columns of the COPY payload, in order: STAGE_COLUMNS, or the parcel columns when rows
    #: go straight into ``parcel`` (then ``batch_id`` fills load_batch_id, and land_code is the
    #: 宗地代码 where it is well formed: the table held no parcels, so no parcel holds that code)
    columns: list[str] = field(default_factory=lambda: list(STAGE_COLUMNS))
    batch_id: int | None = None
    seen: dict[str, int] = field(default_factory=dict)  # key -> first row holding it
    seen_zddm: dict[str, int] = field(default_factory=dict)  # 宗地代码 -> first row, when not the key


@dataclass
class Prepared:
    """One batch ready for the stage: the COPY payload and what was found."""

    first: int
    count: int
    issues: list[Issue]
    rejected: set[int]
    payload: bytes  # the rows in binary COPY format, in the context's column order
    staged: int


def prepare(batch: Batch, ctx: Context) -> Prepared:
    """Parse and check one batch (see the module doc)."""
    issues: list[Issue] = []
    file = ctx.source_name

    def flag(row: int, column: str, severity: Severity, code: str, message: str, value: object = None) -> None:
        text = None if value is None else str(value)[:80]
        issues.append(Issue(file, int(row), column, severity, code, message, text))

    for row, column, code, message, value in batch.errors:
        flag(row, column, "error", code, message, value)
    n = len(batch)
    first = batch.first
    resolved = ctx.resolved
    out: dict[str, pa.Array] = {"row_no": pa.array(np.arange(first, first + n, dtype=np.int32))}

    def source(target: str) -> pa.Array | None:
        column = resolved.source_for(target)
        return None if column is None else batch.table.column(column).combine_chunks()

    for target in TEXT_FIELDS:
        raw = source(target)
        out[target] = _clean_text(raw) if raw is not None else _nulls(n, pa.string())
    for target, parser in PARSED.items():
        raw = source(target)
        if raw is None:
            continue
        parsed = _parse(raw, parser, target, str(resolved.source_for(target)), first, flag)
        out[target] = _scaled(parsed, target, resolved.units.get(target))
    for target in NON_NEGATIVE:
        if target in out:
            negative = _np_bool(pc.less(out[target], 0))
            column = str(resolved.source_for(target))
            for pos in np.flatnonzero(negative):
                flag(
                    first + int(pos),
                    column,
                    "error",
                    "negative",
                    f"{target}: 不能为负数",
                    out[target][int(pos)].as_py(),
                )
            out[target] = pc.if_else(pa.array(negative), pa.scalar(None, pa.float64()), out[target])
    if "is_standard_land" in out:  # NOT NULL: a blank 标准地 is "not 标准地"
        out["is_standard_land"] = pc.fill_null(out["is_standard_land"], False)
    _mojibake(batch, ctx, flag)
    _codes(batch, ctx, out, flag)
    _agreed_far(source("far_agreed"), out, resolved, first, flag)
    _land_use(source("land_use_code"), out, resolved, first, flag)

    unreadable = {row for row, _, code, _, _ in batch.errors if code == "geometry_wkt"}

    def flag_geometry(row: int, column: str, severity: str, code: str, message: str) -> None:
        if row not in unreadable:  # broken WKT is already reported: its geometry is missing
            flag(row, column, severity, code, message)  # type: ignore[arg-type]

    checked = geometry.check(batch.geoms, first, ctx.info.crs, flag_geometry)
    out["geom"] = checked.ewkb
    already = {i.row for i in issues if i.severity == "error"}
    _place(ctx, out, checked, first, flag, already)
    _area_deviation(out, checked, resolved, first, flag)
    out["source"] = pa.array(np.full(n, ctx.source_name, dtype=object), pa.string())
    out["source_attrs"] = arrowtext.json_records(batch.table)

    if ctx.batch_id is not None:
        out["load_batch_id"] = pa.array(np.full(n, ctx.batch_id, dtype=np.int64))
        out["land_code"] = out["zddm"]  # only well-formed codes are kept as 宗地代码
    rejected = {i.row for i in issues if i.severity == "error"}
    types = {**STAGE_COLUMNS, **DIRECT_COLUMNS}
    table = pa.table({name: _column(out.get(name), n, _ARROW_TYPES[types[name]]) for name in ctx.columns})
    if rejected:
        keep = np.ones(n, dtype=bool)
        keep[np.fromiter(rejected, dtype=np.int64, count=len(rejected)) - first] = False
        table = table.filter(pa.array(keep))
    payload = pgcopy.encode(table, [types[name] for name in ctx.columns])
    return Prepared(first, n, issues, rejected, payload, table.num_rows)


# --------------------------------------------------------------------------- values


def _nulls(n: int, kind: pa.DataType) -> pa.Array:
    return pa.nulls(n, kind)


def _column(array: pa.Array | None, n: int, kind: pa.DataType) -> pa.Array:
    if array is None:
        return pa.nulls(n, kind)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array if array.type == kind else array.cast(kind)


def _clean_text(raw: pa.Array) -> pa.Array:
    """Trimmed text (full-width spaces too); blanks and placeholders (-, 无, NULL) become null."""
    text = raw if pa.types.is_string(raw.type) else raw.cast(pa.string())
    text = pc.utf8_trim_whitespace(pc.replace_substring(text, "\u3000", " "))
    blank = pc.fill_null(pc.is_in(text, pa.array(_BLANKS, pa.string())), True)
    result: pa.Array = pc.if_else(blank, pa.scalar(None, pa.string()), text)
    return result


def _parse(
    raw: pa.Array,
    parser: Callable[[Any], Any],
    target: str,
    column: str,
    first: int,
    flag: Callable[..., None],
) -> pa.Array:
    """Parse a column once per distinct value; failures become row issues."""
    if parser is values.parse_number and (pa.types.is_floating(raw.type) or pa.types.is_integer(raw.type)):
        numbers = raw.cast(pa.float64())
        bad = pc.fill_null(pc.or_(pc.invert(pc.is_finite(numbers)), pc.greater(pc.abs(numbers), 1e13)), False)
        for pos in np.flatnonzero(bad.to_numpy(zero_copy_only=False)):
            flag(first + int(pos), column, "error", "number_range", f"{target}: 数值超出合理范围", numbers[pos].as_py())
        result: pa.Array = pc.if_else(bad, pa.scalar(None, pa.float64()), numbers)
        return result
    if parser is values.parse_date and pa.types.is_date(raw.type):
        return raw.cast(pa.date32())
    if parser is values.parse_date and pa.types.is_timestamp(raw.type):
        return raw.cast(pa.date32())
    encoded = raw.dictionary_encode() if not pa.types.is_dictionary(raw.type) else raw
    distinct = encoded.dictionary.to_pylist()
    parsed: list[Any] = []
    failed: dict[int, str] = {}
    for index, value in enumerate(distinct):
        try:
            parsed.append(parser(value))
        except (ValueError, TypeError) as exc:
            parsed.append(None)
            failed[index] = str(exc) if isinstance(exc, ValueError) else f"无法解析 {value!r}"
    if failed:
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        for pos in np.flatnonzero(np.isin(indices, list(failed))):
            flag(
                first + int(pos),
                column,
                "error",
                "bad_value",
                f"{target}: {failed[int(indices[pos])]}",
                distinct[int(indices[pos])],
            )
    if parser is values.parse_date:
        kind = pa.date32()
    elif parser is values.parse_bool:
        kind = pa.bool_()
    elif parser in (values.parse_supply_method, values.parse_safety_grade):
        kind = pa.string()
    else:
        kind = pa.float64()
    taken: pa.Array = pa.array(parsed, kind).take(encoded.indices)
    return taken


def _scaled(parsed: pa.Array, target: str, unit: str | None) -> pa.Array:
    if unit in AREA_UNITS and target.endswith("_m2") and unit != "m2":
        return pc.multiply(parsed, AREA_UNITS[unit])
    if unit in MONEY_UNITS and target.endswith("_wan") and unit != "wan":
        return pc.multiply(parsed, MONEY_UNITS[unit])
    return parsed


def _mojibake(batch: Batch, ctx: Context, flag: Callable[..., None]) -> None:
    undecodable = {(row, column) for row, column, code, _, _ in batch.errors if code == "encoding"}
    for target in KEY_TEXT:
        column = ctx.resolved.source_for(target)
        if column is None:
            continue
        raw = batch.table.column(column)
        if not (pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type)):
            continue
        for pos in np.flatnonzero(arrowtext.mojibake_mask(raw)):
            if (batch.first + int(pos), column) in undecodable:
                continue  # already reported: the bytes do not decode at all
            flag(
                batch.first + int(pos),
                column,
                "error",
                "mojibake",
                f"文本疑似乱码, 编码 {ctx.info.encoding} 可能有误; 请用 --encoding 指定 (mojibake)",
                str(raw[int(pos)].as_py())[:40],
            )


# --------------------------------------------------------------------------- codes and keys


def _codes(batch: Batch, ctx: Context, out: dict[str, pa.Array], flag: Callable[..., None]) -> None:
    """宗地代码 (or the source's own id), 不动产单元号, the load key, and duplicates of it."""
    n = len(batch)
    first = batch.first
    resolved = ctx.resolved
    key = resolved.mapping.key
    zddm_column = resolved.source_for("zddm")
    feature_column = resolved.source_for("feature_id")
    zddm: list[str | None] = [None] * n
    valid = np.zeros(n, dtype=bool)
    raw_codes: pa.Array = _nulls(n, pa.string())
    if zddm_column is not None:
        raw_codes = _as_text(batch.table.column(zddm_column))
        compact = _compact_code(raw_codes)
        fast = _np_bool(
            pc.and_(
                pc.match_substring_regex(compact, codes.ZDDM_PATTERN.pattern),
                pc.is_in(pc.utf8_slice_codeunits(compact, 0, 2), _PROVINCES),
            )
        )
        compact_values = compact.to_pylist()
        raw_values = raw_codes.to_pylist()
        for pos in range(n):
            if fast[pos]:
                zddm[pos] = compact_values[pos]
                valid[pos] = True
                continue
            blank = values.is_blank(raw_values[pos])
            if blank and key != "zddm":
                continue  # an optional 宗地代码 may be empty
            check = codes.check_zddm(raw_values[pos])
            severity = "error" if blank else "warning"
            flag(first + pos, zddm_column, severity, "zddm_invalid", check.reason or "", raw_values[pos])
    if feature_column is not None:
        raw_codes = _clean_text(_as_text(batch.table.column(feature_column)))
    out["zddm"] = pa.array(zddm, pa.string())
    out["zddm_raw"] = _clean_text(raw_codes) if zddm_column is not None else raw_codes
    out["zddm_valid"] = pa.array(valid)
    bdcdyh_column = resolved.source_for("bdcdyh")
    if bdcdyh_column is not None:
        raw_units = _clean_text(_as_text(batch.table.column(bdcdyh_column)))
        compact = _compact_code(raw_units)
        fast = _np_bool(
            pc.and_(
                pc.match_substring_regex(compact, codes.BDCDYH_PATTERN.pattern),
                pc.is_in(pc.utf8_slice_codeunits(compact, 0, 2), _PROVINCES),
            )
        )
        cleaned: list[str | None] = compact.to_pylist()
        for index in np.flatnonzero(~fast & _np_bool(pc.is_valid(raw_units))):
            pos = int(index)
            raw = raw_units[pos].as_py()
            check = codes.check_bdcdyh(raw)
            cleaned[pos] = check.value
            if not check.valid:
                flag(first + pos, bdcdyh_column, "warning", "bdcdyh_invalid", check.reason or "", raw)
        out["bdcdyh"] = pa.array(cleaned, pa.string())

    key_values: list[str | None]
    if key == "zddm":
        key_values = [z if z is not None else r for z, r in zip(zddm, out["zddm_raw"].to_pylist(), strict=True)]
    elif key == "feature_id":
        key_values = out["zddm_raw"].to_pylist()
    else:
        key_values = out[key].to_pylist()
    key_column = resolved.source_for(key) or key
    seen = ctx.seen
    for pos, value in enumerate(key_values):
        row = first + pos
        if value is None:
            if key != "zddm":  # an empty 宗地代码 is already reported above
                flag(row, key_column, "error", "key_missing", f"主键 {key_column} 为空 (the key is empty)")
            continue
        earlier = seen.get(value)
        if earlier is not None:
            flag(row, key_column, "error", "duplicate_key", f"主键重复: 与第{earlier}行相同", value)
        else:
            seen[value] = row
    if key != "zddm" and zddm_column is not None:
        # 宗地代码 is unique in the database whatever the key
        for pos, code in enumerate(zddm):
            if code is None:
                continue
            earlier = ctx.seen_zddm.get(code)
            if earlier is not None:
                flag(first + pos, zddm_column, "error", "duplicate_key", f"宗地代码重复: 与第{earlier}行相同", code)
            else:
                ctx.seen_zddm[code] = first + pos


_PROVINCES = pa.array([f"{p:02d}" for p in codes.PROVINCES], pa.string())


def _compact_code(raw: pa.Array) -> pa.Array:
    """Codes as ``codes.check_zddm`` compares them: NFKC, upper-case, without spaces and hyphens."""
    folded = pc.utf8_upper(pc.utf8_normalize(pc.fill_null(raw, ""), "NFKC"))
    result: pa.Array = pc.replace_substring_regex(folded, r"[\s-]", "")
    return result


def _np_bool(array: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _as_text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_floating(array.type):
        # codes read as numbers lose nothing when they are whole: 330699.0 -> 330699
        whole = pc.fill_null(pc.equal(pc.floor(array), array), False)
        as_int = pc.if_else(whole, array, pa.scalar(None, pa.float64())).cast(pa.int64(), safe=False)
        result: pa.Array = pc.if_else(whole, as_int.cast(pa.string()), array.cast(pa.string()))
        return result
    return array if pa.types.is_string(array.type) else array.cast(pa.string())


def _agreed_far(
    raw: pa.Array | None, out: dict[str, pa.Array], resolved: ResolvedMapping, first: int, flag: Callable[..., None]
) -> None:
    """约定容积率 text into bounds; explicit 下限/上限 columns win where they hold a value."""
    if raw is None:
        return
    text = _as_text(raw)
    out["far_agreed_raw"] = _clean_text(text)
    column = str(resolved.source_for("far_agreed"))
    encoded = out["far_agreed_raw"].dictionary_encode()
    lows: list[float | None] = []
    highs: list[float | None] = []
    failed: dict[int, str] = {}
    for index, value in enumerate(encoded.dictionary.to_pylist()):
        try:
            low, high = values.parse_far_range(value)
        except ValueError as exc:
            low = high = None
            failed[index] = str(exc)
        lows.append(low)
        highs.append(high)
    indices = encoded.indices
    if failed:
        positions = indices.to_numpy(zero_copy_only=False)
        for pos in np.flatnonzero(np.isin(positions, list(failed))):
            flag(first + int(pos), column, "error", "far_text", failed[int(positions[pos])], text[int(pos)].as_py())
    low_array = pa.array(lows, pa.float64()).take(indices)
    high_array = pa.array(highs, pa.float64()).take(indices)
    out["far_min"] = pc.coalesce(out["far_min"], low_array) if "far_min" in out else low_array
    out["far_max"] = pc.coalesce(out["far_max"], high_array) if "far_max" in out else high_array


def _land_use(
    raw: pa.Array | None, out: dict[str, pa.Array], resolved: ResolvedMapping, first: int, flag: Callable[..., None]
) -> None:
    if raw is None:
        return
    column = str(resolved.source_for("land_use_code"))
    text = _as_text(raw)
    encoded = text.dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    codes_: list[str | None] = []
    systems: list[str | None] = []
    failed: dict[int, str] = {}
    for index, value in enumerate(distinct):
        try:
            parsed = values.parse_land_use(value)
        except ValueError as exc:
            parsed = None
            failed[index] = str(exc)
        codes_.append(parsed[0] if parsed else None)
        systems.append((parsed[1] or resolved.mapping.land_use_system) if parsed else None)
    indices = encoded.indices
    if failed:
        positions = indices.to_numpy(zero_copy_only=False)
        for pos in np.flatnonzero(np.isin(positions, list(failed))):
            flag(first + int(pos), column, "error", "land_use", failed[int(positions[pos])], distinct[positions[pos]])
    out["land_use_code"] = pa.array(codes_, pa.string()).take(indices)
    out["land_use_system"] = pa.array(systems, pa.string()).take(indices)


# --------------------------------------------------------------------------- where the parcel lies


def _place(
    ctx: Context,
    out: dict[str, pa.Array],
    checked: geometry.Geometries,
    first: int,
    flag: Callable[..., None],
    already: set[int],
) -> None:
    """Region (refined by boundary, checked against the caller's scope) and zone of each row.

    A row already refused (an empty 宗地代码 ...) is not also reported as of unknown region."""
    n = len(checked.ok)
    regions_in = out["region_code"].to_pylist()
    bases = ctx.placement.base_codes(regions_in, out["zddm"].to_pylist())
    regions, outside, in_scope = ctx.placement.locate(bases, checked.points)
    region_column = ctx.resolved.source_for("region_code") or "region"
    for pos in range(n):
        if not checked.ok[pos]:
            continue
        row = first + pos
        if bases[pos] is None:
            if row in already:
                continue
            flag(
                row,
                region_column,
                "error",
                "region_unknown",
                "无法确定所属行政区 (no region: the code's county is not loaded; use --region)",
                regions_in[pos] or out["zddm_raw"][pos].as_py(),
            )
        elif outside[pos]:
            flag(
                row,
                "geometry",
                "error",
                "outside_region",
                f"宗地不在所属行政区 {bases[pos]} 范围内 (outside its region)",
                bases[pos],
            )
        elif not in_scope[pos]:
            flag(
                row,
                region_column,
                "error",
                "out_of_scope",
                f"宗地所在行政区 {regions[pos]} 不在您的管辖范围内 (outside your region scope)",
                regions[pos],
            )
    out["region_code"] = pa.array(regions, pa.string())
    zones = ctx.placement.zone_ids(checked.points)
    out["zone_id"] = pa.array(zones, pa.int32(), mask=zones < 0)


def _area_deviation(
    out: dict[str, pa.Array],
    checked: geometry.Geometries,
    resolved: ResolvedMapping,
    first: int,
    flag: Callable[..., None],
) -> None:
    declared_array = out.get("declared_area_m2")
    if declared_array is None:
        return
    declared = pc.fill_null(declared_array, np.nan).to_numpy(zero_copy_only=False)
    computed = checked.area_m2
    with np.errstate(invalid="ignore"):
        deviating = (declared > 0) & (np.abs(computed - declared) > AREA_TOLERANCE * declared)
    column = resolved.source_for("declared_area_m2") or "宗地面积"
    for pos in np.flatnonzero(deviating):
        d, c = float(declared[pos]), float(computed[pos])
        flag(
            first + int(pos),
            column,
            "warning",
            "area_deviation",
            f"图形面积 {c:.1f}㎡ 与登记面积 {d:.1f}㎡ 相差 {abs(c - d) / d:.0%}",
            f"{d}",
        )
