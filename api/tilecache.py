"""The tile cache's front door: an ASGI middleware that answers repeated anonymous tile requests
straight from the per-process tile cache, before routing and before a database connection.

Only requests without credentials (no ``Authorization``, no ``Cookie``) are answered here, and
only from entries the tile route stored for requests without credentials, which it rendered
under the region scope the service gives such callers. A request with credentials always goes
through the route, its dependencies (log-in, region scope) and its scoped connection.

Freshness: an entry carries the data version it was rendered from; the front serves it only
while the data-version listener (LISTEN/NOTIFY, ``landgis.maps.cache``) reports that version.
The route itself reads the version in the request's own snapshot, so a request that reaches
the route never gets a tile older than the data it can see.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from landgis.maps.cache import CachedTile, with_gzip

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TILE_PATH = re.compile(
    r"^/tiles/(?P<layer>[a-z][a-z0-9_]{0,47})/(?P<z>\d{1,2})/(?P<x>\d{1,8})/(?P<y>\d{1,8})\.(?P<fmt>mvt|pbf|png|webp)$"
)
OGC_PATH = re.compile(
    r"^/collections/(?P<layer>[a-z][a-z0-9_]{0,47})/tiles/WebMercatorQuad/(?P<z>\d{1,2})/(?P<x>\d{1,8})/(?P<y>\d{1,8})$"
)
ANONYMOUS = ("anonymous",)


def has_credentials(headers: list[tuple[bytes, bytes]] | Any) -> bool:
    return any(name in (b"authorization", b"cookie") for name, _ in headers)


def tile_headers(entry: CachedTile, max_age: int, cache_state: str) -> dict[str, str]:
    return {
        "etag": entry.etag,
        "cache-control": f"public, max-age={max_age}" if max_age else "no-cache",
        "vary": "Accept-Encoding",
        "x-tile-cache": cache_state,
    }


def tile_answer(
    entry: CachedTile, *, if_none_match: str, accept_encoding: str, max_age: int, cache_state: str
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body answering a tile request from ``entry`` (304, 204 or 200, gzip when accepted)."""
    headers = tile_headers(entry, max_age, cache_state)
    if entry.etag in if_none_match:
        return 304, headers, b""
    if not entry.body:
        return 204, headers, b""
    headers["content-type"] = entry.media_type
    if entry.gzipped is not None and "gzip" in accept_encoding:
        headers["content-encoding"] = "gzip"
        return 200, headers, entry.gzipped
    return 200, headers, entry.body


class TileCacheFront:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        match = TILE_PATH.match(path) or OGC_PATH.match(path)
        maps = getattr(scope["app"].state, "maps", None) if match else None
        if match is None or maps is None or has_credentials(scope["headers"]):
            await self.app(scope, receive, send)
            return
        groups = match.groupdict()
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        key = maps.front_key(
            groups["layer"], groups.get("fmt"), int(groups["z"]), int(groups["x"]), int(groups["y"]), query
        )
        entry = maps.cache.get(key, maps.version()) if key is not None else None
        if entry is None:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if entry.gzipped is None and entry.body and "gzip" in headers.get("accept-encoding", ""):
            entry = with_gzip(entry)
            maps.cache.put(key, entry)
        status, out, body = tile_answer(
            entry,
            if_none_match=headers.get("if-none-match", ""),
            accept_encoding=headers.get("accept-encoding", ""),
            max_age=maps.settings.tile_max_age_s,
            cache_state="hit",
        )
        out["content-length"] = str(len(body))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})
