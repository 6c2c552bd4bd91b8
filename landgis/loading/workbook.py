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
from landgis.loading.source import check_archive, detect_text_encoding, sha256_of

HEADER_SCAN_ROWS = 15
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")


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


def _open_workbook(path: Path) -> Any:
    from python_calamine import CalamineWorkbook

    if path.suffix.lower() in (".xlsx", ".xlsm", ".ods"):
        check_archive(path, what="Excel文件 (.xlsx)")  # a workbook is a zip: refuse bombs before inflating it
    try:
        return CalamineWorkbook.from_path(str(path))
    except Exception as exc:
        raise InvalidInput(f"{path.name}: 无法打开Excel文件, 文件可能已损坏 ({type(exc).__name__})") from exc


def list_sheets(path: Path) -> list[str]:
    """Sheet names of an Excel workbook ([] for a CSV)."""
    if path.suffix.lower() not in EXCEL_SUFFIXES:
        return []
    return list(_open_workbook(path).sheet_names)


def read_table(path: Path, columns: list[Column], *, sheet: str | None = None, encoding: str | None = None) -> Table:
    """Read a sheet (Excel) or a CSV and match its header against ``columns``.

    The header is the first of the top rows holding at least two known headers (title rows
    above it are skipped). Merged header cells are refused: they hide which column is which.
    """
    if not path.is_file():
        raise InvalidInput(f"{path}: 文件不存在 (no such file)")
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        raw, sheet = _read_excel(path, sheet)
    elif suffix == ".csv":
        enc = encoding or detect_text_encoding(path)[0]
        try:
            raw = pd.read_csv(path, header=None, dtype=object, encoding=enc, keep_default_na=False)
        except Exception as exc:
            raise InvalidInput(f"{path.name}: CSV无法读取 ({type(exc).__name__})") from exc
        sheet = None
    else:
        raise InvalidInput(f"{path.name}: 不支持的表格类型 {suffix} (supported: .xlsx .xls .ods .csv)")
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
    """A sheet's cells (python-calamine: fast, and it reports merged ranges) and its name."""
    workbook = _open_workbook(path)
    names = list(workbook.sheet_names)
    if sheet is None:
        sheet = names[0]
    elif sheet not in names:
        raise InvalidInput(f"{path.name}: 工作表 {sheet!r} 不存在 (sheets: {', '.join(names)})")
    worksheet = workbook.get_sheet_by_name(sheet)
    rows = worksheet.to_python(skip_empty_area=False)
    frame = pd.DataFrame(rows, dtype=object)
    merged = [
        f"{_cell_name(r0, c0)}:{_cell_name(r1, c1)}"
        for (r0, c0), (r1, c1) in (worksheet.merged_cell_ranges or [])
        if r0 < HEADER_SCAN_ROWS
    ]
    if merged:
        frame.attrs["merged"] = merged
    return frame, sheet


def _cell_name(row: int, col: int) -> str:
    """Excel's name of a 0-based cell (0, 0) → A1."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def _find_header(raw: pd.DataFrame, columns: list[Column], label: str) -> int:
    """The first of the top rows that holds at least two known headers (title rows above it are skipped)."""
    for index in range(min(HEADER_SCAN_ROWS, len(raw))):
        cells = [str(v) for v in raw.iloc[index].tolist() if not _blank(v)]
        if sum(1 for c in columns if any(_match(cell, c) for cell in cells)) >= 2:
            break
    else:
        raise InvalidInput(f"{label}: 前{HEADER_SCAN_ROWS}行中找不到表头 (no header row with known column names)")
    header_row = index + 1
    touching = [m for m in raw.attrs.get("merged", []) if _range_rows(m)[0] <= header_row <= _range_rows(m)[1]]
    if touching:
        raise InvalidInput(
            f"{label}: 表头含合并单元格 {', '.join(touching[:3])}; 请拆分为单行表头 (merged header cells)"
        )
    return index


def _range_rows(cell_range: str) -> tuple[int, int]:
    numbers = [int(n) for n in re.findall(r"\d+", cell_range)]
    return (numbers[0], numbers[-1]) if numbers else (0, 0)


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not value.strip()
