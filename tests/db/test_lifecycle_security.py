"""What the database enforces on the renewal life cycle for the service's role (landgis_app):
region scope on every life-cycle table and view, colours refreshed only for the caller's parcels,
history it cannot rewrite, and renewal statuses that change only through the workflow.

The first tests are about the whole schema, so that tables, views and functions added later
(by any part of landgis) keep to the same rules.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from landgis.db.engine import set_audit_context, set_scope
from landgis.lifecycle.events import TransitionRequest, apply_transition
from landgis.lifecycle.workflow import read_workflow
from tests.api.conftest import County, TwoCounties, build_two_counties

APP = "landgis_app"
WORKFLOW = read_workflow()

#: Columns that tie a row to parcels, enterprises or projects (and so to a region).
REVEALING = ("parcel_id", "enterprise_id", "agreement_id", "project_id", "region_code")
#: Tables that hold such a column without row-level security, and why that is right.
UNSCOPED = {
    "zone": "planning areas every user sees on the map (revision 0005); per-zone routes check the zone's region",
    "zone_target": "targets of those zones",
}

#: Our objects, not those of extensions (PostGIS's geometry_columns, spatial_ref_sys …).
NOT_EXTENSION = """
    NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                AND d.deptype = 'e')
"""


@pytest.fixture
def two_counties(db: Connection) -> TwoCounties:
    return build_two_counties(db)


def as_app(db: Connection, scope: list[str] | str | None) -> None:
    """Continue as the service role; ``scope='unset'`` leaves the scope unset, as before log-in."""
    db.execute(text(f"SET LOCAL ROLE {APP}"))
    if scope == "unset":
        db.execute(text("SELECT set_config('landgis.scope', '', true)"))
    else:
        assert not isinstance(scope, str)
        set_scope(db, scope)


def _step(db: Connection, county: County, to: str = "identified") -> int:
    request = TransitionRequest(
        to_status=to, event_date=dt.date(2024, 5, 6), user="batch", documents=["县经信〔2024〕8号"]
    )
    return int(apply_transition(db, WORKFLOW, county.parcel_id, request)["id"])


def _life_cycle_rows(db: Connection, county: County) -> None:
    """One row of every life-cycle table for the county (a colour row exists already)."""
    _step(db, county)
    params = {"p": county.parcel_id, "r": county.code, "e": county.enterprise_id, "z": county.zddm}
    # a step that counts as 治理 (the counted views show only those)
    db.execute(
        text(
            "INSERT INTO renewal_event (parcel_id, from_status, to_status, event_date, area_mu, counts_governed,"
            " recorded_by) VALUES (:p, 'in_progress', 'upgraded', '2024-06-01', 5, true, 'batch')"
        ),
        params,
    )
    db.execute(
        text("INSERT INTO land_progress (parcel_id, report_date, developed_area_m2) VALUES (:p, '2024-01-05', 1)"),
        params,
    )
    agreement = db.execute(
        text(
            "INSERT INTO standard_agreement (parcel_id, enterprise_id, agreement_no, review_due_date)"
            " VALUES (:p, :e, :z, '2024-06-30') RETURNING id"
        ),
        params,
    ).scalar_one()
    db.execute(
        text(
            "INSERT INTO standard_commitment (agreement_id, indicator, comparator, value) VALUES (:a, 'mu_tax', '>=', 30)"
        ),
        {"a": agreement},
    )
    db.execute(
        text(
            "INSERT INTO standard_review (agreement_id, figures_year, reviewed_on, outcome, reviewer)"
            " VALUES (:a, 2023, '2024-07-01', 'failed', 'batch')"
        ),
        {"a": agreement},
    )
    project = db.execute(
        text("INSERT INTO project (code, name, region_code) VALUES (:z, :name, :r) RETURNING id"),
        {**params, "name": f"{county.enterprise_name}项目"},
    ).scalar_one()
    db.execute(text("INSERT INTO project_parcel (project_id, parcel_id) VALUES (:j, :p)"), {**params, "j": project})
    batch = db.execute(
        text(
            "INSERT INTO land_approval_batch (batch_no, approved_on, region_code, approved_area_mu)"
            " VALUES (:z, '2020-01-01', :r, 30) RETURNING id"
        ),
        params,
    ).scalar_one()
    db.execute(
        text("INSERT INTO land_approval_supply (batch_id, parcel_id, supplied_area_mu) VALUES (:b, :p, 5)"),
        {**params, "b": batch},
    )


#: Each life-cycle table, and how one of its rows leads to its region.
REGION_OF = {
    "renewal_event": "SELECT p.region_code FROM renewal_event t JOIN parcel p ON p.id = t.parcel_id",
    "parcel_colour": "SELECT p.region_code FROM parcel_colour t JOIN parcel p ON p.id = t.parcel_id",
    "land_progress": "SELECT p.region_code FROM land_progress t JOIN parcel p ON p.id = t.parcel_id",
    "standard_agreement": "SELECT p.region_code FROM standard_agreement t JOIN parcel p ON p.id = t.parcel_id",
    "standard_commitment": (
        "SELECT p.region_code FROM standard_commitment t JOIN standard_agreement a ON a.id = t.agreement_id"
        " JOIN parcel p ON p.id = a.parcel_id"
    ),
    "standard_review": (
        "SELECT p.region_code FROM standard_review t JOIN standard_agreement a ON a.id = t.agreement_id"
        " JOIN parcel p ON p.id = a.parcel_id"
    ),
    "project": "SELECT t.region_code FROM project t",
    "project_parcel": "SELECT p.region_code FROM project_parcel t JOIN parcel p ON p.id = t.parcel_id",
    "land_approval_batch": "SELECT t.region_code FROM land_approval_batch t",
    "land_approval_supply": "SELECT p.region_code FROM land_approval_supply t JOIN parcel p ON p.id = t.parcel_id",
    # the views of revision 0006, queried as they are
    "v_parcel_colour": "SELECT p.region_code FROM v_parcel_colour t JOIN parcel p ON p.id = t.parcel_id",
    "v_renewal_event_counted": "SELECT t.region_code FROM v_renewal_event_counted t",
    "v_renewal_event_area_by_year": "SELECT t.region_code FROM v_renewal_event_area_by_year t",
    "v_standard_review_due": "SELECT p.region_code FROM v_standard_review_due t JOIN parcel p ON p.id = t.parcel_id",
}


def test_every_table_that_points_at_parcels_or_regions_is_scoped(db: Connection) -> None:
    rows = db.execute(
        text(
            f"""
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND NOT p.polpermissive
                           AND p.polroles @> ARRAY[(SELECT oid FROM pg_roles WHERE rolname = '{APP}')]) AS closed
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND {NOT_EXTENSION}
              AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND NOT a.attisdropped
                          AND a.attname = ANY (CAST(:columns AS text[])))
            """
        ),
        {"columns": list(REVEALING)},
    ).all()
    tables = {r.relname for r in rows}
    assert {"renewal_event", "land_approval_supply", "project", "parcel"} <= tables  # the query finds them
    unprotected = sorted(
        r.relname
        for r in rows
        if r.relname not in UNSCOPED and not (r.relrowsecurity and r.relforcerowsecurity and r.closed)
    )
    assert unprotected == [], (
        "tables with parcel/enterprise/region columns need ENABLE + FORCE ROW LEVEL SECURITY, a scope policy and a"
        f" RESTRICTIVE ..._scope_required policy TO {APP} (see docs/development.md): {unprotected}"
    )


def test_every_view_of_ours_runs_with_the_callers_rights(db: Connection) -> None:
    views = db.execute(
        text(
            f"""
            SELECT c.relname, coalesce(c.reloptions, '{{}}') AS options
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'v' AND {NOT_EXTENSION}
            """
        )
    ).all()
    assert {"v_parcel_colour", "v_standard_review_due"} <= {v.relname for v in views}
    definer_rights = sorted(
        v.relname
        for v in views
        if not any(
            o.lower() in ("security_invoker=true", "security_invoker=on", "security_invoker=1") for o in v.options
        )
    )
    assert definer_rights == [], (
        "a view runs with its owner's rights and so past row-level security unless it is created"
        f" WITH (security_invoker = true): {definer_rights}"
    )


def test_no_materialized_view_is_readable_by_the_service_role(db: Connection) -> None:
    readable = (
        db.execute(
            text(
                f"""
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'm' AND has_table_privilege('{APP}', c.oid, 'SELECT')
            """
            )
        )
        .scalars()
        .all()
    )
    # its rows were computed with its owner's rights: read it through a security_invoker view that filters by scope
    assert readable == []


def test_security_definer_functions_pin_their_search_path(db: Connection) -> None:
    rows = db.execute(
        text(
            """
            SELECT p.proname, coalesce(p.proconfig, '{}') AS config
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public' AND p.prosecdef
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                              AND d.deptype = 'e')
            """
        )
    ).all()
    names = {r.proname for r in rows}
    assert {"landgis_refresh_parcel_colour", "landgis_compute_parcel_colour", "landgis_audit"} <= names
    unpinned = sorted(r.proname for r in rows if "search_path=public, pg_temp" not in r.config)
    assert unpinned == []


@pytest.mark.parametrize("relation", sorted(REGION_OF))
def test_life_cycle_tables_and_views_show_only_the_callers_scope(
    db: Connection, two_counties: TwoCounties, relation: str
) -> None:
    for county in (two_counties.a, two_counties.b):
        _life_cycle_rows(db, county)
    query = text(REGION_OF[relation])
    everything = sorted(set(db.execute(query).scalars()))
    assert everything == [two_counties.a.code, two_counties.b.code]  # the rows are there
    as_app(db, [two_counties.a.code])
    assert set(db.execute(query).scalars()) == {two_counties.a.code}
    as_app(db, "unset")
    assert db.execute(query).all() == []
    as_app(db, None)
    assert sorted(set(db.execute(query).scalars())) == everything


def test_colour_refresh_by_the_service_role_stays_in_its_scope(db: Connection, two_counties: TwoCounties) -> None:
    a, b = two_counties.a.parcel_id, two_counties.b.parcel_id
    as_of = "SELECT as_of FROM parcel_colour WHERE parcel_id = :p"
    before = db.execute(text(as_of), {"p": b}).scalar_one()
    as_app(db, "unset")
    assert (
        db.execute(
            text("SELECT landgis_refresh_parcel_colour(ARRAY[:a, :b]::bigint[], '2030-01-01')"), {"a": a, "b": b}
        ).scalar_one()
        == 0
    )
    as_app(db, [two_counties.a.code])
    changed = db.execute(
        text("SELECT landgis_refresh_parcel_colour(ARRAY[:a, :b]::bigint[], '2030-01-01')"), {"a": a, "b": b}
    )
    assert changed.scalar_one() == 1
    db.execute(text("RESET ROLE"))
    assert db.execute(text(as_of), {"p": a}).scalar_one() == dt.date(2030, 1, 1)
    assert db.execute(text(as_of), {"p": b}).scalar_one() == before


def test_the_colour_computation_itself_is_not_the_service_roles(db: Connection, two_counties: TwoCounties) -> None:
    as_app(db, [two_counties.a.code])
    with pytest.raises(ProgrammingError, match="permission denied"):
        db.execute(
            text("SELECT landgis_compute_parcel_colour(ARRAY[:b]::bigint[], '2030-01-01')"),
            {"b": two_counties.b.parcel_id},
        )


def test_idle_land_as_the_service_role_is_the_scopes_only(db: Connection, two_counties: TwoCounties) -> None:
    db.execute(
        text("UPDATE parcel SET far = NULL, agreed_start_date = '2020-01-01' WHERE id IN (:a, :b)"),
        {"a": two_counties.a.parcel_id, "b": two_counties.b.parcel_id},
    )
    idle = text("SELECT parcel_id FROM landgis_idle_land('2024-01-01') ORDER BY 1")
    assert db.execute(idle).scalars().all() == sorted([two_counties.a.parcel_id, two_counties.b.parcel_id])
    as_app(db, [two_counties.a.code])
    assert db.execute(idle).scalars().all() == [two_counties.a.parcel_id]
    as_app(db, "unset")
    assert db.execute(idle).scalars().all() == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE renewal_event SET to_status = 'freed'",
        "UPDATE renewal_event SET area_mu = 0",
        "DELETE FROM renewal_event",
        "UPDATE standard_review SET outcome = 'passed'",
        "DELETE FROM standard_review",
        "DELETE FROM land_progress",
        "UPDATE parcel_colour SET colour = 'green'",
        "DELETE FROM parcel_colour",
        "INSERT INTO parcel_colour (parcel_id, colour, as_of) SELECT id, 'green', current_date FROM parcel",
        "TRUNCATE renewal_event",
    ],
)
def test_the_service_role_cannot_rewrite_life_cycle_history(
    db: Connection, two_counties: TwoCounties, statement: str
) -> None:
    _life_cycle_rows(db, two_counties.a)
    as_app(db, None)
    with pytest.raises(ProgrammingError, match="permission denied"):
        db.execute(text(statement))


def test_the_service_role_may_append_and_revoke_steps(db: Connection, two_counties: TwoCounties) -> None:
    sequences = ("renewal_event_id_seq", "standard_review_id_seq", "project_id_seq", "land_approval_batch_id_seq")
    for sequence in sequences:
        assert db.execute(text(f"SELECT has_sequence_privilege('{APP}', :s, 'USAGE')"), {"s": sequence}).scalar_one()
    as_app(db, [two_counties.a.code])
    set_audit_context(db, actor="zhang.san")
    event = _step(db, two_counties.a)
    revoked = db.execute(
        text(
            "UPDATE renewal_event SET revoked_at = now(), revoked_by = 'zhang.san', revoke_reason = 'x' WHERE id = :e"
        ),
        {"e": event},
    )
    assert revoked.rowcount == 1


def _status(db: Connection, parcel_id: int) -> str:
    return str(db.execute(text("SELECT renewal_status FROM parcel WHERE id = :id"), {"id": parcel_id}).scalar_one())


def test_the_service_role_changes_a_status_only_through_the_workflow(db: Connection, two_counties: TwoCounties) -> None:
    a = two_counties.a.parcel_id
    as_app(db, [two_counties.a.code])
    with db.begin_nested() as attempt:
        with pytest.raises(DBAPIError, match="只能通过更新流程") as refused:
            db.execute(text("UPDATE parcel SET renewal_status = 'freed' WHERE id = :id"), {"id": a})
        assert getattr(refused.value.orig, "sqlstate", None) == "42501"
        attempt.rollback()
    set_audit_context(db, actor="zhang.san")
    _step(db, two_counties.a)  # the workflow: event first, then the parcel
    assert _status(db, a) == "identified"
    # a step of this transaction does not license another status
    with db.begin_nested() as attempt:
        with pytest.raises(DBAPIError, match="只能通过更新流程"):
            db.execute(text("UPDATE parcel SET renewal_status = 'freed' WHERE id = :id"), {"id": a})
        attempt.rollback()
    # an edit that leaves the status as it is goes through
    db.execute(text("UPDATE parcel SET renewal_status = 'identified', far = 1.1 WHERE id = :id"), {"id": a})
    # batch jobs (not the service role) load statuses from a county's files
    db.execute(text("RESET ROLE"))
    db.execute(text("UPDATE parcel SET renewal_status = 'planned' WHERE id = :id"), {"id": a})
    assert _status(db, a) == "planned"


def test_a_project_is_seen_in_its_region_and_on_its_land_only(db: Connection, two_counties: TwoCounties) -> None:
    a, b = two_counties.a, two_counties.b
    db.execute(text("INSERT INTO region (code, name, level) VALUES ('330699', '丙县', 3)"))
    city = db.execute(
        text("INSERT INTO project (code, name, region_code) VALUES ('SX-1', '市级项目', '330600') RETURNING id")
    ).scalar_one()
    theirs = db.execute(
        text("INSERT INTO project (code, name, region_code) VALUES ('B-1', '乙县项目', :r) RETURNING id"), {"r": b.code}
    ).scalar_one()
    db.execute(
        text("INSERT INTO project_parcel (project_id, parcel_id) VALUES (:j, :p)"), {"j": city, "p": a.parcel_id}
    )
    visible = text("SELECT code FROM project ORDER BY code")
    as_app(db, [a.code])
    assert db.execute(visible).scalars().all() == ["SX-1"]  # on county A's land
    as_app(db, ["330699"])
    assert db.execute(visible).scalars().all() == []
    # nobody places a project they cannot see, nor on land they cannot see
    as_app(db, [a.code])
    for project, parcel in ((theirs, a.parcel_id), (city, b.parcel_id)):
        with db.begin_nested() as attempt:
            with pytest.raises(ProgrammingError, match="row-level security"):
                db.execute(
                    text("INSERT INTO project_parcel (project_id, parcel_id) VALUES (:j, :p)"),
                    {"j": project, "p": parcel},
                )
            attempt.rollback()
    db.execute(text("RESET ROLE"))
    assert db.execute(text("SELECT count(*) FROM project_parcel")).scalar_one() == 1
