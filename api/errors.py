"""One table from core exceptions to HTTP statuses, and problem-details responses (RFC 9457).

A 500 answers with the request id only: never SQL, a path or a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    @app.exception_handler(errors.LandgisError)
    async def landgis_error(request: Request, exc: errors.LandgisError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.warning("request %s: %s", getattr(request.state, "request_id", "?"), exc.message)
        extra = {"details": exc.details} if exc.details else None
        return problem(request, status, exc.message, code=exc.code, extra=extra)

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

    @app.exception_handler(OperationalError)
    async def operational_error(request: Request, exc: OperationalError) -> JSONResponse:
        if "statement timeout" in str(exc.orig):
            return problem(request, 504, "查询超时, 请缩小范围 (the query took too long)", code="timeout")
        log.error("request %s: database error", getattr(request.state, "request_id", "?"), exc_info=exc)
        return problem(request, 503, "数据库不可用 (database unavailable)", code="database")

    @app.exception_handler(DBAPIError)
    async def dbapi_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if "statement timeout" in str(exc.orig):
            return problem(request, 504, "查询超时, 请缩小范围 (the query took too long)", code="timeout")
        log.error("request %s: database error", getattr(request.state, "request_id", "?"), exc_info=exc)
        return problem(request, 500, "内部错误, 请凭请求编号联系管理员 (internal error)", code="internal")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("request %s: unexpected error", getattr(request.state, "request_id", "?"), exc_info=exc)
        return problem(request, 500, "内部错误, 请凭请求编号联系管理员 (internal error)", code="internal")
