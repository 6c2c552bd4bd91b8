"""``/users``: accounts, for administrators (a regional administrator manages the users of their regions)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminDep, ConnDep
from landgis.accounts import ROLE_LABELS, Role
from landgis.accounts import users as usermod
from landgis.errors import NotFound

router = APIRouter(prefix="/users", tags=["accounts"])


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str | None
    role: str
    role_label: str
    region_scope: list[str] | None = Field(description="行政区划代码; null = every region")
    active: bool
    has_password: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$", examples=["zhang.san"])
    display_name: str | None = Field(default=None, max_length=100, examples=["张三"])
    role: Role = Field(examples=["officer"])
    region_scope: list[str] | None = Field(
        min_length=1,
        max_length=50,
        description="行政区划代码 the user may see; null = every region",
        examples=[["330699"]],
    )
    password: str | None = Field(default=None, min_length=8, max_length=256)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=100)
    role: Role | None = None
    region_scope: list[str] | None = Field(default=None, min_length=1, max_length=50)
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)


def _out(user: usermod.User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role.value,
        role_label=ROLE_LABELS[user.role],
        region_scope=list(user.region_scope) if user.region_scope is not None else None,
        active=user.active,
        has_password=user.has_password,
        last_login_at=user.last_login_at,
        created_at=user.created_at,
    )


@router.get("", response_model=list[UserOut], summary="List users")
def list_users(conn: ConnDep, admin: AdminDep) -> list[UserOut]:
    return [_out(u) for u in usermod.list_users(conn, by=admin)]


@router.post("", response_model=UserOut, status_code=201, summary="Create a user with a role and a region scope")
def create_user(body: UserIn, conn: ConnDep, admin: AdminDep) -> UserOut:
    user = usermod.create_user(
        conn,
        body.username,
        body.role,
        body.region_scope,
        password=body.password,
        display_name=body.display_name,
        by=admin,
    )
    return _out(user)


def _visible(conn: ConnDep, admin: AdminDep, user_id: int) -> usermod.User:
    user = usermod.get_user(conn, user_id)
    if admin.region_scope is not None and (
        user.region_scope is None or not all(admin.covers(c) for c in user.region_scope)
    ):
        raise NotFound(f"用户 {user_id} 不存在 (no such user)")
    return user


@router.get("/{user_id}", response_model=UserOut, summary="One user")
def get_user(user_id: int, conn: ConnDep, admin: AdminDep) -> UserOut:
    return _out(_visible(conn, admin, user_id))


@router.patch("/{user_id}", response_model=UserOut, summary="Change role, region scope, name, password or deactivate")
def update_user(user_id: int, body: UserPatch, conn: ConnDep, admin: AdminDep) -> UserOut:
    _visible(conn, admin, user_id)
    given = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    for name in ("role", "active", "password"):
        if given.get(name) is not None:
            changes[name] = given[name]
    if "display_name" in given:
        changes["display_name"] = given["display_name"]
    if "region_scope" in given:
        changes["region_scope"] = given["region_scope"]
    return _out(usermod.update_user(conn, user_id, by=admin, **changes))
