"""``landgis candidates``: inefficient-land candidates from a preset or a rule file, contiguous
blocks, saved plans and their comparison, and exports; ``landgis candidates totals`` prints the
zone totals against targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.cells import cell_len
from rich.table import Column, Table

from landgis.cli.common import console, engine, info, reported_errors
from landgis.errors import ExitCode

app = typer.Typer(no_args_is_help=True)

PresetOpt = typer.Option(None, "--preset", "-p", help="Preset id (see `candidates presets`).")
RulesOpt = typer.Option(None, "--rules", help="A rule set as a YAML/JSON file instead of a preset.")
ParamOpt = typer.Option(None, "--param", help="Preset parameter NAME=VALUE (repeatable), VALUE as YAML.")
RegionOpt = typer.Option(None, "--region", help="行政区划代码 of the area.")
ZoneOpt = typer.Option(None, "--zone", help="Zone code (e.g. Z01) of the area.")
PolygonOpt = typer.Option(None, "--polygon", help="GeoJSON file with the area's polygon (EPSG:4490).")
YearOpt = typer.Option(..., "--year", "-y", help="Year of the figures.")
DistanceOpt = typer.Option(None, "--distance", help="Group into blocks: parcels within this many metres.")
MinBlockOpt = typer.Option(0.0, "--min-block", help="Keep blocks of at least this many 亩.")


def _request(
    preset: str | None,
    rules: Path | None,
    param: list[str] | None,
    region: str | None,
    zone: str | None,
    polygon: Path | None,
    year: int,
    distance: float | None,
    min_block: float,
    conn: Any,
) -> dict[str, Any]:
    from sqlalchemy import text

    from landgis.errors import InvalidInput, NotFound

    params: dict[str, Any] = {}
    for item in param or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"--param {item}: 应为 NAME=VALUE")
        params[name.strip()] = yaml.safe_load(value)
    area: dict[str, Any] = {}
    if region:
        area["region_code"] = region
    if zone:
        zone_id = conn.execute(text("SELECT id FROM zone WHERE code = :c"), {"c": zone}).scalar()
        if zone_id is None:
            raise NotFound(f"--zone: 园区 {zone} 不存在")
        area["zone_id"] = int(zone_id)
    if polygon:
        data = json.loads(polygon.read_text(encoding="utf-8"))
        if data.get("type") == "FeatureCollection":
            data = data["features"][0]["geometry"]
        elif data.get("type") == "Feature":
            data = data["geometry"]
        area["polygon"] = data
    body: dict[str, Any] = {"area": area, "year": year, "params": params}
    if preset:
        body["preset"] = preset
    if rules:
        body["rules"] = yaml.safe_load(rules.read_text(encoding="utf-8"))
    if distance is not None:
        body["blocks"] = {"distance_m": distance, "min_block_mu": min_block}
    return body


@app.command("presets", help="List the shipped presets with their parameters.")
def list_presets(as_json: bool = typer.Option(False, "--json")) -> None:
    from landgis.candidates.presets import presets

    items = [p.document() for p in presets().values()]
    if as_json:
        typer.echo(json.dumps(items, ensure_ascii=False))
        return
    for p in items:
        info(f"[bold]{p['id']}[/]  {p['name']}: {p['description']}")
        for name, spec in p["params"].items():
            info(f"    {name} = {spec.get('default')!r}  {spec.get('label', '')} {spec.get('unit', '')}")


@app.command("run", help="Select candidates (and blocks); print totals or write an export with --out.")
def run(
    preset: str = PresetOpt,
    rules: Path = RulesOpt,
    param: list[str] = ParamOpt,
    region: str = RegionOpt,
    zone: str = ZoneOpt,
    polygon: Path = PolygonOpt,
    year: int = YearOpt,
    distance: float = DistanceOpt,
    min_block: float = MinBlockOpt,
    out: Path = typer.Option(None, "--out", "-o", help="Write xlsx, gpkg, shp (.zip) or geojson."),
    fmt: str = typer.Option(None, "--format", "-f", help="Export format (default: from --out's suffix)."),
) -> None:
    from landgis.candidates.selection import parse_request, select_candidates
    from landgis.export import export_candidates, format_from

    with reported_errors(), engine().begin() as conn:
        body = _request(preset, rules, param, region, zone, polygon, year, distance, min_block, conn)
        selection = select_candidates(conn, parse_request(body))
        if out is not None:
            export_candidates(conn, format_from(fmt, out), out, selection.totals, selection.blocks)
            info(f"已导出 {out}")
    _print_totals(selection.totals)


def _print_totals(totals: dict[str, Any]) -> None:
    info(
        f"候选宗地 {totals['count']} 宗, {totals['area_mu']:,.2f} 亩, 税收 {totals['tax_wan']:,.2f} 万元, "
        f"工业增加值 {totals['value_added_wan']:,.2f} 万元"
    )
    if "blocks" in totals:
        b = totals["blocks"]
        info(f"连片地块 {b['count']} 块, {b['area_mu']:,.2f} 亩, 含宗地 {b['parcels']} 宗")


@app.command("save", help="Save a selection as a named renewal plan (scenario).")
def save(
    name: str = typer.Argument(..., help="Plan name (unique)."),
    description: str = typer.Option(None, help="Description."),
    preset: str = PresetOpt,
    rules: Path = RulesOpt,
    param: list[str] = ParamOpt,
    region: str = RegionOpt,
    zone: str = ZoneOpt,
    polygon: Path = PolygonOpt,
    year: int = YearOpt,
    distance: float = DistanceOpt,
    min_block: float = MinBlockOpt,
    user: str = typer.Option(None, help="Who saves it (recorded with the plan)."),
) -> None:
    from landgis.candidates.selection import parse_request
    from landgis.loading.batch import LoadOptions
    from landgis.plans import save_plan

    with reported_errors(), engine().begin() as conn:
        body = _request(preset, rules, param, region, zone, polygon, year, distance, min_block, conn)
        plan = save_plan(conn, name, parse_request(body), description=description, actor=LoadOptions(user=user).actor)
    info(f"方案 {plan['id']} '{plan['name']}' 已保存: {plan['parcels']} 宗")
    _print_totals(plan["totals"])


@app.command("plans", help="List saved plans.")
def plans(year: int = typer.Option(None, help="Only this year.")) -> None:
    from landgis.plans import list_plans

    with reported_errors(), engine().connect() as conn:
        items = list_plans(conn, year)
    for p in items:
        t = p["totals"]
        info(f"{p['id']}  {p['name']}  {p['year']}年  {t['count']} 宗  {t['area_mu']:,.1f} 亩")


@app.command("compare", help="Compare saved plans: overlap in parcels and 亩.")
def compare(ids: list[int] = typer.Argument(..., help="Two or more plan ids.")) -> None:
    from landgis.plans import compare_plans

    with reported_errors(), engine().connect() as conn:
        result = compare_plans(conn, ids)
    table = Table("方案 A", "方案 B", "共同 宗/亩", "仅A 宗/亩", "仅B 宗/亩")
    for pair in result["pairs"]:
        table.add_row(
            str(pair["a"]),
            str(pair["b"]),
            *(f"{pair[k]['count']} / {pair[k]['area_mu']:,.1f}" for k in ("both", "only_a", "only_b")),
        )
    console.print(table)


@app.command("export-plan", help="Export a saved plan (xlsx, gpkg, shp .zip, geojson).")
def export_plan_command(
    plan_id: int = typer.Argument(...),
    out: Path = typer.Option(..., "--out", "-o"),
    fmt: str = typer.Option(None, "--format", "-f"),
) -> None:
    from landgis.export import export_plan, format_from

    with reported_errors(), engine().connect() as conn:
        export_plan(conn, plan_id, format_from(fmt, out), out)
    info(f"已导出 {out}")


@app.command("totals", help="Zone totals for a year against targets; --out writes the Excel workbook.")
def totals(
    year: int = YearOpt,
    region: str = RegionOpt,
    out: Path = typer.Option(None, "--out", "-o", help="Write the totals workbook (.xlsx)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    from landgis.export import export_totals
    from landgis.totals import zone_totals

    with reported_errors(), engine().begin() as conn:
        page = zone_totals(conn, year, region_code=region)
        if out is not None:
            if out.suffix.lower() != ".xlsx":
                console.print("[red]--out: totals export as .xlsx[/]")
                raise typer.Exit(int(ExitCode.USAGE))
            export_totals(conn, year, out, region)
    if as_json:
        typer.echo(json.dumps(page, ensure_ascii=False, default=str))
        return
    # Zone names are never shortened (on a narrow terminal the progress column wraps instead).
    name_width = max((cell_len(z["name"]) for z in page["zones"]), default=4)
    table = Table(
        Column("园区", no_wrap=True, min_width=name_width),
        "工业用地(亩)",
        "亩均税收(万元/亩)",
        "规上增长",
        "容积率",
        "目标进度",
    )
    for z in page["zones"]:
        progress = "; ".join(
            f"{t['label']} {t['progress'] * 100:.0f}%" for t in z["targets"] if t["progress"] is not None
        )
        growth = z["mu_tax_above_growth"]
        table.add_row(
            z["name"],
            f"{z['industrial_mu']:,.1f}",
            f"{z['mu_tax'] or 0:,.2f}",
            f"{growth * 100:+.1f}%" if growth is not None else "—",
            f"{z['far'] or 0:.2f}",
            progress,
        )
    console.print(table)
    if out is not None:
        info(f"已导出 {out}")
