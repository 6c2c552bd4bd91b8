"""Typed FastAPI dependencies (``XxxDep``): settings, the engine, a request's connection and the
signed-in user.

Every request that touches the database gets one connection in one transaction
(``ConnDep``), prepared by ``prepare_connection``:

1. statement timeout for the request;
2. ``SET LOCAL ROLE landgis_app``: the service's role, which owns nothing, so PostgreSQL's
   row-level security applies to every query of the request;
3. authentication (``Authorization: Bearer <token>``, HTTP Basic with a token as the password,
   or the session cookie), with the CSRF check for cookie-authenticated writes;
4. the audit context (who, from where, which request) and the caller's region scope.

Access is closed by default: the app-wide dependency ``require_user`` answers 401 for every route
except those in ``PUBLIC_PATHS``. Routes say which roles they admit with ``OfficerDep``,
``PlannerDep``, ``AdminDep`` (``UserDep``: any signed-in user; ``PlannerOrOfficerDep``;
``GlobalAdminDep``: an admin of every region, for settings that change every region's data).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine, text

from landgis.accounts import Principal, Role
from landgis.accounts.tokens import principal_for_session, principal_for_token
from landgis.db.engine import REQUEST_CONTEXT_SQL, request_context_params, scope_setting
from landgis.errors import NotAuthenticated, PermissionDenied
from landgis.lifecycle.workflow import Workflow, workflow_for
from landgis.settings import Settings

#: The database role every request runs as (created by migration 0005_accounts).
APP_ROLE = "landgis_app"
SESSION_COOKIE = "landgis_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: ``SET LOCAL ROLE`` to the service role and an empty scope (nothing is visible until we know
#: who asks), reading the access version before authenticating (for api.tilecache): the first
#: statement of every request.
PREPARE_SQL = text(
    "SELECT set_config('role', :role, true), set_config('landgis.scope', :scope, true),"
    " (SELECT version FROM access_version WHERE id = 1)"
)
PREPARE_PARAMS = {"role": APP_ROLE, "scope": scope_setting([])}

#: Routes anyone may call without signing in. Everything else needs a user (``require_user``).
PUBLIC_PATHS = frozenset({"/", "/health", "/docs", "/openapi.json", "/login", "/auth/login"})
#: Cookie-authenticated form posts that check the CSRF token in the form body themselves.
FORM_CSRF_PATHS = frozenset({"/logout"})


# Trivial dependencies are ``async``: FastAPI runs sync ones in the thread pool, a thread hop each.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]


def get_workflow(settings: SettingsDep) -> Workflow:
    """The renewal workflow in force (``LANDGIS_WORKFLOW_FILE`` or the packaged default)."""
    return workflow_for(settings.workflow_file)


WorkflowDep = Annotated[Workflow, Depends(get_workflow)]


def credentials(request: Request) -> tuple[str, str] | None:
    """(kind, secret) from the Authorization header or the session cookie."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return "token", value
        if scheme.lower() == "basic" and value:
            # Desktop GIS (QGIS, GDAL) often speak only Basic: the password is an API token.
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise NotAuthenticated("无效的认证信息 (malformed Basic credentials)") from None
            return "token", decoded.partition(":")[2]
        raise NotAuthenticated("不支持的认证方式, 请使用 Bearer 令牌 (unsupported Authorization scheme)")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return "session", cookie
    return None


def authenticate(conn: Connection, request: Request) -> Principal | None:
    """The principal of the request, or None when it carries no credentials.

    Credentials that are present but wrong answer 401 at once (no silent fallback to anonymous);
    a cookie-authenticated write without the session's CSRF token answers 403.
    """
    found = credentials(request)
    if found is None:
        return None
    kind, secret = found
    if kind == "token":
        principal = principal_for_token(conn, secret)
        if principal is None:
            raise NotAuthenticated("令牌无效、已撤销或已过期 (invalid, revoked or expired token)")
        return principal
    principal = principal_for_session(conn, secret)
    if principal is None:
        if request_path(request) in PUBLIC_PATHS:
            return None  # a stale cookie must not lock anyone out of the log-in page
        raise NotAuthenticated("登录已过期, 请重新登录 (session expired)")
    path = request_path(request)
    if request.method not in SAFE_METHODS and path not in FORM_CSRF_PATHS and path not in PUBLIC_PATHS:
        check_csrf(request, principal, request.headers.get(CSRF_HEADER))
    return principal


def check_csrf(request: Request, principal: Principal, sent: str | None) -> None:
    """A cookie-authenticated write must echo the session's CSRF token and come from our origin."""
    origin = request.headers.get("origin")
    if origin and origin.rstrip("/") != f"{request.url.scheme}://{request.url.netloc}":
        raise PermissionDenied("跨站请求被拒绝 (cross-site request refused)")
    expected = principal.csrf_token or ""
    if not sent or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise PermissionDenied("缺少或错误的 CSRF 令牌 (missing or wrong CSRF token)")


def prepare_connection(conn: Connection, request: Request, settings: Settings) -> None:
    """Set what every query of a request runs under: role, user, timeout, audit context, scope.

    The app-wide ``require_user`` prepares the connection before any route dependency runs; a
    route wanting a shorter timeout (map tiles) sets ``statement_timeout`` locally on ``ConnDep``
    itself (``api.routers.tiles.tile_connection``).
    """
    # SET LOCAL ROLE and an empty scope (nothing is visible until we know who asks) in one round
    # trip, which also reads the access version before authenticating (for api.tilecache).
    row = conn.execute(PREPARE_SQL, PREPARE_PARAMS).one()
    request.state.access_version = row[2]
    principal = authenticate(conn, request)
    request.state.principal = principal
    request.state.actor = principal.actor if principal else "anonymous"
    if principal is None:
        request.state.region_scope = []
    else:
        request.state.region_scope = None if principal.region_scope is None else list(principal.region_scope)
    context = request_context_params(
        statement_timeout_ms=settings.statement_timeout_ms,
        actor=request.state.actor,
        client_addr=request.client.host if request.client else None,
        request_id=getattr(request.state, "request_id", None),
        region_codes=request.state.region_scope,
    )
    conn.execute(REQUEST_CONTEXT_SQL, context)  # the same statement the tile front door sends


def get_connection(request: Request, engine: EngineDep, settings: SettingsDep) -> Iterator[Connection]:
    """A connection in a transaction for one request (see ``prepare_connection``).

    Commits when the route returns normally, rolls back when it raises; either way before the
    response is sent (``ConnDep`` has ``scope="function"``), so a client that got an answer to a
    write reads it back at once, and a write that fails at commit answers with its error, not 200.
    """
    with engine.begin() as conn:
        prepare_connection(conn, request, settings)
        yield conn


ConnDep = Annotated[Connection, Depends(get_connection, scope="function")]


def request_path(request: Request) -> str:
    """The path as the app routes it (without a proxy's root_path). Not ``scope["route"].path``:
    an included router's route carries its path without the router's prefix."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def require_user(request: Request, conn: ConnDep) -> Principal | None:
    """App-wide: refuse anonymous requests except to ``PUBLIC_PATHS``."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None and request_path(request) not in PUBLIC_PATHS:
        raise NotAuthenticated("请先登录 (sign in first)")
    return principal


def current_user(request: Request, conn: ConnDep) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise NotAuthenticated("请先登录 (sign in first)")
    return principal


def requires(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting admins and the given roles, e.g. ``Depends(requires(Role.OFFICER))``."""
    names = "、".join(r.value for r in roles) or "admin"

    def check(principal: Annotated[Principal, Depends(current_user)]) -> Principal:
        if not principal.has_role(*roles):
            raise PermissionDenied(f"需要角色: {names} (this needs the role {names})")
        return principal

    check.__name__ = f"requires_{'_'.join(r.value for r in roles) or 'admin'}"
    return check


UserDep = Annotated[Principal, Depends(current_user)]
OfficerDep = Annotated[Principal, Depends(requires(Role.OFFICER))]
PlannerDep = Annotated[Principal, Depends(requires(Role.PLANNER))]
AdminDep = Annotated[Principal, Depends(requires())]
#: Placing projects on land (招商供地): planners and the officers who supply the land.
PlannerOrOfficerDep = Annotated[Principal, Depends(requires(Role.PLANNER, Role.OFFICER))]


def unrestricted_admin(principal: AdminDep) -> Principal:
    """An administrator of every region: for settings that apply to every region's parcels."""
    if not principal.unrestricted:
        raise PermissionDenied("需要不限地区的管理员 (this needs an administrator of every region)")
    return principal


GlobalAdminDep = Annotated[Principal, Depends(unrestricted_admin)]
