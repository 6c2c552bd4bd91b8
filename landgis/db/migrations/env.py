"""Alembic environment: runs on a connection handed over by ``landgis.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from landgis.db.models import Base

config = context.config
target_metadata = Base.metadata

# Tables PostGIS owns; autogenerate must leave them alone.
_FOREIGN_TABLES = {"spatial_ref_sys", "layer", "topology"}


def _include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "table" and name in _FOREIGN_TABLES)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    from landgis.db.engine import make_engine
    from landgis.settings import get_settings

    with make_engine(get_settings(), poolclass=None).connect() as conn:
        _run(conn)
        conn.commit()
else:
    _run(connection)
