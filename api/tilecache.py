"""Answering a tile request from a cached tile: ETag/304, empty tiles (204), gzip when accepted.

Tiles need a signed-in caller, so every tile request goes through the route, its dependencies
(log-in, region scope) and its scoped connection; the route keys the per-process cache by the
caller's region scope (``api.maps.MapState.tile_key``) and reads the data version in the
request's own snapshot, so a caller never gets a tile older than the data it can see, nor one
rendered for another scope.
"""

from __future__ import annotations

from landgis.maps.cache import CachedTile


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
