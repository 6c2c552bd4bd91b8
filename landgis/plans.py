"""Renewal plans (scenarios): a candidate result saved under a name, compared and exported.

A plan keeps the request it came from (rules with their parameters, area, year, blocks) and, per
parcel, its block, reasons and figures at the time it was saved, so a plan does not move when
the data change; comparing plans tells their overlap in parcels and 亩.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from landgis.candidates.selection import CANDIDATES, CandidateRequest, select_candidates
from landgis.errors import Conflict, InvalidInput, NotFound


def _common_region(conn: Connection) -> str | None:
    """The longest region code (6, 9 or 12 digits) every selected parcel lies in."""
    codes = [str(c) for c in conn.execute(text(f"SELECT DISTINCT region_code FROM {CANDIDATES}")).scalars()]
    if not codes:
        return None
    for length in (12, 9, 6):
        prefixes = {c[:length] for c in codes if len(c) >= length}
        if len(prefixes) == 1 and all(len(c) >= length for c in codes):
            prefix = prefixes.pop()
            if conn.execute(text("SELECT 1 FROM region WHERE code = :c"), {"c": prefix}).first():
                return prefix
    return None


def save_plan(
    conn: Connection,
    name: str,
    request: CandidateRequest,
    *,
    description: str | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Run the request's selection and save it as plan ``name`` (names are unique)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("name: 方案名称不能为空, 且不超过100字 (a plan needs a name)")
    selection = select_candidates(conn, request)
    if selection.totals["count"] == 0:
        raise InvalidInput("没有符合条件的宗地, 方案未保存 (the selection is empty; nothing saved)")
    only = request.blocks is not None and request.blocks.only_in_blocks
    region = selection.region_code or _common_region(conn)
    try:
        with conn.begin_nested():
            plan_id = int(
                conn.execute(
                    text(
                        "INSERT INTO plan (name, description, year, region_code, request, totals, created_by)"
                        " VALUES (:n, :d, :y, :r, CAST(:q AS jsonb), CAST(:t AS jsonb), :a) RETURNING id"
                    ),
                    {
                        "n": name,
                        "d": description,
                        "y": request.year,
                        "r": region,
                        "q": json.dumps(selection.document(), ensure_ascii=False, default=str),
                        "t": json.dumps(selection.totals, ensure_ascii=False),
                        "a": actor,
                    },
                ).scalar_one()
            )
            conn.execute(
                text(
                    "INSERT INTO plan_parcel (plan_id, parcel_id, block_no, reasons, area_mu, tax_wan,"
                    " value_added_wan, mu_tax, far)"
                    " SELECT :id, parcel_id, block_id, reasons, area_mu, tax_wan, value_added_wan, mu_tax, far"
                    f" FROM {CANDIDATES}" + (" WHERE block_id IS NOT NULL" if only else "")
                ),
                {"id": plan_id},
            )
    except IntegrityError as exc:
        if "uq_plan_name" in str(exc.orig):
            raise Conflict(f"name: 方案名称 '{name}' 已存在 (a plan with this name exists)") from exc
        raise
    return get_plan(conn, plan_id)


_PLAN_SELECT = (
    "SELECT pl.id, pl.name, pl.description, pl.year, pl.region_code, pl.request, pl.totals, pl.created_by,"
    " pl.created_at, (SELECT count(*) FROM plan_parcel pp WHERE pp.plan_id = pl.id) AS parcels FROM plan pl"
)


def _plan(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "name": row.name,
        "description": row.description,
        "year": int(row.year),
        "region_code": row.region_code,
        "request": dict(row.request),
        "totals": dict(row.totals),
        "parcels": int(row.parcels),
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
    }


def get_plan(conn: Connection, plan_id: int) -> dict[str, Any]:
    """A plan visible in the caller's scope, or ``NotFound``."""
    row = conn.execute(
        text(_PLAN_SELECT + " WHERE pl.id = :id AND landgis_in_scope(pl.region_code)"), {"id": plan_id}
    ).first()
    if row is None:
        raise NotFound(f"方案 {plan_id} 不存在 (no such plan)")
    return _plan(row)


def list_plans(conn: Connection, year: int | None = None) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            _PLAN_SELECT + " WHERE landgis_in_scope(pl.region_code) AND (CAST(:y AS integer) IS NULL OR pl.year = :y)"
            " ORDER BY pl.id DESC"
        ),
        {"y": year},
    ).all()
    return [_plan(r) for r in rows]


def delete_plan(conn: Connection, plan_id: int) -> None:
    get_plan(conn, plan_id)
    conn.execute(text("DELETE FROM plan WHERE id = :id"), {"id": plan_id})


def compare_plans(conn: Connection, plan_ids: list[int]) -> dict[str, Any]:
    """Totals of each plan and, for every pair, the parcels and 亩 they share and hold alone."""
    if len(plan_ids) < 2 or len(set(plan_ids)) != len(plan_ids):
        raise InvalidInput("ids: 请给出至少两个不同的方案 (at least two different plans)")
    plans = [get_plan(conn, pid) for pid in plan_ids]
    rows = conn.execute(
        text(
            "SELECT pp.plan_id, pp.parcel_id, pp.area_mu, pp.tax_wan, pp.value_added_wan FROM plan_parcel pp"
            " JOIN parcel p ON p.id = pp.parcel_id"
            " WHERE pp.plan_id = ANY(:ids) AND (landgis_setting('landgis.scope') IS NULL OR landgis_in_scope(p.region_code))"
        ),
        {"ids": plan_ids},
    ).all()
    members: dict[int, dict[int, tuple[float, float, float]]] = {pid: {} for pid in plan_ids}
    for r in rows:
        members[int(r.plan_id)][int(r.parcel_id)] = (
            float(r.area_mu),
            float(r.tax_wan or 0),
            float(r.value_added_wan or 0),
        )

    def tally(parcels: dict[int, tuple[float, float, float]], ids: set[int]) -> dict[str, Any]:
        return {
            "count": len(ids),
            "area_mu": sum(parcels[i][0] for i in ids),
            "tax_wan": sum(parcels[i][1] for i in ids),
            "value_added_wan": sum(parcels[i][2] for i in ids),
        }

    pairs = []
    for i, a in enumerate(plan_ids):
        for b in plan_ids[i + 1 :]:
            ids_a, ids_b = set(members[a]), set(members[b])
            pairs.append(
                {
                    "a": a,
                    "b": b,
                    "both": tally(members[a], ids_a & ids_b),
                    "only_a": tally(members[a], ids_a - ids_b),
                    "only_b": tally(members[b], ids_b - ids_a),
                    "jaccard": len(ids_a & ids_b) / len(ids_a | ids_b) if ids_a | ids_b else None,
                }
            )
    union: dict[int, tuple[float, float, float]] = {}
    for pid in plan_ids:
        union.update(members[pid])
    common = set.intersection(*(set(members[pid]) for pid in plan_ids))
    return {
        "plans": [{**p, "in_scope": tally(members[p["id"]], set(members[p["id"]]))} for p in plans],
        "pairs": pairs,
        "union": tally(union, set(union)),
        "all": tally(union, common),
    }
