"""``/audit``: the audit trail, read-only (nothing in the API can change or delete it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import AdminDep, ConnDep

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditEventOut(BaseModel):
    id: int
    occurred_at: dt.datetime
    actor: str
    client_addr: str | None
    request_id: str | None
    action: str
    target_table: str | None
    target_id: int | None
    region_code: str | None
    details: dict[str, Any]


@router.get("/events", response_model=list[AuditEventOut], summary="Audit events (log-ins, tokens, status changes ...)")
def events(
    conn: ConnDep,
    admin: AdminDep,
    action: str | None = Query(default=None, max_length=48, examples=["login_failed"]),
    actor: str | None = Query(default=None, max_length=64),
    since: dt.datetime | None = Query(default=None, description="only events at or after this time"),
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=100_000),
) -> list[AuditEventOut]:
    rows = conn.execute(
        text(
            "SELECT id, occurred_at, actor, client_addr, request_id, action, target_table, target_id,"
            " region_code, details FROM audit_event"
            " WHERE (CAST(:action AS text) IS NULL OR action = :action)"
            " AND (CAST(:actor AS text) IS NULL OR actor = :actor)"
            " AND (CAST(:since AS timestamptz) IS NULL OR occurred_at >= :since)"
            " ORDER BY occurred_at DESC, id DESC LIMIT :limit OFFSET :offset"
        ),
        {"action": action, "actor": actor, "since": since, "limit": limit, "offset": offset},
    ).mappings()
    return [AuditEventOut(**r) for r in rows]
