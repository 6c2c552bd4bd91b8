"""The server-side tile cache and the data version that keys it.

Every write to a table a map layer reads bumps ``map_data_version`` (a statement trigger, see
migration 0004) and sends ``NOTIFY landgis_data_version``. Each service process keeps a listener
thread that reads the new version as soon as the notification arrives; a cache entry holds the
version its tile was rendered from (read in the same snapshot as the tile) and is served only
while that is still the current version. While the listener is not connected the version is
unknown and nothing is served from the cache.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace
from hashlib import blake2b

import psycopg

log = logging.getLogger("landgis.maps")

CHANNEL = "landgis_data_version"


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

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return self._bytes


class DataVersionListener:
    """Follows ``map_data_version`` through LISTEN/NOTIFY on a connection of its own.

    ``version`` is None until the first read and whenever the connection is lost; ``observe``
    lets a request report a newer version it read in its own snapshot.
    """

    def __init__(self, conninfo: str, *, reconnect_s: float = 2.0) -> None:
        self._conninfo = conninfo
        self._reconnect_s = reconnect_s
        self._version: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    @property
    def version(self) -> int | None:
        return self._version

    def observe(self, version: int) -> None:
        with self._lock:
            if self._version is not None and version > self._version:
                self._version = version

    def start(self, *, wait_s: float = 5.0) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="landgis-data-version", daemon=True)
        self._thread.start()
        ready.wait(wait_s)

    def stop(self) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None:
            try:
                conn.cancel_safe()
            except Exception:
                log.debug("cancelling the data-version listener failed", exc_info=True)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _read(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        row = conn.execute("SELECT version FROM map_data_version WHERE id = 1").fetchone()
        with self._lock:
            self._version = int(str(row[0])) if row else None

    def _run(self, ready: threading.Event) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, application_name="landgis-tiles") as conn:
                    self._conn = conn
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._read(conn)
                    ready.set()
                    while not self._stop.is_set():
                        seen = False
                        for _ in conn.notifies(timeout=1.0, stop_after=1000):
                            seen = True
                        if seen:
                            self._read(conn)
            except Exception:  # noqa: BLE001 - any failure: stop caching, reconnect
                if self._stop.is_set():
                    break
                log.warning("tile cache: data-version listener lost its connection; cache off until it reconnects")
            finally:
                self._conn = None
                with self._lock:
                    self._version = None
            ready.set()
            self._stop.wait(self._reconnect_s)
