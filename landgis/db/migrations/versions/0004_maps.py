"""Maps: the data version that keys the tile cache, bumped by triggers on every table a map layer
reads, and the per-parcel 亩均 view the maps and the parcel dossier share.

Revision ID: 0004_maps
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_maps"
down_revision = "0003_evaluation"
branch_labels = None
depends_on = None

#: Tables whose writes change what a map shows. Other issues' tables that a layer reads (evaluation
#: results, plans, 一码 colours) attach the same trigger function in their own revision; a layer
#: reading an untracked table is served uncached (see landgis/maps/catalog.py).
TRACKED = ("region", "zone", "parcel", "enterprise", "occupancy", "enterprise_year")

FUNCTIONS = r"""
-- Bumps the map data version once per writing statement and tells listening tile servers. The row
-- lock is held until commit, so a tile rendered in a snapshot that sees the new data also reads the
-- new version, and a cached tile is never served under a version it was not rendered for.
CREATE FUNCTION landgis_bump_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE map_data_version SET version = version + 1, changed_at = now() WHERE id = 1;
  PERFORM pg_notify('landgis_data_version', TG_TABLE_NAME);
  RETURN NULL;
END
$$;

-- 亩均 per parcel and year (万元, 万元/亩). Each enterprise's figures of the year are shared among the
-- parcels it occupies during that year in proportion to the land it uses on each (occupancy
-- land_area_mu, the whole parcel when unset), so a firm on several parcels (一企多地) is counted
-- once; the shares of every firm on a parcel (一地多企) are summed and divided by the parcel's area.
CREATE VIEW v_parcel_mu_tax AS
SELECT o.parcel_id,
       y.year,
       count(DISTINCT o.enterprise_id)::integer AS enterprises,
       sum(y.tax_wan * f.share) AS tax_wan,
       sum(y.value_added_wan * f.share) AS value_added_wan,
       p.area_mu AS land_mu,
       sum(y.tax_wan * f.share) / nullif(p.area_mu, 0) AS mu_tax,
       sum(y.value_added_wan * f.share) / nullif(p.area_mu, 0) AS mu_value_added
FROM occupancy o
JOIN parcel p ON p.id = o.parcel_id
JOIN enterprise_year y ON y.enterprise_id = o.enterprise_id
     AND (o.valid_from IS NULL OR o.valid_from <= make_date(y.year, 12, 31))
     AND (o.valid_to IS NULL OR o.valid_to >= make_date(y.year, 1, 1))
CROSS JOIN LATERAL (
    SELECT coalesce(o.land_area_mu, p.area_mu) / nullif(sum(coalesce(o2.land_area_mu, p2.area_mu)), 0) AS share
    FROM occupancy o2
    JOIN parcel p2 ON p2.id = o2.parcel_id
    WHERE o2.enterprise_id = o.enterprise_id
      AND (o2.valid_from IS NULL OR o2.valid_from <= make_date(y.year, 12, 31))
      AND (o2.valid_to IS NULL OR o2.valid_to >= make_date(y.year, 1, 1))
) f
GROUP BY o.parcel_id, y.year, p.area_mu;
"""


def upgrade() -> None:
    op.create_table(
        "map_data_version",
        sa.Column("id", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_map_data_version_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_map_data_version"),
    )
    op.execute("INSERT INTO map_data_version (id, version) VALUES (1, 1)")
    op.execute(FUNCTIONS)
    for table in TRACKED:
        op.execute(
            f"CREATE TRIGGER {table}_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION landgis_bump_data_version()"
        )


def downgrade() -> None:
    for table in TRACKED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_data_version ON {table}")
    op.execute("DROP VIEW IF EXISTS v_parcel_mu_tax")
    op.execute("DROP FUNCTION IF EXISTS landgis_bump_data_version()")
    op.drop_table("map_data_version")
