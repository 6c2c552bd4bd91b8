"""Fixtures for the map tests: the demo county's rasters (made once per session), settings and a
test client on the demo county, and helpers to find tiles independently of the code under test."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text

from landgis.settings import Settings, project_root
from tests.conftest import api_client

#: A layer whose view no module provides: it stays unavailable, as parcels_class did before the
#: evaluation module created v_parcel_class.
WAITING_LAYER = "parcels_waiting"
WAITING_VIEW = "v_parcel_waiting"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The slippy-map tile holding a point (the OSM wiki formula)."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


@pytest.fixture(scope="session")
def raster_home(tmp_path_factory: pytest.TempPathFactory, demo_engine: Engine) -> Path:
    """A LANDGIS_HOME holding the demo county's synthetic COGs."""
    from landgis.maps.raster import demo_bounds, write_demo_cogs

    home = tmp_path_factory.mktemp("maps-home")
    with demo_engine.connect() as conn:
        write_demo_cogs(home / "rasters", demo_bounds(conn))
    return home


@pytest.fixture
def maps_settings(demo_engine: Engine, raster_home: Path) -> Settings:
    url = demo_engine.url.render_as_string(hide_password=False)
    return Settings(database_url=url, home=raster_home)


@pytest.fixture
def maps_client(maps_settings: Settings, demo_engine: Engine, demo_db: Connection) -> Iterator[TestClient]:
    """The service on the demo county (requests in the test's rolled-back transaction)."""
    yield from api_client(maps_settings, demo_engine, demo_db)


@pytest.fixture
def busy_tile(demo_db: Connection) -> tuple[float, float]:
    """A point inside the densest part of the demo county (the centroid of the median parcel)."""
    row = demo_db.execute(
        text("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Collect(geom)) c FROM parcel) q")
    ).one()
    return float(row[0]), float(row[1])


@pytest.fixture
def waiting_layers(tmp_path: Path) -> Path:
    """The shipped layers plus ``parcels_waiting``: parcels_class's definition reading a view that
    does not exist (``v_parcel_waiting``), so the layer is listed but unavailable."""
    folder = tmp_path / "layers"
    shutil.copytree(project_root() / "layers", folder)
    layer = yaml.safe_load((folder / "parcels_class.yaml").read_text(encoding="utf-8"))
    layer["id"] = WAITING_LAYER
    layer["requires"] = [WAITING_VIEW]
    layer["source"]["lookup"]["relation"] = WAITING_VIEW
    for item in layer["style"]:
        item["id"] = item["id"].replace("parcels_class", WAITING_LAYER)
    body = yaml.safe_dump(layer, allow_unicode=True, sort_keys=False)
    (folder / f"{WAITING_LAYER}.yaml").write_text(body, encoding="utf-8")
    return folder


@pytest.fixture
def waiting_client(
    maps_settings: Settings, waiting_layers: Path, demo_engine: Engine, demo_db: Connection
) -> Iterator[TestClient]:
    """Like ``maps_client`` (its own user), with ``parcels_waiting`` among the layers."""
    cfg = maps_settings.model_copy(update={"layers_dir": waiting_layers})
    yield from api_client(cfg, demo_engine, demo_db, username="test-maps-waiting")
