"""Schema migrations with alembic, run programmatically on an engine.

Every later piece of the schema is a new revision in ``landgis/db/migrations/versions``; the
schema is never created with ``metadata.create_all`` outside tests.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from landgis.db.engine import set_scope
from landgis.errors import PermissionDenied


def alembic_config() -> Config:
    """An alembic configuration pointing at the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", "landgis.db:migrations")
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Upgrade the schema to ``revision`` (default: every head)."""
    config = alembic_config()
    with engine.begin() as conn:
        # Data steps of revisions see and update every row, whatever the session's scope: an
        # owner that is not a superuser is bound by row-level security (see ``make_engine``).
        set_scope(conn, None)
        if _current(conn) != head_revisions():
            _check_role(conn)
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def _check_role(conn: Connection) -> None:
    """Refuse, with what to do, a migrating role that lacks what the revisions need.

    Functions of revisions 0008, 0013 and 0018 carry their own ``landgis.scope``; PostgreSQL lets only
    a superuser attach such a setting unless the role was granted SET on it (PostgreSQL 15+).
    Without this check the upgrade stops halfway through with "permission denied to set
    parameter" (and rolls back).
    """
    role, superuser, version = conn.execute(
        text(
            "SELECT quote_ident(current_user), rolsuper, current_setting('server_version_num')::int"
            " FROM pg_roles WHERE rolname = current_user"
        )
    ).one()
    if superuser or version < 150000:  # before PostgreSQL 15 there was no such grant, nor need
        return
    if not conn.execute(text("SELECT has_parameter_privilege('landgis.scope', 'SET')")).scalar():
        raise PermissionDenied(
            f"数据库角色 {role} 不是超级用户, 迁移需要先由超级用户授权 (the migrating role needs, once, from a"
            f" superuser): GRANT SET ON PARAMETER landgis.scope TO {role};"
        )


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the schema to ``revision`` (``base`` removes every landgis table)."""
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the database is at (empty for a database never migrated)."""
    with engine.connect() as conn:
        return _current(conn)


def _current(conn: Connection) -> set[str]:
    return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions() -> set[str]:
    """The newest revisions the code knows."""
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def is_current(engine: Engine) -> bool:
    """True when the database schema is at the code's heads."""
    return current_revisions(engine) == head_revisions()
