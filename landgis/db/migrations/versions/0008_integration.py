"""Evaluation, aggregates and plans under accounts: region scope (row-level security) on the
tables of revisions 0003_evaluation and 0004_maps, their views evaluated with the caller's rights,
aggregates rebuilt by SECURITY DEFINER functions, data-version triggers on the tables map layers
read, and 治理/腾出 areas counted from the renewal events.

Revisions 0003 and 0004 were written before accounts (0005) and the life cycle (0006, 0007)
were merged: their tables were readable by every user of the service, their views (owned by the
migration's role) bypassed row-level security, and v_renewal_area_by_year guessed 治理/腾出 from
the change history of parcel.renewal_status, which the renewal events now record exactly.

Revision ID: 0008_integration
Revises: 0002_loading
Create Date: 2026-11-28
"""

from importlib import resources

from alembic import op

revision = "0008_integration"
down_revision = "0002_loading"
branch_labels = None
depends_on = None

APP_ROLE = "landgis_app"


def _parcel_visible(table: str) -> str:
    return f"EXISTS (SELECT 1 FROM parcel p WHERE p.id = {table}.parcel_id AND landgis_in_scope(p.region_code))"


#: USING expression (and WITH CHECK, unless CHECKS names another) of each table's scope policy.
#: Rows that carry their parcel's region (evaluation_parcel, the aggregates) are scoped by it,
#: without a join: a run writes 200,000 of them. A run or a plan without a region (an admin's,
#: over every region) is visible to the unrestricted only (landgis_in_scope(NULL) is false for
#: everyone else). A run is also visible where its parcels are, so that the classes of a run over
#: several counties show in each county (v_evaluation_latest_run, v_parcel_class). A firm's
#: result and flags are visible with the firm; results of a firm deleted since stay visible to the
#: unrestricted (a run is a historical record).
POLICIES = {
    "evaluation_run": (
        "landgis_in_scope(region_code) OR EXISTS (SELECT 1 FROM evaluation_parcel ep"
        " WHERE ep.run_id = evaluation_run.id AND landgis_in_scope(ep.region_code))"
    ),
    "evaluation_result": (
        "landgis_scope_unrestricted() OR EXISTS (SELECT 1 FROM enterprise e WHERE e.id = evaluation_result.enterprise_id)"
    ),
    "evaluation_parcel": "landgis_in_scope(region_code)",
    "enterprise_flag": "EXISTS (SELECT 1 FROM enterprise e WHERE e.id = enterprise_flag.enterprise_id)",
    "parcel_year_stat": "landgis_in_scope(region_code)",
    "totals_cell": "landgis_in_scope(region_code)",
    "plan": "landgis_in_scope(region_code)",
    "plan_parcel": (
        _parcel_visible("plan_parcel") + " AND EXISTS (SELECT 1 FROM plan pl WHERE pl.id = plan_parcel.plan_id)"
    ),
}

#: WITH CHECK where it differs from USING: a run is recorded for a region in the writer's scope.
CHECKS = {
    "evaluation_run": "landgis_in_scope(region_code)",
}

#: Aggregates: written only by landgis_build_parcel_year_stat / landgis_build_totals_cell.
DERIVED = ("parcel_year_stat", "totals_cell")

#: Views of 0003 and 0004 over scoped tables: evaluated with the rights of whoever queries them.
VIEWS = ("v_evaluation_latest_run", "v_enterprise_class", "v_parcel_class", "v_parcel_mu_tax")

#: Tables map layers read (parcels_class through v_parcel_class, parcels_yima through
#: v_parcel_colour, the plan layers) that 0004's data-version trigger did not reach.
TRACKED = ("evaluation_run", "evaluation_parcel", "parcel_colour", "plan", "plan_parcel")

RENEWAL_VIEW_UP = """
DROP VIEW v_renewal_area_by_year;
-- 治理面积 and 腾出面积 (亩) per zone, region and year: the renewal events' own areas and counting
-- (revision 0006: v_renewal_event_area_by_year, revoked events excluded), under the same name and
-- columns that the zone totals read.
CREATE VIEW v_renewal_area_by_year WITH (security_invoker = true) AS
SELECT zone_id, region_code, year, governed_mu, freed_mu
FROM v_renewal_event_area_by_year;
"""

#: 0003's definition, restored on downgrade.
RENEWAL_VIEW_DOWN = """
DROP VIEW v_renewal_area_by_year;
CREATE VIEW v_renewal_area_by_year AS
WITH moves AS (
  SELECT c.row_id AS parcel_id,
         extract(year FROM c.occurred_at AT TIME ZONE 'Asia/Shanghai')::integer AS year,
         bool_or(c.changes -> 'renewal_status' ->> 'new' IN ('in_progress', 'upgraded')) AS governed,
         bool_or(c.changes -> 'renewal_status' ->> 'new' = 'freed') AS freed
  FROM change_log c
  WHERE c.table_name = 'parcel' AND c.action = 'update' AND c.changes ? 'renewal_status'
  GROUP BY 1, 2
)
SELECT p.zone_id, p.region_code, m.year,
       coalesce(sum(p.area_mu) FILTER (WHERE m.governed), 0)::double precision AS governed_mu,
       coalesce(sum(p.area_mu) FILTER (WHERE m.freed), 0)::double precision AS freed_mu
FROM moves m
JOIN parcel p ON p.id = m.parcel_id
WHERE (m.governed OR m.freed) AND (landgis_setting('landgis.scope') IS NULL OR landgis_in_scope(p.region_code))
GROUP BY p.zone_id, p.region_code, m.year;
"""

GRANTS_UP = f"""
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {", ".join(DERIVED)} FROM {APP_ROLE};
GRANT SELECT ON {", ".join(DERIVED)} TO {APP_ROLE};
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {", ".join(VIEWS)}, v_renewal_area_by_year FROM {APP_ROLE};
GRANT SELECT ON {", ".join(VIEWS)}, v_renewal_area_by_year TO {APP_ROLE};
"""

GRANTS_DOWN = f"""
GRANT SELECT, INSERT, UPDATE, DELETE ON {", ".join(DERIVED)} TO {APP_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE ON {", ".join(VIEWS)}, v_renewal_area_by_year TO {APP_ROLE};
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
    op.execute(_sql("0008_integration.sql"))
    op.execute(_rls_up())
    op.execute("\n".join(f"ALTER VIEW {v} SET (security_invoker = true);" for v in VIEWS))
    op.execute(RENEWAL_VIEW_UP)
    op.execute(GRANTS_UP)
    for table in TRACKED:
        op.execute(
            f"CREATE TRIGGER {table}_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION landgis_bump_data_version()"
        )


def downgrade() -> None:
    for table in TRACKED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_data_version ON {table}")
    op.execute(GRANTS_DOWN)
    op.execute(RENEWAL_VIEW_DOWN)
    op.execute("\n".join(f"ALTER VIEW {v} RESET (security_invoker);" for v in VIEWS))
    op.execute(_rls_down())
    op.execute(_sql("0008_integration_down.sql"))
