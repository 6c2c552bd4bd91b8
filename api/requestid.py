"""Every answer carries ``X-Request-ID``; the id is on ``request.state.request_id`` for the audit
trail and problem details. A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` costs a task
group and a body stream per request, a tenth of a cached map tile's whole time."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HEADER = b"x-request-id"


def plain_id(sent: str) -> str:
    """The caller's id when it is plain (it ends up in the audit trail), else a new one."""
    if 0 < len(sent) <= 64 and sent.replace("-", "").replace("_", "").isalnum() and sent.isascii():
        return sent
    return uuid.uuid4().hex


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((v.decode("latin-1") for k, v in scope["headers"] if k == HEADER), "")
        state = scope.setdefault("state", {})
        state["request_id"] = plain_id(sent)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                headers.append((HEADER, str(state["request_id"]).encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
