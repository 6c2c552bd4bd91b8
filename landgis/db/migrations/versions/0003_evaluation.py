"""亩均评价 runs and results, enterprise flags, parcel-year aggregates, zone totals cells, renewal
plans, and the views other parts read (latest class per parcel, 治理/腾出 area per year).

Revision ID: 0003_evaluation
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_evaluation"
down_revision = "0006_lifecycle"
branch_labels = None
depends_on = None

JSONB_EMPTY = sa.text("'{}'::jsonb")

CASCADE = r"""
CREATE FUNCTION landgis_evaluation_run_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM evaluation_result r USING old_rows o WHERE r.run_id = o.id;
  DELETE FROM evaluation_parcel p USING old_rows o WHERE p.run_id = o.id;
  RETURN NULL;
END
$$;
CREATE TRIGGER evaluation_run_cascade AFTER DELETE ON evaluation_run REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION landgis_evaluation_run_deleted();
"""

VIEWS = r"""
-- Industrial land (工业用地) by its code in any of the systems parcels record: GB/T 21010-2017 0601,
-- GB/T 21010-2007 061, 国土空间用地用海分类 1001 (100101/100102/100103), GB 50137 M, M1-M3.
CREATE FUNCTION landgis_is_industrial(code text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(code IN ('0601', '061') OR code LIKE '1001%' OR code ~ '^M[1-3]?$', false)
$$;

-- The newest evaluation run per year and evaluated area: the run whose classes are "current".
CREATE VIEW v_evaluation_latest_run AS
SELECT DISTINCT ON (r.year, coalesce(r.region_code, ''))
       r.year, r.region_code, r.id AS run_id
FROM evaluation_run r
ORDER BY r.year, coalesce(r.region_code, ''), r.id DESC;

-- Each enterprise's class in the latest run of each year (NULL class = 不定等级 or not classed).
CREATE VIEW v_enterprise_class AS
SELECT res.enterprise_id, l.year, res.class, res.score, res.segment, res.status, res.run_id
FROM v_evaluation_latest_run l
JOIN evaluation_result res ON res.run_id = l.run_id;

-- Each parcel's 亩均 figures (all firms on it summed) and the class of its main user (the firm
-- occupying most of it) in the latest run of each year. Read by the map's colour-by-class layer
-- and the parcel dossier; limited to the caller's region scope.
CREATE VIEW v_parcel_class AS
SELECT ep.parcel_id, l.year, ep.class, ep.mu_tax, ep.mu_value_added, ep.tax_wan, ep.value_added_wan,
       ep.enterprise_count, ep.main_enterprise_id, ep.run_id
FROM v_evaluation_latest_run l
JOIN evaluation_parcel ep ON ep.run_id = l.run_id
WHERE (landgis_setting('landgis.scope') IS NULL OR landgis_in_scope(ep.region_code));

-- 治理面积 and 腾出面积 (亩) per zone, region and year, derived for now from the change history of
-- parcel.renewal_status: governed = parcels entering in_progress or upgraded in the year, freed =
-- parcels entering freed; each parcel counted once per year with its current area. Years are
-- calendar years in China Standard Time. Totals read only this view, so that renewal events with
-- partial areas can feed it later without touching them.
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

DROP_VIEWS = """
DROP VIEW IF EXISTS v_renewal_area_by_year;
DROP VIEW IF EXISTS v_parcel_class;
DROP VIEW IF EXISTS v_enterprise_class;
DROP VIEW IF EXISTS v_evaluation_latest_run;
DROP FUNCTION IF EXISTS landgis_is_industrial(text);
DROP TRIGGER IF EXISTS evaluation_run_cascade ON evaluation_run;
DROP FUNCTION IF EXISTS landgis_evaluation_run_deleted();
"""


def upgrade() -> None:
    # A run is a historical record: its results keep the enterprise and parcel ids even when the
    # firm or the parcel is later deleted. Results carry no foreign keys (only landgis writes them,
    # in the run's savepoint), which spares 200,000 row-by-row referential checks per run; deleting
    # a run deletes its results through a statement-level trigger.
    op.create_table(
        "evaluation_run",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("policy_name", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.Column("policy_sha256", sa.String(64), nullable=False, comment="sha256 of the canonical policy JSON"),
        sa.Column("policy", postgresql.JSONB(), nullable=False, comment="the validated policy as run"),
        sa.Column("year", sa.SmallInteger(), nullable=False, comment="year of the figures evaluated"),
        sa.Column("region_code", sa.String(12), nullable=True, comment="area evaluated; NULL = all in scope"),
        sa.Column("scope", sa.Text(), nullable=True, comment="the caller's region scope at run time"),
        sa.Column("inputs_sha256", sa.String(64), nullable=False, comment="sha256 of every input figure"),
        sa.Column("enterprise_count", sa.Integer(), nullable=False),
        sa.Column("summary", postgresql.JSONB(), server_default=JSONB_EMPTY, nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("elapsed_ms", sa.Integer(), nullable=True),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name="ck_evaluation_run_year"),
        sa.ForeignKeyConstraint(["region_code"], ["region.code"], name="fk_evaluation_run_region_code_region"),
        sa.PrimaryKeyConstraint("id", name="pk_evaluation_run"),
    )
    op.create_index("ix_evaluation_run_year_region_code", "evaluation_run", ["year", "region_code"])

    op.create_table(
        "evaluation_result",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("enterprise_id", sa.BigInteger(), nullable=False),
        sa.Column("segment", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, comment="rated, exempt 不定等级, vetoed 一票否决, merged"),
        sa.Column("land_area_mu", sa.Float(), nullable=True, comment="用地面积 亩 (一企多地 summed)"),
        sa.Column("parcel_ids", postgresql.ARRAY(sa.BigInteger()), nullable=True),
        sa.Column("parcel_mu", postgresql.ARRAY(sa.Float()), nullable=True, comment="亩 used on each parcel"),
        sa.Column("figures", postgresql.JSONB(), server_default=JSONB_EMPTY, nullable=False),
        sa.Column(
            "indicator_values",
            postgresql.ARRAY(sa.Float()),
            nullable=True,
            comment="in the order of the segment's indicators in the run's policy",
        ),
        sa.Column("indicator_scores", postgresql.ARRAY(sa.Float()), nullable=True),
        sa.Column(
            "indicator_notes",
            postgresql.ARRAY(sa.Text()),
            nullable=True,
            comment="capped, missing_zero, missing_segment_mean, missing_penalty, no_benchmark",
        ),
        sa.Column("base_score", sa.Float(), nullable=True),
        sa.Column("adjustment", sa.Float(), nullable=True, comment="加分/减分"),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True, comment="rank within the segment, 1 = best"),
        sa.Column("rank_of", sa.Integer(), nullable=True, comment="firms ranked in the segment"),
        sa.Column("class", sa.String(8), nullable=True, comment="A/B/C/D; NULL = 不定等级"),
        sa.Column("notes", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.CheckConstraint("status IN ('rated', 'exempt', 'vetoed', 'merged')", name="ck_evaluation_result_status"),
        sa.PrimaryKeyConstraint("run_id", "enterprise_id", name="pk_evaluation_result"),
    )
    op.create_index("ix_evaluation_result_enterprise_id", "evaluation_result", ["enterprise_id"])

    op.create_table(
        "evaluation_parcel",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("area_mu", sa.Float(), nullable=False, comment="parcel area at run time, 亩"),
        sa.Column("enterprise_count", sa.Integer(), nullable=False),
        sa.Column("tax_wan", sa.Float(), nullable=True, comment="all firms on the parcel, 万元"),
        sa.Column("value_added_wan", sa.Float(), nullable=True, comment="万元"),
        sa.Column("mu_tax", sa.Float(), nullable=True, comment="亩均税收 万元/亩"),
        sa.Column("mu_value_added", sa.Float(), nullable=True, comment="亩均增加值 万元/亩"),
        sa.Column("main_enterprise_id", sa.BigInteger(), nullable=True, comment="the firm using most of it"),
        sa.Column("class", sa.String(8), nullable=True, comment="the main user's class"),
        sa.PrimaryKeyConstraint("run_id", "parcel_id", name="pk_evaluation_parcel"),
    )
    op.create_index("ix_evaluation_parcel_parcel_id", "evaluation_parcel", ["parcel_id"])

    op.create_table(
        "enterprise_flag",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("enterprise_id", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=True, comment="NULL = every year"),
        sa.Column("flag", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprise.id"], name="fk_enterprise_flag_enterprise_id_enterprise", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_enterprise_flag"),
        sa.UniqueConstraint(
            "enterprise_id",
            "year",
            "flag",
            name="uq_enterprise_flag_enterprise_id_year_flag",
            postgresql_nulls_not_distinct=True,
        ),
    )

    op.create_table(
        "parcel_year_stat",
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False, comment="the parcel's, when built"),
        sa.Column("area_mu", sa.Float(), nullable=False, comment="the parcel's area when built, 亩"),
        sa.Column("enterprise_count", sa.Integer(), nullable=False),
        sa.Column("tax_wan", sa.Float(), nullable=True, comment="firms' tax allocated by land share, 万元"),
        sa.Column("value_added_wan", sa.Float(), nullable=True),
        sa.Column("tax_above_wan", sa.Float(), nullable=True, comment="规上 firms only"),
        sa.Column("value_added_above_wan", sa.Float(), nullable=True),
        sa.Column("land_above_mu", sa.Float(), nullable=True, comment="亩 used by 规上 firms"),
        sa.Column("main_enterprise_id", sa.BigInteger(), nullable=True),
        sa.Column("main_scale", sa.String(8), nullable=True),
        sa.Column("main_industry", sa.String(5), nullable=True),
        sa.Column("main_production_start", sa.Date(), nullable=True),
        sa.Column("main_registration", sa.Date(), nullable=True),
        sa.Column("has_above", sa.Boolean(), nullable=False),
        sa.Column("flags", postgresql.ARRAY(sa.Text()), nullable=True, comment="flags of the firms on it"),
        sa.ForeignKeyConstraint(
            ["parcel_id"], ["parcel.id"], name="fk_parcel_year_stat_parcel_id_parcel", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("year", "parcel_id", name="pk_parcel_year_stat"),
    )

    op.create_table(
        "aggregate_refresh",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("change_id", sa.BigInteger(), nullable=False, comment="newest change_log id seen"),
        sa.Column("run_id", sa.BigInteger(), nullable=False, comment="newest evaluation_run id seen"),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("elapsed_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("name", "year", name="pk_aggregate_refresh"),
    )

    op.create_table(
        "totals_cell",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("industrial", sa.Boolean(), nullable=False),
        sa.Column("renewal_status", sa.String(32), nullable=False),
        sa.Column("class", sa.String(8), nullable=True),
        sa.Column("parcels", sa.Integer(), nullable=False),
        sa.Column("area_mu", sa.Float(), nullable=False),
        sa.Column("occupied_mu", sa.Float(), nullable=False, comment="亩 of parcels with firms"),
        sa.Column("tax_wan", sa.Float(), nullable=False),
        sa.Column("value_added_wan", sa.Float(), nullable=False),
        sa.Column("tax_above_wan", sa.Float(), nullable=False),
        sa.Column("value_added_above_wan", sa.Float(), nullable=False),
        sa.Column("land_above_mu", sa.Float(), nullable=False),
        sa.Column("far_area_mu", sa.Float(), nullable=False, comment="亩 of parcels whose FAR is known"),
        sa.Column("far_x_mu", sa.Float(), nullable=False, comment="sum of FAR x 亩 now"),
        sa.Column("far_start_x_mu", sa.Float(), nullable=False, comment="sum of FAR x 亩 on 1 January"),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name="fk_totals_cell_zone_id_zone", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_totals_cell"),
    )
    op.create_index("ix_totals_cell_year", "totals_cell", ["year"])

    op.create_table(
        "plan",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=True, comment="the plan's area for scoping"),
        sa.Column("request", postgresql.JSONB(), nullable=False, comment="the candidate request it came from"),
        sa.Column("totals", postgresql.JSONB(), server_default=JSONB_EMPTY, nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["region_code"], ["region.code"], name="fk_plan_region_code_region"),
        sa.PrimaryKeyConstraint("id", name="pk_plan"),
        sa.UniqueConstraint("name", name="uq_plan_name"),
    )

    op.create_table(
        "plan_parcel",
        sa.Column("plan_id", sa.BigInteger(), nullable=False),
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("block_no", sa.Integer(), nullable=True),
        sa.Column("reasons", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("area_mu", sa.Float(), nullable=False),
        sa.Column("tax_wan", sa.Float(), nullable=True),
        sa.Column("value_added_wan", sa.Float(), nullable=True),
        sa.Column("mu_tax", sa.Float(), nullable=True),
        sa.Column("far", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"], name="fk_plan_parcel_plan_id_plan", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["parcel_id"], ["parcel.id"], name="fk_plan_parcel_parcel_id_parcel", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("plan_id", "parcel_id", name="pk_plan_parcel"),
    )
    op.create_index("ix_plan_parcel_parcel_id", "plan_parcel", ["parcel_id"])

    # The change history is read for renewal status and FAR changes of parcels (治理/腾出 areas,
    # FAR at the start of a year).
    op.create_index(
        "ix_change_log_parcel_status",
        "change_log",
        ["row_id"],
        postgresql_where=sa.text("table_name = 'parcel' AND action = 'update' AND changes ? 'renewal_status'"),
    )
    op.create_index(
        "ix_change_log_parcel_far",
        "change_log",
        ["row_id"],
        postgresql_where=sa.text("table_name = 'parcel' AND action = 'update' AND changes ? 'far'"),
    )
    # Flags are facts a policy acts on: their changes are kept like any other.
    op.execute(
        "CREATE TRIGGER enterprise_flag_log_insert AFTER INSERT ON enterprise_flag REFERENCING NEW TABLE AS new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION landgis_log_changes();"
        "CREATE TRIGGER enterprise_flag_log_update AFTER UPDATE ON enterprise_flag"
        " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION landgis_log_changes();"
        "CREATE TRIGGER enterprise_flag_log_delete AFTER DELETE ON enterprise_flag REFERENCING OLD TABLE AS old_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION landgis_log_changes();"
    )
    op.execute(CASCADE)
    op.execute(VIEWS)


def downgrade() -> None:
    op.execute(DROP_VIEWS)
    op.drop_index("ix_change_log_parcel_far", table_name="change_log")
    op.drop_index("ix_change_log_parcel_status", table_name="change_log")
    for table in (
        "plan_parcel",
        "plan",
        "totals_cell",
        "aggregate_refresh",
        "parcel_year_stat",
        "enterprise_flag",
        "evaluation_parcel",
        "evaluation_result",
        "evaluation_run",
    ):
        op.drop_table(table)
