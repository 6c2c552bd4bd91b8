"""The feature collections, declared once: what each exposes, from which table, with which keys.

A collection is a source (a table, or a table joined to what locates it), a key that orders the
pages, a geometry in EPSG:4490 and a whitelist of properties. Property names in requests
(``properties``, ``filter``, queryables) are looked up here and nowhere else, so no request text
ever becomes an identifier. Adding a collection is one more ``Collection(...)`` in ``REGISTRY``::

    Collection(
        id="plans", title="更新计划 Renewal plans", description="...",
        source=Plan.__table__, key=Plan.id, geometry=Plan.geom, geometry_type="MultiPolygon",
        properties=props(Plan, ("name", "string", "名称"), ("year", "integer", "年度")),
    )

Row-level security scopes every source that reveals parcels or enterprises; a new source over
such data needs a policy in its migration (see docs/development.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, func, or_, select, true

from landgis.db.models import Enterprise, Occupancy, Parcel, Region, Zone

#: Property types, as JSON Schema / queryables name them.
TYPES = ("string", "number", "integer", "boolean", "date", "date-time")


@dataclass(frozen=True)
class Property:
    name: str
    column: Any  # a column (ColumnElement or mapped attribute)
    type: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class Collection:
    """One OGC API feature collection."""

    id: str
    title: str
    description: str
    source: FromClause
    key: Any  # a column (ColumnElement or mapped attribute)
    geometry: Any
    geometry_type: str
    properties: tuple[Property, ...]
    #: Always applied (e.g. "enterprises that have a location").
    condition: ColumnElement[bool] | None = None
    #: The property ``datetime`` filters on; None: the collection has no time and ignores it.
    datetime_property: str | None = None
    #: Builds the index-friendly part of a spatial filter from a 4490 geometry; by default
    #: ``geometry && g``. Derived geometries (enterprise locations) filter their parcels instead.
    prefilter: Callable[[ColumnElement[Any]], ColumnElement[bool]] | None = None
    keywords: tuple[str, ...] = field(default_factory=tuple)

    @property
    def key_is_integer(self) -> bool:
        return self.key.type.python_type is int

    def find(self, name: str) -> Property | None:
        """The property called ``name``, or None when the collection has none by that name."""
        return next((p for p in self.properties if p.name == name), None)

    def index_filter(self, shape: ColumnElement[Any]) -> ColumnElement[bool]:
        if self.prefilter is not None:
            return self.prefilter(shape)
        test: ColumnElement[bool] = self.geometry.op("&&")(shape)
        return test


def props(model: Any, *specs: tuple[str, str, str]) -> tuple[Property, ...]:
    """Properties that are plain columns of ``model``: (column name, type, title)."""
    return tuple(Property(name, getattr(model, name), kind, title) for name, kind, title in specs)


PARCELS = Collection(
    id="parcels",
    title="宗地 Parcels",
    description="工业用地宗地: 宗地代码, 权利人, 坐落, 面积 (亩), 容积率, 供地合同与更新状态。",
    source=Parcel.__table__,
    key=Parcel.id,
    geometry=Parcel.geom,
    geometry_type="MultiPolygon",
    properties=props(
        Parcel,
        ("zddm", "string", "宗地代码"),
        ("zddm_raw", "string", "宗地代码(原值)"),
        ("bdcdyh", "string", "不动产单元号"),
        ("region_code", "string", "行政区划代码"),
        ("zone_id", "integer", "园区"),
        ("location", "string", "坐落"),
        ("right_holder", "string", "权利人"),
        ("area_m2", "number", "面积 (平方米)"),
        ("area_mu", "number", "面积 (亩)"),
        ("declared_area_m2", "number", "宗地面积(申报, 平方米)"),
        ("land_use_code", "string", "用地代码"),
        ("land_use_system", "string", "用地分类体系"),
        ("far", "number", "容积率"),
        ("building_coverage", "number", "建筑密度"),
        ("floor_area_m2", "number", "建筑面积 (平方米)"),
        ("building_safety_grade", "string", "房屋安全等级"),
        ("contract_no", "string", "电子监管号/合同编号"),
        ("contract_date", "date", "合同签订日期"),
        ("supply_method", "string", "供地方式"),
        ("is_standard_land", "boolean", "标准地"),
        ("land_price_wan", "number", "土地价款 (万元)"),
        ("far_min", "number", "约定容积率下限"),
        ("far_max", "number", "约定容积率上限"),
        ("coverage_min", "number", "约定建筑密度下限"),
        ("coverage_max", "number", "约定建筑密度上限"),
        ("agreed_start_date", "date", "约定开工"),
        ("actual_start_date", "date", "实际开工"),
        ("agreed_completion_date", "date", "约定竣工"),
        ("actual_completion_date", "date", "实际竣工"),
        ("agreed_production_date", "date", "约定投产"),
        ("actual_production_date", "date", "实际投产"),
        ("renewal_status", "string", "更新状态"),
        ("updated_at", "date-time", "更新时间"),
    ),
    datetime_property="contract_date",
    keywords=("宗地", "工业用地", "parcels"),
)

ZONES = Collection(
    id="zones",
    title="园区 Zones",
    description="开发区、工业园区、小微企业园与整治片区, 面积 (亩)。",
    source=Zone.__table__,
    key=Zone.id,
    geometry=Zone.boundary,
    geometry_type="MultiPolygon",
    properties=props(
        Zone,
        ("code", "string", "园区代码"),
        ("name", "string", "名称"),
        ("zone_type", "string", "类型"),
        ("region_code", "string", "行政区划代码"),
        ("area_m2", "number", "面积 (平方米)"),
        ("area_mu", "number", "面积 (亩)"),
    ),
    keywords=("园区", "zones"),
)

REGIONS = Collection(
    id="regions",
    title="行政区划 Regions",
    description="省、市、县、乡镇 (行政区划代码)。上级区划可能没有边界。",
    source=Region.__table__,
    key=Region.code,
    geometry=Region.boundary,
    geometry_type="MultiPolygon",
    properties=props(
        Region,
        ("name", "string", "名称"),
        ("level", "integer", "级别 (1 省 2 市 3 县 4 乡镇 5 村)"),
        ("parent_code", "string", "上级区划"),
    ),
    keywords=("行政区划", "regions"),
)


def _current_occupancy() -> ColumnElement[bool]:
    return or_(Occupancy.valid_to.is_(None), Occupancy.valid_to >= func.current_date())


# Where an enterprise is: a point on the land it currently uses (one parcel or several).
_location = (
    select(func.ST_PointOnSurface(func.ST_Collect(Parcel.geom)).label("geom"))
    .select_from(Occupancy)
    .join(Parcel, Parcel.id == Occupancy.parcel_id)
    .where(Occupancy.enterprise_id == Enterprise.id, _current_occupancy())
    .lateral("location")
)


def _enterprise_prefilter(shape: ColumnElement[Any]) -> ColumnElement[bool]:
    near = (
        select(Occupancy.enterprise_id)
        .join(Parcel, Parcel.id == Occupancy.parcel_id)
        .where(Parcel.geom.op("&&")(shape), _current_occupancy())
    )
    return and_(Enterprise.id.in_(near), _location.c.geom.op("&&")(shape))


ENTERPRISES = Collection(
    id="enterprises",
    title="企业 Enterprises (with location)",
    description="在用工业用地的企业, 位置取其当前用地上的一点。",
    source=Enterprise.__table__.join(_location, true()),
    key=Enterprise.id,
    geometry=_location.c.geom,
    geometry_type="Point",
    properties=props(
        Enterprise,
        ("uscc", "string", "统一社会信用代码"),
        ("name", "string", "企业名称"),
        ("scale", "string", "规模 (above 规上, below 规下)"),
        ("industry_code", "string", "国民经济行业代码"),
        ("registration_date", "date", "成立日期"),
        ("production_start_date", "date", "投产日期"),
        ("region_code", "string", "行政区划代码"),
    ),
    condition=_location.c.geom.is_not(None),
    datetime_property="registration_date",
    prefilter=_enterprise_prefilter,
    keywords=("企业", "enterprises"),
)

REGISTRY: dict[str, Collection] = {c.id: c for c in (PARCELS, ZONES, REGIONS, ENTERPRISES)}


def register(collection: Collection) -> None:
    """Add a collection (other modules declare theirs and register them at import)."""
    REGISTRY[collection.id] = collection
