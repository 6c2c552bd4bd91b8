"""The FastAPI application factory.

``create_app(settings)`` builds the app; the engine and registries are created once in the
lifespan and closed at shutdown. Run with ``landgis serve`` (uvicorn, factory mode).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from api import errors
from api.routers import health, loads
from landgis import __version__
from landgis.db.engine import make_engine
from landgis.settings import Settings, get_settings, project_root

log = logging.getLogger("landgis.api")

STATIC_DIR = Path(__file__).resolve().parent / "static"

#: npm packages whose files the service serves under /vendor/<package>/ (installed by `npm ci`).
VENDOR_PACKAGES = ("swagger-ui-dist", "maplibre-gl")


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
    )
    app.state.settings = cfg
    if engine is not None:
        app.state.engine = engine
    errors.install(app)

    @app.middleware("http")
    async def request_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = rid[:64]
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    app.include_router(health.router)
    app.include_router(loads.router)
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
        return RedirectResponse("/docs")

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
