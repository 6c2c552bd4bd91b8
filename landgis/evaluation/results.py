"""Reading a run's results: per enterprise (with the line-by-line explanation), per parcel, the
latest class of a firm or a parcel, and the comparison of two runs (year on year: A→C …)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from landgis.errors import InvalidInput, NotFound
from landgis.evaluation.policy import FIELDS, Policy
from landgis.evaluation.runs import STATUS_LABELS, get_run, run_policy
from landgis.evaluation.scoring import (
    NOTE_CAPPED,
    NOTE_MISSING_MEAN,
    NOTE_MISSING_PENALTY,
    NOTE_MISSING_ZERO,
    NOTE_NO_BENCHMARK,
)

BENCHMARK_WORDS = {"segment_mean": "本组均值", "segment_weighted_mean": "本组加权均值, Σ分子÷Σ分母"}
SCALE_LABELS = {"above": "规上", "below": "规下"}
ORDERS = {"rank": "segment, rank NULLS LAST, enterprise_id", "score": "score DESC NULLS LAST, enterprise_id"}


def _num(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:,.{digits}f}"


def _result_row(row: Any, policy: Policy) -> dict[str, Any]:
    """A result row as data, with its indicators named from the run's policy."""
    segment = policy.segment(row.segment) if row.segment in {s.id for s in policy.segments} else None
    rule = policy.class_rule(segment) if segment else policy.classes
    indicators = []
    if segment is not None and row.indicator_values is not None:
        benchmarks = {}
        for spec, value, score, note in zip(
            segment.indicators,
            row.indicator_values,
            row.indicator_scores or [],
            row.indicator_notes or [None] * len(segment.indicators),
            strict=False,
        ):
            d = spec.definition
            benchmarks[spec.indicator] = spec.benchmark
            indicators.append(
                {
                    "indicator": spec.indicator,
                    "name": d.name,
                    "unit": d.unit,
                    "value": value,
                    "weight": spec.weight,
                    "score": score,
                    "note": note,
                }
            )
    return {
        "enterprise_id": int(row.enterprise_id),
        "uscc": row.uscc,
        "name": row.name,
        "scale": row.scale,
        "segment": row.segment,
        "segment_name": segment.name if segment else row.segment,
        "status": row.status,
        "status_label": STATUS_LABELS.get(row.status, row.status),
        "land_area_mu": row.land_area_mu,
        "figures": dict(row.figures),
        "indicators": indicators,
        "base_score": row.base_score,
        "adjustment": row.adjustment,
        "score": row.score,
        "rank": row.rank,
        "rank_of": row.rank_of,
        "class": row.klass,
        "class_label": rule.labels.get(row.klass) if row.klass else None,
        "notes": list(row.notes or []),
    }


_RESULT_SELECT = (
    "SELECT r.enterprise_id, e.uscc, e.name, e.scale, r.segment, r.status, r.land_area_mu, r.parcel_ids,"
    " r.parcel_mu, r.figures, r.indicator_values, r.indicator_scores, r.indicator_notes, r.base_score,"
    " r.adjustment, r.score, r.rank, r.rank_of, r.class AS klass, r.notes"
    " FROM evaluation_result r JOIN enterprise e ON e.id = r.enterprise_id"
)


def enterprise_results(
    conn: Connection,
    run_id: int,
    *,
    segment: str | None = None,
    klass: str | None = None,
    status: str | None = None,
    order: str = "rank",
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of a run's enterprise results (filtered by segment, class, status)."""
    get_run(conn, run_id)
    policy = run_policy(conn, run_id)
    if order not in ORDERS:
        raise InvalidInput(f"order: 取值应为 {', '.join(ORDERS)} (unknown order)")
    where = (
        " WHERE r.run_id = :run AND (CAST(:seg AS text) IS NULL OR r.segment = :seg)"
        " AND (CAST(:cls AS text) IS NULL OR r.class = :cls) AND (CAST(:st AS text) IS NULL OR r.status = :st)"
    )
    params = {"run": run_id, "seg": segment, "cls": klass, "st": status, "n": limit, "o": offset}
    # ``where`` is fixed text and the order comes from ORDERS: no caller value reaches the SQL text.
    total = conn.execute(text("SELECT count(*) FROM evaluation_result r" + where), params).scalar_one()  # noqa: S608
    rows = conn.execute(
        text(_RESULT_SELECT + where + f" ORDER BY {ORDERS[order]} LIMIT :n OFFSET :o"),
        params,
    ).all()
    return {"run_id": run_id, "total": int(total), "items": [_result_row(r, policy) for r in rows]}


def enterprise_result(conn: Connection, run_id: int, enterprise_id: int) -> dict[str, Any]:
    """One enterprise's result in a run."""
    get_run(conn, run_id)
    row = conn.execute(
        text(_RESULT_SELECT + " WHERE r.run_id = :run AND r.enterprise_id = :e"),
        {"run": run_id, "e": enterprise_id},
    ).first()
    if row is None:
        raise NotFound(f"企业 {enterprise_id} 不在评价批次 {run_id} 中 (not evaluated in this run)")
    return _result_row(row, run_policy(conn, run_id))


# --------------------------------------------------------------------------- explanation


@dataclass
class Explanation:
    """Line-by-line account of one enterprise's result (``text`` is the lines joined)."""

    run_id: int
    enterprise_id: int
    lines: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, text_: str, **data: Any) -> None:
        self.lines.append({"kind": kind, "text": text_, **data})

    @property
    def text(self) -> str:
        return "\n".join(line["text"] for line in self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "enterprise_id": self.enterprise_id, "lines": self.lines, "text": self.text}


def explain(conn: Connection, run_id: int, enterprise_id: int) -> Explanation:
    """Explain one enterprise's score, rank and class in a run, line by line, from what was stored."""
    run = get_run(conn, run_id)
    policy = run_policy(conn, run_id)
    row = conn.execute(
        text(_RESULT_SELECT + " WHERE r.run_id = :run AND r.enterprise_id = :e"),
        {"run": run_id, "e": enterprise_id},
    ).first()
    if row is None:
        raise NotFound(f"企业 {enterprise_id} 不在评价批次 {run_id} 中 (not evaluated in this run)")
    out = Explanation(run_id=run_id, enterprise_id=enterprise_id)
    out.add(
        "run",
        f"评价批次 {run.id}: {policy.name} (版本 {policy.version}), {run.year} 年度数据",
        policy_id=policy.id,
        policy_version=policy.version,
        year=run.year,
    )
    scale = SCALE_LABELS.get(row.scale or "", "规模未知")
    out.add("enterprise", f"企业: {row.name} (统一社会信用代码 {row.uscc or '无'}, {scale})", uscc=row.uscc)
    segment = policy.segment(row.segment) if row.segment in {s.id for s in policy.segments} else None
    out.add("segment", f"评价分组: {segment.name if segment else row.segment}", segment=row.segment)
    zddm = _parcel_codes(conn, list(row.parcel_ids or []))
    parts = [
        f"{zddm.get(int(p), str(p))} {_num(float(m))}亩"
        for p, m in zip(row.parcel_ids or [], row.parcel_mu or [], strict=False)
    ]
    land = f"用地面积 {_num(row.land_area_mu)} 亩" + (f" = {' + '.join(parts)}" if parts else " (无用地记录)")
    out.add("land", land, land_area_mu=row.land_area_mu)
    if row.status == "merged":
        for note in row.notes or ["承租企业, 与出租方合并评价"]:
            out.add("status", f"{note}, 本身不单独定级 (merged with its landlord)")
        return out
    figures = dict(row.figures)
    if segment is None:
        return out
    for spec, value, score, note in zip(
        segment.indicators,
        row.indicator_values or [],
        row.indicator_scores or [],
        row.indicator_notes or [None] * len(segment.indicators),
        strict=False,
    ):
        out.add(*_indicator_line(spec, value, score, note, figures, row.land_area_mu, run.summary, row.segment))
    out.add("base_score", f"指标得分合计 {_num(row.base_score)}", base_score=row.base_score)
    for note_text in row.notes or []:
        kind = "adjustment" if "分)" in note_text else ("veto" if row.status == "vetoed" else "exemption")
        out.add(kind, note_text)
    if row.adjustment:
        out.add("score", f"综合得分 {_num(row.base_score)} {row.adjustment:+g} = {_num(row.score)}", score=row.score)
    else:
        out.add("score", f"综合得分 {_num(row.score)}", score=row.score)
    rule = policy.class_rule(segment)
    label = rule.labels.get(row.klass, "") if row.klass else ""
    if row.status == "exempt":
        out.add("class", "不定等级 (not classed: exemption above)", **{"class": None})
    elif row.status == "vetoed":
        out.add("class", f"一票否决 → {row.klass}类 {label}", **{"class": row.klass})
    elif rule.method == "percentile":
        shares = rule.shares or {}
        cumulative, bands = 0.0, []
        for name, share in shares.items():
            bands.append(f"{name} 前{(cumulative + share) * 100:g}%")
            cumulative += share
        position = row.rank / row.rank_of if row.rank_of else None
        out.add(
            "class",
            f"本组排名 第 {row.rank} 名 / 共 {row.rank_of} 家 (位于前 {_num(position * 100 if position else None, 2)}%);"
            f" 分档 {', '.join(bands)} → {row.klass}类 {label}",
            rank=row.rank,
            rank_of=row.rank_of,
            **{"class": row.klass},
        )
    else:
        bounds = ", ".join(f"{k} ≥ {v:g}" if v is not None else f"{k} 其余" for k, v in (rule.thresholds or {}).items())
        out.add(
            "class",
            f"得分 {_num(row.score)}; 分档 {bounds} → {row.klass}类 {label} (本组排名 {row.rank}/{row.rank_of})",
            rank=row.rank,
            rank_of=row.rank_of,
            **{"class": row.klass},
        )
    return out


def _indicator_line(
    spec: Any,
    value: float | None,
    score: float | None,
    note: str | None,
    figures: dict[str, Any],
    land_mu: float | None,
    summary: dict[str, Any],
    segment_id: str,
) -> tuple[str, str]:
    d = spec.definition
    num_name, num_unit = FIELDS[d.numerator]
    den_name, den_unit = FIELDS[d.denominator]
    num = land_mu if d.numerator == "land_mu" else figures.get(d.numerator)
    den = land_mu if d.denominator == "land_mu" else figures.get(d.denominator)
    stored = summary.get("segments", {}).get(segment_id, {}).get("benchmarks", {})
    bench = stored.get(spec.indicator)
    rule = BENCHMARK_WORDS.get(spec.benchmark, "公布值") if isinstance(spec.benchmark, str) else "公布值"
    scale = f" × {d.scale:g}" if d.scale != 1 else ""
    head = f"{d.name} = {num_name} {_num(num)} {num_unit} ÷ {den_name} {_num(den)} {den_unit}{scale}"
    if note in (NOTE_MISSING_ZERO, NOTE_MISSING_MEAN, NOTE_MISSING_PENALTY, NOTE_NO_BENCHMARK):
        why = {
            NOTE_MISSING_ZERO: "数据缺失, 该项计 0 分",
            NOTE_MISSING_MEAN: "数据缺失, 取本组该项平均得分",
            NOTE_MISSING_PENALTY: f"数据缺失, 扣 {spec.penalty or 0:g} 分",
            NOTE_NO_BENCHMARK: "本组无法计算基准值, 按缺失处理",
        }[note]
        text_ = f"{d.name}: {why} = {_num(score)} 分 (权重 {spec.weight:g})"
    else:
        if spec.direction == "higher":
            formula = f"{_num(value)} ÷ {_num(bench)} × {spec.weight:g}"
        else:
            formula = f"{_num(bench)} ÷ {_num(value)} × {spec.weight:g} (越低越好)"
        capped = f", 封顶 {spec.cap:g}×权重" if note == NOTE_CAPPED else ""
        text_ = (
            f"{head} = {_num(value)} {d.unit}; 基准值 {_num(bench)} ({rule}); 得分 = {formula}{capped} = {_num(score)}"
        )
    return "indicator", text_


def _parcel_codes(conn: Connection, parcel_ids: list[int]) -> dict[int, str]:
    if not parcel_ids:
        return {}
    rows = conn.execute(
        text("SELECT id, coalesce(zddm, zddm_raw, '宗地' || id) FROM parcel WHERE id = ANY(:ids)"), {"ids": parcel_ids}
    ).all()
    return {int(r[0]): str(r[1]) for r in rows}


# --------------------------------------------------------------------------- comparison and latest


def compare_runs(conn: Connection, run_id: int, other_id: int, *, limit: int = 200) -> dict[str, Any]:
    """Class transitions between two runs (e.g. 2023 → 2024): a matrix and the firms that moved."""
    first, second = get_run(conn, run_id), get_run(conn, other_id)
    rows = conn.execute(
        text(
            "SELECT coalesce(a.class, '不定等级') AS a_class, coalesce(b.class, '不定等级') AS b_class, count(*)"
            " FROM evaluation_result a JOIN evaluation_result b ON b.enterprise_id = a.enterprise_id"
            " WHERE a.run_id = :a AND b.run_id = :b AND a.status <> 'merged' AND b.status <> 'merged'"
            " GROUP BY 1, 2"
        ),
        {"a": run_id, "b": other_id},
    ).all()
    matrix: dict[str, dict[str, int]] = {}
    for a_class, b_class, count in rows:
        matrix.setdefault(a_class, {})[b_class] = int(count)
    only = conn.execute(
        text(
            "SELECT (SELECT count(*) FROM evaluation_result a WHERE a.run_id = :a AND NOT EXISTS"
            "  (SELECT 1 FROM evaluation_result b WHERE b.run_id = :b AND b.enterprise_id = a.enterprise_id)),"
            " (SELECT count(*) FROM evaluation_result b WHERE b.run_id = :b AND NOT EXISTS"
            "  (SELECT 1 FROM evaluation_result a WHERE a.run_id = :a AND a.enterprise_id = b.enterprise_id))"
        ),
        {"a": run_id, "b": other_id},
    ).one()
    moved = conn.execute(
        text(
            "SELECT a.enterprise_id, e.name, e.uscc, a.class, b.class, a.score, b.score"
            " FROM evaluation_result a JOIN evaluation_result b ON b.enterprise_id = a.enterprise_id"
            " JOIN enterprise e ON e.id = a.enterprise_id"
            " WHERE a.run_id = :a AND b.run_id = :b AND a.class IS DISTINCT FROM b.class"
            " ORDER BY a.class NULLS LAST, b.class NULLS LAST, a.enterprise_id LIMIT :n"
        ),
        {"a": run_id, "b": other_id, "n": limit},
    ).all()
    same = sum(v for a, row in matrix.items() for b, v in row.items() if a == b)
    total = sum(v for row in matrix.values() for v in row.values())
    return {
        "from": first.as_dict(),
        "to": second.as_dict(),
        "matrix": matrix,
        "both": total,
        "unchanged": same,
        "changed": total - same,
        "only_in_from": int(only[0]),
        "only_in_to": int(only[1]),
        "changes": [
            {
                "enterprise_id": int(r[0]),
                "name": r[1],
                "uscc": r[2],
                "from_class": r[3],
                "to_class": r[4],
                "from_score": r[5],
                "to_score": r[6],
            }
            for r in moved
        ],
    }


def latest_enterprise_class(conn: Connection, enterprise_id: int, year: int | None = None) -> dict[str, Any]:
    """An enterprise's class in the latest run of ``year`` (or of its latest evaluated year)."""
    row = conn.execute(
        text(
            "SELECT v.year, v.class, v.score, v.segment, v.status, v.run_id FROM v_enterprise_class v"
            " JOIN evaluation_run r ON r.id = v.run_id"
            " WHERE v.enterprise_id = :e AND (CAST(:y AS integer) IS NULL OR v.year = :y)"
            " AND landgis_in_scope(r.region_code) ORDER BY v.year DESC, v.run_id DESC LIMIT 1"
        ),
        {"e": enterprise_id, "y": year},
    ).first()
    if row is None:
        raise NotFound(f"企业 {enterprise_id} 尚无评价结果 (not evaluated{f' in {year}' if year else ''})")
    return {
        "enterprise_id": enterprise_id,
        "year": int(row.year),
        "class": row[1],
        "score": row.score,
        "segment": row.segment,
        "status": row.status,
        "run_id": int(row.run_id),
    }


def parcel_evaluation(conn: Connection, parcel_id: int, year: int | None = None) -> dict[str, Any]:
    """A parcel's 亩均 and class in the latest run of ``year`` (or its latest), with every firm on it."""
    row = conn.execute(
        text(
            "SELECT v.year, v.class, v.mu_tax, v.mu_value_added, v.tax_wan, v.value_added_wan,"
            " v.enterprise_count, v.main_enterprise_id, v.run_id FROM v_parcel_class v"
            " WHERE v.parcel_id = :p AND (CAST(:y AS integer) IS NULL OR v.year = :y)"
            " ORDER BY v.year DESC LIMIT 1"
        ),
        {"p": parcel_id, "y": year},
    ).first()
    if row is None:
        raise NotFound(f"宗地 {parcel_id} 尚无评价结果 (no evaluation{f' in {year}' if year else ''})")
    firms = conn.execute(
        text(
            "SELECT e.id, e.name, e.uscc, res.class, res.score, res.status, res.segment"
            " FROM evaluation_result res JOIN enterprise e ON e.id = res.enterprise_id"
            " WHERE res.run_id = :run AND res.enterprise_id IN (SELECT enterprise_id FROM occupancy WHERE parcel_id = :p)"
            " AND :p = ANY(res.parcel_ids) ORDER BY res.score DESC NULLS LAST, e.id"
        ),
        {"run": row.run_id, "p": parcel_id},
    ).all()
    return {
        "parcel_id": parcel_id,
        "year": int(row.year),
        "run_id": int(row.run_id),
        "class": row[1],
        "mu_tax": row.mu_tax,
        "mu_value_added": row.mu_value_added,
        "tax_wan": row.tax_wan,
        "value_added_wan": row.value_added_wan,
        "enterprise_count": row.enterprise_count,
        "main_enterprise_id": row.main_enterprise_id,
        "enterprises": [
            {
                "enterprise_id": int(f[0]),
                "name": f[1],
                "uscc": f[2],
                "class": f[3],
                "score": f[4],
                "status": f[5],
                "segment": f[6],
            }
            for f in firms
        ],
    }
