"""The demo county end to end: generated, loaded through the CLI into a scratch database, loaded
again without change, and its numbers checked against the generator's own files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from pyproj import Geod
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from landgis.cli import app
from landgis.db import cluster, migrate

PARCELS = 300


@pytest.fixture(scope="module")
def scratch_demo(admin_url: URL) -> Iterator[Engine]:
    name = "landgis_test_demo"
    cluster.drop_database(admin_url, name)
    cluster.ensure_database(admin_url, name)
    engine = create_engine(admin_url.set(database=name))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    cluster.drop_database(admin_url, name)


@pytest.fixture(scope="module")
def loaded(scratch_demo: Engine, tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Path, list[str]]:
    home = tmp_path_factory.mktemp("home")
    env = {
        "LANDGIS_DATABASE_URL": scratch_demo.url.render_as_string(hide_password=False),
        "LANDGIS_HOME": str(home),
        "COLUMNS": "200",
    }
    runner = CliRunner()
    outputs = []
    for _ in range(2):
        result = runner.invoke(app, ["demo", "load", "--parcels", str(PARCELS)], env=env)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    return scratch_demo, next((home / "demo").iterdir()), outputs


def test_counts_match_the_generated_files(loaded: tuple[Engine, Path, list[str]]) -> None:
    engine, folder, _ = loaded
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    with engine.connect() as conn:
        parcels = conn.execute(text("SELECT count(*) FROM parcel")).scalar_one()
        firms = conn.execute(text("SELECT count(*) FROM enterprise")).scalar_one()
        years = conn.execute(text("SELECT DISTINCT year FROM enterprise_year ORDER BY 1")).scalars().all()
        zoned = conn.execute(text("SELECT count(*) FROM parcel WHERE zone_id IS NOT NULL")).scalar_one()
    assert parcels == manifest["parcels"] == PARCELS
    assert firms == manifest["enterprises"]
    assert years == manifest["years"]
    assert zoned > 0


def test_second_load_changed_nothing(loaded: tuple[Engine, Path, list[str]]) -> None:
    engine, _, outputs = loaded
    assert "新增" in outputs[0]
    assert "新增" not in outputs[1]
    assert outputs[1].count("无变化") >= 9
    with engine.connect() as conn:
        statuses = conn.execute(text("SELECT status, count(*) FROM load_batch GROUP BY 1")).all()
    assert dict(statuses) == {"committed": 9, "unchanged": 9}


def test_chinese_text_and_areas_round_trip(loaded: tuple[Engine, Path, list[str]]) -> None:
    engine, folder, _ = loaded
    source = gpd.read_file(folder / "ZD_330699.shp", encoding="gbk").set_index("宗地代码")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT zddm, right_holder, location, area_mu, ST_AsBinary(geom) FROM parcel")).all()
    geod = Geod(ellps="GRS80")
    import shapely

    for zddm, holder, location, area_mu, wkb in rows[:50]:
        assert holder == source.loc[zddm, "权利人"]
        assert location == source.loc[zddm, "坐落"]
        geodesic = abs(geod.geometry_area_perimeter(shapely.from_wkb(bytes(wkb)))[0])
        assert area_mu == pytest.approx(geodesic / 666.67, rel=1e-3)


def test_session_demo_county_fixture(demo_db: object, demo_client: object) -> None:
    from sqlalchemy import text as sql

    assert demo_db.execute(sql("SELECT count(*) FROM parcel")).scalar_one() == 400
    assert demo_client.get("/health").json()["status"] == "ok"
