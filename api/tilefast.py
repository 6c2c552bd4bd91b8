"""Cold vector tiles of a recently authenticated caller, rendered by the front door itself.

Beyond the tile statement, the tile route spends most of a cold tile's time on the way to it:
FastAPI's routing and dependencies, a hop to the thread pool, SQLAlchemy, and four round trips
before the statement (role and empty scope, authentication, audit context and scope, statement
timeout). For a caller the route authenticated a moment ago (``MapState.principals``), the front
door (``api.tilecache``) renders a cache miss of a vector layer here instead, on a connection of
a pool of its own, in one round trip (psycopg's pipeline mode):

    <the route's first statement: role landgis_app, empty scope, the access version (0009)>
    <the route's request context: the tile statement timeout, audit context, the caller's scope>
    <the layer's tile statement: the route's own, with the same bound values>
    Sync

The three statements before the Sync run in one implicit transaction (libpq's pipeline
mode), so the settings of the first two (``set_config(..., true)``, local to the transaction)
hold for the tile statement and end with it. The pooled connections are
``default_transaction_read_only``: the transaction cannot write anything. No BEGIN, COMMIT or
ROLLBACK is sent: two messages fewer a tile, and no rollback, at which psycopg would forget
(and deallocate) the connection's prepared statements, so that PostgreSQL planned every tile
statement again, at about the cost of running it. Kept prepared, the statement settles on a
generic plan after a few tiles.

The statement runs under the same role, row-level security and region scope as the route's.
Its tile is used only when the access version read in that transaction is the one the caller
was authenticated under; otherwise an account changed (a revoked token, an ended session, a
narrowed scope) and the request goes on to the route, which authenticates against the database.
A statement timeout answers 504 as the route does. Any other failure goes on to the route too,
which answers with its own error; after a failure to reach the database the front door stops
rendering for ``retry_s`` seconds.

The pool belongs to the event loop that opened it (the service's, at start-up): on any other
loop the front door leaves rendering to the route.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.errors import QueryCanceled
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from api.deps import PREPARE_PARAMS, PREPARE_SQL
from landgis.accounts.principal import Principal
from landgis.db.engine import REQUEST_CONTEXT_SQL, driver_sql, request_context_params
from landgis.maps.tiles import TileQuery

log = logging.getLogger("landgis.maps")

#: The route's own first two statements (``api.deps.prepare_connection``): role, empty scope and
#: access version; then timeout, audit context and the caller's scope.
PREPARE = driver_sql(PREPARE_SQL)
CONTEXT = driver_sql(REQUEST_CONTEXT_SQL)


async def _read_only(conn: psycopg.AsyncConnection[Any]) -> None:
    """Every transaction of a pooled connection is read-only, the pipeline's implicit one too."""
    await conn.execute("SET default_transaction_read_only = on")


@dataclass(frozen=True)
class Rendered:
    """A tile rendered in the caller's transaction, with the versions read in it."""

    body: bytes
    data_version: int
    access_version: int


class TimedOut(Exception):
    """The tile statement ran past the tile statement timeout."""


class TileMissPath:
    """A pool of connections and the one-round-trip tile transaction."""

    def __init__(self, conninfo: str, *, max_size: int, retry_s: float = 2.0, wait_s: float = 5.0) -> None:
        self._conninfo = conninfo
        self._max_size = max_size
        self._retry_s = retry_s
        self._wait_s = wait_s
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[Any, ...]]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retry_at = 0.0
        #: tiles rendered here, and tiles cut off by the statement timeout (for tests and reports)
        self.rendered = 0
        self.timed_out = 0

    async def open(self) -> None:
        """Create the pool on the running loop; connections are opened as tiles ask for them."""
        self._loop = asyncio.get_running_loop()
        self._pool = AsyncConnectionPool(
            self._conninfo,
            min_size=0,
            max_size=self._max_size,
            kwargs={"autocommit": True, "application_name": "landgis-tiles", "connect_timeout": 5},
            configure=_read_only,
            timeout=self._wait_s,
            name="landgis-tiles",
            open=False,
        )
        await self._pool.open(wait=False)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and self._loop is asyncio.get_running_loop():
            await pool.close()

    def usable(self) -> bool:
        """Whether a tile can be rendered here now (on the pool's loop, not just after a failure)."""
        if self._pool is None or time.monotonic() < self._retry_at:
            return False
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    async def render(
        self,
        principal: Principal,
        query: TileQuery,
        values: dict[str, object],
        *,
        timeout_ms: int,
        request_id: str | None,
        client_addr: str | None,
    ) -> Rendered | None:
        """The tile and the versions read with it; None when the route must answer instead.

        Raises ``TimedOut`` when the statement hit the tile statement timeout.
        """
        pool = self._pool
        if pool is None:
            return None
        context = request_context_params(
            statement_timeout_ms=timeout_ms,
            actor=principal.actor,
            client_addr=client_addr,
            request_id=request_id,
            region_codes=None if principal.region_scope is None else list(principal.region_scope),
        )
        try:
            async with pool.connection() as conn:
                async with conn.pipeline():  # one implicit transaction, up to the Sync at the end
                    first = await conn.execute(PREPARE, PREPARE_PARAMS)
                    await conn.execute(CONTEXT, context)
                    second = await conn.execute(query.driver_sql, values)
                versions = await first.fetchone()
                row = await second.fetchone()
        except QueryCanceled:
            self.timed_out += 1
            raise TimedOut from None
        except (PoolTimeout, psycopg.OperationalError):
            log.warning("tile front door: cannot reach the database; tiles go through the route for %ss", self._retry_s)
            self._retry_at = time.monotonic() + self._retry_s
            return None
        except psycopg.Error:
            log.warning("tile front door: tile failed, the route answers instead", exc_info=True)
            return None
        if versions is None or row is None or versions[-1] is None or row[0] is None:
            return None
        self.rendered += 1
        return Rendered(body=bytes(row[1] or b""), data_version=int(row[0]), access_version=int(versions[-1]))
