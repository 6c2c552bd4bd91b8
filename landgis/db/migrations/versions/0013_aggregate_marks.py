"""Account changes no longer make the aggregates stale.

``landgis_aggregate_marks()`` (revision 0008) tells ``parcel_year_stat`` and ``totals_cell``
whether they are stale by the newest ``change_log`` id. Accounts log their changes there too
(0005: ``app_user``, ``api_token``), so creating a token or changing a user made both
aggregates stale, and the next totals page or evaluation paid the rebuild (about 6 s at
1,000,000 parcels). The mark now counts only the change history of the data tables; a partial
index keeps it one backward index step.

Revision ID: 0013_aggregate_marks
Revises: 0012_parcel_land_index
Create Date: 2026-12-06
"""

from alembic import op

revision = "0013_aggregate_marks"
down_revision = "0012_parcel_land_index"
branch_labels = None
depends_on = None

#: Tables whose change history says nothing about land, firms or figures.
ACCOUNT_TABLES = "('app_user', 'api_token')"

MARKS = """
CREATE OR REPLACE FUNCTION landgis_aggregate_marks(OUT change_id bigint, OUT run_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET landgis.scope = '*' AS $$
  SELECT (SELECT coalesce(max(c.id), 0) FROM change_log c {where}), (SELECT coalesce(max(r.id), 0) FROM evaluation_run r)
$$;
"""


def upgrade() -> None:
    op.execute(f"CREATE INDEX ix_change_log_data_id ON change_log (id) WHERE table_name NOT IN {ACCOUNT_TABLES}")
    op.execute(MARKS.format(where=f"WHERE c.table_name NOT IN {ACCOUNT_TABLES}"))


def downgrade() -> None:
    op.execute(MARKS.format(where=""))
    op.execute("DROP INDEX ix_change_log_data_id")
