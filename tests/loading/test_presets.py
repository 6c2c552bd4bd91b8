"""The shipped mappings: detected from a file's fields, keyed as their schema is, units applied."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import Connection, text

from landgis.errors import InvalidInput
from landgis.geo import transformer
from landgis.loading.batch import LoadFailed
from landgis.loading.mapping import best_preset, load_mapping, presets
from landgis.loading.parcels import ParcelLoadOptions, load_parcels
from tests.helpers import GK_EAST, GK_NORTH


def _square(x: float, side: float = 100.0) -> shapely.Geometry:
    """A square ``side`` m wide, ``x`` m east of the test origin, in EPSG:4490."""
    box = shapely.box(GK_EAST + x, GK_NORTH, GK_EAST + x + side, GK_NORTH + side)
    return shapely.transform(box, transformer(4549, 4490).transform, interleaved=False)


def _dltb(folder: Path, rows: list[dict[str, object]]) -> Path:
    """A 国土调查 地类图斑 layer as county exports hold it: pinyin field names, GBK, CGCS2000 zone 40."""
    geoms = [shapely.transform(r.pop("geometry"), transformer(4490, 4528).transform, interleaved=False) for r in rows]
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=4528)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "DLTB.shp"
    frame.to_file(path, encoding="GBK", engine="pyogrio")
    return path


def test_dltb_is_detected_and_keyed_by_its_bsm(county: Connection, tmp_path: Path) -> None:
    rows = [
        {
            "BSM": str(1000 + n),
            "YSDM": "2001010100",
            "TBBH": str(n),
            "DLBM": "0601",
            "DLMC": "工业用地",
            "QSDWDM": "3306990010010000000",
            "QSDWMC": "东湖村股份经济合作社",
            "ZLDWDM": "3306990010010000000",
            "ZLDWMC": "东湖村",
            "TBMJ": 10000.0 * n,
            "geometry": _square(300 * n, 100 * n**0.5),
        }
        for n in (1, 2)
    ]
    report = load_parcels(county, _dltb(tmp_path / "a", rows))
    assert report.mapping["name"] == "dltb"
    assert "地类图斑" in report.mapping["reason"]
    assert report.counts["inserted"] == 2
    assert [i.code for i in report.issues] == []  # no 宗地代码 warnings: the key is the 图斑's own id
    stored = county.execute(
        text(
            "SELECT zddm, zddm_raw, land_use_code, land_use_system, right_holder, location, region_code,"
            " declared_area_m2 FROM parcel ORDER BY zddm_raw"
        )
    ).all()
    assert stored[0] == (None, "1001", "0601", "GBT21010-2017", "东湖村股份经济合作社", "东湖村", "330699", 10000.0)
    # the 19-digit 坐落单位代码 falls back to the county, the finest region the database holds
    rows[0]["DLBM"] = "0602"
    rows[0]["geometry"] = _square(300)
    rows[1]["geometry"] = _square(600, 100 * 2**0.5)
    again = load_parcels(county, _dltb(tmp_path / "b", rows))
    assert (again.counts["updated"], again.counts["unchanged"], again.counts["inserted"]) == (1, 1, 0)


def _supply(folder: Path, rows: list[dict[str, object]]) -> Path:
    frame = gpd.GeoDataFrame(rows, geometry=[r.pop("geometry") for r in rows], crs=4490)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "供地结果.gpkg"
    frame.to_file(path, driver="GPKG", engine="pyogrio")
    return path


def _supply_row(n: int, x: float, **extra: object) -> dict[str, object]:
    return {
        "电子监管号": f"3306992019B0{n:04d}",
        "项目名称": f"年产{n}万套机械零部件项目",
        "土地使用权人": f"示范县第{n}机械有限公司",
        "项目位置": f"示范县兴业路{n}号",
        "面积(公顷)": 1.0,
        "土地用途": "工业用地",
        "供地方式": "挂牌出让",
        "约定容积率下限": 1.2,
        "约定容积率上限": 2.0,
        "成交价格(万元)": 960.0,
        "合同签订日期": "2019-03-01",
        "约定交地时间": "2019年4月1日",
        "约定开工时间": "2019/10/1",
        "约定竣工时间": "20211001",
        "实际开工时间": None,
        "实际竣工时间": None,
        "geometry": _square(x),
        **extra,
    }


def test_supply_results_are_detected_keyed_by_the_supervision_number(county: Connection, tmp_path: Path) -> None:
    path = _supply(tmp_path, [_supply_row(1, 0), _supply_row(2, 200, 约定容积率上限=None, 实际开工时间="2020-02-01")])
    report = load_parcels(county, path, ParcelLoadOptions(region="330699"))
    assert report.mapping["name"] == "supply"
    assert report.mapping["key"] == "contract_no"
    assert report.mapping["units"]["declared_area_m2"] == "ha"
    assert report.counts["inserted"] == 2, report.issues
    stored = county.execute(
        text(
            "SELECT contract_no, declared_area_m2, land_use_code, supply_method, far_min, far_max, land_price_wan,"
            " contract_date, agreed_delivery_date, agreed_start_date, agreed_completion_date, actual_start_date"
            " FROM parcel ORDER BY contract_no"
        )
    ).all()
    # 1 公顷 = 10000 m²; 挂牌出让 is a 出让 (transfer); dates in four spellings
    assert stored[0] == (
        "3306992019B00001",
        10000.0,
        "0601",
        "transfer",
        1.2,
        2.0,
        960.0,
        dt.date(2019, 3, 1),
        dt.date(2019, 4, 1),
        dt.date(2019, 10, 1),
        dt.date(2021, 10, 1),
        None,
    )
    assert (stored[1].far_max, stored[1].actual_start_date) == (None, dt.date(2020, 2, 1))
    # the next year's file carries the actual start: one update, found by 电子监管号
    later = _supply(
        tmp_path / "later",
        [
            _supply_row(1, 0, 实际开工时间="2019-11-20"),
            _supply_row(2, 200, 约定容积率上限=None, 实际开工时间="2020-02-01"),
        ],
    )
    again = load_parcels(county, later, ParcelLoadOptions(region="330699"))
    assert (again.counts["updated"], again.counts["unchanged"]) == (1, 1)
    change = county.execute(
        text("SELECT changes FROM change_log WHERE action = 'update' ORDER BY id DESC LIMIT 1")
    ).scalar_one()
    assert change["actual_start_date"] == {"old": None, "new": "2019-11-20"}
    assert set(change) == {"actual_start_date", "source_attrs", "load_batch_id"}  # nothing else moved


def test_a_supervision_number_twice_in_a_file_is_refused(county: Connection, tmp_path: Path) -> None:
    twice = _supply_row(1, 200)
    path = _supply(tmp_path, [_supply_row(1, 0), twice])
    with pytest.raises(LoadFailed) as failure:
        load_parcels(county, path, ParcelLoadOptions(region="330699"))
    assert [(i.row, i.field, i.code) for i in failure.value.report.errors] == [(2, "电子监管号", "duplicate_key")]


def test_a_parcel_code_already_held_by_another_contract_is_refused(county: Connection, tmp_path: Path) -> None:
    first = _supply(tmp_path / "a", [_supply_row(1, 0, 宗地代码="330699001001GB00001")])
    load_parcels(county, first, ParcelLoadOptions(region="330699"))
    second = _supply(tmp_path / "b", [_supply_row(2, 500, 宗地代码="330699001001GB00001")])
    with pytest.raises(LoadFailed) as failure:
        load_parcels(county, second, ParcelLoadOptions(region="330699"))
    assert [(i.field, i.code) for i in failure.value.report.errors] == [("宗地代码", "duplicate_key")]


def test_detection_prefers_the_schema_whose_distinctive_fields_are_present() -> None:
    assert best_preset("parcels", ["ZDDM", "QLR", "ZL", "ZDMJ", "DZJGH", "YT"]).mapping.name == "cadastral"
    assert best_preset("parcels", ["BSM", "TBBH", "DLBM", "DLMC", "ZLDWDM", "TBMJ"]).mapping.name == "dltb"
    supply = ["电子监管号", "宗地代码", "面积(公顷)", "约定开工时间", "约定竣工时间", "约定容积率下限"]
    assert best_preset("parcels", supply).mapping.name == "supply"
    with pytest.raises(InvalidInput, match="--mapping"):
        best_preset("parcels", ["名称", "备注"])
    assert set(presets("parcels")) == {"cadastral", "dltb", "supply"}


def test_a_mapping_file_can_only_key_on_known_columns(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('name: x\nkind: parcels\nkey: "id; DROP TABLE parcel"\nfields:\n  zddm: [ZDDM]\n', "utf-8")
    with pytest.raises(InvalidInput, match="key"):
        load_mapping(str(bad), "parcels")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("name: x\nkind: parcels\nfields:\n  zddm: [ZDDM]\n  colour: [YS]\n", "utf-8")
    with pytest.raises(InvalidInput, match="colour"):
        load_mapping(str(unknown), "parcels")
