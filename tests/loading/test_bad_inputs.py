"""Every case of the bad-input corpus (``tests/data/bad/generate.py``): the loader answers with
the case's own refusal or with exactly its rows, fields and codes, and the live tables are the
same afterwards. Each test starts from two loaded parcels and one registered enterprise."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from landgis.db.engine import set_scope
from landgis.errors import InvalidInput
from landgis.loading import enterprises
from landgis.loading.batch import LoadFailed
from landgis.loading.parcels import ParcelLoadOptions, load_parcels
from landgis.loading.report import LoadReport
from tests.data.bad.generate import CASES, USCC_1, Case, Refused, parcel, shapefile
from tests.loading.conftest import snapshot


def test_the_corpus_is_large_and_covers_the_issue() -> None:
    names = {case.name for case in CASES}
    assert len(CASES) >= 40
    assert len(names) == len(CASES)
    required = {
        "missing_shx",
        "missing_dbf",
        "missing_prj_gk_no_zone",
        "mixed_encodings",
        "utf8_read_as_gbk",
        "null_geometry",
        "empty_geometry",
        "points",
        "lines",
        "self_intersecting",
        "hole_outside_shell",
        "wrong_crs",
        "swapped_axes",
        "duplicate_codes",
        "huge_numbers",
        "text_in_numeric",
        "truncated_shp",
        "zip_bomb",
        "zip_slip",
        "vrt_as_shp",
        "excel_merged_header",
    }
    assert required <= names


@pytest.fixture
def baseline(county: Connection, tmp_path: Path) -> Connection:
    """Parcels 330699001001GB00001 (x 0-100 m) and GB00002 (100-200 m), and one enterprise."""
    load_parcels(county, shapefile(tmp_path / "baseline", [parcel(1, 0), parcel(2, 100)]))
    register = tmp_path / "baseline" / "企业名录.csv"
    register.write_text(f"统一社会信用代码,企业名称\n{USCC_1},示范县第1机械有限公司\n", encoding="utf-8")
    enterprises.load_enterprises(county, register)
    return county


def _load(conn: Connection, case: Case, path: Path) -> LoadReport:
    options = dict(case.options)
    if case.kind == "parcels":
        return load_parcels(conn, path, ParcelLoadOptions(**options))
    loader = {
        "enterprises": enterprises.load_enterprises,
        "occupancy": enterprises.load_occupancy,
        "figures": enterprises.load_figures,
    }[case.kind]
    return loader(conn, path, enterprises.TableLoadOptions(**options))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(baseline: Connection, tmp_path: Path, case: Case) -> None:
    path = case.build(tmp_path / "case")
    before = snapshot(baseline)
    if case.scope is not None:
        set_scope(baseline, case.scope)
    expect = case.expect
    if isinstance(expect, Refused):
        with pytest.raises(InvalidInput) as refused:
            _load(baseline, case, path)
        assert not isinstance(refused.value, LoadFailed), refused.value.message
        assert expect.phrase in refused.value.message
    elif expect.repaired:  # repairable: a dry run that reports the repair and writes nothing
        report = _load(baseline, case, path)
        assert report.status == "dry_run"
        assert {(i.row, i.field, i.code) for i in report.issues if i.severity != "warning"} == expect.issues
    else:
        with pytest.raises(LoadFailed) as failure:
            _load(baseline, case, path)
        found = {(i.row, i.field, i.code) for i in failure.value.report.errors}
        assert found == expect.issues
    set_scope(baseline, None)
    assert snapshot(baseline) == before


def test_occupancy_cannot_reach_another_countys_parcel(baseline: Connection, tmp_path: Path) -> None:
    table = tmp_path / "用地关系.csv"
    table.write_text(
        f"统一社会信用代码,企业名称,宗地代码,使用面积(亩),权属\n{USCC_1},示范县第1机械有限公司,330699001001GB00001,10,自有\n",
        encoding="utf-8",
    )
    register = tmp_path / "企业名录.csv"
    register.write_text(
        f"统一社会信用代码,企业名称,所在乡镇\n{USCC_1},示范县第1机械有限公司,330699\n", encoding="utf-8"
    )
    enterprises.load_enterprises(baseline, register)  # the firm is 330699's
    set_scope(baseline, ["330698"])
    with pytest.raises(LoadFailed) as failure:
        enterprises.load_occupancy(baseline, table)
    # Both ends are another county's: the parcel is not there for this clerk, the firm is refused.
    assert sorted((i.row, i.field, i.code) for i in failure.value.report.errors) == [
        (2, "宗地代码", "parcel_unknown"),
        (2, "统一社会信用代码", "out_of_scope"),
    ]
    set_scope(baseline, ["330699"])
    assert enterprises.load_occupancy(baseline, table).counts["inserted"] == 1


def test_enterprises_of_another_county_are_refused(baseline: Connection, tmp_path: Path) -> None:
    register = tmp_path / "企业名录.csv"
    register.write_text(
        f"统一社会信用代码,企业名称,所在乡镇\n{USCC_1},示范县第1机械有限公司,330699\n", encoding="utf-8"
    )
    set_scope(baseline, ["330698"])
    with pytest.raises(LoadFailed) as failure:
        enterprises.load_enterprises(baseline, register)
    assert [(i.row, i.field, i.code) for i in failure.value.report.errors] == [(2, "所在乡镇", "out_of_scope")]


def test_a_name_shared_by_several_uncoded_firms_is_refused(baseline: Connection, tmp_path: Path) -> None:
    """Matched on its exact name, the row would update both 五金厂 (two firms, no code, one name)."""
    for region in ("330699", None):
        baseline.execute(
            text("INSERT INTO enterprise (name, region_code) VALUES ('示范县红星五金厂', :r)"), {"r": region}
        )
    before = snapshot(baseline)
    register = tmp_path / "企业名录.csv"
    register.write_text("统一社会信用代码,企业名称,规模\n,示范县红星五金厂,规下\n", encoding="utf-8")
    with pytest.raises(LoadFailed) as failure:
        enterprises.load_enterprises(baseline, register)
    assert [(i.row, i.field, i.code) for i in failure.value.report.errors] == [(2, "企业名称", "ambiguous_key")]
    assert snapshot(baseline) == before
