"""Test fixtures: a real PostGIS database, migrated once per session, and a connection per test
whose transaction is rolled back afterwards.

With ``LANDGIS_DATABASE_URL`` set, the tests create their database through that server (the role
needs CREATEDB); otherwise they start the project-local cluster, as `landgis db up` does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL, make_url

from landgis.db import cluster, migrate
from landgis.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _admin_url(settings: Settings) -> URL:
    if settings.database_url:
        return make_url(settings.database_url).set(drivername="postgresql+psycopg", database="postgres")
    return cluster.up(settings).url("postgres")


@pytest.fixture(scope="session")
def admin_url() -> URL:
    """A URL to the server's maintenance database, for creating scratch databases."""
    return _admin_url(Settings())


@pytest.fixture(scope="session")
def database_url(admin_url: URL) -> URL:
    """A fresh, migrated test database for this session (one per xdist worker)."""
    name = f"landgis_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    cluster.drop_database(admin_url, name)
    cluster.ensure_database(admin_url, name)
    url = admin_url.set(database=name)
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(database_url: URL) -> Iterator[Engine]:
    eng = create_engine(database_url, pool_size=4, max_overflow=4)
    yield eng
    eng.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back when the test ends."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            if transaction.is_active:
                transaction.rollback()


@pytest.fixture
def settings(database_url: URL, tmp_path: Path) -> Settings:
    """Settings pointing at the test database, with project state in a temporary folder."""
    return Settings(database_url=database_url.render_as_string(hide_password=False), home=tmp_path / "home")
