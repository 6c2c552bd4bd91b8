"""The 地块码 trigger sees every parcel, whatever the region scope of the one inserting.

``landgis_land_code()`` (revision 0006) gives a new parcel its 宗地代码 as 地块码 when no parcel
holds that code yet. It runs with the rights of whoever inserts, so row-level security applied
to its look-up: a loader that the policies bind (the service's role, or a table owner that is
not a superuser, under a clerk's scope) did not see a parcel outside the scope holding the code
(a parcel whose 宗地代码 was later corrected keeps its 地块码), gave the new parcel the same code
and failed on ``uq_parcel_land_code`` with a raw unique violation. The function now runs with
``landgis.scope`` set to ``*`` (every region), as it already runs with sequential scans off
(revision 0015): the new parcel then gets a generated code. The trigger returns nothing but the
new row: what the user learns of the hidden parcel is that its code is taken (a generated 地块码),
as the refused insert told them before.

Revision ID: 0018_land_code_whole_table
Revises: 0017_cheaper_parcel_writes
Create Date: 2026-12-06
"""

from alembic import op

revision = "0018_land_code_whole_table"
down_revision = "0017_cheaper_parcel_writes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER FUNCTION landgis_land_code() SET landgis.scope = '*'")


def downgrade() -> None:
    op.execute("ALTER FUNCTION landgis_land_code() RESET landgis.scope")
