"""一码管地: one stable land code per parcel, tying land, enterprises and projects together.

The code is issued by the database when a parcel is created (``landgis_land_code`` in revision
0006): the 宗地代码 when it is valid, otherwise ``<12-digit region><L><sequence>``; it never
changes. This module finds parcels by code, assembles the code's file (地块码档案: land, colour,
renewal, enterprises by USCC, projects, 标准地) and draws QR codes pointing at the dossier page.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import segno
from sqlalchemy import Connection, text

from landgis.errors import InvalidInput, NotFound
from landgis.lifecycle.colours import COLOUR_LABELS
from landgis.lifecycle.rendering import render
from landgis.lifecycle.workflow import Workflow
from landgis.zones import visible_zone

LAND_CODE = re.compile(r"^(\d{12}[GJZ][ABCDEFGHSXWYLN]\d{5}|\d{12}L\d{6,11})$")
URL_FIELDS = ("base_url", "parcel_id", "land_code")
MAX_SHEET_CODES = 2000


def normalize_code(raw: str) -> str:
    """Upper-case, without spaces or hyphens; ``InvalidInput`` if it cannot be a land code."""
    code = re.sub(r"[\s-]", "", raw or "").upper()
    if not LAND_CODE.match(code):
        raise InvalidInput(
            f"地块码格式不符 (a land code is a 19-character 宗地代码 or 12 digits + L + a number): {raw[:40]}"
        )
    return code


def parcel_by_code(conn: Connection, code: str) -> dict[str, Any]:
    """The parcel holding land code ``code`` (in the caller's scope)."""
    row = (
        conn.execute(
            text(
                "SELECT id, land_code, zddm, zddm_raw, region_code, zone_id, area_mu FROM parcel"
                " WHERE land_code = :code AND landgis_in_scope(region_code)"
            ),
            {"code": normalize_code(code)},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"地块码 {code} 不存在或不在您的管辖范围内 (land code not found)")
    return dict(row)


def dossier_url(template: str, *, base_url: str, parcel_id: int, land_code: str) -> str:
    """The URL a land code's QR encodes, from the configured template."""
    values = {"base_url": base_url.rstrip("/"), "parcel_id": parcel_id, "land_code": land_code}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidInput(
            f"二维码地址模板无效 (dossier_url_template); 可用字段: {', '.join(URL_FIELDS)}: {exc}"
        ) from None


def qr_png(data: str, *, scale: int = 6) -> bytes:
    """A PNG QR code (error correction M, quiet zone 4 modules) of ``data``."""
    buffer = io.BytesIO()
    segno.make_qr(data, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_svg(data: str, *, scale: int = 4) -> str:
    """An SVG QR code of ``data`` as markup for inlining in HTML."""
    buffer = io.BytesIO()
    segno.make_qr(data, error="m").save(buffer, kind="svg", scale=scale, border=4, xmldecl=False, svgns=True)
    return buffer.getvalue().decode("utf-8")


def dossier(conn: Connection, workflow: Workflow, code: str, *, today: dt.date | None = None) -> dict[str, Any]:
    """Everything tied to one land code: the land, its colour and reasons, its renewal state and
    last steps, the enterprises on it (USCC), its projects, its 标准地 agreement and idle status."""
    parcel = parcel_by_code(conn, code)
    pid = parcel["id"]
    land = (
        conn.execute(
            text(
                """
                SELECT p.id, p.land_code, p.zddm, p.zddm_raw, p.bdcdyh, p.region_code, r.name AS region_name,
                       p.zone_id, z.code AS zone_code, z.name AS zone_name, p.location, p.right_holder,
                       p.area_mu, p.area_m2, p.land_use_code, p.far, p.building_coverage, p.far_min, p.far_max,
                       p.contract_no, p.contract_date, p.supply_method, p.is_standard_land, p.land_price_wan,
                       p.agreed_start_date, p.actual_start_date, p.agreed_completion_date,
                       p.actual_completion_date, p.agreed_production_date, p.actual_production_date,
                       p.renewal_status
                FROM parcel p
                LEFT JOIN region r ON r.code = p.region_code
                LEFT JOIN zone z ON z.id = p.zone_id
                WHERE p.id = :id
                """
            ),
            {"id": pid},
        )
        .mappings()
        .one()
    )
    colour = (
        conn.execute(text("SELECT colour, reasons, as_of FROM parcel_colour WHERE parcel_id = :id"), {"id": pid})
        .mappings()
        .first()
    )
    enterprises = conn.execute(
        text(
            """
            SELECT e.id, e.uscc, e.name, e.scale, e.industry_code, o.tenure, o.land_area_mu, o.valid_from, o.valid_to
            FROM occupancy o JOIN enterprise e ON e.id = o.enterprise_id
            WHERE o.parcel_id = :id AND (o.valid_to IS NULL OR o.valid_to >= :today)
            ORDER BY o.tenure, e.name
            """
        ),
        {"id": pid, "today": today or dt.date.today()},
    ).mappings()
    projects = conn.execute(
        text(
            "SELECT j.id, j.code, j.name, j.uscc, j.status, l.linked_on FROM project_parcel l"
            " JOIN project j ON j.id = l.project_id WHERE l.parcel_id = :id ORDER BY l.linked_on, j.code"
        ),
        {"id": pid},
    ).mappings()
    events = conn.execute(
        text(
            "SELECT id, from_status, to_status, event_date, renewal_mode, area_mu FROM renewal_event"
            " WHERE parcel_id = :id AND revoked_at IS NULL ORDER BY event_date DESC, id DESC LIMIT 5"
        ),
        {"id": pid},
    ).mappings()
    agreement = (
        conn.execute(
            text(
                "SELECT a.id, a.agreement_no, a.signed_on, d.due_date AS review_due_date,"
                " (SELECT s.outcome FROM standard_review s WHERE s.agreement_id = a.id"
                "  ORDER BY s.reviewed_on DESC, s.id DESC LIMIT 1) AS last_outcome"
                " FROM standard_agreement a JOIN v_standard_review_due d ON d.agreement_id = a.id"
                " WHERE a.parcel_id = :id"
            ),
            {"id": pid},
        )
        .mappings()
        .first()
    )
    idle = (
        conn.execute(
            text("SELECT * FROM landgis_idle_land(:today, ARRAY[CAST(:id AS bigint)])"),
            {"id": pid, "today": today or dt.date.today()},
        )
        .mappings()
        .first()
    )
    return {
        "land_code": land["land_code"],
        "land": {**land, "renewal_status_label": workflow.state_label(land["renewal_status"])},
        "colour": None if colour is None else {**colour, "label": COLOUR_LABELS[colour["colour"]]},
        "enterprises": [dict(e) for e in enterprises],
        "projects": [dict(j) for j in projects],
        "recent_steps": [
            {
                **e,
                "to_label": workflow.state_label(e["to_status"]),
                "renewal_mode_label": workflow.mode_label(e["renewal_mode"]),
            }
            for e in events
        ],
        "standard_agreement": None if agreement is None else dict(agreement),
        "idle": None if idle is None else dict(idle),
    }


def qr_sheet_html(
    conn: Connection,
    *,
    zone_id: int,
    base_url: str,
    template: str,
    colour: str | None = None,
) -> str:
    """A printable A4 sheet of the QR codes of a zone's parcels (in scope), 3 x 4 per page."""
    zone = visible_zone(conn, zone_id)
    if colour is not None and colour not in COLOUR_LABELS:
        raise InvalidInput(f"颜色应为 green、yellow 或 red (colour), 实为 '{colour}'")
    params = {"zone_id": zone_id, "colour": colour, "limit": MAX_SHEET_CODES + 1}
    rows = (
        conn.execute(
            text(
                "SELECT p.id, p.land_code, p.location, p.right_holder, p.area_mu, c.colour"
                " FROM parcel p LEFT JOIN parcel_colour c ON c.parcel_id = p.id"
                " WHERE p.zone_id = :zone_id AND landgis_in_scope(p.region_code)"
                " AND (CAST(:colour AS text) IS NULL OR c.colour = CAST(:colour AS text))"
                " ORDER BY p.land_code LIMIT :limit"
            ),
            params,
        )
        .mappings()
        .all()
    )
    if len(rows) > MAX_SHEET_CODES:
        raise InvalidInput(f"一次最多打印 {MAX_SHEET_CODES} 个地块码, 请按颜色筛选 (too many codes for one sheet)")
    cards = []
    for row in rows:
        url = dossier_url(template, base_url=base_url, parcel_id=row["id"], land_code=row["land_code"])
        cards.append(
            {**row, "url": url, "svg": qr_svg(url, scale=3), "colour_label": COLOUR_LABELS.get(row["colour"] or "", "")}
        )
    return render("qr_sheet.html", zone=zone, cards=cards, printed=dt.date.today())
