"""``landgis db``: the database the service uses."""

from __future__ import annotations

import json

import typer

from landgis.cli.common import engine, info, reported_errors, settings

app = typer.Typer(no_args_is_help=True)


@app.command("up", help="Start the database: the local PostGIS cluster (installed if missing), or check the URL.")
def up(migrate: bool = typer.Option(True, help="Also upgrade the schema to the newest revision.")) -> None:
    from landgis.db import cluster
    from landgis.db import migrate as migrations

    cfg = settings()
    with reported_errors():
        if cfg.database_url:
            info("LANDGIS_DATABASE_URL is set: using that database, no local cluster.")
            from sqlalchemy import text

            with engine(cfg).begin() as conn:
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        else:
            cluster.up(cfg, info)
        if migrate:
            migrations.upgrade(engine(cfg))
            info("Schema is at the newest revision.")


@app.command("down", help="Stop the local cluster (its data is kept).")
def down() -> None:
    from landgis.db import cluster

    cfg = settings()
    with reported_errors():
        if cfg.database_url:
            info("LANDGIS_DATABASE_URL is set: nothing local to stop.")
            return
        cluster.down(cfg, info)


@app.command("migrate", help="Upgrade the schema to the newest revision (or to --revision).")
def migrate(revision: str = typer.Option("heads", help="Target revision.")) -> None:
    from landgis.db import migrate as migrations

    with reported_errors():
        migrations.upgrade(engine(), revision)
        info(f"Schema upgraded to {revision}.")


@app.command("downgrade", help="Downgrade the schema to a revision ('base' drops every landgis table).")
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base.")) -> None:
    from landgis.db import migrate as migrations

    with reported_errors():
        migrations.downgrade(engine(), revision)
        info(f"Schema downgraded to {revision}.")


@app.command("status", help="Show where the database is, whether it runs and its schema revision.")
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    from landgis.db import cluster
    from landgis.db import migrate as migrations
    from landgis.db.engine import server_versions

    cfg = settings()
    with reported_errors():
        report: dict[str, object] = {"external_url": bool(cfg.database_url)}
        if not cfg.database_url:
            report["cluster"] = cluster.status(cfg)
        try:
            eng = engine(cfg)
            with eng.connect() as conn:
                report["versions"] = server_versions(conn)
            report["revisions"] = sorted(migrations.current_revisions(eng))
            report["schema_current"] = migrations.is_current(eng)
        except Exception as exc:  # noqa: BLE001 - status reports any failure to connect
            report["error"] = type(exc).__name__
        typer.echo(json.dumps(report, ensure_ascii=False, indent=None if as_json else 2, default=str))


@app.command("url", help="Print the libpq URL of the database (for psql, ogr2ogr, tipg).")
def url() -> None:
    from landgis.db.cluster import libpq_url
    from landgis.db.engine import database_url

    with reported_errors():
        typer.echo(libpq_url(database_url(settings())))
