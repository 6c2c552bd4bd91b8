"""Loading parcels: encoding and CRS detection, mapping, all-or-nothing, idempotence, history."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from landgis.db.engine import set_scope
from landgis.errors import Conflict, InvalidInput
from landgis.loading import parcels
from landgis.loading.batch import LoadFailed
from landgis.loading.parcels import ParcelLoadOptions, load_parcels, lock_parcels
from tests.loading.conftest import parcel_row, write_shapefile


def _parcels(db: Connection) -> list[tuple]:
    return db.execute(text("SELECT zddm, right_holder, area_mu, region_code FROM parcel ORDER BY zddm")).all()


def test_gbk_shapefile_without_cpg_loads_with_chinese_intact(county: Connection, tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, [parcel_row(1, 0, 0), parcel_row(2, 100, 0, 200, 100, 约定容积="≥1.5")])
    report = load_parcels(county, path)
    assert report.source["encoding"] == "GBK"
    assert "UTF-8" in report.source["encoding_reason"]  # says why: not valid UTF-8
    assert report.source["crs"] == "EPSG:4528"
    assert report.counts["inserted"] == 2
    rows = _parcels(county)
    assert [r.right_holder for r in rows] == ["示范县第1机械有限公司", "示范县第2机械有限公司"]
    inserts = county.execute(text("SELECT count(*), min(batch_id) FROM change_log WHERE action = 'insert'")).one()
    assert tuple(inserts) == (2, report.batch_id)  # each new parcel is in the change history
    assert rows[0].area_mu == pytest.approx(15.0, rel=1e-6)
    assert rows[1].area_mu == pytest.approx(30.0, rel=1e-6)
    far = county.execute(text("SELECT far_min, far_max FROM parcel WHERE zddm LIKE '%00002'")).one()
    assert tuple(far) == (1.5, None)


def test_rerun_changes_nothing_and_says_so(county: Connection, tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, [parcel_row(1, 0, 0), parcel_row(2, 100, 0)])
    load_parcels(county, path)
    history = county.execute(text("SELECT count(*) FROM change_log")).scalar_one()
    again = load_parcels(county, path)
    assert again.counts == {"read": 2, "inserted": 0, "updated": 0, "unchanged": 2, "rejected": 0}
    assert again.status == "unchanged"
    assert "无变化" in again.message
    assert county.execute(text("SELECT count(*) FROM change_log")).scalar_one() == history


def test_changed_attribute_is_updated_and_recorded(county: Connection, tmp_path: Path) -> None:
    load_parcels(county, write_shapefile(tmp_path / "a", [parcel_row(1, 0, 0)]))
    edited = parcel_row(1, 0, 0)
    edited["权利人"] = "示范县新主人有限公司"
    report = load_parcels(county, write_shapefile(tmp_path / "b", [edited]), ParcelLoadOptions(user="clerk"))
    assert report.counts["updated"] == 1
    change = county.execute(
        text("SELECT actor, batch_id, changes FROM change_log WHERE action = 'update' ORDER BY id DESC LIMIT 1")
    ).one()
    assert change.actor == "clerk"
    assert change.batch_id == report.batch_id
    assert change.changes["right_holder"] == {"old": "示范县第1机械有限公司", "new": "示范县新主人有限公司"}


def test_one_bad_row_fails_the_whole_load(county: Connection, tmp_path: Path) -> None:
    rows = [parcel_row(1, 0, 0), parcel_row(2, 100, 0, 约定容积="看情况")]
    path = write_shapefile(tmp_path, rows)
    with pytest.raises(LoadFailed) as failure:
        load_parcels(county, path)
    issues = failure.value.report.errors
    assert [(i.row, i.field, i.code) for i in issues] == [(2, "约定容积", "far_text")]
    assert _parcels(county) == []  # nothing reached the live table
    status = county.execute(text("SELECT status FROM load_batch ORDER BY id DESC LIMIT 1")).scalar_one()
    assert status == "failed"


def test_accept_partial_loads_the_valid_rows(county: Connection, tmp_path: Path) -> None:
    rows = [parcel_row(1, 0, 0), parcel_row(2, 100, 0, 约定容积="看情况")]
    report = load_parcels(county, write_shapefile(tmp_path, rows), ParcelLoadOptions(accept_partial=True))
    assert report.counts["inserted"] == 1
    assert report.counts["rejected"] == 1
    assert [r.zddm for r in _parcels(county)] == ["330699001001GB00001"]


def test_dry_run_writes_nothing(county: Connection, tmp_path: Path) -> None:
    report = load_parcels(county, write_shapefile(tmp_path, [parcel_row(1, 0, 0)]), ParcelLoadOptions(dry_run=True))
    assert report.counts["inserted"] == 1
    assert report.status == "dry_run"
    assert _parcels(county) == []
    assert county.execute(text("SELECT count(*) FROM load_batch")).scalar_one() == 0


def test_missing_prj_with_zone_prefix_is_detected(county: Connection, tmp_path: Path) -> None:
    report = load_parcels(county, write_shapefile(tmp_path, [parcel_row(1, 0, 0)], prj=False))
    assert report.source["crs"] == "EPSG:4528"
    assert "带号40" in report.source["crs_reason"]


def test_missing_prj_in_central_meridian_form_needs_the_zone(county: Connection, tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, [parcel_row(1, 0, 0)], epsg=4549, prj=False)
    with pytest.raises(Exception, match="中央经线"):
        load_parcels(county, path)
    report = load_parcels(county, path, ParcelLoadOptions(region="330699"))
    assert report.source["crs"] == "EPSG:4549"
    assert _parcels(county)[0].area_mu == pytest.approx(15.0, rel=1e-6)


def test_parcel_outside_its_county_is_refused(county: Connection, tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, [parcel_row(1, 50_000, 0)])
    with pytest.raises(LoadFailed) as failure:
        load_parcels(county, path)
    assert [i.code for i in failure.value.report.errors] == ["outside_region"]


def test_self_intersecting_ring_is_repaired_and_reported(county: Connection, tmp_path: Path) -> None:
    import shapely

    from tests.helpers import GK_EAST, GK_NORTH

    x0, y0 = 40_000_000 + GK_EAST, GK_NORTH
    bowtie = shapely.Polygon([(x0, y0), (x0 + 100, y0 + 100), (x0 + 100, y0), (x0, y0 + 100), (x0, y0)])
    row = parcel_row(1, 0, 0)
    row["geometry"] = bowtie
    report = load_parcels(county, write_shapefile(tmp_path, [row]))
    assert [i.code for i in report.issues if i.severity == "repaired"] == ["geometry_repaired"]
    area = county.execute(text("SELECT area_m2 FROM parcel")).scalar_one()
    assert area == pytest.approx(5_000, rel=1e-6)  # two triangles of the bow tie


def test_overlap_with_an_existing_parcel_is_refused(county: Connection, tmp_path: Path) -> None:
    load_parcels(county, write_shapefile(tmp_path / "a", [parcel_row(1, 0, 0)]))
    with pytest.raises(LoadFailed) as failure:
        load_parcels(county, write_shapefile(tmp_path / "b", [parcel_row(2, 50, 0)]))  # half on top of #1
    assert [i.code for i in failure.value.report.errors] == ["overlap"]
    # touching along an edge is not an overlap
    report = load_parcels(county, write_shapefile(tmp_path / "c", [parcel_row(3, 100, 0)]))
    assert report.counts["inserted"] == 1


def test_duplicate_code_in_file_is_refused(county: Connection, tmp_path: Path) -> None:
    rows = [parcel_row(1, 0, 0), parcel_row(1, 200, 0)]
    with pytest.raises(LoadFailed) as failure:
        load_parcels(county, write_shapefile(tmp_path, rows))
    assert [(i.row, i.code) for i in failure.value.report.errors] == [(2, "duplicate_key")]


def test_invalid_code_is_kept_raw_and_reported(county: Connection, tmp_path: Path) -> None:
    row = parcel_row(1, 0, 0)
    row["宗地代码"] = "临2023-15号"
    report = load_parcels(county, write_shapefile(tmp_path, [row]), ParcelLoadOptions(region="330699"))
    assert [i.code for i in report.issues] == ["zddm_invalid"]
    stored = county.execute(text("SELECT zddm, zddm_raw, zddm_valid FROM parcel")).one()
    assert tuple(stored) == (None, "临2023-15号", False)
    again = load_parcels(
        county,
        write_shapefile(tmp_path / "again", [dict(parcel_row(1, 0, 0), 宗地代码="临2023-15号")]),
        ParcelLoadOptions(region="330699"),
    )
    assert again.counts["unchanged"] == 1  # matched on the raw code, not inserted twice


def test_a_first_load_gives_each_parcel_its_land_code(county: Connection, tmp_path: Path) -> None:
    """Into an empty table the loader writes the 地块码 itself (the 宗地代码 where it is well formed);
    a parcel without one still gets a generated code in its region, as through the trigger."""
    bad = dict(parcel_row(2, 200, 0), 宗地代码="临2023-15号")
    options = ParcelLoadOptions(region="330699")  # the invalid code does not say its region
    report = load_parcels(county, write_shapefile(tmp_path, [parcel_row(1, 0, 0), bad]), options)
    assert report.counts["inserted"] == 2
    codes = county.execute(text("SELECT zddm, zddm_raw, land_code FROM parcel ORDER BY zddm_raw")).all()
    assert codes[0].land_code == codes[0].zddm == "330699001001GB00001"
    assert codes[1].zddm is None and re.fullmatch(r"330699\d{6}L\d{6}", codes[1].land_code)
    # a later load (the table is no longer empty) goes through the trigger and agrees with it
    later = load_parcels(county, write_shapefile(tmp_path / "later", [parcel_row(3, 400, 0)]))
    assert later.counts["inserted"] == 1
    third = county.execute(text("SELECT land_code FROM parcel WHERE zddm = '330699001001GB00003'")).scalar_one()
    assert third == "330699001001GB00003"


def test_a_second_parcel_load_waits_for_the_first(county: Connection, engine: Engine, tmp_path: Path) -> None:
    """Until a load commits, no other load (nor a VACUUM or ANALYZE of parcel) may start: they
    could not see its rows (overlaps between the two files would pass, and statistics would
    call the table empty)."""
    load_parcels(county, write_shapefile(tmp_path, [parcel_row(1, 0, 0)]))  # not committed yet
    with engine.connect() as other:
        with pytest.raises(Conflict, match="另一个宗地导入"):
            lock_parcels(other, wait="200ms")
        other.rollback()
        with pytest.raises(OperationalError, match="lock"):  # what autovacuum's ANALYZE would meet
            other.execute(text("LOCK TABLE parcel IN SHARE UPDATE EXCLUSIVE MODE NOWAIT"))
        other.rollback()
    county.rollback()  # the first load ends ...
    with engine.connect() as other:
        lock_parcels(other, wait="5s")  # ... and the next may start (5 s: autovacuum may be on parcel)
        other.rollback()


def test_a_file_without_a_field_keeps_its_stored_values(county: Connection, tmp_path: Path) -> None:
    load_parcels(county, write_shapefile(tmp_path / "a", [parcel_row(1, 0, 0, 约定容积="1.2-2.0")]))
    without = parcel_row(1, 0, 0)  # no 约定容积 column at all
    report = load_parcels(county, write_shapefile(tmp_path / "b", [without]))
    assert report.counts["unchanged"] == 1
    stored = county.execute(text("SELECT far_agreed_raw, far_min, far_max FROM parcel")).one()
    assert tuple(stored) == ("1.2-2.0", 1.2, 2.0)


def _pinyin(row: dict[str, object]) -> dict[str, object]:
    """The row with the pinyin field names many county systems export (ZDDM, QLR, ZL, ZDMJ)."""
    names = {"宗地代码": "ZDDM", "权利人": "QLR", "坐落": "ZL", "宗地面积": "ZDMJ"}
    return {names.get(k, k): v for k, v in row.items()}


def test_a_wrong_cpg_is_overridden_with_encoding(county: Connection, tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, [_pinyin(parcel_row(1, 0, 0)), _pinyin(parcel_row(2, 100, 0))], encoding="GBK")
    path.with_suffix(".cpg").write_text("UTF-8", encoding="ascii")  # the .cpg lies: the text is GBK
    with pytest.raises(LoadFailed) as failure:
        load_parcels(county, path)
    report = failure.value.report
    assert report.source["encoding_reason"] == ".cpg 文件声明 UTF-8"
    found = {(i.row, i.field, i.code) for i in report.errors}
    assert found == {(r, f, "encoding") for r in (1, 2) for f in ("QLR", "ZL")}
    assert _parcels(county) == []
    fixed = load_parcels(county, path, ParcelLoadOptions(encoding="GBK"))
    assert fixed.source["encoding_reason"] == "由 --encoding 指定"
    assert [r.right_holder for r in _parcels(county)] == ["示范县第1机械有限公司", "示范县第2机械有限公司"]


def test_utf8_text_read_as_gbk_is_mojibake_not_data(county: Connection, tmp_path: Path) -> None:
    # UTF-8 read as GBK: 示范县机械厂 decodes, as 绀鸿寖鍘挎満姊板巶 (mojibake); most text does
    # not decode at all (示范县第2机械有限公司 is 31 bytes). Each cell is reported once.
    rows = [_pinyin(parcel_row(1, 0, 0, 权利人="示范县机械厂")), _pinyin(parcel_row(2, 100, 0))]
    path = write_shapefile(tmp_path, rows, encoding="UTF-8")
    path.with_suffix(".cpg").write_text("GBK", encoding="ascii")
    with pytest.raises(LoadFailed) as failure:
        load_parcels(county, path)
    found = {(i.row, i.field): i.code for i in failure.value.report.errors}
    assert found[(1, "QLR")] == "mojibake"
    assert found[(2, "QLR")] == "encoding"
    assert set(found) == {(r, f) for r in (1, 2) for f in ("QLR", "ZL")}
    assert _parcels(county) == []
    load_parcels(county, path, ParcelLoadOptions(encoding="UTF-8"))
    assert [r.right_holder for r in _parcels(county)] == ["示范县机械厂", "示范县第2机械有限公司"]


def test_chinese_field_names_in_the_wrong_encoding_refuse_the_file(county: Connection, tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, [parcel_row(1, 0, 0)], encoding="UTF-8")
    path.with_suffix(".cpg").write_text("GBK", encoding="ascii")
    with pytest.raises(InvalidInput, match=r"字段名疑似乱码.*--encoding"):
        load_parcels(county, path)
    report = load_parcels(county, path, ParcelLoadOptions(encoding="UTF-8"))
    assert report.counts["inserted"] == 1


def test_an_unknown_encoding_is_refused(county: Connection, tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, [parcel_row(1, 0, 0)])
    with pytest.raises(InvalidInput, match="未知编码"):
        load_parcels(county, path, ParcelLoadOptions(encoding="klingon"))


def _neighbour_county(db: Connection) -> None:
    """330698, a county west of 330699 (20 km x 20 km, 20 km to the west)."""
    from tests.helpers import ewkb, gk_rect

    db.execute(
        text(
            "INSERT INTO region (code, name, level, parent_code, boundary)"
            " VALUES ('330698', '邻县', 3, '330600', ST_GeomFromEWKB(decode(:g, 'hex')))"
        ),
        {"g": ewkb(gk_rect(-30_000, -10_000, 20_000, 20_000))},
    )


def test_rows_outside_the_callers_scope_are_refused(county: Connection, tmp_path: Path) -> None:
    _neighbour_county(county)
    path = write_shapefile(tmp_path, [parcel_row(1, 0, 0), parcel_row(2, 100, 0)])
    set_scope(county, ["330698"])  # a clerk of the neighbouring county
    with pytest.raises(LoadFailed) as failure:
        load_parcels(county, path)
    assert [(i.row, i.code) for i in failure.value.report.errors] == [(1, "out_of_scope"), (2, "out_of_scope")]
    set_scope(county, None)
    assert _parcels(county) == []
    set_scope(county, ["330699"])
    assert load_parcels(county, path).counts["inserted"] == 2


def test_only_a_restricted_scope_checks_existing_parcels_regions(
    county: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An administrator's unrestricted scope ('*') is no scope: no per-batch scope query runs."""
    scoped: list[bool] = []
    original = parcels._Merger.__init__

    def spy(self: parcels._Merger, *args: Any) -> None:
        original(self, *args)
        scoped.append(self.scoped)

    monkeypatch.setattr(parcels._Merger, "__init__", spy)
    path = write_shapefile(tmp_path, [parcel_row(1, 0, 0)])
    load_parcels(county, path)  # a batch job: scope unset
    set_scope(county, None)  # an administrator of every region
    load_parcels(county, path)
    set_scope(county, ["330699"])
    load_parcels(county, path)
    assert scoped == [False, False, True]


def test_a_scoped_file_cannot_take_over_another_countys_parcel(county: Connection, tmp_path: Path) -> None:
    _neighbour_county(county)
    load_parcels(county, write_shapefile(tmp_path / "a", [parcel_row(1, 0, 0)]))  # 330699's parcel
    # the neighbour's clerk sends a parcel in their own county under 330699's code
    row = parcel_row(1, -25_000, 0, 行政区划代码="330698")
    path = write_shapefile(tmp_path / "b", [row])
    set_scope(county, ["330698"])
    with pytest.raises(LoadFailed) as failure:
        load_parcels(county, path)
    assert [(i.row, i.field, i.code) for i in failure.value.report.errors] == [(1, "宗地代码", "out_of_scope")]
    set_scope(county, None)
    assert [r.region_code for r in _parcels(county)] == ["330699"]


def test_accept_partial_reports_every_rejected_row(county: Connection, tmp_path: Path) -> None:
    rows = [parcel_row(1, 0, 0), parcel_row(2, 100, 0, 约定容积="看情况"), parcel_row(3, 200, 0, 约定容积="1.0")]
    rows.append(parcel_row(1, 300, 0))  # the code of row 1 again
    report = load_parcels(county, write_shapefile(tmp_path, rows), ParcelLoadOptions(accept_partial=True))
    assert report.counts == {"read": 4, "inserted": 2, "updated": 0, "unchanged": 0, "rejected": 2}
    assert [(i.file, i.row, i.field, i.code) for i in report.errors] == [
        ("zd.shp", 2, "约定容积", "far_text"),
        ("zd.shp", 4, "宗地代码", "duplicate_key"),
    ]
    csv_text = report.csv_text()
    assert "zd.shp,2,约定容积,错误(拒绝),far_text" in csv_text
    assert "zd.shp,4,宗地代码,错误(拒绝),duplicate_key" in csv_text
    html_text = report.html_text()
    assert html_text.count("<tr class='error'>") == 2 and "看情况" in html_text
    status = county.execute(text("SELECT status, counts FROM load_batch ORDER BY id DESC LIMIT 1")).one()
    assert status.status == "committed" and status.counts["rejected"] == 2


def test_large_files_are_read_in_batches(county: Connection, tmp_path: Path) -> None:
    def rows(far: str) -> list[dict[str, object]]:
        made = [parcel_row(n, 100 * (n % 50), 100 * (n // 50), 约定容积="1.0") for n in range(1, 251)]
        made[199]["约定容积"] = far  # row 200 is in the fourth batch of 64
        return made

    path = write_shapefile(tmp_path, rows("看情况"))
    with pytest.raises(LoadFailed) as failure:
        load_parcels(county, path, ParcelLoadOptions(batch_size=64))
    assert [i.row for i in failure.value.report.errors] == [200]
    assert _parcels(county) == []  # the batches already merged were rolled back
    report = load_parcels(county, write_shapefile(tmp_path / "ok", rows("1.0")), ParcelLoadOptions(batch_size=64))
    assert report.counts["inserted"] == 250
    assert county.execute(text("SELECT count(*), count(DISTINCT zddm) FROM parcel")).one() == (250, 250)


def test_a_blank_standard_land_flag_is_false(county: Connection, tmp_path: Path) -> None:
    rows = [parcel_row(1, 0, 0, 标准地="是"), parcel_row(2, 100, 0, 标准地=""), parcel_row(3, 200, 0, 标准地="否")]
    load_parcels(county, write_shapefile(tmp_path, rows))
    flags = county.execute(text("SELECT is_standard_land FROM parcel ORDER BY zddm")).scalars().all()
    assert flags == [True, False, False]
