"""The PostGIS data model as SQLAlchemy tables.

The schema itself is created by the alembic migrations in ``landgis/db/migrations``; these
classes describe it for queries, and a test checks that the two never drift apart.
Units are in the column comments and in ``docs/data-model.md``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ZONE_TYPES = ("development_zone", "industrial_park", "small_micro_park", "renewal_area")
TARGET_METRICS = ("governed_mu", "freed_mu", "far_uplift", "mu_tax_growth", "mu_value_added_growth")
LAND_USE_SYSTEMS = ("GBT21010-2017", "GBT21010-2007", "GTKJ-2023", "GB50137-2011", "other")
SUPPLY_METHODS = ("transfer", "allocation", "lease", "capital", "other")
ENTERPRISE_SCALES = ("above", "below")
TENURES = ("own", "lease")
BATCH_STATUSES = ("running", "committed", "failed", "dry_run", "unchanged")
#: 一码管地: a valid 宗地代码, or 12 digits of the region + "L" + a sequence number (never a ZDDM).
LAND_CODE_CHECK = r"land_code ~ '^(\d{12}[GJZ][ABCDEFGHSXWYLN]\d{5}|\d{12}L\d{6,11})$'"
JOB_KINDS = ("parcels", "enterprises", "occupancy", "figures")
JOB_STATUSES = ("queued", "running", "succeeded", "partial", "failed")


def _multipolygon() -> Geometry:
    return Geometry("MULTIPOLYGON", srid=4490, spatial_index=False)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Timestamps:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Region(Base):
    """行政区划: province to village, keyed by the 6/9/12-digit code."""

    __tablename__ = "region"
    __table_args__ = (
        CheckConstraint(r"code ~ '^\d{6}(\d{3}(\d{3})?)?$'", name="code_format"),
        CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),
        Index("ix_region_boundary", "boundary", postgresql_using="gist"),
        Index("ix_region_parent_code", "parent_code"),
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True, comment="行政区划代码")
    name: Mapped[str] = mapped_column(Text, nullable=False)
    level: Mapped[int] = mapped_column(SmallInteger, nullable=False, comment="1 省 2 市 3 县 4 乡镇 5 村")
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    boundary: Mapped[Any] = mapped_column(_multipolygon(), nullable=True)


class Zone(Timestamps, Base):
    """开发区/工业园区/小微企业园/整治片区."""

    __tablename__ = "zone"
    __table_args__ = (
        CheckConstraint(_in("zone_type", ZONE_TYPES), name="zone_type"),
        Index("ix_zone_boundary", "boundary", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    zone_type: Mapped[str] = mapped_column(String(24), nullable=False)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    boundary: Mapped[Any] = mapped_column(_multipolygon(), nullable=False)
    gk_srid: Mapped[int] = mapped_column(Integer, nullable=False, comment="EPSG of the GK zone used for area")
    area_m2: Mapped[float] = mapped_column(Float, nullable=False, comment="m², in the GK zone")
    area_mu: Mapped[float] = mapped_column(Float, nullable=False, comment="亩")


class ZoneTarget(Base):
    """A zone's target for one metric over a year or a range of years (治理1.5万亩/年, 腾出3万亩 2023-2027)."""

    __tablename__ = "zone_target"
    __table_args__ = (
        CheckConstraint(_in("metric", TARGET_METRICS), name="metric"),
        CheckConstraint("year_to >= year_from", name="year_range"),
        UniqueConstraint("zone_id", "metric", "year_from", "year_to"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id", ondelete="CASCADE"), nullable=False)
    metric: Mapped[str] = mapped_column(String(32), nullable=False)
    year_from: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    year_to: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    value: Mapped[float] = mapped_column(
        Float, nullable=False, comment="亩 for areas, FAR units for far_uplift, ratio for growth (0.1 = +10%)"
    )
    note: Mapped[str | None] = mapped_column(Text)


class LoadBatch(Base):
    """One load of one file: what came in, from whom, and what it changed."""

    __tablename__ = "load_batch"
    __table_args__ = (CheckConstraint(_in("status", BATCH_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    source_name: Mapped[str] = mapped_column(Text, nullable=False)
    checksum: Mapped[str | None] = mapped_column(String(64), comment="sha256 of the file(s)")
    loaded_by: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LoadJob(Base):
    """An uploaded file loaded in the background (``POST /loads/{kind}``): its progress and report."""

    __tablename__ = "load_job"
    __table_args__ = (
        CheckConstraint(_in("kind", JOB_KINDS), name="kind"),
        CheckConstraint(_in("status", JOB_STATUSES), name="status"),
        Index("ix_load_job_status", "status"),
        Index("ix_load_job_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, server_default=text("gen_random_uuid()"))
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="queued")
    file_name: Mapped[str] = mapped_column(Text, nullable=False, comment="the uploaded file's name, made safe")
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    scope: Mapped[list[str] | None] = mapped_column(ARRAY(Text), comment="region scope; NULL = unrestricted")
    actor: Mapped[str] = mapped_column(Text, nullable=False)
    client_addr: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(Text, comment="host:pid of the process running the job")
    rows_done: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    rows_total: Mapped[int | None] = mapped_column(BigInteger)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("load_batch.id", ondelete="SET NULL"))
    exit_code: Mapped[int | None] = mapped_column(SmallInteger, comment="as `landgis load` would exit")
    message: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONB, comment="the load report with every issue")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Parcel(Timestamps, Base):
    """宗地: one parcel of land with its geometry, use, intensity and supply contract."""

    __tablename__ = "parcel"
    __table_args__ = (
        CheckConstraint(_in("land_use_system", LAND_USE_SYSTEMS), name="land_use_system"),
        CheckConstraint(_in("supply_method", SUPPLY_METHODS), name="supply_method"),
        CheckConstraint("building_coverage IS NULL OR building_coverage BETWEEN 0 AND 1", name="coverage"),
        CheckConstraint("far IS NULL OR far >= 0", name="far"),
        CheckConstraint(r"zddm IS NULL OR zddm ~ '^\d{12}[GJZ][ABCDEFGHSXWYLN]\d{5}$'", name="zddm_format"),
        CheckConstraint(
            "building_safety_grade IS NULL OR building_safety_grade IN ('A','B','C','D')", name="safety_grade"
        ),
        Index("ix_parcel_geom", "geom", postgresql_using="gist"),
        Index("uq_parcel_zddm", "zddm", unique=True, postgresql_where=text("zddm IS NOT NULL")),
        Index("ix_parcel_region_code", "region_code"),
        Index("ix_parcel_zone_id", "zone_id"),
        Index("ix_parcel_load_batch_id", "load_batch_id"),
        # revision 0012: the evaluation's occupancy read as an index-only scan
        Index("ix_parcel_land", "id", postgresql_include=["area_mu", "zone_id", "region_code"]),
        Index("uq_parcel_land_code", "land_code", unique=True),
        CheckConstraint(LAND_CODE_CHECK, name="land_code_format"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    zddm: Mapped[str | None] = mapped_column(String(19), comment="宗地代码, normalised, only when valid")
    zddm_raw: Mapped[str | None] = mapped_column(Text, comment="宗地代码 exactly as the source held it")
    zddm_valid: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    bdcdyh: Mapped[str | None] = mapped_column(String(28), comment="不动产单元号")
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id", ondelete="SET NULL"))
    location: Mapped[str | None] = mapped_column(Text, comment="坐落")
    right_holder: Mapped[str | None] = mapped_column(Text, comment="权利人")
    geom: Mapped[Any] = mapped_column(_multipolygon(), nullable=False)
    gk_srid: Mapped[int] = mapped_column(Integer, nullable=False, comment="EPSG of the GK zone used for area")
    area_m2: Mapped[float] = mapped_column(Float, nullable=False, comment="m², in the GK zone")
    area_mu: Mapped[float] = mapped_column(Float, nullable=False, comment="亩")
    declared_area_m2: Mapped[float | None] = mapped_column(Float, comment="宗地面积 declared by the source, m²")
    land_use_code: Mapped[str | None] = mapped_column(String(16), comment="e.g. 0601, 100101, M2")
    land_use_system: Mapped[str | None] = mapped_column(String(16))
    far: Mapped[float | None] = mapped_column(Float, comment="容积率 actual")
    building_coverage: Mapped[float | None] = mapped_column(Float, comment="建筑密度 actual, ratio 0-1")
    floor_area_m2: Mapped[float | None] = mapped_column(Float, comment="建筑面积 m²")
    building_safety_grade: Mapped[str | None] = mapped_column(String(1), comment="房屋安全等级 JGJ125 A-D")
    contract_no: Mapped[str | None] = mapped_column(Text, comment="电子监管号 or contract number")
    contract_date: Mapped[dt.date | None] = mapped_column(Date)
    supply_method: Mapped[str | None] = mapped_column(String(16), comment="供地方式")
    is_standard_land: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    land_price_wan: Mapped[float | None] = mapped_column(Float, comment="土地价款 万元")
    far_min: Mapped[float | None] = mapped_column(Float, comment="约定容积率 lower bound")
    far_max: Mapped[float | None] = mapped_column(Float, comment="约定容积率 upper bound")
    far_agreed_raw: Mapped[str | None] = mapped_column(Text, comment="约定容积率 as written")
    coverage_min: Mapped[float | None] = mapped_column(Float, comment="约定建筑密度 lower bound, ratio")
    coverage_max: Mapped[float | None] = mapped_column(Float, comment="约定建筑密度 upper bound, ratio")
    agreed_delivery_date: Mapped[dt.date | None] = mapped_column(Date, comment="约定交地")
    actual_delivery_date: Mapped[dt.date | None] = mapped_column(Date, comment="实际交地")
    agreed_start_date: Mapped[dt.date | None] = mapped_column(Date, comment="约定开工")
    actual_start_date: Mapped[dt.date | None] = mapped_column(Date, comment="实际开工")
    agreed_completion_date: Mapped[dt.date | None] = mapped_column(Date, comment="约定竣工")
    actual_completion_date: Mapped[dt.date | None] = mapped_column(Date, comment="实际竣工")
    agreed_production_date: Mapped[dt.date | None] = mapped_column(Date, comment="约定投产")
    actual_production_date: Mapped[dt.date | None] = mapped_column(Date, comment="实际投产")
    renewal_status: Mapped[str] = mapped_column(String(32), nullable=False, server_default="normal")
    land_code: Mapped[str] = mapped_column(
        String(24),
        nullable=False,
        comment="一码管地 地块码: the valid 宗地代码, else generated in the region; never changes",
    )
    source: Mapped[str | None] = mapped_column(Text)
    load_batch_id: Mapped[int | None] = mapped_column(ForeignKey("load_batch.id"))
    source_attrs: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb"), comment="the source row's own attributes"
    )


class Enterprise(Timestamps, Base):
    """企业, one legal entity keyed by its 统一社会信用代码."""

    __tablename__ = "enterprise"
    __table_args__ = (
        CheckConstraint(_in("scale", ENTERPRISE_SCALES), name="scale"),
        CheckConstraint("uscc IS NULL OR uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'", name="uscc_format"),
        UniqueConstraint("uscc"),
        Index("ix_enterprise_name", "name"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    uscc: Mapped[str | None] = mapped_column(String(18), comment="统一社会信用代码, check character verified")
    name: Mapped[str] = mapped_column(Text, nullable=False, comment="企业名称")
    scale: Mapped[str | None] = mapped_column(String(8), comment="above = 规上, below = 规下")
    industry_code: Mapped[str | None] = mapped_column(String(5), comment="GB/T 4754 国民经济行业代码, e.g. C3311")
    registration_date: Mapped[dt.date | None] = mapped_column(Date, comment="成立日期")
    production_start_date: Mapped[dt.date | None] = mapped_column(Date, comment="投产日期")
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    source: Mapped[str | None] = mapped_column(Text)
    load_batch_id: Mapped[int | None] = mapped_column(ForeignKey("load_batch.id"))
    source_attrs: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))


class Occupancy(Timestamps, Base):
    """Which enterprise uses which parcel, how much of it, own or leased, and when (一地多企, 一企多地)."""

    __tablename__ = "occupancy"
    __table_args__ = (
        CheckConstraint(_in("tenure", TENURES), name="tenure"),
        CheckConstraint("land_area_mu IS NULL OR land_area_mu >= 0", name="area"),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from", name="validity"),
        UniqueConstraint("enterprise_id", "parcel_id", "valid_from", postgresql_nulls_not_distinct=True),
        Index("ix_occupancy_parcel_id", "parcel_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), nullable=False)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id", ondelete="CASCADE"), nullable=False)
    land_area_mu: Mapped[float | None] = mapped_column(Float, comment="用地面积 亩; NULL = the whole parcel")
    tenure: Mapped[str] = mapped_column(String(8), nullable=False, server_default="own")
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(Text)
    load_batch_id: Mapped[int | None] = mapped_column(ForeignKey("load_batch.id"))


class EnterpriseYear(Timestamps, Base):
    """An enterprise's figures for one year, each with the bureau it came from (``sources``)."""

    __tablename__ = "enterprise_year"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "year"),
        CheckConstraint("year BETWEEN 1990 AND 2100", name="year"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), nullable=False)
    year: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    tax_wan: Mapped[float | None] = mapped_column(Float, comment="评价税收 万元")
    value_added_wan: Mapped[float | None] = mapped_column(Float, comment="工业增加值 万元")
    revenue_wan: Mapped[float | None] = mapped_column(Float, comment="主营业务收入 万元")
    output_wan: Mapped[float | None] = mapped_column(Float, comment="工业总产值 万元")
    energy_tce: Mapped[float | None] = mapped_column(Float, comment="综合能耗(等价值) 吨标煤")
    emissions_t: Mapped[float | None] = mapped_column(Float, comment="主要污染物排放量 吨")
    rd_wan: Mapped[float | None] = mapped_column(Float, comment="R&D经费支出 万元")
    employees: Mapped[float | None] = mapped_column(Float, comment="年平均职工人数 人")
    electricity_kwh: Mapped[float | None] = mapped_column(Float, comment="用电量 千瓦时")
    sources: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb"), comment="figure name -> source"
    )
    load_batch_id: Mapped[int | None] = mapped_column(ForeignKey("load_batch.id"))


class ChangeLog(Base):
    """Who changed what, when, with old and new values; written by triggers, never by hand."""

    __tablename__ = "change_log"
    __table_args__ = (
        CheckConstraint("action IN ('insert', 'update', 'delete')", name="action"),
        Index("ix_change_log_table_name_row_id", "table_name", "row_id"),
        Index("ix_change_log_batch_id", "batch_id"),
        Index("ix_change_log_occurred_at", "occurred_at"),
        # revision 0013: the newest change of a data table, for landgis_aggregate_marks()
        Index(
            "ix_change_log_data_id",
            "id",
            postgresql_where=text("table_name NOT IN ('app_user', 'api_token')"),
        ),
        Index(
            "ix_change_log_parcel_status",
            "row_id",
            postgresql_where=text("table_name = 'parcel' AND action = 'update' AND changes ? 'renewal_status'"),
        ),
        Index(
            "ix_change_log_parcel_far",
            "row_id",
            postgresql_where=text("table_name = 'parcel' AND action = 'update' AND changes ? 'far'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    actor: Mapped[str] = mapped_column(Text, nullable=False)
    client_addr: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(BigInteger)
    table_name: Mapped[str] = mapped_column(Text, nullable=False)
    row_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    action: Mapped[str] = mapped_column(String(8), nullable=False)
    changes: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb"), comment='{"field": {"old": .., "new": ..}}'
    )


ROLES = ("viewer", "officer", "planner", "admin")


class AppUser(Timestamps, Base):
    """A person or script that signs in: a role and the regions (行政区划代码) it may see."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint(r"username ~ '^[a-z0-9_.@-]{2,64}$'", name="username_format"),
        CheckConstraint("region_scope IS NULL OR cardinality(region_scope) >= 1", name="region_scope_not_empty"),
        UniqueConstraint("username"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, comment="log-in name, lower case")
    display_name: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16), nullable=False, comment="viewer, officer, planner, admin")
    region_scope: Mapped[list[str] | None] = mapped_column(
        ARRAY(String(12)), comment="行政区划代码 the user may see; NULL = every region"
    )
    password_hash: Mapped[str | None] = mapped_column(Text, comment="argon2id; NULL = no password log-in")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ApiToken(Timestamps, Base):
    """A token for scripts; only its sha256 is stored, and it can be revoked."""

    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("token_hash"), Index("ix_api_token_user_id", "user_id"))

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, comment="sha256 hex of the token")
    prefix: Mapped[str] = mapped_column(String(16), nullable=False, comment="first characters, to recognise a token")
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A browser log-in: the cookie's sha256 and the CSRF token its pages send back."""

    __tablename__ = "web_session"
    __table_args__ = (UniqueConstraint("token_hash"), Index("ix_web_session_user_id", "user_id"))

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, comment="sha256 hex of the cookie value")
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    client_addr: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    last_seen_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AuditEvent(Base):
    """An audited event that is not a row change (log-in, token issued, status change and its reason)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_target_table_target_id", "target_table", "target_id"),
        Index("ix_audit_event_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    actor: Mapped[str] = mapped_column(Text, nullable=False)
    client_addr: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(48), nullable=False, comment="login, login_failed, status_change ...")
    target_table: Mapped[str | None] = mapped_column(Text)
    target_id: Mapped[int | None] = mapped_column(BigInteger)
    region_code: Mapped[str | None] = mapped_column(String(12), comment="region of the target, for scoping")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))


# --------------------------------------------------------------------------- renewal life cycle
# 腾笼换鸟 over the years: renewal events, 一码管地 colours, idle land and 五未, 标准地, projects.

COLOUR_RULE_KINDS = (
    "idle_land",
    "eval_class",
    "renewal_status",
    "contract_deadline",
    "review_due",
    "review_failed",
)
STANDARD_INDICATORS = (
    "investment_intensity",
    "mu_tax",
    "mu_value_added",
    "mu_output",
    "far",
    "energy_per_va",
    "emissions_per_va",
    "rd_ratio",
)
REVIEW_OUTCOMES = ("passed", "failed", "incomplete")
REVIEW_ACTIONS = ("none", "rectify", "penalty", "withdraw_incentives", "recover_land", "other")
DELAY_CAUSES = ("enterprise", "government", "force_majeure")
PROJECT_STATUSES = ("request", "matched", "supplied", "cancelled")


class RenewalEvent(Base):
    """One step of a parcel's renewal (正常 → 认定低效 → … → 已投产), as the workflow allowed it.

    ``counts_governed`` / ``counts_freed`` say whether the event's ``area_mu`` counts as 治理面积 /
    腾出面积; they are fixed from the workflow configuration when the event is written.
    """

    __tablename__ = "renewal_event"
    __table_args__ = (
        CheckConstraint("area_mu >= 0", name="area"),
        CheckConstraint("from_status ~ '^[a-z_]{1,32}$' AND to_status ~ '^[a-z_]{1,32}$'", name="status_format"),
        Index("ix_renewal_event_parcel_id_event_date", "parcel_id", "event_date"),
        Index("ix_renewal_event_event_date", "event_date"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id"), nullable=False)
    from_status: Mapped[str] = mapped_column(String(32), nullable=False)
    to_status: Mapped[str] = mapped_column(String(32), nullable=False)
    event_date: Mapped[dt.date] = mapped_column(Date, nullable=False, comment="date the step took effect")
    renewal_mode: Mapped[str | None] = mapped_column(String(32), comment="收储, 协议收回, 兼并重组 … (code)")
    area_mu: Mapped[float] = mapped_column(Float, nullable=False, comment="area concerned, 亩 (part of a parcel)")
    counts_governed: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    counts_freed: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    documents: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]"), comment="document references (文号)"
    )
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb"), comment="e.g. FAR before/after 提容增效"
    )
    recorded_by: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    request_id: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(Text)
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class ColourRule(Base):
    """一码管地 colour rule: a whitelisted ``kind`` with parameters, the colour it gives and its label."""

    __tablename__ = "colour_rule"
    __table_args__ = (
        CheckConstraint(_in("kind", COLOUR_RULE_KINDS), name="kind"),
        CheckConstraint("colour IN ('red', 'yellow')", name="colour"),
        CheckConstraint("code ~ '^[a-z][a-z0-9_]{0,31}$'", name="code_format"),
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    colour: Mapped[str] = mapped_column(String(8), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    label: Mapped[str] = mapped_column(Text, nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    sort_order: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default=text("0"))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class ParcelColour(Base):
    """The colour of every parcel with its reasons, kept by ``landgis_refresh_parcel_colour()``."""

    __tablename__ = "parcel_colour"
    __table_args__ = (
        CheckConstraint("colour IN ('green', 'yellow', 'red')", name="colour"),
        Index("ix_parcel_colour_colour", "colour"),
    )

    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id", ondelete="CASCADE"), primary_key=True)
    colour: Mapped[str] = mapped_column(String(8), nullable=False)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb"), comment='[{"rule","colour","label","reason"}]'
    )
    as_of: Mapped[dt.date] = mapped_column(Date, nullable=False, comment="date the date rules were evaluated for")
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Project(Timestamps, Base):
    """A project looking for land (or placed on land): the request that matching answers."""

    __tablename__ = "project"
    __table_args__ = (
        CheckConstraint(_in("status", PROJECT_STATUSES), name="status"),
        CheckConstraint("uscc IS NULL OR uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'", name="uscc_format"),
        CheckConstraint(
            "area_min_mu IS NULL OR area_max_mu IS NULL OR (area_min_mu > 0 AND area_max_mu >= area_min_mu)",
            name="area_range",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id", ondelete="SET NULL"))
    uscc: Mapped[str | None] = mapped_column(String(18), comment="统一社会信用代码 of the investor")
    industry_code: Mapped[str | None] = mapped_column(String(5), comment="GB/T 4754, e.g. C3311")
    area_min_mu: Mapped[float | None] = mapped_column(Float, comment="亩")
    area_max_mu: Mapped[float | None] = mapped_column(Float, comment="亩")
    far_min: Mapped[float | None] = mapped_column(Float, comment="容积率 the project needs")
    investment_intensity: Mapped[float | None] = mapped_column(Float, comment="固定资产投资强度 万元/亩")
    preferred_zone_ids: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), nullable=False, server_default=text("'{}'::integer[]")
    )
    contiguous: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="request")
    note: Mapped[str | None] = mapped_column(Text)


class ProjectParcel(Base):
    """一码管地: which parcels a project is placed on."""

    __tablename__ = "project_parcel"
    __table_args__ = (Index("ix_project_parcel_parcel_id", "parcel_id"),)

    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id", ondelete="CASCADE"), primary_key=True)
    linked_on: Mapped[dt.date | None] = mapped_column(Date)
    linked_by: Mapped[str | None] = mapped_column(Text)


class LandApprovalBatch(Timestamps, Base):
    """用地批次: land approved for construction (农转用/征收) in one batch, for 批而未供."""

    __tablename__ = "land_approval_batch"
    __table_args__ = (
        CheckConstraint("approved_area_mu > 0", name="area"),
        Index("ix_land_approval_batch_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    batch_no: Mapped[str] = mapped_column(String(64), unique=True, nullable=False, comment="批次编号")
    approval_no: Mapped[str | None] = mapped_column(Text, comment="批准文号")
    authority: Mapped[str | None] = mapped_column(Text, comment="批准机关")
    approved_on: Mapped[dt.date] = mapped_column(Date, nullable=False, comment="批准日期")
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    approved_area_mu: Mapped[float] = mapped_column(Float, nullable=False, comment="批准建设用地面积 亩")
    geom: Mapped[Any] = mapped_column(_multipolygon(), nullable=True)
    note: Mapped[str | None] = mapped_column(Text)


class LandApprovalSupply(Base):
    """Which parcels were supplied out of an approval batch, and how much of it."""

    __tablename__ = "land_approval_supply"
    __table_args__ = (
        CheckConstraint("supplied_area_mu > 0", name="area"),
        UniqueConstraint("batch_id", "parcel_id"),
        Index("ix_land_approval_supply_parcel_id", "parcel_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("land_approval_batch.id", ondelete="CASCADE"), nullable=False)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id", ondelete="CASCADE"), nullable=False)
    supplied_area_mu: Mapped[float] = mapped_column(Float, nullable=False, comment="亩")
    supplied_on: Mapped[dt.date | None] = mapped_column(Date)


class LandProgress(Base):
    """A 开发利用 progress report of a supplied parcel (动态巡查): developed area, investment, halts.

    The 53号令 second idle case (started, developed < 1/3 or invested < 25 %, halted 1 year)
    reads the latest report.
    """

    __tablename__ = "land_progress"
    __table_args__ = (
        CheckConstraint(_in("delay_cause", DELAY_CAUSES), name="delay_cause"),
        UniqueConstraint("parcel_id", "report_date"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id", ondelete="CASCADE"), nullable=False)
    report_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    developed_area_m2: Mapped[float | None] = mapped_column(Float, comment="已动工开发建设用地面积 m²")
    planned_area_m2: Mapped[float | None] = mapped_column(
        Float, comment="应动工开发建设用地总面积 m² (NULL: the parcel)"
    )
    invested_wan: Mapped[float | None] = mapped_column(Float, comment="已投资额 万元")
    total_investment_wan: Mapped[float | None] = mapped_column(Float, comment="总投资额 万元")
    halted_since: Mapped[dt.date | None] = mapped_column(Date, comment="中止开发建设 since")
    delay_cause: Mapped[str | None] = mapped_column(String(16), comment="enterprise, government, force_majeure")
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class StandardAgreement(Timestamps, Base):
    """标准地 agreement of a parcel: the enterprise, the 达产复核 period and (in
    ``standard_commitment``) the committed indicators."""

    __tablename__ = "standard_agreement"
    __table_args__ = (CheckConstraint("initial_period_months BETWEEN 0 AND 240", name="initial_period"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id", ondelete="CASCADE"), unique=True, nullable=False)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id", ondelete="SET NULL"))
    agreement_no: Mapped[str | None] = mapped_column(Text, comment="协议编号")
    signed_on: Mapped[dt.date | None] = mapped_column(Date)
    land_area_mu: Mapped[float | None] = mapped_column(Float, comment="亩 the commitments are per; NULL: the parcel")
    initial_period_months: Mapped[int] = mapped_column(
        SmallInteger, nullable=False, server_default=text("36"), comment="达产期: 投产 → 达产复核, months"
    )
    review_due_date: Mapped[dt.date | None] = mapped_column(Date, comment="达产复核 date when agreed explicitly")
    note: Mapped[str | None] = mapped_column(Text)


class StandardCommitment(Base):
    """One committed indicator of a 标准地 agreement (亩均税收 >= 30 万元/亩 …)."""

    __tablename__ = "standard_commitment"
    __table_args__ = (
        CheckConstraint(_in("indicator", STANDARD_INDICATORS), name="indicator"),
        CheckConstraint("comparator IN ('>=', '<=')", name="comparator"),
        CheckConstraint("value >= 0", name="value"),
        UniqueConstraint("agreement_id", "indicator"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("standard_agreement.id", ondelete="CASCADE"), nullable=False)
    indicator: Mapped[str] = mapped_column(String(32), nullable=False)
    comparator: Mapped[str] = mapped_column(String(2), nullable=False)
    value: Mapped[float] = mapped_column(Float, nullable=False, comment="in the indicator's unit")


class StandardReview(Base):
    """A recorded 达产复核: the figures compared, the outcome and the action decided."""

    __tablename__ = "standard_review"
    __table_args__ = (
        CheckConstraint(_in("outcome", REVIEW_OUTCOMES), name="outcome"),
        CheckConstraint(_in("action", REVIEW_ACTIONS), name="action"),
        Index("ix_standard_review_agreement_id", "agreement_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("standard_agreement.id", ondelete="CASCADE"), nullable=False)
    figures_year: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    reviewed_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False, server_default="none")
    action_note: Mapped[str | None] = mapped_column(Text)
    penalty_wan: Mapped[float | None] = mapped_column(Float, comment="违约金 万元")
    results: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb"), comment="per indicator: committed, actual, shortfall"
    )
    reviewer: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


# --------------------------------------------------------------------------- 亩均评价, candidates, totals

EVALUATION_STATUSES = ("rated", "exempt", "vetoed", "merged")


class EvaluationRun(Base):
    """One 亩均效益综合评价 run: a policy applied to one year's figures, with what it was run on."""

    __tablename__ = "evaluation_run"
    __table_args__ = (
        CheckConstraint("year BETWEEN 1990 AND 2100", name="year"),
        Index("ix_evaluation_run_year_region_code", "year", "region_code"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(64), nullable=False)
    policy_name: Mapped[str] = mapped_column(Text, nullable=False)
    policy_version: Mapped[str] = mapped_column(String(32), nullable=False)
    policy_sha256: Mapped[str] = mapped_column(
        String(64), nullable=False, comment="sha256 of the canonical policy JSON"
    )
    policy: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, comment="the validated policy as run")
    year: Mapped[int] = mapped_column(SmallInteger, nullable=False, comment="year of the figures evaluated")
    region_code: Mapped[str | None] = mapped_column(
        ForeignKey("region.code"), comment="area evaluated; NULL = all in scope"
    )
    scope: Mapped[str | None] = mapped_column(Text, comment="the caller's region scope at run time")
    inputs_sha256: Mapped[str] = mapped_column(String(64), nullable=False, comment="sha256 of every input figure")
    enterprise_count: Mapped[int] = mapped_column(Integer, nullable=False)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    elapsed_ms: Mapped[int | None] = mapped_column(Integer)


class EvaluationResult(Base):
    """One enterprise's result in a run: indicator values, benchmarks and scores, rank and class."""

    __tablename__ = "evaluation_result"
    __table_args__ = (
        CheckConstraint(_in("status", EVALUATION_STATUSES), name="status"),
        Index("ix_evaluation_result_enterprise_id", "enterprise_id"),
    )

    #: no foreign keys (see the migration): a run's results are deleted with it by a trigger and
    #: outlive a deleted firm (a run is a historical record)
    run_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    segment: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(
        String(16), nullable=False, comment="rated, exempt 不定等级, vetoed 一票否决, merged"
    )
    land_area_mu: Mapped[float | None] = mapped_column(Float, comment="用地面积 亩 (一企多地 summed)")
    parcel_ids: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))
    parcel_mu: Mapped[list[float] | None] = mapped_column(ARRAY(Float), comment="亩 used on each parcel")
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    indicator_values: Mapped[list[float] | None] = mapped_column(
        ARRAY(Float), comment="in the order of the segment's indicators in the run's policy"
    )
    indicator_scores: Mapped[list[float] | None] = mapped_column(ARRAY(Float))
    indicator_notes: Mapped[list[str] | None] = mapped_column(
        ARRAY(Text), comment="capped, missing_zero, missing_segment_mean, missing_penalty, no_benchmark"
    )
    base_score: Mapped[float | None] = mapped_column(Float)
    adjustment: Mapped[float | None] = mapped_column(Float, comment="加分/减分")
    score: Mapped[float | None] = mapped_column(Float)
    rank: Mapped[int | None] = mapped_column(Integer, comment="rank within the segment, 1 = best")
    rank_of: Mapped[int | None] = mapped_column(Integer, comment="firms ranked in the segment")
    class_: Mapped[str | None] = mapped_column("class", String(8), comment="A/B/C/D; NULL = 不定等级")
    notes: Mapped[list[str] | None] = mapped_column(ARRAY(Text))


class EvaluationParcel(Base):
    """Parcel-level 亩均 of a run: all firms on the parcel summed, and the main user's class."""

    __tablename__ = "evaluation_parcel"
    __table_args__ = (Index("ix_evaluation_parcel_parcel_id", "parcel_id"),)

    #: no foreign keys, as for ``evaluation_result``
    run_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    area_mu: Mapped[float] = mapped_column(Float, nullable=False, comment="parcel area at run time, 亩")
    enterprise_count: Mapped[int] = mapped_column(Integer, nullable=False)
    tax_wan: Mapped[float | None] = mapped_column(Float, comment="all firms on the parcel, 万元")
    value_added_wan: Mapped[float | None] = mapped_column(Float, comment="万元")
    mu_tax: Mapped[float | None] = mapped_column(Float, comment="亩均税收 万元/亩")
    mu_value_added: Mapped[float | None] = mapped_column(Float, comment="亩均增加值 万元/亩")
    main_enterprise_id: Mapped[int | None] = mapped_column(BigInteger, comment="the firm using most of it")
    class_: Mapped[str | None] = mapped_column("class", String(8), comment="the main user's class")


class EnterpriseFlag(Base):
    """A fact about a firm that a policy can use: incidents (减分, 一票否决), 高新技术企业 (加分),
    公用事业 (不定等级) ... ``year`` NULL means every year."""

    __tablename__ = "enterprise_flag"
    __table_args__ = (UniqueConstraint("enterprise_id", "year", "flag", postgresql_nulls_not_distinct=True),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), nullable=False)
    year: Mapped[int | None] = mapped_column(SmallInteger, comment="NULL = every year")
    flag: Mapped[str] = mapped_column(String(32), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class ParcelYearStat(Base):
    """Per parcel and year: the figures of the firms on it (allocated by land share) and its main
    user. An aggregate, rebuilt when the figures or occupancy change (``landgis.aggregates``)."""

    __tablename__ = "parcel_year_stat"

    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id", ondelete="CASCADE"), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False, comment="the parcel's, when built")
    area_mu: Mapped[float] = mapped_column(Float, nullable=False, comment="the parcel's area when built, 亩")
    enterprise_count: Mapped[int] = mapped_column(Integer, nullable=False)
    tax_wan: Mapped[float | None] = mapped_column(Float, comment="firms' tax allocated by land share, 万元")
    value_added_wan: Mapped[float | None] = mapped_column(Float)
    tax_above_wan: Mapped[float | None] = mapped_column(Float, comment="规上 firms only")
    value_added_above_wan: Mapped[float | None] = mapped_column(Float)
    land_above_mu: Mapped[float | None] = mapped_column(Float, comment="亩 used by 规上 firms")
    main_enterprise_id: Mapped[int | None] = mapped_column(BigInteger)
    main_scale: Mapped[str | None] = mapped_column(String(8))
    main_industry: Mapped[str | None] = mapped_column(String(5))
    main_production_start: Mapped[dt.date | None] = mapped_column(Date)
    main_registration: Mapped[dt.date | None] = mapped_column(Date)
    has_above: Mapped[bool] = mapped_column(Boolean, nullable=False)
    flags: Mapped[list[str] | None] = mapped_column(ARRAY(Text), comment="flags of the firms on it")


class AggregateRefresh(Base):
    """When each aggregate was last rebuilt for a year, and the newest change and run it saw."""

    __tablename__ = "aggregate_refresh"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    change_id: Mapped[int] = mapped_column(BigInteger, nullable=False, comment="newest change_log id seen")
    run_id: Mapped[int] = mapped_column(BigInteger, nullable=False, comment="newest evaluation_run id seen")
    refreshed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    elapsed_ms: Mapped[int | None] = mapped_column(Integer)


class TotalsCell(Base):
    """Zone totals, pre-summed per year, zone, region, industrial or not, renewal status and class,
    so that the totals page sums a few thousand rows under the caller's region scope."""

    __tablename__ = "totals_cell"
    __table_args__ = (Index("ix_totals_cell_year", "year"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id", ondelete="CASCADE"))
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    industrial: Mapped[bool] = mapped_column(Boolean, nullable=False)
    renewal_status: Mapped[str] = mapped_column(String(32), nullable=False)
    class_: Mapped[str | None] = mapped_column("class", String(8))
    parcels: Mapped[int] = mapped_column(Integer, nullable=False)
    area_mu: Mapped[float] = mapped_column(Float, nullable=False)
    occupied_mu: Mapped[float] = mapped_column(Float, nullable=False, comment="亩 of parcels with firms")
    tax_wan: Mapped[float] = mapped_column(Float, nullable=False)
    value_added_wan: Mapped[float] = mapped_column(Float, nullable=False)
    tax_above_wan: Mapped[float] = mapped_column(Float, nullable=False)
    value_added_above_wan: Mapped[float] = mapped_column(Float, nullable=False)
    land_above_mu: Mapped[float] = mapped_column(Float, nullable=False)
    far_area_mu: Mapped[float] = mapped_column(Float, nullable=False, comment="亩 of parcels whose FAR is known")
    far_x_mu: Mapped[float] = mapped_column(Float, nullable=False, comment="sum of FAR x 亩 now")
    far_start_x_mu: Mapped[float] = mapped_column(Float, nullable=False, comment="sum of FAR x 亩 on 1 January")


class Plan(Base):
    """A saved candidate result: a named renewal plan (scenario)."""

    __tablename__ = "plan"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"), comment="the plan's area for scoping")
    request: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, comment="the candidate request it came from")
    totals: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class PlanParcel(Base):
    """A parcel in a plan, with its block and reasons and its figures when the plan was saved."""

    __tablename__ = "plan_parcel"
    __table_args__ = (Index("ix_plan_parcel_parcel_id", "parcel_id"),)

    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id", ondelete="CASCADE"), primary_key=True)
    block_no: Mapped[int | None] = mapped_column(Integer)
    reasons: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    area_mu: Mapped[float] = mapped_column(Float, nullable=False)
    tax_wan: Mapped[float | None] = mapped_column(Float)
    value_added_wan: Mapped[float | None] = mapped_column(Float)
    mu_tax: Mapped[float | None] = mapped_column(Float)
    far: Mapped[float | None] = mapped_column(Float)


class MapDataVersion(Base):
    """One row: the version of the data the maps show, bumped by a trigger on every write to a
    table a layer reads; part of every tile-cache key."""

    __tablename__ = "map_data_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default=text("1"))
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("1"))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class AccessVersion(Base):
    """One row: bumped whenever a user, token or session changes in a way that can end or narrow
    access (migration 0009_access_version); the tile cache's front door serves a caller it
    authenticated earlier only while this is unchanged."""

    __tablename__ = "access_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default=text("1"))
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("1"))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
