"""The project-local cluster: `db up` twice is harmless, and data survives a stop and a start."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from landgis.db import cluster
from landgis.settings import Settings

pytestmark = pytest.mark.skipif(
    Settings().database_url is not None, reason="LANDGIS_DATABASE_URL is set: no local cluster to manage"
)


def test_up_is_idempotent_and_data_survives_a_restart(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "state", database_url=None)
    try:
        first = cluster.up(settings)
        assert cluster.is_running(settings)
        second = cluster.up(settings)  # running already: nothing changes
        assert second == first
        dsn = cluster.libpq_url(first.url())
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert conn.execute("SELECT postgis_lib_version()").fetchone() is not None
            conn.execute("CREATE TABLE kept (note text)")
            conn.execute("INSERT INTO kept VALUES ('示范县')")
        assert cluster.down(settings)
        assert not cluster.is_running(settings)
        assert not cluster.down(settings)  # already stopped
        third = cluster.up(settings)
        assert third.data_dir == first.data_dir and third.password == first.password
        with psycopg.connect(cluster.libpq_url(third.url())) as conn:
            assert conn.execute("SELECT note FROM kept").fetchall() == [("示范县",)]
        assert cluster.state_file(settings).stat().st_mode & 0o077 == 0  # the password file is private
    finally:
        cluster.destroy(settings)
    assert not cluster.is_running(settings)


def test_wrong_password_is_refused(tmp_path: Path, admin_url: object) -> None:
    info = cluster.read_info(Settings())
    assert info is not None
    bad = info.url().set(password="wrong")
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(cluster.libpq_url(bad), connect_timeout=5)
