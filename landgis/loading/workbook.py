"""Reading the Excel and CSV tables county bureaus send: header rows under title rows, header
aliases, units in the header (元 or 万元, 千瓦时 or 万千瓦时), and values typed as text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from landgis.errors import InvalidInput
from landgis.loading.source import detect_text_encoding, sha256_of

HEADER_SCAN_ROWS = 15


@dataclass(frozen=True)
class Column:
    """A target field of a table with its header aliases and its canonical unit."""

    target: str
    aliases: tuple[str, ...]
    #: unit words found in a header → factor to the canonical unit
    units: tuple[tuple[str, float], ...] = ()
    required: bool = False


@dataclass
class Table:
    """A sheet read into text cells, with the header row found and columns matched."""

    path: Path
    sheet: str | None
    frame: pd.DataFrame  # object cells, one column per source header
    header_row: int  # 1-based row of the header in the sheet
    columns: dict[str, str]  # target -> source header
    factors: dict[str, float]  # target -> factor to the canonical unit
    unit_notes: list[str] = field(default_factory=list)
    checksum: str = ""

    @property
    def label(self) -> str:
        return f"{self.path.name}#{self.sheet}" if self.sheet else self.path.name

    def sheet_row(self, index: int) -> int:
        """The row number a clerk sees in Excel for the frame's ``index``-th data row."""
        return self.header_row + 1 + index


def fold(text: str) -> str:
    folded = unicodedata.normalize("NFKC", str(text)).strip().upper()
    return re.sub(r"\s+", "", folded)


def _bare(header: str) -> str:
    """A header without its unit in brackets: ``税收(万元)`` → ``税收``."""
    return re.sub(r"[(\[（【].*?[)\]）】]", "", fold(header))


def _match(header: str, column: Column) -> bool:
    bare = _bare(header)
    return any(bare == _bare(alias) for alias in column.aliases)


def _unit_factor(header: str, column: Column) -> float | None:
    folded = fold(header)
    for word, factor in sorted(column.units, key=lambda u: -len(u[0])):
        if fold(word) in folded:
            return factor
    return None


def list_sheets(path: Path) -> list[str]:
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return []
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True)
    except Exception as exc:
        raise InvalidInput(f"{path.name}: 无法打开Excel文件 ({type(exc).__name__})") from exc
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def read_table(path: Path, columns: list[Column], *, sheet: str | None = None, encoding: str | None = None) -> Table:
    """Read a sheet (Excel) or a CSV and match its header against ``columns``.

    The header is the first of the top rows holding at least two known headers (title rows
    above it are skipped). Merged header cells are refused: they hide which column is which.
    """
    if not path.is_file():
        raise InvalidInput(f"{path}: 文件不存在 (no such file)")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        raw, sheet = _read_excel(path, sheet)
    elif suffix == ".csv":
        enc = encoding or detect_text_encoding(path)[0]
        try:
            raw = pd.read_csv(path, header=None, dtype=object, encoding=enc, keep_default_na=False)
        except Exception as exc:
            raise InvalidInput(f"{path.name}: CSV无法读取 ({type(exc).__name__})") from exc
        sheet = None
    else:
        raise InvalidInput(f"{path.name}: 不支持的表格类型 {suffix} (supported: .xlsx .csv)")
    label = f"{path.name}#{sheet}" if sheet else path.name
    header_index = _find_header(raw, columns, label)
    headers = [str(h).strip() if not _blank(h) else "" for h in raw.iloc[header_index].tolist()]
    matched: dict[str, str] = {}
    factors: dict[str, float] = {}
    notes: list[str] = []
    for column in columns:
        for header in headers:
            if header and header not in matched.values() and _match(header, column):
                matched[column.target] = header
                factor = _unit_factor(header, column)
                if factor is not None:
                    factors[column.target] = factor
                    notes.append(f"{header}: 单位 × {factor:g}")
                break
    missing = [c for c in columns if c.required and c.target not in matched]
    if missing:
        wanted = "; ".join(f"{c.target} ({'/'.join(c.aliases[:3])})" for c in missing)
        raise InvalidInput(f"{label}: 缺少必需的列 {wanted}; 表头为 {', '.join(h for h in headers if h)[:200]}")
    body = raw.iloc[header_index + 1 :].reset_index(drop=True)
    body.columns = [h or f"_col{i}" for i, h in enumerate(headers)]
    body = body.loc[:, ~pd.Index(body.columns).duplicated()]
    body = body[~body.apply(lambda r: all(_blank(v) for v in r), axis=1)] if len(body) else body
    return Table(
        path=path,
        sheet=sheet,
        frame=body,
        header_row=header_index + 1,
        columns=matched,
        factors=factors,
        unit_notes=notes,
        checksum=sha256_of([path]),
    )


def _read_excel(path: Path, sheet: str | None) -> tuple[pd.DataFrame, str]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=False, data_only=True)
    except Exception as exc:
        raise InvalidInput(f"{path.name}: 无法打开Excel文件 ({type(exc).__name__})") from exc
    try:
        names = workbook.sheetnames
        if sheet is None:
            sheet = names[0]
        elif sheet not in names:
            raise InvalidInput(f"{path.name}: 工作表 {sheet!r} 不存在 (sheets: {', '.join(names)})")
        worksheet = workbook[sheet]
        merged = [str(r) for r in worksheet.merged_cells.ranges if r.min_row <= HEADER_SCAN_ROWS]
        rows = [list(r) for r in worksheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    frame = pd.DataFrame(rows, dtype=object)
    if merged:
        frame.attrs["merged"] = merged
    return frame, sheet


def _find_header(raw: pd.DataFrame, columns: list[Column], label: str) -> int:
    best, best_hits = -1, 0
    for index in range(min(HEADER_SCAN_ROWS, len(raw))):
        cells = [str(v) for v in raw.iloc[index].tolist() if not _blank(v)]
        hits = sum(1 for c in columns if any(_match(cell, c) for cell in cells))
        if hits >= 2 and hits > best_hits:
            best, best_hits = index, hits
            break
    if best < 0:
        raise InvalidInput(f"{label}: 前{HEADER_SCAN_ROWS}行中找不到表头 (no header row with known column names)")
    merged = raw.attrs.get("merged", [])
    header_row = best + 1
    touching = [m for m in merged if _range_rows(m)[0] <= header_row <= _range_rows(m)[1]]
    if touching:
        raise InvalidInput(
            f"{label}: 表头含合并单元格 {', '.join(touching[:3])}; 请拆分为单行表头 (merged header cells)"
        )
    return best


def _range_rows(cell_range: str) -> tuple[int, int]:
    numbers = [int(n) for n in re.findall(r"\d+", cell_range)]
    return (numbers[0], numbers[-1]) if numbers else (0, 0)


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not value.strip()
