"""Cheaper parcel writes: the Gauss-Krüger zone inlined, colour rules read once, colours planned
for the parcels given.

1. ``landgis_gk_srid(g)`` (revision 0001) is a STRICT SQL function whose body used ``least`` and
   ``greatest``. Those ignore NULLs, so PostgreSQL may not inline the function (inlining a STRICT
   function is only allowed when its body is strict too) and ran it through the SQL-function
   executor once per row: in the area trigger of every parcel insert and geometry update, and in
   every area query. The body now clamps with ``int4larger``/``int4smaller``, which are strict
   and give the same zones for every non-empty geometry: the call is inlined and the area
   trigger costs about half as much. An empty geometry (no centroid) now has no zone, NULL,
   where it had 4534; parcels and zones need a zone, so an empty geometry is refused.
2. ``landgis_compute_parcel_colour`` (revisions 0006/0007) turned each rule's JSON lists
   (``states``, ``classes``, ``milestones``, ``outcomes``, ``except_states``) into arrays with
   ``landgis_text_array`` inside its joins, once per parcel and rule: 100,000 calls for a batch of
   100,000 parcels for the 更新状态 rule alone. The rule rows now carry their arrays, computed once
   per rule.
3. The colour function picked its parcels with ``p.id IN (SELECT unnest(ids))``, estimated from
   ``parcel``'s statistics. An ANALYZE from another session during a load records ``parcel`` as
   empty (it cannot see the load's rows); the refresh of each later batch was then planned for
   one parcel and ran every rule again per parcel (minutes per batch). The parcels are now looked
   up id by id (``OFFSET 0`` keeps that a subquery), so the estimate is the number of ids, made
   distinct first.

The colour function's text is revision 0006's, with these replacements applied (each must match
exactly once), and 0007's SECURITY DEFINER and search path; downgrade restores it unchanged.

Revision ID: 0017_cheaper_parcel_writes
Revises: 0016_colour_refresh_join
Create Date: 2026-12-06
"""

from importlib import resources

from alembic import op

revision = "0017_cheaper_parcel_writes"
down_revision = "0016_colour_refresh_join"
branch_labels = None
depends_on = None

GK_SRID = """
CREATE OR REPLACE FUNCTION landgis_gk_srid(g geometry) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT 4534 + {clamped}
$$;
"""
CLAMPED = "int4larger(0, int4smaller(20, round((ST_X(ST_Centroid(g)) - 75.0) / 3.0)::integer))"
CLAMPED_BEFORE = "least(20, greatest(0, round((ST_X(ST_Centroid(g)) - 75.0) / 3.0)::integer))"

#: Each rule's lists, as arrays, beside the rule (``r`` is read by several branches, so
#: PostgreSQL materializes it and computes them once per rule).
RULES_BEFORE = "r AS (SELECT code, kind, colour, label, params, sort_order FROM colour_rule WHERE enabled),"
RULES = (
    "r AS (SELECT code, kind, colour, label, params, sort_order,\n"
    "                  landgis_text_array(params -> 'classes') AS classes,\n"
    "                  landgis_text_array(params -> 'states') AS states,\n"
    "                  landgis_text_array(params -> 'milestones') AS milestones,\n"
    "                  landgis_text_array(coalesce(params -> 'outcomes', '[\"failed\"]'::jsonb)) AS outcomes,\n"
    "                  landgis_text_array(params -> 'except_states') AS except_states\n"
    "           FROM colour_rule WHERE enabled),"
)
COLOUR_REPLACEMENTS = [
    ("CREATE FUNCTION landgis_refresh_parcel_colour(", "CREATE OR REPLACE FUNCTION landgis_compute_parcel_colour("),
    ("LANGUAGE plpgsql AS $fn$", "LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$"),
]
#: The parcels to colour, one index look-up per id: the OFFSET keeps the look-up a subquery, so
#: the planner counts the rows of ``t`` from the ids (their number is known) and not from
#: ``parcel``'s statistics, which may say the table is empty while a load's rows fill it.
PARCELS_BEFORE = """      FROM parcel p
      WHERE p.id IN (SELECT unnest($1::bigint[]))"""
PARCELS = """      FROM unnest($1::bigint[]) AS u(id)
      CROSS JOIN LATERAL (SELECT q.* FROM parcel q WHERE q.id = u.id OFFSET 0) AS p"""
#: ``t`` no longer drops repeated ids itself (``p.id IN (...)`` did): the ids are made distinct first.
IDS_BEFORE = "    target := ids;"
IDS = "    target := ARRAY(SELECT DISTINCT u.id FROM unnest(ids) AS u(id) WHERE u.id IS NOT NULL);"
REVISED = [
    (IDS_BEFORE, IDS),
    (PARCELS_BEFORE, PARCELS),
    (RULES_BEFORE, RULES),
    ("landgis_text_array(r.params -> 'classes')", "r.classes"),
    ("landgis_text_array(r.params -> 'states')", "r.states"),
    ("landgis_text_array(r.params -> 'milestones')", "r.milestones"),
    ("landgis_text_array(coalesce(r.params -> 'outcomes', '[\"failed\"]'::jsonb))", "r.outcomes"),
    ("landgis_text_array(r.params -> 'except_states')", "r.except_states"),
]


def _replace_once(sql: str, replacements: list[tuple[str, str]]) -> str:
    for old, new in replacements:
        if sql.count(old) != 1:
            raise RuntimeError(f"0017: expected exactly one {old!r} in the colour function of 0006")
        sql = sql.replace(old, new)
    return sql


def colour_function(*, revised: bool) -> str:
    """``landgis_compute_parcel_colour`` as of 0007, or as this revision makes it (``revised``)."""
    text = resources.files("landgis.db.migrations.versions").joinpath("0006_lifecycle.sql").read_text("utf-8")
    start = text.index("CREATE FUNCTION landgis_refresh_parcel_colour(")
    end = text.index("$fn$;", start) + len("$fn$;")
    sql = _replace_once(text[start:end], COLOUR_REPLACEMENTS)
    return _replace_once(sql, REVISED) if revised else sql


def upgrade() -> None:
    op.execute(GK_SRID.replace("{clamped}", CLAMPED))
    op.execute(colour_function(revised=True))


def downgrade() -> None:
    op.execute(colour_function(revised=False))
    op.execute(GK_SRID.replace("{clamped}", CLAMPED_BEFORE))
