"""Edits to parcels: attributes and occupancy.

Each edit checks its values, then writes in the caller's transaction; the change-history triggers
record who, when, from where and the old and new values. The renewal status is not an attribute:
it changes only through the renewal workflow (``landgis.lifecycle.events``). Row-level security
makes a parcel outside the caller's scope "not found", and its WITH CHECK refuses to move a
parcel into a region the caller does not hold.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from landgis.db.models import LAND_USE_SYSTEMS, SUPPLY_METHODS, TENURES
from landgis.errors import Conflict, InvalidInput, NotFound

LAND_USE_CODE = re.compile(r"^[0-9A-Za-z]{1,16}$")
DATE_RANGE = (dt.date(1949, 10, 1), dt.date(2100, 12, 31))
#: Occupied land may exceed the parcel's computed area by this share (survey differences).
AREA_TOLERANCE = 1.05

_TEXT = {"location": 500, "right_holder": 500, "contract_no": 100, "far_agreed_raw": 100}
_NUMBERS = {
    # field: (minimum, maximum)
    "far": (0.0, 30.0),
    "building_coverage": (0.0, 1.0),
    "floor_area_m2": (0.0, 1e8),
    "land_price_wan": (0.0, 1e8),
    "declared_area_m2": (0.0, 1e9),
    "far_min": (0.0, 30.0),
    "far_max": (0.0, 30.0),
    "coverage_min": (0.0, 1.0),
    "coverage_max": (0.0, 1.0),
}
_DATES = (
    "contract_date",
    "agreed_delivery_date",
    "actual_delivery_date",
    "agreed_start_date",
    "actual_start_date",
    "agreed_completion_date",
    "actual_completion_date",
    "agreed_production_date",
    "actual_production_date",
)
_CHOICES: dict[str, tuple[str, ...]] = {
    "land_use_system": LAND_USE_SYSTEMS,
    "supply_method": SUPPLY_METHODS,
    "building_safety_grade": ("A", "B", "C", "D"),
}
_FLAGS = ("is_standard_land",)
#: Attributes an edit may change (宗地代码, geometry, region and areas come only from loads).
EDITABLE = frozenset({*_TEXT, *_NUMBERS, *_DATES, *_CHOICES, *_FLAGS, "land_use_code"})


def _check_value(name: str, value: Any) -> Any:
    """A checked value for one field, or InvalidInput naming the field."""
    if value is None:
        return None
    if name in _TEXT:
        if not isinstance(value, str):
            raise InvalidInput(f"{name}: 需要文字 (expected text)", details={"field": name})
        cleaned = value.strip()
        if len(cleaned) > _TEXT[name]:
            raise InvalidInput(f"{name}: 最多 {_TEXT[name]} 个字符 (too long)", details={"field": name})
        return cleaned or None
    if name in _NUMBERS:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidInput(f"{name}: 需要数字 (expected a number)", details={"field": name})
        low, high = _NUMBERS[name]
        if not low <= float(value) <= high:
            raise InvalidInput(f"{name}: 须在 {low:g} 到 {high:g} 之间 (out of range)", details={"field": name})
        return float(value)
    if name in _DATES:
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                raise InvalidInput(
                    f"{name}: 日期格式应为 YYYY-MM-DD (expected a date)", details={"field": name}
                ) from None
        if not isinstance(value, dt.date) or not DATE_RANGE[0] <= value <= DATE_RANGE[1]:
            raise InvalidInput(f"{name}: 日期不合理 (implausible date)", details={"field": name})
        if name.startswith("actual_") and value > dt.date.today():
            raise InvalidInput(
                f"{name}: 实际日期不能晚于今天 (an actual date cannot be in the future)", details={"field": name}
            )
        return value
    if name in _CHOICES:
        if value not in _CHOICES[name]:
            choices = ", ".join(_CHOICES[name])
            raise InvalidInput(f"{name}: 只能是 {choices} (not an allowed value)", details={"field": name})
        return value
    if name in _FLAGS:
        if not isinstance(value, bool):
            raise InvalidInput(f"{name}: 需要 true 或 false (expected a boolean)", details={"field": name})
        return value
    if name == "land_use_code":
        if not isinstance(value, str) or not LAND_USE_CODE.match(value.strip()):
            raise InvalidInput(
                f"{name}: 用地代码应为 1-16 位字母或数字 (invalid land-use code)", details={"field": name}
            )
        return value.strip().upper()
    raise InvalidInput(f"{name}: 该字段不能修改 (this field cannot be edited)", details={"field": name})


def _check_bounds(merged: Mapping[str, Any]) -> None:
    for low, high, what in (("far_min", "far_max", "约定容积率"), ("coverage_min", "coverage_max", "约定建筑密度")):
        if merged.get(low) is not None and merged.get(high) is not None and merged[low] > merged[high]:
            raise InvalidInput(f"{low}: {what}下限大于上限 (lower bound above upper bound)", details={"field": low})


def update_attributes(conn: Connection, parcel_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change a parcel's attributes; returns the fields that really changed, with old and new values."""
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise InvalidInput(
            f"{unknown[0]}: 该字段不能修改 (field cannot be edited)", details={"field": unknown[0], "fields": unknown}
        )
    if not changes:
        raise InvalidInput("没有要修改的字段 (nothing to change)")
    values = {name: _check_value(name, value) for name, value in changes.items()}
    columns = sorted(values)  # names from EDITABLE, never from the request as such
    selected = ", ".join(dict.fromkeys([*columns, "far_min", "far_max", "coverage_min", "coverage_max"]))
    current = (
        conn.execute(text(f"SELECT {selected} FROM parcel WHERE id = :id FOR UPDATE"), {"id": parcel_id})  # noqa: S608
        .mappings()
        .first()
    )
    if current is None:
        raise NotFound(f"宗地 {parcel_id} 不存在或不在您的范围内 (no such parcel in your scope)")
    _check_bounds({**current, **values})
    changed = {c: {"old": current[c], "new": values[c]} for c in columns if current[c] != values[c]}
    if changed:
        assignments = ", ".join(f"{c} = :{c}" for c in changed)
        conn.execute(
            text(f"UPDATE parcel SET {assignments} WHERE id = :id"),  # noqa: S608
            {**{c: values[c] for c in changed}, "id": parcel_id},
        )
    return changed


_OCCUPANCY_FIELDS = ("enterprise_id", "land_area_mu", "tenure", "valid_from", "valid_to")


def _check_occupancy(values: Mapping[str, Any]) -> dict[str, Any]:
    checked = dict(values)
    area = checked.get("land_area_mu")
    if area is not None and (isinstance(area, bool) or not isinstance(area, int | float) or not 0 <= area <= 1e6):
        raise InvalidInput(
            "land_area_mu: 用地面积须为 0-1000000 亩 (area out of range)", details={"field": "land_area_mu"}
        )
    if "tenure" in checked and checked["tenure"] not in TENURES:
        raise InvalidInput("tenure: 只能是 own 或 lease (own or lease)", details={"field": "tenure"})
    for name in ("valid_from", "valid_to"):
        value = checked.get(name)
        if isinstance(value, str):
            try:
                checked[name] = dt.date.fromisoformat(value)
            except ValueError:
                raise InvalidInput(f"{name}: 日期格式应为 YYYY-MM-DD", details={"field": name}) from None
        if checked.get(name) is not None and not DATE_RANGE[0] <= checked[name] <= DATE_RANGE[1]:
            raise InvalidInput(f"{name}: 日期不合理 (implausible date)", details={"field": name})
    if checked.get("valid_from") and checked.get("valid_to") and checked["valid_to"] < checked["valid_from"]:
        raise InvalidInput("valid_to: 结束日期早于开始日期 (ends before it starts)", details={"field": "valid_to"})
    return checked


def _check_total_area(conn: Connection, parcel_id: int, exclude_id: int | None, adding: float | None) -> None:
    """The current occupancies (with the new one) may not claim more land than the parcel has."""
    row = conn.execute(
        text(
            "SELECT p.area_mu, coalesce(sum(coalesce(o.land_area_mu, p.area_mu))"
            " FILTER (WHERE o.id IS DISTINCT FROM :exclude AND (o.valid_to IS NULL OR o.valid_to >= current_date)), 0)"
            " FROM parcel p LEFT JOIN occupancy o ON o.parcel_id = p.id WHERE p.id = :pid GROUP BY p.area_mu"
        ),
        {"pid": parcel_id, "exclude": exclude_id},
    ).first()
    if row is None:
        raise NotFound(f"宗地 {parcel_id} 不存在或不在您的范围内 (no such parcel in your scope)")
    parcel_mu, used = float(row[0]), float(row[1])
    if adding is not None and used + adding > parcel_mu * AREA_TOLERANCE:
        raise InvalidInput(
            f"land_area_mu: 各企业用地合计 {used + adding:.2f} 亩, 超过宗地面积 {parcel_mu:.2f} 亩"
            " (occupied land exceeds the parcel's area)",
            details={"field": "land_area_mu", "parcel_mu": parcel_mu, "occupied_mu": used + adding},
        )


def add_occupancy(conn: Connection, parcel_id: int, values: Mapping[str, Any]) -> int:
    """Record that an enterprise uses (part of) the parcel; returns the occupancy id."""
    checked = _check_occupancy({"tenure": "own", **values})
    firm = conn.execute(text("SELECT 1 FROM enterprise WHERE id = :id"), {"id": checked.get("enterprise_id")}).first()
    if firm is None:
        raise InvalidInput(
            "enterprise_id: 企业不存在或不在您的范围内 (no such enterprise)", details={"field": "enterprise_id"}
        )
    parcel_area = conn.execute(text("SELECT area_mu FROM parcel WHERE id = :id FOR UPDATE"), {"id": parcel_id}).scalar()
    if parcel_area is None:
        raise NotFound(f"宗地 {parcel_id} 不存在或不在您的范围内 (no such parcel in your scope)")
    current = checked.get("valid_to") is None or checked["valid_to"] >= dt.date.today()
    if current:
        area = checked.get("land_area_mu")
        _check_total_area(conn, parcel_id, None, float(parcel_area) if area is None else float(area))
    params = {name: checked.get(name) for name in _OCCUPANCY_FIELDS}
    try:
        with conn.begin_nested():
            new_id = conn.execute(
                text(
                    "INSERT INTO occupancy (parcel_id, enterprise_id, land_area_mu, tenure, valid_from, valid_to, source)"
                    " VALUES (:pid, :enterprise_id, :land_area_mu, :tenure, :valid_from, :valid_to, 'edit') RETURNING id"
                ),
                {"pid": parcel_id, **params},
            ).scalar_one()
    except IntegrityError:
        raise Conflict("该企业在此宗地已有同一起始日期的用地记录 (occupancy already recorded)") from None
    return int(new_id)


def update_occupancy(conn: Connection, parcel_id: int, occupancy_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change an occupancy row of the parcel (area, tenure, validity); returns what changed."""
    allowed = {"land_area_mu", "tenure", "valid_from", "valid_to"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise InvalidInput(f"{unknown[0]}: 该字段不能修改 (field cannot be edited)", details={"field": unknown[0]})
    current = (
        conn.execute(
            text(
                "SELECT land_area_mu, tenure, valid_from, valid_to FROM occupancy"
                " WHERE id = :id AND parcel_id = :pid FOR UPDATE"
            ),
            {"id": occupancy_id, "pid": parcel_id},
        )
        .mappings()
        .first()
    )
    if current is None:
        raise NotFound(f"用地记录 {occupancy_id} 不存在 (no such occupancy on this parcel)")
    merged = _check_occupancy({**current, **changes})
    changed = {c: {"old": current[c], "new": merged[c]} for c in sorted(allowed) if current[c] != merged[c]}
    if not changed:
        return {}
    still_current = merged["valid_to"] is None or merged["valid_to"] >= dt.date.today()
    if still_current:
        parcel_area = conn.execute(text("SELECT area_mu FROM parcel WHERE id = :id"), {"id": parcel_id}).scalar_one()
        area = merged["land_area_mu"]
        _check_total_area(conn, parcel_id, occupancy_id, float(parcel_area) if area is None else float(area))
    assignments = ", ".join(f"{c} = :{c}" for c in changed)
    try:
        with conn.begin_nested():
            conn.execute(
                text(f"UPDATE occupancy SET {assignments} WHERE id = :id"),  # noqa: S608
                {**{c: merged[c] for c in changed}, "id": occupancy_id},
            )
    except IntegrityError:
        raise Conflict("该企业在此宗地已有同一起始日期的用地记录 (occupancy already recorded)") from None
    return changed


def delete_occupancy(conn: Connection, parcel_id: int, occupancy_id: int) -> None:
    """Remove an occupancy row recorded by mistake (to end one, set ``valid_to`` instead)."""
    deleted = conn.execute(
        text("DELETE FROM occupancy WHERE id = :id AND parcel_id = :pid"), {"id": occupancy_id, "pid": parcel_id}
    )
    if deleted.rowcount == 0:
        raise NotFound(f"用地记录 {occupancy_id} 不存在 (no such occupancy on this parcel)")
