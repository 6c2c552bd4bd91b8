"""The views the plan map layers read: v_plan_parcel (a saved plan's candidate parcels) and
v_plan_block (its contiguous blocks, 集中连片), both evaluated with the caller's rights.

layers/plan_parcels.yaml and layers/plan_blocks.yaml named these views since revision 0004_maps,
but no revision created them, so both layers were unavailable and the plan map export always
answered 404.

A plan stores each member's block as ``plan_parcel.block_no`` (the block the candidate selection
gave it when the plan was saved; NULL outside a kept block or when no blocks were asked for), so a
block is the union of its members' parcels grouped by (plan_id, block_no). The geometry is the
parcel's current one; reasons and 亩 are as saved with the plan.

Revision ID: 0011_plan_layers
Revises: 0010_inline_scope
Create Date: 2026-12-05
"""

from alembic import op

revision = "0011_plan_layers"
down_revision = "0010_inline_scope"
branch_labels = None
depends_on = None

APP_ROLE = "landgis_app"

VIEWS = ("v_plan_parcel", "v_plan_block")

# security_invoker: plan_parcel and parcel are read with the querying role's row-level security, so
# a caller sees the members of the plans and parcels in their region scope only. Reasons are joined
# into one text: a vector tile cannot carry an array (ST_AsMVT would write the array literal).
UP = """
CREATE VIEW v_plan_parcel WITH (security_invoker = true) AS
SELECT pp.plan_id, pp.parcel_id, p.region_code, p.geom,
       array_to_string(pp.reasons, '；') AS reasons, pp.area_mu
FROM plan_parcel pp
JOIN parcel p ON p.id = pp.parcel_id;

-- A block spanning two regions takes the smaller region code; its parcels and 亩 count only the
-- members the caller can see.
CREATE VIEW v_plan_block WITH (security_invoker = true) AS
SELECT pp.plan_id, pp.block_no AS block_id,
       CAST(min(p.region_code) AS varchar(12)) AS region_code,
       CAST(ST_Multi(ST_CollectionExtract(ST_Union(p.geom), 3)) AS geometry(MultiPolygon, 4490)) AS geom,
       CAST(count(*) AS integer) AS parcels, sum(pp.area_mu) AS area_mu
FROM plan_parcel pp
JOIN parcel p ON p.id = pp.parcel_id
WHERE pp.block_no IS NOT NULL
GROUP BY pp.plan_id, pp.block_no;
"""

GRANTS = f"""
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {", ".join(VIEWS)} FROM {APP_ROLE};
GRANT SELECT ON {", ".join(VIEWS)} TO {APP_ROLE};
"""


def upgrade() -> None:
    op.execute(UP)
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_plan_block; DROP VIEW IF EXISTS v_plan_parcel;")
