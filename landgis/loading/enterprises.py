"""``landgis load enterprises | occupancy | figures``: the enterprise register, who uses which
parcel, and yearly figures, from the workbooks of the tax, statistics, power and environment
bureaus.

Enterprises are matched by 统一社会信用代码 (check character verified) and, when a row has no
code, by exact name. Every load is all-or-nothing (unless ``accept_partial``), recorded as a
batch, and a re-run of the same file changes nothing.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection, text

from landgis import codes
from landgis.db.engine import scope_codes, set_audit_context, unscoped
from landgis.errors import InvalidInput
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
from landgis.loading.report import LoadReport
from landgis.loading.workbook import Column, Table, list_sheets, read_table

USCC = Column("uscc", ("统一社会信用代码", "社会信用代码", "信用代码", "USCC", "TYSHXYDM", "纳税人识别号"))
NAME = Column("name", ("企业名称", "单位名称", "纳税人名称", "企业", "名称"))
MONEY = (("(元)", 1e-4), ("（元）", 1e-4), ("万元", 1.0), ("亿元", 1e4))

ENTERPRISE_COLUMNS = [
    USCC,
    Column("name", NAME.aliases, required=True),
    Column("scale", ("规模", "企业规模", "是否规上", "规上规下", "规上/规下")),
    Column("industry_code", ("行业代码", "国民经济行业代码", "行业分类代码")),
    Column("registration_date", ("成立日期", "注册日期", "登记日期", "成立时间")),
    Column("production_start_date", ("投产日期", "投产时间")),
    Column("region_code", ("所在乡镇", "乡镇代码", "行政区划代码", "所在区划")),
]
OCCUPANCY_COLUMNS = [
    USCC,
    NAME,
    Column("zddm", ("宗地代码", "宗地编码", "ZDDM", "地块编码"), required=True),
    Column(
        "land_area_mu",
        ("使用面积", "用地面积", "占地面积", "使用土地面积"),
        units=(("亩", 1.0), ("平方米", 15 / 10000), ("㎡", 15 / 10000), ("M2", 15 / 10000), ("公顷", 15.0)),
    ),
    Column("tenure", ("权属", "用地方式", "使用方式", "自有/租赁", "土地来源")),
    Column("valid_from", ("起始日期", "开始日期", "租赁起始日期", "起租日期")),
    Column("valid_to", ("终止日期", "结束日期", "租赁终止日期", "到期日期")),
]
FIGURE_COLUMNS = [
    USCC,
    NAME,
    Column("tax_wan", ("税收", "评价税收", "实缴税金", "入库税收", "税收实际贡献", "纳税总额"), units=MONEY),
    Column("value_added_wan", ("工业增加值", "增加值"), units=MONEY),
    Column("revenue_wan", ("主营业务收入", "营业收入", "销售收入"), units=MONEY),
    Column("output_wan", ("工业总产值", "总产值", "产值"), units=MONEY),
    Column(
        "energy_tce",
        ("综合能耗", "综合能源消费量", "能耗"),
        units=(("吨标煤", 1.0), ("吨标准煤", 1.0), ("万吨标煤", 1e4), ("千克标煤", 1e-3), ("TCE", 1.0)),
    ),
    Column(
        "emissions_t", ("排放量", "主要污染物排放量", "污染物排放量", "排污当量"), units=(("吨", 1.0), ("千克", 1e-3))
    ),
    Column("rd_wan", ("R&D经费支出", "研发经费支出", "研发费用", "R&D经费"), units=MONEY),
    Column("employees", ("年平均职工人数", "职工人数", "从业人员", "从业人员平均人数")),
    Column(
        "electricity_kwh",
        ("用电量", "年用电量", "电耗"),
        units=(("万千瓦时", 1e4), ("万度", 1e4), ("千瓦时", 1.0), ("KWH", 1.0), ("度", 1.0)),
    ),
]
FIGURES = [c.target for c in FIGURE_COLUMNS[2:]]
#: GB/T 4754 国民经济行业代码: a section letter, then 2-4 digits (C, C33, C331, C3311).
INDUSTRY_CODE = re.compile(r"[A-T](\d{2}(\d{1,2})?)?")
#: Money without a unit in the header is taken as 万元 unless its size says 元.
YUAN_SUSPECT_MEDIAN = 1e5


@dataclass
class TableLoadOptions(LoadOptions):
    sheet: str | None = None
    encoding: str | None = None
    year: int | None = None
    source_label: str | None = None


# --------------------------------------------------------------------------- shared skeleton


def _run(
    conn: Connection,
    path: Path,
    kind: str,
    columns: list[Column],
    options: TableLoadOptions,
    prepare: Callable[[Connection, Table, LoadReport], pd.DataFrame],
    merge: Callable[[Connection, pd.DataFrame, int, LoadReport], tuple[int, int]],
    progress: Progress,
) -> LoadReport:
    started = time.monotonic()
    sheet = options.sheet or _default_sheet(path, kind, options.year)
    table = read_table(path, columns, sheet=sheet, encoding=options.encoding)
    report = LoadReport(kind=kind, file=table.label, checksum=table.checksum, dry_run=options.dry_run)
    report.source = {"sheet": table.sheet, "header_row": table.header_row, "units": table.unit_notes}
    report.mapping = {"columns": table.columns}
    report.counts["read"] = len(table.frame)
    try:
        with conn.begin_nested() as savepoint:
            rows = prepare(conn, table, report)
            progress(len(table.frame), len(table.frame))
            rejected = report.rejected_rows
            report.counts["rejected"] = len(rejected)
            if rejected and not options.accept_partial:
                report.status = "failed"
                report.message = f"{len(rejected)} 行被拒绝, 未写入任何数据 (all-or-nothing; use --accept-partial)"
                raise LoadFailed(report.message, report)
            rows = rows[~rows["row_no"].isin(rejected)]
            previous = previous_batch(conn, kind, report.checksum)
            batch_id = open_batch(conn, kind, report, options, {"sheet": table.sheet, "year": options.year})
            report.batch_id = batch_id
            set_audit_context(conn, actor=options.actor, batch_id=batch_id)
            inserted, updated = merge(conn, rows, batch_id, report)
            report.counts.update(inserted=inserted, updated=updated, unchanged=len(rows) - inserted - updated)
            status = "dry_run" if options.dry_run else ("committed" if inserted or updated else "unchanged")
            close_batch(conn, batch_id, status, report.counts)
            report.status = status
            if options.dry_run:
                report.message = f"试运行: 将新增 {inserted}, 更新 {updated} (nothing written)"
                savepoint.rollback()
            elif inserted or updated:
                report.message = f"新增 {inserted}, 更新 {updated}, 不变 {report.counts['unchanged']}"
            else:
                since = f" (与批次 {previous} 相同)" if previous else ""
                report.message = f"数据无变化{since} (nothing changed)"
    except LoadFailed as exc:
        if not options.dry_run:
            report.batch_id = record_failed_batch(conn, kind, exc.report, options)
        raise
    finally:
        report.elapsed_s = time.monotonic() - started
    return report


def _default_sheet(path: Path, kind: str, year: int | None) -> str | None:
    sheets = list_sheets(path)
    if not sheets:
        return None
    wanted: tuple[str, ...] = {
        "enterprises": ("企业名录", "企业信息", "名录"),
        "occupancy": ("用地关系", "用地", "占地"),
    }.get(kind, ())
    if kind == "figures" and year is not None:
        wanted = (str(year),)
    for word in wanted:
        for name in sheets:
            if word in name:
                return name
    if kind == "figures" and year is not None and len(sheets) > 1:
        raise InvalidInput(f"{path.name}: 找不到 {year} 年的工作表 (sheets: {', '.join(sheets)}); 请用 --sheet 指定")
    return sheets[0]


def _cells(table: Table, target: str) -> list[Any]:
    header = table.columns.get(target)
    if header is None:
        return [None] * len(table.frame)
    return table.frame[header].tolist()


def _parse(
    table: Table, target: str, parser: Callable[[Any], Any], report: LoadReport, *, factor: float = 1.0
) -> list[Any]:
    header = table.columns.get(target, target)
    out: list[Any] = []
    for index, value in enumerate(_cells(table, target)):
        try:
            parsed = parser(value)
        except ValueError as exc:
            report.flag(
                table.sheet_row(index), header, "error", "bad_value", str(exc), None if value is None else value
            )
            parsed = None
        if isinstance(parsed, float) and factor != 1.0:
            parsed *= factor
        out.append(parsed)
    return out


def _uscc_and_names(table: Table, report: LoadReport) -> tuple[list[str | None], list[str | None]]:
    usccs: list[str | None] = []
    header = table.columns.get("uscc", "统一社会信用代码")
    for index, raw in enumerate(_cells(table, "uscc")):
        if values.is_blank(raw):
            usccs.append(None)
            continue
        check = codes.check_uscc(raw)
        if not check.valid:
            report.flag(table.sheet_row(index), header, "error", "uscc_invalid", check.reason or "", str(raw))
        usccs.append(check.value)
    names = [values.clean_text(v) for v in _cells(table, "name")]
    return usccs, names


def _enterprise_ids(
    conn: Connection, table: Table, usccs: list[str | None], names: list[str | None], report: LoadReport
) -> list[int | None]:
    """Resolve each row to an enterprise id: by USCC, else by exact (unique) name."""
    by_code: dict[str, int] = dict(
        conn.execute(text("SELECT uscc, id FROM enterprise WHERE uscc = ANY(:c)"), {"c": [c for c in usccs if c]}).all()
    )
    wanted_names = sorted({n for c, n in zip(usccs, names, strict=True) if n and not c})
    by_name: dict[str, list[int]] = {}
    for name, eid in conn.execute(text("SELECT name, id FROM enterprise WHERE name = ANY(:n)"), {"n": wanted_names}):
        by_name.setdefault(name, []).append(eid)
    ids: list[int | None] = []
    for index, (code, name) in enumerate(zip(usccs, names, strict=True)):
        row = table.sheet_row(index)
        if code:
            eid = by_code.get(code)
            if eid is None:
                report.flag(
                    row,
                    table.columns.get("uscc", "统一社会信用代码"),
                    "error",
                    "enterprise_unknown",
                    "企业不在企业名录中 (load the register first)",
                    code,
                )
            ids.append(eid)
        elif name:
            found = by_name.get(name, [])
            if len(found) != 1:
                why = "企业名称不在企业名录中" if not found else f"企业名称对应{len(found)}家企业, 无法确定"
                report.flag(
                    row,
                    table.columns.get("name", "企业名称"),
                    "error",
                    "enterprise_unmatched",
                    f"无统一社会信用代码且{why}",
                    name,
                )
                ids.append(None)
            else:
                ids.append(found[0])
        else:
            report.flag(
                row,
                table.columns.get("uscc", "统一社会信用代码"),
                "error",
                "enterprise_missing",
                "缺少统一社会信用代码和企业名称",
            )
            ids.append(None)
    if scope_codes(conn) is not None:
        # A superuser's look-ups above see every firm: figures or land use for one outside the
        # caller's scope would be written to it. (A role that row-level security binds finds
        # none of them, and says so as enterprise_unknown.)
        hidden = _not_visible(conn, sorted({i for i in ids if i is not None}))
        for index, eid in enumerate(ids):
            if eid in hidden:
                code = usccs[index]
                report.flag(
                    table.sheet_row(index),
                    table.columns.get("uscc" if code else "name", "统一社会信用代码"),
                    "error",
                    "out_of_scope",
                    "企业不在您的管辖范围内 (firm outside your region scope)",
                    code or names[index],
                )
                ids[index] = None
    return ids


def _merge_stage(
    conn: Connection,
    target: str,
    types: dict[str, str],
    frame: pd.DataFrame,
    keys: list[str],
    values_: list[str],
    batch_id: int,
    *,
    sources: bool = False,
) -> tuple[int, int]:
    """COPY ``frame`` into a temp stage and upsert it into ``target`` on ``keys``.

    Rows whose ``values_`` already equal the live row are left alone (no update, no history).
    """
    stage_columns = [*keys, *values_, *(["sources"] if sources else [])]
    ddl = ", ".join(f"{c} {types[c]}" for c in stage_columns)
    conn.execute(text("DROP TABLE IF EXISTS _stage"))
    conn.execute(text(f"CREATE TEMP TABLE _stage ({ddl}) ON COMMIT DROP"))
    copy_frame(conn, "_stage", stage_columns, frame[stage_columns])
    on = " AND ".join(_key_equal(k, types[k]) for k in keys)
    differs = f"({', '.join(f't.{v}' for v in values_)}) IS DISTINCT FROM ({', '.join(f's.{v}' for v in values_)})"
    assign = ", ".join(f"{v} = s.{v}" for v in values_)
    if sources:
        assign += ", sources = t.sources || s.sources"
    updated = conn.execute(
        text(f"UPDATE {target} t SET {assign}, load_batch_id = :b FROM _stage s WHERE {on} AND {differs}"),
        {"b": batch_id},
    ).rowcount
    # The rows that exist leave the stage before the INSERT: an anti-join against the table the
    # INSERT is filling could be planned as a nested loop over a growing table (quadratic).
    conn.execute(text(f"DELETE FROM _stage s USING {target} t WHERE {on}"))
    inserted = conn.execute(
        text(
            f"INSERT INTO {target} ({', '.join(stage_columns)}, load_batch_id)"
            f" SELECT {', '.join(f's.{c}' for c in stage_columns)}, :b FROM _stage s"
        ),
        {"b": batch_id},
    ).rowcount
    conn.execute(text("DROP TABLE _stage"))
    return inserted, updated


def _key_equal(key: str, kind: str) -> str:
    """Equality of a merge key that also matches NULL to NULL, in a form a hash join can use."""
    sentinel = {"date": "'-infinity'::date", "text": "''"}.get(kind)
    if sentinel is None:
        return f"t.{key} = s.{key}"
    return f"coalesce(t.{key}, {sentinel}) = coalesce(s.{key}, {sentinel})"


def _date_text(items: list[Any]) -> list[str | None]:
    return [d.isoformat() if d is not None else None for d in items]


# --------------------------------------------------------------------------- enterprises


def load_enterprises(
    conn: Connection, path: Path, options: TableLoadOptions | None = None, progress: Progress = no_progress
) -> LoadReport:
    """Load or update the enterprise register (企业名录)."""
    options = options or TableLoadOptions()
    return _run(
        conn, path, "enterprises", ENTERPRISE_COLUMNS, options, _prepare_enterprises, _merge_enterprises, progress
    )


def _prepare_enterprises(conn: Connection, table: Table, report: LoadReport) -> pd.DataFrame:
    usccs, names = _uscc_and_names(table, report)
    seen: dict[str, int] = {}
    garbled = _garbled(names)
    for index, (code, name) in enumerate(zip(usccs, names, strict=True)):
        row = table.sheet_row(index)
        if not name:
            report.flag(row, table.columns.get("name", "企业名称"), "error", "name_missing", "企业名称为空")
        key = code or f"name:{name}"
        if key in seen:
            report.flag(
                row,
                table.columns.get("uscc", "统一社会信用代码"),
                "error",
                "duplicate_key",
                f"与第{seen[key]}行重复",
                code or name,
            )
        else:
            seen[key] = row
        if garbled[index]:
            report.flag(
                row,
                table.columns.get("name", "企业名称"),
                "error",
                "mojibake",
                "企业名称疑似乱码 (wrong encoding?)",
                name,
            )
        if not code and name:
            report.flag(
                row,
                table.columns.get("uscc", "统一社会信用代码"),
                "warning",
                "uscc_missing",
                "缺少统一社会信用代码, 按企业名称匹配",
                name,
            )
    scoped = scope_codes(conn) is not None
    # Every row's firm matters only to a scoped caller's checks; the name check needs uncoded ones.
    registered = _registered(conn, usccs, names, with_codes=scoped)
    _refuse_ambiguous_names(table, usccs, names, registered, report)
    industry = _parse(table, "industry_code", _industry_code, report)
    regions = _parse(table, "region_code", _region_code, report)
    frame = pd.DataFrame(
        {
            "row_no": [table.sheet_row(i) for i in range(len(table.frame))],
            "uscc": usccs,
            "name": names,
            "scale": _parse(table, "scale", values.parse_scale, report),
            "industry_code": industry,
            "registration_date": _date_text(_parse(table, "registration_date", values.parse_date, report)),
            "production_start_date": _date_text(_parse(table, "production_start_date", values.parse_date, report)),
            "region_code": regions,
            "source": table.label,
        }
    )
    known: dict[str, bool] = {
        str(r): bool(in_scope)
        for r, in_scope in conn.execute(
            text("SELECT code, landgis_in_scope(code) FROM region WHERE code = ANY(:c)"),
            {"c": sorted({r for r in regions if r})},
        )
    }
    refused: set[int] = set()
    for index, region in enumerate(regions):
        if region and region not in known:
            report.flag(
                table.sheet_row(index),
                table.columns.get("region_code", ""),
                "error",
                "region_unknown",
                "行政区划代码不存在 (load regions first)",
                region,
            )
        elif region and not known[region]:
            refused.add(index)
            report.flag(
                table.sheet_row(index),
                table.columns.get("region_code", ""),
                "error",
                "out_of_scope",
                f"行政区 {region} 不在您的管辖范围内 (outside your region scope)",
                region,
            )
    if scoped:
        _refuse_firms_out_of_scope(conn, table, usccs, names, regions, registered, refused, report)
    # An optional column the file does not have is left out: the merge keeps what is on record.
    return frame[[c for c in frame.columns if c not in OPTIONAL_ATTRIBUTES or c in table.columns]]


@dataclass
class _Registered:
    """The firms a register's rows name, looked up in the whole table (``unscoped``): by
    统一社会信用代码, and by exact name among the firms without one. Each as (id, region)."""

    by_code: dict[str, list[tuple[int, str | None]]]
    by_name: dict[str, list[tuple[int, str | None]]]

    def named(self, code: str | None, name: str | None) -> list[tuple[int, str | None]]:
        """The firms a row's code (or, without one, its name) names."""
        return self.by_code.get(code, []) if code else self.by_name.get(name or "", [])


def _registered(conn: Connection, usccs: list[str | None], names: list[str | None], *, with_codes: bool) -> _Registered:
    """The firms of the rows' names among those without a code and, ``with_codes``, of their codes."""
    with unscoped(conn):
        found = conn.execute(
            text(
                "SELECT id, uscc, name, region_code FROM enterprise"
                " WHERE uscc = ANY(:codes) OR (uscc IS NULL AND name = ANY(:names))"
            ),
            {
                "codes": sorted({c for c in usccs if c}) if with_codes else [],
                "names": sorted({n for c, n in zip(usccs, names, strict=True) if n and not c}),
            },
        ).all()
    registered = _Registered(by_code={}, by_name={})
    for eid, uscc, name, region in found:
        if uscc:
            registered.by_code[uscc] = [(eid, region)]
        else:
            registered.by_name.setdefault(name, []).append((eid, region))
    return registered


def _refuse_ambiguous_names(
    table: Table, usccs: list[str | None], names: list[str | None], registered: _Registered, report: LoadReport
) -> None:
    """A row without 统一社会信用代码 is matched on its exact name; when several firms without a
    code have that name, the merge would update them all. Counted in the whole table: the merge
    of a caller whom row-level security does not bind reaches them all."""
    for index, (code, name) in enumerate(zip(usccs, names, strict=True)):
        same_name = [] if code else registered.by_name.get(name or "", [])
        if len(same_name) > 1:
            report.flag(
                table.sheet_row(index),
                table.columns.get("name", "企业名称"),
                "error",
                "ambiguous_key",
                f"有 {len(same_name)} 家未登记统一社会信用代码的企业同名, 无法确定更新哪一家: 请填写统一社会信用代码",
                name,
            )


def _refuse_firms_out_of_scope(
    conn: Connection,
    table: Table,
    usccs: list[str | None],
    names: list[str | None],
    regions: list[str | None],
    registered: _Registered,
    refused: set[int],
    report: LoadReport,
) -> None:
    """What a scoped caller's register row may not do to the firm its 统一社会信用代码 (or, without
    one, its exact name) names:

    - update a firm their scope does not reach (``out_of_scope``): the row would take it over;
    - update a firm registered in another region, which they see because it uses land in
      theirs (``out_of_scope``): its register is that region's to keep, and the row could move
      it away from there;
    - leave 所在乡镇 blank (``region_required``), for a new firm (no scope but the unrestricted
      would reach it again) or for one whose region is on record (it would be cleared).

    The firms were looked up in the whole table (``_registered``): a role that row-level security
    binds would not see them, and its INSERT would fail on the code's unique index, or its
    UPDATE on the policy, instead of saying why. Which of them the caller's scope reaches is
    asked here, under that scope (``_not_visible``, ``_regions_out_of_scope``). Rows in
    ``refused`` already failed for their own 所在乡镇 and are not flagged twice.
    """
    found = [firm for firms in (*registered.by_code.values(), *registered.by_name.values()) for firm in firms]
    hidden = _not_visible(conn, [eid for eid, _ in found])
    foreign = _regions_out_of_scope(conn, sorted({region for _, region in found if region}))
    raw_regions = _cells(table, "region_code")
    region_column = table.columns.get("region_code", "所在乡镇")
    for index, (code, name) in enumerate(zip(usccs, names, strict=True)):
        if index in refused:
            continue
        row = table.sheet_row(index)
        firms = registered.named(code, name)
        column, value = (
            (table.columns.get("uscc", "统一社会信用代码"), code)
            if code
            else (table.columns.get("name", "企业名称"), name)
        )
        elsewhere = sorted({region for _, region in firms if region in foreign})
        if any(eid in hidden for eid, _ in firms):
            report.flag(
                row,
                column,
                "error",
                "out_of_scope",
                "该企业已登记在您的管辖范围以外 (a firm outside your region scope holds this code)",
                value,
            )
        elif elsewhere:
            report.flag(
                row,
                column,
                "error",
                "out_of_scope",
                f"该企业登记在 {elsewhere[0]}, 只能由其所在地的用户修改登记信息 (a firm registered outside your scope)",
                value,
            )
        elif values.is_blank(raw_regions[index]) and (code or name):
            # (a file without the column leaves the regions on record as they are)
            if not firms:
                message = (
                    "新登记的企业须填写所在乡镇: 您的账号限于部分行政区 (a new firm needs its region under a scope)"
                )
            elif "region_code" in table.columns and any(region for _, region in firms):
                message = "所在乡镇为空会清除已登记的所在乡镇: 请填写 (a blank region would clear the firm's region)"
            else:
                continue
            report.flag(row, region_column, "error", "region_required", message, None)


def _regions_out_of_scope(conn: Connection, codes: list[str]) -> set[str]:
    """Of these region codes, those the transaction's region scope does not reach."""
    if not codes:
        return set()
    return set(
        conn.execute(
            text("SELECT r FROM unnest(CAST(:codes AS text[])) AS r WHERE NOT landgis_in_scope(r)"), {"codes": codes}
        ).scalars()
    )


def _not_visible(conn: Connection, ids: list[int]) -> set[int]:
    """Of these enterprises, those the transaction's region scope does not reach (the test of the
    enterprise policy: its region, or a parcel it uses, in scope)."""
    if not ids:
        return set()
    return set(
        conn.execute(
            text("SELECT i FROM unnest(CAST(:ids AS bigint[])) AS i WHERE NOT landgis_enterprise_visible(i)"),
            {"ids": ids},
        ).scalars()
    )


def _garbled(names: list[str | None]) -> list[bool]:
    """For each name: is it evidently mis-decoded (mojibake)? One vectorised pass over the
    column: asked one name at a time, the check cost 0.3 ms a row, most of a register's load."""
    from landgis.loading.arrowtext import mojibake_mask

    texts = [name if name and values.clean_text(name) else None for name in names]
    return [bool(m) for m in mojibake_mask(pa.array(texts, pa.string()))]


def _industry_code(value: Any) -> str | None:
    text_ = values.clean_text(value)
    if text_ is None:
        return None
    code = codes.normalize_text(text_)
    if not INDUSTRY_CODE.fullmatch(code):
        raise ValueError(f"行业代码应为GB/T 4754格式 (如 C3311), 实为 {text_[:12]!r}")
    return code


def _region_code(value: Any) -> str | None:
    if values.is_blank(value):
        return None
    text_ = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    check = codes.check_region_code(text_)
    if not check.valid:
        raise ValueError(check.reason or "行政区划代码无效")
    return check.value


#: Register attributes a file may leave out (then kept as they are, not cleared).
OPTIONAL_ATTRIBUTES = ("scale", "industry_code", "registration_date", "production_start_date", "region_code")
ENTERPRISE_TYPES = {
    "uscc": "text",
    "name": "text",
    "scale": "text",
    "industry_code": "text",
    "registration_date": "date",
    "production_start_date": "date",
    "region_code": "text",
    "source": "text",
}


def _merge_enterprises(conn: Connection, rows: pd.DataFrame, batch_id: int, report: LoadReport) -> tuple[int, int]:
    # Only the columns the file has: a register without 所在乡镇 leaves the regions on record.
    values_ = [c for c in ENTERPRISE_TYPES if c != "uscc" and c in rows.columns]
    with_code = rows[rows["uscc"].notna()]
    inserted, updated = _merge_stage(conn, "enterprise", ENTERPRISE_TYPES, with_code, ["uscc"], values_, batch_id)
    without = rows[rows["uscc"].isna()]
    if len(without):
        # Firms without a code are matched on their exact name.
        more = _merge_stage(
            conn,
            "enterprise",
            ENTERPRISE_TYPES,
            without,
            ["name", "uscc"],
            [c for c in values_ if c != "name"],
            batch_id,
        )
        inserted, updated = inserted + more[0], updated + more[1]
    return inserted, updated


# --------------------------------------------------------------------------- occupancy


def load_occupancy(
    conn: Connection, path: Path, options: TableLoadOptions | None = None, progress: Progress = no_progress
) -> LoadReport:
    """Load which enterprise uses which parcel (用地关系: 自有/租赁, area in 亩, validity)."""
    options = options or TableLoadOptions()
    return _run(conn, path, "occupancy", OCCUPANCY_COLUMNS, options, _prepare_occupancy, _merge_occupancy, progress)


def _prepare_occupancy(conn: Connection, table: Table, report: LoadReport) -> pd.DataFrame:
    usccs, names = _uscc_and_names(table, report)
    ids = _enterprise_ids(conn, table, usccs, names, report)
    zddm_header = table.columns["zddm"]
    parcel_codes: list[str | None] = []
    for index, raw in enumerate(_cells(table, "zddm")):
        check = codes.check_zddm(raw)
        parcel_codes.append(check.value if check.valid else values.clean_text(raw))
        if values.is_blank(raw):
            report.flag(table.sheet_row(index), zddm_header, "error", "zddm_missing", "宗地代码为空")
    # Only parcels in the caller's region scope can be given users: another county's parcel is
    # reported as not found, as a query of it would be.
    found: dict[str, int] = dict(
        conn.execute(
            text(
                "SELECT coalesce(zddm, zddm_raw), id FROM parcel"
                " WHERE (zddm = ANY(:c) OR zddm_raw = ANY(:c)) AND landgis_in_scope(region_code)"
            ),
            {"c": [c for c in parcel_codes if c]},
        ).all()
    )
    parcel_ids: list[int | None] = []
    for index, code in enumerate(parcel_codes):
        pid = found.get(code) if code else None
        if code and pid is None:
            report.flag(
                table.sheet_row(index),
                zddm_header,
                "error",
                "parcel_unknown",
                "宗地不存在或不在您的管辖范围内 (no such parcel in your scope; load the parcels first)",
                code,
            )
        parcel_ids.append(pid)
    factor = table.factors.get("land_area_mu", 1.0)
    areas = _parse(table, "land_area_mu", values.parse_number, report, factor=factor)
    for index, area in enumerate(areas):
        if area is not None and area < 0:
            report.flag(
                table.sheet_row(index),
                table.columns.get("land_area_mu", ""),
                "error",
                "area_negative",
                "使用面积不能为负",
                str(area),
            )
    tenure = [t or "own" for t in _parse(table, "tenure", values.parse_tenure, report)]
    valid_from = _parse(table, "valid_from", values.parse_date, report)
    valid_to = _parse(table, "valid_to", values.parse_date, report)
    for index, (start, end) in enumerate(zip(valid_from, valid_to, strict=True)):
        if start and end and end < start:
            report.flag(
                table.sheet_row(index),
                table.columns.get("valid_to", ""),
                "error",
                "dates_reversed",
                "终止日期早于起始日期",
                str(end),
            )
    frame = pd.DataFrame(
        {
            "row_no": [table.sheet_row(i) for i in range(len(table.frame))],
            "enterprise_id": pd.array(ids, dtype="Int64"),
            "parcel_id": pd.array(parcel_ids, dtype="Int64"),
            "land_area_mu": areas,
            "tenure": tenure,
            "valid_from": _date_text(valid_from),
            "valid_to": _date_text(valid_to),
            "source": table.label,
        }
    )
    _check_area_sums(conn, frame, table, report)
    return frame


def _check_area_sums(conn: Connection, frame: pd.DataFrame, table: Table, report: LoadReport) -> None:
    """Flag parcels whose declared uses add up to more than the parcel (beyond 5 %)."""
    usable = frame.dropna(subset=["parcel_id", "land_area_mu"])
    if usable.empty:
        return
    sums = usable.groupby("parcel_id")["land_area_mu"].sum()
    areas: dict[int, float] = dict(
        conn.execute(
            text("SELECT id, area_mu FROM parcel WHERE id = ANY(:ids)"), {"ids": [int(i) for i in sums.index]}
        ).all()
    )
    for pid, total in zip(sums.index.tolist(), sums.tolist(), strict=True):
        area = areas.get(int(pid))
        if area and total > area * 1.05:
            rows = usable[usable["parcel_id"] == pid]["row_no"].tolist()
            report.flag(
                int(rows[0]),
                table.columns.get("land_area_mu", ""),
                "warning",
                "area_exceeds_parcel",
                f"该宗地各企业使用面积合计 {total:.2f}亩 超过宗地面积 {area:.2f}亩",
                f"{total:.2f}",
            )


def _merge_occupancy(conn: Connection, rows: pd.DataFrame, batch_id: int, report: LoadReport) -> tuple[int, int]:
    types = {
        "enterprise_id": "bigint",
        "parcel_id": "bigint",
        "valid_from": "date",
        "land_area_mu": "double precision",
        "tenure": "text",
        "valid_to": "date",
        "source": "text",
    }
    return _merge_stage(
        conn,
        "occupancy",
        types,
        rows,
        ["enterprise_id", "parcel_id", "valid_from"],
        ["land_area_mu", "tenure", "valid_to", "source"],
        batch_id,
    )


# --------------------------------------------------------------------------- figures


def load_figures(
    conn: Connection, path: Path, options: TableLoadOptions, progress: Progress = no_progress
) -> LoadReport:
    """Load one year's figures; only the columns the file holds are written (with their source)."""
    if options.year is None or not 1990 <= options.year <= 2100:
        raise InvalidInput("--year 必须为 1990-2100 之间的年份")
    return _run(conn, path, "figures", FIGURE_COLUMNS, options, _prepare_figures(options), _merge_figures, progress)


def _prepare_figures(options: TableLoadOptions) -> Callable[[Connection, Table, LoadReport], pd.DataFrame]:
    def prepare(conn: Connection, table: Table, report: LoadReport) -> pd.DataFrame:
        present = [f for f in FIGURES if f in table.columns]
        if not present:
            raise InvalidInput(f"{table.label}: 没有可识别的指标列 (税收, 工业增加值, 用电量 ...)")
        usccs, names = _uscc_and_names(table, report)
        ids = _enterprise_ids(conn, table, usccs, names, report)
        seen: dict[int, int] = {}
        for index, eid in enumerate(ids):
            if eid is None:
                continue
            if eid in seen:
                report.flag(
                    table.sheet_row(index),
                    table.columns.get("uscc", ""),
                    "error",
                    "duplicate_key",
                    f"同一企业在第{seen[eid]}行已有数据",
                    str(eid),
                )
            else:
                seen[eid] = table.sheet_row(index)
        data: dict[str, Any] = {
            "row_no": [table.sheet_row(i) for i in range(len(table.frame))],
            "enterprise_id": pd.array(ids, dtype="Int64"),
            "year": options.year,
        }
        label = options.source_label or table.label
        for figure in present:
            factor = table.factors.get(figure)
            parsed = _parse(table, figure, values.parse_number, report, factor=factor or 1.0)
            if factor is None and figure.endswith("_wan"):
                known = [v for v in parsed if v is not None]
                if known and float(pd.Series(known).median()) > YUAN_SUSPECT_MEDIAN:
                    parsed = [v * 1e-4 if v is not None else None for v in parsed]
                    report.flag(
                        0,
                        table.columns[figure],
                        "warning",
                        "unit_guessed",
                        "表头未注明单位, 数值量级判断为元, 已换算为万元",
                    )
            for index, value in enumerate(parsed):
                if value is not None and value < 0 and figure != "tax_wan":
                    report.flag(
                        table.sheet_row(index), table.columns[figure], "error", "negative", "数值不能为负", str(value)
                    )
            data[figure] = parsed
        data["sources"] = json.dumps(dict.fromkeys(present, label), ensure_ascii=False)
        frame = pd.DataFrame(data)
        frame.attrs["present"] = present
        return frame

    return prepare


def _merge_figures(conn: Connection, rows: pd.DataFrame, batch_id: int, report: LoadReport) -> tuple[int, int]:
    present: list[str] = rows.attrs.get("present", [f for f in FIGURES if f in rows])
    types = {"enterprise_id": "bigint", "year": "smallint", "sources": "jsonb"}
    types.update(dict.fromkeys(present, "double precision"))
    return _merge_stage(
        conn, "enterprise_year", types, rows, ["enterprise_id", "year"], present, batch_id, sources=True
    )
