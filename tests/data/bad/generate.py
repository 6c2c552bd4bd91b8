#!/usr/bin/env python
"""The corpus of bad inputs: files a county really sends, each broken in one way.

Every case writes its input into a folder of its own and says what the loader must answer:
either a refusal of the whole file (``Refused``: a phrase of the message) or the exact rows,
fields and codes it reports (``Rows``). ``tests/loading/test_bad_inputs.py`` runs every case
and also checks that the live tables did not change. Nothing here is committed as data: the
files are generated at test time (a zip bomb is 50 MB inflated, 50 kB on disk).

Run it to look at the files::

    .venv/bin/python tests/data/bad/generate.py /tmp/bad     # one folder per case
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from openpyxl import Workbook

#: The test county: 330699, a 20 km square around this CGCS2000 GK zone-40 point (EPSG:4549).
GK_EAST, GK_NORTH = 558_000.0, 3_320_000.0
ZONE_PREFIX = 40_000_000.0  # EPSG:4528 writes the zone number in front of the easting
PRJ_4528 = "EPSG:4528"


def _uscc(n: int) -> str:
    """A valid 统一社会信用代码 (GB 32100 and GB 11714 check characters)."""
    from landgis.codes import org_code_check_char, uscc_check_char

    body = f"MA{n:06d}"
    first17 = "91330699" + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


USCC_1 = _uscc(1)


@dataclass(frozen=True)
class Refused:
    """The whole file is refused before any row is loaded; ``phrase`` is in the message."""

    phrase: str


@dataclass(frozen=True)
class Rows:
    """The rows reported: (row, field, code) of every error, and of repairs when ``repaired``."""

    issues: frozenset[tuple[int, str, str]]
    repaired: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    kind: str  # parcels, enterprises, occupancy, figures
    build: Callable[[Path], Path]
    expect: Refused | Rows
    options: dict[str, Any] = field(default_factory=dict)
    scope: list[str] | None = None


def rows(*issues: tuple[int, str, str], repaired: bool = False) -> Rows:
    return Rows(frozenset(issues), repaired)


# --------------------------------------------------------------------------- writers


def square(x: float, y: float = 0.0, side: float = 100.0) -> shapely.Geometry:
    """A square in EPSG:4528, ``x``/``y`` metres from the county's origin."""
    e, n = ZONE_PREFIX + GK_EAST + x, GK_NORTH + y
    return shapely.box(e, n, e + side, n + side)


def parcel(n: int, x: float, **extra: Any) -> dict[str, Any]:
    """A good parcel row (宗地代码 330699001001GB0000n, 10000 m² declared); ``extra`` breaks it."""
    row: dict[str, Any] = {
        "宗地代码": f"330699001001GB{n:05d}",
        "权利人": f"示范县第{n}机械有限公司",
        "坐落": f"兴业路{n}号",
        "宗地面积": 10000.0,
        "geometry": square(x),
    }
    row.update(extra)
    return row


def shapefile(
    folder: Path, records: list[dict[str, Any]], *, name: str = "zd", epsg: int | None = 4528, encoding: str = "GBK"
) -> Path:
    """Write a shapefile (GBK, no .cpg, like ArcGIS-era county files)."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = gpd.GeoDataFrame(
        [{k: v for k, v in r.items() if k != "geometry"} for r in records],
        geometry=[r["geometry"] for r in records],
        crs=epsg,
    )
    path = folder / f"{name}.shp"
    frame.to_file(path, encoding=encoding, engine="pyogrio")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def geojson(folder: Path, features: list[dict[str, Any]], name: str = "zd.geojson") -> Path:
    """Write GeoJSON by hand (EPSG:4490 degrees), so that any geometry can be written."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), "utf-8")
    return path


def feature(n: int, geometry: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"宗地代码": f"330699001001GB{n:05d}", "权利人": f"示范县第{n}机械有限公司"}
    props.update(properties)
    return {"type": "Feature", "properties": props, "geometry": geometry}


def degrees(x: float, side: float = 100.0) -> dict[str, Any]:
    """The square ``square(x)`` as a GeoJSON polygon in EPSG:4490."""
    from landgis.geo import transformer

    polygon = shapely.transform(square(x, side=side), transformer(4528, 4490).transform, interleaved=False)
    return dict(shapely.geometry.mapping(polygon))


def dbf(path: Path, fields: list[tuple[bytes, str, int]], records: list[list[bytes]]) -> None:
    """A dBASE III table written byte by byte: (name, type C/N, width) fields, raw cell bytes."""
    header_length = 32 + 32 * len(fields) + 1
    record_length = 1 + sum(width for _, _, width in fields)
    out = bytearray(struct.pack("<BBBBIHH20x", 3, 125, 1, 1, len(records), header_length, record_length))
    for name, kind, width in fields:
        out += name.ljust(11, b"\0")[:11] + kind.encode() + b"\0" * 4 + bytes([width, 0]) + b"\0" * 14
    out += b"\r"
    for record in records:
        out += b" " + b"".join(v[:w].ljust(w, b" ") for v, (_, _, w) in zip(record, fields, strict=True))
    out += b"\x1a"
    path.write_bytes(bytes(out))


def zipped(folder: Path, entries: dict[str, bytes], name: str = "宗地.zip") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry, data in entries.items():
            zf.writestr(entry, data)
    return path


def shapefile_bytes(folder: Path, records: list[dict[str, Any]]) -> dict[str, bytes]:
    shp = shapefile(folder / "_parts", records)
    return {p.name: p.read_bytes() for p in sorted(shp.parent.iterdir())}


def workbook(
    folder: Path, sheet_rows: list[list[Any]], *, name: str = "企业名录.xlsx", merge: str | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "企业名录"
    for values in sheet_rows:
        sheet.append(values)
    if merge:
        sheet.merge_cells(merge)
    path = folder / name
    book.save(path)
    return path


def text_file(folder: Path, name: str, content: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


# --------------------------------------------------------------------------- shapefile structure


def _missing(part: str) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        shp = shapefile(folder, [parcel(1, 0)])
        shp.with_suffix(part).unlink()
        return shp

    return build


def _truncated_shp(folder: Path) -> Path:
    shp = shapefile(folder, [parcel(1, 0), parcel(2, 100)])
    shp.write_bytes(shp.read_bytes()[:-40])
    return shp


def _truncated_dbf(folder: Path) -> Path:
    shp = shapefile(folder, [parcel(1, 0), parcel(2, 100)])
    dbf_path = shp.with_suffix(".dbf")
    dbf_path.write_bytes(dbf_path.read_bytes()[:-100])
    return shp


def _shx_of_another_file(folder: Path) -> Path:
    shp = shapefile(folder, [parcel(1, 0), parcel(2, 100)])
    other = shapefile(folder / "other", [parcel(1, 0)])
    shp.with_suffix(".shx").write_bytes(other.with_suffix(".shx").read_bytes())
    return shp


def _vrt_as_shp(folder: Path) -> Path:
    vrt = (
        b'<OGRVRTDataSource><OGRVRTLayer name="zd"><SrcDataSource>/etc/passwd</SrcDataSource>'
        b"</OGRVRTLayer></OGRVRTDataSource>"
    )
    shp = text_file(folder, "zd.shp", vrt)
    text_file(folder, "zd.shx", b"\0" * 100)
    text_file(folder, "zd.dbf", b"\x03" + b"\0" * 40)
    return shp


def _not_a_shapefile(folder: Path) -> Path:
    shp = shapefile(folder, [parcel(1, 0)])
    shp.write_bytes(b"hello, I am not a shapefile" * 10)
    return shp


def _no_features(folder: Path) -> Path:
    shp = shapefile(folder, [parcel(1, 0)])
    frame = gpd.read_file(shp, encoding="gbk").iloc[0:0]
    frame.to_file(shp, encoding="GBK", engine="pyogrio")
    return shp


def _prj_missing_gk_without_zone(folder: Path) -> Path:
    records = [parcel(1, 0, geometry=shapely.affinity.translate(square(0), -ZONE_PREFIX, 0))]
    shp = shapefile(folder, records, epsg=4549)
    shp.with_suffix(".prj").unlink()
    return shp


def _prj_missing_web_mercator(folder: Path) -> Path:
    from landgis.geo import transformer

    geometry = shapely.transform(square(0), transformer(4528, 3857).transform, interleaved=False)
    shp = shapefile(folder, [parcel(1, 0, geometry=geometry)], epsg=3857)
    shp.with_suffix(".prj").unlink()
    return shp


def _wrong_prj(folder: Path) -> Path:
    shp = shapefile(folder, [parcel(1, 0)], epsg=4490)  # metres labelled as degrees
    return shp


def _swapped_axes(folder: Path) -> Path:
    from landgis.geo import transformer

    geometry = shapely.transform(square(0), transformer(4528, 4490).transform, interleaved=False)
    swapped = shapely.transform(geometry, lambda xy: xy[:, ::-1])
    return shapefile(folder, [parcel(1, 0, geometry=swapped)], epsg=4490)


# --------------------------------------------------------------------------- encodings


def _mixed_encodings(folder: Path) -> Path:
    """Row 2's 权利人 was typed on a UTF-8 system and pasted into a GBK table."""
    shp = shapefile(folder, [parcel(n, 5_000 + 100 * n) for n in range(1, 4)])
    fields = [(b"ZDDM", "C", 19), (b"QLR", "C", 40)]
    records = [[f"330699001001GB{n:05d}".encode(), f"示范县第{n}机械有限公司".encode("gbk")] for n in range(1, 4)]
    records[1][1] = "示范县第2机械有限公司".encode()
    dbf(shp.with_suffix(".dbf"), fields, records)
    return shp


def _mixed_encodings_undecodable(folder: Path) -> Path:
    shp = _mixed_encodings(folder)
    fields = [(b"ZDDM", "C", 19), (b"QLR", "C", 40)]
    records = [[f"330699001001GB{n:05d}".encode(), f"示范县第{n}机械有限公司".encode("gbk")] for n in range(1, 4)]
    records[1][1] = "兴业路机械厂".encode() + b"\xe5"  # a character cut in half: no code page reads it
    dbf(shp.with_suffix(".dbf"), fields, records)
    return shp


def _cpg_says_utf8_for_gbk(folder: Path) -> Path:
    shp = shapefile(folder, [parcel(1, 0)])
    shp.with_suffix(".cpg").write_text("UTF-8", "ascii")
    return shp


def _cpg_unknown(folder: Path) -> Path:
    shp = shapefile(folder, [parcel(1, 0)])
    shp.with_suffix(".cpg").write_text("KLINGON-1", "ascii")
    return shp


def _utf8_read_as_gbk(folder: Path) -> Path:
    shp = shapefile(folder, [parcel(1, 0), parcel(2, 100)])
    dbf(
        shp.with_suffix(".dbf"),
        [(b"ZDDM", "C", 19), (b"QLR", "C", 40)],
        [[b"330699001001GB00001", "示范县机械厂".encode()], [b"330699001001GB00002", "示范县第2机械有限公司".encode()]],
    )
    shp.with_suffix(".cpg").write_text("GBK", "ascii")
    return shp


def _no_encoding_fits(folder: Path) -> Path:
    shp = shapefile(folder, [parcel(1, 0)])
    dbf(
        shp.with_suffix(".dbf"),
        [(b"ZDDM", "C", 19), (b"QLR", "C", 10)],
        [[b"330699001001GB00001", b"\xff\xfe\xff\xfe"]],
    )
    return shp


def _mojibake_in_utf8_geojson(folder: Path) -> Path:
    return geojson(folder, [feature(1, degrees(0)), feature(2, degrees(100), 权利人="锟斤拷锟斤拷机械有限公司")])


# --------------------------------------------------------------------------- geometries


def _null_geometry(folder: Path) -> Path:
    return geojson(folder, [feature(1, degrees(0)), feature(2, None)])


def _empty_geometry(folder: Path) -> Path:
    return geojson(folder, [feature(1, {"type": "Polygon", "coordinates": []}), feature(2, degrees(100))])


def _points(folder: Path) -> Path:
    return shapefile(folder, [parcel(1, 0, geometry=shapely.Point(ZONE_PREFIX + GK_EAST, GK_NORTH))])


def _lines(folder: Path) -> Path:
    e, n = ZONE_PREFIX + GK_EAST, GK_NORTH
    return shapefile(folder, [parcel(1, 0, geometry=shapely.LineString([(e, n), (e + 100, n + 100)]))])


def _collection(folder: Path) -> Path:
    mixed = {"type": "GeometryCollection", "geometries": [degrees(0), {"type": "Point", "coordinates": [120.6, 30.0]}]}
    return geojson(folder, [feature(1, mixed)])


def _bow_tie(folder: Path) -> Path:
    e, n = ZONE_PREFIX + GK_EAST, GK_NORTH
    tie = shapely.Polygon([(e, n), (e + 100, n + 100), (e + 100, n), (e, n + 100), (e, n)])
    return shapefile(folder, [parcel(1, 0, geometry=tie)])


def _hole_outside_shell(folder: Path) -> Path:
    """A ring meant as a hole drawn outside its shell (rings in the wrong order or direction)."""
    e, n = ZONE_PREFIX + GK_EAST, GK_NORTH
    shell = [(e, n), (e + 100, n), (e + 100, n + 100), (e, n + 100), (e, n)]
    hole = [(e + 200, n), (e + 200, n + 50), (e + 250, n + 50), (e + 250, n), (e + 200, n)]
    return geojson(folder, [feature(1, degrees_of(shapely.Polygon(shell, [hole])))])


def degrees_of(geometry: shapely.Geometry) -> dict[str, Any]:
    from landgis.geo import transformer

    return dict(
        shapely.geometry.mapping(shapely.transform(geometry, transformer(4528, 4490).transform, interleaved=False))
    )


def _inverted_shell(folder: Path) -> Path:
    """The outer ring clockwise and the hole counter-clockwise (shapefile order in GeoJSON)."""
    e, n = ZONE_PREFIX + GK_EAST, GK_NORTH
    shell = [(e, n), (e, n + 100), (e + 100, n + 100), (e + 100, n), (e, n)]  # clockwise
    hole = [(e + 40, n + 40), (e + 60, n + 40), (e + 60, n + 60), (e + 40, n + 60), (e + 40, n + 40)]
    return geojson(folder, [feature(1, degrees_of(shapely.Polygon(shell, [hole])))])


def _collapsed_ring(folder: Path) -> Path:
    flat = {"type": "Polygon", "coordinates": [[[120.61, 30.01], [120.6105, 30.01], [120.611, 30.01], [120.61, 30.01]]]}
    return geojson(folder, [feature(1, degrees(5_000)), feature(2, flat)])  # every vertex on one parallel


def _far_away_vertex(folder: Path) -> Path:
    e, n = ZONE_PREFIX + GK_EAST, GK_NORTH
    spike = shapely.Polygon([(e, n), (e + 100, n), (e + 100, n + 100), (e, n + 5_000_000), (e, n)])
    return shapefile(folder, [parcel(1, 0), parcel(2, 200, geometry=spike)])


def _outside_the_county(folder: Path) -> Path:
    return shapefile(folder, [parcel(1, 0), parcel(2, 60_000)])  # 60 km east: another county


# --------------------------------------------------------------------------- attributes


def _duplicate_codes(folder: Path) -> Path:
    return shapefile(folder, [parcel(1, 0), parcel(2, 100), parcel(1, 200)])


def _code_held_by_another_contract(folder: Path) -> Path:
    # the database already holds 330699001001GB00001 (the test's baseline) under another 电子监管号
    features = [
        {
            "type": "Feature",
            "properties": {
                "电子监管号": "3306992019B00009",
                "宗地代码": "330699001001GB00001",
                "约定开工时间": "2019-10-01",
            },
            "geometry": degrees(5_000),
        }
    ]
    return geojson(folder, features, "供地结果.geojson")


def _overlaps_existing(folder: Path) -> Path:
    return shapefile(folder, [parcel(7, 5_000), parcel(8, 50)])  # half of baseline GB00001 (at 0..100)


def _empty_code(folder: Path) -> Path:
    return shapefile(folder, [parcel(1, 5_000), parcel(2, 5_100, 宗地代码="")])


def _huge_numbers(folder: Path) -> Path:
    return geojson(folder, [feature(1, degrees(5_000), 宗地面积=1e300), feature(2, degrees(5_100), 宗地面积=-1e15)])


def _text_in_numeric(folder: Path) -> Path:
    return shapefile(folder, [parcel(1, 5_000, 宗地面积="10000"), parcel(2, 5_100, 宗地面积="约1万平方米")])


def _bad_dates(folder: Path) -> Path:
    return shapefile(folder, [parcel(1, 5_000, 约定开工="2019-05-01"), parcel(2, 5_100, 约定开工="2019-13-45")])


def _far_text(folder: Path) -> Path:
    return shapefile(folder, [parcel(1, 5_000, 约定容积="≥1.0"), parcel(2, 5_100, 约定容积="视项目而定")])


def _safety_grade(folder: Path) -> Path:
    return shapefile(folder, [parcel(1, 5_000, 房屋安全="B级"), parcel(2, 5_100, 房屋安全="E")])


def _coverage_over_100(folder: Path) -> Path:
    return shapefile(folder, [parcel(1, 5_000, 建筑密度="45%"), parcel(2, 5_100, 建筑密度="150%")])


def _negative_far(folder: Path) -> Path:
    return shapefile(folder, [parcel(1, 5_000, 容积率=1.2), parcel(2, 5_100, 容积率=-0.5)])


def _unknown_county(folder: Path) -> Path:
    return shapefile(folder, [parcel(1, 5_000, 宗地代码="330100001001GB00001")])  # 杭州 is not loaded


def _out_of_scope(folder: Path) -> Path:
    return shapefile(folder, [parcel(1, 5_000), parcel(2, 5_100)])


# --------------------------------------------------------------------------- other formats


def _geojson_truncated(folder: Path) -> Path:
    full = geojson(folder, [feature(1, degrees(5_000))]).read_bytes()
    return text_file(folder, "zd.geojson", full[: len(full) // 2])


def _geojson_not_json(folder: Path) -> Path:
    return text_file(folder, "zd.geojson", "宗地代码,权利人\n".encode())


def _gpkg_not_sqlite(folder: Path) -> Path:
    return text_file(folder, "zd.gpkg", b"PK\x03\x04 not a GeoPackage at all")


def _csv_without_wkt(folder: Path) -> Path:
    return text_file(folder, "zd.csv", "宗地代码,权利人\n330699001001GB00001,甲\n".encode())


def _csv_bad_wkt(folder: Path) -> Path:
    good = shapely.to_wkt(shapely.geometry.shape(degrees(5_000)), rounding_precision=-1)
    lines = [
        "宗地代码,权利人,WKT",
        f'330699001001GB00001,甲,"{good}"',
        '330699001001GB00002,乙,"POLYGON ((120.6 30, 120.7"',
    ]
    return text_file(folder, "zd.csv", ("\n".join(lines) + "\n").encode())


def _zip_bomb(folder: Path) -> Path:
    return zipped(folder, {"zd.shp": b"\0" * 50_000_000})


def _zip_slip(folder: Path) -> Path:
    return zipped(folder, {"../../../tmp/evil.shp": b"x", "zd.dbf": b"x"})


def _zip_two_datasets(folder: Path) -> Path:
    parts = shapefile_bytes(folder, [parcel(1, 5_000)])
    entries = {f"a/{k}": v for k, v in parts.items()} | {f"b/{k}": v for k, v in parts.items()}
    return zipped(folder, entries)


def _zip_without_dataset(folder: Path) -> Path:
    return zipped(folder, {"说明.txt": "宗地图见附件".encode(), "zd.xls": b"x"})


def _not_a_zip(folder: Path) -> Path:
    return text_file(folder, "宗地.zip", b"this is not a zip file")


def _zipped_vrt_as_shp(folder: Path) -> Path:
    vrt = b'<OGRVRTDataSource><OGRVRTLayer name="zd"><SrcDataSource>/vsicurl/http://example.com/x</SrcDataSource>'
    return zipped(
        folder, {"zd.shp": vrt + b"</OGRVRTLayer></OGRVRTDataSource>", "zd.shx": b"\0" * 100, "zd.dbf": b"\3"}
    )


# --------------------------------------------------------------------------- workbooks

HEADER = ["统一社会信用代码", "企业名称", "规模"]


def _merged_header(folder: Path) -> Path:
    return workbook(
        folder,
        [["2023年企业名录", None, None], HEADER, [USCC_1, "示范县第1机械有限公司", "规上"]],
        merge="A2:B2",
    )


def _no_header(folder: Path) -> Path:
    return workbook(folder, [["甲", "乙", "丙"], [1, 2, 3]])


def _bad_uscc(folder: Path) -> Path:
    wrong_check = USCC_1[:-1] + ("0" if USCC_1[-1] != "0" else "1")
    return workbook(
        folder, [HEADER, [USCC_1, "示范县第1机械有限公司", "规上"], [wrong_check, "示范县第2机械有限公司", "规下"]]
    )


def _duplicate_uscc(folder: Path) -> Path:
    return workbook(
        folder, [HEADER, [USCC_1, "示范县第1机械有限公司", "规上"], [USCC_1, "示范县第1机械有限公司", "规上"]]
    )


def _unknown_scale(folder: Path) -> Path:
    return workbook(folder, [HEADER, [USCC_1, "示范县第1机械有限公司", "特大型"]])


def _mojibake_firm_name(folder: Path) -> Path:
    """A register whose second firm's name was UTF-8 read as GBK somewhere upstream: it decodes
    cleanly (no replacement characters), into other Chinese characters."""
    garbled = "示范县红星五金厂".encode().decode("gbk")  # 绀鸿寖鍘跨孩鏄熶簲閲戝巶
    return workbook(folder, [HEADER, [USCC_1, "示范县第1机械有限公司", "规上"], [_uscc(2), garbled, "规下"]])


def _figures_text_and_negative(folder: Path) -> Path:
    header = ["统一社会信用代码", "企业名称", "税收(万元)", "综合能耗(吨标煤)"]
    return workbook(
        folder,
        [header, [USCC_1, "示范县第1机械有限公司", "约100", -5]],
        name="2023年度.xlsx",
    )


def _occupancy_unknown_parcel(folder: Path) -> Path:
    header = ["统一社会信用代码", "企业名称", "宗地代码", "使用面积(亩)", "权属"]
    return workbook(
        folder, [header, [USCC_1, "示范县第1机械有限公司", "330699001001GB09999", 10, "自有"]], name="用地关系.xlsx"
    )


def _corrupt_xlsx(folder: Path) -> Path:
    return text_file(folder, "企业名录.xlsx", b"PK\x03\x04" + b"\0" * 200)


def _xlsx_bomb(folder: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b" " * 60_000_000)
    return text_file(folder, "企业名录.xlsx", buffer.getvalue())


# --------------------------------------------------------------------------- the corpus

CASES: list[Case] = [
    # structure
    Case("missing_shx", "shapefile without .shx", "parcels", _missing(".shx"), Refused("缺少 .shx")),
    Case("missing_dbf", "shapefile without .dbf", "parcels", _missing(".dbf"), Refused("缺少 .dbf")),
    Case(
        "missing_prj_gk_no_zone",
        "no .prj, GK metres without zone number",
        "parcels",
        _prj_missing_gk_without_zone,
        Refused("中央经线"),
    ),
    Case(
        "missing_prj_web_mercator",
        "no .prj, Web Mercator metres",
        "parcels",
        _prj_missing_web_mercator,
        Refused("无法判断坐标系"),
    ),
    Case("truncated_shp", ".shp cut short", "parcels", _truncated_shp, Refused("截断")),
    Case("truncated_dbf", ".dbf cut short", "parcels", _truncated_dbf, Refused("截断")),
    Case("shx_of_another_file", ".shx from another shapefile", "parcels", _shx_of_another_file, Refused("记录数")),
    Case("vrt_as_shp", "a VRT named .shp", "parcels", _vrt_as_shp, Refused("VRT")),
    Case("not_a_shapefile", "text named .shp", "parcels", _not_a_shapefile, Refused("不是有效的shapefile")),
    Case("no_features", "a shapefile with no rows", "parcels", _no_features, Refused("不含任何要素")),
    # encodings
    Case(
        "mixed_encodings",
        "one UTF-8 cell in a GBK table (it decodes, as mojibake)",
        "parcels",
        _mixed_encodings,
        rows((2, "QLR", "mojibake")),
    ),
    Case(
        "mixed_encodings_undecodable",
        "one UTF-8 cell in a GBK table that does not decode",
        "parcels",
        _mixed_encodings_undecodable,
        rows((2, "QLR", "encoding")),
    ),
    Case(
        "cpg_says_utf8",
        ".cpg says UTF-8, text is GBK (Chinese field names)",
        "parcels",
        _cpg_says_utf8_for_gbk,
        Refused("字段名疑似乱码"),
    ),
    Case("cpg_unknown", ".cpg names no code page we know", "parcels", _cpg_unknown, Refused("未知编码")),
    Case(
        "utf8_read_as_gbk",
        ".cpg says GBK, text is UTF-8",
        "parcels",
        _utf8_read_as_gbk,
        rows((1, "QLR", "mojibake"), (2, "QLR", "encoding")),
    ),
    Case(
        "no_encoding_fits",
        "bytes that are neither UTF-8 nor GBK/GB18030",
        "parcels",
        _no_encoding_fits,
        Refused("无法识别字符编码"),
    ),
    Case(
        "mojibake_text",
        "锟斤拷 in a UTF-8 GeoJSON",
        "parcels",
        _mojibake_in_utf8_geojson,
        rows((2, "权利人", "mojibake")),
    ),
    # geometries
    Case(
        "null_geometry",
        "a feature without geometry",
        "parcels",
        _null_geometry,
        rows((2, "geometry", "geometry_missing")),
    ),
    Case("empty_geometry", "POLYGON EMPTY", "parcels", _empty_geometry, rows((1, "geometry", "geometry_missing"))),
    Case("points", "a point layer", "parcels", _points, rows((1, "geometry", "geometry_type"))),
    Case("lines", "a line layer", "parcels", _lines, rows((1, "geometry", "geometry_type"))),
    Case(
        "geometry_collection",
        "polygon and point in one feature",
        "parcels",
        _collection,
        rows((1, "geometry", "geometry_type")),
    ),
    Case(
        "self_intersecting",
        "bow-tie ring (repaired, dry run)",
        "parcels",
        _bow_tie,
        rows((1, "geometry", "geometry_repaired"), repaired=True),
        {"dry_run": True},
    ),
    Case(
        "hole_outside_shell",
        "inverted rings: hole drawn outside the shell (repaired, dry run)",
        "parcels",
        _hole_outside_shell,
        rows((1, "geometry", "geometry_repaired"), repaired=True),
        {"dry_run": True},
    ),
    Case(
        "inverted_ring_direction",
        "clockwise shell, counter-clockwise hole (valid, dry run)",
        "parcels",
        _inverted_shell,
        rows(repaired=True),
        {"dry_run": True},
    ),
    Case(
        "collapsed_ring", "a ring with no area", "parcels", _collapsed_ring, rows((2, "geometry", "geometry_invalid"))
    ),
    Case(
        "far_away_vertex",
        "one vertex 5000 km north",
        "parcels",
        _far_away_vertex,
        rows((2, "geometry", "geometry_coordinates")),
    ),
    Case("wrong_crs", ".prj says degrees, coordinates are metres", "parcels", _wrong_prj, Refused("不在中国范围内")),
    Case("swapped_axes", "latitude and longitude swapped", "parcels", _swapped_axes, Refused("坐标轴疑似颠倒")),
    Case(
        "outside_county",
        "a parcel 60 km outside its county",
        "parcels",
        _outside_the_county,
        rows((2, "geometry", "outside_region")),
    ),
    # attributes and the database
    Case(
        "duplicate_codes",
        "the same 宗地代码 twice",
        "parcels",
        _duplicate_codes,
        rows((3, "宗地代码", "duplicate_key")),
    ),
    Case(
        "code_of_another_contract",
        "a 宗地代码 the database holds under another 电子监管号",
        "parcels",
        _code_held_by_another_contract,
        rows((1, "宗地代码", "duplicate_key")),
        {"region": "330699"},
    ),
    Case(
        "overlaps_existing",
        "half on top of an existing parcel",
        "parcels",
        _overlaps_existing,
        rows((2, "geometry", "overlap")),
    ),
    Case("empty_code", "no 宗地代码", "parcels", _empty_code, rows((2, "宗地代码", "zddm_invalid"))),
    Case(
        "huge_numbers",
        "1e300 and -1e15 m²",
        "parcels",
        _huge_numbers,
        rows((1, "宗地面积", "number_range"), (2, "宗地面积", "number_range")),
    ),
    Case("text_in_numeric", "约1万平方米 as an area", "parcels", _text_in_numeric, rows((2, "宗地面积", "bad_value"))),
    Case("bad_date", "2019-13-45", "parcels", _bad_dates, rows((2, "约定开工", "bad_value"))),
    Case("far_text", "视项目而定 as agreed FAR", "parcels", _far_text, rows((2, "约定容积", "far_text"))),
    Case("safety_grade", "房屋安全等级 E", "parcels", _safety_grade, rows((2, "房屋安全", "bad_value"))),
    Case("coverage_over_100", "建筑密度 150%", "parcels", _coverage_over_100, rows((2, "建筑密度", "bad_value"))),
    Case(
        "unknown_county",
        "a 宗地代码 of a county not loaded",
        "parcels",
        _unknown_county,
        rows((1, "region", "region_unknown")),
    ),
    Case(
        "out_of_scope",
        "a clerk of 330698 loading 330699's land",
        "parcels",
        _out_of_scope,
        rows((1, "region", "out_of_scope"), (2, "region", "out_of_scope")),
        scope=["330698"],
    ),
    # other formats and archives
    Case("geojson_truncated", "GeoJSON cut in half", "parcels", _geojson_truncated, Refused("无法读取")),
    Case("geojson_not_json", "CSV text named .geojson", "parcels", _geojson_not_json, Refused("不是有效的GeoJSON")),
    Case(
        "gpkg_not_sqlite",
        "a .gpkg that is no SQLite file",
        "parcels",
        _gpkg_not_sqlite,
        Refused("不是有效的GeoPackage"),
    ),
    Case("csv_without_wkt", "a CSV without a geometry column", "parcels", _csv_without_wkt, Refused("缺少几何列")),
    Case("csv_bad_wkt", "a CSV row with broken WKT", "parcels", _csv_bad_wkt, rows((2, "WKT", "geometry_wkt"))),
    Case("zip_bomb", "50 MB of zeros in a 50 kB zip", "parcels", _zip_bomb, Refused("压缩炸弹")),
    Case("zip_slip", "../ in an archive name", "parcels", _zip_slip, Refused("非法路径")),
    Case("zip_two_datasets", "two shapefiles in one zip", "parcels", _zip_two_datasets, Refused("含多个数据文件")),
    Case("zip_without_dataset", "a zip of other files", "parcels", _zip_without_dataset, Refused("未找到可加载的文件")),
    Case("not_a_zip", "text named .zip", "parcels", _not_a_zip, Refused("不是有效的zip")),
    Case("zipped_vrt", "a network VRT named .shp in a zip", "parcels", _zipped_vrt_as_shp, Refused("VRT")),
    # workbooks
    Case("excel_merged_header", "merged cells in the header row", "enterprises", _merged_header, Refused("合并单元格")),
    Case("excel_no_header", "no recognisable header", "enterprises", _no_header, Refused("找不到表头")),
    Case(
        "excel_bad_uscc",
        "a USCC with a wrong check character",
        "enterprises",
        _bad_uscc,
        rows((3, "统一社会信用代码", "uscc_invalid")),
    ),
    Case(
        "excel_duplicate_uscc",
        "the same firm twice",
        "enterprises",
        _duplicate_uscc,
        rows((3, "统一社会信用代码", "duplicate_key")),
    ),
    Case("excel_unknown_scale", "规模 特大型", "enterprises", _unknown_scale, rows((2, "规模", "bad_value"))),
    Case(
        "excel_mojibake_name",
        "a firm's name garbled upstream (UTF-8 read as GBK)",
        "enterprises",
        _mojibake_firm_name,
        rows((3, "企业名称", "mojibake")),
    ),
    Case(
        "figures_text_and_negative",
        "约100 as tax, negative energy",
        "figures",
        _figures_text_and_negative,
        rows((2, "税收(万元)", "bad_value"), (2, "综合能耗(吨标煤)", "negative")),
        {"year": 2023},
    ),
    Case(
        "occupancy_unknown_parcel",
        "a firm on a parcel that does not exist",
        "occupancy",
        _occupancy_unknown_parcel,
        rows((2, "宗地代码", "parcel_unknown")),
    ),
    Case("excel_corrupt", "a broken .xlsx", "enterprises", _corrupt_xlsx, Refused("Excel")),
    Case(
        "excel_bomb", "an .xlsx whose sheet inflates to 60 MB of spaces", "enterprises", _xlsx_bomb, Refused("压缩炸弹")
    ),
]


def main() -> None:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/bad/out")
    for case in CASES:
        path = case.build(target / case.name)
        print(f"{case.name:28} {case.kind:12} {path.relative_to(target)}  ({case.what})")
    print(f"{len(CASES)} cases in {target}")


if __name__ == "__main__":
    main()
