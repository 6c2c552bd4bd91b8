"""Principals the tile route authenticated a moment ago, so that a caller's repeated map tiles can
be answered without authenticating against the database again (``api.tilecache.TileCacheFront``).

Only the tile front door reads this cache; every other request authenticates against the
database. An entry holds the access version (migration 0009_access_version) read before its
authentication and is good only while the access version is still the same: any change to an
account, token or session that can end or narrow access makes every entry worthless at once, in
every service process. Entries also expire after ``ttl_s`` seconds, which bounds the memory they
take and the time an expired token or session can be served from here.
"""

from __future__ import annotations

import threading
import time

from landgis.accounts.principal import Principal
from landgis.accounts.tokens import digest

#: (kind, secret): an API token or a browser session cookie (``api.deps.credentials``).
Credential = tuple[str, str]


class PrincipalCache:
    def __init__(self, ttl_s: float, *, max_items: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._items: dict[tuple[str, str], tuple[Principal, int, float]] = {}
        self._lock = threading.Lock()

    def get(self, credential: Credential) -> tuple[Principal, int] | None:
        """The principal of ``credential`` and the access version it was authenticated under,
        while the entry lasts; the caller compares that version with the current one."""
        kind, secret = credential
        found = self._items.get((kind, digest(secret)))
        if found is None:
            return None
        principal, seen, expires = found
        if time.monotonic() >= expires:
            return None
        return principal, seen

    def put(self, credential: Credential, principal: Principal, *, access_version: int) -> None:
        """Remember ``principal``, authenticated after ``access_version`` was read."""
        if self.ttl_s <= 0:
            return
        kind, secret = credential
        with self._lock:
            if len(self._items) >= self.max_items:
                self._items.clear()
            self._items[(kind, digest(secret))] = (principal, access_version, time.monotonic() + self.ttl_s)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
