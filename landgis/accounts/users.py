"""Users: create, change, list, and check a password at log-in.

Every change goes through the ``app_user`` change-history trigger (password hashes logged only
as "changed"); log-ins and failures are audit events.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, text

from landgis import audit
from landgis.accounts.passwords import hash_password, needs_rehash, verify_password
from landgis.accounts.principal import Principal, Role
from landgis.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, PermissionDenied

USERNAME = re.compile(r"^[a-z0-9_.@-]{2,64}$")
REGION_CODE = re.compile(r"^\d{6}(\d{3}(\d{3})?)?$")
#: After this many wrong passwords in a row the account is locked for LOCK_MINUTES.
MAX_FAILED_LOGINS = 10
LOCK_MINUTES = 15


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str | None
    role: Role
    region_scope: tuple[str, ...] | None
    active: bool
    has_password: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> User:
        scope = row["region_scope"]
        return cls(
            id=int(row["id"]),
            username=row["username"],
            display_name=row["display_name"],
            role=Role(row["role"]),
            region_scope=tuple(scope) if scope is not None else None,
            active=bool(row["active"]),
            has_password=row["password_hash"] is not None,
            last_login_at=row["last_login_at"],
            created_at=row["created_at"],
        )

    def principal(self, via: str, **extra: Any) -> Principal:
        return Principal(self.id, self.username, self.role, self.region_scope, via, **extra)


_COLUMNS = (
    "id, username, display_name, role, region_scope, active, password_hash, last_login_at, created_at, "
    "failed_logins, locked_until"
)


def normalise_username(name: str) -> str:
    value = name.strip().lower()
    if not USERNAME.match(value):
        raise InvalidInput(
            f"用户名 {name!r} 无效: 2-64 个字母、数字或 _ . @ - (username: 2-64 letters, digits, _ . @ -)"
        )
    return value


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise InvalidInput(f"角色 {value!r} 无效, 可选: {names} (unknown role)") from None


def check_scope(conn: Connection, codes: Sequence[str] | None) -> tuple[str, ...] | None:
    """Validate a region scope: None (every region) or 行政区划代码 that exist in ``region``."""
    if codes is None:
        return None
    cleaned = tuple(dict.fromkeys(c.strip() for c in codes if c.strip()))
    if not cleaned:
        raise InvalidInput("区域范围不能为空; 不限区域请明确指定 (region scope is empty; use 'all regions' explicitly)")
    bad = [c for c in cleaned if not REGION_CODE.match(c)]
    if bad:
        raise InvalidInput(f"行政区划代码格式错误: {', '.join(bad)} (region codes have 6, 9 or 12 digits)")
    found = set(
        conn.execute(text("SELECT code FROM region WHERE code = ANY(:codes)"), {"codes": list(cleaned)}).scalars()
    )
    missing = [c for c in cleaned if c not in found]
    if missing:
        raise InvalidInput(f"行政区划代码不存在: {', '.join(missing)} (unknown region codes; load the regions first)")
    return cleaned


def _check_manager(by: Principal | None, scope: tuple[str, ...] | None) -> None:
    """An admin manages users within their own scope; None (a command-line job) manages all."""
    if by is None:
        return
    if by.role != Role.ADMIN:
        raise PermissionDenied("只有管理员可以管理用户 (only administrators manage users)")
    if by.region_scope is None:
        return
    if scope is None or not all(by.covers(code) for code in scope):
        raise PermissionDenied("不能授予超出本人范围的区域 (cannot grant regions outside your own scope)")


def get_user(conn: Connection, user_id: int) -> User:
    row = conn.execute(text(f"SELECT {_COLUMNS} FROM app_user WHERE id = :id"), {"id": user_id}).mappings().first()
    if row is None:
        raise NotFound(f"用户 {user_id} 不存在 (no such user)")
    return User.from_row(row)


def find_user(conn: Connection, username: str) -> User:
    row = (
        conn.execute(text(f"SELECT {_COLUMNS} FROM app_user WHERE username = :u"), {"u": username.strip().lower()})
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"用户 {username} 不存在 (no such user)")
    return User.from_row(row)


def list_users(conn: Connection, by: Principal | None = None) -> list[User]:
    """Every user (an admin limited to some regions sees the users inside them)."""
    rows = conn.execute(text(f"SELECT {_COLUMNS} FROM app_user ORDER BY username")).mappings().all()
    users = [User.from_row(r) for r in rows]
    if by is not None and by.region_scope is not None:
        users = [u for u in users if u.region_scope is not None and all(by.covers(c) for c in u.region_scope)]
    return users


def create_user(
    conn: Connection,
    username: str,
    role: Role | str,
    region_scope: Sequence[str] | None,
    *,
    password: str | None = None,
    display_name: str | None = None,
    by: Principal | None = None,
) -> User:
    """Create a user; ``region_scope`` None means every region (only for those who have it)."""
    name = normalise_username(username)
    role = parse_role(role) if isinstance(role, str) else role
    scope = check_scope(conn, region_scope)
    _check_manager(by, scope)
    hashed = hash_password(password) if password is not None else None
    exists = conn.execute(text("SELECT 1 FROM app_user WHERE username = :u"), {"u": name}).first()
    if exists:
        raise Conflict(f"用户名 {name} 已存在 (username taken)")
    row = (
        conn.execute(
            text(
                "INSERT INTO app_user (username, display_name, role, region_scope, password_hash)"
                f" VALUES (:u, :d, :r, :s, :p) RETURNING {_COLUMNS}"
            ),
            {"u": name, "d": display_name, "r": role.value, "s": list(scope) if scope else None, "p": hashed},
        )
        .mappings()
        .one()
    )
    return User.from_row(row)


_UNSET: Any = object()


def update_user(
    conn: Connection,
    user_id: int,
    *,
    role: Role | str | None = None,
    region_scope: Sequence[str] | None = _UNSET,
    active: bool | None = None,
    display_name: str | None = _UNSET,
    password: str | None = None,
    by: Principal | None = None,
) -> User:
    """Change a user; arguments left out stay as they are. Deactivating ends the user's sessions."""
    current = get_user(conn, user_id)
    _check_manager(by, current.region_scope)
    values: dict[str, Any] = {}
    if role is not None:
        values["role"] = (parse_role(role) if isinstance(role, str) else role).value
    if region_scope is not _UNSET:
        scope = check_scope(conn, region_scope)
        _check_manager(by, scope)
        values["region_scope"] = list(scope) if scope else None
    if active is not None:
        values["active"] = active
    if display_name is not _UNSET:
        values["display_name"] = display_name
    if password is not None:
        values["password_hash"] = hash_password(password)
        values["failed_logins"] = 0
        values["locked_until"] = None
    if by is not None and by.user_id == user_id and (values.get("role", "admin") != "admin" or active is False):
        raise Conflict("不能降低或停用自己的管理员账号 (you cannot demote or deactivate yourself)")
    if values:
        assignments = ", ".join(f"{column} = :{column}" for column in values)  # keys are our own names
        conn.execute(text(f"UPDATE app_user SET {assignments} WHERE id = :id"), {**values, "id": user_id})
    if active is False or password is not None:
        conn.execute(text("DELETE FROM web_session WHERE user_id = :id"), {"id": user_id})
    return get_user(conn, user_id)


def authenticate_password(conn: Connection, username: str, password: str) -> User:
    """Check a log-in. Raises NotAuthenticated with the same message for every kind of failure."""
    refused = NotAuthenticated("用户名或密码错误 (wrong username or password)")
    name = username.strip().lower()
    row = (
        conn.execute(text(f"SELECT {_COLUMNS} FROM app_user WHERE username = :u FOR UPDATE"), {"u": name})
        .mappings()
        .first()
    )
    stored = row["password_hash"] if row is not None else None
    matches = verify_password(stored, password)  # always runs, so timing does not tell names apart
    if row is None:
        audit.record(conn, "login_failed", details={"username": name[:64], "reason": "unknown user"})
        raise refused
    now = conn.execute(text("SELECT now()")).scalar_one()
    locked = row["locked_until"] is not None and row["locked_until"] > now
    if not matches or not row["active"] or locked:
        reason = "locked" if locked else ("inactive" if not row["active"] else "wrong password")
        if not matches:
            conn.execute(
                text(
                    "UPDATE app_user SET failed_logins = failed_logins + 1,"
                    " locked_until = CASE WHEN failed_logins + 1 >= :max"
                    " THEN now() + make_interval(mins => :mins) ELSE locked_until END WHERE id = :id"
                ),
                {"id": row["id"], "max": MAX_FAILED_LOGINS, "mins": LOCK_MINUTES},
            )
        audit.record(conn, "login_failed", target_table="app_user", target_id=row["id"], details={"reason": reason})
        raise refused
    updates = "failed_logins = 0, locked_until = NULL, last_login_at = now()"
    params: dict[str, Any] = {"id": row["id"]}
    if needs_rehash(stored or ""):
        updates += ", password_hash = :hash"
        params["hash"] = hash_password(password)
    conn.execute(text(f"UPDATE app_user SET {updates} WHERE id = :id"), params)
    return User.from_row(row)
