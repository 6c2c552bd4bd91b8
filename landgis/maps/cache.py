"""The server-side tile cache and the data version that keys it.

Every write to a table a map layer reads bumps ``map_data_version`` (a statement trigger, see
migration 0004). A cache entry holds the version its tile was rendered from (read in the same
transaction as the tile) and is served only while that is still the current version: the tile
route compares it with the version in its own snapshot, the front door (``api.tilecache``) with
the version ``VersionGate`` read after the request arrived. Either way a tile is never older than
a write committed before the request came in, whichever process wrote.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace
from hashlib import blake2b

import psycopg

log = logging.getLogger("landgis.maps")


@dataclass(frozen=True)
class CachedTile:
    version: int
    etag: str
    body: bytes
    gzipped: bytes | None
    media_type: str

    @property
    def size(self) -> int:
        return len(self.body) + (len(self.gzipped) if self.gzipped else 0) + 200


def make_entry(body: bytes, version: int, media_type: str, *, compress: bool) -> CachedTile:
    """A cache entry for ``body``, also gzipped (level 6) when ``compress``."""
    etag = '"' + blake2b(body, digest_size=12).hexdigest() + '"'
    gzipped = zlib.compress(body, 6, wbits=31) if compress and len(body) > 0 else None
    return CachedTile(version=version, etag=etag, body=body, gzipped=gzipped, media_type=media_type)


def with_gzip(entry: CachedTile) -> CachedTile:
    """``entry`` with its gzipped body (compressed once, when a client first accepts gzip)."""
    if entry.gzipped is not None or not entry.body:
        return entry
    return replace(entry, gzipped=zlib.compress(entry.body, 6, wbits=31))


class TileCache:
    """A thread-safe LRU of tiles bounded by bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, CachedTile] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, version: int | None) -> CachedTile | None:
        if version is None:
            return None
        with self._lock:
            entry = self._items.get(key)
            if entry is None or entry.version != version:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: Hashable, entry: CachedTile) -> None:
        if entry.size > self.max_bytes // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._items[key] = entry
            self._bytes += entry.size
            while self._bytes > self.max_bytes and self._items:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.size

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return self._bytes


class VersionGate:
    """Reads the current data and access versions for requests, each read begun after the request
    asked for it, so that a tile served on the strength of it is never older than a write that
    committed before the request arrived, whichever process made that write.

    One query on one connection of its own answers every request that asked while the previous
    query ran: under load a query serves many requests, and its round trip (about a tenth of a
    millisecond on the same machine) bounds the wait. ``read`` returns None when the database
    cannot be reached; callers then take the slow path, which reports the error.
    """

    SQL = (
        "SELECT (SELECT version FROM map_data_version WHERE id = 1), (SELECT version FROM access_version WHERE id = 1)"
    )

    def __init__(self, conninfo: str, *, retry_s: float = 2.0) -> None:
        self._conninfo = conninfo
        self._retry_s = retry_s
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: asyncio.Future[tuple[int, int] | None] | None = None
        self._running = False
        self._task: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        self.queries = 0

    async def read(self) -> tuple[int, int] | None:
        """(data version, access version) as of a moment after this call began, or None."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests start one per client): start afresh
            await self.close()
            self._loop = loop
        if time.monotonic() < self._retry_at:
            return None
        if self._waiting is None:
            self._waiting = loop.create_future()
            if not self._running:
                self._running = True
                self._task = loop.create_task(self._run())
        # shielded: a request that goes away must not cancel the answer others wait for
        return await asyncio.shield(self._waiting)

    async def _run(self) -> None:
        try:
            while self._waiting is not None:
                # Whoever waits on this future asked before the query below begins.
                waiting, self._waiting = self._waiting, None
                result = await self._query()
                if not waiting.done():
                    waiting.set_result(result)
        finally:
            self._running = False

    async def _query(self) -> tuple[int, int] | None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, application_name="landgis-tiles", connect_timeout=5
                )
            cur = await self._conn.execute(self.SQL)
            row = await cur.fetchone()
            self.queries += 1
        except Exception:  # noqa: BLE001 - any failure: no answer from the cache, reconnect later
            log.warning("tile cache: cannot read the data version; cache front door off for %ss", self._retry_s)
            self._retry_at = time.monotonic() + self._retry_s
            await self._drop()
            return None
        if row is None or row[0] is None or row[1] is None:
            return None
        return int(str(row[0])), int(str(row[1]))

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # closing a broken connection
                log.debug("closing the version gate's connection failed", exc_info=True)

    async def close(self) -> None:
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_result(None)
        self._waiting = None
        await self._drop()
