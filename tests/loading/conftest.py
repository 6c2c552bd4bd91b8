"""Fixtures for loader tests: a county with regions, and writers of small source files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import Connection, text

from tests.helpers import GK_EAST, GK_NORTH, ewkb, gk_rect


@pytest.fixture
def county(db: Connection) -> Connection:
    """Regions 330000 > 330600 > 330699 with a boundary of 20 km x 20 km around the GK origin."""
    db.execute(text("INSERT INTO region (code, name, level) VALUES ('330000', '浙江省', 1), ('330600', '绍兴市', 2)"))
    db.execute(
        text(
            "INSERT INTO region (code, name, level, parent_code, boundary)"
            " VALUES ('330699', '示范县', 3, '330600', ST_GeomFromEWKB(decode(:g, 'hex')))"
        ),
        {"g": ewkb(gk_rect(-10_000, -10_000, 20_000, 20_000))},
    )
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
