"""A covering index of each parcel's land figures, for the evaluation's occupancy read.

An evaluation reads every occupancy row of the year with its parcel's 亩 and zone
(landgis/sql/evaluation_occupancy.sql). At 1,000,000 parcels and 165,000 occupancy rows, looking
each parcel up in the heap took 1.6–1.8 s. With (id) INCLUDE (area_mu, zone_id, region_code) the
join becomes one parallel index-only scan and a hash join, about 0.4 s. region_code is included
so that the row-level security check of a scoped caller is answered from the index too.

Revision ID: 0012_parcel_land_index
Revises: 0011_plan_layers
Create Date: 2026-12-06
"""

from alembic import op

revision = "0012_parcel_land_index"
down_revision = "0011_plan_layers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_parcel_land ON parcel (id) INCLUDE (area_mu, zone_id, region_code)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_parcel_land")
