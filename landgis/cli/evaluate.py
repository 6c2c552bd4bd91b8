"""``landgis evaluate``: 亩均效益综合评价 runs from the command line.

``landgis evaluate --policy huangyan-2022 --year 2022`` runs (or, on unchanged inputs, returns)
an evaluation; the sub-commands list policies, check a policy file, list, show, explain, compare
and export runs, and load enterprise flags (加减分, 一票否决, 不定等级 facts).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from landgis.cli.common import console, engine, info, reported_errors
from landgis.errors import ExitCode

app = typer.Typer(no_args_is_help=False, invoke_without_command=True)

JsonOpt = typer.Option(False, "--json", help="Print JSON on stdout.")


@app.callback()
def evaluate(
    ctx: typer.Context,
    policy: str = typer.Option(
        None, "--policy", "-p", help="Shipped policy id (see `evaluate policies`) or YAML file."
    ),
    year: int = typer.Option(None, "--year", "-y", help="Year of the figures to evaluate."),
    region: str = typer.Option(None, help="行政区划代码 to evaluate (default: everything)."),
    force: bool = typer.Option(False, help="Run again even when an identical run exists."),
    user: str = typer.Option(None, help="Who runs it (recorded with the run)."),
    as_json: bool = JsonOpt,
) -> None:
    """Run an evaluation: every firm's indicators, scores, rank and class, stored with the policy."""
    if ctx.invoked_subcommand is not None:
        return
    if policy is None or year is None:
        console.print("用法 usage: landgis evaluate --policy P --year Y  (or a sub-command, see --help)")
        raise typer.Exit(int(ExitCode.USAGE))
    from landgis.evaluation.policy import load_policy
    from landgis.evaluation.runs import run_evaluation
    from landgis.loading.batch import LoadOptions

    actor = LoadOptions(user=user).actor
    with reported_errors():
        loaded = load_policy(policy)
        with engine().begin() as conn:
            run = run_evaluation(conn, loaded, year, region_code=region, actor=actor, force=force)
    if as_json:
        typer.echo(json.dumps(run.as_dict(), ensure_ascii=False, default=str))
        return
    if run.reused:
        info(f"输入数据未变, 沿用评价批次 {run.id} (unchanged inputs; use --force to run again)")
    _print_summary(run.as_dict())


def _print_summary(run: dict[str, object]) -> None:
    summary = run["summary"]
    assert isinstance(summary, dict)
    info(
        f"评价批次 {run['id']}: {run['policy_name']} v{run['policy_version']}, {run['year']} 年度, "
        f"{run['enterprise_count']} 家企业 ({run['elapsed_ms']} ms)"
    )
    table = Table("分组 segment", "企业", "A", "B", "C", "D", "不定等级", "一票否决")
    for seg, data in summary.get("segments", {}).items():
        classes, status = data["classes"], data["status"]
        table.add_row(
            seg,
            str(data["count"]),
            *(str(classes.get(c, 0)) for c in ("A", "B", "C", "D")),
            str(status.get("exempt", 0)),
            str(status.get("vetoed", 0)),
        )
    console.print(table)
    skipped = summary.get("skipped", {})
    if any(skipped.values()):
        info(
            f"未评价 skipped: 无当年指标 {skipped.get('no_figures', 0)}, 不属于任何分组 {skipped.get('no_segment', 0)}"
        )


@app.command("policies", help="List the evaluation policies shipped with landgis.")
def policies(as_json: bool = JsonOpt) -> None:
    from landgis.evaluation.policy import load_policy, shipped_policy_ids

    items = [load_policy(p) for p in shipped_policy_ids()]
    if as_json:
        typer.echo(json.dumps([{"id": p.id, "name": p.name, "version": p.version} for p in items], ensure_ascii=False))
        return
    for p in items:
        info(f"{p.id}  {p.name} (v{p.version}, {len(p.segments)} 组, {p.classes.method})")


@app.command("check", help="Validate a policy file; exit 3 naming the wrong field.")
def check(path: Path = typer.Argument(..., help="Policy YAML file.")) -> None:
    from landgis.evaluation.policy import load_policy

    with reported_errors():
        policy = load_policy(path)
    info(f"{path.name}: 有效 (valid) — {policy.name} v{policy.version}, sha256 {policy.sha256[:12]}")


@app.command("runs", help="List evaluation runs, newest first.")
def runs(year: int = typer.Option(None, help="Only this year."), as_json: bool = JsonOpt) -> None:
    from landgis.evaluation.runs import list_runs

    with reported_errors(), engine().connect() as conn:
        items = list_runs(conn, year)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in items], ensure_ascii=False, default=str))
        return
    for r in items:
        info(
            f"{r.id}  {r.year}  {r.policy_id} v{r.policy_version}  {r.enterprise_count} 家  {r.created_at:%Y-%m-%d %H:%M}"
        )


@app.command("show", help="Show a run's summary.")
def show(run_id: int = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    from landgis.evaluation.runs import get_run

    with reported_errors(), engine().connect() as conn:
        run = get_run(conn, run_id).as_dict()
    if as_json:
        typer.echo(json.dumps(run, ensure_ascii=False, default=str))
    else:
        _print_summary(run)


def _enterprise_id(conn: object, key: str) -> int:
    from sqlalchemy import Connection, text

    from landgis.errors import NotFound

    assert isinstance(conn, Connection)
    if key.isdigit() and len(key) < 18:
        return int(key)
    found = conn.execute(text("SELECT id FROM enterprise WHERE uscc = :k OR name = :k"), {"k": key}).scalars().all()
    if len(found) != 1:
        raise NotFound(f"找不到企业 {key} (by id, 统一社会信用代码 or exact name)")
    return int(found[0])


@app.command("explain", help="Explain one enterprise's result line by line (id, USCC or exact name).")
def explain(run_id: int = typer.Argument(...), enterprise: str = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    from landgis.evaluation.results import explain as explain_result

    with reported_errors(), engine().connect() as conn:
        result = explain_result(conn, run_id, _enterprise_id(conn, enterprise))
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, default=str))
    else:
        typer.echo(result.text)


@app.command("compare", help="Compare two runs (e.g. last year and this year): class transitions.")
def compare(run_id: int = typer.Argument(...), other_id: int = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    from landgis.evaluation.results import compare_runs

    with reported_errors(), engine().connect() as conn:
        result = compare_runs(conn, run_id, other_id)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, default=str))
        return
    classes = sorted({*result["matrix"], *(b for row in result["matrix"].values() for b in row)})
    table = Table(f"{result['from']['year']} \\ {result['to']['year']}", *classes)
    for a in classes:
        table.add_row(a, *(str(result["matrix"].get(a, {}).get(b, 0)) for b in classes))
    console.print(table)
    info(f"两次都评价 {result['both']} 家, 类别变化 {result['changed']} 家")


@app.command("export", help="Export a run: xlsx (Chinese headers), gpkg, shp (GBK, zipped) or geojson of parcels.")
def export(
    run_id: int = typer.Argument(...),
    out: Path = typer.Option(..., "--out", "-o", help="Output file."),
    fmt: str = typer.Option(None, "--format", "-f", help="xlsx, gpkg, shp, geojson (default: from the suffix)."),
) -> None:
    from landgis.export import export_evaluation, format_from

    with reported_errors(), engine().connect() as conn:
        written = export_evaluation(conn, run_id, format_from(fmt, out), out)
    info(f"已导出 {written}")


@app.command(
    "flags",
    help="Load enterprise flags (加减分, 一票否决, 不定等级) from Excel/CSV: 统一社会信用代码, 年度, 标记, 说明.",
)
def flags(
    path: Path = typer.Argument(..., help="Excel or CSV file."),
    user: str = typer.Option(None, help="Who loads them."),
) -> None:
    from landgis.evaluation.flags import load_flags
    from landgis.loading.batch import LoadOptions

    with reported_errors(), engine().begin() as conn:
        count = load_flags(conn, path, actor=LoadOptions(user=user).actor)
    info(f"已写入 {count} 条企业标记")
