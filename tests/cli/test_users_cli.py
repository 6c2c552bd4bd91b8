"""``landgis users``: the first administrator, roles and regions, tokens from the command line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from landgis.cli import app
from landgis.db import cluster, migrate


@pytest.fixture
def scratch(admin_url: URL, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[Engine]:
    name = "landgis_test_users_cli"
    cluster.drop_database(admin_url, name)
    cluster.ensure_database(admin_url, name)
    url = admin_url.set(database=name)
    engine = create_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO region (code, name, level) VALUES ('330699', '示范县', 3)"))
    monkeypatch.setenv("LANDGIS_DATABASE_URL", url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    cluster.drop_database(admin_url, name)


def test_first_admin_roles_regions_and_tokens(scratch: Engine) -> None:
    runner = CliRunner()
    made = runner.invoke(
        app,
        ["users", "create", "root.admin", "--role", "admin", "--all-regions", "--password-stdin"],
        input="a very long password\n",
    )
    assert made.exit_code == 0, made.output
    refused = runner.invoke(app, ["users", "create", "x.y", "--role", "viewer", "--no-password"])
    assert refused.exit_code == 3 and "--region" in refused.output
    unknown = runner.invoke(app, ["users", "create", "x.y", "--role", "viewer", "--region", "330101", "--no-password"])
    assert unknown.exit_code == 3
    officer = runner.invoke(
        app, ["users", "create", "li.si", "--role", "officer", "--region", "330699", "--no-password"]
    )
    assert officer.exit_code == 0, officer.output
    issued = runner.invoke(app, ["users", "token", "li.si", "--name", "sync"])
    assert issued.exit_code == 0
    secret = issued.stdout.strip().splitlines()[-1]
    assert secret.startswith("lgt_")
    with scratch.connect() as conn:
        users = conn.execute(text("SELECT username, role, region_scope FROM app_user ORDER BY username")).all()
        assert [tuple(u) for u in users] == [("li.si", "officer", ["330699"]), ("root.admin", "admin", None)]
        hashed = conn.execute(text("SELECT token_hash FROM api_token")).scalar_one()
        assert secret not in hashed
        actors = set(conn.execute(text("SELECT actor FROM change_log WHERE table_name = 'app_user'")).scalars())
        assert all(a.startswith("os:") for a in actors)
    demoted = runner.invoke(app, ["users", "set", "li.si", "--role", "viewer", "--inactive"])
    assert demoted.exit_code == 0
    listing = runner.invoke(app, ["users", "list"])
    assert "li.si" in listing.output and "viewer" in listing.output
