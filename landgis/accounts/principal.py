"""Who is asking: the principal of a request or a command."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a user may do. Roles are not ranked: each route names the roles it admits."""

    VIEWER = "viewer"  # 查看: maps, parcels, enterprises, reports
    OFFICER = "officer"  # 经办: edits parcels (renewal status, attributes, occupancy)
    PLANNER = "planner"  # 规划: runs evaluations, candidate selection and plans
    ADMIN = "admin"  # 管理员: everything, and accounts


ROLE_LABELS = {
    Role.VIEWER: "查看人员",
    Role.OFFICER: "经办人员",
    Role.PLANNER: "规划人员",
    Role.ADMIN: "管理员",
}


@dataclass(frozen=True)
class Principal:
    """A signed-in user as one request sees it.

    ``region_scope`` is None for a user who may see every region, else the 行政区划代码 prefixes
    the user is limited to. ``via`` says how the request authenticated (``session`` or ``token``);
    ``csrf_token`` is set for browser sessions.
    """

    user_id: int
    username: str
    role: Role
    region_scope: tuple[str, ...] | None
    via: str
    csrf_token: str | None = None
    session_id: int | None = None
    token_id: int | None = None

    @property
    def actor(self) -> str:
        """The name the change history records."""
        return self.username

    @property
    def unrestricted(self) -> bool:
        return self.region_scope is None

    def has_role(self, *roles: Role) -> bool:
        """True for an admin, or when the user's role is one of ``roles``."""
        return self.role == Role.ADMIN or self.role in roles

    def covers(self, region_code: str | None) -> bool:
        """Whether a region code lies inside this principal's scope (same rule as landgis_in_scope)."""
        if self.region_scope is None:
            return True
        return region_code is not None and any(region_code.startswith(p) for p in self.region_scope)
