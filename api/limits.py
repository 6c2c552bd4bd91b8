"""Request size limits, enforced before a route reads the body.

A body larger than the limit answers 413 whether it announces its length or streams it in
chunks. Routes that take files (uploads) get a larger limit for their path prefix, given to the
middleware when the app is built (``larger={"/loads/": settings.upload_max_bytes}``).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware answering 413 (problem+json) to bodies over the limit."""

    def __init__(self, app: ASGIApp, default_max: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_max = default_max
        #: path prefix -> largest body in bytes, for routes that take files
        self.larger = dict(larger or {})

    def limit_for(self, path: str) -> int:
        matches = [size for prefix, size in self.larger.items() if path.startswith(prefix)]
        return max(matches) if matches else self.default_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = True
            if too_big:
                await self.refuse(scope, send, limit)
                return
        received = 0
        started = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer now: the framework may catch the exception below while parsing the
                    # body, and whatever it answers then is dropped by tracking_send.
                    if not started and not refused:
                        refused = True
                        await self.refuse(scope, send, limit)
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counting_receive, tracking_send)

    async def refuse(self, scope: Scope, send: Send, limit: int) -> None:
        body: dict[str, Any] = {
            "type": "about:blank#payload_too_large",
            "title": "内容过大 Payload too large",
            "status": 413,
            "detail": f"请求内容超过 {limit // 1024} KiB (request body larger than {limit} bytes)",
            "instance": scope["path"],
            "request_id": None,
        }
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
