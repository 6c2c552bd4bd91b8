"""One table from core exceptions to HTTP statuses, and problem-details responses (RFC 9457).

A 500 answers with the request id only: never SQL, a path or a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from landgis import errors

log = logging.getLogger("landgis.api")

STATUS_FOR: tuple[tuple[type[errors.LandgisError], int], ...] = (
    (errors.NotFound, 404),
    (errors.InvalidInput, 400),
    (errors.Conflict, 409),
    (errors.NotAuthenticated, 401),
    (errors.PermissionDenied, 403),
    (errors.PreconditionFailed, 412),
    (errors.DatabaseUnavailable, 503),
    (errors.ClusterError, 503),
)

TITLES = {
    400: "请求无效 Bad request",
    401: "未登录 Not authenticated",
    403: "无权限 Forbidden",
    404: "未找到 Not found",
    405: "方法不允许 Method not allowed",
    409: "冲突 Conflict",
    412: "数据已被他人修改 Precondition failed",
    413: "内容过大 Payload too large",
    422: "参数无效 Unprocessable request",
    503: "服务不可用 Service unavailable",
    504: "查询超时 Query timed out",
    500: "服务器内部错误 Internal server error",
}


def status_for(exc: errors.LandgisError) -> int:
    return next((status for cls, status in STATUS_FOR if isinstance(exc, cls)), 500)


def problem(
    request: Request, status: int, detail: str, *, code: str | None = None, extra: dict[str, Any] | None = None
) -> JSONResponse:
    """A problem+json response carrying the request id."""
    body: dict[str, Any] = {
        "type": f"about:blank#{code}" if code else "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": str(request.url.path),
        "request_id": getattr(request.state, "request_id", None),
    }
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def wants_html(request: Request) -> bool:
    """A browser navigating (GET, HTML preferred) rather than a script or a fetch()."""
    if request.method != "GET" or request.query_params.get("f") in ("json", "geojson"):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept.split(",")[0]


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    @app.exception_handler(errors.LandgisError)
    async def landgis_error(request: Request, exc: errors.LandgisError) -> Response:
        status = status_for(exc)
        if status == 401 and wants_html(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        if status >= 500:
            log.warning("request %s: %s", getattr(request.state, "request_id", "?"), exc.message)
        extra = {"details": exc.details} if exc.details else None
        response = problem(request, status, exc.message, code=exc.code, extra=extra)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="landgis"'
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        first = issues[0] if issues else {"loc": [], "msg": "invalid"}
        where = ".".join(str(p) for p in first["loc"])
        return problem(request, 422, f"{where}: {first['msg']}", code="validation", extra={"errors": issues})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(request, exc.status_code, str(exc.detail))

    @app.exception_handler(DBAPIError)
    async def dbapi_error(request: Request, exc: DBAPIError) -> JSONResponse:
        state = getattr(exc.orig, "sqlstate", None) or ""
        rid = getattr(request.state, "request_id", "?")
        if state == "57014":  # query_canceled: the statement timeout
            return problem(request, 504, "查询超时, 请缩小范围 (the query took too long)", code="timeout")
        if state == "42501":  # insufficient_privilege, incl. a row-level security WITH CHECK
            log.warning("request %s: refused by the database: %s", rid, state)
            return problem(request, 403, "无权限修改该数据 (not permitted)", code="forbidden")
        if state.startswith("22") or state.startswith("23"):  # data exception, integrity violation
            log.warning("request %s: database refused a value (%s)", rid, state, exc_info=exc)
            return problem(request, 400, "数据无效 (the database refused a value)", code="invalid_value")
        if isinstance(exc, OperationalError) or state.startswith("08") or state.startswith("53"):
            log.error("request %s: database unavailable", rid, exc_info=exc)
            return problem(request, 503, "数据库不可用 (database unavailable)", code="database")
        log.error("request %s: database error", rid, exc_info=exc)
        return problem(request, 500, "内部错误, 请凭请求编号联系管理员 (internal error)", code="internal")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("request %s: unexpected error", getattr(request.state, "request_id", "?"), exc_info=exc)
        return problem(request, 500, "内部错误, 请凭请求编号联系管理员 (internal error)", code="internal")
