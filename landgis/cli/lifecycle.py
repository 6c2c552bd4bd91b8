"""``landgis lifecycle``: the renewal workflow, 一码管地 colours, idle land and 五未, 标准地 checks,
matching land to projects, and progress reports, from the command line.

A parcel is named by its id or its land code (地块码, the 宗地代码 when valid).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from sqlalchemy import Connection

from landgis.cli.common import console, engine, info, reported_errors, settings
from landgis.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)
workflow_app = typer.Typer(no_args_is_help=True)
colours_app = typer.Typer(no_args_is_help=True)
app.add_typer(workflow_app, name="workflow", help="Show or check the renewal workflow configuration.")
app.add_typer(colours_app, name="colours", help="一码管地 colours: rules, refresh (daily, from cron), summary.")

T = TypeVar("T")
JsonOpt = typer.Option(False, "--json", help="Print JSON on stdout.")
AsOfOpt = typer.Option(None, "--as-of", help="Date to evaluate (default today), YYYY-MM-DD.")
ZoneOpt = typer.Option(None, "--zone", help="Zone id.")
RegionOpt = typer.Option(None, "--region", help="行政区划代码 prefix.")
UserOpt = typer.Option(None, "--user", help="Who acts (recorded with the step); default: os:<login>.")


@contextmanager
def _transaction() -> Iterator[Connection]:
    from landgis.db.engine import set_audit_context

    eng = engine()
    try:
        with eng.begin() as conn:
            set_audit_context(conn, actor=_user(None))
            yield conn
    finally:
        eng.dispose()


def _run(action: Callable[[Connection], T]) -> T:
    with reported_errors(), _transaction() as conn:
        return action(conn)


def _user(given: str | None) -> str:
    import getpass

    return given or f"os:{getpass.getuser()}"


def _date(value: str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"日期格式应为 YYYY-MM-DD (date): {value}") from None


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, default=str, indent=2))


def _workflow() -> Any:
    from landgis.lifecycle.workflow import read_workflow

    return read_workflow(settings().workflow_file)


def _parcel_id(conn: Connection, key: str) -> int:
    from landgis.lifecycle.landcode import parcel_by_code

    if key.isdigit() and len(key) < 12:
        return int(key)
    return int(parcel_by_code(conn, key)["id"])


# --------------------------------------------------------------------------- workflow


@workflow_app.command("show", help="Print the workflow in force (states, modes, transitions).")
def workflow_show(as_json: bool = JsonOpt) -> None:
    with reported_errors():
        wf = _workflow()
    if as_json:
        _echo_json(wf.as_dict())
        return
    info(f"工作流 {wf.source}, 初始状态 {wf.state_label(wf.initial)}")
    for t in wf.transitions:
        extra = []
        if t.mode != "none":
            extra.append(f"方式({t.mode}): {'、'.join(wf.mode_label(m) or m for m in t.modes)}")
        if t.counts_governed or t.counts_freed:
            extra.append(
                "计入" + "、".join(n for n, on in (("治理", t.counts_governed), ("腾出", t.counts_freed)) if on)
            )
        if t.documents_required:
            extra.append("需文件依据")
        console.print(f"  {wf.state_label(t.source)} → {wf.state_label(t.target)}  {t.label}  {'; '.join(extra)}")


@workflow_app.command("check", help="Validate a workflow YAML file (exit 3 with the field named when wrong).")
def workflow_check(path: Path = typer.Argument(..., help="The workflow YAML file.")) -> None:
    from landgis.lifecycle.workflow import read_workflow

    with reported_errors():
        wf = read_workflow(path)
    info(f"{path.name}: {len(wf.states)} 个状态, {len(wf.transitions)} 个转换, 有效 (valid)")


# --------------------------------------------------------------------------- steps


@app.command("transition", help="Take a parcel one step (e.g. identified, planned, in_progress, freed).")
def transition(
    parcel: str = typer.Argument(..., help="Parcel id or land code."),
    to: str = typer.Argument(..., help="Target state code."),
    date: str = typer.Option(None, "--date", help="Date of the step (default today)."),
    mode: str = typer.Option(None, "--mode", help="Renewal mode code (acquisition, merger, far_uplift ...)."),
    area: float = typer.Option(None, "--area", help="Area concerned, 亩 (partial steps)."),
    doc: list[str] = typer.Option([], "--doc", help="Document reference (repeat for several)."),
    note: str = typer.Option(None, "--note"),
    far: float = typer.Option(None, "--far", help="New 容积率 (steps that record it)."),
    user: str = UserOpt,
    as_json: bool = JsonOpt,
) -> None:
    from landgis.lifecycle.events import TransitionRequest, apply_transition

    wf = _workflow()
    request = TransitionRequest(
        to_status=to,
        event_date=_date(date),
        user=_user(user),
        renewal_mode=mode,
        area_mu=area,
        documents=list(doc),
        note=note,
        far_after=far,
    )
    event = _run(lambda c: apply_transition(c, wf, _parcel_id(c, parcel), request))
    if as_json:
        _echo_json(event)
    else:
        info(
            f"地块 {parcel}: {event['from_label']} → {event['to_label']} ({event['event_date']}, {event['area_mu']:.2f} 亩)"
        )


@app.command("history", help="A parcel's renewal steps and the steps it may take next.")
def history(parcel: str = typer.Argument(..., help="Parcel id or land code."), as_json: bool = JsonOpt) -> None:
    from landgis.lifecycle.events import history as parcel_history

    wf = _workflow()
    data = _run(lambda c: parcel_history(c, wf, _parcel_id(c, parcel)))
    if as_json:
        _echo_json(data)
        return
    p = data["parcel"]
    info(f"{p['land_code']}  {p['renewal_status_label']}  {p['area_mu']:.2f} 亩")
    for e in data["events"]:
        flag = " [已撤销]" if e["revoked"] else ""
        console.print(
            f"  {e['event_date']}  {e['from_label']} → {e['to_label']}  {e['renewal_mode_label'] or ''}"
            f"  {e['area_mu']:.2f} 亩  {e['recorded_by']}{flag}"
        )
    console.print("  可转为: " + ("、".join(a["to_label"] for a in data["allowed"]) or "无"))


@app.command("undo", help="Undo a parcel's latest step (kept in the history, marked revoked).")
def undo(
    parcel: str = typer.Argument(..., help="Parcel id or land code."),
    reason: str = typer.Option(..., "--reason", help="Why the step is undone."),
    user: str = UserOpt,
) -> None:
    from landgis.lifecycle.events import revoke_latest

    wf = _workflow()
    event = _run(lambda c: revoke_latest(c, wf, _parcel_id(c, parcel), user=_user(user), reason=reason))
    info(f"已撤销: {event['from_label']} → {event['to_label']} ({event['event_date']})")


# --------------------------------------------------------------------------- colours


@colours_app.command("refresh", help="Recompute every parcel's colour (run daily: date windows move).")
def colours_refresh(as_of: str = AsOfOpt) -> None:
    from landgis.lifecycle import colours

    changed = _run(lambda c: colours.refresh(c, as_of=_date(as_of)))
    info(f"颜色已更新, {changed} 宗地块颜色或原因有变化")


@colours_app.command("apply", help="Replace the colour rules with a YAML file and recompute the colours.")
def colours_apply(
    path: Path = typer.Argument(..., help="Rules YAML (see landgis/lifecycle/colour_rules.yaml)."),
) -> None:
    from landgis.lifecycle import colours

    with reported_errors():
        rules = colours.read_rules(path)
    changed = _run(lambda c: colours.apply_rules(c, rules))
    info(f"已启用 {len(rules)} 条规则, {changed} 宗地块颜色或原因有变化")


@colours_app.command("rules", help="List the colour rules in force.")
def colours_rules(as_json: bool = JsonOpt) -> None:
    from landgis.lifecycle import colours

    rules = _run(colours.list_rules)
    if as_json:
        _echo_json(rules)
        return
    for r in rules:
        state = "" if r["enabled"] else " (停用)"
        console.print(
            f"  {r['colour']:6} {r['code']:24} {r['label']}{state}  {json.dumps(r['params'], ensure_ascii=False)}"
        )


@colours_app.command("summary", help="Parcels and 亩 per colour, and matches per rule.")
def colours_summary(zone: int = ZoneOpt, region: str = RegionOpt, as_json: bool = JsonOpt) -> None:
    from landgis.lifecycle import colours

    data = _run(lambda c: colours.summary(c, zone_id=zone, region=region))
    if as_json:
        _echo_json(data)
        return
    for c in data["colours"]:
        console.print(f"  {c['label']}: {c['parcels']} 宗, {c['area_mu']:.2f} 亩")
    for r in data["rules"]:
        console.print(f"    {r['label']}: {r['parcels']} 宗")


# --------------------------------------------------------------------------- idle land, 五未, deadlines


@app.command("idle", help="Idle land on a date (国土资源部令第53号): fee, 无偿收回 candidates.")
def idle_cmd(as_of: str = AsOfOpt, zone: int = ZoneOpt, region: str = RegionOpt, as_json: bool = JsonOpt) -> None:
    from landgis.lifecycle import idle

    rows = _run(lambda c: idle.idle_land(c, as_of=_date(as_of), zone_id=zone, region=region))
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        fee = f"闲置费 {r['idle_fee_wan']:.2f} 万元" if r["idle_fee_wan"] is not None else r["stage_label"]
        console.print(
            f"  {r['land_code']}  {r['kind_label']} 自 {r['idle_from']} 起闲置 {r['days_idle']} 天  {r['stage_label']}  {fee}"
        )
    info(f"共 {len(rows)} 宗, {sum(r['area_mu'] for r in rows):.2f} 亩")


@app.command("wuwei", help="五未 land: 批而未供, 供而未用, 用而未尽, 建而未投, 投而未达.")
def wuwei_cmd(as_of: str = AsOfOpt, zone: int = ZoneOpt, region: str = RegionOpt, as_json: bool = JsonOpt) -> None:
    from landgis.lifecycle import idle

    data = _run(lambda c: idle.wuwei(c, as_of=_date(as_of), zone_id=zone, region=region))
    if as_json:
        _echo_json(data)
        return
    for c in data["categories"]:
        console.print(
            f"  {c['label']}: {c['count']} {'批' if c['category'] == 'approved_not_supplied' else '宗'}, {c['area_mu']:.2f} 亩"
        )


@app.command("deadlines", help="What falls due in the next 30/90/180 days.")
def deadlines_cmd(
    within: int = typer.Option(90, "--within", help="Days ahead (30, 90, 180 ...)."),
    as_of: str = AsOfOpt,
    zone: int = ZoneOpt,
    region: str = RegionOpt,
    as_json: bool = JsonOpt,
) -> None:
    from landgis.lifecycle import idle

    data = _run(lambda c: idle.deadlines(c, as_of=_date(as_of), within=within, zone_id=zone, region=region))
    if as_json:
        _echo_json(data)
        return
    for i in data["items"]:
        console.print(f"  {i['due_date']} (还有{i['days_left']}天)  {i['land_code']}  {i['kind_label']}: {i['title']}")
    info(f"30天内 {data['counts']['30']} 项, 90天内 {data['counts']['90']} 项, 180天内 {data['counts']['180']} 项")


# --------------------------------------------------------------------------- 标准地, matching, reports


@app.command("standard-check", help="达产复核 check of a 标准地 agreement: shortfall per indicator.")
def standard_check(
    agreement: int = typer.Argument(..., help="Agreement id."),
    year: int = typer.Option(None, "--year", help="Figures year (default: the year before the due date)."),
    as_json: bool = JsonOpt,
) -> None:
    from landgis.lifecycle import standard

    data = _run(lambda c: standard.check(c, agreement, year=year))
    if as_json:
        _echo_json(data)
        return
    info(f"{data['agreement']['land_code']} {data['figures_year']}年数据, 结论: {data['outcome']}")
    for r in data["results"]:
        gap = f"差 {r['shortfall']}" if r["status"] == "shortfall" else r["status"]
        console.print(f"  {r['label']}: 承诺 {r['comparator']} {r['committed']}, 实际 {r['actual']}  {gap}")


@app.command("match", help="Rank freed, vacant and idle land for a project's request.")
def match_cmd(
    area_min: float = typer.Option(..., "--min", help="Area lower bound, 亩."),
    area_max: float = typer.Option(..., "--max", help="Area upper bound, 亩."),
    industry: str = typer.Option(None, "--industry", help="GB/T 4754 code, e.g. C3311."),
    far: float = typer.Option(None, "--far", help="FAR the project needs."),
    intensity: float = typer.Option(None, "--intensity", help="Investment 万元/亩."),
    zone: list[int] = typer.Option([], "--zone", help="Preferred zone id (repeat)."),
    scattered: bool = typer.Option(False, "--scattered", help="Nearby parcels need not touch."),
    region: str = RegionOpt,
    limit: int = typer.Option(10, "--limit"),
    as_json: bool = JsonOpt,
) -> None:
    from landgis.lifecycle.matching import ProjectRequest, match

    request = ProjectRequest(
        area_min_mu=area_min,
        area_max_mu=area_max,
        industry_code=industry,
        far_min=far,
        investment_intensity=intensity,
        preferred_zone_ids=list(zone),
        contiguous=not scattered,
        region=region,
        limit=limit,
    )
    data = _run(lambda c: match(c, request))
    if as_json:
        _echo_json(data)
        return
    for c in data["candidates"]:
        console.print(f"  {c['rank']:>2}. {c['score']:5.1f}  {'+'.join(c['land_codes'])}  {c['area_mu']:.2f} 亩")
        for reason in c["reasons"]:
            console.print(f"        {reason}")


@app.command("report", help="Progress report of a zone or region for a year, as HTML or Excel (by --out suffix).")
def report_cmd(
    year: int = typer.Option(..., "--year"),
    out: Path = typer.Option(..., "--out", help="Output file: .html or .xlsx."),
    zone: int = ZoneOpt,
    region: str = RegionOpt,
) -> None:
    from landgis.lifecycle import report

    if out.suffix not in (".html", ".xlsx"):
        console.print("[red]--out 应以 .html 或 .xlsx 结尾[/]")
        raise typer.Exit(2)
    wf = _workflow()
    data = _run(
        lambda c: report.progress(c, wf, year=year, zone_id=zone, region=region, with_map=out.suffix == ".html")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".html":
        out.write_text(report.html(data), encoding="utf-8")
    else:
        out.write_bytes(report.workbook(data))
    info(f"{data['title']} → {out}")


@app.command("qr-sheet", help="Printable QR sheet (HTML) of a zone's land codes.")
def qr_sheet(
    zone: int = typer.Argument(..., help="Zone id."),
    out: Path = typer.Option(..., "--out", help="Output .html file."),
    base_url: str = typer.Option(
        None, "--base-url", help="Service URL the codes point to (default LANDGIS_PUBLIC_BASE_URL)."
    ),
    colour: str = typer.Option(None, "--colour", help="Only red, yellow or green parcels."),
) -> None:
    from landgis.lifecycle import landcode

    cfg = settings()
    url = base_url or cfg.public_base_url
    if not url:
        console.print("[red]需指定 --base-url 或 LANDGIS_PUBLIC_BASE_URL (the URL users reach the service at)[/]")
        raise typer.Exit(2)
    html = _run(
        lambda c: landcode.qr_sheet_html(
            c, zone_id=zone, base_url=url, template=cfg.dossier_url_template, colour=colour
        )
    )
    out.write_text(html, encoding="utf-8")
    info(f"地块码打印页 → {out}")
