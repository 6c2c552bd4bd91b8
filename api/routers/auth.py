"""Signing in and out: ``/auth/*`` for scripts and single-page code, ``/login`` for the browser.

A browser log-in sets an HttpOnly, SameSite=Lax session cookie; writes made with that cookie
must send the session's CSRF token in the ``X-CSRF-Token`` header (``/auth/me`` tells it).
Scripts use API tokens instead (``Authorization: Bearer lgt_...``), which need no CSRF token.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from api.deps import SESSION_COOKIE, ConnDep, SettingsDep, UserDep, check_csrf
from api.errors import problem
from landgis import audit
from landgis.accounts import ROLE_LABELS, Principal
from landgis.accounts import tokens as tokenmod
from landgis.accounts.users import authenticate_password, get_user
from landgis.db.engine import set_audit_context
from landgis.errors import NotAuthenticated, PermissionDenied
from landgis.settings import Settings

router = APIRouter(tags=["accounts"])
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64, examples=["officer"])
    password: str = Field(min_length=1, max_length=256, examples=["landgis-officer-demo"])


class Me(BaseModel):
    id: int
    username: str
    display_name: str | None
    role: str = Field(examples=["officer"])
    role_label: str = Field(examples=["经办人员"])
    region_scope: list[str] | None = Field(description="行政区划代码; null = every region", examples=[["330699"]])
    via: str = Field(description="session or token")
    csrf_token: str | None = Field(description="send as X-CSRF-Token with cookie-authenticated writes")


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["每晚同步脚本"])
    days: int | None = Field(default=None, ge=1, le=3650, description="validity in days; null = until revoked")


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="first characters of the token, to recognise it")
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class NewToken(TokenOut):
    token: str = Field(description="the secret: shown once, store it now", examples=["lgt_3q2..."])


def _me(conn: ConnDep, principal: Principal) -> Me:
    user = get_user(conn, principal.user_id)
    return Me(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role.value,
        role_label=ROLE_LABELS[user.role],
        region_scope=list(user.region_scope) if user.region_scope is not None else None,
        via=principal.via,
        csrf_token=principal.csrf_token,
    )


def _secure(request: Request, settings: Settings) -> bool:
    return settings.secure_cookies if settings.secure_cookies is not None else request.url.scheme == "https"


def _start_session(conn: ConnDep, request: Request, response: Response, settings: Settings, user_id: int) -> str:
    secret, csrf = tokenmod.create_session(
        conn,
        user_id,
        client_addr=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        hours=settings.session_hours,
    )
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request, settings),
        path="/",
    )
    return csrf


def _same_origin(request: Request) -> None:
    """Log-in forms may only be posted from our own pages (no log-in CSRF)."""
    origin = request.headers.get("origin")
    if origin and origin.rstrip("/") != f"{request.url.scheme}://{request.url.netloc}":
        raise PermissionDenied("跨站请求被拒绝 (cross-site request refused)")


def _login(conn: ConnDep, request: Request, username: str, password: str) -> int | None:
    """The user id on success; None after recording the failure (the caller answers 401)."""
    try:
        user = authenticate_password(conn, username, password)
    except NotAuthenticated:
        return None
    set_audit_context(
        conn,
        actor=user.username,
        client_addr=request.client.host if request.client else None,
        request_id=getattr(request.state, "request_id", None),
    )
    audit.record(conn, "login", target_table="app_user", target_id=user.id)
    return user.id


@router.post(
    "/auth/login",
    response_model=Me,
    summary="Sign in with a password (sets the session cookie)",
    responses={401: {"description": "wrong username or password"}},
)
def login(
    body: Credentials, request: Request, response: Response, conn: ConnDep, settings: SettingsDep
) -> Response | Me:
    _same_origin(request)
    user_id = _login(conn, request, body.username, body.password)
    if user_id is None:
        # Answered, not raised: the failed attempt and the lock-out counter must be committed.
        return problem(request, 401, "用户名或密码错误 (wrong username or password)", code="not_authenticated")
    csrf = _start_session(conn, request, response, settings, user_id)
    user = get_user(conn, user_id)
    return Me(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role.value,
        role_label=ROLE_LABELS[user.role],
        region_scope=list(user.region_scope) if user.region_scope is not None else None,
        via="session",
        csrf_token=csrf,
    )


@router.post("/auth/logout", status_code=204, summary="Sign out (ends the session)")
def logout(request: Request, conn: ConnDep, principal: UserDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        tokenmod.end_session(conn, cookie)
        audit.record(conn, "logout", target_table="app_user", target_id=principal.user_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/auth/me", response_model=Me, summary="Who am I: role, region scope and CSRF token")
def me(conn: ConnDep, principal: UserDep) -> Me:
    return _me(conn, principal)


def _token_out(token: tokenmod.Token) -> TokenOut:
    return TokenOut(**{f: getattr(token, f) for f in TokenOut.model_fields})


@router.get("/auth/tokens", response_model=list[TokenOut], summary="My API tokens (secrets are never shown again)")
def my_tokens(conn: ConnDep, principal: UserDep) -> list[TokenOut]:
    return [_token_out(t) for t in tokenmod.list_tokens(conn, principal.user_id)]


@router.post("/auth/tokens", response_model=NewToken, status_code=201, summary="Issue an API token for scripts")
def new_token(body: TokenIn, conn: ConnDep, principal: UserDep) -> NewToken:
    token, secret = tokenmod.create_token(conn, principal.user_id, body.name, days=body.days)
    return NewToken(**_token_out(token).model_dump(), token=secret)


@router.delete("/auth/tokens/{token_id}", status_code=204, summary="Revoke an API token (mine; admins: anyone's)")
def revoke(token_id: int, conn: ConnDep, principal: UserDep) -> Response:
    tokenmod.revoke_token(conn, token_id, by=principal)
    return Response(status_code=204)


# ---------------------------------------------------------------- browser pages


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never an absolute URL or a scheme-relative //host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", include_in_schema=False)
def login_form(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    _same_origin(request)
    user_id = _login(conn, request, username, password)
    if user_id is None:
        return templates.TemplateResponse(
            request,
            "login.html",
            {"next": _safe_next(next), "error": "用户名或密码错误", "username": username},
            status_code=401,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    _start_session(conn, request, response, settings, user_id)
    return response


@router.post("/logout", include_in_schema=False)
def logout_form(
    request: Request, conn: ConnDep, principal: UserDep, csrf_token: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    check_csrf(request, principal, csrf_token)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        tokenmod.end_session(conn, cookie)
        audit.record(conn, "logout", target_table="app_user", target_id=principal.user_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
