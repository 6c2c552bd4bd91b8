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
