"""The 一码 colour refresh finds its parcels by joining the ids, not by ``id = ANY (ids)``.

``landgis_refresh_parcel_colour(ids)`` (revision 0007) picks the caller's parcels among ``ids``
with ``WHERE (ids IS NULL OR p.id = ANY (ids))``. plpgsql keeps a generic plan of it after a few
calls, in which ``ids`` is a parameter: a sequential scan of ``parcel`` testing every row against
the whole array, one element after another. The parcel insert trigger calls it with every
inserted id, so each batch of a load (20,000 parcels) cost table size × 20,000 comparisons: on
the way to 1,000,000 parcels a batch took over 20 s, and growing. The ids are now joined
(``unnest``), which the planner answers with the primary key or a hash.

Revision ID: 0016_colour_refresh_join
Revises: 0015_land_code_lookup
Create Date: 2026-12-06
"""

from alembic import op

revision = "0016_colour_refresh_join"
down_revision = "0015_land_code_lookup"
branch_labels = None
depends_on = None

REFRESH = """
CREATE OR REPLACE FUNCTION landgis_refresh_parcel_colour(ids bigint[] DEFAULT NULL, as_of date DEFAULT current_date)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  target bigint[];
BEGIN
  -- current_user is the owner here; the role the caller SET is still in the 'role' setting.
  IF current_setting('role') = 'landgis_app' AND landgis_setting('landgis.scope') IS NULL THEN
    RETURN 0;
  END IF;
  -- The caller's scope is still in force: only its parcels are refreshed.
  {target}
  RETURN landgis_compute_parcel_colour(target, as_of);
END
$$;
"""

JOINED = """IF ids IS NULL THEN
    target := ARRAY(SELECT p.id FROM parcel p WHERE landgis_in_scope(p.region_code));
  ELSE
    target := ARRAY(
      SELECT p.id FROM parcel p JOIN (SELECT DISTINCT u.id FROM unnest(ids) AS u(id)) i ON i.id = p.id
      WHERE landgis_in_scope(p.region_code));
  END IF;"""

ANY_OF = """target := ARRAY(
    SELECT p.id FROM parcel p
    WHERE (ids IS NULL OR p.id = ANY (ids)) AND landgis_in_scope(p.region_code));"""


def upgrade() -> None:
    op.execute(REFRESH.replace("{target}", JOINED))


def downgrade() -> None:
    op.execute(REFRESH.replace("{target}", ANY_OF))
