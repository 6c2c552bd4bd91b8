"""What the database itself enforces for the service's role (landgis_app): row-level security by
region scope, closed when no scope was set, and an audit trail it cannot change."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import ProgrammingError

from landgis.db.engine import set_scope
from tests.api.conftest import TwoCounties, build_two_counties


@pytest.fixture
def two_counties(db: Connection) -> TwoCounties:
    return build_two_counties(db)


def as_app(db: Connection, scope: list[str] | None) -> None:
    db.execute(text("SET LOCAL ROLE landgis_app"))
    set_scope(db, scope)


def test_the_service_role_sees_only_its_scope(db: Connection, two_counties: TwoCounties) -> None:
    as_app(db, [two_counties.a.code])
    for table in ("parcel", "occupancy", "enterprise", "enterprise_year"):
        assert db.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 1, table
    codes = db.execute(text("SELECT region_code FROM parcel")).scalars().all()
    assert codes == [two_counties.a.code]


def test_the_service_role_sees_nothing_before_a_scope_is_set(db: Connection, two_counties: TwoCounties) -> None:
    db.execute(text("SET LOCAL ROLE landgis_app"))
    db.execute(text("SELECT set_config('landgis.scope', '', true)"))
    assert db.execute(text("SELECT count(*) FROM parcel")).scalar_one() == 0
    set_scope(db, None)  # unrestricted, explicitly
    assert db.execute(text("SELECT count(*) FROM parcel")).scalar_one() == 2


def test_a_write_cannot_move_a_parcel_out_of_scope(db: Connection, two_counties: TwoCounties) -> None:
    as_app(db, [two_counties.a.code])
    with pytest.raises(ProgrammingError, match="row-level security"):
        db.execute(
            text("UPDATE parcel SET region_code = :b WHERE id = :id"),
            {"b": two_counties.b.code, "id": two_counties.a.parcel_id},
        )


def test_a_write_to_another_county_touches_nothing(db: Connection, two_counties: TwoCounties) -> None:
    as_app(db, [two_counties.a.code])
    changed = db.execute(text("UPDATE parcel SET far = 9 WHERE id = :id"), {"id": two_counties.b.parcel_id})
    assert changed.rowcount == 0


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE change_log SET actor = 'nobody'",
        "DELETE FROM change_log",
        "INSERT INTO change_log (actor, table_name, row_id, action) VALUES ('x', 'parcel', 1, 'update')",
        "UPDATE audit_event SET actor = 'nobody'",
        "DELETE FROM audit_event",
        "TRUNCATE change_log",
        "UPDATE alembic_version SET version_num = 'x'",
    ],
)
def test_the_audit_trail_cannot_be_changed_by_the_service_role(
    db: Connection, two_counties: TwoCounties, statement: str
) -> None:
    db.execute(text("SELECT landgis_audit('probe', NULL, NULL, NULL, '{}'::jsonb)"))
    as_app(db, None)
    with pytest.raises(ProgrammingError, match="permission denied"):
        db.execute(text(statement))


def test_row_changes_by_the_service_role_are_still_recorded(db: Connection, two_counties: TwoCounties) -> None:
    as_app(db, [two_counties.a.code])
    db.execute(text("SELECT set_config('landgis.actor', 'zhang.san', true)"))
    db.execute(text("UPDATE parcel SET far = 1.5 WHERE id = :id"), {"id": two_counties.a.parcel_id})
    entry = db.execute(
        text(
            "SELECT actor, changes FROM change_log WHERE table_name = 'parcel' AND row_id = :id AND action = 'update'"
        ),
        {"id": two_counties.a.parcel_id},
    ).one()
    assert entry.actor == "zhang.san" and entry.changes == {"far": {"old": 0.8, "new": 1.5}}


def test_history_of_another_county_is_hidden(db: Connection, two_counties: TwoCounties) -> None:
    db.execute(
        text("UPDATE parcel SET far = 2 WHERE id IN (:a, :b)"),
        {"a": two_counties.a.parcel_id, "b": two_counties.b.parcel_id},
    )
    db.execute(text("DELETE FROM occupancy WHERE id = :id"), {"id": two_counties.b.occupancy_id})
    as_app(db, [two_counties.a.code])
    rows = db.execute(text("SELECT DISTINCT table_name, row_id FROM change_log WHERE action <> 'insert'")).all()
    assert set(rows) == {("parcel", two_counties.a.parcel_id)}


def test_bbox_queries_use_the_spatial_index_under_row_level_security(db: Connection, two_counties: TwoCounties) -> None:
    db.execute(text("SET LOCAL enable_seqscan = off"))
    as_app(db, [two_counties.a.code])
    plan = "\n".join(
        db.execute(
            text("EXPLAIN SELECT id FROM parcel WHERE geom && ST_MakeEnvelope(120, 29, 121, 31, 4490)")
        ).scalars()
    )
    assert "ix_parcel_geom" in plan, plan
