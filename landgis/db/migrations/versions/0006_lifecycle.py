"""Renewal life cycle and 一码管地: renewal events, land codes, colour rules and colours, projects,
land approval batches, development progress, 标准地 agreements and reviews; the idle-land and
colour functions, and the views the map and the zone totals read.

Revision ID: 0006_lifecycle
Revises: 0001
Create Date: 2026-11-26
"""

import json
from importlib import resources

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_lifecycle"
down_revision = "0005_accounts"
branch_labels = None
depends_on = None

JSONB_EMPTY = sa.text("'{}'::jsonb")
LAND_CODE_CHECK = r"land_code ~ '^(\d{12}[GJZ][ABCDEFGHSXWYLN]\d{5}|\d{12}L\d{6,11})$'"

#: The default colour rules (the same as landgis/lifecycle/colour_rules.yaml; a test keeps them equal).
DEFAULT_RULES = (
    ("idle_land", "idle_land", "red", "闲置土地", '{"except_states": ["freed", "exempt"]}', 10),
    ("class_d", "eval_class", "red", "亩均评价D类", '{"classes": ["D"], "except_states": ["exempt", "freed"]}', 20),
    (
        "identified_not_planned",
        "renewal_status",
        "red",
        "认定低效未列入计划",
        '{"states": ["identified"], "min_days": 0}',
        30,
    ),
    ("review_failed", "review_failed", "red", "达产复核未达标", '{"outcomes": ["failed"]}', 40),
    ("class_c", "eval_class", "yellow", "亩均评价C类", '{"classes": ["C"], "except_states": ["exempt", "freed"]}', 50),
    (
        "contract_deadline",
        "contract_deadline",
        "yellow",
        "合同约定期限临近",
        '{"days": 90, "milestones": ["delivery", "start", "completion", "production"], "include_overdue": true,'
        ' "max_overdue_days": 365}',
        60,
    ),
    ("review_due", "review_due", "yellow", "达产复核到期", '{"days": 90, "include_overdue": true}', 70),
)


def _geom() -> geoalchemy2.Geometry:
    return geoalchemy2.Geometry("MULTIPOLYGON", srid=4490, spatial_index=False)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


def _sql(name: str) -> str:
    return resources.files("landgis.db.migrations.versions").joinpath(name).read_text(encoding="utf-8")


def upgrade() -> None:
    # ---- 一码管地: a land code per parcel, issued once and never changed
    op.execute("CREATE SEQUENCE land_code_seq")
    op.add_column(
        "parcel",
        sa.Column(
            "land_code",
            sa.String(24),
            nullable=True,
            comment="一码管地 地块码: the valid 宗地代码, else generated in the region; never changes",
        ),
    )
    # Issuing codes to existing parcels is not a change of their data: keep it out of change_log.
    op.execute("ALTER TABLE parcel DISABLE TRIGGER parcel_log_update")
    op.execute("ALTER TABLE parcel DISABLE TRIGGER parcel_updated_at")
    op.execute(
        "UPDATE parcel SET land_code = CASE WHEN zddm IS NOT NULL THEN zddm "
        "ELSE rpad(region_code, 12, '0') || 'L' || lpad(nextval('land_code_seq')::text, 6, '0') END"
    )
    op.execute("ALTER TABLE parcel ENABLE TRIGGER parcel_updated_at")
    op.execute("ALTER TABLE parcel ENABLE TRIGGER parcel_log_update")
    op.alter_column("parcel", "land_code", nullable=False)
    op.create_index("uq_parcel_land_code", "parcel", ["land_code"], unique=True)
    op.execute(f"ALTER TABLE parcel ADD CONSTRAINT ck_parcel_land_code_format CHECK ({LAND_CODE_CHECK})")

    op.create_table(
        "renewal_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("from_status", sa.String(32), nullable=False),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False, comment="date the step took effect"),
        sa.Column("renewal_mode", sa.String(32), nullable=True, comment="收储, 协议收回, 兼并重组 … (code)"),
        sa.Column("area_mu", sa.Float(), nullable=False, comment="area concerned, 亩 (part of a parcel)"),
        sa.Column("counts_governed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("counts_freed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "documents",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
            comment="document references (文号)",
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(),
            server_default=JSONB_EMPTY,
            nullable=False,
            comment="e.g. FAR before/after 提容增效",
        ),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Text(), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("area_mu >= 0", name="ck_renewal_event_area"),
        sa.CheckConstraint(
            "from_status ~ '^[a-z_]{1,32}$' AND to_status ~ '^[a-z_]{1,32}$'", name="ck_renewal_event_status_format"
        ),
        sa.ForeignKeyConstraint(["parcel_id"], ["parcel.id"], name="fk_renewal_event_parcel_id_parcel"),
        sa.PrimaryKeyConstraint("id", name="pk_renewal_event"),
    )
    op.create_index("ix_renewal_event_parcel_id_event_date", "renewal_event", ["parcel_id", "event_date"])
    op.create_index("ix_renewal_event_event_date", "renewal_event", ["event_date"])

    op.create_table(
        "colour_rule",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("colour", sa.String(8), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("params", postgresql.JSONB(), server_default=JSONB_EMPTY, nullable=False),
        sa.Column("sort_order", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            _in(
                "kind",
                ("idle_land", "eval_class", "renewal_status", "contract_deadline", "review_due", "review_failed"),
            ),
            name="ck_colour_rule_kind",
        ),
        sa.CheckConstraint("colour IN ('red', 'yellow')", name="ck_colour_rule_colour"),
        sa.CheckConstraint("code ~ '^[a-z][a-z0-9_]{0,31}$'", name="ck_colour_rule_code_format"),
        sa.PrimaryKeyConstraint("code", name="pk_colour_rule"),
    )

    op.create_table(
        "parcel_colour",
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("colour", sa.String(8), nullable=False),
        sa.Column(
            "reasons",
            postgresql.JSONB(),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
            comment='[{"rule","colour","label","reason"}]',
        ),
        sa.Column("as_of", sa.Date(), nullable=False, comment="date the date rules were evaluated for"),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("colour IN ('green', 'yellow', 'red')", name="ck_parcel_colour_colour"),
        sa.ForeignKeyConstraint(
            ["parcel_id"], ["parcel.id"], name="fk_parcel_colour_parcel_id_parcel", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("parcel_id", name="pk_parcel_colour"),
    )
    op.create_index("ix_parcel_colour_colour", "parcel_colour", ["colour"])

    op.create_table(
        "project",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("enterprise_id", sa.BigInteger(), nullable=True),
        sa.Column("uscc", sa.String(18), nullable=True, comment="统一社会信用代码 of the investor"),
        sa.Column("industry_code", sa.String(5), nullable=True, comment="GB/T 4754, e.g. C3311"),
        sa.Column("area_min_mu", sa.Float(), nullable=True, comment="亩"),
        sa.Column("area_max_mu", sa.Float(), nullable=True, comment="亩"),
        sa.Column("far_min", sa.Float(), nullable=True, comment="容积率 the project needs"),
        sa.Column("investment_intensity", sa.Float(), nullable=True, comment="固定资产投资强度 万元/亩"),
        sa.Column(
            "preferred_zone_ids",
            postgresql.ARRAY(sa.Integer()),
            server_default=sa.text("'{}'::integer[]"),
            nullable=False,
        ),
        sa.Column("contiguous", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("status", sa.String(16), server_default="request", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(_in("status", ("request", "matched", "supplied", "cancelled")), name="ck_project_status"),
        sa.CheckConstraint("uscc IS NULL OR uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'", name="ck_project_uscc_format"),
        sa.CheckConstraint(
            "area_min_mu IS NULL OR area_max_mu IS NULL OR (area_min_mu > 0 AND area_max_mu >= area_min_mu)",
            name="ck_project_area_range",
        ),
        sa.ForeignKeyConstraint(["region_code"], ["region.code"], name="fk_project_region_code_region"),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprise.id"], name="fk_project_enterprise_id_enterprise", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_project"),
        sa.UniqueConstraint("code", name="uq_project_code"),
    )

    op.create_table(
        "project_parcel",
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("linked_on", sa.Date(), nullable=True),
        sa.Column("linked_by", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name="fk_project_parcel_project_id_project", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["parcel_id"], ["parcel.id"], name="fk_project_parcel_parcel_id_parcel", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("project_id", "parcel_id", name="pk_project_parcel"),
    )
    op.create_index("ix_project_parcel_parcel_id", "project_parcel", ["parcel_id"])

    op.create_table(
        "land_approval_batch",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("batch_no", sa.String(64), nullable=False, comment="批次编号"),
        sa.Column("approval_no", sa.Text(), nullable=True, comment="批准文号"),
        sa.Column("authority", sa.Text(), nullable=True, comment="批准机关"),
        sa.Column("approved_on", sa.Date(), nullable=False, comment="批准日期"),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("approved_area_mu", sa.Float(), nullable=False, comment="批准建设用地面积 亩"),
        sa.Column("geom", _geom(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("approved_area_mu > 0", name="ck_land_approval_batch_area"),
        sa.ForeignKeyConstraint(["region_code"], ["region.code"], name="fk_land_approval_batch_region_code_region"),
        sa.PrimaryKeyConstraint("id", name="pk_land_approval_batch"),
        sa.UniqueConstraint("batch_no", name="uq_land_approval_batch_batch_no"),
    )
    op.create_index("ix_land_approval_batch_geom", "land_approval_batch", ["geom"], postgresql_using="gist")

    op.create_table(
        "land_approval_supply",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("supplied_area_mu", sa.Float(), nullable=False, comment="亩"),
        sa.Column("supplied_on", sa.Date(), nullable=True),
        sa.CheckConstraint("supplied_area_mu > 0", name="ck_land_approval_supply_area"),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["land_approval_batch.id"],
            name="fk_land_approval_supply_batch_id_land_approval_batch",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parcel_id"], ["parcel.id"], name="fk_land_approval_supply_parcel_id_parcel", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_land_approval_supply"),
        sa.UniqueConstraint("batch_id", "parcel_id", name="uq_land_approval_supply_batch_id_parcel_id"),
    )
    op.create_index("ix_land_approval_supply_parcel_id", "land_approval_supply", ["parcel_id"])

    op.create_table(
        "land_progress",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("report_date", sa.Date(), nullable=False),
        sa.Column("developed_area_m2", sa.Float(), nullable=True, comment="已动工开发建设用地面积 m²"),
        sa.Column(
            "planned_area_m2", sa.Float(), nullable=True, comment="应动工开发建设用地总面积 m² (NULL: the parcel)"
        ),
        sa.Column("invested_wan", sa.Float(), nullable=True, comment="已投资额 万元"),
        sa.Column("total_investment_wan", sa.Float(), nullable=True, comment="总投资额 万元"),
        sa.Column("halted_since", sa.Date(), nullable=True, comment="中止开发建设 since"),
        sa.Column("delay_cause", sa.String(16), nullable=True, comment="enterprise, government, force_majeure"),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            _in("delay_cause", ("enterprise", "government", "force_majeure")), name="ck_land_progress_delay_cause"
        ),
        sa.ForeignKeyConstraint(
            ["parcel_id"], ["parcel.id"], name="fk_land_progress_parcel_id_parcel", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_land_progress"),
        sa.UniqueConstraint("parcel_id", "report_date", name="uq_land_progress_parcel_id_report_date"),
    )

    op.create_table(
        "standard_agreement",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("enterprise_id", sa.BigInteger(), nullable=True),
        sa.Column("agreement_no", sa.Text(), nullable=True, comment="协议编号"),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("land_area_mu", sa.Float(), nullable=True, comment="亩 the commitments are per; NULL: the parcel"),
        sa.Column(
            "initial_period_months",
            sa.SmallInteger(),
            server_default=sa.text("36"),
            nullable=False,
            comment="达产期: 投产 → 达产复核, months",
        ),
        sa.Column("review_due_date", sa.Date(), nullable=True, comment="达产复核 date when agreed explicitly"),
        sa.Column("note", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("initial_period_months BETWEEN 0 AND 240", name="ck_standard_agreement_initial_period"),
        sa.ForeignKeyConstraint(
            ["parcel_id"], ["parcel.id"], name="fk_standard_agreement_parcel_id_parcel", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name="fk_standard_agreement_enterprise_id_enterprise",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_standard_agreement"),
        sa.UniqueConstraint("parcel_id", name="uq_standard_agreement_parcel_id"),
    )

    op.create_table(
        "standard_commitment",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("agreement_id", sa.BigInteger(), nullable=False),
        sa.Column("indicator", sa.String(32), nullable=False),
        sa.Column("comparator", sa.String(2), nullable=False),
        sa.Column("value", sa.Float(), nullable=False, comment="in the indicator's unit"),
        sa.CheckConstraint(
            _in(
                "indicator",
                (
                    "investment_intensity",
                    "mu_tax",
                    "mu_value_added",
                    "mu_output",
                    "far",
                    "energy_per_va",
                    "emissions_per_va",
                    "rd_ratio",
                ),
            ),
            name="ck_standard_commitment_indicator",
        ),
        sa.CheckConstraint("comparator IN ('>=', '<=')", name="ck_standard_commitment_comparator"),
        sa.CheckConstraint("value >= 0", name="ck_standard_commitment_value"),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["standard_agreement.id"],
            name="fk_standard_commitment_agreement_id_standard_agreement",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_standard_commitment"),
        sa.UniqueConstraint("agreement_id", "indicator", name="uq_standard_commitment_agreement_id_indicator"),
    )

    op.create_table(
        "standard_review",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("agreement_id", sa.BigInteger(), nullable=False),
        sa.Column("figures_year", sa.SmallInteger(), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), server_default="none", nullable=False),
        sa.Column("action_note", sa.Text(), nullable=True),
        sa.Column("penalty_wan", sa.Float(), nullable=True, comment="违约金 万元"),
        sa.Column(
            "results",
            postgresql.JSONB(),
            server_default=JSONB_EMPTY,
            nullable=False,
            comment="per indicator: committed, actual, shortfall",
        ),
        sa.Column("reviewer", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(_in("outcome", ("passed", "failed", "incomplete")), name="ck_standard_review_outcome"),
        sa.CheckConstraint(
            _in("action", ("none", "rectify", "penalty", "withdraw_incentives", "recover_land", "other")),
            name="ck_standard_review_action",
        ),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["standard_agreement.id"],
            name="fk_standard_review_agreement_id_standard_agreement",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_standard_review"),
    )
    op.create_index("ix_standard_review_agreement_id", "standard_review", ["agreement_id"])

    rules = sa.table(
        "colour_rule",
        sa.column("code", sa.String),
        sa.column("kind", sa.String),
        sa.column("colour", sa.String),
        sa.column("label", sa.Text),
        sa.column("params", postgresql.JSONB),
        sa.column("sort_order", sa.SmallInteger),
    )
    op.bulk_insert(
        rules,
        [
            {"code": c, "kind": k, "colour": col, "label": label, "params": json.loads(p), "sort_order": o}
            for c, k, col, label, p, o in DEFAULT_RULES
        ],
    )

    op.execute(_sql("0006_lifecycle.sql"))
    op.execute("SELECT landgis_refresh_parcel_colour()")


def downgrade() -> None:
    op.execute(_sql("0006_lifecycle_down.sql"))
    for table in (
        "standard_review",
        "standard_commitment",
        "standard_agreement",
        "land_progress",
        "land_approval_supply",
        "land_approval_batch",
        "project_parcel",
        "project",
        "parcel_colour",
        "colour_rule",
        "renewal_event",
    ):
        op.drop_table(table)
    op.execute("ALTER TABLE parcel DROP CONSTRAINT ck_parcel_land_code_format")
    op.drop_index("uq_parcel_land_code", table_name="parcel")
    op.drop_column("parcel", "land_code")
    op.execute("DROP SEQUENCE land_code_seq")
