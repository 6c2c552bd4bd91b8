"""The OpenAPI document: problem+json error responses and the ways to authenticate, on every operation.

Routes declare their success responses; this adds what every route may answer (400, 401, 403,
404, 409, 412, 413, 422, 500, 503, 504 as problem+json) and the security schemes, so clients and
schemathesis know every status the service can return.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.deps import PUBLIC_PATHS, SESSION_COOKIE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; request_id identifies the request in the server's log",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
    },
    "additionalProperties": True,
}

ERRORS = {
    "400": "请求无效 (bad request: a value, filter or parameter is wrong)",
    "401": "未登录 (not signed in, or the token is invalid)",
    "403": "无权限 (the role does not allow it, or CSRF check failed)",
    "404": "未找到, 或不在您的区域范围内 (not found, or outside your region scope)",
    "409": "冲突 (conflicts with the current state)",
    "412": "数据已被他人修改 (If-Match no longer matches)",
    "413": "内容过大 (request body too large)",
    "422": "参数无效 (a parameter does not match the schema)",
    "500": "服务器内部错误 (internal error; quote the request id)",
    "503": "数据库不可用 (database unavailable)",
    "504": "查询超时 (query took too long)",
}

SECURITY_SCHEMES = {
    "token": {"type": "http", "scheme": "bearer", "description": "API token (lgt_...) from POST /auth/tokens"},
    "basic": {"type": "http", "scheme": "basic", "description": "any user name, an API token as the password"},
    "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE, "description": "browser log-in"},
}


def install(app: FastAPI) -> None:
    def schema() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = document.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        components["securitySchemes"] = SECURITY_SCHEMES
        document["security"] = [{"token": []}, {"basic": []}, {"session": []}]
        problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status, description in ERRORS.items():
                    responses.setdefault(status, {"description": description, "content": problem})
                if path in PUBLIC_PATHS:
                    operation["security"] = []
        app.openapi_schema = document
        return document

    app.openapi = schema  # type: ignore[method-assign]
