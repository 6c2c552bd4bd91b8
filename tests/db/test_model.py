"""The data model's rules: areas in 亩, constraints on codes, and the change history triggers."""

from __future__ import annotations

import pytest
from psycopg.errors import Diagnostic
from pyproj import Geod
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from landgis.db.engine import set_audit_context
from tests.helpers import ewkb, gk_rect, gk_square, make_uscc


@pytest.fixture
def county(db: Connection) -> Connection:
    db.execute(text("INSERT INTO region (code, name, level) VALUES ('330699', '示范县', 3)"))
    return db


def _insert_parcel(db: Connection, geom_hex: str, zddm: str | None = None) -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO parcel (zddm, zddm_raw, zddm_valid, region_code, geom)"
                " VALUES (:z, :raw, :valid, '330699', ST_GeomFromEWKB(decode(:g, 'hex'))) RETURNING id"
            ),
            {"z": zddm, "raw": zddm, "valid": zddm is not None, "g": geom_hex},
        ).scalar_one()
    )


def test_area_in_mu_of_a_hand_computed_square(county: Connection) -> None:
    # 100 m x 100 m in the GK zone = 10 000 m² = 15 亩 exactly (1亩 = 10000/15 m²).
    pid = _insert_parcel(county, ewkb(gk_square(0, 0, 100)))
    srid, area_m2, area_mu = county.execute(
        text("SELECT gk_srid, area_m2, area_mu FROM parcel WHERE id = :id"), {"id": pid}
    ).one()
    assert srid == 4549
    assert area_m2 == pytest.approx(10_000, rel=1e-8)
    assert area_mu == pytest.approx(15.0, rel=1e-8)


@pytest.mark.parametrize(("width", "height"), [(37.5, 412.0), (250.0, 250.0), (1200.0, 800.0)])
def test_area_matches_geodesic_within_a_tenth_of_a_percent(county: Connection, width: float, height: float) -> None:
    geom = gk_rect(-30_000, 5_000, width, height)
    pid = _insert_parcel(county, ewkb(geom))
    area_mu = county.execute(text("SELECT area_mu FROM parcel WHERE id = :id"), {"id": pid}).scalar_one()
    geodesic_m2 = abs(Geod(ellps="GRS80").geometry_area_perimeter(geom)[0])
    assert area_mu == pytest.approx(geodesic_m2 / 666.67, rel=1e-3)


def test_area_follows_a_geometry_edit(county: Connection) -> None:
    pid = _insert_parcel(county, ewkb(gk_square(0, 0, 100)))
    county.execute(
        text("UPDATE parcel SET geom = ST_GeomFromEWKB(decode(:g, 'hex')) WHERE id = :id"),
        {"g": ewkb(gk_square(0, 0, 200)), "id": pid},
    )
    assert county.execute(text("SELECT area_mu FROM parcel WHERE id = :id"), {"id": pid}).scalar_one() == (
        pytest.approx(60.0, rel=1e-8)
    )


def test_invalid_zddm_is_refused_by_the_database(county: Connection) -> None:
    with pytest.raises(IntegrityError, match="ck_parcel_zddm_format"):
        _insert_parcel(county, ewkb(gk_square(0, 0, 10)), zddm="330699001001GI00001")


def test_parcel_geometry_must_be_4490(county: Connection) -> None:
    with pytest.raises(Exception, match="SRID"):
        county.execute(
            text(
                "INSERT INTO parcel (region_code, geom) VALUES ('330699',"
                " ST_Multi(ST_MakeEnvelope(558000, 3320000, 558100, 3320100, 4549)))"
            )
        )


def test_uscc_format_constraint(county: Connection) -> None:
    county.execute(text("INSERT INTO enterprise (uscc, name) VALUES (:u, '甲公司')"), {"u": make_uscc(1)})
    with pytest.raises(IntegrityError):
        county.execute(text("INSERT INTO enterprise (uscc, name) VALUES ('91330699MA000001IO', '乙公司')"))


def test_change_history_records_who_what_old_and_new(county: Connection) -> None:
    pid = _insert_parcel(county, ewkb(gk_square(0, 0, 100)), zddm="330699001001GB00001")
    set_audit_context(county, actor="officer:张三", client_addr="10.0.0.8", request_id="req-1")
    county.execute(text("UPDATE parcel SET renewal_status = 'identified', far = 0.8 WHERE id = :id"), {"id": pid})
    county.execute(text("UPDATE parcel SET far = 0.8 WHERE id = :id"), {"id": pid})  # no change: no history
    rows = county.execute(
        text(
            "SELECT actor, client_addr, request_id, action, changes FROM change_log"
            " WHERE table_name = 'parcel' AND row_id = :id ORDER BY id"
        ),
        {"id": pid},
    ).all()
    assert [r.action for r in rows] == ["insert", "update"]
    update = rows[1]
    assert update.actor == "officer:张三" and update.client_addr == "10.0.0.8" and update.request_id == "req-1"
    assert update.changes == {
        "renewal_status": {"old": "normal", "new": "identified"},
        "far": {"old": None, "new": 0.8},
    }


def test_geometry_change_is_recorded_with_old_and_new_shapes(county: Connection) -> None:
    pid = _insert_parcel(county, ewkb(gk_square(0, 0, 100)))
    county.execute(
        text("UPDATE parcel SET geom = ST_GeomFromEWKB(decode(:g, 'hex')) WHERE id = :id"),
        {"g": ewkb(gk_square(0, 0, 120)), "id": pid},
    )
    changes = county.execute(
        text("SELECT changes FROM change_log WHERE row_id = :id AND action = 'update'"), {"id": pid}
    ).scalar_one()
    assert set(changes) >= {"geom", "area_mu", "area_m2"}
    assert changes["geom"]["old"]["type"] == "MultiPolygon"
    assert changes["area_mu"]["new"] == pytest.approx(21.6, rel=1e-6)


def test_updated_at_moves_only_on_real_changes(county: Connection) -> None:
    pid = _insert_parcel(county, ewkb(gk_square(0, 0, 100)))
    county.execute(text("ALTER TABLE parcel DISABLE TRIGGER parcel_updated_at"))
    county.execute(text("UPDATE parcel SET updated_at = '2000-01-01' WHERE id = :id"), {"id": pid})
    county.execute(text("ALTER TABLE parcel ENABLE TRIGGER parcel_updated_at"))
    county.execute(text("UPDATE parcel SET far = far WHERE id = :id"), {"id": pid})
    same = county.execute(text("SELECT updated_at FROM parcel WHERE id = :id"), {"id": pid}).scalar_one()
    county.execute(text("UPDATE parcel SET far = 2.0 WHERE id = :id"), {"id": pid})
    moved = county.execute(text("SELECT updated_at FROM parcel WHERE id = :id"), {"id": pid}).scalar_one()
    assert same.year == 2000 and moved.year > 2000


def test_occupancy_many_to_many(county: Connection) -> None:
    p1 = _insert_parcel(county, ewkb(gk_square(0, 0, 100)))
    p2 = _insert_parcel(county, ewkb(gk_square(200, 0, 100)))
    e1, e2 = (
        county.execute(
            text("INSERT INTO enterprise (uscc, name) VALUES (:u, :n) RETURNING id"),
            {"u": make_uscc(n), "n": f"企业{n}"},
        ).scalar_one()
        for n in (1, 2)
    )
    rows = [(e1, p1, None, "own"), (e1, p2, None, "own"), (e2, p1, 3.0, "lease")]  # 一企多地 and 一地多企
    for eid, pid, area, tenure in rows:
        county.execute(
            text("INSERT INTO occupancy (enterprise_id, parcel_id, land_area_mu, tenure) VALUES (:e, :p, :a, :t)"),
            {"e": eid, "p": pid, "a": area, "t": tenure},
        )
    firms_on_p1 = county.execute(text("SELECT count(*) FROM occupancy WHERE parcel_id = :p"), {"p": p1}).scalar_one()
    parcels_of_e1 = county.execute(
        text("SELECT count(*) FROM occupancy WHERE enterprise_id = :e"), {"e": e1}
    ).scalar_one()
    assert firms_on_p1 == 2 and parcels_of_e1 == 2
    with pytest.raises(IntegrityError):  # the same link twice (validity NULL counts as equal)
        county.execute(
            text("INSERT INTO occupancy (enterprise_id, parcel_id, tenure) VALUES (:e, :p, 'own')"), {"e": e1, "p": p1}
        )


@pytest.mark.parametrize(
    ("scope", "code", "expected"),
    [
        (None, "330699001", True),
        (["330699"], "330699001", True),
        (["330699"], "330701", False),
        (["330701", "330699001"], "330699001", True),
        (["330699001"], "330699", False),  # a township scope does not cover the whole county
        ([], "330699", False),
        (["330699"], None, False),
    ],
)
def test_region_scope(db: Connection, scope: list[str] | None, code: str | None, expected: bool) -> None:
    from landgis.db.engine import set_scope

    set_scope(db, scope)
    assert db.execute(text("SELECT landgis_in_scope(:c)"), {"c": code}).scalar_one() is expected


def test_region_scope_is_inlined_into_queries(db: Connection) -> None:
    """landgis_in_scope sits in every row-level security policy: PostgreSQL must inline it (a call
    through the SQL-function executor per row cost a third of a dense map tile's time)."""
    from landgis.db.engine import set_scope

    set_scope(db, ["330699"])
    plan = "\n".join(
        db.execute(text("EXPLAIN (VERBOSE) SELECT id FROM parcel WHERE landgis_in_scope(region_code)")).scalars()
    )
    assert "current_setting" in plan and "landgis_in_scope" not in plan


def test_request_settings_are_read_in_parallel_workers(db: Connection) -> None:
    """``landgis_setting()`` may run in a parallel worker (revision 0014_parallel_setting), and
    there it reads the leader's request context."""
    db.execute(text("SELECT set_config('landgis.scope', '330699', true)"))
    version = int(db.execute(text("SHOW server_version_num")).scalar_one())
    force = "debug_parallel_query" if version >= 160000 else "force_parallel_mode"
    db.execute(text(f"SET LOCAL {force} = on"))
    query = "SELECT landgis_setting('landgis.scope') FROM generate_series(1, 3)"
    plan = db.execute(text(f"EXPLAIN (COSTS OFF) {query}")).scalars().all()
    assert plan[0].startswith("Gather"), plan
    assert db.execute(text(query)).scalars().all() == ["330699"] * 3


def test_land_codes_of_a_first_load_are_looked_up_by_index(county: Connection) -> None:
    """The 地块码 trigger's per-row check for an existing code goes through the index even when
    the statistics say the table is empty (revision 0015_land_code_lookup). Planned as a
    sequential scan, a first load scanned every parcel inserted before each new one."""
    county.execute(text("DELETE FROM parcel"))
    county.execute(text("ANALYZE parcel"))  # empty, and the planner knows it
    county.execute(
        text(
            "INSERT INTO parcel (zddm, zddm_raw, zddm_valid, region_code, geom)"
            " SELECT z, z, true, '330699', ST_Multi(ST_MakeEnvelope(120.6 + i * 0.001, 30.0,"
            "  120.6005 + i * 0.001, 30.0005, 4490))"
            " FROM generate_series(1, 60) i, LATERAL (SELECT '330699001001GB' || lpad(i::text, 5, '0') AS z) c"
        )
    )
    codes = county.execute(text("SELECT count(*) FROM parcel WHERE land_code = zddm")).scalar_one()
    assert codes == 60  # each took its 宗地代码 as 地块码
    # one index look-up per row (uq_parcel_land_code); with a sequential plan there are none
    index_scans = county.execute(
        text("SELECT idx_scan FROM pg_stat_xact_user_tables WHERE relid = 'parcel'::regclass")
    ).scalar_one()
    assert index_scans >= 60


def test_the_gauss_kruger_zone_is_inlined_and_keeps_its_zones(county: Connection) -> None:
    """``landgis_gk_srid`` is inlined into the queries and triggers that call it (revision
    0017_cheaper_parcel_writes); run through the SQL-function executor it cost a call per row."""
    plan = "\n".join(
        county.execute(text("EXPLAIN (VERBOSE, COSTS OFF) SELECT landgis_gk_srid(geom) FROM parcel")).scalars()
    )
    assert "landgis_gk_srid" not in plan and "st_centroid" in plan, plan
    zones = county.execute(
        text(
            "SELECT landgis_gk_srid(NULL), landgis_gk_srid(ST_Point(60, 30, 4490)),"
            " landgis_gk_srid(ST_Point(120.6, 30, 4490)), landgis_gk_srid(ST_Point(121.49, 30, 4490)),"
            " landgis_gk_srid(ST_Point(150, 30, 4490)), landgis_gk_srid('SRID=4490;POLYGON EMPTY'::geometry)"
        )
    ).one()
    # NULL stays NULL; zones clamp to 75°E (4534) and 135°E (4554); 120°E is 4549, 121.5°E rounds
    # up; an empty geometry has no centroid and no zone (so no area: a parcel needs one)
    assert tuple(zones) == (None, 4534, 4549, 4549, 4554, None)


def test_colour_rules_turn_their_lists_into_arrays_once_per_rule(county: Connection) -> None:
    """The colour refresh reads each rule's lists (states, classes ...) once per rule, not once
    per parcel and rule (revision 0017_cheaper_parcel_writes)."""
    county.execute(text("SET LOCAL track_functions = 'all'"))
    county.execute(
        text(
            "INSERT INTO parcel (region_code, geom, renewal_status)"
            " SELECT '330699', ST_Multi(ST_MakeEnvelope(120.6 + i * 0.001, 30.0, 120.6005 + i * 0.001, 30.0005,"
            "  4490)), 'identified' FROM generate_series(1, 80) i"
        )
    )
    rules = county.execute(text("SELECT count(*) FROM colour_rule WHERE enabled")).scalar_one()
    calls = county.execute(
        text("SELECT pg_stat_get_xact_function_calls('landgis_text_array(jsonb)'::regprocedure)")
    ).scalar_one()
    assert 0 < rules and calls is not None
    assert calls <= 5 * rules < 80, calls  # five lists per rule; per parcel it was 80 and more
    yellow = county.execute(text("SELECT count(*) FROM parcel_colour WHERE colour <> 'green'")).scalar_one()
    assert yellow == 80  # and the 更新状态 rule still marks every parcel under renewal
    # repeated, unknown and NULL ids change nothing: each parcel keeps one reason per rule
    first = county.execute(text("SELECT min(id) FROM parcel")).scalar_one()
    county.execute(text("DELETE FROM parcel_colour WHERE parcel_id = :id"), {"id": first})
    county.execute(text("SELECT landgis_compute_parcel_colour(ARRAY[:id, :id, NULL, -1])"), {"id": first})
    rules_hit = county.execute(
        text(
            "SELECT array_agg(r ->> 'rule') FROM parcel_colour, jsonb_array_elements(reasons) r WHERE parcel_id = :id"
        ),
        {"id": first},
    ).scalar_one()
    assert len(rules_hit) == len(set(rules_hit)) >= 1, rules_hit


def test_colours_are_planned_for_the_parcels_given_whatever_the_statistics_say(engine: Engine) -> None:
    """An ANALYZE from another session while a load's rows are uncommitted records ``parcel`` as
    empty. The colour refresh of the load's next batch then used to be planned for one parcel and
    re-ran its rules once per parcel (a batch of 20,000 ran for many minutes). It counts its
    parcels from the ids it is given (revision 0017_cheaper_parcel_writes)."""
    with engine.connect() as load, engine.connect().execution_options(isolation_level="AUTOCOMMIT") as other:
        if not other.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar_one():
            pytest.skip("reads plans through auto_explain, which only a superuser may load (the local cluster's is)")
        plans: list[str] = []

        def keep(notice: Diagnostic) -> None:
            plans.append(str(notice.message_primary))

        dbapi = load.connection.driver_connection
        assert dbapi is not None
        try:
            with load.begin():
                load.execute(text("INSERT INTO region (code, name, level) VALUES ('330699', '示范县', 3)"))
                load.execute(
                    text(
                        "INSERT INTO parcel (region_code, geom, agreed_start_date)"
                        " SELECT '330699', ST_Multi(ST_MakeEnvelope(120.6 + i * 0.001, 30.0, 120.6005 + i * 0.001,"
                        "  30.0005, 4490)), DATE '2020-01-01' FROM generate_series(1, 300) i"
                    )
                )
                other.execute(text("ANALYZE parcel"))  # sees none of the 300 rows
                stats = load.execute(text("SELECT relpages, reltuples FROM pg_class WHERE oid = 'parcel'::regclass"))
                pages, tuples = stats.one()
                assert pages > 0 and tuples == 0  # the trap: pages full of rows, counted as none
                dbapi.add_notice_handler(keep)
                load.execute(text("LOAD 'auto_explain'"))
                load.execute(text("SET LOCAL auto_explain.log_min_duration = 0"))
                load.execute(text("SET LOCAL auto_explain.log_nested_statements = on"))
                load.execute(text("SET LOCAL client_min_messages = log"))
                load.execute(text("SELECT landgis_refresh_parcel_colour(ARRAY(SELECT id FROM parcel))"))
                load.execute(text("SET LOCAL client_min_messages = notice"))
                colour = next(p for p in plans if "INSERT INTO parcel_colour" in p)
                t = colour.split("CTE t\n", 1)[1].splitlines()[0]
                assert "rows=300 " in t, colour  # not rows=1
                assert load.execute(text("SELECT count(*) FROM parcel_colour")).scalar_one() == 300
                load.rollback()
        finally:
            dbapi.remove_notice_handler(keep)
            other.execute(text("VACUUM ANALYZE parcel"))  # later tests get an honest empty table
