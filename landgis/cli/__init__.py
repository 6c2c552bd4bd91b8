"""The ``landgis`` command line.

Each command group lives in a module of its own and is registered here; ``landgis --help``
lists every command with one line of description.
"""

from __future__ import annotations

import typer

from landgis.cli import candidates, db, demo, evaluate, lifecycle, load, maps, serve, users

app = typer.Typer(
    name="landgis",
    help="landgis: industrial-land renewal on PostGIS (亩均论英雄, 腾笼换鸟, 低效工业用地有机更新).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
app.add_typer(db.app, name="db", help="Manage the database: local cluster up/down, migrations, status.")
app.add_typer(load.app, name="load", help="Load county data: parcels, enterprises, occupancy, figures, zones.")
app.add_typer(demo.app, name="demo", help="Generate and load the synthetic demo county (示范县).")
app.add_typer(users.app, name="users", help="Accounts: create the first administrator, roles, regions, tokens.")
app.add_typer(
    lifecycle.app, name="lifecycle", help="Renewal workflow, 一码管地 colours, idle land, 标准地, matching, reports."
)
app.add_typer(
    evaluate.app,
    name="evaluate",
    help="亩均效益综合评价: run a policy on a year (--policy P --year Y), explain, compare, export.",
)
app.add_typer(
    candidates.app,
    name="candidates",
    help="Inefficient-land candidates by preset or rules, blocks, plans and zone totals.",
)
app.add_typer(maps.app, name="maps", help="Map layers: check the definitions, make the demo rasters.")
app.command("serve", help="Serve the web map and API (default http://127.0.0.1:8000).")(serve.serve)


@app.command("version", help="Print the landgis version and exit.")
def version() -> None:
    from landgis import __version__

    typer.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    app()
