"""The load report: every rejected, repaired or flagged row with file, row number, field and reason.

Written as CSV (for a spreadsheet) and as a readable HTML page, and summarised as JSON for
scripts (``--json``).
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Severity = Literal["error", "warning", "repaired"]

SEVERITY_LABEL = {"error": "错误(拒绝)", "warning": "警告", "repaired": "已修复"}
COUNT_LABEL = {"read": "读取", "inserted": "新增", "updated": "更新", "unchanged": "不变", "rejected": "拒绝"}
STATUS_LABEL = {
    "committed": "已写入",
    "unchanged": "无变化",
    "failed": "已拒绝, 未写入",
    "dry_run": "试运行, 未写入",
    "running": "进行中",
}


def _cell(value: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (values come from untrusted files)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding about one row (``row`` is the 1-based data row; 0 for the whole file)."""

    file: str
    row: int
    field: str
    severity: Severity
    code: str
    message: str
    value: str | None = None


@dataclass
class LoadReport:
    """What a load did or would do."""

    kind: str
    file: str
    checksum: str | None = None
    batch_id: int | None = None
    status: str = "running"
    dry_run: bool = False
    source: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(
        default_factory=lambda: {"read": 0, "inserted": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    )
    issues: list[Issue] = field(default_factory=list)
    message: str = ""
    elapsed_s: float = 0.0

    def add(self, issue: Issue) -> None:
        self.issues.append(issue)

    def flag(self, row: int, field: str, severity: Severity, code: str, message: str, value: object = None) -> None:
        """Record an issue about ``row`` of this report's file."""
        text = None if value is None else str(value)[:80]
        self.issues.append(Issue(self.file, int(row), field, severity, code, message, text))

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def rejected_rows(self) -> set[int]:
        return {i.row for i in self.issues if i.severity == "error"}

    def to_dict(self) -> dict[str, Any]:
        """Everything, every issue included (what a background job stores)."""
        return self.summary(max_issues=None)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadReport:
        """The report ``to_dict`` wrote."""
        report = cls(kind=str(data["kind"]), file=str(data["file"]))
        report.checksum = data.get("checksum")
        report.batch_id = data.get("batch_id")
        report.status = str(data.get("status", ""))
        report.dry_run = bool(data.get("dry_run", False))
        report.source = dict(data.get("source") or {})
        report.mapping = dict(data.get("mapping") or {})
        report.counts = {str(k): int(v) for k, v in (data.get("counts") or {}).items()}
        report.issues = [Issue(**issue) for issue in data.get("issues") or []]
        report.message = str(data.get("message", ""))
        report.elapsed_s = float(data.get("elapsed_s", 0.0))
        return report

    def summary(self, *, max_issues: int | None = 50) -> dict[str, Any]:
        by_code: dict[str, int] = {}
        for issue in self.issues:
            by_code[f"{issue.severity}:{issue.code}"] = by_code.get(f"{issue.severity}:{issue.code}", 0) + 1
        return {
            "kind": self.kind,
            "file": self.file,
            "status": self.status,
            "dry_run": self.dry_run,
            "batch_id": self.batch_id,
            "checksum": self.checksum,
            "counts": self.counts,
            "issue_counts": by_code,
            "issues": [asdict(i) for i in self.issues[:max_issues]],
            "issues_truncated": max(0, len(self.issues) - max_issues) if max_issues is not None else 0,
            "source": self.source,
            "mapping": self.mapping,
            "message": self.message,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def write_csv(self, path: Path) -> Path:
        """The issues as CSV (UTF-8 with BOM, so Excel shows the Chinese)."""
        path.write_text(self.csv_text(), encoding="utf-8-sig", newline="")
        return path

    def csv_text(self) -> str:
        """The issues as CSV text: file, row, field, severity, code, reason, raw value."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["文件", "行号", "字段", "级别", "代码", "说明", "原始值"])
        for i in self.issues:
            writer.writerow(
                [
                    _cell(i.file),
                    i.row,
                    _cell(i.field),
                    SEVERITY_LABEL[i.severity],
                    i.code,
                    _cell(i.message),
                    _cell(i.value or ""),
                ]
            )
        return buffer.getvalue()

    def write_html(self, path: Path) -> Path:
        """A readable page: the summary, then one table row per issue."""
        path.write_text(self.html_text(), encoding="utf-8")
        return path

    def html_text(self) -> str:
        """The report as a page: the summary, then one table row per issue."""
        counts = "".join(
            f"<tr><th>{html.escape(COUNT_LABEL.get(k, k))}</th><td>{v}</td></tr>" for k, v in self.counts.items()
        )
        mapping = html.escape(json.dumps(self.mapping, ensure_ascii=False, indent=2))
        rows = "".join(
            "<tr class='{sev}'><td>{file}</td><td>{row}</td><td>{field}</td><td>{label}</td>"
            "<td>{code}</td><td>{msg}</td><td>{value}</td></tr>".format(
                sev=i.severity,
                file=html.escape(i.file),
                row=i.row,
                field=html.escape(i.field),
                label=SEVERITY_LABEL[i.severity],
                code=html.escape(i.code),
                msg=html.escape(i.message),
                value=html.escape(i.value or ""),
            )
            for i in self.issues
        )
        source = html.escape(json.dumps(self.source, ensure_ascii=False, indent=2))
        page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>数据加载报告 {html.escape(self.file)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; }}
tr.error td {{ background: #fde2e2; }} tr.warning td {{ background: #fff4d6; }}
tr.repaired td {{ background: #e4f4e4; }}
</style></head><body>
<h1>数据加载报告</h1>
<p>文件 {html.escape(self.file)} · 类型 {html.escape(self.kind)} ·
状态 {html.escape(STATUS_LABEL.get(self.status, self.status))}
{" · 试运行 (dry run, 未写入)" if self.dry_run else ""}</p>
<p>{html.escape(self.message)}</p>
<h2>统计</h2><table>{counts}</table>
<h2>数据源 (编码, 坐标系)</h2><pre>{source}</pre>
<h2>字段映射</h2><pre>{mapping}</pre>
<h2>问题清单 ({len(self.issues)})</h2>
<table><tr><th>文件</th><th>行号</th><th>字段</th><th>级别</th><th>代码</th><th>说明</th><th>原始值</th></tr>
{rows}</table></body></html>
"""
        return page
