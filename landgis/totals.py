"""Zone and region totals against targets (the totals page).

Per zone and per region (under the caller's scope): industrial land in 亩, by class (the latest
evaluation of the year) and by renewal status; 治理面积 and 腾出面积 per year (read only from the
view ``v_renewal_area_by_year``) against the zone's targets; area-weighted FAR now and at the
start of a target period (容积率提升); 亩均税收 and 亩均增加值 (area-weighted: Σ tax ÷ Σ 亩 of
land in use), the 规上 ones and their growth on the year before against the growth targets.

Reads the pre-summed ``totals_cell`` rows (``landgis.aggregates``), so a page costs a few small
queries; the cells are rebuilt when parcels, firms, figures or runs changed since.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from landgis.aggregates import ensure_totals
from landgis.errors import InvalidInput, NotFound, PermissionDenied

UNCLASSED = "未评价"
CLASS_ORDER = ("A", "B", "C", "D", UNCLASSED)
STATUS_LABELS = {
    "normal": "正常",
    "identified": "认定低效",
    "planned": "列入计划",
    "in_progress": "整治中",
    "freed": "已腾出",
    "resupplied": "已再供应",
    "producing": "已投产",
    "upgraded": "提容增效完成",
    "exempt": "豁免",
}
METRIC_LABELS = {
    "governed_mu": ("治理面积", "亩"),
    "freed_mu": ("腾出面积", "亩"),
    "far_uplift": ("容积率提升", ""),
    "mu_tax_growth": ("规上工业亩均税收增长", "%"),
    "mu_value_added_growth": ("规上工业亩均增加值增长", "%"),
}
_SUMS = (
    "parcels",
    "area_mu",
    "occupied_mu",
    "tax_wan",
    "value_added_wan",
    "tax_above_wan",
    "value_added_above_wan",
    "land_above_mu",
    "far_area_mu",
    "far_x_mu",
    "far_start_x_mu",
)


@dataclass
class Tally:
    """Sums over cells of one unit (zone or region) and year."""

    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_SUMS, 0.0))
    industrial_mu: float = 0.0
    by_class: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CLASS_ORDER, 0.0))
    by_status: dict[str, float] = field(default_factory=dict)

    def add(self, row: Any) -> None:
        if row.industrial:
            for name in _SUMS:
                self.sums[name] += float(getattr(row, name))
            self.industrial_mu += float(row.area_mu)
            klass = row.klass or UNCLASSED
            self.by_class[klass] = self.by_class.get(klass, 0.0) + float(row.area_mu)
            self.by_status[row.renewal_status] = self.by_status.get(row.renewal_status, 0.0) + float(row.area_mu)

    def ratio(self, num: str, den: str) -> float | None:
        d = self.sums[den]
        return self.sums[num] / d if d > 0 else None


def _growth(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before <= 0:
        return None
    return now / before - 1.0


def _region_check(conn: Connection, region_code: str | None) -> None:
    if region_code is None:
        return
    row = conn.execute(
        text(
            "SELECT landgis_in_scope(r.code) OR EXISTS (SELECT 1 FROM region c WHERE starts_with(c.code, r.code)"
            " AND landgis_in_scope(c.code)) FROM region r WHERE r.code = :c"
        ),
        {"c": region_code},
    ).first()
    if row is None:
        raise NotFound(f"region_code: 行政区划 {region_code} 不存在 (no such region)")
    if not row[0]:
        raise PermissionDenied(f"region_code: {region_code} 不在您的权限范围内 (outside your scope)")


def zone_totals(conn: Connection, year: int, *, region_code: str | None = None) -> dict[str, Any]:
    """The totals page for ``year``: the area, its zones and its sub-regions, with target progress."""
    if not 1990 <= year <= 2100:
        raise InvalidInput(f"year: 年度 {year} 无效")
    _region_check(conn, region_code)
    scope = {"region": region_code}
    targets = conn.execute(
        text(
            "SELECT t.zone_id, t.metric, t.year_from, t.year_to, t.value, t.note FROM zone_target t"
            " JOIN zone z ON z.id = t.zone_id"
            " WHERE t.year_from <= :y AND t.year_to >= :y AND landgis_in_scope(z.region_code)"
            " AND (CAST(:region AS text) IS NULL OR starts_with(z.region_code, :region))"
            " ORDER BY t.zone_id, t.metric, t.year_from"
        ),
        {"y": year, **scope},
    ).all()
    years = {year, year - 1} | {int(t.year_from) for t in targets if t.metric == "far_uplift"}
    years |= {int(t.year_from) - 1 for t in targets if t.metric.endswith("_growth")}
    for y in sorted(years):
        ensure_totals(conn, y)
    cells = conn.execute(
        text(
            "SELECT year, zone_id, region_code, industrial, renewal_status, class AS klass, parcels, area_mu,"
            " occupied_mu, tax_wan, value_added_wan, tax_above_wan, value_added_above_wan, land_above_mu,"
            " far_area_mu, far_x_mu, far_start_x_mu FROM totals_cell"
            " WHERE year = ANY(:years) AND landgis_in_scope(region_code)"
            " AND (CAST(:region AS text) IS NULL OR starts_with(region_code, :region))"
        ),
        {"years": sorted(years), **scope},
    ).all()
    renewal = conn.execute(
        text(
            "SELECT zone_id, region_code, year, governed_mu, freed_mu FROM v_renewal_area_by_year"
            " WHERE CAST(:region AS text) IS NULL OR starts_with(region_code, :region)"
        ),
        scope,
    ).all()
    zones = {
        int(r.id): r
        for r in conn.execute(
            text(
                "SELECT id, code, name, zone_type, region_code, area_mu FROM zone"
                " WHERE landgis_in_scope(region_code)"
                " AND (CAST(:region AS text) IS NULL OR starts_with(region_code, :region)) ORDER BY code"
            ),
            scope,
        ).all()
    }
    children = conn.execute(
        text(
            "SELECT code, name FROM region WHERE landgis_in_scope(code) AND CASE WHEN CAST(:region AS text) IS NULL"
            " THEN level = 3 ELSE parent_code = :region END ORDER BY code"
        ),
        scope,
    ).all()

    by_zone: dict[tuple[int | None, int], Tally] = defaultdict(Tally)
    by_region: dict[tuple[str, int], Tally] = defaultdict(Tally)
    whole: dict[int, Tally] = defaultdict(Tally)
    child_codes = [str(c.code) for c in children]
    for row in cells:
        y = int(row.year)
        whole[y].add(row)
        by_zone[(row.zone_id, y)].add(row)
        child = next((c for c in child_codes if str(row.region_code).startswith(c)), None)
        if child is not None:
            by_region[(child, y)].add(row)
    done: dict[tuple[int | None, int], tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))
    done_region: dict[tuple[str, int], tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))
    done_all: dict[int, tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))
    for r in renewal:
        key = int(r.year)
        governed, freed = float(r.governed_mu), float(r.freed_mu)
        for table, k in ((done, (r.zone_id, key)), (done_all, key)):
            g, f = table[k]  # type: ignore[index]
            table[k] = (g + governed, f + freed)  # type: ignore[index]
        child = next((c for c in child_codes if str(r.region_code).startswith(c)), None)
        if child is not None:
            g, f = done_region[(child, key)]
            done_region[(child, key)] = (g + governed, f + freed)

    def unit(tallies: dict[int, Tally], renewed: dict[int, tuple[float, float]]) -> dict[str, Any]:
        now, before = tallies.get(year, Tally()), tallies.get(year - 1, Tally())
        mu_tax_above, mu_tax_above_before = (
            now.ratio("tax_above_wan", "land_above_mu"),
            before.ratio("tax_above_wan", "land_above_mu"),
        )
        mu_va_above = now.ratio("value_added_above_wan", "land_above_mu")
        mu_va_above_before = before.ratio("value_added_above_wan", "land_above_mu")
        return {
            "parcels": int(now.sums["parcels"]),
            "industrial_mu": now.industrial_mu,
            "occupied_mu": now.sums["occupied_mu"],
            "by_class": dict(now.by_class),
            "by_status": {k: now.by_status[k] for k in STATUS_LABELS if k in now.by_status}
            | {k: v for k, v in now.by_status.items() if k not in STATUS_LABELS},
            "tax_wan": now.sums["tax_wan"],
            "value_added_wan": now.sums["value_added_wan"],
            "mu_tax": now.ratio("tax_wan", "occupied_mu"),
            "mu_value_added": now.ratio("value_added_wan", "occupied_mu"),
            "mu_tax_above": mu_tax_above,
            "mu_value_added_above": mu_va_above,
            "mu_tax_above_growth": _growth(mu_tax_above, mu_tax_above_before),
            "mu_value_added_above_growth": _growth(mu_va_above, mu_va_above_before),
            "far": now.ratio("far_x_mu", "far_area_mu"),
            "far_start_of_year": now.ratio("far_start_x_mu", "far_area_mu"),
            "governed_mu": {str(y): g for y, (g, _) in sorted(renewed.items()) if g},
            "freed_mu": {str(y): f for y, (_, f) in sorted(renewed.items()) if f},
        }

    def progress(zone_id: int) -> list[dict[str, Any]]:
        out = []
        renewed = {y: v for (z, y), v in done.items() if z == zone_id}
        for t in (t for t in targets if t.zone_id == zone_id):
            first, last = int(t.year_from), int(t.year_to)
            actual: float | None
            if t.metric in ("governed_mu", "freed_mu"):
                index = 0 if t.metric == "governed_mu" else 1
                actual = sum(v[index] for y, v in renewed.items() if first <= y <= min(last, year))
            elif t.metric == "far_uplift":
                now = by_zone.get((zone_id, year), Tally()).ratio("far_x_mu", "far_area_mu")
                start = by_zone.get((zone_id, first), Tally()).ratio("far_start_x_mu", "far_area_mu")
                actual = now - start if now is not None and start is not None else None
            else:
                num = "tax_above_wan" if t.metric == "mu_tax_growth" else "value_added_above_wan"
                now = by_zone.get((zone_id, min(last, year)), Tally()).ratio(num, "land_above_mu")
                base = by_zone.get((zone_id, first - 1), Tally()).ratio(num, "land_above_mu")
                actual = _growth(now, base)
            label, unit_ = METRIC_LABELS.get(t.metric, (t.metric, ""))
            value = float(t.value)
            out.append(
                {
                    "metric": t.metric,
                    "label": label,
                    "unit": unit_,
                    "year_from": first,
                    "year_to": last,
                    "target": value,
                    "actual": actual,
                    "progress": (actual / value) if actual is not None and value else None,
                    "note": t.note,
                }
            )
        return out

    zone_rows = []
    for zone_id, z in zones.items():
        tallies = {y: t for (zid, y), t in by_zone.items() if zid == zone_id}
        renewed = {y: v for (zid, y), v in done.items() if zid == zone_id}
        zone_rows.append(
            {
                "zone_id": zone_id,
                "code": z.code,
                "name": z.name,
                "zone_type": z.zone_type,
                "region_code": z.region_code,
                "zone_area_mu": z.area_mu,
                **unit(tallies, renewed),
                "targets": progress(zone_id),
            }
        )
    outside = {y: t for (zid, y), t in by_zone.items() if zid is None}
    region_rows = []
    for region in children:
        tallies = {y: t for (code, y), t in by_region.items() if code == region.code}
        renewed = {y: v for (code, y), v in done_region.items() if code == region.code}
        region_rows.append({"region_code": region.code, "name": region.name, **unit(tallies, renewed)})
    return {
        "year": year,
        "region_code": region_code,
        "total": unit(dict(whole), dict(done_all)),
        "zones": zone_rows,
        "outside_zones": unit(outside, {y: v for (zid, y), v in done.items() if zid is None}),
        "regions": region_rows,
        "labels": {"status": STATUS_LABELS, "class": {c: c for c in CLASS_ORDER}},
    }
