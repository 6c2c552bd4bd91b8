"""Fixtures for loader tests: a county with regions, and writers of small source files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL

from landgis.db import cluster, migrate
from tests.helpers import GK_EAST, GK_NORTH, ewkb, gk_rect


@pytest.fixture
def county(db: Connection) -> Connection:
    """Regions 330000 > 330600 > 330699 with a boundary of 20 km x 20 km around the GK origin."""
    insert_county(db)
    return db


def write_shapefile(
    folder: Path,
    rows: list[dict[str, Any]],
    *,
    name: str = "zd",
    encoding: str = "GBK",
    epsg: int = 4528,
    cpg: bool = False,
    prj: bool = True,
) -> Path:
    """A parcel shapefile from rows with 'x', 'y', 'w', 'h' (metres from the GK origin) and attributes."""
    folder.mkdir(parents=True, exist_ok=True)
    geoms = []
    for row in rows:
        geom = row.pop("geometry", None)
        if geom is None:
            x, y, w, h = (row.pop(k) for k in ("x", "y", "w", "h"))
            geom = shapely.box(GK_EAST + x, GK_NORTH + y, GK_EAST + x + w, GK_NORTH + y + h)
            if epsg == 4528:
                geom = shapely.transform(geom, lambda c: c + np.array([40_000_000, 0]))
        geoms.append(geom)
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=epsg)
    path = folder / f"{name}.shp"
    frame.to_file(path, encoding=encoding, engine="pyogrio")
    if not cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    if not prj:
        path.with_suffix(".prj").unlink()
    return path


def parcel_row(n: int, x: float, y: float, w: float = 100, h: float = 100, **extra: Any) -> dict[str, Any]:
    return {
        "宗地代码": f"330699001001GB{n:05d}",
        "权利人": f"示范县第{n}机械有限公司",
        "坐落": f"兴业路{n}号",
        "宗地面积": w * h,
        "x": x,
        "y": y,
        "w": w,
        "h": h,
        **extra,
    }


COUNTY_BOUNDARY = (-10_000, -10_000, 20_000, 20_000)  # metres from the GK origin: x, y, width, height


def insert_county(conn: Connection) -> None:
    """Regions 330000 > 330600 > 330699, the county with its boundary (see ``county``)."""
    conn.execute(text("INSERT INTO region (code, name, level) VALUES ('330000', '浙江省', 1), ('330600', '绍兴市', 2)"))
    conn.execute(
        text(
            "INSERT INTO region (code, name, level, parent_code, boundary)"
            " VALUES ('330699', '示范县', 3, '330600', ST_GeomFromEWKB(decode(:g, 'hex')))"
        ),
        {"g": ewkb(gk_rect(*COUNTY_BOUNDARY))},
    )


@pytest.fixture(scope="module")
def scratch_county(admin_url: URL, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A database of its own for tests whose loads commit (CLI, HTTP uploads, killed processes):
    migrated, with the county's regions committed. ``empty_parcels`` resets it between tests."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"landgis_test_{request.module.__name__.rsplit('.', 1)[-1]}_{worker}"[:63]
    cluster.drop_database(admin_url, name)
    cluster.ensure_database(admin_url, name)
    engine = create_engine(admin_url.set(database=name), pool_size=4, max_overflow=4)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        insert_county(conn)
    yield engine
    engine.dispose()
    cluster.drop_database(admin_url, name)


def empty_parcels(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE parcel, occupancy, enterprise_year, enterprise, change_log, load_job CASCADE"))
        conn.execute(text("DELETE FROM load_batch"))


def snapshot(conn: Connection) -> dict[str, object]:
    """What the live tables hold, to compare before and after a refused load."""
    return {
        "parcels": conn.execute(
            text(
                "SELECT id, zddm, zddm_raw, right_holder, far_min, ST_AsBinary(geom), updated_at FROM parcel ORDER BY id"
            )
        ).all(),
        "enterprises": conn.execute(text("SELECT id, uscc, name, updated_at FROM enterprise ORDER BY id")).all(),
        "occupancy": conn.execute(
            text("SELECT id, enterprise_id, parcel_id, land_area_mu FROM occupancy ORDER BY id")
        ).all(),
        "figures": conn.execute(text("SELECT id, enterprise_id, year, tax_wan FROM enterprise_year ORDER BY id")).all(),
        "changes": conn.execute(text("SELECT count(*) FROM change_log")).scalar_one(),
    }
