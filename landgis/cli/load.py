"""``landgis load``: county data into the database, all-or-nothing, with a report.

Exit codes (also in docs/cli.md): 0 loaded or nothing to change; 1 unexpected failure; 2 wrong
usage; 3 the file or rows were refused (nothing written); 6 the database is unavailable; 7
loaded with rows rejected (``--accept-partial``). With ``--json`` the summary (or the refusal)
is printed on stdout, and carries the same ``exit_code``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from landgis.cli.common import console, engine, reported_errors
from landgis.errors import ExitCode, LandgisError, exit_code_for
from landgis.loading.batch import LoadFailed, LoadOptions, committed
from landgis.loading.report import LoadReport

app = typer.Typer(no_args_is_help=True)

ReportOpt = typer.Option(None, "--report", help="Write the report as CSV and HTML into this directory.")
JsonOpt = typer.Option(False, "--json", help="Quiet; print a JSON summary on stdout.")
DryOpt = typer.Option(False, "--dry-run", help="Validate and report only; the live tables stay untouched.")
PartialOpt = typer.Option(False, "--accept-partial", help="Load the valid rows and report the rejected ones.")
UserOpt = typer.Option(None, "--user", help="Who loads (recorded in the batch and change history).")


@contextmanager
def _progress(quiet: bool, label: str) -> Iterator[Callable[[int, int | None], None]]:
    if quiet:
        yield lambda done, total: None
        return
    columns = (
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(label, total=None, rate="")

        def update(done: int, total: int | None) -> None:
            elapsed = bar.tasks[task].elapsed or 0.0
            rate = f"{done / elapsed:,.0f} 行/s" if elapsed > 0 else ""
            bar.update(task, completed=done, total=total, rate=rate)

        yield update


def _finish(report: LoadReport, as_json: bool, report_dir: Path | None, partial: bool, refused: bool = False) -> None:
    written: list[str] = []
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{report.kind}-{report.batch_id or 'dry'}" if not report.dry_run else f"{report.kind}-dry-run"
        written = [
            str(report.write_csv(report_dir / f"{stem}.csv")),
            str(report.write_html(report_dir / f"{stem}.html")),
        ]
    if refused:
        code = ExitCode.INVALID_INPUT
    elif partial and report.counts.get("rejected"):
        code = ExitCode.PARTIAL
    else:
        code = ExitCode.OK
    if as_json:
        summary = report.summary()
        summary.update(exit_code=int(code), report_files=written)
        typer.echo(json.dumps(summary, ensure_ascii=False, default=str))
    else:
        source = report.source
        if source.get("encoding"):
            console.print(f"编码 encoding: {source['encoding']} ({source.get('encoding_reason', '')})")
        if source.get("crs"):
            console.print(f"坐标系 CRS: {source['crs']} ({source.get('crs_reason', '')})")
        for issue in report.issues[:20]:
            console.print(f"  [{issue.severity}] 第{issue.row}行 {issue.field}: {issue.message}", markup=False)
        if len(report.issues) > 20:
            console.print(f"  ... 另有 {len(report.issues) - 20} 条, 见 --report")
        console.print(f"[bold]{report.message}[/] {json.dumps(report.counts, ensure_ascii=False)}")
        for name in written:
            console.print(f"报告 report: {name}")
    if code == ExitCode.PARTIAL:
        raise typer.Exit(int(code))


def _run(
    action: Callable[[Callable[[int, int | None], None]], LoadReport],
    label: str,
    as_json: bool,
    report_dir: Path | None,
    partial: bool,
    *,
    kind: str,
    file: str,
) -> None:
    with reported_errors():
        try:
            with _progress(as_json, label) as progress:
                report = action(progress)
        except LoadFailed as exc:
            _finish(exc.report, as_json, report_dir, partial, refused=True)
            raise
        except LandgisError as exc:
            if as_json:  # scripts get JSON even when the file is refused before any row
                failed: dict[str, object] = {"kind": kind, "file": file, "status": "failed", "message": exc.message}
                failed["exit_code"] = int(exit_code_for(exc))
                typer.echo(json.dumps(failed, ensure_ascii=False))
            raise
        _finish(report, as_json, report_dir, partial)


@app.command("parcels", help="Load 宗地 from a Shapefile (or .zip), GeoPackage, GeoJSON, FileGDB or CSV with WKT.")
def parcels(
    path: Path = typer.Argument(..., help="The file, a folder holding one, or a .zip."),
    mapping: str = typer.Option(None, help="Preset name (cadastral, ...) or a YAML mapping file."),
    encoding: str = typer.Option(None, help="Text encoding of the .dbf/.csv (default: detected)."),
    crs: str = typer.Option(None, help="CRS when the file has no .prj, e.g. EPSG:4549."),
    region: str = typer.Option(None, help="行政区划代码 the parcels belong to (helps CRS detection)."),
    layer: str = typer.Option(None, help="Layer of a GeoPackage or FileGDB."),
    overlap: float = typer.Option(0.05, help="Reject overlaps with existing parcels above this share."),
    dry_run: bool = DryOpt,
    accept_partial: bool = PartialOpt,
    as_json: bool = JsonOpt,
    report_dir: Path = ReportOpt,
    user: str = UserOpt,
) -> None:
    from landgis.loading.parcels import ParcelLoadOptions, load_parcels

    options = ParcelLoadOptions(
        dry_run=dry_run,
        accept_partial=accept_partial,
        user=user,
        mapping=mapping,
        encoding=encoding,
        crs=crs,
        region=region,
        layer=layer,
        overlap_threshold=overlap,
    )
    _run(
        lambda p: committed(engine(), lambda c: load_parcels(c, path, options, p)),
        "宗地",
        as_json,
        report_dir,
        accept_partial,
        kind="parcels",
        file=path.name,
    )


def _table_command(kind: str, label: str, help_text: str) -> None:
    def command(
        path: Path = typer.Argument(..., help="Excel (.xlsx) or CSV file."),
        sheet: str = typer.Option(None, help="Sheet name (default: found by name)."),
        year: int = typer.Option(None, help="Year of the figures (figures only)."),
        source: str = typer.Option(None, help="Source label stored with each figure (e.g. 税务局)."),
        encoding: str = typer.Option(None, help="CSV encoding (default: detected)."),
        dry_run: bool = DryOpt,
        accept_partial: bool = PartialOpt,
        as_json: bool = JsonOpt,
        report_dir: Path = ReportOpt,
        user: str = UserOpt,
    ) -> None:
        from landgis.loading import enterprises as loaders

        options = loaders.TableLoadOptions(
            dry_run=dry_run,
            accept_partial=accept_partial,
            user=user,
            sheet=sheet,
            year=year,
            encoding=encoding,
            source_label=source,
        )
        loader = {
            "enterprises": loaders.load_enterprises,
            "occupancy": loaders.load_occupancy,
            "figures": loaders.load_figures,
        }[kind]
        if kind == "figures" and year is None:
            console.print("[red]--year is required for figures[/]")
            raise typer.Exit(int(ExitCode.USAGE))
        _run(
            lambda p: committed(engine(), lambda c: loader(c, path, options, p)),
            label,
            as_json,
            report_dir,
            accept_partial,
            kind=kind,
            file=path.name,
        )

    app.command(kind, help=help_text)(command)


_table_command("enterprises", "企业", "Load the enterprise register (统一社会信用代码, 企业名称, 规模, 行业 ...).")
_table_command("occupancy", "用地关系", "Load which enterprise uses which parcel (自有/租赁, 面积 in 亩).")
_table_command("figures", "指标", "Load one year's figures (税收, 工业增加值, 能耗, 排放, R&D, 用电 ...) with --year.")


def _area_command(kind: str, help_text: str) -> None:
    def command(
        path: Path = typer.Argument(..., help="GeoJSON/GeoPackage (regions, zones) or Excel/CSV (targets)."),
        as_json: bool = JsonOpt,
        user: str = UserOpt,
    ) -> None:
        from landgis.loading import areas

        loader = {"regions": areas.load_regions, "zones": areas.load_zones, "targets": areas.load_targets}[kind]
        _run(
            lambda p: committed(engine(), lambda c: loader(c, path, LoadOptions(user=user))),
            kind,
            as_json,
            None,
            False,
            kind=kind,
            file=path.name,
        )

    app.command(kind, help=help_text)(command)


_area_command("regions", "Load 行政区划 (代码, 名称, 级别, 上级代码, boundary).")
_area_command("zones", "Load 开发区/工业园区/小微企业园/整治片区 boundaries.")
_area_command("targets", "Load zone targets (治理面积, 腾出面积, 容积率提升, 亩均税收增长 ...).")
