"""闲置土地 (国土资源部令第53号), 五未 land and the deadline list.

53号令 as applied here: land not started 满一年 after the agreed start date is idle (闲置费 20 %
of the land price); 满两年 it is a candidate to be taken back without compensation (无偿收回);
land started but developed < 1/3 (or invested < 25 %) and halted 满一年 is idle too. Periods are
counted as the civil code counts them (民法典 第二百零一条-第二百零三条): a year from 2023-06-30
is complete at the end of 2024-06-30, so the land is idle from 2024-07-01; from 2020-02-29 it is
complete at the end of 2021-02-28. Delays caused by the government or force majeure (第八条)
make land idle without fee or recapture. The rules are in the database (``landgis_idle_land``)
so that the colours, lists and reports share them.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from typing import Any

from sqlalchemy import Connection, text

from landgis.errors import InvalidInput, NotFound
from landgis.lifecycle import standard

WUWEI = {
    "approved_not_supplied": "批而未供",
    "supplied_not_used": "供而未用",
    "used_not_exhausted": "用而未尽",
    "built_not_producing": "建而未投",
    "producing_below_commitment": "投而未达",
}
DEADLINE_KINDS = {
    "contract_delivery": "约定交地",
    "contract_start": "约定开工",
    "contract_completion": "约定竣工",
    "contract_production": "约定投产",
    "idle_from": "满一年认定闲置",
    "recapture_from": "满两年可无偿收回",
    "halted_idle_from": "中止开发满一年",
    "review_due": "达产复核",
}
BUCKETS = (30, 90, 180)
DELAY_CAUSES = {"enterprise": "企业原因", "government": "政府原因", "force_majeure": "不可抗力"}


def _sql(name: str) -> str:
    return resources.files("landgis.lifecycle").joinpath("sql", name).read_text(encoding="utf-8")


def idle_thresholds(conn: Connection, basis: dt.date) -> dict[str, dt.date]:
    """The first idle day (满一年 + 1) and the first day of 无偿收回 (满两年 + 1) after ``basis``."""
    row = conn.execute(
        text("SELECT landgis_period_end(:d, 1) + 1 AS idle_from, landgis_period_end(:d, 2) + 1 AS recapture_from"),
        {"d": basis},
    ).one()
    return {"idle_from": row.idle_from, "recapture_from": row.recapture_from}


def idle_land(
    conn: Connection, *, as_of: dt.date, zone_id: int | None = None, region: str | None = None
) -> list[dict[str, Any]]:
    """Parcels idle on ``as_of`` (in scope): kind, basis date, idle and recapture dates, fee."""
    rows = conn.execute(text(_sql("idle_land.sql")), {"as_of": as_of, "zone_id": zone_id, "region": region})
    return [
        {
            **r,
            "kind_label": "未动工" if r["kind"] == "not_started" else "中止开发",
            "stage_label": "可无偿收回"
            if r["stage"] == "recapture"
            else "征收闲置费"
            if r["idle_fee_wan"] is not None
            else "协商处置",
            "cause_label": DELAY_CAUSES.get(r["cause"] or "", "未说明"),
        }
        for r in rows.mappings()
    ]


def approval_batches(conn: Connection, *, as_of: dt.date, region: str | None = None) -> list[dict[str, Any]]:
    """Land approval batches with the area supplied out of each and what is left (批而未供)."""
    rows = conn.execute(text(_sql("approvals.sql")), {"as_of": as_of, "region": region})
    return [dict(r) for r in rows.mappings()]


def wuwei(
    conn: Connection,
    *,
    as_of: dt.date,
    zone_id: int | None = None,
    region: str | None = None,
    production_months: int = 12,
) -> dict[str, Any]:
    """The 五未 lists as of ``as_of``: parcels per category (with what makes them so) and the
    approval batches with land left unsupplied. Areas in 亩."""
    if not 0 < production_months <= 120:
        raise InvalidInput("production_months 应在 1-120 之间")
    rows = [
        dict(r)
        for r in conn.execute(
            text(_sql("wuwei.sql")),
            {"as_of": as_of, "zone_id": zone_id, "region": region, "production_months": production_months},
        ).mappings()
    ]
    rows += standard.below_commitment(conn, as_of=as_of, zone_id=zone_id, region=region)
    parcels = _parcels(conn, [r["parcel_id"] for r in rows])
    categories: dict[str, dict[str, Any]] = {
        code: {"category": code, "label": label, "parcels": [], "count": 0, "area_mu": 0.0}
        for code, label in WUWEI.items()
    }
    for row in rows:
        p = parcels[row["parcel_id"]]
        entry = categories[row["category"]]
        entry["parcels"].append({**p, "basis_date": row["basis_date"], "detail": row["detail"]})
        entry["count"] += 1
        entry["area_mu"] += p["area_mu"]
    batches = [b for b in approval_batches(conn, as_of=as_of, region=region) if b["unsupplied_mu"] > 0]
    approved = categories["approved_not_supplied"]
    approved.update(batches=batches, count=len(batches), area_mu=sum(b["unsupplied_mu"] for b in batches))
    return {"as_of": as_of, "categories": list(categories.values())}


def _parcels(conn: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = conn.execute(
        text(
            "SELECT id AS parcel_id, land_code, location, right_holder, area_mu, zone_id, renewal_status"
            " FROM parcel WHERE id IN (SELECT unnest(CAST(:ids AS bigint[])))"
        ),
        {"ids": sorted(set(ids))},
    ).mappings()
    return {r["parcel_id"]: dict(r) for r in rows}


def deadlines(
    conn: Connection,
    *,
    as_of: dt.date,
    within: int = 180,
    zone_id: int | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """What falls due in the next ``within`` days (30/90/180), each item in its bucket."""
    if not 0 <= within <= 3650:
        raise InvalidInput("within 应在 0-3650 天之间 (days ahead)")
    rows = conn.execute(
        text(_sql("deadlines.sql")), {"as_of": as_of, "within": within, "zone_id": zone_id, "region": region}
    ).mappings()
    items = []
    for r in rows:
        bucket = next((b for b in BUCKETS if r["days_left"] <= b), None)
        items.append({**r, "kind_label": DEADLINE_KINDS[r["kind"]], "bucket": bucket})
    counts = {str(b): sum(1 for i in items if i["bucket"] is not None and i["bucket"] <= b) for b in BUCKETS}
    return {"as_of": as_of, "within": within, "counts": counts, "items": items}


def record_progress(
    conn: Connection,
    parcel_id: int,
    *,
    report_date: dt.date,
    user: str,
    developed_area_m2: float | None = None,
    planned_area_m2: float | None = None,
    invested_wan: float | None = None,
    total_investment_wan: float | None = None,
    halted_since: dt.date | None = None,
    delay_cause: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Record a 开发利用 progress report (动态巡查) of a parcel; one per parcel and date."""
    if delay_cause is not None and delay_cause not in DELAY_CAUSES:
        raise InvalidInput(f"延误原因应为 {', '.join(DELAY_CAUSES)} 之一 (delay_cause)")
    for name, value in (
        ("developed_area_m2", developed_area_m2),
        ("planned_area_m2", planned_area_m2),
        ("invested_wan", invested_wan),
        ("total_investment_wan", total_investment_wan),
    ):
        if value is not None and value < 0:
            raise InvalidInput(f"{name} 不能为负")
    if halted_since is not None and halted_since > report_date:
        raise InvalidInput("中止日期晚于报告日期 (halted_since is after report_date)")
    if report_date > dt.date.today():
        raise InvalidInput(f"报告日期 {report_date} 晚于今天 (report_date is in the future)")
    if (
        conn.execute(
            text("SELECT 1 FROM parcel WHERE id = :id AND landgis_in_scope(region_code)"), {"id": parcel_id}
        ).first()
        is None
    ):
        raise NotFound(f"地块 {parcel_id} 不存在或不在您的管辖范围内 (parcel not found)")
    row = (
        conn.execute(
            text(
                """
            INSERT INTO land_progress (parcel_id, report_date, developed_area_m2, planned_area_m2, invested_wan,
                total_investment_wan, halted_since, delay_cause, note, recorded_by)
            VALUES (:p, :d, :dev, :plan, :inv, :total, :halted, :cause, :note, :user)
            ON CONFLICT (parcel_id, report_date) DO UPDATE SET developed_area_m2 = EXCLUDED.developed_area_m2,
                planned_area_m2 = EXCLUDED.planned_area_m2, invested_wan = EXCLUDED.invested_wan,
                total_investment_wan = EXCLUDED.total_investment_wan, halted_since = EXCLUDED.halted_since,
                delay_cause = EXCLUDED.delay_cause, note = EXCLUDED.note, recorded_by = EXCLUDED.recorded_by
            RETURNING *
            """
            ),
            {
                "p": parcel_id,
                "d": report_date,
                "dev": developed_area_m2,
                "plan": planned_area_m2,
                "inv": invested_wan,
                "total": total_investment_wan,
                "halted": halted_since,
                "cause": delay_cause,
                "note": note,
                "user": user,
            },
        )
        .mappings()
        .one()
    )
    return dict(row)


def add_approval_batch(
    conn: Connection,
    *,
    batch_no: str,
    approved_on: dt.date,
    region_code: str,
    approved_area_mu: float,
    approval_no: str | None = None,
    authority: str | None = None,
    note: str | None = None,
    supplies: list[tuple[int, float, dt.date | None]] | None = None,
) -> dict[str, Any]:
    """Record a 用地批次 and (optionally) the parcels supplied out of it: (parcel id, 亩, date)."""
    if approved_area_mu <= 0:
        raise InvalidInput("批准面积应大于0 (approved_area_mu)")
    if not batch_no.strip():
        raise InvalidInput("需填写批次编号 (batch_no)")
    if (
        conn.execute(
            text("SELECT 1 FROM region WHERE code = :c AND landgis_in_scope(code)"), {"c": region_code}
        ).first()
        is None
    ):
        raise NotFound(f"行政区划 {region_code} 不存在或不在您的管辖范围内 (region not found)")
    wanted = sorted({parcel_id for parcel_id, _, _ in supplies or []})
    if wanted:
        found = set(
            conn.execute(
                text(
                    "SELECT id FROM parcel WHERE id IN (SELECT unnest(CAST(:ids AS bigint[])))"
                    " AND landgis_in_scope(region_code)"
                ),
                {"ids": wanted},
            ).scalars()
        )
        missing = [p for p in wanted if p not in found]
        if missing:
            raise NotFound(f"地块 {', '.join(map(str, missing))} 不存在或不在您的管辖范围内 (parcel not found)")
    batch_id = conn.execute(
        text(
            "INSERT INTO land_approval_batch (batch_no, approval_no, authority, approved_on, region_code,"
            " approved_area_mu, note) VALUES (:no, :ano, :auth, :on, :region, :area, :note) RETURNING id"
        ),
        {
            "no": batch_no.strip(),
            "ano": approval_no,
            "auth": authority,
            "on": approved_on,
            "region": region_code,
            "area": approved_area_mu,
            "note": note,
        },
    ).scalar_one()
    for parcel_id, area, supplied_on in supplies or []:
        if area <= 0:
            raise InvalidInput(f"地块 {parcel_id} 的供地面积应大于0")
        conn.execute(
            text(
                "INSERT INTO land_approval_supply (batch_id, parcel_id, supplied_area_mu, supplied_on)"
                " VALUES (:b, :p, :a, :d)"
            ),
            {"b": batch_id, "p": parcel_id, "a": area, "d": supplied_on},
        )
    return {"id": batch_id, "batch_no": batch_no.strip()}
