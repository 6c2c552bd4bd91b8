"""A county whose tables belong to an ordinary role, not a superuser (data-model.md, row-level
security): migrated by that role, loaded by its batch jobs through the command line.

Such an owner is bound by FORCE ROW LEVEL SECURITY, and revision 0005 makes it a member of
``landgis_app`` (to run the service's requests as that role), so the policies that keep
``landgis_app`` from writing without a region scope bind it too. The tests' own login is a
superuser, which row-level security never binds: only a database set up like this finds out.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from landgis.cli import app
from landgis.db import cluster, migrate
from landgis.db.engine import set_scope
from landgis.errors import PermissionDenied
from tests.helpers import make_uscc
from tests.loading.conftest import insert_county, parcel_row, write_shapefile


def _plain_database(admin_url: URL, role: str, name: str, *, grant: bool) -> URL:
    """A database ``name`` owned by ``role``, not a superuser, set up as a superuser does once:
    the role (with CREATEROLE, to grant itself ``landgis_app``), the database with PostGIS and,
    when ``grant``, SET on ``landgis.scope`` (functions of revisions 0008, 0013 and 0018 carry it)."""
    password = secrets.token_hex(12)
    cluster.drop_database(admin_url, name)
    with psycopg.connect(cluster.libpq_url(admin_url), autocommit=True) as conn:
        _drop_role(conn, role)
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS CREATEROLE PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        if grant:
            conn.execute(sql.SQL("GRANT SET ON PARAMETER landgis.scope TO {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(role)))
    cluster.ensure_database(admin_url, name)  # PostGIS, by the superuser
    return admin_url.set(database=name, username=role, password=password)


def _drop_role(conn: psycopg.Connection, role: str) -> None:
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
        conn.execute(sql.SQL("REVOKE SET ON PARAMETER landgis.scope FROM {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture(scope="module")
def owner_url(admin_url: URL) -> Iterator[URL]:
    """A database owned and migrated by a role that is not a superuser."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    role, name = f"landgis_plain_owner_{worker}", f"landgis_test_plain_owner_{worker}"
    url = _plain_database(admin_url, role, name, grant=True)
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            assert not conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar()
            assert conn.execute(text("SELECT row_security_active('parcel')")).scalar()
            insert_county(conn)
    finally:
        engine.dispose()
    yield url
    cluster.drop_database(admin_url, name)
    with psycopg.connect(cluster.libpq_url(admin_url), autocommit=True) as conn:
        _drop_role(conn, role)


def test_an_owner_without_the_grant_is_told_what_to_ask_for(admin_url: URL) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    role, name = f"landgis_ungranted_owner_{worker}", f"landgis_test_ungranted_owner_{worker}"
    url = _plain_database(admin_url, role, name, grant=False)
    engine = create_engine(url)
    try:
        with pytest.raises(PermissionDenied, match=f"GRANT SET ON PARAMETER landgis.scope TO {role};"):
            migrate.upgrade(engine)
        with engine.connect() as conn:  # refused before the first revision
            assert conn.execute(text("SELECT to_regclass('alembic_version') IS NULL")).scalar()
        # Once a superuser has migrated it, the role's own upgrade (at every start) has nothing
        # to do and is not refused.
        superuser = create_engine(admin_url.set(database=name))
        try:
            migrate.upgrade(superuser)
            with superuser.begin() as conn:
                conn.execute(text(f"GRANT SELECT ON alembic_version TO {role}"))
        finally:
            superuser.dispose()
        migrate.upgrade(engine)
        assert migrate.is_current(engine)
    finally:
        engine.dispose()
        cluster.drop_database(admin_url, name)
        with psycopg.connect(cluster.libpq_url(admin_url), autocommit=True) as conn:
            _drop_role(conn, role)


def _load(url: URL, *args: str) -> dict[str, object]:
    env = {"LANDGIS_DATABASE_URL": url.render_as_string(hide_password=False), "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["load", *args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


def test_the_owners_batch_jobs_load_parcels_firms_land_use_and_figures(owner_url: URL, tmp_path: Path) -> None:
    shp = write_shapefile(tmp_path / "zd", [parcel_row(1, 0, 0), parcel_row(2, 100, 0)])
    assert _load(owner_url, "parcels", str(shp))["counts"] == {
        "read": 2,
        "inserted": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
    }
    uscc = make_uscc(1)
    tables = {
        "企业名录.csv": f"统一社会信用代码,企业名称,所在乡镇\n{uscc},示范县第1机械有限公司,330699\n",
        "用地关系.csv": f"统一社会信用代码,企业名称,宗地代码,使用面积(亩),权属\n{uscc},示范县第1机械有限公司,330699001001GB00001,15,自有\n",
        "2023年度.csv": f"统一社会信用代码,企业名称,税收(万元)\n{uscc},示范县第1机械有限公司,120.5\n",
    }
    for file, content in tables.items():
        (tmp_path / file).write_text(content, encoding="utf-8")
    for kind, file, extra in (
        ("enterprises", "企业名录.csv", []),
        ("occupancy", "用地关系.csv", []),
        ("figures", "2023年度.csv", ["--year", "2023"]),
    ):
        summary = _load(owner_url, kind, str(tmp_path / file), *extra)
        assert (summary["status"], summary["counts"]["inserted"]) == ("committed", 1), summary  # type: ignore[index]
    engine = create_engine(owner_url)
    try:
        with engine.connect() as conn:
            # Unset, the scope shows this member of landgis_app nothing (fail closed); '*' all.
            assert conn.execute(text("SELECT count(*) FROM parcel")).scalar_one() == 0
            set_scope(conn, None)
            assert conn.execute(
                text(
                    "SELECT p.land_code, e.region_code, y.tax_wan FROM parcel p JOIN occupancy o ON o.parcel_id = p.id"
                    " JOIN enterprise e ON e.id = o.enterprise_id JOIN enterprise_year y ON y.enterprise_id = e.id"
                )
            ).one() == ("330699001001GB00001", "330699", 120.5)
    finally:
        engine.dispose()


def test_a_batch_session_starts_unrestricted_and_keeps_the_urls_own_options(database_url: URL) -> None:
    from landgis.db.engine import make_engine
    from landgis.settings import Settings

    url = database_url.update_query_dict({"options": "-c statement_timeout=4321"})
    for unrestricted, scope in ((True, "*"), (False, "")):
        engine = make_engine(Settings(), url, unrestricted=unrestricted, pool_size=1)
        try:
            with engine.connect() as conn:
                timeout, setting = conn.execute(
                    text("SELECT current_setting('statement_timeout'), current_setting('landgis.scope', true)")
                ).one()
                assert (timeout, setting or "") == ("4321ms", scope)
                set_scope(conn, ["330699"])  # a transaction's own scope still wins, until it ends
                assert conn.execute(text("SELECT current_setting('landgis.scope')")).scalar_one() == "330699"
                conn.rollback()
                assert (conn.execute(text("SELECT current_setting('landgis.scope', true)")).scalar() or "") == scope
        finally:
            engine.dispose()
