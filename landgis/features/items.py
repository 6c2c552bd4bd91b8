"""Items of a collection: one page of GeoJSON features, built by the database.

Pages are keyset pages: ``after``/``before`` carry the last/first key of the neighbouring page,
so page 1,000 costs what page 1 costs (an index range scan, never a large OFFSET). Each feature
is rendered to GeoJSON text by PostgreSQL (``ST_AsGeoJSON`` and ``json_build_object``) and
passed through untouched, so Python never parses or re-serialises coordinates.

``numberMatched`` is exact up to ``EXACT_COUNT_LIMIT`` matches and the planner's estimate above.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from landgis.errors import InvalidInput, NotFound
from landgis.features import crs as crsmod
from landgis.features import filters
from landgis.features.collections import Collection, Property
from landgis.geoinput import parse_bbox

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
EXACT_COUNT_LIMIT = 10_000
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
#: json_build_object takes at most 100 arguments: properties go in groups of this many pairs.
_PAIRS_PER_OBJECT = 45


@dataclass
class ItemsQuery:
    limit: int = DEFAULT_LIMIT
    bbox: str | None = None
    bbox_crs: crsmod.Crs = crsmod.DEFAULT
    crs: crsmod.Crs = crsmod.DEFAULT
    datetime: str | None = None
    properties: list[str] | None = None
    filter: str | None = None
    filter_lang: str | None = None
    filter_crs: crsmod.Crs = crsmod.DEFAULT
    after: str | None = None
    before: str | None = None


@dataclass
class Page:
    """One page: features as GeoJSON texts, and what the links need."""

    features: list[str]
    first_key: Any = None
    last_key: Any = None
    has_next: bool = False
    has_prev: bool = False
    number_matched: int | None = None
    matched_is_estimate: bool = False
    keys: list[Any] = field(default_factory=list)


def _selected(collection: Collection, names: list[str] | None) -> list[Property]:
    if names is None:
        return list(collection.properties)
    chosen = []
    for name in names:
        found = collection.find(name.strip())
        if found is None:
            raise InvalidInput(
                f"properties: 未知属性 {name[:60]!r} (unknown property; see /queryables)",
                details={"parameter": "properties"},
            )
        chosen.append(found)
    return list(dict.fromkeys(chosen))


def _properties_json(chosen: list[Property]) -> ColumnElement[Any]:
    if not chosen:
        return literal_column("'{}'")
    groups = []
    for start in range(0, len(chosen), _PAIRS_PER_OBJECT):
        args: list[Any] = []
        for prop in chosen[start : start + _PAIRS_PER_OBJECT]:
            if not _NAME.match(prop.name):  # names are ours; the check keeps them safe to quote
                raise ValueError(f"property name {prop.name!r} is not a plain identifier")
            args += [literal_column(f"'{prop.name}'"), prop.column]
        groups.append(func.json_build_object(*args))
    if len(groups) == 1:
        return groups[0].cast(String())
    merged: ColumnElement[Any] = groups[0].cast(JSONB())
    for group in groups[1:]:
        merged = merged.op("||")(group.cast(JSONB()))
    return merged.cast(String())


def _output_geometry(collection: Collection, out: crsmod.Crs) -> ColumnElement[Any]:
    geom = collection.geometry
    if out.srid != crsmod.STORAGE_SRID:
        geom = func.ST_Transform(geom, out.srid)
    if out.north_first:
        geom = func.ST_FlipCoordinates(geom)
    return func.ST_AsGeoJSON(geom, out.precision, 0)  # options 0: no "crs" member (RFC 7946)


def feature_text(collection: Collection, out: crsmod.Crs, chosen: list[Property]) -> ColumnElement[str]:
    """The SQL expression rendering one feature as GeoJSON text."""
    return func.concat(
        literal_column('\'{"type":"Feature","id":\''),
        func.to_json(collection.key).cast(String()),
        literal_column("',\"geometry\":'"),
        func.coalesce(_output_geometry(collection, out), literal_column("'null'")),
        literal_column("',\"properties\":'"),
        _properties_json(chosen),
        literal_column("'}'"),
    )


def _key_value(collection: Collection, raw: str, parameter: str) -> Any:
    if collection.key_is_integer:
        try:
            return int(raw)
        except ValueError:
            raise InvalidInput(
                f"{parameter}: 需要整数 (expected an integer)", details={"parameter": parameter}
            ) from None
    if len(raw) > 64:
        raise InvalidInput(f"{parameter}: 过长 (too long)", details={"parameter": parameter})
    return raw


def bbox_condition(collection: Collection, raw: str, bbox_crs: crsmod.Crs) -> ColumnElement[bool]:
    """Features whose geometry intersects the box (given in ``bbox_crs`` and its axis order)."""
    values = parse_bbox(raw, geographic=False)
    if bbox_crs.north_first:
        values = (values[1], values[0], values[3], values[2])
    if bbox_crs.geographic:
        values = parse_bbox(values, geographic=True)
    elif values[0] > values[2]:
        raise InvalidInput("bbox: 左边界大于右边界 (lower bound above upper bound)")
    if bbox_crs.geographic and values[0] > values[2]:
        raise InvalidInput("bbox: 不支持跨越 180° 经线的范围 (boxes across the antimeridian are not supported)")
    box = func.ST_MakeEnvelope(*(bindparam(None, v) for v in values), bbox_crs.srid)
    if bbox_crs.srid != crsmod.STORAGE_SRID:
        box = func.ST_Transform(func.ST_Segmentize(box, (values[2] - values[0]) / 16 or 1.0), crsmod.STORAGE_SRID)
    return and_(collection.index_filter(box), func.ST_Intersects(collection.geometry, box))


def parse_datetime(value: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """An instant or an interval (``a/b``, ``../b``, ``a/..``) in RFC 3339; dates allowed."""

    def one(part: str) -> dt.datetime | None:
        part = part.strip()
        if part in ("..", ""):
            return None
        try:
            if len(part) == 10:
                return dt.datetime.combine(dt.date.fromisoformat(part), dt.time(), tzinfo=dt.UTC)
            stamp = dt.datetime.fromisoformat(part.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                f"datetime: 格式错误 {part[:40]!r}, 应为 RFC 3339 日期或区间 (expected a date, time or interval)",
                details={"parameter": "datetime"},
            ) from None
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)

    if "/" in value:
        start_text, _, end_text = value.partition("/")
        start, end = one(start_text), one(end_text)
        if start is None and end is None:
            raise InvalidInput("datetime: 区间两端不能都开放 (an interval needs at least one end)")
        if start and end and start > end:
            raise InvalidInput("datetime: 开始晚于结束 (interval starts after it ends)")
        return start, end
    instant = one(value)
    if instant is None:
        raise InvalidInput("datetime: 需要日期或区间 (expected a date or an interval)")
    return instant, instant


def datetime_condition(collection: Collection, value: str) -> ColumnElement[bool] | None:
    """The ``datetime`` filter on the collection's temporal property (None: it has none)."""
    if collection.datetime_property is None:
        return None
    prop = collection.find(collection.datetime_property)
    assert prop is not None
    start, end = parse_datetime(value)
    column = prop.column
    parts = []
    if prop.type == "date":
        if start is not None:
            parts.append(column >= bindparam(None, start.date(), type_=Date()))
        if end is not None:
            parts.append(column <= bindparam(None, end.date(), type_=Date()))
    else:
        if start is not None:
            parts.append(column >= bindparam(None, start, type_=DateTime(timezone=True)))
        if end is not None:
            parts.append(column <= bindparam(None, end, type_=DateTime(timezone=True)))
    return and_(*parts)


def conditions(collection: Collection, query: ItemsQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if collection.condition is not None:
        where.append(collection.condition)
    if query.bbox:
        where.append(bbox_condition(collection, query.bbox, query.bbox_crs))
    if query.datetime:
        when = datetime_condition(collection, query.datetime)
        if when is not None:
            where.append(when)
    if query.filter:
        where.append(filters.to_sql(query.filter, query.filter_lang, collection, query.filter_crs))
    return where


def _matched(conn: Connection, collection: Collection, where: list[ColumnElement[bool]]) -> tuple[int, bool]:
    """Exact count up to EXACT_COUNT_LIMIT, else the planner's estimate (never below the limit)."""
    capped = select(literal(1)).select_from(collection.source).where(*where).limit(EXACT_COUNT_LIMIT + 1)
    count = int(conn.execute(select(func.count()).select_from(capped.subquery())).scalar_one())
    if count <= EXACT_COUNT_LIMIT:
        return count, False
    return max(estimate(conn, select(literal(1)).select_from(collection.source).where(*where)), count), True


def estimate(conn: Connection, statement: Select[Any]) -> int:
    """The planner's row estimate for ``statement`` (EXPLAIN, nothing is run)."""
    compiled = statement.compile(dialect=conn.dialect)
    # The statement's SQL is ours; its values stay bound parameters of the EXPLAIN.
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar_one()
    return int(plan[0]["Plan"]["Plan Rows"])


def items(conn: Connection, collection: Collection, query: ItemsQuery, *, count: bool = True) -> Page:
    """One page of ``collection`` under ``query``, in the caller's scope."""
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidInput(f"limit: 须在 1-{MAX_LIMIT} 之间 (limit out of range)", details={"parameter": "limit"})
    if query.after is not None and query.before is not None:
        raise InvalidInput("after 和 before 不能同时使用 (use either after or before)")
    chosen = _selected(collection, query.properties)
    where = conditions(collection, query)
    key = collection.key
    statement = select(key.label("k"), feature_text(collection, query.crs, chosen).label("f")).select_from(
        collection.source
    )
    backwards = query.before is not None
    if query.after is not None:
        statement = statement.where(key > bindparam("after", _key_value(collection, query.after, "after")))
    if backwards:
        assert query.before is not None
        statement = statement.where(key < bindparam("before", _key_value(collection, query.before, "before")))
    statement = statement.where(*where).order_by(key.desc() if backwards else key).limit(query.limit + 1)
    rows = list(conn.execute(statement).all())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    if backwards:
        rows.reverse()
    page = Page(features=[r.f for r in rows], keys=[r.k for r in rows])
    if rows:
        page.first_key, page.last_key = rows[0].k, rows[-1].k
    if backwards:
        page.has_prev, page.has_next = more, True
    else:
        page.has_next, page.has_prev = more, query.after is not None
    if count:
        page.number_matched, page.matched_is_estimate = _matched(conn, collection, where)
    return page


def item(conn: Connection, collection: Collection, feature_id: str, out: crsmod.Crs) -> str:
    """One feature as GeoJSON text; NotFound when absent or outside the caller's scope."""
    key = _key_value(collection, feature_id, "featureId") if collection.key_is_integer else feature_id[:64]
    statement = select(feature_text(collection, out, list(collection.properties))).select_from(collection.source)
    if collection.condition is not None:
        statement = statement.where(collection.condition)
    found = conn.execute(statement.where(collection.key == bindparam("fid", key))).scalar()
    if found is None:
        raise NotFound(f"{collection.id}/{feature_id[:40]} 不存在或不在您的范围内 (no such feature in your scope)")
    return str(found)


def extent(conn: Connection) -> list[float] | None:
    """Bounding box (CRS84) of the regions the caller may see."""
    row = conn.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
            " SELECT ST_Extent(boundary) AS e FROM region"
            " WHERE boundary IS NOT NULL AND landgis_in_scope(code)) s"
        )
    ).first()
    if row is None or row[0] is None:
        return None
    return [round(float(v), 7) for v in row]
