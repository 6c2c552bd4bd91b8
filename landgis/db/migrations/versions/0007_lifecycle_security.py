"""The renewal life cycle under accounts: region scope (row-level security) on every life-cycle
table, views evaluated with the caller's rights, colours computed by a SECURITY DEFINER function
that only refreshes the caller's parcels, history tables the service can append to but not
rewrite, and one way for the service to change a parcel's renewal status (the workflow).

Revision 0006_lifecycle was written before accounts existed; its tables were readable by every
user of the service, and its views (owned by the migration's role) bypassed row-level security.

Revision ID: 0007_lifecycle_security
Revises: 0006_lifecycle
Create Date: 2026-11-27
"""

from importlib import resources

from alembic import op

revision = "0007_lifecycle_security"
down_revision = "0004_maps"
branch_labels = None
depends_on = None

APP_ROLE = "landgis_app"


def _parcel_visible(table: str) -> str:
    return f"EXISTS (SELECT 1 FROM parcel p WHERE p.id = {table}.parcel_id AND landgis_in_scope(p.region_code))"


#: USING expression (and WITH CHECK, unless CHECKS names another) of each life-cycle table's
#: scope policy. A row is visible when what it points at is: its parcel, its agreement, its batch
#: and parcel. A project is visible in its region and wherever it is placed on a visible parcel
#: (as an enterprise is where it uses land), so that land promised to a city-level project shows
#: as promised in the county; its placements are visible with their parcel.
POLICIES = {
    "renewal_event": _parcel_visible("renewal_event"),
    "parcel_colour": _parcel_visible("parcel_colour"),
    "land_progress": _parcel_visible("land_progress"),
    "standard_agreement": _parcel_visible("standard_agreement"),
    "standard_commitment": (
        "EXISTS (SELECT 1 FROM standard_agreement a WHERE a.id = standard_commitment.agreement_id)"
    ),
    "standard_review": "EXISTS (SELECT 1 FROM standard_agreement a WHERE a.id = standard_review.agreement_id)",
    "project": (
        "landgis_in_scope(region_code) OR EXISTS (SELECT 1 FROM project_parcel l JOIN parcel p ON p.id = l.parcel_id"
        " WHERE l.project_id = project.id AND landgis_in_scope(p.region_code))"
    ),
    "project_parcel": _parcel_visible("project_parcel"),
    "land_approval_batch": "landgis_in_scope(region_code)",
    "land_approval_supply": (
        "EXISTS (SELECT 1 FROM land_approval_batch b WHERE b.id = land_approval_supply.batch_id) AND "
        + _parcel_visible("land_approval_supply")
    ),
}

#: WITH CHECK where it differs from USING: a project is placed only on a parcel and by a project
#: that the writer can both see (landgis_project_visible in the .sql: a policy on project_parcel
#: that queried project would recurse through project's own policy).
CHECKS = {
    "project_parcel": _parcel_visible("project_parcel") + " AND landgis_project_visible(project_id)",
}

#: Views of 0006 over scoped tables: evaluated with the rights of whoever queries them.
VIEWS = ("v_standard_review_due", "v_parcel_colour", "v_renewal_event_counted", "v_renewal_event_area_by_year")

GRANTS_UP = f"""
-- What the service may do with the life-cycle tables (0005's default privileges gave it
-- SELECT, INSERT, UPDATE, DELETE on all of them; said here explicitly, then narrowed).
GRANT SELECT, INSERT, UPDATE, DELETE ON colour_rule, project, project_parcel, land_approval_batch,
  land_approval_supply, standard_agreement, standard_commitment TO {APP_ROLE};
-- History: a renewal step is appended, and only ever marked revoked (undo); a 达产复核 is appended;
-- a progress report may be corrected for its date but not deleted.
REVOKE UPDATE, DELETE, TRUNCATE ON renewal_event FROM {APP_ROLE};
GRANT SELECT, INSERT ON renewal_event TO {APP_ROLE};
GRANT UPDATE (revoked_at, revoked_by, revoke_reason) ON renewal_event TO {APP_ROLE};
REVOKE UPDATE, DELETE, TRUNCATE ON standard_review FROM {APP_ROLE};
GRANT SELECT, INSERT ON standard_review TO {APP_ROLE};
REVOKE DELETE, TRUNCATE ON land_progress FROM {APP_ROLE};
GRANT SELECT, INSERT, UPDATE ON land_progress TO {APP_ROLE};
-- Colours are derived: written only by landgis_refresh_parcel_colour (SECURITY DEFINER).
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON parcel_colour FROM {APP_ROLE};
GRANT SELECT ON parcel_colour TO {APP_ROLE};
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {", ".join(VIEWS)} FROM {APP_ROLE};
GRANT SELECT ON {", ".join(VIEWS)} TO {APP_ROLE};
GRANT USAGE, SELECT ON SEQUENCE renewal_event_id_seq, project_id_seq, land_approval_batch_id_seq,
  land_approval_supply_id_seq, land_progress_id_seq, standard_agreement_id_seq, standard_commitment_id_seq,
  standard_review_id_seq, land_code_seq TO {APP_ROLE};
"""

GRANTS_DOWN = f"""
GRANT SELECT, INSERT, UPDATE, DELETE ON renewal_event, standard_review, land_progress, parcel_colour TO {APP_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE ON {", ".join(VIEWS)} TO {APP_ROLE};
"""


def _sql(name: str) -> str:
    return resources.files("landgis.db.migrations.versions").joinpath(name).read_text(encoding="utf-8")


def _rls_up() -> str:
    parts = []
    for table, using in POLICIES.items():
        parts += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY;",
            f"CREATE POLICY {table}_scope ON {table} USING ({using}) WITH CHECK ({CHECKS.get(table, using)});",
            # Fail closed: the service role sees nothing in a transaction whose scope was never set.
            f"CREATE POLICY {table}_scope_required ON {table} AS RESTRICTIVE TO {APP_ROLE}"
            " USING (landgis_setting('landgis.scope') IS NOT NULL);",
        ]
    return "\n".join(parts)


def _rls_down() -> str:
    parts = []
    for table in POLICIES:
        parts += [
            f"DROP POLICY IF EXISTS {table}_scope ON {table};",
            f"DROP POLICY IF EXISTS {table}_scope_required ON {table};",
            f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;",
            f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;",
        ]
    return "\n".join(parts)


def upgrade() -> None:
    op.execute(_sql("0007_lifecycle_security.sql"))  # first: a policy calls landgis_project_visible
    op.execute(_rls_up())
    op.execute("\n".join(f"ALTER VIEW {v} SET (security_invoker = true);" for v in VIEWS))
    op.execute(GRANTS_UP)


def downgrade() -> None:
    op.execute(GRANTS_DOWN)
    op.execute("\n".join(f"ALTER VIEW {v} RESET (security_invoker);" for v in VIEWS))
    op.execute(_rls_down())
    op.execute(_sql("0007_lifecycle_security_down.sql"))
