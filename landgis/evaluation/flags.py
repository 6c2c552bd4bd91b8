"""Enterprise flags: the facts a policy's 加分/减分, 一票否决 and 不定等级 items act on
(an incident, 高新技术企业, 公用事业 …), per year or for every year, loaded from a workbook."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, text

from landgis.db.engine import set_audit_context
from landgis.errors import InvalidInput
from landgis.evaluation.policy import FLAGS
from landgis.loading.enterprises import _enterprise_ids, _uscc_and_names
from landgis.loading.report import LoadReport
from landgis.loading.workbook import Column, read_table

COLUMNS = [
    Column("uscc", ("统一社会信用代码", "社会信用代码", "信用代码")),
    Column("name", ("企业名称", "名称")),
    Column("year", ("年度", "年份")),
    Column("flag", ("标记", "标记代码", "事项"), required=True),
    Column("note", ("说明", "备注")),
]
_BY_LABEL = {label: code for code, label in FLAGS.items()}


def flag_code(value: object) -> str:
    """A flag given by code (``safety_incident``) or label (``发生安全生产事故``)."""
    text_ = str(value or "").strip()
    if text_ in FLAGS:
        return text_
    if text_ in _BY_LABEL:
        return _BY_LABEL[text_]
    raise ValueError(f"未知标记 '{text_}' (known: {', '.join(FLAGS)})")


def set_flag(
    conn: Connection, enterprise_id: int, flag: str, *, year: int | None = None, note: str | None = None
) -> None:
    """Record one flag (idempotent: the same enterprise, year and flag is stored once)."""
    code = flag_code(flag)
    conn.execute(
        text(
            "INSERT INTO enterprise_flag (enterprise_id, year, flag, note) VALUES (:e, :y, :f, :n)"
            " ON CONFLICT (enterprise_id, year, flag) DO UPDATE SET note = EXCLUDED.note"
        ),
        {"e": enterprise_id, "y": year, "f": code, "n": note},
    )


def load_flags(conn: Connection, path: Path, *, actor: str) -> int:
    """Load flags from Excel/CSV (统一社会信用代码 or 企业名称, 年度, 标记, 说明); all or nothing."""
    table = read_table(path, COLUMNS)
    report = LoadReport(kind="flags", file=table.label)
    usccs, names = _uscc_and_names(table, report)
    ids = _enterprise_ids(conn, table, usccs, names, report)
    frame = table.frame
    rows: list[dict[str, object]] = []
    for index in range(len(frame)):
        row_no = table.sheet_row(index)
        raw_flag = frame.iloc[index][table.columns["flag"]]
        try:
            code = flag_code(raw_flag)
        except ValueError as exc:
            report.flag(row_no, table.columns["flag"], "error", "flag_unknown", str(exc), raw_flag)
            continue
        year = None
        if "year" in table.columns:
            raw_year = frame.iloc[index][table.columns["year"]]
            if not (raw_year is None or (isinstance(raw_year, str) and not raw_year.strip()) or pd.isna(raw_year)):
                try:
                    year = int(float(str(raw_year).replace("年", "")))
                except ValueError:
                    report.flag(row_no, table.columns["year"], "error", "bad_year", "年度应为整数", raw_year)
                    continue
        note = frame.iloc[index][table.columns["note"]] if "note" in table.columns else None
        if ids[index] is not None:
            rows.append({"e": ids[index], "y": year, "f": code, "n": None if pd.isna(note) else str(note)})
    errors = [i for i in report.issues if i.severity == "error"]
    if errors:
        first = errors[0]
        raise InvalidInput(
            f"{table.label} 第{first.row}行 {first.field}: {first.message}; 共 {len(errors)} 处错误, 未写入任何标记",
            details={"issues": [asdict(i) for i in errors[:50]]},
        )
    set_audit_context(conn, actor=actor)
    for row in rows:
        conn.execute(
            text(
                "INSERT INTO enterprise_flag (enterprise_id, year, flag, note, source) VALUES (:e, :y, :f, :n, :s)"
                " ON CONFLICT (enterprise_id, year, flag) DO UPDATE SET note = EXCLUDED.note, source = EXCLUDED.source"
            ),
            {**row, "s": table.label},
        )
    return len(rows)
