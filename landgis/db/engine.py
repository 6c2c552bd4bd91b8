"""Engines and connections.

One engine per process, created at the entry point (the CLI command or the app's lifespan) and
passed down. The URL comes from ``LANDGIS_DATABASE_URL`` or, when unset, from the project-local
cluster recorded by ``landgis db up``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Connection, Engine, TextClause, create_engine, text
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.engine import URL, make_url

from landgis.db import cluster
from landgis.errors import DatabaseUnavailable
from landgis.settings import Settings

_DRIVER_DIALECT = pg_psycopg.dialect()  # type: ignore[no-untyped-call]


def database_url(settings: Settings) -> URL:
    """The SQLAlchemy URL of the database this process uses (psycopg 3 driver)."""
    if settings.database_url:
        url = make_url(settings.database_url)
        if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
            url = url.set(drivername="postgresql+psycopg")
        return url
    info = cluster.read_info(settings)
    if info is None:
        raise DatabaseUnavailable(
            "No database: LANDGIS_DATABASE_URL is not set and the local cluster was never created. "
            "Run `landgis db up` first."
        )
    return info.url()


def make_engine(settings: Settings, url: URL | None = None, *, unrestricted: bool = False, **kwargs: object) -> Engine:
    """An engine with a connection pool sized from the settings.

    ``unrestricted`` is for batch jobs (the command line): their sessions start with
    ``landgis.scope`` ``*``, every region, rather than unset. Both mean every region to the
    scope checks, but the policies that keep ``landgis_app`` from reading or writing without a
    scope (``*_scope_required``) bind its members too, and a database owner that is not a
    superuser is one (revision 0005 grants it the role, to run the service's requests as
    ``landgis_app``): with no scope set, its batch jobs could write nothing. A transaction's own
    ``set_scope`` still overrides the session's. The service's engine must not use this: its
    requests fail closed when a scope was never set.
    """
    url = url or database_url(settings)
    connect_args: dict[str, object] = {"application_name": "landgis", "connect_timeout": 10}
    if unrestricted:
        connect_args["options"] = _with_option(url, "-c landgis.scope=*")
    options: dict[str, object] = {
        "pool_size": settings.pool_size,
        "max_overflow": settings.pool_size,
        "pool_pre_ping": True,
        "connect_args": connect_args,
    }
    options.update(kwargs)
    return create_engine(url, **options)


def _with_option(url: URL, option: str) -> str:
    """libpq ``options`` for ``url`` with ``option`` added: an ``options`` given in connect_args
    replaces the URL's own and ``PGOPTIONS`` (libpq's default for it), so those are kept."""
    given = url.query.get("options")
    if given is None:
        given = os.environ.get("PGOPTIONS", "")
    elif not isinstance(given, str):
        given = " ".join(given)
    return f"{given} {option}".strip()


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that commits on success and rolls back on error."""
    with engine.begin() as conn:
        yield conn


def set_audit_context(
    conn: Connection,
    *,
    actor: str,
    client_addr: str | None = None,
    request_id: str | None = None,
    batch_id: int | None = None,
) -> None:
    """Tell the change-history triggers who is writing, for the current transaction only."""
    conn.execute(
        text(
            "SELECT set_config('landgis.actor', :actor, true), set_config('landgis.client_addr', :addr, true),"
            " set_config('landgis.request_id', :rid, true), set_config('landgis.batch_id', :batch, true)"
        ),
        {
            "actor": actor,
            "addr": client_addr or "",
            "rid": request_id or "",
            "batch": "" if batch_id is None else str(batch_id),
        },
    )


def set_scope(conn: Connection, region_codes: list[str] | None) -> None:
    """Limit the current transaction to parcels in these regions (None: unrestricted).

    Row-level security policies and scoped queries read it through ``landgis_in_scope()``;
    an empty list means nothing is visible. Unrestricted is written as ``*`` so that the
    service's database role, which sees nothing while the scope is unset, sees everything.
    """
    conn.execute(_SET_SCOPE, {"scope": scope_setting(region_codes)})


_SET_SCOPE = text("SELECT set_config('landgis.scope', :scope, true)")


@contextmanager
def unscoped(conn: Connection) -> Iterator[None]:
    """Every row visible to the statements inside, whatever the transaction's region scope.

    For checks that must find rows outside the caller's scope (a 宗地代码 or 统一社会信用代码 that
    another county's parcel or firm holds), so as to refuse the row that would take them over. A
    superuser sees them anyway; a role that row-level security binds (a table owner that is not
    a superuser: the scoped tables have FORCE ROW LEVEL SECURITY) sees only its scope otherwise.
    Inside, ``landgis_in_scope()`` says yes to everything: a check tests the caller's scope
    itself. Reads only: writes belong under the caller's scope, where the policies' WITH CHECK
    applies, and the scope is back as it was when the block ends, however it ends.
    """
    saved = conn.execute(text("SELECT current_setting('landgis.scope', true)")).scalar()
    set_scope(conn, None)
    try:
        yield
    except BaseException:
        # After a failed statement the transaction is aborted (and a rollback to its savepoint
        # brings the scope back anyway): the restore must not replace the error that got here.
        with suppress(Exception):
            conn.execute(_SET_SCOPE, {"scope": saved})
        raise
    conn.execute(_SET_SCOPE, {"scope": saved})


def scope_setting(region_codes: list[str] | None) -> str:
    """The ``landgis.scope`` value for a scope: ``*`` unrestricted, ``-`` nothing, else the codes."""
    return "*" if region_codes is None else (",".join(region_codes) or "-")


def scope_codes(conn: Connection) -> list[str] | None:
    """The inverse of ``set_scope``: the transaction's region codes, or None when unrestricted.

    "Unrestricted" is decided by the database's own ``landgis_scope_unrestricted()`` (unset or ``*``),
    the same test the row-level security policies use.
    """
    row = conn.execute(
        text("SELECT landgis_scope_unrestricted(), coalesce(current_setting('landgis.scope', true), '')")
    ).one()
    return None if row[0] else [c for c in row[1].split(",") if c and c != "-"]


#: What a web request's queries run under: statement timeout, audit context and region scope.
REQUEST_CONTEXT_SQL = text(
    "SELECT set_config('statement_timeout', :ms, true), set_config('landgis.actor', :actor, true),"
    " set_config('landgis.client_addr', :addr, true), set_config('landgis.request_id', :rid, true),"
    " set_config('landgis.batch_id', '', true), set_config('landgis.scope', :scope, true)"
)


def request_context_params(
    *,
    statement_timeout_ms: int,
    actor: str,
    client_addr: str | None,
    request_id: str | None,
    region_codes: list[str] | None,
) -> dict[str, str]:
    """The values of ``REQUEST_CONTEXT_SQL``: what ``set_audit_context`` and ``set_scope`` set, for a
    web request, with its statement timeout, in one statement."""
    return {
        "ms": str(statement_timeout_ms),
        "actor": actor,
        "addr": client_addr or "",
        "rid": request_id or "",
        "scope": scope_setting(region_codes),
    }


def driver_sql(clause: TextClause) -> str:
    """``clause`` in psycopg's own form (``%(name)s`` parameters), for code that runs it on a
    psycopg connection without SQLAlchemy, bound with the same values."""
    return str(clause.compile(dialect=_DRIVER_DIALECT))


def server_versions(conn: Connection) -> dict[str, str]:
    """PostgreSQL and PostGIS versions of the connected server."""
    pg = conn.execute(text("SHOW server_version")).scalar_one()
    postgis = conn.execute(text("SELECT postgis_full_version()")).scalar_one()
    lib = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    return {"postgresql": str(pg), "postgis": str(lib), "postgis_full": str(postgis)}
