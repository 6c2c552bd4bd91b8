"""The audit trail: events that are not row changes, and a parcel's readable history.

Row changes are recorded by the database's triggers into ``change_log`` (who, when, from where,
old and new values). Everything else worth keeping (log-ins, tokens, a status change's reason,
an evaluation run) is an ``audit_event``, written through ``landgis_audit()``: the service's
database role cannot insert, change or delete either table directly.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from landgis.errors import NotFound


def record(
    conn: Connection,
    action: str,
    *,
    target_table: str | None = None,
    target_id: int | None = None,
    region_code: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Append an audit event in the current transaction (actor and request from the audit context).

    ``region_code`` scopes the event: users limited to other regions never see it.
    """
    event_id = conn.execute(
        text("SELECT landgis_audit(:action, :tbl, :tid, :region, CAST(:details AS jsonb))"),
        {
            "action": action,
            "tbl": target_table,
            "tid": target_id,
            "region": region_code,
            "details": json.dumps(details or {}, ensure_ascii=False, default=str),
        },
    ).scalar_one()
    return int(event_id)


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a parcel's history: a row change (``kind='change'``) or an audit event."""

    kind: str
    occurred_at: dt.datetime
    actor: str
    client_addr: str | None
    request_id: str | None
    table_name: str
    row_id: int | None
    action: str
    changes: dict[str, Any]


_HISTORY_SQL = """
WITH occupancy_rows AS (
  SELECT o.id FROM occupancy o WHERE o.parcel_id = :pid
  UNION
  SELECT c.row_id FROM change_log c
  WHERE c.table_name = 'occupancy' AND c.action = 'delete' AND c.changes ->> 'parcel_id' = CAST(:pid AS text)
)
SELECT 'change' AS kind, c.id, c.occurred_at, c.actor, c.client_addr, c.request_id, c.table_name,
       c.row_id, c.action, c.changes
FROM change_log c
WHERE (c.table_name = 'parcel' AND c.row_id = :pid)
   OR (c.table_name = 'occupancy' AND c.row_id IN (SELECT id FROM occupancy_rows))
UNION ALL
SELECT 'event', e.id, e.occurred_at, e.actor, e.client_addr, e.request_id, coalesce(e.target_table, ''),
       e.target_id, e.action, e.details
FROM audit_event e
WHERE e.target_table = 'parcel' AND e.target_id = :pid
"""


def parcel_history(conn: Connection, parcel_id: int, *, limit: int = 100, offset: int = 0) -> list[HistoryEntry]:
    """The changes of a parcel and of its occupancy rows, and the events about it, newest first.

    Raises NotFound when the parcel does not exist or is outside the caller's scope (row-level
    security hides both alike).
    """
    visible = conn.execute(text("SELECT 1 FROM parcel WHERE id = :pid"), {"pid": parcel_id}).first()
    if visible is None:
        raise NotFound(f"宗地 {parcel_id} 不存在或不在您的范围内 (no such parcel in your scope)")
    rows = conn.execute(
        text(
            f"SELECT * FROM ({_HISTORY_SQL}) h ORDER BY occurred_at DESC, kind, id DESC LIMIT :limit OFFSET :offset"  # noqa: S608
        ),
        {"pid": parcel_id, "limit": limit, "offset": offset},
    ).mappings()
    return [
        HistoryEntry(
            kind=r["kind"],
            occurred_at=r["occurred_at"],
            actor=r["actor"],
            client_addr=r["client_addr"],
            request_id=r["request_id"],
            table_name=r["table_name"],
            row_id=r["row_id"],
            action=r["action"],
            changes=r["changes"] or {},
        )
        for r in rows
    ]
