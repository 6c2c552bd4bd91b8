"""The access version: a counter that goes up whenever a user, token or session changes in a way
that can end or narrow someone's access (role, region scope, active flag, password, a revoked or
shortened token, an ended session).

The tile cache's front door (``api.tilecache``) answers a caller's repeated tiles without
authenticating against the database again; it keeps the principal it saw together with the
access version read before that authentication, and serves it only while the access version is
unchanged (read, with the data version, by ``landgis.maps.cache.VersionGate``). A revocation
therefore takes effect on the very next tile, in every service process.

The data-version trigger of revision 0004 stops sending ``NOTIFY landgis_data_version``: the
service reads the version when a request needs it instead of listening for it (and a NOTIFY
serialises every committing transaction that sends one).

Statement-level triggers: one bump per statement. ``UPDATE OF`` leaves out the columns written on
ordinary use (last_login_at, failed_logins, locked_until, last_used_at, last_seen_at), which never
narrow access. The service's role may read the counter but not write it: the trigger function is
SECURITY DEFINER.

Revision ID: 0009_access_version
Revises: 0008_integration
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_access_version"
down_revision = "0008_integration"
branch_labels = None
depends_on = None

APP_ROLE = "landgis_app"

#: table -> the columns whose update can end or narrow access
WATCHED = {
    "app_user": "username, role, region_scope, active, password_hash",
    "api_token": "revoked_at, expires_at, user_id",
    "web_session": "expires_at, user_id",
}


BUMP_DATA_VERSION = """
CREATE OR REPLACE FUNCTION landgis_bump_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE map_data_version SET version = version + 1, changed_at = now() WHERE id = 1;{notify}
  RETURN NULL;
END
$$;
"""


def upgrade() -> None:
    op.execute(BUMP_DATA_VERSION.format(notify=""))
    op.create_table(
        "access_version",
        sa.Column("id", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_access_version_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_access_version"),
    )
    op.execute("INSERT INTO access_version (id, version) VALUES (1, 1)")
    op.execute(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON access_version FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT ON access_version TO {APP_ROLE}")
    op.execute(
        """
CREATE FUNCTION landgis_bump_access_version() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  UPDATE access_version SET version = version + 1, changed_at = now() WHERE id = 1;
  RETURN NULL;
END
$$;
"""
    )
    for table, columns in WATCHED.items():
        op.execute(
            f"CREATE TRIGGER {table}_access_version AFTER UPDATE OF {columns} OR DELETE OR TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION landgis_bump_access_version();"
        )


def downgrade() -> None:
    for table in WATCHED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_access_version ON {table};")
    op.execute("DROP FUNCTION IF EXISTS landgis_bump_access_version();")
    op.drop_table("access_version")
    op.execute(BUMP_DATA_VERSION.format(notify="\n  PERFORM pg_notify('landgis_data_version', TG_TABLE_NAME);"))
