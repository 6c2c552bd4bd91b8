"""API tokens for scripts and session cookies for browsers.

Both are random secrets of 256 bits handed out once; only their sha256 is stored (a fast hash
is enough for secrets that cannot be guessed, and it keeps the per-request lookup an index hit).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, text

from landgis import audit
from landgis.accounts.principal import Principal, Role
from landgis.errors import InvalidInput, NotFound, PermissionDenied

TOKEN_PREFIX = "lgt_"  # noqa: S105 (a marker, not a secret)
SESSION_HOURS = 12
#: last_used_at / last_seen_at are written at most this often, not on every request.
TOUCH_EVERY = dt.timedelta(minutes=5)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Token:
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: RowMapping) -> Token:
        return cls(**{f: row[f] for f in cls.__dataclass_fields__})


_TOKEN_COLUMNS = "id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at"  # noqa: S105


def create_token(conn: Connection, user_id: int, name: str, *, days: int | None = None) -> tuple[Token, str]:
    """Issue a token for ``user_id``; returns it with the secret, which is never shown again."""
    label = name.strip()
    if not label or len(label) > 100:
        raise InvalidInput("令牌名称须为 1-100 个字符 (token name: 1-100 characters)")
    if days is not None and not 1 <= days <= 3650:
        raise InvalidInput("有效期须为 1-3650 天 (validity: 1-3650 days)")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = (
        conn.execute(
            text(
                "INSERT INTO api_token (user_id, name, token_hash, prefix, expires_at)"
                " VALUES (:user, :name, :hash, :prefix,"
                " CASE WHEN CAST(:days AS integer) IS NULL THEN NULL"
                " ELSE now() + make_interval(days => CAST(:days AS integer)) END)"
                f" RETURNING {_TOKEN_COLUMNS}"
            ),
            {"user": user_id, "name": label, "hash": digest(secret), "prefix": secret[:12], "days": days},
        )
        .mappings()
        .one()
    )
    token = Token.from_row(row)
    audit.record(conn, "token_created", target_table="api_token", target_id=token.id, details={"user_id": user_id})
    return token, secret


def list_tokens(conn: Connection, user_id: int) -> list[Token]:
    rows = conn.execute(
        text(f"SELECT {_TOKEN_COLUMNS} FROM api_token WHERE user_id = :u ORDER BY id"), {"u": user_id}
    ).mappings()
    return [Token.from_row(r) for r in rows]


def revoke_token(conn: Connection, token_id: int, by: Principal | None = None) -> Token:
    """Revoke a token: its owner or an admin may; a revoked token stays listed."""
    row = conn.execute(text(f"SELECT {_TOKEN_COLUMNS} FROM api_token WHERE id = :id"), {"id": token_id}).mappings()
    found = row.first()
    if found is None or (by is not None and by.role != Role.ADMIN and found["user_id"] != by.user_id):
        raise NotFound(f"令牌 {token_id} 不存在 (no such token)")
    if by is not None and by.role == Role.ADMIN and by.region_scope is not None and found["user_id"] != by.user_id:
        raise PermissionDenied("只能撤销自己的令牌 (regional administrators revoke only their own tokens)")
    updated = (
        conn.execute(
            text(
                "UPDATE api_token SET revoked_at = coalesce(revoked_at, now()) WHERE id = :id"
                f" RETURNING {_TOKEN_COLUMNS}"
            ),
            {"id": token_id},
        )
        .mappings()
        .one()
    )
    audit.record(conn, "token_revoked", target_table="api_token", target_id=token_id)
    return Token.from_row(updated)


_PRINCIPAL_COLUMNS = "u.id AS user_id, u.username, u.role, u.region_scope"


def _principal(row: RowMapping, via: str, **extra: object) -> Principal:
    scope = row["region_scope"]
    return Principal(
        user_id=int(row["user_id"]),
        username=row["username"],
        role=Role(row["role"]),
        region_scope=tuple(scope) if scope is not None else None,
        via=via,
        **extra,  # type: ignore[arg-type]
    )


def principal_for_token(conn: Connection, secret: str) -> Principal | None:
    """The active user a token belongs to, or None for an unknown, revoked or expired token."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    row = (
        conn.execute(
            text(
                f"SELECT t.id AS token_id, t.last_used_at, now() AS now, {_PRINCIPAL_COLUMNS}"
                " FROM api_token t JOIN app_user u ON u.id = t.user_id"
                " WHERE t.token_hash = :hash AND t.revoked_at IS NULL AND u.active"
                " AND (t.expires_at IS NULL OR t.expires_at > now())"
            ),
            {"hash": digest(secret)},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    if row["last_used_at"] is None or row["now"] - row["last_used_at"] > TOUCH_EVERY:
        conn.execute(text("UPDATE api_token SET last_used_at = now() WHERE id = :id"), {"id": row["token_id"]})
    return _principal(row, "token", token_id=int(row["token_id"]))


def create_session(
    conn: Connection, user_id: int, *, client_addr: str | None, user_agent: str | None, hours: int = SESSION_HOURS
) -> tuple[str, str]:
    """Open a browser session; returns the cookie value and the session's CSRF token."""
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    conn.execute(
        text(
            "INSERT INTO web_session (user_id, token_hash, csrf_token, client_addr, user_agent, expires_at)"
            " VALUES (:user, :hash, :csrf, :addr, :ua, now() + make_interval(hours => :hours))"
        ),
        {
            "user": user_id,
            "hash": digest(secret),
            "csrf": csrf,
            "addr": client_addr,
            "ua": (user_agent or "")[:300],
            "hours": hours,
        },
    )
    # Expired sessions of anyone are cleared now and then, at log-in.
    conn.execute(text("DELETE FROM web_session WHERE expires_at < now() - interval '1 day'"))
    return secret, csrf


def principal_for_session(conn: Connection, secret: str) -> Principal | None:
    """The active user of a session cookie, or None when unknown or expired."""
    if not secret or len(secret) > 100:
        return None
    row = (
        conn.execute(
            text(
                f"SELECT s.id AS session_id, s.csrf_token, s.last_seen_at, now() AS now, {_PRINCIPAL_COLUMNS}"
                " FROM web_session s JOIN app_user u ON u.id = s.user_id"
                " WHERE s.token_hash = :hash AND s.expires_at > now() AND u.active"
            ),
            {"hash": digest(secret)},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    if row["now"] - row["last_seen_at"] > TOUCH_EVERY:
        conn.execute(text("UPDATE web_session SET last_seen_at = now() WHERE id = :id"), {"id": row["session_id"]})
    return _principal(row, "session", csrf_token=row["csrf_token"], session_id=int(row["session_id"]))


def end_session(conn: Connection, secret: str) -> bool:
    """Log out: delete the session; False when there was none."""
    deleted = conn.execute(text("DELETE FROM web_session WHERE token_hash = :hash"), {"hash": digest(secret)})
    return deleted.rowcount > 0


def get_token(conn: Connection, token_id: int) -> Token:
    row = conn.execute(text(f"SELECT {_TOKEN_COLUMNS} FROM api_token WHERE id = :id"), {"id": token_id}).mappings()
    found = row.first()
    if found is None:
        raise NotFound(f"令牌 {token_id} 不存在 (no such token)")
    return Token.from_row(found)
