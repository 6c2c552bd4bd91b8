"""Taking a parcel through its renewal: transitions checked against the workflow, written as a
``renewal_event`` together with ``parcel.renewal_status`` and an audit event (``status_change``,
``status_undo`` for an undo) in the caller's transaction.

This is the only way the service changes a renewal status: ``POST /parcels/{id}/transitions``
and ``POST /parcels/{id}/status`` both come here, and the database refuses an update of
``renewal_status`` by the service role that has no matching step (revision 0007).

Counting (fixed on each event from the workflow when it is written, so that a later change of
configuration never rewrites past totals): an event's ``area_mu`` counts as 治理面积 when its
transition lists ``governed`` and as 腾出面积 when it lists ``freed``. With the default workflow:
进入「已腾出」(整治中 → 已腾出, and 分期腾出 已腾出 → 已腾出) counts as both 治理 and 腾出; 整治中 →
提容增效完成 counts as 治理 only; no other step counts. Revoked events count for nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from landgis import audit
from landgis.errors import Conflict, InvalidInput, NotFound
from landgis.lifecycle.workflow import Transition, Workflow

#: Relative tolerance between a given area and the parcel's computed area (survey rounding).
AREA_TOLERANCE = 0.005
MAX_DOCUMENTS = 50
MAX_DOCUMENT_LENGTH = 200


@dataclass
class TransitionRequest:
    """One step asked for: the target state and what the step needs (see the workflow)."""

    to_status: str
    event_date: dt.date
    user: str
    renewal_mode: str | None = None
    area_mu: float | None = None
    documents: list[str] = field(default_factory=list)
    note: str | None = None
    far_after: float | None = None


def _lock_parcel(conn: Connection, parcel_id: int) -> dict[str, Any]:
    row = (
        conn.execute(
            text(
                "SELECT id, land_code, renewal_status, area_mu, far, region_code FROM parcel"
                " WHERE id = :id AND landgis_in_scope(region_code) FOR UPDATE"
            ),
            {"id": parcel_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"地块 {parcel_id} 不存在或不在您的管辖范围内 (parcel not found)")
    return dict(row)


def _parcel(conn: Connection, parcel_id: int) -> dict[str, Any]:
    row = (
        conn.execute(
            text(
                "SELECT id, land_code, zddm, renewal_status, area_mu, far, region_code, zone_id FROM parcel"
                " WHERE id = :id AND landgis_in_scope(region_code)"
            ),
            {"id": parcel_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"地块 {parcel_id} 不存在或不在您的管辖范围内 (parcel not found)")
    return dict(row)


def event_dict(row: Any, workflow: Workflow) -> dict[str, Any]:
    """An event row as the API and the CLI show it, with Chinese labels."""
    return {
        "id": row["id"],
        "parcel_id": row["parcel_id"],
        "from_status": row["from_status"],
        "from_label": workflow.state_label(row["from_status"]),
        "to_status": row["to_status"],
        "to_label": workflow.state_label(row["to_status"]),
        "event_date": row["event_date"],
        "renewal_mode": row["renewal_mode"],
        "renewal_mode_label": workflow.mode_label(row["renewal_mode"]),
        "area_mu": row["area_mu"],
        "counts_governed": row["counts_governed"],
        "counts_freed": row["counts_freed"],
        "documents": list(row["documents"] or []),
        "note": row["note"],
        "details": row["details"] or {},
        "recorded_by": row["recorded_by"],
        "recorded_at": row["recorded_at"],
        "revoked": row["revoked_at"] is not None,
        "revoked_at": row["revoked_at"],
        "revoked_by": row["revoked_by"],
        "revoke_reason": row["revoke_reason"],
    }


def _last_event(conn: Connection, parcel_id: int) -> Any:
    return (
        conn.execute(
            text(
                "SELECT e.* FROM renewal_event e WHERE e.parcel_id = :id AND e.revoked_at IS NULL"
                " ORDER BY e.event_date DESC, e.id DESC LIMIT 1"
            ),
            {"id": parcel_id},
        )
        .mappings()
        .first()
    )


def freed_in_episode(conn: Connection, parcel_id: int, initial: str) -> float:
    """亩 already freed since the parcel last returned to the initial state (or ever)."""
    value = conn.execute(
        text(
            """
            SELECT coalesce(sum(e.area_mu), 0) FROM renewal_event e
            WHERE e.parcel_id = :id AND e.revoked_at IS NULL AND e.counts_freed
              AND e.id > coalesce((SELECT max(r.id) FROM renewal_event r
                                   WHERE r.parcel_id = :id AND r.revoked_at IS NULL AND r.to_status = :initial), 0)
            """
        ),
        {"id": parcel_id, "initial": initial},
    ).scalar_one()
    return float(value)


def _check_mode(workflow: Workflow, t: Transition, mode: str | None) -> str | None:
    allowed = "、".join(f"{workflow.mode_label(m)} ({m})" for m in t.modes)
    if mode is None or not mode.strip():
        if t.mode == "required":
            raise InvalidInput(f"「{t.label}」需填写改造方式 (renewal_mode is required); 可选: {allowed}")
        return None
    mode = mode.strip()
    if t.mode == "none":
        raise InvalidInput(f"「{t.label}」不填写改造方式 (this step takes no renewal_mode)")
    if mode not in t.modes:
        raise InvalidInput(f"「{t.label}」不适用改造方式 '{mode}' (renewal_mode not allowed); 可选: {allowed}")
    return mode


def _check_documents(t: Transition, documents: list[str]) -> list[str]:
    refs = [d.strip() for d in documents if d and d.strip()]
    if len(refs) > MAX_DOCUMENTS:
        raise InvalidInput(f"文件依据最多 {MAX_DOCUMENTS} 条 (too many document references)")
    for ref in refs:
        if len(ref) > MAX_DOCUMENT_LENGTH:
            raise InvalidInput(
                f"文件依据过长 (a document reference is over {MAX_DOCUMENT_LENGTH} characters): {ref[:30]}…"
            )
    if t.documents_required and not refs:
        raise InvalidInput(f"「{t.label}」需填写文件依据 (documents are required, e.g. 认定文件文号)")
    return refs


def apply_transition(
    conn: Connection,
    workflow: Workflow,
    parcel_id: int,
    request: TransitionRequest,
    *,
    today: dt.date | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Take parcel ``parcel_id`` (in the caller's scope) one step, or refuse with the reason.

    Writes the ``renewal_event``, the new ``parcel.renewal_status`` (and ``far`` when the step
    records it) and a ``status_change`` audit event in the caller's transaction; the colour
    triggers and change history follow. ``request.user`` is recorded as who acted: the
    signed-in user for the service. Areas are in 亩.
    """
    today = today or dt.date.today()
    user = (request.user or "").strip()
    if not user:
        raise InvalidInput("需填写经办人 (user is required)")
    parcel = _lock_parcel(conn, parcel_id)
    t = workflow.find(parcel["renewal_status"], request.to_status)

    if request.event_date > today:
        raise InvalidInput(f"日期 {request.event_date} 晚于今天 (event_date is in the future)")
    last = _last_event(conn, parcel_id)
    if last is not None and request.event_date < last["event_date"]:
        raise InvalidInput(
            f"日期 {request.event_date} 早于上一步「{workflow.state_label(last['to_status'])}」的日期"
            f" {last['event_date']} (event_date is before the previous step)"
        )
    mode = _check_mode(workflow, t, request.renewal_mode)
    documents = _check_documents(t, request.documents)

    parcel_mu = float(parcel["area_mu"])
    already = freed_in_episode(conn, parcel_id, workflow.initial) if t.counts_freed else 0.0
    if t.area == "whole":
        if request.area_mu is not None and abs(request.area_mu - parcel_mu) > AREA_TOLERANCE * parcel_mu:
            raise InvalidInput(
                f"「{t.label}」针对整宗地 ({parcel_mu:.2f} 亩), 不能只填 {request.area_mu} 亩 (this step concerns the whole parcel)"
            )
        area = parcel_mu
    else:
        area = request.area_mu if request.area_mu is not None else parcel_mu - already
        if area <= 0:
            raise InvalidInput(f"面积应大于0 (area_mu must be positive), 实为 {area:.2f}")
        if area > parcel_mu * (1 + AREA_TOLERANCE):
            raise InvalidInput(f"面积 {area:.2f} 亩超过宗地面积 {parcel_mu:.2f} 亩 (area_mu exceeds the parcel)")
    if t.counts_freed and already + area > parcel_mu * (1 + AREA_TOLERANCE):
        raise Conflict(
            f"本宗地已腾出 {already:.2f} 亩, 再腾出 {area:.2f} 亩将超过宗地面积 {parcel_mu:.2f} 亩"
            f" (freed area would exceed the parcel)"
        )

    details: dict[str, Any] = {}
    if request.far_after is not None:
        if not t.records_far:
            raise InvalidInput(f"「{t.label}」不记录容积率 (far_after is not recorded by this step)")
        if request.far_after < 0 or request.far_after > 20:
            raise InvalidInput(f"容积率 {request.far_after} 不合理 (far_after must be between 0 and 20)")
        details = {"far_before": parcel["far"], "far_after": request.far_after}

    row = (
        conn.execute(
            text(
                """
                INSERT INTO renewal_event AS e (parcel_id, from_status, to_status, event_date, renewal_mode, area_mu,
                    counts_governed, counts_freed, documents, note, details, recorded_by, request_id)
                VALUES (:parcel_id, :from_status, :to_status, :event_date, :mode, :area, :governed, :freed,
                    :documents, :note, CAST(:details AS jsonb), :user, :request_id)
                RETURNING e.*
                """
            ),
            {
                "parcel_id": parcel_id,
                "from_status": t.source,
                "to_status": t.target,
                "event_date": request.event_date,
                "mode": mode,
                "area": round(area, 4),
                "governed": t.counts_governed,
                "freed": t.counts_freed,
                "documents": documents,
                "note": (request.note or "").strip() or None,
                "details": _json(details),
                "user": user,
                "request_id": request_id,
            },
        )
        .mappings()
        .one()
    )
    if request.far_after is not None:
        conn.execute(
            text("UPDATE parcel SET renewal_status = :s, far = :far WHERE id = :id"),
            {"s": t.target, "far": request.far_after, "id": parcel_id},
        )
    elif t.source != t.target:
        conn.execute(text("UPDATE parcel SET renewal_status = :s WHERE id = :id"), {"s": t.target, "id": parcel_id})
    audit.record(
        conn,
        "status_change",
        target_table="parcel",
        target_id=parcel_id,
        region_code=parcel["region_code"],
        details={
            "from": t.source,
            "to": t.target,
            "event_id": row["id"],
            "event_date": request.event_date.isoformat(),
            "renewal_mode": mode,
            "area_mu": row["area_mu"],
            "documents": documents,
            "reason": row["note"],
            "recorded_by": user,
        },
    )
    return event_dict(row, workflow)


def revoke_latest(
    conn: Connection, workflow: Workflow, parcel_id: int, *, user: str, reason: str, event_id: int | None = None
) -> dict[str, Any]:
    """Undo the parcel's latest step (a clerk's mistake): the event is kept, marked revoked, and
    the parcel returns to the state (and 容积率) it had before."""
    user, reason = (user or "").strip(), (reason or "").strip()
    if not user or not reason:
        raise InvalidInput("撤销需填写经办人和原因 (user and reason are required)")
    parcel = _lock_parcel(conn, parcel_id)
    last = _last_event(conn, parcel_id)
    if last is None:
        raise Conflict("该地块没有可撤销的更新记录 (no step to undo)")
    if event_id is not None and last["id"] != event_id:
        raise Conflict(f"只能撤销最近一步 (only the latest step, {last['id']}, can be undone)")
    if parcel["renewal_status"] != last["to_status"]:
        raise Conflict(
            f"地块当前状态「{workflow.state_label(parcel['renewal_status'])}」与最近一步的结果不符, 不能撤销"
            " (the parcel's status was changed outside the workflow)"
        )
    row = (
        conn.execute(
            text(
                "UPDATE renewal_event e SET revoked_at = now(), revoked_by = :user, revoke_reason = :reason"
                " WHERE e.id = :id RETURNING e.*"
            ),
            {"id": last["id"], "user": user, "reason": reason},
        )
        .mappings()
        .one()
    )
    details = last["details"] or {}
    if "far_after" in details and parcel["far"] == details["far_after"]:
        conn.execute(
            text("UPDATE parcel SET renewal_status = :s, far = :far WHERE id = :id"),
            {"s": last["from_status"], "far": details.get("far_before"), "id": parcel_id},
        )
    elif last["from_status"] != last["to_status"]:
        conn.execute(
            text("UPDATE parcel SET renewal_status = :s WHERE id = :id"), {"s": last["from_status"], "id": parcel_id}
        )
    audit.record(
        conn,
        "status_undo",
        target_table="parcel",
        target_id=parcel_id,
        region_code=parcel["region_code"],
        details={
            "from": last["to_status"],
            "to": last["from_status"],
            "event_id": last["id"],
            "reason": reason,
            "recorded_by": user,
        },
    )
    return event_dict(row, workflow)


def history(conn: Connection, workflow: Workflow, parcel_id: int) -> dict[str, Any]:
    """A parcel's renewal: current state, every event (revoked ones marked) and the next steps."""
    parcel = _parcel(conn, parcel_id)
    rows = (
        conn.execute(
            text("SELECT e.* FROM renewal_event e WHERE e.parcel_id = :id ORDER BY e.event_date, e.id"),
            {"id": parcel_id},
        )
        .mappings()
        .all()
    )
    return {
        "parcel": _parcel_summary(parcel, workflow),
        "events": [event_dict(r, workflow) for r in rows],
        "allowed": [t.as_dict(workflow) for t in workflow.allowed_from(parcel["renewal_status"])],
    }


def allowed_next(conn: Connection, workflow: Workflow, parcel_id: int) -> dict[str, Any]:
    """The steps parcel ``parcel_id`` may take now, with what each requires."""
    parcel = _parcel(conn, parcel_id)
    return {
        "parcel": _parcel_summary(parcel, workflow),
        "allowed": [t.as_dict(workflow) for t in workflow.allowed_from(parcel["renewal_status"])],
        "freed_so_far_mu": freed_in_episode(conn, parcel_id, workflow.initial),
    }


def _parcel_summary(parcel: dict[str, Any], workflow: Workflow) -> dict[str, Any]:
    return {
        "id": parcel["id"],
        "land_code": parcel["land_code"],
        "zddm": parcel.get("zddm"),
        "renewal_status": parcel["renewal_status"],
        "renewal_status_label": workflow.state_label(parcel["renewal_status"]),
        "area_mu": parcel["area_mu"],
        "far": parcel["far"],
        "region_code": parcel["region_code"],
        "zone_id": parcel.get("zone_id"),
    }


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False)
