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
