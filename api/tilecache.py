"""Answering a tile request from a cached tile (ETag/304, empty tiles as 204, gzip when accepted)
and the cache's front door.

Tiles need a signed-in caller. The tile route authenticates against the database, keys the
per-process cache by the caller's region scope (``api.maps.MapState.tile_key``) and reads the data
version in the request's own snapshot. Once it has served a caller, it leaves the caller's
principal in ``MapState.principals`` (``landgis.accounts.cache``) for a short while, and the front
door, an ASGI middleware in front of everything else, answers that caller's repeated tiles from
the cache without routing, without a pooled connection and without authenticating again, and
renders that caller's cache misses of vector layers itself (``api.tilefast``):

- only ``GET`` tile URLs with credentials the route accepted a moment ago; anything else goes on
  to the route, and so does every miss that is not the ordinary case (see ``_render_miss``);
- ``VersionGate`` reads the data version and the access version after the request arrived (one
  small query shared by every request that arrived meanwhile); the entry must carry that data
  version and be keyed by the caller's region scope, and the caller must have been
  authenticated under that access version. A write committed before the request arrived, in
  any process, therefore never lets a stale tile out, and a revoked token, an ended session or
  a narrowed scope (migration 0009_access_version) reaches the route and its database check on
  the very next tile.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from api.deps import credentials
from api.errors import problem
from api.maps import MapState, scope_key
from api.tilefast import TimedOut
from landgis.accounts.principal import Principal
from landgis.errors import LandgisError
from landgis.maps.cache import CachedTile, make_entry, with_gzip
from landgis.maps.tiles import check_tile, check_zoom, parse_crs

MVT = "application/vnd.mapbox-vector-tile"

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


def tile_headers(entry: CachedTile, max_age: int, cache_state: str) -> dict[str, str]:
    return {
        "etag": entry.etag,
        # private: a tile holds what the caller's region scope lets them see, no shared cache may keep it
        "cache-control": f"private, max-age={max_age}" if max_age else "no-cache",
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
    """ASGI middleware: repeated tiles of a recently authenticated caller, straight from the cache."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        match = TILE_PATH.match(path) or OGC_PATH.match(path)
        maps = getattr(scope["app"].state, "maps", None) if match else None
        if match is None or maps is None:
            await self.app(scope, receive, send)
            return
        answer = await self._answer(scope, maps, match)
        if answer is None:
            await self.app(scope, receive, send)
            return
        if isinstance(answer, Response):
            await answer(scope, receive, send)
            return
        status, headers, body = answer
        headers["content-length"] = str(len(body))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _answer(scope: Scope, maps: MapState, match: re.Match[str]) -> Answer | Response | None:
        if maps.gate is None:
            return None
        request = Request(scope)
        try:
            found = credentials(request)
        except LandgisError:
            return None  # malformed credentials: the route answers with its error
        remembered = maps.principals.get(found) if found is not None else None
        if remembered is None:
            return None
        principal, seen = remembered
        groups = match.groupdict()
        # blank values kept, as the route's request.query_params keeps them
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        layer_id, fmt = groups["layer"], groups.get("fmt")
        z, x, y = int(groups["z"]), int(groups["x"]), int(groups["y"])
        key = maps.tile_key(layer_id, fmt, z, x, y, query, scope_key(principal.region_scope))
        if key is None:
            return None
        if key in maps.cache:
            versions = await maps.gate.read()
            if versions is None:
                return None
            data_version, access_version = versions
            if seen != access_version:
                return None  # an account changed since the caller was authenticated: ask the database
            entry = maps.cache.get(key, data_version)
            if entry is not None:
                accept_encoding = request.headers.get("accept-encoding", "")
                if entry.gzipped is None and entry.body and "gzip" in accept_encoding:
                    entry = with_gzip(entry)
                    maps.cache.put(key, entry)
                return _answer_with(request, maps, entry, "hit")
        if fmt in (None, "mvt", "pbf"):
            return await _render_miss(request, maps, principal, seen, key, layer_id, (z, x, y), query)
        return None


Answer = tuple[int, dict[str, str], bytes]


def _answer_with(request: Request, maps: MapState, entry: CachedTile, cache_state: str) -> Answer:
    return tile_answer(
        entry,
        if_none_match=request.headers.get("if-none-match", ""),
        accept_encoding=request.headers.get("accept-encoding", ""),
        max_age=maps.settings.tile_max_age_s,
        cache_state=cache_state,
    )


async def _render_miss(
    request: Request,
    maps: MapState,
    principal: Principal,
    seen: int,
    key: tuple[object, ...],
    layer_id: str,
    zxy: tuple[int, int, int],
    query: dict[str, str],
) -> Answer | Response | None:
    """A cache miss of a vector layer rendered here (``api.tilefast``); None: the route answers.

    Only the ordinary case is handled here: a known, cached vector layer, a tile inside the matrix
    and the layer's zooms, valid parameters. Everything else goes to the route and its errors.
    """
    fast = maps.fast
    if fast is None or not fast.usable() or maps.cache.max_bytes <= 0:
        return None
    try:
        layer, renderer = maps.vector(layer_id)
        tile = check_tile(*zxy)
        check_zoom(layer, tile)
        if not maps.catalog.state(layer_id).cached:
            return None
        statement, values = renderer.bind(tile, query, crs=parse_crs(query.get("crs")))
    except LandgisError:
        return None
    client = request.scope.get("client")
    try:
        rendered = await fast.render(
            principal,
            statement,
            values,
            timeout_ms=maps.settings.tile_timeout_ms,
            request_id=request.scope.get("state", {}).get("request_id"),
            client_addr=client[0] if client else None,
        )
    except TimedOut:
        return problem(request, 504, "查询超时, 请缩小范围 (the query took too long)", code="timeout")
    if rendered is None or rendered.access_version != seen:
        return None  # unreachable, or an account changed since the caller was authenticated
    gzip_ok = "gzip" in request.headers.get("accept-encoding", "")
    entry = make_entry(rendered.body, rendered.data_version, MVT, compress=gzip_ok)
    maps.cache.put(key, entry)
    return _answer_with(request, maps, entry, "miss")
