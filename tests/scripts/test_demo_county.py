"""Tests of ``scripts/demo_county.py``, the deterministic demo county (示范县, 330699).

Every property is measured on the written files with independent tools (pyogrio, shapely, pyproj,
openpyxl, pandas, landgis.codes), not taken from the generator's internals. No database needed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from openpyxl import load_workbook
from pyproj import CRS, Transformer

from landgis.codes import check_bdcdyh, check_uscc, check_zddm, org_code_check_char

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "demo_county.py"
SMALL = 400
M2_PER_MU = 10000.0 / 15.0
FIGURE_SHEETS = ("2022年度", "2023年度", "2024年度")


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_county_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    return _load_script()


@pytest.fixture(scope="module")
def county(demo: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("county")
    demo.generate(out, parcels=SMALL, seed=7)
    return out


@pytest.fixture(scope="module")
def county_again(demo: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("county_again")
    demo.generate(out, parcels=SMALL, seed=7)
    return out


@pytest.fixture(scope="module")
def other_seed(demo: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("other_seed")
    demo.generate(out, parcels=SMALL, seed=8)
    return out


@pytest.fixture(scope="module")
def large(demo: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bigger county, as CSV, for statistics."""
    out = tmp_path_factory.mktemp("large")
    demo.generate(out, parcels=4000, seed=11, figures_format="csv")
    return out


def _parcels(out: Path) -> pd.DataFrame:
    return pyogrio.read_dataframe(out / "ZD_330699.shp", encoding="GBK")


def _workbook(out: Path) -> dict[str, pd.DataFrame]:
    if (out / "企业数据.xlsx").exists():
        return pd.read_excel(out / "企业数据.xlsx", sheet_name=None, dtype={"统一社会信用代码": str})
    names = ("企业名录", "用地关系", *FIGURE_SHEETS)
    return {n: pd.read_csv(out / f"{n}.csv", encoding="utf-8-sig", dtype={"统一社会信用代码": str}) for n in names}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sheet_values(path: Path) -> dict[str, list[tuple[object, ...]]]:
    workbook = load_workbook(path, read_only=True)
    try:
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in workbook.worksheets}
    finally:
        workbook.close()


# --------------------------------------------------------------------------- files and determinism


def test_files_and_manifest(county: Path) -> None:
    names = {p.name for p in county.iterdir()}
    expected = {f"ZD_330699{s}" for s in (".shp", ".shx", ".dbf", ".prj")}
    expected |= {"regions.geojson", "zones.geojson", "zone_targets.csv", "企业数据.xlsx", "manifest.json"}
    assert expected <= names
    assert "ZD_330699.cpg" not in names
    manifest = json.loads((county / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 7
    assert manifest["parcels"] == SMALL
    assert manifest["crs"] == "EPSG:4528"
    assert manifest["encoding"] == "GBK"
    assert manifest["years"] == [2022, 2023, 2024]
    assert set(manifest["files"]) == expected - {"manifest.json"}
    for name in ("ZD_330699.shp", "ZD_330699.shx"):
        assert manifest["sha256"][name] == _sha256(county / name)
    firms = _workbook(county)["企业名录"]
    assert manifest["enterprises"] == len(firms)
    assert len(_parcels(county)) == SMALL


def test_same_seed_gives_identical_files(county: Path, county_again: Path) -> None:
    for name in ("ZD_330699.shp", "ZD_330699.shx"):
        assert (county / name).read_bytes() == (county_again / name).read_bytes()
    pd.testing.assert_frame_equal(
        _parcels(county).drop(columns="geometry"), _parcels(county_again).drop(columns="geometry")
    )
    assert _sheet_values(county / "企业数据.xlsx") == _sheet_values(county_again / "企业数据.xlsx")
    # Stronger than asked: every file is byte-identical (fixed DBF date, fixed xlsx timestamps).
    for path in sorted(county.iterdir()):
        assert path.read_bytes() == (county_again / path.name).read_bytes(), path.name


def test_other_seed_differs(county: Path, other_seed: Path) -> None:
    assert (county / "ZD_330699.shp").read_bytes() != (other_seed / "ZD_330699.shp").read_bytes()
    a, b = _parcels(county), _parcels(other_seed)
    assert not np.allclose(a.geometry.area.to_numpy(), b.geometry.area.to_numpy())
    assert set(_workbook(county)["企业名录"]["统一社会信用代码"]) != set(
        _workbook(other_seed)["企业名录"]["统一社会信用代码"]
    )


# --------------------------------------------------------------------------- coordinates and encoding


def test_crs_and_location(county: Path) -> None:
    crs = CRS.from_wkt((county / "ZD_330699.prj").read_text())
    assert crs.to_epsg() == 4528
    parcels = _parcels(county)
    minx, _, maxx, _ = parcels.total_bounds
    assert str(int(minx)).startswith("40") and str(int(maxx)).startswith("40")
    assert 40_000_000 < minx < maxx < 41_000_000
    centre = shapely.centroid(shapely.union_all(parcels.geometry.to_numpy()))
    lon, lat = Transformer.from_crs(4528, 4490, always_xy=True).transform(centre.x, centre.y)
    assert lon == pytest.approx(120.6, abs=0.05)
    assert lat == pytest.approx(30.0, abs=0.05)


def test_dbf_is_gbk_without_cpg(county: Path) -> None:
    assert not (county / "ZD_330699.cpg").exists()
    raw = (county / "ZD_330699.dbf").read_bytes()
    header_len = int.from_bytes(raw[8:10], "little")
    names = []
    for offset in range(32, header_len - 1, 32):  # field descriptors, 11-byte names
        names.append(raw[offset : offset + 11].rstrip(b"\x00"))
    first = names[0]
    assert first.decode("gbk") == "宗地代码"
    with pytest.raises(UnicodeDecodeError):
        first.decode("utf-8")
    assert all(len(name) <= 10 for name in names)
    records = raw[header_len:]
    owner = "示范县土地储备中心".encode("gbk")
    town = "示范县".encode("gbk")
    assert town in records
    assert "示范县".encode() not in records
    with pytest.raises(UnicodeDecodeError):
        records.decode("utf-8")
    parcels = _parcels(county)
    assert (parcels["权利人"] == "示范县土地储备中心").any() == (owner in records)


def test_fields(county: Path) -> None:
    parcels = _parcels(county)
    text = [
        "宗地代码", "不动产单", "权利人", "坐落", "用途", "约定容积", "供地方式", "标准地", "监管号", "房屋安全",
    ]  # fmt: skip
    dates = ["签订日期", "约定交地", "实际交地", "约定开工", "实际开工", "约定竣工", "实际竣工", "约定投产", "实际投产"]
    info = pyogrio.read_info(county / "ZD_330699.shp", encoding="GBK")
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    for name in text:
        assert types[name] == "object", name
    for name in ("宗地面积", "容积率", "建筑密度", "建筑面积", "土地价款"):
        assert types[name] == "float64", name
    for name in dates:
        assert types[name].startswith("datetime64"), name
    assert parcels["用途"].value_counts().idxmax() == "0601"
    assert set(parcels["用途"]) <= {"0601", "0602", "1001"}
    assert set(parcels["供地方式"].dropna()) <= {"出让", "划拨", "租赁"}
    assert parcels["供地方式"].value_counts().idxmax() == "出让"
    assert set(parcels["标准地"]) <= {"是", "否"}
    assert set(parcels["房屋安全"].dropna()) <= {"A", "B", "C", "D"}
    assert parcels["坐落"].str.match(r"^示范县.+(街道|镇|乡).+路\d+号$").all()
    assert parcels["建筑密度"].between(0, 1).all()
    # Unbuilt land has no FAR and no safety grade.
    unbuilt = parcels["容积率"] == 0
    assert parcels.loc[unbuilt, "房屋安全"].fillna("").eq("").all()
    # Declared area is the planar area within ±0.5%, except a handful of flagged outliers.
    ratio = parcels["宗地面积"] / parcels.geometry.area
    assert (ratio.sub(1).abs() <= 0.0051).mean() > 0.99
    assert (ratio.sub(1).abs() > 0.1).sum() >= 1
    # Agreed FAR as the platforms write it.
    agreed = parcels["约定容积"].dropna()
    pattern = r"^(\d\.\d-\d\.\d|≥\d\.\d|大于或等于\d\.\d并且小于或等于\d\.\d|不小于\d\.\d|\d\.\d~\d\.\d)$"
    assert agreed.str.match(pattern).all()
    monitor = parcels["监管号"].dropna()
    assert monitor.str.match(r"^3306992\d{3}[ABC]\d{5}$").all()
    assert monitor.is_unique


# --------------------------------------------------------------------------- codes


def test_zddm_and_bdcdyh(county: Path) -> None:
    parcels = _parcels(county)
    codes = parcels["宗地代码"]
    assert codes.is_unique
    assert all(check_zddm(c).valid for c in codes)
    assert codes.str.match(r"^330699\d{6}GB\d{5}$").all()
    units = parcels["不动产单"].dropna()
    units = units[units != ""]
    assert 0.55 < len(units) / len(parcels) < 0.85
    assert all(check_bdcdyh(u).valid and len(u) == 28 for u in units)
    assert (units.str[:19] == codes[units.index]).all()


def test_usccs_valid(county: Path) -> None:
    firms = _workbook(county)["企业名录"]
    codes = firms["统一社会信用代码"]
    assert codes.is_unique
    assert firms["企业名称"].is_unique
    for code in codes:
        assert check_uscc(code).valid, code
        assert code.startswith("91330699")
        assert code[16] == org_code_check_char(code[8:16]), code  # GB 11714 组织机构代码
    assert firms["行业代码"].str.match(r"^[A-T]\d{4}$").all()
    assert firms["行业代码"].str.startswith("C").mean() > 0.8
    assert firms["所在乡镇"].astype(str).str.match(r"^330699\d{3}$").all()
    assert set(firms["规模"]) == {"规上", "规下"}


# --------------------------------------------------------------------------- geometry


def test_parcels_valid_and_do_not_overlap(county: Path) -> None:
    geoms = _parcels(county).geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
    assert overlap.sum() < 1e-3
    # Neighbours in a block share whole edges (a lattice, not scattered boxes).
    shared = shapely.length(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
    assert (shared > 1.0).sum() >= len(geoms)
    mu = shapely.area(geoms) / M2_PER_MU
    assert mu.min() >= 2.5
    assert mu.max() <= 200
    assert 12 <= np.median(mu) <= 28


def test_townships_partition_the_county(county: Path) -> None:
    regions = pyogrio.read_dataframe(county / "regions.geojson")
    assert regions.crs.to_epsg() == 4490
    levels = dict(zip(regions["代码"], regions["级别"], strict=True))
    assert levels["330000"] == 1 and levels["330600"] == 2 and levels["330699"] == 3
    assert regions.loc[regions["代码"].isin(["330000", "330600"]), "geometry"].isna().all()
    towns = regions[regions["级别"] == 4].to_crs(4528)
    assert 6 <= len(towns) <= 10
    assert towns["代码"].str.match(r"^330699\d{3}$").all()
    assert (towns["上级代码"] == "330699").all()
    assert (towns.geometry.geom_type == "MultiPolygon").all()
    county_shape = regions[regions["级别"] == 3].to_crs(4528).geometry.iloc[0]
    geoms = towns.geometry.to_numpy()
    overlap = sum(shapely.area(shapely.intersection(geoms[i], geoms[i + 1 :])).sum() for i in range(len(geoms)))
    assert overlap < 1.0
    assert shapely.union_all(geoms).symmetric_difference(county_shape).area < 1.0

    parcels = _parcels(county)
    points = shapely.centroid(parcels.geometry.to_numpy())
    inside = np.stack([shapely.contains(g, points) for g in geoms])
    assert (inside.sum(axis=0) == 1).all()
    town_of_parcel = towns["代码"].to_numpy()[inside.argmax(axis=0)]
    assert (pd.Series(town_of_parcel).str[6:9].to_numpy() == parcels["宗地代码"].str[6:9].to_numpy()).all()
    assert shapely.contains(county_shape.buffer(-5.0), parcels.geometry.to_numpy()).all()
    names = dict(zip(towns["代码"], towns["名称"], strict=True))
    assert all(addr.startswith("示范县" + names[t]) for addr, t in zip(parcels["坐落"], town_of_parcel, strict=True))


def test_zones(large: Path) -> None:
    zones = pyogrio.read_dataframe(large / "zones.geojson").to_crs(4528)
    assert len(zones) >= 4
    assert set(zones["类型"]) == {"开发区", "工业园区", "小微企业园", "整治片区"}
    assert (zones["所属区划"] == "330699").all()
    assert zones["编码"].str.match(r"^Z\d{2}$").all()
    parcels = _parcels(large)
    points = shapely.centroid(parcels.geometry.to_numpy())
    kind = pd.Series("", index=parcels.index)
    for _, zone in zones.iterrows():
        kind[shapely.contains(zone.geometry, points)] = zone["类型"]
    mu = parcels.geometry.area / M2_PER_MU
    assert (kind == "小微企业园").sum() > 20
    small = mu[kind == "小微企业园"]
    assert small.median() < 10 and small.min() >= 3
    old, rest = parcels["容积率"][kind == "整治片区"], parcels["容积率"][kind == ""]
    assert old[old > 0].mean() < 0.8 * rest[rest > 0].mean()
    land = _workbook(large)["用地关系"]
    firms_per_parcel = land.groupby("宗地代码")["统一社会信用代码"].nunique()
    in_small = parcels.loc[kind == "小微企业园", "宗地代码"]
    assert firms_per_parcel.reindex(in_small).fillna(0).mean() >= 2.0


def test_zone_targets(county: Path) -> None:
    raw = (county / "zone_targets.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    targets = pd.read_csv(county / "zone_targets.csv", encoding="utf-8-sig", dtype={"单位": str})
    assert list(targets.columns) == ["园区编码", "指标", "起始年度", "截止年度", "目标值", "单位", "说明"]
    assert set(targets["指标"]) <= {"治理面积", "腾出面积", "容积率提升", "亩均税收增长", "亩均增加值增长"}
    zones = pyogrio.read_dataframe(county / "zones.geojson")
    for code in zones["编码"]:
        rows = targets[targets["园区编码"] == code]
        vacate = rows[rows["指标"] == "腾出面积"]
        assert ((vacate["起始年度"] == 2023) & (vacate["截止年度"] == 2027)).any()
        yearly = rows[(rows["指标"] == "治理面积") & (rows["起始年度"] == rows["截止年度"])]
        assert len(yearly) >= 1 and (yearly["单位"] == "亩").all()
        assert (rows["目标值"] > 0).all()
    assert set(targets.loc[targets["指标"].str.endswith("增长"), "单位"]) == {"%"}


# --------------------------------------------------------------------------- enterprises


def test_occupancy(large: Path) -> None:
    parcels = _parcels(large)
    area_mu = pd.Series(parcels.geometry.area.to_numpy() / M2_PER_MU, index=parcels["宗地代码"])
    book = _workbook(large)
    land, firms = book["用地关系"], book["企业名录"]
    assert set(land["权属"]) == {"自有", "租赁"}
    assert land["宗地代码"].isin(area_mu.index).all()
    assert land["统一社会信用代码"].isin(firms["统一社会信用代码"]).all()
    leased = land[land["权属"] == "租赁"].groupby("宗地代码")["使用面积(亩)"].sum()
    assert (leased <= area_mu[leased.index] + 0.01).all()
    used = land.groupby("宗地代码")["使用面积(亩)"].sum()
    assert (used <= area_mu[used.index] + 0.01).all()
    # One owner per occupied parcel; a single firm's own parcel is used in full.
    owners = land[land["权属"] == "自有"]
    assert owners["宗地代码"].is_unique
    firms_per_parcel = land.groupby("宗地代码")["统一社会信用代码"].nunique()
    assert (firms_per_parcel >= 2).sum() > 0.05 * len(parcels)  # 一地多企
    assert 0.8 < (firms_per_parcel == 1).sum() / len(parcels) < 0.95
    alone = firms_per_parcel[firms_per_parcel == 1].index
    full = owners.set_index("宗地代码").loc[alone, "使用面积(亩)"]
    assert ((area_mu[alone] - full).abs() <= 0.011).all()
    parcels_per_owner = owners.groupby("统一社会信用代码")["宗地代码"].nunique()
    assert parcels_per_owner.max() >= 2  # 一企多地
    assert 0.15 < (parcels_per_owner >= 2).mean() < 0.35
    landless = ~firms["统一社会信用代码"].isin(owners["统一社会信用代码"])
    assert landless.sum() > 0  # tenants without land of their own
    # About 4,000 enterprises in the default 5,000-parcel county (the foundation issue).
    assert 0.72 < len(firms) / len(parcels) < 0.88
    vacant = ~parcels["宗地代码"].isin(land["宗地代码"])
    assert (parcels.loc[vacant, "权利人"] == "示范县土地储备中心").all()
    assert 0.005 < vacant.mean() < 0.05
    assert 0.2 < (firms["规模"] == "规上").mean() < 0.4


def test_mean_mu_tax_near_benchmark(large: Path) -> None:
    """Mean 规上 亩均税收 2022 (per firm: sum tax / sum area) within ±15% of 黄岩 2022 (24.097)."""
    book = _workbook(large)
    firms, land, year = book["企业名录"], book["用地关系"], book["2022年度"]
    by_name = dict(zip(firms["企业名称"], firms["统一社会信用代码"], strict=True))
    uscc = year["统一社会信用代码"].fillna(year["企业名称"].map(by_name))
    assert uscc.notna().all()
    area = land.groupby("统一社会信用代码")["使用面积(亩)"].sum()
    tax = year.assign(uscc=uscc).groupby("uscc")["税收(万元)"].sum()
    above = firms.loc[firms["规模"] == "规上", "统一社会信用代码"]
    above = above[above.isin(tax.index)]
    assert len(above) > 500
    mu_tax = (tax[above] / area[above]).mean()
    assert mu_tax == pytest.approx(24.097, rel=0.15)
    # Good firms are good on most indicators: per-mu tax and value added correlate.
    va = year.assign(uscc=uscc).groupby("uscc")["工业增加值(万元)"].sum()
    r = np.corrcoef(np.log(tax[above] / area[above]), np.log(va[above] / area[above]))[0, 1]
    assert r > 0.4


def test_figure_rows(large: Path) -> None:
    book = _workbook(large)
    firms = book["企业名录"]
    founded = pd.to_datetime(firms["成立日期"])
    for sheet in FIGURE_SHEETS:
        year = book[sheet]
        assert list(year.columns) == [
            "统一社会信用代码", "企业名称", "税收(万元)", "工业增加值(万元)", "主营业务收入(万元)",
            "工业总产值(万元)", "综合能耗(吨标煤)", "排放量(吨)", "R&D经费支出(万元)", "年平均职工人数",
            "用电量(千瓦时)",
        ]  # fmt: skip
        blank = year["统一社会信用代码"].isna()
        assert 0 < blank.mean() < 0.03
        assert year.loc[blank, "企业名称"].isin(firms["企业名称"]).all()
        assert year["企业名称"].isin(firms["企业名称"]).all()
        cents = year["税收(万元)"].dropna() * 100
        assert np.allclose(cents, cents.round())
        workers = year["年平均职工人数"].dropna()
        assert (workers == workers.round()).all() and (workers >= 1).all()
    new_2023 = firms.loc[founded.dt.year == 2023, "企业名称"]
    assert len(new_2023) > 0
    assert not book["2022年度"]["企业名称"].isin(new_2023).any()
    assert book["2023年度"]["企业名称"].isin(new_2023).any()
    above = firms.loc[firms["规模"] == "规上", "企业名称"]
    y22 = book["2022年度"][book["2022年度"]["企业名称"].isin(above)]
    assert 0.01 < y22["排放量(吨)"].isna().mean() < 0.12
    # 规上 rows carry every indicator the evaluation divides by, all positive.
    for column in ("工业增加值(万元)", "主营业务收入(万元)", "综合能耗(吨标煤)", "年平均职工人数", "用电量(千瓦时)"):
        assert (y22[column] > 0).all(), column
    assert (y22["排放量(吨)"].dropna() > 0).all()


# --------------------------------------------------------------------------- entry points


def test_cli_writes_csv_with_progress(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--parcels", "150", "--figures-format", "csv"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"\[\d+/\d+\]", result.stderr)
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parcels"] == 150
    assert manifest["figures_format"] == "csv"
    for name in ("企业名录.csv", "用地关系.csv", "2022年度.csv", "2023年度.csv", "2024年度.csv"):
        assert (tmp_path / name).read_bytes().startswith(b"\xef\xbb\xbf")
    assert not (tmp_path / "企业数据.xlsx").exists()


def test_rejects_bad_arguments(demo: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="parcels"):
        demo.generate(tmp_path, parcels=10)
    with pytest.raises(ValueError, match="figures_format"):
        demo.generate(tmp_path, parcels=200, figures_format="ods")
