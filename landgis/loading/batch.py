"""Load batches: the record of each load, and what the loaders share about transactions."""

from __future__ import annotations

import getpass
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, text

from landgis.errors import InvalidInput
from landgis.loading.report import LoadReport

if TYPE_CHECKING:
    import pandas as pd

Progress = Callable[[int, int | None], None]


class LoadFailed(InvalidInput):
    """A load refused: nothing reached the live tables. ``report`` lists every reason."""

    def __init__(self, message: str, report: LoadReport) -> None:
        super().__init__(message, details={"counts": report.counts, "issues": len(report.issues)})
        self.report = report


@dataclass
class LoadOptions:
    """What every loader takes from the command line or the upload form."""

    dry_run: bool = False
    accept_partial: bool = False
    user: str | None = None
    #: where the load came from, for the change history (an upload's client and request)
    client_addr: str | None = None
    request_id: str | None = None

    @property
    def actor(self) -> str:
        return self.user or _os_user()


def _os_user() -> str:
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return "os:unknown"


def no_progress(done: int, total: int | None) -> None:
    """The progress callback that shows nothing."""


def open_batch(conn: Connection, kind: str, report: LoadReport, options: LoadOptions, extra: dict[str, Any]) -> int:
    """Insert the batch row (in the load's transaction) and return its id."""
    batch_id = conn.execute(
        text(
            "INSERT INTO load_batch (kind, source_name, checksum, loaded_by, status, options)"
            " VALUES (:kind, :name, :checksum, :user, 'running', CAST(:options AS jsonb)) RETURNING id"
        ),
        {
            "kind": kind,
            "name": report.file,
            "checksum": report.checksum,
            "user": options.actor,
            "options": json.dumps(extra, ensure_ascii=False, default=str),
        },
    ).scalar_one()
    return int(batch_id)


def close_batch(conn: Connection, batch_id: int, status: str, counts: dict[str, int]) -> None:
    conn.execute(
        text(
            "UPDATE load_batch SET status = :status, counts = CAST(:counts AS jsonb), finished_at = now()"
            " WHERE id = :id"
        ),
        {"status": status, "counts": json.dumps(counts), "id": batch_id},
    )


def record_failed_batch(conn: Connection, kind: str, report: LoadReport, options: LoadOptions) -> int:
    """Record a refused load, after the load's savepoint was rolled back (the caller commits)."""
    batch_id = open_batch(conn, kind, report, options, {"dry_run": options.dry_run})
    close_batch(conn, batch_id, "failed", report.counts)
    return batch_id


def previous_batch(conn: Connection, kind: str, checksum: str | None) -> int | None:
    """The last committed batch of the same kind and file contents, if any."""
    if checksum is None:
        return None
    found = conn.execute(
        text(
            "SELECT id FROM load_batch WHERE kind = :kind AND checksum = :checksum"
            " AND status IN ('committed', 'unchanged') ORDER BY id DESC LIMIT 1"
        ),
        {"kind": kind, "checksum": checksum},
    ).scalar()
    return int(found) if found is not None else None


def copy_frame(conn: Connection, table: str, columns: Iterable[str], frame: pd.DataFrame) -> None:
    """Bulk-copy ``frame`` (columns in the given order) into ``table`` with COPY ... CSV.

    ``table`` and ``columns`` are identifiers from our own code, never from a file; values travel
    in the COPY stream, not in SQL text.
    """
    if frame.empty:
        return
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="")
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    column_list = ", ".join(columns)
    with dbapi.cursor() as cur, cur.copy(f"COPY {table} ({column_list}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(buffer.getvalue())


def committed(engine: Engine, action: Callable[[Connection], LoadReport]) -> LoadReport:
    """Run a load on its own connection and commit it.

    A refused load (``LoadFailed``) commits only the record of its failed batch: its savepoint
    was already rolled back. Any other error rolls everything back.
    """
    with engine.connect() as conn:
        try:
            report = action(conn)
        except LoadFailed:
            conn.commit()
            raise
        conn.commit()
        return report
