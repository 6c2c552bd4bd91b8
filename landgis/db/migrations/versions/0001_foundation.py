"""Foundation: regions, zones and targets, parcels, enterprises, occupancy, yearly figures,
load batches and the change history, with the area and history triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONB_EMPTY = sa.text("'{}'::jsonb")


def _geom() -> geoalchemy2.Geometry:
    return geoalchemy2.Geometry("MULTIPOLYGON", srid=4490, spatial_index=False)


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


FUNCTIONS = r"""
-- EPSG code of the CGCS2000 3-degree Gauss-Krüger zone (central-meridian form, 4534 = 75E ... 4554 = 135E)
-- holding a geometry's centroid. Areas are computed in that zone, never in Web Mercator.
CREATE FUNCTION landgis_gk_srid(g geometry) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT 4534 + least(20, greatest(0, round((ST_X(ST_Centroid(g)) - 75.0) / 3.0)::integer))
$$;

-- Area (m²) of an EPSG:4490 geometry in its Gauss-Krüger zone.
CREATE FUNCTION landgis_area_m2(g geometry) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT ST_Area(ST_Transform(g, landgis_gk_srid(g)))
$$;

-- Keeps gk_srid, area_m2 and area_mu (1亩 = 10000/15 m²) in step with the geometry column
-- named in the trigger's first argument.
CREATE FUNCTION landgis_set_area() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  g geometry;
BEGIN
  -- plpgsql plans each statement when it first runs, so the branch for the other table's
  -- column is never planned.
  IF TG_ARGV[0] = 'boundary' THEN
    g := NEW.boundary;
  ELSE
    g := NEW.geom;
  END IF;
  NEW.gk_srid := landgis_gk_srid(g);
  NEW.area_m2 := ST_Area(ST_Transform(g, NEW.gk_srid));
  NEW.area_mu := NEW.area_m2 * 15.0 / 10000.0;
  RETURN NEW;
END
$$;

CREATE FUNCTION landgis_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

-- Who is writing: set per transaction with set_config('landgis.actor', ..., true) by the service
-- and the loaders; falls back to the database role.
CREATE FUNCTION landgis_actor() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('landgis.actor', true), ''), current_user::text)
$$;

-- Region scope of the current transaction: set_config('landgis.scope', '330699,330701', true).
-- Unset or '' = unrestricted (batch jobs, migrations); '-' = nothing. A region code is in scope
-- when it starts with one of the listed codes. Row-level security policies call this.
CREATE FUNCTION landgis_in_scope(code text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN coalesce(current_setting('landgis.scope', true), '') = '' THEN true
    WHEN code IS NULL THEN false
    ELSE EXISTS (
      SELECT 1 FROM unnest(string_to_array(current_setting('landgis.scope', true), ',')) AS s(prefix)
      WHERE s.prefix <> '-' AND starts_with(code, s.prefix))
  END
$$;

CREATE FUNCTION landgis_setting(name text) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting(name, true), '')
$$;

-- Statement-level change history from the transition tables: one row per inserted or deleted
-- row, and one row per updated row holding only the fields whose values changed.
CREATE FUNCTION landgis_log_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ignored text[] := ARRAY['updated_at', 'created_at'];
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO change_log (actor, client_addr, request_id, batch_id, table_name, row_id, action, changes)
    SELECT landgis_actor(), landgis_setting('landgis.client_addr'), landgis_setting('landgis.request_id'),
           landgis_setting('landgis.batch_id')::bigint, TG_TABLE_NAME, n.id, 'insert', '{}'::jsonb
    FROM new_rows n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO change_log (actor, client_addr, request_id, batch_id, table_name, row_id, action, changes)
    SELECT landgis_actor(), landgis_setting('landgis.client_addr'), landgis_setting('landgis.request_id'),
           landgis_setting('landgis.batch_id')::bigint, TG_TABLE_NAME, o.id, 'delete',
           to_jsonb(o) - ignored
    FROM old_rows o;
  ELSE
    -- Rows are turned into jsonb once each, then matched on id with a hash join.
    INSERT INTO change_log (actor, client_addr, request_id, batch_id, table_name, row_id, action, changes)
    WITH n AS MATERIALIZED (SELECT r.id, to_jsonb(r) - ignored AS j FROM new_rows r),
         o AS MATERIALIZED (SELECT r.id, to_jsonb(r) - ignored AS j FROM old_rows r),
         d AS (
           SELECT n.id,
                  (SELECT jsonb_object_agg(e.key, jsonb_build_object('old', o.j -> e.key, 'new', e.value))
                   FROM jsonb_each(n.j) AS e
                   WHERE (o.j -> e.key) IS DISTINCT FROM e.value) AS changes
           FROM n JOIN o ON o.id = n.id)
    SELECT landgis_actor(), landgis_setting('landgis.client_addr'), landgis_setting('landgis.request_id'),
           landgis_setting('landgis.batch_id')::bigint, TG_TABLE_NAME, d.id, 'update', d.changes
    FROM d
    WHERE d.changes IS NOT NULL;
  END IF;
  RETURN NULL;
END
$$;
"""

DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS landgis_log_changes();
DROP FUNCTION IF EXISTS landgis_setting(text);
DROP FUNCTION IF EXISTS landgis_in_scope(text);
DROP FUNCTION IF EXISTS landgis_actor();
DROP FUNCTION IF EXISTS landgis_touch_updated_at();
DROP FUNCTION IF EXISTS landgis_set_area();
DROP FUNCTION IF EXISTS landgis_area_m2(geometry);
DROP FUNCTION IF EXISTS landgis_gk_srid(geometry);
"""

TIMESTAMPED = ("zone", "parcel", "enterprise", "occupancy", "enterprise_year")
AUDITED = ("parcel", "enterprise", "occupancy", "enterprise_year", "zone")


def _triggers() -> str:
    parts = [
        "CREATE TRIGGER parcel_area BEFORE INSERT OR UPDATE OF geom ON parcel "
        "FOR EACH ROW EXECUTE FUNCTION landgis_set_area('geom');",
        "CREATE TRIGGER zone_area BEFORE INSERT OR UPDATE OF boundary ON zone "
        "FOR EACH ROW EXECUTE FUNCTION landgis_set_area('boundary');",
    ]
    for table in TIMESTAMPED:
        parts.append(
            f"CREATE TRIGGER {table}_updated_at BEFORE UPDATE ON {table} FOR EACH ROW "
            f"WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION landgis_touch_updated_at();"
        )
    for table in AUDITED:
        parts += [
            f"CREATE TRIGGER {table}_log_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION landgis_log_changes();",
            f"CREATE TRIGGER {table}_log_update AFTER UPDATE ON {table} "
            f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION landgis_log_changes();",
            f"CREATE TRIGGER {table}_log_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION landgis_log_changes();",
        ]
    return "\n".join(parts)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    op.create_table(
        "region",
        sa.Column("code", sa.String(12), nullable=False, comment="行政区划代码"),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False, comment="1 省 2 市 3 县 4 乡镇 5 村"),
        sa.Column("parent_code", sa.String(12), nullable=True),
        sa.Column("boundary", _geom(), nullable=True),
        sa.CheckConstraint(r"code ~ '^\d{6}(\d{3}(\d{3})?)?$'", name="ck_region_code_format"),
        sa.CheckConstraint("level BETWEEN 1 AND 5", name="ck_region_level_range"),
        sa.ForeignKeyConstraint(["parent_code"], ["region.code"], name="fk_region_parent_code_region"),
        sa.PrimaryKeyConstraint("code", name="pk_region"),
    )
    op.create_index("ix_region_boundary", "region", ["boundary"], postgresql_using="gist")
    op.create_index("ix_region_parent_code", "region", ["parent_code"])

    op.create_table(
        "zone",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("zone_type", sa.String(24), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("boundary", _geom(), nullable=False),
        sa.Column("gk_srid", sa.Integer(), nullable=False, comment="EPSG of the GK zone used for area"),
        sa.Column("area_m2", sa.Float(), nullable=False, comment="m², in the GK zone"),
        sa.Column("area_mu", sa.Float(), nullable=False, comment="亩"),
        *_timestamps(),
        sa.CheckConstraint(
            "zone_type IN ('development_zone', 'industrial_park', 'small_micro_park', 'renewal_area')",
            name="ck_zone_zone_type",
        ),
        sa.ForeignKeyConstraint(["region_code"], ["region.code"], name="fk_zone_region_code_region"),
        sa.PrimaryKeyConstraint("id", name="pk_zone"),
        sa.UniqueConstraint("code", name="uq_zone_code"),
    )
    op.create_index("ix_zone_boundary", "zone", ["boundary"], postgresql_using="gist")

    op.create_table(
        "zone_target",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("year_from", sa.SmallInteger(), nullable=False),
        sa.Column("year_to", sa.SmallInteger(), nullable=False),
        sa.Column(
            "value",
            sa.Float(),
            nullable=False,
            comment="亩 for areas, FAR units for far_uplift, ratio for growth (0.1 = +10%)",
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "metric IN ('governed_mu', 'freed_mu', 'far_uplift', 'mu_tax_growth', 'mu_value_added_growth')",
            name="ck_zone_target_metric",
        ),
        sa.CheckConstraint("year_to >= year_from", name="ck_zone_target_year_range"),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name="fk_zone_target_zone_id_zone", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_zone_target"),
        sa.UniqueConstraint(
            "zone_id", "metric", "year_from", "year_to", name="uq_zone_target_zone_id_metric_year_from_year_to"
        ),
    )

    op.create_table(
        "load_batch",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=True, comment="sha256 of the file(s)"),
        sa.Column("loaded_by", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), server_default="running", nullable=False),
        sa.Column("counts", postgresql.JSONB(), server_default=JSONB_EMPTY, nullable=False),
        sa.Column("options", postgresql.JSONB(), server_default=JSONB_EMPTY, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'committed', 'failed', 'dry_run', 'unchanged')", name="ck_load_batch_status"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_load_batch"),
    )

    op.create_table(
        "parcel",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("zddm", sa.String(19), nullable=True, comment="宗地代码, normalised, only when valid"),
        sa.Column("zddm_raw", sa.Text(), nullable=True, comment="宗地代码 exactly as the source held it"),
        sa.Column("zddm_valid", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("bdcdyh", sa.String(28), nullable=True, comment="不动产单元号"),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("location", sa.Text(), nullable=True, comment="坐落"),
        sa.Column("right_holder", sa.Text(), nullable=True, comment="权利人"),
        sa.Column("geom", _geom(), nullable=False),
        sa.Column("gk_srid", sa.Integer(), nullable=False, comment="EPSG of the GK zone used for area"),
        sa.Column("area_m2", sa.Float(), nullable=False, comment="m², in the GK zone"),
        sa.Column("area_mu", sa.Float(), nullable=False, comment="亩"),
        sa.Column("declared_area_m2", sa.Float(), nullable=True, comment="宗地面积 declared by the source, m²"),
        sa.Column("land_use_code", sa.String(16), nullable=True, comment="e.g. 0601, 100101, M2"),
        sa.Column("land_use_system", sa.String(16), nullable=True),
        sa.Column("far", sa.Float(), nullable=True, comment="容积率 actual"),
        sa.Column("building_coverage", sa.Float(), nullable=True, comment="建筑密度 actual, ratio 0-1"),
        sa.Column("floor_area_m2", sa.Float(), nullable=True, comment="建筑面积 m²"),
        sa.Column("building_safety_grade", sa.String(1), nullable=True, comment="房屋安全等级 JGJ125 A-D"),
        sa.Column("contract_no", sa.Text(), nullable=True, comment="电子监管号 or contract number"),
        sa.Column("contract_date", sa.Date(), nullable=True),
        sa.Column("supply_method", sa.String(16), nullable=True, comment="供地方式"),
        sa.Column("is_standard_land", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("land_price_wan", sa.Float(), nullable=True, comment="土地价款 万元"),
        sa.Column("far_min", sa.Float(), nullable=True, comment="约定容积率 lower bound"),
        sa.Column("far_max", sa.Float(), nullable=True, comment="约定容积率 upper bound"),
        sa.Column("far_agreed_raw", sa.Text(), nullable=True, comment="约定容积率 as written"),
        sa.Column("coverage_min", sa.Float(), nullable=True, comment="约定建筑密度 lower bound, ratio"),
        sa.Column("coverage_max", sa.Float(), nullable=True, comment="约定建筑密度 upper bound, ratio"),
        sa.Column("agreed_delivery_date", sa.Date(), nullable=True, comment="约定交地"),
        sa.Column("actual_delivery_date", sa.Date(), nullable=True, comment="实际交地"),
        sa.Column("agreed_start_date", sa.Date(), nullable=True, comment="约定开工"),
        sa.Column("actual_start_date", sa.Date(), nullable=True, comment="实际开工"),
        sa.Column("agreed_completion_date", sa.Date(), nullable=True, comment="约定竣工"),
        sa.Column("actual_completion_date", sa.Date(), nullable=True, comment="实际竣工"),
        sa.Column("agreed_production_date", sa.Date(), nullable=True, comment="约定投产"),
        sa.Column("actual_production_date", sa.Date(), nullable=True, comment="实际投产"),
        sa.Column("renewal_status", sa.String(32), server_default="normal", nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("load_batch_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "source_attrs",
            postgresql.JSONB(),
            server_default=JSONB_EMPTY,
            nullable=False,
            comment="the source row's own attributes",
        ),
        *_timestamps(),
        sa.CheckConstraint(
            "land_use_system IN ('GBT21010-2017', 'GBT21010-2007', 'GTKJ-2023', 'GB50137-2011', 'other')",
            name="ck_parcel_land_use_system",
        ),
        sa.CheckConstraint(
            "supply_method IN ('transfer', 'allocation', 'lease', 'capital', 'other')",
            name="ck_parcel_supply_method",
        ),
        sa.CheckConstraint("building_coverage IS NULL OR building_coverage BETWEEN 0 AND 1", name="ck_parcel_coverage"),
        sa.CheckConstraint("far IS NULL OR far >= 0", name="ck_parcel_far"),
        sa.CheckConstraint(
            r"zddm IS NULL OR zddm ~ '^\d{12}[GJZ][ABCDEFGHSXWYLN]\d{5}$'", name="ck_parcel_zddm_format"
        ),
        sa.CheckConstraint(
            "building_safety_grade IS NULL OR building_safety_grade IN ('A','B','C','D')",
            name="ck_parcel_safety_grade",
        ),
        sa.ForeignKeyConstraint(["region_code"], ["region.code"], name="fk_parcel_region_code_region"),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name="fk_parcel_zone_id_zone", ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["load_batch_id"], ["load_batch.id"], name="fk_parcel_load_batch_id_load_batch"),
        sa.PrimaryKeyConstraint("id", name="pk_parcel"),
    )
    op.create_index("ix_parcel_geom", "parcel", ["geom"], postgresql_using="gist")
    op.create_index("uq_parcel_zddm", "parcel", ["zddm"], unique=True, postgresql_where=sa.text("zddm IS NOT NULL"))
    op.create_index("ix_parcel_region_code", "parcel", ["region_code"])
    op.create_index("ix_parcel_zone_id", "parcel", ["zone_id"])
    op.create_index("ix_parcel_load_batch_id", "parcel", ["load_batch_id"])

    op.create_table(
        "enterprise",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=True, comment="统一社会信用代码, check character verified"),
        sa.Column("name", sa.Text(), nullable=False, comment="企业名称"),
        sa.Column("scale", sa.String(8), nullable=True, comment="above = 规上, below = 规下"),
        sa.Column("industry_code", sa.String(5), nullable=True, comment="GB/T 4754 国民经济行业代码, e.g. C3311"),
        sa.Column("registration_date", sa.Date(), nullable=True, comment="成立日期"),
        sa.Column("production_start_date", sa.Date(), nullable=True, comment="投产日期"),
        sa.Column("region_code", sa.String(12), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("load_batch_id", sa.BigInteger(), nullable=True),
        sa.Column("source_attrs", postgresql.JSONB(), server_default=JSONB_EMPTY, nullable=False),
        *_timestamps(),
        sa.CheckConstraint("scale IN ('above', 'below')", name="ck_enterprise_scale"),
        sa.CheckConstraint("uscc IS NULL OR uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'", name="ck_enterprise_uscc_format"),
        sa.ForeignKeyConstraint(["region_code"], ["region.code"], name="fk_enterprise_region_code_region"),
        sa.ForeignKeyConstraint(["load_batch_id"], ["load_batch.id"], name="fk_enterprise_load_batch_id_load_batch"),
        sa.PrimaryKeyConstraint("id", name="pk_enterprise"),
        sa.UniqueConstraint("uscc", name="uq_enterprise_uscc"),
    )
    op.create_index("ix_enterprise_name", "enterprise", ["name"])

    op.create_table(
        "occupancy",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("enterprise_id", sa.BigInteger(), nullable=False),
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("land_area_mu", sa.Float(), nullable=True, comment="用地面积 亩; NULL = the whole parcel"),
        sa.Column("tenure", sa.String(8), server_default="own", nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("load_batch_id", sa.BigInteger(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("tenure IN ('own', 'lease')", name="ck_occupancy_tenure"),
        sa.CheckConstraint("land_area_mu IS NULL OR land_area_mu >= 0", name="ck_occupancy_area"),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from", name="ck_occupancy_validity"
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprise.id"], name="fk_occupancy_enterprise_id_enterprise", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["parcel_id"], ["parcel.id"], name="fk_occupancy_parcel_id_parcel", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["load_batch_id"], ["load_batch.id"], name="fk_occupancy_load_batch_id_load_batch"),
        sa.PrimaryKeyConstraint("id", name="pk_occupancy"),
        sa.UniqueConstraint(
            "enterprise_id",
            "parcel_id",
            "valid_from",
            name="uq_occupancy_enterprise_id_parcel_id_valid_from",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index("ix_occupancy_parcel_id", "occupancy", ["parcel_id"])

    op.create_table(
        "enterprise_year",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("enterprise_id", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("tax_wan", sa.Float(), nullable=True, comment="评价税收 万元"),
        sa.Column("value_added_wan", sa.Float(), nullable=True, comment="工业增加值 万元"),
        sa.Column("revenue_wan", sa.Float(), nullable=True, comment="主营业务收入 万元"),
        sa.Column("output_wan", sa.Float(), nullable=True, comment="工业总产值 万元"),
        sa.Column("energy_tce", sa.Float(), nullable=True, comment="综合能耗(等价值) 吨标煤"),
        sa.Column("emissions_t", sa.Float(), nullable=True, comment="主要污染物排放量 吨"),
        sa.Column("rd_wan", sa.Float(), nullable=True, comment="R&D经费支出 万元"),
        sa.Column("employees", sa.Float(), nullable=True, comment="年平均职工人数 人"),
        sa.Column("electricity_kwh", sa.Float(), nullable=True, comment="用电量 千瓦时"),
        sa.Column(
            "sources",
            postgresql.JSONB(),
            server_default=JSONB_EMPTY,
            nullable=False,
            comment="figure name -> source",
        ),
        sa.Column("load_batch_id", sa.BigInteger(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name="ck_enterprise_year_year"),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name="fk_enterprise_year_enterprise_id_enterprise",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["load_batch_id"], ["load_batch.id"], name="fk_enterprise_year_load_batch_id_load_batch"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_enterprise_year"),
        sa.UniqueConstraint("enterprise_id", "year", name="uq_enterprise_year_enterprise_id_year"),
    )

    op.create_table(
        "change_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("client_addr", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("row_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column(
            "changes",
            postgresql.JSONB(),
            server_default=JSONB_EMPTY,
            nullable=False,
            comment='{"field": {"old": .., "new": ..}}',
        ),
        sa.CheckConstraint("action IN ('insert', 'update', 'delete')", name="ck_change_log_action"),
        sa.PrimaryKeyConstraint("id", name="pk_change_log"),
    )
    op.create_index("ix_change_log_table_name_row_id", "change_log", ["table_name", "row_id"])
    op.create_index("ix_change_log_batch_id", "change_log", ["batch_id"])

    op.execute(FUNCTIONS)
    op.execute(_triggers())


def downgrade() -> None:
    for table in (
        "change_log",
        "enterprise_year",
        "occupancy",
        "enterprise",
        "parcel",
        "load_batch",
        "zone_target",
        "zone",
        "region",
    ):
        op.drop_table(table)
    op.execute(DROP_FUNCTIONS)
