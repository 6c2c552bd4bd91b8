"""Fixtures for the map tests: the demo county's rasters (made once per session), settings and a
test client on the demo county, and helpers to find tiles independently of the code under test."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text

from landgis.settings import Settings, project_root
from tests import land
from tests.conftest import ClientFactory, api_client

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


#: The drawn layout of tests/candidates/test_blocks.py (100 m squares, 15 亩 each), with B in the
#: county's second township so that the block A+B+C spans two regions.
#:     D (0,130)
#:     A (0,0)  B (100,0)  C (219.5,0)          E (2000,0) F (2100,0)
PLAN_LAYOUT = {
    "A": (0.0, 0.0, land.TOWNS[0], 1.0),
    "B": (100.0, 0.0, land.TOWNS[1], 2.0),
    "C": (219.5, 0.0, land.TOWNS[0], 0.5),
    "D": (0.0, 130.0, land.TOWNS[0], 1.0),
    "E": (2000.0, 0.0, land.TOWNS[0], 1.0),
    "F": (2100.0, 0.0, land.TOWNS[0], 1.0),
}
#: A county next to 330699 that holds none of the plans' land.
OTHER_COUNTY = "330698"


@dataclass(frozen=True)
class PlanLand:
    """Two plans saved by a planner of county 330699 over ``PLAN_LAYOUT``:

    - ``blocks``: every industrial parcel, blocks at 20 m kept from 40 亩, only their parcels:
      A, B, C (block 1, 45 亩; A and B touch, C is 19.5 m from B);
    - ``low_far``: FAR below 1.5, no blocks asked for: A, C, D, E, F.
    """

    ids: dict[str, int]
    zddm: dict[str, str]
    blocks: int
    low_far: int
    #: a CRS84 box around all six parcels
    bbox: tuple[float, float, float, float]

    def members(self, plan_id: int) -> set[int]:
        names = "ABC" if plan_id == self.blocks else "ACDEF"
        return {self.ids[n] for n in names}


def _save_plan(planner: TestClient, name: str, request: dict[str, Any]) -> int:
    saved = planner.post("/plans", json={"name": name, "request": request})
    assert saved.status_code == 201, saved.text
    return int(saved.json()["id"])


@pytest.fixture
def plan_land(db: Connection, client_for: ClientFactory) -> PlanLand:
    land.county(db)
    db.execute(
        text("INSERT INTO region (code, name, level, parent_code) VALUES (:c, '邻县', 3, '330600')"),
        {"c": OTHER_COUNTY},
    )
    ids = {
        name: land.parcel(db, n, x, y, region=region, far=far)
        for n, (name, (x, y, region, far)) in enumerate(PLAN_LAYOUT.items(), start=1)
    }
    zddm = dict(db.execute(text("SELECT id, zddm FROM parcel WHERE id = ANY(:ids)"), {"ids": list(ids.values())}).all())
    box = db.execute(
        text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM parcel) q")
    ).one()
    planner = client_for("planner", [land.COUNTY], username="plan-layers-planner")
    area = {"region_code": land.COUNTY}
    blocks = _save_plan(
        planner,
        "连片更新方案",
        {
            "rules": {"rule": "industrial_land"},
            "area": area,
            "year": 2023,
            "blocks": {"distance_m": 20, "min_block_mu": 40, "only_in_blocks": True},
        },
    )
    low_far = _save_plan(
        planner, "低容积率方案", {"rules": {"rule": "far_below", "value": 1.5}, "area": area, "year": 2023}
    )
    return PlanLand(
        ids=ids,
        zddm={name: str(zddm[i]) for name, i in ids.items()},
        blocks=blocks,
        low_far=low_far,
        bbox=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
    )
