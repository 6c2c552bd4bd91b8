"""Benchmark callers: a user of the benchmark database and a fresh API token for it."""

from __future__ import annotations

from sqlalchemy import Engine


def bench_token(engine: Engine, username: str, role: str, region_scope: list[str] | None, purpose: str) -> str:
    """A one-day API token of ``username`` (created with ``role`` and ``region_scope`` if missing)."""
    from landgis.accounts.tokens import create_token
    from landgis.accounts.users import create_user, find_user
    from landgis.errors import NotFound

    with engine.begin() as conn:
        try:
            user = find_user(conn, username)
        except NotFound:
            user = create_user(conn, username, role, region_scope)
        _, secret = create_token(conn, user.id, purpose, days=1)
    return secret
