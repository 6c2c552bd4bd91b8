"""Typed FastAPI dependencies (``XxxDep``): settings, the engine and a request's connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine

from landgis.db.engine import set_request_context
from landgis.settings import Settings


# Trivial dependencies are ``async``: FastAPI runs sync ones in the thread pool, a thread hop each.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]


def prepare_connection(conn: Connection, request: Request, settings: Settings) -> None:
    """Set what every query of a request runs under: timeout, audit context and region scope."""
    # One round trip. Every query of the request runs under the caller's region scope
    # (unrestricted until accounts exist); row-level security and scoped queries read it in the
    # database. A route may shorten its timeout (map tiles) by setting
    # request.state.statement_timeout_ms in a dependency declared before ConnDep.
    set_request_context(
        conn,
        statement_timeout_ms=getattr(request.state, "statement_timeout_ms", None) or settings.statement_timeout_ms,
        actor=getattr(request.state, "actor", None) or "anonymous",
        client_addr=request.client.host if request.client else None,
        request_id=getattr(request.state, "request_id", None),
        region_codes=getattr(request.state, "region_scope", None),
    )


def get_connection(request: Request, engine: EngineDep, settings: SettingsDep) -> Iterator[Connection]:
    """A connection in a transaction for one request (see ``prepare_connection``).

    Commits when the route returns normally, rolls back when it raises.
    """
    with engine.begin() as conn:
        prepare_connection(conn, request, settings)
        yield conn


ConnDep = Annotated[Connection, Depends(get_connection)]
