"""Every accepted format end to end: the same two parcels as zipped shapefile, GeoPackage,
GeoJSON, FileGDB and CSV with WKT load to the same rows, areas and dates."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from sqlalchemy import Connection, text

from landgis.errors import InvalidInput
from landgis.geo import transformer
from landgis.loading.parcels import ParcelLoadOptions, load_parcels
from tests.helpers import GK_EAST, GK_NORTH
from tests.loading.conftest import parcel_row, write_shapefile


def _frame(epsg: int = 4490) -> gpd.GeoDataFrame:
    """Two parcels: 100 m x 100 m (15 亩) and 200 m x 100 m (30 亩), with a date and agreed FAR."""
    squares = [
        shapely.box(GK_EAST, GK_NORTH, GK_EAST + 100, GK_NORTH + 100),
        shapely.box(GK_EAST + 100, GK_NORTH, GK_EAST + 300, GK_NORTH + 100),
    ]
    geoms = [shapely.transform(g, transformer(4549, epsg).transform, interleaved=False) for g in squares]
    return gpd.GeoDataFrame(
        {
            "宗地代码": ["330699001001GB00001", "330699001001GB00002"],
            "权利人": ["示范县第1机械有限公司", "示范县第2机械有限公司"],
            "宗地面积": [10000.0, 20000.0],
            "约定容积率": ["1.2-2.0", "大于或等于1.8并且小于或等于2.5"],
            "约定开工时间": [dt.date(2019, 5, 1), dt.date(2020, 3, 15)],
        },
        geometry=geoms,
        crs=epsg,
    )


def _stored(db: Connection) -> list[tuple]:
    return db.execute(
        text("SELECT zddm, right_holder, area_mu, far_min, far_max, agreed_start_date FROM parcel ORDER BY zddm")
    ).all()


EXPECTED = [
    ("330699001001GB00001", "示范县第1机械有限公司", pytest.approx(15.0, rel=1e-6), 1.2, 2.0, dt.date(2019, 5, 1)),
    ("330699001001GB00002", "示范县第2机械有限公司", pytest.approx(30.0, rel=1e-6), 1.8, 2.5, dt.date(2020, 3, 15)),
]


def _write(kind: str, folder: Path) -> Path:
    frame = _frame()
    if kind == "gpkg":
        path = folder / "宗地.gpkg"
        frame.to_file(path, driver="GPKG", layer="宗地", engine="pyogrio")
    elif kind == "geojson":
        path = folder / "宗地.geojson"
        frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    elif kind == "filegdb":
        path = folder / "宗地.gdb"
        frame.to_file(path, driver="OpenFileGDB", layer="ZD", engine="pyogrio")
    elif kind == "csv":
        path = folder / "宗地.csv"
        table = pd.DataFrame(frame.drop(columns="geometry"))
        table["WKT"] = frame.geometry.to_wkt(rounding_precision=-1)
        table.to_csv(path, index=False, encoding="utf-8")
    elif kind == "zip":
        shp = write_shapefile(
            folder / "parts",
            [
                parcel_row(1, 0, 0, 约定容积="1.2-2.0", 约定开工=dt.date(2019, 5, 1)),
                parcel_row(
                    2, 100, 0, 200, 100, 约定容积="大于或等于1.8并且小于或等于2.5", 约定开工=dt.date(2020, 3, 15)
                ),
            ],
        )
        path = folder / "宗地.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in shp.parent.iterdir():
                zf.write(part, f"地籍/{part.name}")
    else:
        raise AssertionError(kind)
    return path


@pytest.mark.parametrize("kind", ["zip", "gpkg", "geojson", "filegdb", "csv"])
def test_each_format_loads_the_same_parcels(county: Connection, tmp_path: Path, kind: str) -> None:
    path = _write(kind, tmp_path)
    report = load_parcels(county, path)
    assert report.counts["inserted"] == 2, report.issues
    assert _stored(county) == EXPECTED
    assert report.mapping["name"] == "cadastral"
    # and a second load of the same file changes nothing
    again = load_parcels(county, path)
    assert (again.status, again.counts["unchanged"]) == ("unchanged", 2)


def test_driver_is_reported(county: Connection, tmp_path: Path) -> None:
    report = load_parcels(county, _write("filegdb", tmp_path))
    assert report.source["driver"] == "OpenFileGDB"
    assert report.source["layer"] is None or report.source["layer"] == "ZD"
    report = load_parcels(county, _write("gpkg", tmp_path), ParcelLoadOptions(dry_run=True))
    assert report.source["driver"] == "GPKG"


def test_csv_in_gbk_with_projected_wkt_needs_the_crs(county: Connection, tmp_path: Path) -> None:
    frame = _frame(epsg=4549)
    table = pd.DataFrame(frame.drop(columns="geometry"))
    table["geometry"] = frame.geometry.to_wkt(rounding_precision=-1)
    path = tmp_path / "宗地.csv"
    table.to_csv(path, index=False, encoding="gbk")
    # a CSV declares no CRS: metres without a zone number need --crs or --region
    with pytest.raises(InvalidInput, match="中央经线"):
        load_parcels(county, path)
    report = load_parcels(county, path, ParcelLoadOptions(region="330699", dry_run=True))
    assert report.source["crs"] == "EPSG:4549"
    report = load_parcels(county, path, ParcelLoadOptions(crs="EPSG:4549"))
    assert report.source["encoding"] == "GBK"
    assert _stored(county) == EXPECTED


def test_a_zipped_filegdb_loads(county: Connection, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    gdb = _write("filegdb", tmp_path / "src")
    archive = tmp_path / "宗地库.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in gdb.iterdir():
            zf.write(part, f"宗地.gdb/{part.name}")
    report = load_parcels(county, archive)
    assert report.file == "宗地库.zip/宗地.gdb"
    assert report.source["driver"] == "OpenFileGDB"
    assert _stored(county) == EXPECTED


def test_the_first_batch_is_small_and_no_row_is_lost_between_batches(tmp_path: Path) -> None:
    from landgis.loading import reader, source

    rows = [parcel_row(n, 100 * (n % 50), 100 * (n // 50)) for n in range(1, 251)]
    info = source.inspect(write_shapefile(tmp_path, rows), encoding=None, crs=None, hint_lon=None, layer=None)
    batches = list(reader.batches(info, 100, first_size=30))
    assert [(b.first, len(b)) for b in batches] == [(1, 30), (31, 100), (131, 100), (231, 20)]
    codes = [code for b in batches for code in b.table.column("宗地代码").to_pylist()]
    assert codes == [r["宗地代码"] for r in rows]  # every row once, in file order
    assert all(len(b.geoms) == len(b) for b in batches)
