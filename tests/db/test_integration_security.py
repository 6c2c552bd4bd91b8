"""Revision 0008: evaluation runs, results, aggregates and plans under the service role's region
scope, aggregates rebuilt by the service role without lifting its scope, and the tables map layers
read bumping the tile cache's data version."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import ProgrammingError

from landgis.aggregates import ensure_parcel_stats, ensure_totals
from landgis.db.engine import set_scope
from tests.api.conftest import TwoCounties, build_two_counties
from tests.helpers import add_evaluation_run

APP = "landgis_app"


@pytest.fixture
def two_counties(db: Connection) -> TwoCounties:
    return build_two_counties(db)


def as_app(db: Connection, scope: list[str] | None) -> None:
    db.execute(text(f"SET LOCAL ROLE {APP}"))
    set_scope(db, scope)


def _run(db: Connection, region: str | None, *parcels: int) -> int:
    """A 2023 run recorded for ``region`` (None: every region) classing ``parcels`` B."""
    return add_evaluation_run(db, 2023, [(p, "B", None, None) for p in parcels], region_code=region)


def test_runs_and_classes_show_where_their_parcels_are(db: Connection, two_counties: TwoCounties) -> None:
    a, b = two_counties.a, two_counties.b
    everywhere = _run(db, None, a.parcel_id, b.parcel_id)  # an administrator's run
    only_b = _run(db, b.code, b.parcel_id)
    runs = text("SELECT id FROM evaluation_run ORDER BY id")
    classed = text("SELECT parcel_id FROM v_parcel_class ORDER BY parcel_id")
    as_app(db, [a.code])
    assert db.execute(runs).scalars().all() == [everywhere]  # through its parcel in A
    assert db.execute(classed).scalars().all() == [a.parcel_id]
    assert db.execute(text("SELECT count(*) FROM evaluation_parcel")).scalar_one() == 1
    as_app(db, None)  # an administrator of every region
    assert db.execute(runs).scalars().all() == [everywhere, only_b]
    with db.begin_nested() as attempt:  # nobody records a run for a region outside their scope
        as_app(db, [a.code])
        with pytest.raises(ProgrammingError, match="row-level security"):
            _run(db, b.code)
        attempt.rollback()


def test_a_plan_without_a_region_is_the_unrestricted_users(db: Connection, two_counties: TwoCounties) -> None:
    a = two_counties.a
    for name, region in (("全域方案", None), ("甲县方案", a.code)):
        plan = db.execute(
            text("INSERT INTO plan (name, year, region_code, request) VALUES (:n, 2023, :r, '{}') RETURNING id"),
            {"n": name, "r": region},
        ).scalar_one()
        db.execute(
            text("INSERT INTO plan_parcel (plan_id, parcel_id, area_mu) VALUES (:pl, :p, 15)"),
            {"pl": plan, "p": a.parcel_id},
        )
    plans = text(
        "SELECT pl.name, count(pp.parcel_id) FROM plan pl LEFT JOIN plan_parcel pp ON pp.plan_id = pl.id"
        " GROUP BY pl.name ORDER BY pl.name"
    )
    as_app(db, None)
    assert db.execute(plans).all() == [("全域方案", 1), ("甲县方案", 1)]
    as_app(db, [a.code])
    assert db.execute(plans).all() == [("甲县方案", 1)]
    as_app(db, [two_counties.b.code])
    assert db.execute(plans).all() == []


def test_the_service_role_rebuilds_aggregates_for_everyone_and_reads_its_scope(
    db: Connection, two_counties: TwoCounties
) -> None:
    a, b = two_counties.a, two_counties.b
    as_app(db, [a.code])
    assert ensure_totals(db, 2023, force=True)
    assert ensure_parcel_stats(db, 2023) is False  # fresh: the marks are the whole database's
    assert db.execute(text("SELECT parcel_id FROM parcel_year_stat")).scalars().all() == [a.parcel_id]
    assert db.execute(text("SELECT DISTINCT region_code FROM totals_cell")).scalars().all() == [a.code]
    assert db.execute(text("SELECT current_setting('landgis.scope')")).scalar_one() == a.code  # scope kept
    for statement in ("DELETE FROM parcel_year_stat", "INSERT INTO totals_cell SELECT * FROM totals_cell"):
        with db.begin_nested() as attempt:
            with pytest.raises(ProgrammingError, match="permission denied"):
                db.execute(text(statement))
            attempt.rollback()
    db.execute(text("RESET ROLE"))
    built = db.execute(text("SELECT parcel_id FROM parcel_year_stat ORDER BY parcel_id")).scalars().all()
    assert built == sorted([a.parcel_id, b.parcel_id])
    assert db.execute(text("SELECT count(DISTINCT region_code) FROM totals_cell")).scalar_one() == 2


@pytest.mark.parametrize("table", ["evaluation_run", "evaluation_parcel", "parcel_colour", "plan", "plan_parcel"])
def test_tables_map_layers_read_bump_the_data_version(db: Connection, table: str) -> None:
    tracked = db.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
            " WHERE t.tgrelid = to_regclass(:t) AND p.proname = 'landgis_bump_data_version')"
        ),
        {"t": table},
    ).scalar_one()
    assert tracked
