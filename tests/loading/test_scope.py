"""Loads under a region scope (a clerk's upload), and loads by a role that row-level security binds.

The tests log in as a superuser, which row-level security never binds. A county's database is
often set up otherwise: the tables owned by a role that is not a superuser, and the scoped
tables have FORCE ROW LEVEL SECURITY, so their owner sees what the scope setting lets it see,
and PostgreSQL refuses it COPY into them. ``bound_by_rls`` turns the test's connection into such
a role for the test's transaction (a role with every privilege on the schema, which the
policies bind as they bind the owner; SECURITY DEFINER functions still run as their owner, the
superuser here). Either way, a clerk's file must not reach a parcel or a
firm outside the clerk's scope, and must be told when a row would.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from landgis.db.engine import set_scope, unscoped
from landgis.loading.batch import LoadFailed
from landgis.loading.enterprises import TableLoadOptions, load_enterprises, load_figures, load_occupancy
from landgis.loading.parcels import load_parcels
from tests.helpers import make_uscc
from tests.loading.conftest import parcel_row, write_shapefile
from tests.loading.test_parcels import _neighbour_county


@pytest.fixture(params=["superuser", "bound_by_rls"])
def login(request: pytest.FixtureRequest, county: Connection) -> Connection:
    """The county, as the tests' superuser and as a role that row-level security binds."""
    return county if request.param == "superuser" else request.getfixturevalue("bound_by_rls")


@pytest.fixture
def bound_by_rls(county: Connection) -> Connection:
    role = f"landgis_rls_loader_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    database = county.execute(text("SELECT current_database()")).scalar_one()
    for statement in (
        f"CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS",
        f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {role}",
        f'GRANT TEMP ON DATABASE "{database}" TO {role}',
    ):
        county.execute(text(statement))
    county.execute(text(f"SET LOCAL ROLE {role}"))
    assert county.execute(text("SELECT row_security_active('parcel')")).scalar_one()
    return county


def _as_superuser(conn: Connection) -> list[tuple]:
    conn.execute(text("RESET ROLE"))
    set_scope(conn, None)
    return conn.execute(text("SELECT zddm, land_code, region_code FROM parcel ORDER BY zddm")).all()


def test_a_first_load_by_a_role_bound_by_row_security_goes_through_the_stage(
    bound_by_rls: Connection, tmp_path: Path
) -> None:
    path = write_shapefile(tmp_path, [parcel_row(1, 0, 0), parcel_row(2, 100, 0)])
    report = load_parcels(bound_by_rls, path)  # a batch job: no scope set
    assert report.counts["inserted"] == 2
    codes = ["330699001001GB00001", "330699001001GB00002"]
    assert _as_superuser(bound_by_rls) == [(code, code, "330699") for code in codes]


def test_a_clerk_who_sees_no_parcel_still_cannot_take_over_one(bound_by_rls: Connection, tmp_path: Path) -> None:
    """330698's clerk sees no parcel at all, yet 330699's parcel with the same 宗地代码 is found."""
    _neighbour_county(bound_by_rls)
    load_parcels(bound_by_rls, write_shapefile(tmp_path / "a", [parcel_row(1, 0, 0)]))  # 330699's parcel
    set_scope(bound_by_rls, ["330698"])
    assert bound_by_rls.execute(text("SELECT count(*) FROM parcel")).scalar_one() == 0
    row = parcel_row(1, -25_000, 0, 行政区划代码="330698")
    with pytest.raises(LoadFailed) as failure:
        load_parcels(bound_by_rls, write_shapefile(tmp_path / "b", [row]))
    assert [(i.row, i.field, i.code) for i in failure.value.report.errors] == [(1, "宗地代码", "out_of_scope")]
    assert _as_superuser(bound_by_rls) == [("330699001001GB00001", "330699001001GB00001", "330699")]


def test_a_clerk_is_told_of_an_overlap_with_a_parcel_they_cannot_see(bound_by_rls: Connection, tmp_path: Path) -> None:
    """330699's clerk, who sees their own parcels, loads one that reaches 30 m over the border
    onto a 330698 parcel: the overlap is refused and the other county's parcel is not named."""
    _neighbour_county(bound_by_rls)
    theirs = dict(parcel_row(900, -10_100, 0), 宗地代码="330698001001GB00001", 行政区划代码="330698")
    load_parcels(bound_by_rls, write_shapefile(tmp_path / "a", [theirs, parcel_row(1, 0, 0)]))
    set_scope(bound_by_rls, ["330699"])
    assert bound_by_rls.execute(text("SELECT count(*) FROM parcel")).scalar_one() == 1
    with pytest.raises(LoadFailed) as failure:
        load_parcels(bound_by_rls, write_shapefile(tmp_path / "b", [parcel_row(2, -10_030, 0)]))
    [issue] = failure.value.report.errors
    assert (issue.row, issue.field, issue.code, issue.value) == (1, "geometry", "overlap", "(管辖范围外的宗地)")
    assert [r.zddm for r in _as_superuser(bound_by_rls)] == ["330698001001GB00001", "330699001001GB00001"]


REGISTER = "统一社会信用代码,企业名称,行政区划代码"
FIRMS = [
    (make_uscc(1), "示范县第1机械有限公司", "330699"),
    (None, "示范县无码五金厂", "330699"),
    (make_uscc(3, "330698"), "邻县第3纺织有限公司", "330698"),
]


def _csv(path: Path, header: str, rows: list[tuple]) -> Path:
    lines = [header, *(",".join("" if v is None else str(v) for v in row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="gbk")
    return path


def _firms(conn: Connection, tmp_path: Path) -> None:
    """330699's firm with a code and one without, and 330698's firm, loaded by a batch job."""
    _neighbour_county(conn)
    register = _csv(tmp_path / "firms.csv", REGISTER, FIRMS)
    assert load_enterprises(conn, register).counts["inserted"] == 3


def _register(conn: Connection) -> set[tuple]:
    """The whole register, read as the superuser; the connection goes back to its role after."""
    role = conn.execute(text("SELECT current_user")).scalar_one()
    conn.execute(text("RESET ROLE"))
    set_scope(conn, None)
    firms = set(conn.execute(text("SELECT uscc, name, region_code FROM enterprise")).all())
    conn.execute(text("SELECT set_config('role', :role, true)"), {"role": role})
    return firms


def _refused_register(conn: Connection, path: Path, rows: list[tuple]) -> list[tuple]:
    """(row, field, code) of each error of a register load that must fail."""
    with pytest.raises(LoadFailed) as failure:
        load_enterprises(conn, _csv(path, REGISTER, rows))
    return [(i.row, i.field, i.code) for i in failure.value.report.errors]


def test_a_clerks_register_cannot_take_over_another_countys_firms(login: Connection, tmp_path: Path) -> None:
    _firms(login, tmp_path)
    set_scope(login, ["330698"])
    rows = [
        (make_uscc(1), "邻县冒名有限公司", "330698"),  # 330699's code
        (None, "示范县无码五金厂", "330698"),  # 330699's firm without a code, by its name
        (make_uscc(3, "330698"), "邻县第3纺织股份有限公司", "330698"),  # the clerk's own firm
    ]
    assert _refused_register(login, tmp_path / "mine.csv", rows) == [
        (2, "统一社会信用代码", "out_of_scope"),
        (3, "企业名称", "out_of_scope"),
    ]
    assert _register(login) == set(FIRMS)
    # the control: the clerk's own firm alone goes through
    set_scope(login, ["330698"])
    own = _csv(tmp_path / "own.csv", REGISTER, rows[2:])
    assert load_enterprises(login, own).counts["updated"] == 1


def test_a_clerk_cannot_give_figures_to_another_countys_firm(login: Connection, tmp_path: Path) -> None:
    _firms(login, tmp_path)
    superuser = login.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar_one()
    set_scope(login, ["330698"])
    rows = [(make_uscc(1), 999.0), (make_uscc(3, "330698"), 120.5)]
    figures = _csv(tmp_path / "2023.csv", "统一社会信用代码,税收(万元)", rows)
    with pytest.raises(LoadFailed) as failure:
        load_figures(login, figures, TableLoadOptions(year=2023))
    [issue] = failure.value.report.errors
    # A superuser's look-up finds the firm and refuses it; a role bound by row-level security
    # does not find it at all (and so cannot tell the clerk that it exists elsewhere).
    assert (issue.row, issue.field) == (2, "统一社会信用代码")
    assert issue.code == ("out_of_scope" if superuser else "enterprise_unknown")
    set_scope(login, None)
    assert login.execute(text("SELECT count(*) FROM enterprise_year")).scalar_one() == 0


def test_a_clerk_cannot_register_a_firm_without_its_region(login: Connection, tmp_path: Path) -> None:
    """Without 所在乡镇 only the unrestricted would see the new firm again (and row-level security,
    where it binds, refuses the insert): the clerk is told to fill it in."""
    _firms(login, tmp_path)
    set_scope(login, ["330698"])
    rows = [(make_uscc(7, "330698"), "邻县新办有限公司", None), (None, "邻县无码新厂", None)]
    garbled = (make_uscc(8, "330698"), "邻县错码厂", "33069X")  # filled in, wrongly: said once
    assert sorted(_refused_register(login, tmp_path / "new.csv", [*rows, garbled])) == [
        (2, "行政区划代码", "region_required"),
        (3, "行政区划代码", "region_required"),
        (4, "行政区划代码", "bad_value"),
    ]
    assert _register(login) == set(FIRMS)
    set_scope(login, ["330698"])
    with_region = [(code, name, "330698") for code, name, _ in rows]
    assert load_enterprises(login, _csv(tmp_path / "ok.csv", REGISTER, with_region)).counts["inserted"] == 2


def test_a_clerk_cannot_claim_a_firm_no_scope_reaches_by_giving_it_land(login: Connection, tmp_path: Path) -> None:
    """A firm registered without its region is the unrestricted's to place: a clerk's land-use
    table would otherwise make it (and its figures) the clerk's."""
    superuser = login.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar_one()
    load_parcels(login, write_shapefile(tmp_path / "p", [parcel_row(1, 0, 0)]))
    load_enterprises(login, _csv(tmp_path / "r.csv", "统一社会信用代码,企业名称", [(make_uscc(5), "无乡镇有限公司")]))
    header = "统一社会信用代码,企业名称,宗地代码,使用面积(亩),权属"
    table = _csv(tmp_path / "use.csv", header, [(make_uscc(5), "无乡镇有限公司", "330699001001GB00001", 10, "自有")])
    set_scope(login, ["330699"])
    with pytest.raises(LoadFailed) as failure:
        load_occupancy(login, table)
    [issue] = failure.value.report.errors
    assert (issue.row, issue.field) == (2, "统一社会信用代码")
    assert issue.code == ("out_of_scope" if superuser else "enterprise_unknown")
    set_scope(login, None)
    assert login.execute(text("SELECT count(*) FROM occupancy")).scalar_one() == 0
    assert load_occupancy(login, table).counts["inserted"] == 1  # the unrestricted may


def _firm_using_land_next_door(conn: Connection, tmp_path: Path) -> None:
    """The firms, and 330699's coded firm using a parcel in 330698 (so 330698's clerk sees it)."""
    _firms(conn, tmp_path)
    theirs = dict(parcel_row(900, -25_000, 0), 宗地代码="330698001001GB00001", 行政区划代码="330698")
    load_parcels(conn, write_shapefile(tmp_path / "next-door", [theirs]))
    header = "统一社会信用代码,企业名称,宗地代码,使用面积(亩),权属"
    use = [(make_uscc(1), "示范县第1机械有限公司", "330698001001GB00001", 10, "租赁")]
    assert load_occupancy(conn, _csv(tmp_path / "use.csv", header, use)).counts["inserted"] == 1


def test_a_clerk_cannot_rewrite_a_firm_registered_next_door(login: Connection, tmp_path: Path) -> None:
    """330699's firm leases land in 330698, so 330698's clerk sees it; their register may not
    move it to 330698, clear its region or rename it: its register is 330699's."""
    _firm_using_land_next_door(login, tmp_path)
    set_scope(login, ["330698"])
    assert login.execute(text("SELECT count(*) FROM enterprise WHERE uscc = :c"), {"c": make_uscc(1)}).scalar() == 1
    rows = [
        (make_uscc(1), "示范县第1机械有限公司", "330698"),
        (make_uscc(1), "示范县第1机械有限公司", None),
        (make_uscc(1), "示范县第一机械有限公司", None),
    ]
    for n, row in enumerate(rows):
        assert _refused_register(login, tmp_path / f"{n}.csv", [row]) == [(2, "统一社会信用代码", "out_of_scope")]
    assert _register(login) == set(FIRMS)
    # the control: 330699's clerk may rename it, and may not clear its region either
    set_scope(login, ["330699"])
    assert _refused_register(login, tmp_path / "clear.csv", rows[2:]) == [(2, "行政区划代码", "region_required")]
    set_scope(login, ["330699"])
    renamed = _csv(tmp_path / "rename.csv", REGISTER, [(make_uscc(1), "示范县第一机械有限公司", "330699")])
    assert load_enterprises(login, renamed).counts["updated"] == 1
    assert (make_uscc(1), "示范县第一机械有限公司", "330699") in _register(login)


def test_a_register_without_the_region_column_keeps_the_regions_on_record(login: Connection, tmp_path: Path) -> None:
    """A tax bureau's list of codes and names (no 所在乡镇) updates names, not regions: loaded by
    a clerk of 330699, and by a batch job."""
    _firms(login, tmp_path)
    header = "统一社会信用代码,企业名称"
    set_scope(login, ["330699"])
    clerks = _csv(tmp_path / "tax-330699.csv", header, [(make_uscc(1), "示范县第一机械有限公司")])
    assert load_enterprises(login, clerks).counts["updated"] == 1
    assert login.execute(text("SELECT current_setting('landgis.scope')")).scalar_one() == "330699"
    set_scope(login, None)
    batch = _csv(tmp_path / "tax.csv", header, [(make_uscc(3, "330698"), "邻县第三纺织有限公司")])
    assert load_enterprises(login, batch).counts["updated"] == 1
    assert _register(login) == {
        (make_uscc(1), "示范县第一机械有限公司", "330699"),
        FIRMS[1],
        (make_uscc(3, "330698"), "邻县第三纺织有限公司", "330698"),
    }


def test_unscoped_gives_back_the_scope_and_the_error_that_ended_it(county: Connection) -> None:
    set_scope(county, ["330698"])

    def look_then_fail() -> None:
        with unscoped(county):
            assert county.execute(text("SELECT landgis_in_scope('330699')")).scalar_one()
            raise KeyError("a Python error: the transaction goes on")

    with pytest.raises(KeyError):
        look_then_fail()
    assert county.execute(text("SELECT current_setting('landgis.scope')")).scalar_one() == "330698"
    savepoint = county.begin_nested()
    with pytest.raises(DBAPIError) as failure, unscoped(county):
        county.execute(text("SELECT 1 / 0"))
    assert isinstance(failure.value.orig, psycopg.errors.DivisionByZero)  # not InFailedSqlTransaction
    savepoint.rollback()
    assert county.execute(text("SELECT current_setting('landgis.scope')")).scalar_one() == "330698"


def test_a_clerks_parcel_gets_a_new_land_code_when_a_hidden_parcel_holds_its_code(
    bound_by_rls: Connection, tmp_path: Path
) -> None:
    """330699's parcel keeps 地块码 330699001001GB00001 after its 宗地代码 was corrected; 330698's
    clerk then loads a parcel under that 宗地代码: it gets a generated 地块码 (revision 0018),
    where the 地块码 trigger, blind to the hidden parcel, gave it the taken one."""
    _neighbour_county(bound_by_rls)
    load_parcels(bound_by_rls, write_shapefile(tmp_path / "a", [parcel_row(1, 0, 0)]))
    bound_by_rls.execute(text("UPDATE parcel SET zddm = '330699001001GB00002', zddm_raw = '330699001001GB00002'"))
    set_scope(bound_by_rls, ["330698"])
    row = parcel_row(1, -25_000, 0, 行政区划代码="330698")
    assert load_parcels(bound_by_rls, write_shapefile(tmp_path / "b", [row])).counts["inserted"] == 1
    ours, theirs = _as_superuser(bound_by_rls)  # by 宗地代码
    assert ours == ("330699001001GB00001", ours.land_code, "330698")
    assert ours.land_code.startswith("330698") and ours.land_code[12] == "L"
    assert theirs == ("330699001001GB00002", "330699001001GB00001", "330699")
