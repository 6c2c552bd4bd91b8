"""Migrations up and down on a scratch database, and the models matching the migrated schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import URL

from landgis.db import cluster, migrate
from landgis.db.models import Base

TABLES = {
    "region",
    "zone",
    "zone_target",
    "parcel",
    "enterprise",
    "occupancy",
    "enterprise_year",
    "change_log",
    "load_batch",
    # 0006_lifecycle
    "renewal_event",
    "colour_rule",
    "parcel_colour",
    "project",
    "project_parcel",
    "land_approval_batch",
    "land_approval_supply",
    "land_progress",
    "standard_agreement",
    "standard_commitment",
    "standard_review",
    "load_job",
}


@pytest.fixture(scope="module")
def scratch(admin_url: URL) -> Iterator[Engine]:
    name = "landgis_test_migrations"
    cluster.drop_database(admin_url, name)
    cluster.ensure_database(admin_url, name)
    engine = create_engine(admin_url.set(database=name))
    yield engine
    engine.dispose()
    cluster.drop_database(admin_url, name)


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"spatial_ref_sys", "alembic_version"}


def test_upgrade_downgrade_upgrade(scratch: Engine) -> None:
    assert migrate.current_revisions(scratch) == set()
    migrate.upgrade(scratch)
    assert TABLES <= _tables(scratch)
    assert migrate.is_current(scratch)
    migrate.downgrade(scratch, "base")
    assert _tables(scratch) == set()
    with scratch.connect() as conn:
        functions = conn.execute(text("SELECT count(*) FROM pg_proc WHERE proname LIKE 'landgis_%'")).scalar_one()
    assert functions == 0
    migrate.upgrade(scratch)
    assert TABLES <= _tables(scratch)


def test_models_match_migrations(engine: Engine) -> None:
    def include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        return not (type_ == "table" and name == "spatial_ref_sys")

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include, "compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_geometry_columns_are_4490_multipolygons_with_gist(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT f_table_name, f_geometry_column, srid, type FROM geometry_columns ORDER BY 1")
        ).all()
        indexes = (
            conn.execute(text("SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist%'")).scalars().all()
        )
    assert {(r[0], r[2], r[3]) for r in rows} == {
        ("parcel", 4490, "MULTIPOLYGON"),
        ("zone", 4490, "MULTIPOLYGON"),
        ("region", 4490, "MULTIPOLYGON"),
        ("land_approval_batch", 4490, "MULTIPOLYGON"),
        # views (0011_plan_layers): their geometry columns are typed too
        ("v_plan_parcel", 4490, "MULTIPOLYGON"),
        ("v_plan_block", 4490, "MULTIPOLYGON"),
    }
    assert {"parcel", "zone", "region", "land_approval_batch"} <= set(indexes)
