"""标准地: agreements with committed indicators, milestones, and the 达产复核 that compares the
enterprise's actual figures with each commitment and records the outcome and action.

Units: 投资强度, 亩均税收, 亩均增加值 and 亩均产值 in 万元/亩 over the agreement's land (the parcel's
亩 unless the agreement names an area); 容积率 dimensionless; 单位能耗 in 吨标煤/万元 of value added and
单位排放 in 吨/万元 (both "lower is better", committed as ≤); R&D share as a ratio (0.032 = 3.2 %).
The enterprises' figures are those of ``enterprise_year`` for the figures year, each enterprise
on the land counted with the share of its land that this parcel is (``standard_actuals.sql``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import Connection, text

from landgis.codes import check_uscc
from landgis.errors import Conflict, InvalidInput, NotFound

#: Rounding of reported values: 4 decimals (1 元 for 万元 figures).
DIGITS = 4


@dataclass(frozen=True)
class Indicator:
    code: str
    label: str
    unit: str
    comparator: str  # the usual direction of the commitment
    per_mu: bool  # a 万元/亩 figure: its shortfall times the land is an amount in 万元


INDICATORS: dict[str, Indicator] = {
    i.code: i
    for i in (
        Indicator("investment_intensity", "固定资产投资强度", "万元/亩", ">=", True),
        Indicator("mu_tax", "亩均税收", "万元/亩", ">=", True),
        Indicator("mu_value_added", "亩均增加值", "万元/亩", ">=", True),
        Indicator("mu_output", "亩均产值", "万元/亩", ">=", True),
        Indicator("far", "容积率", "", ">=", False),
        Indicator("energy_per_va", "单位增加值能耗", "吨标煤/万元", "<=", False),
        Indicator("emissions_per_va", "单位增加值排放", "吨/万元", "<=", False),
        Indicator("rd_ratio", "研发经费占主营业务收入比例", "", ">=", False),
    )
}
ACTIONS = {
    "none": "无需处置",
    "rectify": "限期整改",
    "penalty": "支付违约金",
    "withdraw_incentives": "取消优惠政策",
    "recover_land": "收回土地",
    "other": "其他",
}


def _sql(name: str) -> str:
    return resources.files("landgis.lifecycle").joinpath("sql", name).read_text(encoding="utf-8")


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def actual_values(row: dict[str, Any]) -> dict[str, tuple[float | None, str | None]]:
    """Each indicator's actual value from the summed figures, with a note when it is incomplete."""
    firms = row["firms"]
    land = row["land_mu"]

    def note(*figures: str) -> str | None:
        if firms == 0:
            return "无用地企业记录 (no enterprise on the land that year)"
        short = [f for f in figures if (row[f"{f}_firms"] or 0) < firms]
        return f"{len(short)}项数据缺企业填报 (figures missing for some enterprises)" if short else None

    def per_mu(figure: str) -> tuple[float | None, str | None]:
        missing = note(figure)
        return (None, missing) if missing else (_ratio(row[f"{figure}_wan"], land), None)

    def per_va(figure: str, column: str) -> tuple[float | None, str | None]:
        missing = note(figure, "value_added")
        return (None, missing) if missing else (_ratio(row[column], row["value_added_wan"]), None)

    rd_missing = note("rd", "revenue")
    return {
        "investment_intensity": (
            _ratio(row["invested_wan"], land),
            None if row["invested_wan"] is not None else "无投资额记录 (no investment reported)",
        ),
        "mu_tax": per_mu("tax"),
        "mu_value_added": per_mu("value_added"),
        "mu_output": per_mu("output"),
        "far": (row["far"], None if row["far"] is not None else "无容积率数据 (FAR unknown)"),
        "energy_per_va": per_va("energy", "energy_tce"),
        "emissions_per_va": per_va("emissions", "emissions_t"),
        "rd_ratio": (None, rd_missing) if rd_missing else (_ratio(row["rd_wan"], row["revenue_wan"]), None),
    }


def compare(code: str, comparator: str, committed: float, actual: float | None, land_mu: float) -> dict[str, Any]:
    """One commitment against its actual value: met, shortfall (by how much) or missing."""
    ind = INDICATORS[code]
    result: dict[str, Any] = {
        "indicator": code,
        "label": ind.label,
        "unit": ind.unit,
        "comparator": comparator,
        "committed": committed,
        "actual": None if actual is None else round(actual, DIGITS),
        "status": "missing",
        "shortfall": None,
        "shortfall_ratio": None,
        "shortfall_total_wan": None,
    }
    if actual is None:
        return result
    # Compared at the precision shown (4 decimals): survey areas are never exactly 30.0000 亩.
    actual = round(actual, DIGITS)
    gap = round(committed - actual if comparator == ">=" else actual - committed, DIGITS)
    if gap <= 0:
        result.update(status="met", shortfall=0.0, shortfall_ratio=0.0, shortfall_total_wan=0.0 if ind.per_mu else None)
        return result
    result.update(
        status="shortfall",
        shortfall=round(gap, DIGITS),
        shortfall_ratio=round(gap / committed, DIGITS) if committed else None,
        shortfall_total_wan=round(gap * land_mu, DIGITS) if ind.per_mu else None,
    )
    return result


def _describe(r: dict[str, Any]) -> str:
    unit = f" {r['unit']}" if r["unit"] else ""
    sign = "≥" if r["comparator"] == ">=" else "≤"
    text_ = (
        f"{r['label']} 承诺{sign}{r['committed']:g}{unit}, 实际 {r['actual']:.2f}{unit}, 差 {r['shortfall']:.2f}{unit}"
    )
    if r["shortfall_total_wan"] is not None:
        text_ += f" (合计 {r['shortfall_total_wan']:.2f} 万元)"
    return text_


def _agreement(conn: Connection, agreement_id: int) -> dict[str, Any]:
    row = (
        conn.execute(
            text(
                """
                SELECT a.id, a.parcel_id, p.land_code, p.zddm, p.location, p.area_mu AS parcel_area_mu,
                       a.enterprise_id, e.uscc, e.name AS enterprise_name, a.agreement_no, a.signed_on,
                       a.land_area_mu, coalesce(a.land_area_mu, p.area_mu) AS committed_area_mu,
                       a.initial_period_months, a.review_due_date AS agreed_review_date, d.due_date AS review_due_date,
                       d.due_basis AS review_due_basis, a.note,
                       p.agreed_delivery_date, p.actual_delivery_date, p.agreed_start_date, p.actual_start_date,
                       p.agreed_completion_date, p.actual_completion_date, p.agreed_production_date,
                       p.actual_production_date
                FROM standard_agreement a
                JOIN parcel p ON p.id = a.parcel_id
                JOIN v_standard_review_due d ON d.agreement_id = a.id
                LEFT JOIN enterprise e ON e.id = a.enterprise_id
                WHERE a.id = :id AND landgis_in_scope(p.region_code)
                """
            ),
            {"id": agreement_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"标准地协议 {agreement_id} 不存在或不在您的管辖范围内 (agreement not found)")
    return dict(row)


def commitments(conn: Connection, agreement_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        text("SELECT indicator, comparator, value FROM standard_commitment WHERE agreement_id = :id ORDER BY id"),
        {"id": agreement_id},
    ).mappings()
    return [{**r, "label": INDICATORS[r["indicator"]].label, "unit": INDICATORS[r["indicator"]].unit} for r in rows]


def milestones(agreement: dict[str, Any]) -> list[dict[str, Any]]:
    """交地, 开工, 竣工, 投产 (agreed and actual, from the parcel's contract) and 达产复核."""
    out = [
        {
            "milestone": code,
            "label": label,
            "agreed": agreement[f"agreed_{field}_date"],
            "actual": agreement[f"actual_{field}_date"],
        }
        for code, label, field in (
            ("delivery", "交地", "delivery"),
            ("start", "开工", "start"),
            ("completion", "竣工", "completion"),
            ("production", "投产", "production"),
        )
    ]
    out.append(
        {
            "milestone": "review",
            "label": f"达产复核 (投产后{agreement['initial_period_months']}个月)",
            "agreed": agreement["review_due_date"],
            "actual": None,
        }
    )
    return out


def check(
    conn: Connection,
    agreement_id: int,
    *,
    year: int | None = None,
    overrides: dict[str, float] | None = None,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """The 达产复核 check of one agreement: every commitment against the actual figures of
    ``year`` (default: the year before the review is due), with the shortfall per indicator.

    ``overrides`` replaces actual values the database does not hold (e.g. an audited investment
    figure), keyed by indicator code; each one is marked in the result.
    """
    agreement = _agreement(conn, agreement_id)
    overrides = overrides or {}
    unknown = [k for k in overrides if k not in INDICATORS]
    if unknown:
        raise InvalidInput(f"未知指标 {', '.join(unknown)} (unknown indicator); 可用: {', '.join(INDICATORS)}")
    committed = commitments(conn, agreement_id)
    if not committed:
        raise Conflict(f"标准地协议 {agreement_id} 没有承诺指标 (the agreement has no commitments)")
    row = (
        conn.execute(
            text(_sql("standard_actuals.sql")),
            {"ids": [agreement_id], "year": year, "as_of": as_of or dt.date.today()},
        )
        .mappings()
        .one()
    )
    values = actual_values(dict(row))
    results = []
    for c in committed:
        code = c["indicator"]
        actual, note = values[code]
        source = "enterprise_year" if code not in ("investment_intensity", "far") else "parcel/land_progress"
        if code in overrides:
            actual, note, source = float(overrides[code]), None, "人工录入 (override)"
        result = compare(code, c["comparator"], float(c["value"]), actual, float(row["land_mu"]))
        results.append({**result, "note": note, "source": source})
    shortfalls = [r for r in results if r["status"] == "shortfall"]
    missing = [r for r in results if r["status"] == "missing"]
    outcome = "failed" if shortfalls else ("incomplete" if missing else "passed")
    summary = "; ".join(_describe(r) for r in shortfalls) if shortfalls else None
    if not shortfalls and missing:
        summary = "数据不全: " + "、".join(r["label"] for r in missing)
    return {
        "agreement": {
            k: agreement[k] for k in ("id", "parcel_id", "land_code", "agreement_no", "uscc", "enterprise_name")
        },
        "figures_year": row["year"],
        "land_mu": round(float(row["land_mu"]), DIGITS),
        "enterprises": row["enterprises"],
        "results": results,
        "outcome": outcome,
        "summary": summary,
    }


def create_agreement(
    conn: Connection,
    *,
    parcel_id: int,
    commitments_in: dict[str, float],
    comparators: dict[str, str] | None = None,
    enterprise_uscc: str | None = None,
    agreement_no: str | None = None,
    signed_on: dt.date | None = None,
    land_area_mu: float | None = None,
    initial_period_months: int = 36,
    review_due_date: dt.date | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Record the 标准地 agreement of a parcel (one per parcel) with its commitments."""
    if not commitments_in:
        raise InvalidInput("至少需要一项承诺指标 (at least one commitment)")
    comparators = comparators or {}
    for code, value in commitments_in.items():
        if code not in INDICATORS:
            raise InvalidInput(f"未知指标 '{code}' (unknown indicator); 可用: {', '.join(INDICATORS)}")
        if value is None or value < 0:
            raise InvalidInput(f"{INDICATORS[code].label} 承诺值应为非负数 (commitment must be >= 0)")
        if comparators.get(code, ">=") not in (">=", "<="):
            raise InvalidInput(f"{INDICATORS[code].label} 比较符应为 >= 或 <= (comparator)")
    if not 0 <= initial_period_months <= 240:
        raise InvalidInput("达产期应在 0-240 个月之间 (initial_period_months)")
    parcel = conn.execute(
        text("SELECT id FROM parcel WHERE id = :id AND landgis_in_scope(region_code)"), {"id": parcel_id}
    ).first()
    if parcel is None:
        raise NotFound(f"地块 {parcel_id} 不存在或不在您的管辖范围内 (parcel not found)")
    enterprise_id = None
    if enterprise_uscc:
        checked = check_uscc(enterprise_uscc)
        if not checked.valid:
            raise InvalidInput(f"统一社会信用代码无效: {checked.reason}")
        enterprise_id = conn.execute(
            text("SELECT id FROM enterprise WHERE uscc = :u"), {"u": checked.value}
        ).scalar_one_or_none()
        if enterprise_id is None:
            raise NotFound(f"企业 {checked.value} 不存在 (enterprise not found; load it first)")
    if conn.execute(text("SELECT 1 FROM standard_agreement WHERE parcel_id = :p"), {"p": parcel_id}).first():
        raise Conflict(f"地块 {parcel_id} 已有标准地协议 (the parcel already has an agreement)")
    agreement_id = conn.execute(
        text(
            "INSERT INTO standard_agreement (parcel_id, enterprise_id, agreement_no, signed_on, land_area_mu,"
            " initial_period_months, review_due_date, note) VALUES (:p, :e, :no, :signed, :area, :months, :due, :note)"
            " RETURNING id"
        ),
        {
            "p": parcel_id,
            "e": enterprise_id,
            "no": agreement_no,
            "signed": signed_on,
            "area": land_area_mu,
            "months": initial_period_months,
            "due": review_due_date,
            "note": note,
        },
    ).scalar_one()
    conn.execute(
        text("INSERT INTO standard_commitment (agreement_id, indicator, comparator, value) VALUES (:a, :i, :c, :v)"),
        [
            {"a": agreement_id, "i": code, "c": comparators.get(code, INDICATORS[code].comparator), "v": value}
            for code, value in commitments_in.items()
        ],
    )
    conn.execute(
        text("UPDATE parcel SET is_standard_land = true WHERE id = :p AND NOT is_standard_land"), {"p": parcel_id}
    )
    return agreement_detail(conn, int(agreement_id))


def agreement_detail(conn: Connection, agreement_id: int) -> dict[str, Any]:
    """An agreement with its commitments, milestones and recorded reviews."""
    agreement = _agreement(conn, agreement_id)
    reviews = conn.execute(
        text(
            "SELECT id, figures_year, reviewed_on, outcome, action, action_note, penalty_wan, results, reviewer,"
            " recorded_at FROM standard_review WHERE agreement_id = :id ORDER BY reviewed_on DESC, id DESC"
        ),
        {"id": agreement_id},
    ).mappings()
    return {
        **{k: v for k, v in agreement.items() if not k.startswith(("agreed_", "actual_"))},
        "commitments": commitments(conn, agreement_id),
        "milestones": milestones(agreement),
        "reviews": [{**r, "action_label": ACTIONS.get(r["action"], r["action"])} for r in reviews],
    }


def agreement_for_parcel(conn: Connection, parcel_id: int) -> dict[str, Any]:
    agreement_id = conn.execute(
        text(
            "SELECT a.id FROM standard_agreement a JOIN parcel p ON p.id = a.parcel_id"
            " WHERE a.parcel_id = :p AND landgis_in_scope(p.region_code)"
        ),
        {"p": parcel_id},
    ).scalar_one_or_none()
    if agreement_id is None:
        raise NotFound(f"地块 {parcel_id} 没有标准地协议 (no agreement for this parcel)")
    return agreement_detail(conn, int(agreement_id))


def record_review(
    conn: Connection,
    agreement_id: int,
    *,
    reviewed_on: dt.date,
    reviewer: str,
    year: int | None = None,
    overrides: dict[str, float] | None = None,
    action: str = "none",
    action_note: str | None = None,
    penalty_wan: float | None = None,
) -> dict[str, Any]:
    """Hold the 达产复核: compute the check, store it with the outcome and the action decided."""
    if action not in ACTIONS:
        raise InvalidInput(f"处置措施应为 {', '.join(ACTIONS)} 之一 (action)")
    if not (reviewer or "").strip():
        raise InvalidInput("需填写复核人 (reviewer is required)")
    if reviewed_on > dt.date.today():
        raise InvalidInput(f"复核日期 {reviewed_on} 晚于今天 (reviewed_on is in the future)")
    if penalty_wan is not None and penalty_wan < 0:
        raise InvalidInput("违约金不能为负 (penalty_wan)")
    result = check(conn, agreement_id, year=year, overrides=overrides, as_of=reviewed_on)
    if result["outcome"] == "passed" and action not in ("none", "other"):
        raise InvalidInput(f"复核达标时不应采取「{ACTIONS[action]}」(the review passed)")
    review_id = conn.execute(
        text(
            "INSERT INTO standard_review (agreement_id, figures_year, reviewed_on, outcome, action, action_note,"
            " penalty_wan, results, reviewer) VALUES (:a, :y, :on, :outcome, :action, :note, :penalty,"
            " CAST(:results AS jsonb), :reviewer) RETURNING id"
        ),
        {
            "a": agreement_id,
            "y": result["figures_year"],
            "on": reviewed_on,
            "outcome": result["outcome"],
            "action": action,
            "note": action_note,
            "penalty": penalty_wan,
            "results": json.dumps(
                {"results": result["results"], "summary": result["summary"], "enterprises": result["enterprises"]},
                ensure_ascii=False,
                default=str,
            ),
            "reviewer": reviewer.strip(),
        },
    ).scalar_one()
    return {
        **result,
        "review_id": review_id,
        "reviewed_on": reviewed_on,
        "action": action,
        "action_label": ACTIONS[action],
        "penalty_wan": penalty_wan,
    }


def list_agreements(conn: Connection, *, zone_id: int | None = None, region: str | None = None) -> list[dict[str, Any]]:
    """The 标准地 agreements of a zone or region with their 达产复核 date and last outcome."""
    rows = conn.execute(
        text(
            """
            SELECT a.id, a.parcel_id, p.land_code, p.location, e.uscc, e.name AS enterprise_name, a.agreement_no,
                   d.due_date AS review_due_date, last.outcome AS last_outcome, last.reviewed_on AS last_reviewed_on
            FROM standard_agreement a
            JOIN parcel p ON p.id = a.parcel_id
            JOIN v_standard_review_due d ON d.agreement_id = a.id
            LEFT JOIN enterprise e ON e.id = a.enterprise_id
            LEFT JOIN LATERAL (SELECT s.outcome, s.reviewed_on FROM standard_review s WHERE s.agreement_id = a.id
                               ORDER BY s.reviewed_on DESC, s.id DESC LIMIT 1) last ON true
            WHERE landgis_in_scope(p.region_code)
              AND (CAST(:zone_id AS integer) IS NULL OR p.zone_id = CAST(:zone_id AS integer))
              AND (CAST(:region AS text) IS NULL OR starts_with(p.region_code, CAST(:region AS text)))
            ORDER BY d.due_date NULLS LAST, p.land_code
            """
        ),
        {"zone_id": zone_id, "region": region},
    ).mappings()
    return [dict(r) for r in rows]


def below_commitment(
    conn: Connection, *, as_of: dt.date, zone_id: int | None = None, region: str | None = None
) -> list[dict[str, Any]]:
    """投而未达: agreements whose 达产复核 is due by ``as_of`` and either failed their last recorded
    review or, when none is recorded, show a shortfall in the check of the figures year."""
    out = []
    for a in list_agreements(conn, zone_id=zone_id, region=region):
        if a["review_due_date"] is None or a["review_due_date"] > as_of:
            continue
        if a["last_outcome"] is not None:
            if a["last_outcome"] != "failed":
                continue
            summary = conn.execute(
                text(
                    "SELECT results ->> 'summary' FROM standard_review WHERE agreement_id = :id"
                    " ORDER BY reviewed_on DESC, id DESC LIMIT 1"
                ),
                {"id": a["id"]},
            ).scalar_one()
            detail = f"{a['last_reviewed_on']} 复核未达标: {summary}"
        else:
            if not commitments(conn, a["id"]):
                continue
            result = check(conn, a["id"], as_of=as_of)
            if result["outcome"] != "failed":
                continue
            detail = f"未复核, 按{result['figures_year']}年数据测算: {result['summary']}"
        out.append(
            {
                "category": "producing_below_commitment",
                "parcel_id": a["parcel_id"],
                "basis_date": a["review_due_date"],
                "detail": detail,
            }
        )
    return out
