"""``landgis serve``: run the web service with uvicorn."""

from __future__ import annotations

import typer

from landgis.cli.common import reported_errors, settings


def serve(
    host: str = typer.Option(None, help="Address to bind (default LANDGIS_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default LANDGIS_PORT or 8000)."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    reload: bool = typer.Option(False, help="Reload on code changes (development)."),
) -> None:
    import uvicorn

    cfg = settings()
    with reported_errors():
        from landgis.db.engine import database_url

        database_url(cfg)  # fail early with a clear message when there is no database
        uvicorn.run(
            "api.main:create_app",
            factory=True,
            host=host or cfg.host,
            port=port or cfg.port,
            workers=workers,
            reload=reload,
            log_level="info",
        )
