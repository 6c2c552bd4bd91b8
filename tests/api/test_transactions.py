"""A request's transaction commits before its response leaves: a client that got the answer to a
write reads the write back at once, from any connection (the service's own or another's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from api.main import create_app
from landgis.accounts.tokens import create_token
from landgis.accounts.users import create_user
from landgis.settings import Settings
from tests.helpers import scratch_database


@pytest.fixture(scope="module")
def committed_db(admin_url: URL) -> Iterator[tuple[Engine, str]]:
    """A scratch database (writes here really commit) and an administrator's token."""
    with scratch_database(admin_url, "landgis_test_transactions") as engine:
        with engine.begin() as conn:
            user = create_user(conn, "tx-admin", "admin", None)
            _, secret = create_token(conn, user.id, "transaction tests")
        yield engine, secret


def test_a_write_is_committed_when_its_response_starts(committed_db: tuple[Engine, str], tmp_path: Path) -> None:
    engine, secret = committed_db
    seen_at_response: list[int] = []

    def tokens_named(name: str) -> int:
        with engine.connect() as conn:  # another connection: sees only what is committed
            return int(conn.execute(text("SELECT count(*) FROM api_token WHERE name = :n"), {"n": name}).scalar_one())

    settings = Settings(database_url=engine.url.render_as_string(hide_password=False), home=tmp_path)
    app = create_app(settings)

    async def observed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def spy(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and scope.get("method") == "POST":
                seen_at_response.append(tokens_named("issued in a request"))
            await send(message)

        await app(scope, receive, spy)

    with TestClient(observed) as client:
        response = client.post(
            "/auth/tokens",
            json={"name": "issued in a request"},
            headers={"authorization": f"Bearer {secret}"},
        )
    assert response.status_code == 201
    assert seen_at_response == [1]  # committed before the first byte of the answer went out
