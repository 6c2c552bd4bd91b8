"""The FastAPI application factory.

``create_app(settings)`` builds the app; the engine and registries are created once in the
lifespan and closed at shutdown. Run with ``landgis serve`` (uvicorn, factory mode).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from api import errors, openapi
from api.deps import require_user
from api.limits import BodyLimit
from api.requestid import RequestId
from api.routers import (
    audit,
    auth,
    candidates,
    colours,
    dossier,
    enterprises,
    evaluations,
    exports,
    health,
    idle,
    land_codes,
    loads,
    ogc,
    parcels,
    plans,
    projects,
    renewal,
    reports,
    standard,
    tiles,
    totals,
    users,
)
from api.tilecache import TileCacheFront
from landgis import __version__
from landgis.db.engine import make_engine
from landgis.settings import Settings, get_settings, project_root

log = logging.getLogger("landgis.api")

STATIC_DIR = Path(__file__).resolve().parent / "static"

#: npm packages whose files the service serves under /vendor/<package>/ (installed by `npm ci`).
VENDOR_PACKAGES = ("swagger-ui-dist", "maplibre-gl", "chart.js", "leaflet")


def vendor_dir() -> Path:
    return project_root() / "node_modules"


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the service. ``engine`` may be passed in (tests share one); otherwise it is created."""
    cfg = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        app.state.engine = engine or make_engine(cfg)
        try:
            yield
        finally:
            if own_engine:
                app.state.engine.dispose()

    app = FastAPI(
        title="landgis",
        version=__version__,
        description=(
            "低效工业用地有机更新 GIS 服务: parcels (宗地), enterprises, 亩均效益评价, candidates, "
            "contiguous blocks, zone totals, map tiles and OGC APIs."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # Closed by default: every route needs a signed-in user except api.deps.PUBLIC_PATHS.
        dependencies=[Depends(require_user)],
    )
    app.state.settings = cfg
    if engine is not None:
        app.state.engine = engine
    errors.install(app)

    app.add_middleware(BodyLimit, default_max=cfg.max_body_bytes, larger={"/loads/": cfg.upload_max_bytes})
    app.add_middleware(TileCacheFront)
    app.add_middleware(RequestId)  # added last: outermost, so every answer carries its id
    app.include_router(tiles.tile_router)  # first: the most frequent request
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(users.router)
    app.include_router(parcels.router)
    app.include_router(enterprises.router)
    app.include_router(ogc.router)
    app.include_router(audit.router)
    app.include_router(renewal.router)
    app.include_router(colours.router)
    app.include_router(land_codes.router)
    app.include_router(idle.router)
    app.include_router(standard.router)
    app.include_router(projects.router)
    app.include_router(reports.router)
    app.include_router(evaluations.router)
    app.include_router(candidates.router)
    app.include_router(plans.router)
    app.include_router(totals.router)
    app.include_router(tiles.router)
    app.include_router(dossier.router)
    app.include_router(exports.router)
    app.include_router(loads.router)
    openapi.install(app)
    _mount_assets(app)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="landgis API",
            swagger_js_url="/vendor/swagger-ui-dist/swagger-ui-bundle.js",
            swagger_css_url="/vendor/swagger-ui-dist/swagger-ui.css",
            swagger_favicon_url="/vendor/swagger-ui-dist/favicon-32x32.png",
        )

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/map")

    return app


def _mount_assets(app: FastAPI) -> None:
    """Serve our static files and the allow-listed npm packages; nothing comes from a CDN."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    for package in VENDOR_PACKAGES:
        directory = vendor_dir() / package
        if directory.is_dir():
            app.mount(f"/vendor/{package}", StaticFiles(directory=directory), name=f"vendor-{package}")
        else:
            log.warning("browser assets of %s are missing: run `npm ci` in %s", package, project_root())
