"""The 地块码 trigger looks up existing codes by index, whatever the table's statistics say.

``landgis_land_code()`` (revision 0006) gives each new parcel its 地块码: the 宗地代码 when it is
well formed and no parcel holds it yet, else a generated code. "No parcel holds it yet" is a
query on ``parcel`` per inserted row, planned once per session by plpgsql. When the table's
statistics say it is empty (a county's first load, after ``VACUUM ANALYZE`` of the empty table),
PostgreSQL plans that query as a sequential scan and keeps the plan while the load fills the
table: every row scanned every parcel inserted before it, and loading 100,000 parcels took over
ten minutes instead of seconds. With sequential scans off inside the function, the query uses
the unique index on ``land_code`` (``uq_parcel_land_code``) from the first row.

Revision ID: 0015_land_code_lookup
Revises: 0014_parallel_setting
Create Date: 2026-12-06
"""

from alembic import op

revision = "0015_land_code_lookup"
down_revision = "0014_parallel_setting"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER FUNCTION landgis_land_code() SET enable_seqscan = off")


def downgrade() -> None:
    op.execute("ALTER FUNCTION landgis_land_code() RESET enable_seqscan")
