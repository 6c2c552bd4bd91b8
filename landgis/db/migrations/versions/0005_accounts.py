"""Accounts, sessions and API tokens; the audit of non-row events; the service's database role
and row-level security by region scope.

The web service runs every request as the role ``landgis_app`` (``SET LOCAL ROLE`` in
``api/deps.py``), which owns nothing, so row-level security always applies to it. Batch jobs and
the command line keep their login role and, with no scope set, see everything.

Revision ID: 0005_accounts
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_accounts"
down_revision = "0001"
branch_labels = None
depends_on = None

APP_ROLE = "landgis_app"
JSONB_EMPTY = sa.text("'{}'::jsonb")

#: Tables whose rows reveal parcels or enterprises: row-level security by region scope.
SCOPED = ("parcel", "occupancy", "enterprise", "enterprise_year", "change_log", "audit_event")
#: Tables the service may read but never change (written only by SECURITY DEFINER functions).
APPEND_ONLY = ("change_log", "audit_event")

ROLE_UP = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    BEGIN
      CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;  -- another database of the cluster created it at the same moment
    END;
  END IF;
  -- A login role that is not a superuser must be a member to SET ROLE to it.
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT {APP_ROLE} TO %I', current_user);
  END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO {APP_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE};
-- Tables created by later migrations (run by the same role) get the same grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE};
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON change_log, audit_event, alembic_version FROM {APP_ROLE};
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON spatial_ref_sys FROM {APP_ROLE};
"""

ROLE_DOWN = f"""
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {APP_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {APP_ROLE};
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE};
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE};
REVOKE ALL ON SCHEMA public FROM {APP_ROLE};
DO $$
BEGIN
  DROP ROLE {APP_ROLE};
EXCEPTION WHEN dependent_objects_still_exist OR object_in_use THEN
  NULL;  -- still granted in another database of the cluster: it stays there
END
$$;
"""

FUNCTIONS = rf"""
-- '*' (the service's marker for an unrestricted user) and '' (batch jobs) see every region.
CREATE OR REPLACE FUNCTION landgis_in_scope(code text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN coalesce(current_setting('landgis.scope', true), '') IN ('', '*') THEN true
    WHEN code IS NULL THEN false
    ELSE EXISTS (
      SELECT 1 FROM unnest(string_to_array(current_setting('landgis.scope', true), ',')) AS s(prefix)
      WHERE s.prefix <> '-' AND starts_with(code, s.prefix))
  END
$$;

CREATE FUNCTION landgis_scope_unrestricted() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(current_setting('landgis.scope', true), '') IN ('', '*')
$$;

-- An enterprise is visible when its own region is in scope or it uses a parcel that is.
CREATE FUNCTION landgis_enterprise_visible(eid bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT landgis_scope_unrestricted()
      OR landgis_in_scope((SELECT e.region_code FROM enterprise e WHERE e.id = eid))
      OR EXISTS (SELECT 1 FROM occupancy o JOIN parcel p ON p.id = o.parcel_id
                 WHERE o.enterprise_id = eid AND landgis_in_scope(p.region_code))
$$;

-- Whether a change_log row may be shown under the current scope: the row it describes, or for a
-- row deleted since, the values its delete entry kept, must lie in scope. SECURITY DEFINER so that
-- it may read change_log itself (a policy querying its own table would recurse); every check is
-- therefore an explicit landgis_in_scope().
CREATE FUNCTION landgis_change_visible(tbl text, rid bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT landgis_scope_unrestricted() OR CASE tbl
    WHEN 'parcel' THEN landgis_in_scope(coalesce(
      (SELECT p.region_code FROM parcel p WHERE p.id = rid),
      (SELECT d.changes ->> 'region_code' FROM change_log d
       WHERE d.table_name = 'parcel' AND d.row_id = rid AND d.action = 'delete' LIMIT 1)))
    WHEN 'occupancy' THEN landgis_in_scope((SELECT p.region_code FROM parcel p WHERE p.id = coalesce(
      (SELECT o.parcel_id FROM occupancy o WHERE o.id = rid),
      (SELECT (d.changes ->> 'parcel_id')::bigint FROM change_log d
       WHERE d.table_name = 'occupancy' AND d.row_id = rid AND d.action = 'delete' LIMIT 1))))
    WHEN 'enterprise' THEN landgis_enterprise_visible(rid)
    WHEN 'enterprise_year' THEN landgis_enterprise_visible((SELECT y.enterprise_id FROM enterprise_year y WHERE y.id = rid))
    WHEN 'zone' THEN landgis_in_scope((SELECT z.region_code FROM zone z WHERE z.id = rid))
    ELSE false
  END
$$;

-- Records an event that is not a row change (log-in, token issued, status change with its
-- reason, evaluation run ...). The service may call it but cannot write audit_event itself.
CREATE FUNCTION landgis_audit(p_action text, p_target_table text, p_target_id bigint,
                              p_region_code text, p_details jsonb) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO audit_event (actor, client_addr, request_id, action, target_table, target_id, region_code, details)
  VALUES (landgis_actor(), landgis_setting('landgis.client_addr'), landgis_setting('landgis.request_id'),
          p_action, p_target_table, p_target_id, p_region_code, coalesce(p_details, '{{}}'::jsonb))
  RETURNING id
$$;
REVOKE EXECUTE ON FUNCTION landgis_audit(text, text, bigint, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION landgis_audit(text, text, bigint, text, jsonb) TO {APP_ROLE};

-- The change history of accounts: like landgis_log_changes, but the columns named in the
-- trigger's arguments (password and token hashes) are logged only as "changed".
CREATE FUNCTION landgis_log_redacted_changes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  ignored text[] := ARRAY['updated_at', 'created_at', 'last_login_at', 'last_used_at', 'failed_logins'];
  secret text[] := TG_ARGV;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO change_log (actor, client_addr, request_id, batch_id, table_name, row_id, action, changes)
    SELECT landgis_actor(), landgis_setting('landgis.client_addr'), landgis_setting('landgis.request_id'),
           NULL, TG_TABLE_NAME, n.id, 'insert', to_jsonb(n) - ignored - secret
    FROM new_rows n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO change_log (actor, client_addr, request_id, batch_id, table_name, row_id, action, changes)
    SELECT landgis_actor(), landgis_setting('landgis.client_addr'), landgis_setting('landgis.request_id'),
           NULL, TG_TABLE_NAME, o.id, 'delete', to_jsonb(o) - ignored - secret
    FROM old_rows o;
  ELSE
    INSERT INTO change_log (actor, client_addr, request_id, batch_id, table_name, row_id, action, changes)
    WITH n AS MATERIALIZED (SELECT r.id, to_jsonb(r) - ignored AS j FROM new_rows r),
         o AS MATERIALIZED (SELECT r.id, to_jsonb(r) - ignored AS j FROM old_rows r),
         d AS (
           SELECT n.id,
                  (SELECT jsonb_object_agg(e.key, CASE WHEN e.key = ANY (secret)
                                                  THEN jsonb_build_object('old', '***', 'new', '***')
                                                  ELSE jsonb_build_object('old', o.j -> e.key, 'new', e.value) END)
                   FROM jsonb_each(n.j) AS e
                   WHERE (o.j -> e.key) IS DISTINCT FROM e.value) AS changes
           FROM n JOIN o ON o.id = n.id)
    SELECT landgis_actor(), landgis_setting('landgis.client_addr'), landgis_setting('landgis.request_id'),
           NULL, TG_TABLE_NAME, d.id, 'update', d.changes
    FROM d
    WHERE d.changes IS NOT NULL;
  END IF;
  RETURN NULL;
END
$$;

-- The row-change history is written by its trigger with the rights of the schema's owner, so
-- the service role needs (and has) no INSERT on change_log.
ALTER FUNCTION landgis_log_changes() SECURITY DEFINER SET search_path = public, pg_temp;

-- PostGIS's bounding-box operator (&&) cannot leak row contents (it answers true or false and its
-- only error is about mixed SRIDs, fixed by each column's type). Marked LEAKPROOF, the planner may
-- use GiST indexes under row-level security; without it every bbox query is a full scan.
-- Only a superuser may do this; elsewhere the queries stay correct, only slower.
DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER FUNCTION geometry_overlaps(geometry, geometry) LEAKPROOF;
  ELSE
    RAISE NOTICE 'not a superuser: geometry_overlaps stays non-leakproof (bbox queries under row-level security will not use GiST indexes)';
  END IF;
END
$$;
"""

DROP_FUNCTIONS = r"""
ALTER FUNCTION landgis_log_changes() SECURITY INVOKER RESET search_path;
DROP FUNCTION IF EXISTS landgis_log_redacted_changes();
DROP FUNCTION IF EXISTS landgis_audit(text, text, bigint, text, jsonb);
DROP FUNCTION IF EXISTS landgis_change_visible(text, bigint);
DROP FUNCTION IF EXISTS landgis_enterprise_visible(bigint);
DROP FUNCTION IF EXISTS landgis_scope_unrestricted();
CREATE OR REPLACE FUNCTION landgis_in_scope(code text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN coalesce(current_setting('landgis.scope', true), '') = '' THEN true
    WHEN code IS NULL THEN false
    ELSE EXISTS (
      SELECT 1 FROM unnest(string_to_array(current_setting('landgis.scope', true), ',')) AS s(prefix)
      WHERE s.prefix <> '-' AND starts_with(code, s.prefix))
  END
$$;
DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER FUNCTION geometry_overlaps(geometry, geometry) NOT LEAKPROOF;
  END IF;
END
$$;
"""

#: USING expression of each scoped table's policy (WITH CHECK is the same expression).
POLICIES = {
    "parcel": "landgis_in_scope(region_code)",
    "occupancy": "EXISTS (SELECT 1 FROM parcel p WHERE p.id = occupancy.parcel_id AND landgis_in_scope(p.region_code))",
    "enterprise": (
        "landgis_in_scope(region_code) OR EXISTS (SELECT 1 FROM occupancy o JOIN parcel p ON p.id = o.parcel_id"
        " WHERE o.enterprise_id = enterprise.id AND landgis_in_scope(p.region_code))"
    ),
    "enterprise_year": "EXISTS (SELECT 1 FROM enterprise e WHERE e.id = enterprise_year.enterprise_id)",
    "change_log": "landgis_change_visible(table_name, row_id)",
    "audit_event": (
        "landgis_scope_unrestricted() OR (region_code IS NOT NULL AND landgis_in_scope(region_code))"
        " OR (target_table = 'parcel' AND EXISTS (SELECT 1 FROM parcel p WHERE p.id = audit_event.target_id))"
    ),
}


def _rls_up() -> str:
    parts = []
    for table, using in POLICIES.items():
        parts += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY;",
            f"CREATE POLICY {table}_scope ON {table} USING ({using});",
            # Fail closed: the service role sees nothing in a transaction whose scope was never set.
            f"CREATE POLICY {table}_scope_required ON {table} AS RESTRICTIVE TO {APP_ROLE}"
            " USING (landgis_setting('landgis.scope') IS NOT NULL);",
        ]
    # The history tables are appended to by SECURITY DEFINER functions run by the owner.
    for table in APPEND_ONLY:
        parts.append(f"CREATE POLICY {table}_append ON {table} FOR INSERT WITH CHECK (true);")
    return "\n".join(parts)


def _rls_down() -> str:
    parts = []
    for table in POLICIES:
        parts += [
            f"DROP POLICY IF EXISTS {table}_scope ON {table};",
            f"DROP POLICY IF EXISTS {table}_scope_required ON {table};",
            f"DROP POLICY IF EXISTS {table}_append ON {table};",
            f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;",
            f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;",
        ]
    return "\n".join(parts)


def _account_triggers() -> str:
    parts = []
    for table, secret in (("app_user", "password_hash"), ("api_token", "token_hash")):
        parts += [
            f"CREATE TRIGGER {table}_updated_at BEFORE UPDATE ON {table} FOR EACH ROW "
            f"WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION landgis_touch_updated_at();",
            f"CREATE TRIGGER {table}_log_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION landgis_log_redacted_changes('{secret}');",
            f"CREATE TRIGGER {table}_log_update AFTER UPDATE ON {table} "
            f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION landgis_log_redacted_changes('{secret}');",
            f"CREATE TRIGGER {table}_log_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION landgis_log_redacted_changes('{secret}');",
        ]
    return "\n".join(parts)


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False, comment="log-in name, lower case"),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("role", sa.String(16), nullable=False, comment="viewer, officer, planner, admin"),
        sa.Column(
            "region_scope",
            postgresql.ARRAY(sa.String(12)),
            nullable=True,
            comment="行政区划代码 the user may see; NULL = every region",
        ),
        sa.Column("password_hash", sa.Text(), nullable=True, comment="argon2id; NULL = no password log-in"),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("role IN ('viewer', 'officer', 'planner', 'admin')", name="ck_app_user_role"),
        sa.CheckConstraint(r"username ~ '^[a-z0-9_.@-]{2,64}$'", name="ck_app_user_username_format"),
        sa.CheckConstraint(
            "region_scope IS NULL OR cardinality(region_scope) >= 1", name="ck_app_user_region_scope_not_empty"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_app_user"),
        sa.UniqueConstraint("username", name="uq_app_user_username"),
    )

    op.create_table(
        "api_token",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, comment="sha256 hex of the token"),
        sa.Column("prefix", sa.String(16), nullable=False, comment="first characters, to recognise a token"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name="fk_api_token_user_id_app_user", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_api_token"),
        sa.UniqueConstraint("token_hash", name="uq_api_token_token_hash"),
    )
    op.create_index("ix_api_token_user_id", "api_token", ["user_id"])

    op.create_table(
        "web_session",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, comment="sha256 hex of the cookie value"),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("client_addr", sa.Text(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="fk_web_session_user_id_app_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_web_session"),
        sa.UniqueConstraint("token_hash", name="uq_web_session_token_hash"),
    )
    op.create_index("ix_web_session_user_id", "web_session", ["user_id"])

    op.create_table(
        "audit_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("client_addr", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("action", sa.String(48), nullable=False, comment="login, login_failed, status_change ..."),
        sa.Column("target_table", sa.Text(), nullable=True),
        sa.Column("target_id", sa.BigInteger(), nullable=True),
        sa.Column("region_code", sa.String(12), nullable=True, comment="region of the target, for scoping"),
        sa.Column("details", postgresql.JSONB(), server_default=JSONB_EMPTY, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_event"),
    )
    op.create_index("ix_audit_event_target_table_target_id", "audit_event", ["target_table", "target_id"])
    op.create_index("ix_audit_event_occurred_at", "audit_event", ["occurred_at"])
    op.create_index("ix_change_log_occurred_at", "change_log", ["occurred_at"])

    op.execute(ROLE_UP)
    op.execute(FUNCTIONS)
    op.execute(_account_triggers())
    op.execute(_rls_up())


def downgrade() -> None:
    op.execute(_rls_down())
    op.drop_index("ix_change_log_occurred_at", table_name="change_log")
    for table in ("audit_event", "web_session", "api_token", "app_user"):
        op.drop_table(table)
    op.execute(DROP_FUNCTIONS)
    op.execute(ROLE_DOWN)
