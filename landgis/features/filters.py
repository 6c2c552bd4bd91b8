"""CQL2 filters (OGC API - Features Part 3) translated to SQLAlchemy expressions.

The ``cql2`` package parses CQL2 text and JSON into canonical CQL2-JSON; this module walks that
tree and builds a SQLAlchemy expression. Property names are looked up in the collection's
whitelist (unknown names are refused), every literal becomes a bound parameter of a checked
type, and only the operators listed in ``OPERATORS`` are accepted: there is no path from a
filter to a function call or an identifier of the client's choosing.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

import cql2
import shapely
from shapely.geometry import box
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    String,
    and_,
    bindparam,
    false,
    func,
    not_,
    null,
    or_,
    true,
)

from landgis.errors import InvalidInput
from landgis.features import crs as crsmod
from landgis.features.collections import Collection
from landgis.geoinput import check_geometry, parse_geojson, wkb

MAX_FILTER_LENGTH = 20_000
MAX_DEPTH = 40
MAX_IN_VALUES = 1_000
GEOMETRY_NAMES = ("geometry", "geom")

COMPARISONS = {"=", "<>", "<", "<=", ">", ">="}
SPATIAL = {
    "s_intersects": "ST_Intersects",
    "s_equals": "ST_Equals",
    "s_disjoint": "ST_Disjoint",
    "s_touches": "ST_Touches",
    "s_within": "ST_Within",
    "s_overlaps": "ST_Overlaps",
    "s_crosses": "ST_Crosses",
    "s_contains": "ST_Contains",
}
TEMPORAL = {"t_after", "t_before", "t_equals", "t_intersects", "t_disjoint", "t_during"}
ARITHMETIC = {"+", "-", "*", "/"}
#: Every operator a filter may use; anything else is refused with a 400.
OPERATORS = frozenset(
    {"and", "or", "not", "like", "between", "in", "isNull", "casei", *COMPARISONS, *SPATIAL, *TEMPORAL, *ARITHMETIC}
)

#: Conformance classes this translator implements in full.
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
)

_NUMERIC = ("number", "integer")
_TEMPORAL_TYPES = ("date", "date-time")


@dataclass(frozen=True)
class Typed:
    """A translated operand and the CQL2 type it has."""

    expr: ColumnElement[Any]
    type: str


class _Translator:
    def __init__(self, collection: Collection, filter_crs: crsmod.Crs) -> None:
        self.collection = collection
        self.filter_crs = filter_crs
        self.count = 0

    def fail(self, message: str) -> InvalidInput:
        return InvalidInput(f"filter: {message}", details={"parameter": "filter"})

    def bind(self, value: Any, type_: Any) -> ColumnElement[Any]:
        self.count += 1
        return bindparam(f"f{self.count}", value, type_=type_)

    # ---------------------------------------------------------------- booleans

    def boolean(self, node: Any, depth: int = 0) -> ColumnElement[bool]:
        if depth > MAX_DEPTH:
            raise self.fail("嵌套过深 (filter nested too deeply)")
        if isinstance(node, bool):
            return true() if node else false()
        if not isinstance(node, dict) or "op" not in node:
            raise self.fail("需要一个条件表达式 (expected a boolean expression)")
        op = node["op"]
        args = node.get("args", [])
        if op not in OPERATORS:
            raise self.fail(f"不支持的运算 {str(op)[:40]!r} (unsupported operator or function)")
        if not isinstance(args, list):
            raise self.fail("args 应为数组 (args must be an array)")
        if op in ("and", "or"):
            if len(args) < 2:
                raise self.fail(f"{op} 需要至少两个条件 (needs two or more operands)")
            parts = [self.boolean(a, depth + 1) for a in args]
            return and_(*parts) if op == "and" else or_(*parts)
        if op == "not":
            self.arity(op, args, 1)
            return not_(self.boolean(args[0], depth + 1))
        if op in COMPARISONS:
            return self.comparison(op, args, depth)
        if op == "like":
            self.arity(op, args, 2)
            left = self.scalar(args[0], depth)
            pattern = args[1]
            lowered = isinstance(pattern, dict) and pattern.get("op") == "casei" and len(pattern.get("args", [])) == 1
            if lowered:
                pattern = pattern["args"][0]
            if left.type != "string" or not isinstance(pattern, str):
                raise self.fail("LIKE 只用于文字属性和文字模式 (LIKE needs a text property and a text pattern)")
            bound = self.bind(pattern, String())
            return left.expr.like(func.lower(bound) if lowered else bound)
        if op == "between":
            self.arity(op, args, 3)
            value = self.scalar(args[0], depth)
            low, high = (self.scalar(a, depth, expect=value.type) for a in args[1:])
            self.compatible(value, low)
            self.compatible(value, high)
            return value.expr.between(low.expr, high.expr)
        if op == "in":
            self.arity(op, args, 2)
            value = self.scalar(args[0], depth)
            if not isinstance(args[1], list) or not args[1] or len(args[1]) > MAX_IN_VALUES:
                raise self.fail(f"IN 需要 1-{MAX_IN_VALUES} 个值的列表 (IN needs a list of values)")
            items = [self.scalar(a, depth, expect=value.type) for a in args[1]]
            for item in items:
                self.compatible(value, item)
            return value.expr.in_([i.expr for i in items])
        if op == "isNull":
            self.arity(op, args, 1)
            return self.scalar(args[0], depth).expr.is_(None)
        if op in SPATIAL:
            return self.spatial(op, args)
        if op in TEMPORAL:
            return self.temporal(op, args, depth)
        raise self.fail(f"{op} 不是条件 (not a boolean expression)")

    def arity(self, op: str, args: list[Any], n: int) -> None:
        if len(args) != n:
            raise self.fail(f"{op} 需要 {n} 个参数 (takes {n} arguments)")

    def comparison(self, op: str, args: list[Any], depth: int) -> ColumnElement[bool]:
        self.arity(op, args, 2)
        left = self.scalar(args[0], depth)
        right = self.scalar(args[1], depth, expect=left.type)
        if left.type == "null" and right.type != "null":
            left = self.scalar(args[0], depth, expect=right.type)
        self.compatible(left, right)
        if op in ("<", "<=", ">", ">=") and left.type == "boolean":
            raise self.fail("布尔值不能比较大小 (booleans cannot be ordered)")
        a, b = left.expr, right.expr
        return {
            "=": a == b,
            "<>": a != b,
            "<": a < b,
            "<=": a <= b,
            ">": a > b,
            ">=": a >= b,
        }[op]

    def compatible(self, a: Typed, b: Typed) -> None:
        kinds = {a.type, b.type}
        if len(kinds) == 1 or kinds <= set(_NUMERIC) or kinds <= set(_TEMPORAL_TYPES):
            return
        raise self.fail(f"类型不匹配: {a.type} 与 {b.type} (type mismatch)")

    # ---------------------------------------------------------------- scalars

    def scalar(self, node: Any, depth: int, expect: str | None = None) -> Typed:
        if depth > MAX_DEPTH:
            raise self.fail("嵌套过深 (filter nested too deeply)")
        if isinstance(node, dict) and "property" in node:
            return self.prop(node["property"])
        if isinstance(node, bool):
            return Typed(self.bind(node, Boolean()), "boolean")
        if isinstance(node, int | float):
            if not math.isfinite(node):
                raise self.fail("数字无效 (not a finite number)")
            if expect == "integer" and float(node).is_integer():
                return Typed(self.bind(int(node), Integer()), "integer")
            return Typed(self.bind(float(node), Float()), "number")
        if isinstance(node, str):
            if expect in _TEMPORAL_TYPES:
                return self.temporal_literal(node, expect)
            return Typed(self.bind(node, String()), "string")
        if isinstance(node, dict) and "date" in node:
            return self.temporal_literal(node["date"], "date")
        if isinstance(node, dict) and "timestamp" in node:
            return self.temporal_literal(node["timestamp"], "date-time")
        if isinstance(node, dict) and node.get("op") == "casei":
            self.arity("casei", node.get("args", []), 1)
            inner = self.scalar(node["args"][0], depth + 1, expect="string")
            if inner.type != "string":
                raise self.fail("CASEI 只用于文字 (CASEI needs text)")
            return Typed(func.lower(inner.expr), "string")
        if isinstance(node, dict) and node.get("op") in ARITHMETIC:
            args = node.get("args", [])
            self.arity(node["op"], args, 2)
            a, b = (self.scalar(x, depth + 1, expect="number") for x in args)
            if a.type not in _NUMERIC or b.type not in _NUMERIC:
                raise self.fail("算术运算只用于数字 (arithmetic needs numbers)")
            if node["op"] == "/":
                if isinstance(args[1], int | float) and args[1] == 0:
                    raise self.fail("除数为零 (division by zero)")
                return Typed(a.expr / func.nullif(b.expr, 0), "number")
            expr = {"+": a.expr + b.expr, "-": a.expr - b.expr, "*": a.expr * b.expr}[node["op"]]
            return Typed(expr, "number")
        if node is None:
            return Typed(null(), "null")
        if isinstance(node, dict) and "op" in node:
            raise self.fail(f"不支持的运算 {str(node['op'])[:40]!r} (unsupported operator or function)")
        raise self.fail("无法识别的值 (unrecognised value)")

    def prop(self, name: Any) -> Typed:
        if not isinstance(name, str):
            raise self.fail("属性名无效 (invalid property name)")
        found = self.collection.find(name)
        if found is None:
            if name in GEOMETRY_NAMES:
                raise self.fail("几何属性只能用于空间函数 (the geometry is used only in spatial functions)")
            raise self.fail(f"未知属性 {name[:60]!r}; 见 queryables (unknown property)")
        return Typed(found.column, found.type)

    def temporal_literal(self, value: Any, kind: str) -> Typed:
        if not isinstance(value, str):
            raise self.fail("日期无效 (invalid date)")
        try:
            if kind == "date" and len(value) == 10:
                return Typed(self.bind(dt.date.fromisoformat(value), Date()), "date")
            stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise self.fail(f"日期/时间格式错误 {value[:40]!r} (expected ISO 8601)") from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        return Typed(self.bind(stamp, DateTime(timezone=True)), "date-time")

    # ---------------------------------------------------------------- spatial

    def spatial(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self.arity(op, args, 2)
        first, second = args
        swapped = False
        if self.is_geometry_property(second):
            first, second, swapped = second, first, True
        if not self.is_geometry_property(first):
            raise self.fail(f"{op.upper()} 需要几何属性 geometry 和一个几何值 (needs the geometry and a literal)")
        shape = self.geometry_literal(second)
        column = self.collection.geometry
        name = SPATIAL[op]
        if swapped and name in ("ST_Within", "ST_Contains"):
            name = "ST_Contains" if name == "ST_Within" else "ST_Within"
        test = getattr(func, name)(column, shape)
        if name == "ST_Disjoint":
            return test  # type: ignore[no-any-return]
        # The bbox operator first: under row-level security only it may use the GiST index.
        return and_(self.collection.index_filter(shape), test)

    def is_geometry_property(self, node: Any) -> bool:
        return isinstance(node, dict) and node.get("property") in GEOMETRY_NAMES

    def geometry_literal(self, node: Any) -> ColumnElement[Any]:
        geographic = self.filter_crs.geographic
        if isinstance(node, dict) and "bbox" in node:
            values = node["bbox"]
            if not isinstance(values, list) or len(values) not in (4, 6):
                raise self.fail("BBOX 需要 4 个数字 (BBOX needs 4 numbers)")
            if len(values) == 6:
                values = [values[0], values[1], values[3], values[4]]
            geom = check_geometry(box(*(float(v) for v in values)), field="filter", geographic=False)
        elif isinstance(node, dict) and "type" in node:
            geom = parse_geojson(node, field="filter", geographic=False)
        else:
            raise self.fail("需要 GeoJSON 几何或 BBOX (expected a geometry literal)")
        if self.filter_crs.north_first:
            geom = shapely.ops.transform(lambda x, y, *z: (y, x), geom)
        if geographic:
            check_geometry(geom, field="filter", geographic=True)
        shape = func.ST_GeomFromWKB(self.bind(wkb(geom), LargeBinary()), self.filter_crs.srid)
        if self.filter_crs.srid != crsmod.STORAGE_SRID:
            shape = func.ST_Transform(shape, crsmod.STORAGE_SRID)
        return shape

    # ---------------------------------------------------------------- temporal

    def temporal(self, op: str, args: list[Any], depth: int) -> ColumnElement[bool]:
        self.arity(op, args, 2)
        value = self.scalar(args[0], depth)
        if value.type not in _TEMPORAL_TYPES:
            raise self.fail(f"{op.upper()} 需要日期属性 (needs a date property)")
        other = args[1]
        if isinstance(other, dict) and "interval" in other:
            bounds = other["interval"]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise self.fail("INTERVAL 需要两个端点 (INTERVAL needs two ends)")
            low, high = (None if b == ".." else self.scalar(b, depth, expect=value.type) for b in bounds)
            start = low.expr if low else None
            end = high.expr if high else None
        else:
            instant = self.scalar(other, depth, expect=value.type)
            if instant.type not in _TEMPORAL_TYPES:
                raise self.fail(f"{op.upper()} 需要日期值 (needs a date or timestamp)")
            start = end = instant.expr
        v = value.expr
        after_start = v >= start if start is not None else true()
        before_end = v <= end if end is not None else true()
        if op == "t_after":
            return v > end if end is not None else false()
        if op == "t_before":
            return v < start if start is not None else false()
        if op == "t_equals":
            return and_(v == start, v == end) if start is not None and end is not None else false()
        if op in ("t_intersects", "t_during"):
            return and_(after_start, before_end)
        return not_(and_(after_start, before_end))  # t_disjoint


def parse_filter(text: str, lang: str | None) -> dict[str, Any] | bool:
    """Canonical CQL2-JSON for a ``filter`` in CQL2 text or JSON (``filter-lang``)."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidInput(f"filter: 过长, 最多 {MAX_FILTER_LENGTH} 个字符 (filter too long)")
    language = (lang or "cql2-text").strip().lower()
    try:
        if language == "cql2-text":
            expr = cql2.parse_text(text)
        elif language == "cql2-json":
            json.loads(text)  # a clear error for malformed JSON before the CQL2 parser
            expr = cql2.parse_json(text)
        else:
            raise InvalidInput("filter-lang: 只支持 cql2-text 和 cql2-json (unsupported filter language)")
        tree: dict[str, Any] | bool = expr.to_json()
    except (ValueError, cql2.ParseError, cql2.ValidationError) as exc:
        message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InvalidInput(
            f"filter: CQL2 语法错误 (syntax error: {message})", details={"parameter": "filter"}
        ) from None
    return tree


def to_sql(
    text: str, lang: str | None, collection: Collection, filter_crs: crsmod.Crs = crsmod.DEFAULT
) -> ColumnElement[bool]:
    """A SQLAlchemy condition for a CQL2 filter on ``collection`` (literals bound, names whitelisted)."""
    tree = parse_filter(text, lang)
    return _Translator(collection, filter_crs).boolean(tree)
