"""Long SQL kept in ``landgis/sql/*.sql`` and read as package resources.

The files hold only our own SQL: identifiers are fixed, values are bound parameters (``:name``).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from sqlalchemy import TextClause, text


@cache
def sql_text(name: str) -> str:
    """The text of ``landgis/sql/<name>.sql``."""
    return (resources.files("landgis") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


@cache
def sql(name: str) -> TextClause:
    """``landgis/sql/<name>.sql`` as a SQLAlchemy text clause with bound parameters."""
    return text(sql_text(name))


def in_scope(column: str) -> str:
    """``landgis_in_scope(column)``, skipped when the transaction has no scope at all.

    ``landgis_in_scope`` costs about 1.5 µs a row (it is not inlined), 1.5 s over a million
    parcels; when no scope is set it is true for every row, so the guard in front (evaluated
    first, and inlined) spares the call. ``column`` is one of our own column expressions.
    """
    return f"(landgis_setting('landgis.scope') IS NULL OR landgis_in_scope({column}))"
