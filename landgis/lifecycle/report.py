"""Progress report of a zone or region for a year (HTML, printable to PDF, and an Excel workbook).

Targets come from ``zone_target``; actuals from the renewal events (``v_renewal_event_counted``):
- 治理面积 / 腾出面积: the events' areas in the target's years (cumulative up to the report year
  for a period target such as 2023-2027);
- 容积率提升: the FAR recorded by 提容增效 steps, (far_after - far_before) x parcel area over the
  area of all the zone's parcels, i.e. the rise of the zone's area-weighted FAR;
- 亩均税收/增加值增长: area-weighted 亩均 of the zone's parcels in the evaluation's
  ``v_parcel_class`` for the report year against the year before the target period; without the
  evaluation these stay empty and the report says why.
Class distribution and its change from last year also come from ``v_parcel_class`` when present.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from sqlalchemy import Connection, text

from landgis.errors import InvalidInput, NotFound
from landgis.lifecycle import charts, colours
from landgis.lifecycle.rendering import render
from landgis.lifecycle.workflow import Workflow
from landgis.zones import visible_zone

METRICS = {
    "governed_mu": ("治理面积", "亩"),
    "freed_mu": ("腾出面积", "亩"),
    "far_uplift": ("容积率提升", ""),
    "mu_tax_growth": ("亩均税收增长", "%"),
    "mu_value_added_growth": ("亩均增加值增长", "%"),
}
STATUS_FILL = {
    "identified": "#ef6c00",
    "planned": "#ef6c00",
    "in_progress": "#ffa726",
    "freed": "#2e7d32",
    "resupplied": "#81c784",
    "producing": "#81c784",
    "upgraded": "#1565c0",
    "exempt": "#bdbdbd",
}
MAP_LEGEND = [
    ("更新对象", "#ef6c00"),
    ("整治中", "#ffa726"),
    ("已腾出", "#2e7d32"),
    ("再供应/投产", "#81c784"),
    ("提容增效完成", "#1565c0"),
    ("其他", "#eeeeee"),
]
MAX_MAP_PARCELS = 30_000
CLASSES = ("A", "B", "C", "D")
NO_EVALUATION = "亩均评价结果 (v_parcel_class) 尚未提供, 本项暂缺"

#: Parcels of the report's area in the caller's scope (bound :zone_id, :region).
_IN_AREA = """
    landgis_in_scope(p.region_code)
    AND (CAST(:zone_id AS integer) IS NULL OR p.zone_id = CAST(:zone_id AS integer))
    AND (CAST(:region AS text) IS NULL OR starts_with(p.region_code, CAST(:region AS text)))
"""


def _q(sql: str) -> Any:
    return text(sql.replace("{IN_AREA}", _IN_AREA))


def _area(conn: Connection, zone_id: int | None, region: str | None) -> dict[str, Any]:
    if (zone_id is None) == (region is None):
        raise InvalidInput("请指定一个园区 (zone_id) 或一个行政区划 (region), 二者选一")
    if zone_id is not None:
        zone = visible_zone(conn, zone_id)
        return {"kind": "zone", "title": f"{zone['name']} ({zone['code']})", "zone_ids": [zone_id]}
    row = (
        conn.execute(text("SELECT code, name FROM region WHERE code = :c AND landgis_in_scope(code)"), {"c": region})
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"行政区划 {region} 不存在或不在您的管辖范围内 (region not found)")
    zone_ids = (
        conn.execute(
            text(
                "SELECT id FROM zone WHERE starts_with(region_code, :c) AND landgis_in_scope(region_code) ORDER BY code"
            ),
            {"c": region},
        )
        .scalars()
        .all()
    )
    return {"kind": "region", "title": f"{row['name']} ({row['code']})", "zone_ids": list(zone_ids)}


def has_evaluation(conn: Connection) -> bool:
    """Whether a 亩均评价 has classed any parcel the caller may see (``v_parcel_class`` has rows)."""
    return conn.execute(text("SELECT EXISTS (SELECT 1 FROM v_parcel_class)")).scalar_one() is True


def _area_by_year(conn: Connection, p: dict[str, Any]) -> list[dict[str, Any]]:
    rows = conn.execute(
        _q(
            """
            SELECT year, sum(governed_mu) AS governed_mu, sum(freed_mu) AS freed_mu
            FROM v_renewal_event_area_by_year v
            WHERE (CAST(:zone_id AS integer) IS NULL OR v.zone_id = CAST(:zone_id AS integer))
              AND (CAST(:region AS text) IS NULL OR starts_with(v.region_code, CAST(:region AS text)))
            GROUP BY year ORDER BY year
            """
        ),
        p,
    ).mappings()
    return [dict(r) for r in rows]


def _events(conn: Connection, p: dict[str, Any], year: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        _q(
            """
            SELECT e.event_id, e.parcel_id, e.land_code, pz.location, z.name AS zone_name, e.event_date, e.to_status,
                   e.renewal_mode, e.area_mu, e.counts_governed, e.counts_freed, array_to_string(e.documents, '; ') AS documents
            FROM v_renewal_event_counted e
            JOIN parcel pz ON pz.id = e.parcel_id
            LEFT JOIN zone z ON z.id = e.zone_id
            WHERE e.year = :year
              AND (CAST(:zone_id AS integer) IS NULL OR e.zone_id = CAST(:zone_id AS integer))
              AND (CAST(:region AS text) IS NULL OR starts_with(e.region_code, CAST(:region AS text)))
            ORDER BY e.event_date, e.land_code
            """
        ),
        {**p, "year": year},
    ).mappings()
    return [dict(r) for r in rows]


def _far_uplift(conn: Connection, zone_id: int, years: tuple[int, int]) -> float | None:
    row = conn.execute(
        text(
            """
            SELECT (SELECT sum(((e.details ->> 'far_after')::float8 - coalesce((e.details ->> 'far_before')::float8, 0))
                               * p.area_m2)
                    FROM renewal_event e JOIN parcel p ON p.id = e.parcel_id
                    WHERE p.zone_id = :z AND e.revoked_at IS NULL AND e.details ? 'far_after'
                      AND extract(year FROM e.event_date) BETWEEN :y0 AND :y1) AS weighted,
                   (SELECT sum(area_m2) FROM parcel WHERE zone_id = :z) AS area
            """
        ),
        {"z": zone_id, "y0": years[0], "y1": years[1]},
    ).one()
    if not row.area:
        return None
    return float(row.weighted or 0.0) / float(row.area)


def _mean_per_mu(conn: Connection, zone_id: int, year: int, column: str) -> float | None:
    """Area-weighted 亩均 of a zone's parcels in ``v_parcel_class`` for ``year``."""
    sql = {
        "mu_tax": "SELECT sum(c.mu_tax * p.area_mu) / nullif(sum(p.area_mu) FILTER (WHERE c.mu_tax IS NOT NULL), 0)"
        " FROM v_parcel_class c JOIN parcel p ON p.id = c.parcel_id WHERE p.zone_id = :z AND c.year = :y",
        "mu_value_added": "SELECT sum(c.mu_value_added * p.area_mu)"
        " / nullif(sum(p.area_mu) FILTER (WHERE c.mu_value_added IS NOT NULL), 0)"
        " FROM v_parcel_class c JOIN parcel p ON p.id = c.parcel_id WHERE p.zone_id = :z AND c.year = :y",
    }[column]
    value = conn.execute(text(sql), {"z": zone_id, "y": year}).scalar_one()
    return None if value is None else float(value)


def _targets(conn: Connection, zone_ids: list[int], year: int, evaluation: bool) -> list[dict[str, Any]]:
    if not zone_ids:
        return []
    rows = conn.execute(
        text(
            "SELECT t.zone_id, z.code AS zone_code, z.name AS zone_name, t.metric, t.year_from, t.year_to, t.value, t.note"
            " FROM zone_target t JOIN zone z ON z.id = t.zone_id"
            " WHERE t.zone_id IN (SELECT unnest(CAST(:ids AS integer[]))) AND :y BETWEEN t.year_from AND t.year_to"
            " ORDER BY z.code, array_position(ARRAY['governed_mu', 'freed_mu', 'far_uplift', 'mu_tax_growth',"
            " 'mu_value_added_growth']::text[], t.metric::text), t.year_from"
        ),
        {"ids": zone_ids, "y": year},
    ).mappings()
    out = []
    for t in rows:
        label, unit = METRICS[t["metric"]]
        y0, y1 = t["year_from"], min(t["year_to"], year)
        actual: float | None = None
        note = None
        if t["metric"] in ("governed_mu", "freed_mu"):
            actual = float(
                conn.execute(
                    text(
                        f"SELECT coalesce(sum({t['metric']}), 0) FROM v_renewal_event_area_by_year"  # noqa: S608 - metric from METRICS
                        " WHERE zone_id = :z AND year BETWEEN :y0 AND :y1"
                    ),
                    {"z": t["zone_id"], "y0": y0, "y1": y1},
                ).scalar_one()
            )
        elif t["metric"] == "far_uplift":
            actual = _far_uplift(conn, t["zone_id"], (y0, y1))
        elif not evaluation:
            note = NO_EVALUATION
        else:
            column = "mu_tax" if t["metric"] == "mu_tax_growth" else "mu_value_added"
            base = _mean_per_mu(conn, t["zone_id"], y0 - 1, column)
            now = _mean_per_mu(conn, t["zone_id"], year, column)
            if base and now is not None:
                actual = now / base - 1.0
            else:
                note = f"缺 {y0 - 1} 或 {year} 年度亩均数据"
        span = t["year_to"] - t["year_from"] + 1
        out.append(
            {
                **t,
                "label": label,
                "unit": unit,
                "actual": actual,
                "progress": None if actual is None or not t["value"] else actual / t["value"],
                "elapsed": (year - t["year_from"] + 1) / span,
                "period": f"{t['year_from']}" if span == 1 else f"{t['year_from']}-{t['year_to']}",
                "note": note,
            }
        )
    return out


def _classes(conn: Connection, p: dict[str, Any], year: int, evaluation: bool) -> dict[str, Any] | None:
    """The parcels per 亩均 class; None when no evaluation has classed any (``has_evaluation``)."""
    if not evaluation:
        return None
    rows = conn.execute(
        _q(
            """
            SELECT c.year, c.class, count(*) AS parcels, sum(p.area_mu) AS area_mu
            FROM v_parcel_class c JOIN parcel p ON p.id = c.parcel_id
            WHERE c.year IN (:y, :y - 1) AND {IN_AREA}
            GROUP BY 1, 2
            """
        ),
        {**p, "y": year},
    ).mappings()
    table: dict[str, dict[str, Any]] = {
        cls: {"class": cls, "last": 0, "this": 0, "last_mu": 0.0, "this_mu": 0.0} for cls in CLASSES
    }
    for r in rows:
        key = "this" if r["year"] == year else "last"
        if r["class"] in table:
            table[r["class"]][key] = int(r["parcels"])
            table[r["class"]][f"{key}_mu"] = float(r["area_mu"] or 0)
    moves = conn.execute(
        _q(
            """
            SELECT a.class AS from_class, b.class AS to_class, count(*) AS parcels
            FROM v_parcel_class a JOIN v_parcel_class b ON b.parcel_id = a.parcel_id AND b.year = :y
            JOIN parcel p ON p.id = a.parcel_id
            WHERE a.year = :y - 1 AND {IN_AREA}
            GROUP BY 1, 2 ORDER BY 1, 2
            """
        ),
        {**p, "y": year},
    ).mappings()
    listed = conn.execute(
        _q(
            """
            SELECT p.id AS parcel_id, p.land_code, p.location, p.right_holder, p.area_mu, c.class, c.mu_tax,
                   c.mu_value_added, l.class AS last_class
            FROM v_parcel_class c JOIN parcel p ON p.id = c.parcel_id
            LEFT JOIN v_parcel_class l ON l.parcel_id = c.parcel_id AND l.year = :y - 1
            WHERE c.year = :y AND {IN_AREA}
            ORDER BY c.class DESC, c.mu_tax NULLS FIRST, p.land_code
            """
        ),
        {**p, "y": year},
    ).mappings()
    for row in table.values():
        row["change"] = row["this"] - row["last"]
    return {"table": list(table.values()), "moves": [dict(m) for m in moves], "parcels": [dict(r) for r in listed]}


def _status_lists(conn: Connection, p: dict[str, Any], workflow: Workflow) -> dict[str, list[dict[str, Any]]]:
    rows = conn.execute(
        _q(
            """
            SELECT p.id AS parcel_id, p.land_code, p.location, p.right_holder, p.area_mu, p.renewal_status, c.colour
            FROM parcel p LEFT JOIN parcel_colour c ON c.parcel_id = p.id
            WHERE {IN_AREA} AND (p.renewal_status <> 'normal' OR c.colour = 'red')
            ORDER BY p.renewal_status, p.land_code
            """
        ),
        p,
    ).mappings()
    lists: dict[str, list[dict[str, Any]]] = {"candidates": [], "freed": [], "red": []}
    for r in rows:
        item = {**r, "status_label": workflow.state_label(r["renewal_status"])}
        if r["renewal_status"] in ("identified", "planned", "in_progress"):
            lists["candidates"].append(item)
        if r["renewal_status"] in ("freed", "resupplied"):
            lists["freed"].append(item)
        if r["colour"] == "red":
            lists["red"].append(item)
    return lists


def _map(conn: Connection, p: dict[str, Any], zone_ids: list[int], title: str) -> str | None:
    srid = conn.execute(
        _q("SELECT mode() WITHIN GROUP (ORDER BY p.gk_srid) FROM parcel p WHERE {IN_AREA}"), p
    ).scalar_one()
    if srid is None:
        return None
    count = conn.execute(_q("SELECT count(*) FROM parcel p WHERE {IN_AREA}"), p).scalar_one()
    only_marked = count > MAX_MAP_PARCELS
    rows = conn.execute(
        _q(
            """
            SELECT p.land_code, p.renewal_status, ST_AsSVG(ST_Transform(p.geom, CAST(:srid AS integer)), 0, 1) AS path
            FROM parcel p WHERE {IN_AREA} AND (NOT CAST(:only_marked AS boolean) OR p.renewal_status <> 'normal')
            """
        ),
        {**p, "srid": srid, "only_marked": only_marked},
    ).mappings()
    shapes = [(r["path"], STATUS_FILL.get(r["renewal_status"], "#eeeeee"), r["land_code"]) for r in rows]
    extent = conn.execute(
        _q(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(g)::geometry AS e FROM ("
            " SELECT ST_Transform(p.geom, CAST(:srid AS integer)) AS g FROM parcel p WHERE {IN_AREA}"
            " UNION ALL SELECT ST_Transform(z.boundary, CAST(:srid AS integer)) FROM zone z"
            " WHERE z.id IN (SELECT unnest(CAST(:ids AS integer[])))) u) x"
        ),
        {**p, "srid": srid, "ids": zone_ids},
    ).one()
    outlines = (
        conn.execute(
            text(
                "SELECT ST_AsSVG(ST_Transform(boundary, CAST(:srid AS integer)), 0, 1) FROM zone"
                " WHERE id IN (SELECT unnest(CAST(:ids AS integer[])))"
            ),
            {"srid": srid, "ids": zone_ids},
        )
        .scalars()
        .all()
    )
    suffix = " (仅显示更新地块)" if only_marked else ""
    return charts.parcel_map(shapes, list(outlines), tuple(extent), MAP_LEGEND, title=f"{title} 更新地块分布图{suffix}")


def progress(
    conn: Connection,
    workflow: Workflow,
    *,
    year: int,
    zone_id: int | None = None,
    region: str | None = None,
    with_map: bool = True,
) -> dict[str, Any]:
    """Everything the progress report shows, as data (the HTML and the workbook render it)."""
    if not 1990 <= year <= 2100:
        raise InvalidInput(f"年度无效 (year): {year}")
    area = _area(conn, zone_id, region)
    p = {"zone_id": zone_id, "region": region}
    evaluation = has_evaluation(conn)
    by_year = _area_by_year(conn, p)
    this_year = next((r for r in by_year if r["year"] == year), {"governed_mu": 0.0, "freed_mu": 0.0})
    targets = _targets(conn, area["zone_ids"], year, evaluation)
    classes = _classes(conn, p, year, evaluation)
    lists = _status_lists(conn, p, workflow)
    summary = colours.summary(conn, zone_id=zone_id, region=region)
    report: dict[str, Any] = {
        "title": f"{area['title']} {year}年度低效工业用地有机更新进展",
        "area": area,
        "year": year,
        "generated_on": dt.date.today(),
        "evaluation_available": evaluation,
        "evaluation_note": None if evaluation else NO_EVALUATION,
        "totals": {"governed_mu": float(this_year["governed_mu"]), "freed_mu": float(this_year["freed_mu"])},
        "by_year": by_year,
        "targets": targets,
        "classes": classes,
        "colours": summary,
        "events": _events(conn, p, year),
        "lists": lists,
    }
    area_targets = [t for t in targets if t["metric"] in ("governed_mu", "freed_mu")]
    report["charts"] = {
        "targets": charts.bar_chart(
            [f"{t['zone_code']} {t['label']} {t['period']}" for t in area_targets],
            [("目标", [t["value"] for t in area_targets]), ("完成", [t["actual"] for t in area_targets])],
            title="目标与完成 (亩)",
            unit="亩",
        )
        if area_targets
        else None,
        "by_year": charts.bar_chart(
            [str(r["year"]) for r in by_year],
            [("治理面积", [r["governed_mu"] for r in by_year]), ("腾出面积", [r["freed_mu"] for r in by_year])],
            title="历年治理与腾出面积 (亩)",
            unit="亩",
        )
        if by_year
        else None,
        "classes": charts.bar_chart(
            list(CLASSES),
            [
                (f"{year - 1}年", [float(r["last"]) for r in classes["table"]]),
                (f"{year}年", [float(r["this"]) for r in classes["table"]]),
            ],
            title="亩均评价分类 (宗)",
            unit="宗",
        )
        if classes
        else None,
    }
    report["map"] = _map(conn, p, area["zone_ids"], area["title"]) if with_map else None
    for e in report["events"]:
        e["to_label"] = workflow.state_label(e["to_status"])
        e["mode_label"] = workflow.mode_label(e["renewal_mode"])
    return report


def html(report: dict[str, Any]) -> str:
    """The report as one printable HTML page (inline SVG charts and map; no external assets)."""
    return render("progress_report.html", r=report)


def workbook(report: dict[str, Any]) -> bytes:
    """The report as an Excel workbook: a summary with a chart, and the lists behind each number."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    bold, head_fill = Font(bold=True), PatternFill("solid", fgColor="DDE4F0")

    def sheet(title: str, headers: list[str], rows: list[list[Any]], first: bool = False) -> Any:
        ws = book.active if first else book.create_sheet()
        ws.title = title
        ws.append(headers)
        for cell in ws[1]:
            cell.font, cell.fill = bold, head_fill
            cell.alignment = Alignment(horizontal="center")
        for row in rows:
            ws.append(row)
        for i, header in enumerate(headers, start=1):
            width = max([len(str(header)) * 2, *(len(str(r[i - 1])) for r in rows if r[i - 1] is not None)], default=8)
            ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
        ws.freeze_panes = "A2"
        return ws

    summary = sheet(
        "目标完成",
        ["园区", "指标", "期间", "目标", "完成", "完成率", "时间进度", "单位", "说明"],
        [
            [
                t["zone_name"],
                t["label"],
                t["period"],
                t["value"],
                None if t["actual"] is None else round(t["actual"], 4),
                None if t["progress"] is None else round(t["progress"], 4),
                round(t["elapsed"], 4),
                t["unit"],
                t["note"] or "",
            ]
            for t in report["targets"]
        ],
        first=True,
    )
    for row in summary.iter_rows(min_row=2, min_col=6, max_col=7):
        for cell in row:
            cell.number_format = "0.0%"
    area_rows = [i + 2 for i, t in enumerate(report["targets"]) if t["metric"] in ("governed_mu", "freed_mu")]
    if area_rows and area_rows == list(range(area_rows[0], area_rows[0] + len(area_rows))):
        chart = BarChart()
        chart.title, chart.y_axis.title = "目标与完成 (亩)", "亩"
        data = Reference(summary, min_col=4, max_col=5, min_row=1, max_row=area_rows[-1])
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(Reference(summary, min_col=2, min_row=area_rows[0], max_row=area_rows[-1]))
        summary.add_chart(chart, "K2")
    sheet(
        "历年治理腾出",
        ["年度", "治理面积(亩)", "腾出面积(亩)"],
        [[r["year"], r["governed_mu"], r["freed_mu"]] for r in report["by_year"]],
    )
    sheet(
        f"{report['year']}年治理腾出明细",
        ["地块码", "坐落", "园区", "日期", "转为", "改造方式", "面积(亩)", "计入治理", "计入腾出", "文件依据"],
        [
            [
                e["land_code"],
                e["location"],
                e["zone_name"],
                e["event_date"],
                e["to_label"],
                e["mode_label"],
                e["area_mu"],
                "是" if e["counts_governed"] else "",
                "是" if e["counts_freed"] else "",
                e["documents"],
            ]
            for e in report["events"]
        ],
    )
    classes = report["classes"]
    if classes:
        year = report["year"]
        sheet(
            "亩均评价分类",
            ["类别", f"{year - 1}年(宗)", f"{year}年(宗)", "增减", f"{year - 1}年(亩)", f"{year}年(亩)"],
            [[c["class"], c["last"], c["this"], c["change"], c["last_mu"], c["this_mu"]] for c in classes["table"]],
        )
        sheet(
            "分类明细",
            ["地块码", "坐落", "权利人", "面积(亩)", f"{year}年类别", f"{year - 1}年类别", "亩均税收", "亩均增加值"],
            [
                [
                    c["land_code"],
                    c["location"],
                    c["right_holder"],
                    c["area_mu"],
                    c["class"],
                    c["last_class"],
                    c["mu_tax"],
                    c["mu_value_added"],
                ]
                for c in classes["parcels"]
            ],
        )
    else:
        sheet("亩均评价分类", ["说明"], [[report["evaluation_note"]]])
    for key, title in (("candidates", "更新对象"), ("freed", "腾出土地"), ("red", "红码地块")):
        sheet(
            title,
            ["地块码", "坐落", "权利人", "面积(亩)", "更新状态", "颜色"],
            [
                [i["land_code"], i["location"], i["right_holder"], i["area_mu"], i["status_label"], i["colour"]]
                for i in report["lists"][key]
            ],
        )
    book.properties.title = report["title"]
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
