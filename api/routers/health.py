"""``/health``: is the service up, and which database and PostGIS does it talk to."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import ConnDep, EngineDep
from landgis import __version__
from landgis.db import migrate
from landgis.db.engine import server_versions

router = APIRouter(tags=["service"])


class Health(BaseModel):
    status: str
    version: str
    postgresql: str
    postgis: str
    schema_current: bool


@router.get("/health", response_model=Health, summary="Service health with database and PostGIS versions")
def health(conn: ConnDep, engine: EngineDep) -> Health:
    versions = server_versions(conn)
    return Health(
        status="ok",
        version=__version__,
        postgresql=versions["postgresql"],
        postgis=versions["postgis"],
        schema_current=migrate.is_current(engine),
    )
