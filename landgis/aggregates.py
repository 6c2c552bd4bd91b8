"""Pre-computed aggregates the candidate rules, the map and the totals page read.

``parcel_year_stat`` (per parcel and year: the firms' figures and the main user) and
``totals_cell`` (zone totals pre-summed per year, zone, region, status and class) are rebuilt per
year, set-based, whenever they are older than the newest change in the change history or the
newest evaluation run. Every write to parcels, firms, occupancy, figures and flags goes through
the change-history triggers, so ``max(change_log.id)`` tells whether anything changed since.

Aggregates are built over the whole database, not the caller's region scope (they are a cache;
every read of them filters by scope), so a rebuild lifts the scope for its own statements.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, text

from landgis.db.engine import scope_setting
from landgis.sqlfiles import sql

PARCEL_STATS = "parcel_year_stat"
TOTALS = "totals_cell"
CHINA_TZ = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True)
class Freshness:
    change_id: int
    run_id: int


def current_marks(conn: Connection) -> Freshness:
    """The newest change-history id and evaluation run id."""
    row = conn.execute(
        text("SELECT (SELECT coalesce(max(id), 0) FROM change_log), (SELECT coalesce(max(id), 0) FROM evaluation_run)")
    ).one()
    return Freshness(int(row[0]), int(row[1]))


def _is_fresh(conn: Connection, name: str, year: int, marks: Freshness, needs_runs: bool) -> bool:
    row = conn.execute(
        text("SELECT change_id, run_id FROM aggregate_refresh WHERE name = :name AND year = :year"),
        {"name": name, "year": year},
    ).first()
    if row is None:
        return False
    return int(row[0]) >= marks.change_id and (not needs_runs or int(row[1]) >= marks.run_id)


@contextmanager
def unscoped(conn: Connection) -> Iterator[None]:
    """Lift the region scope for the statements inside (aggregates are built for everyone)."""
    saved = conn.execute(text("SELECT coalesce(current_setting('landgis.scope', true), '')")).scalar_one()
    # '*', not '': the service's role sees nothing while the scope is unset or '' (fail closed).
    conn.execute(text("SELECT set_config('landgis.scope', :s, true)"), {"s": scope_setting(None)})
    try:
        yield
    finally:
        conn.execute(text("SELECT set_config('landgis.scope', :s, true)"), {"s": saved})


def _lock(conn: Connection, name: str, year: int) -> None:
    """Serialise rebuilds of one aggregate and year (held until the transaction ends)."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"landgis:{name}:{year}"})


def _mark(conn: Connection, name: str, year: int, marks: Freshness, started: float) -> None:
    conn.execute(
        text(
            "INSERT INTO aggregate_refresh (name, year, change_id, run_id, refreshed_at, elapsed_ms)"
            " VALUES (:name, :year, :change, :run, now(), :ms)"
            " ON CONFLICT (name, year) DO UPDATE SET change_id = EXCLUDED.change_id, run_id = EXCLUDED.run_id,"
            " refreshed_at = EXCLUDED.refreshed_at, elapsed_ms = EXCLUDED.elapsed_ms"
        ),
        {
            "name": name,
            "year": year,
            "change": marks.change_id,
            "run": marks.run_id,
            "ms": int((time.monotonic() - started) * 1000),
        },
    )


def ensure_parcel_stats(conn: Connection, year: int, *, force: bool = False) -> bool:
    """Rebuild ``parcel_year_stat`` for ``year`` when stale; True when it was rebuilt."""
    marks = current_marks(conn)
    if not force and _is_fresh(conn, PARCEL_STATS, year, marks, needs_runs=False):
        return False
    _lock(conn, PARCEL_STATS, year)
    marks = current_marks(conn)
    if not force and _is_fresh(conn, PARCEL_STATS, year, marks, needs_runs=False):
        return False
    started = time.monotonic()
    with unscoped(conn):
        conn.execute(text("DELETE FROM parcel_year_stat WHERE year = :year"), {"year": year})
        conn.execute(
            sql("parcel_year_stat"),
            {"year": year, "year_start": dt.date(year, 1, 1), "year_end": dt.date(year, 12, 31)},
        )
    _mark(conn, PARCEL_STATS, year, marks, started)
    return True


def ensure_totals(conn: Connection, year: int, *, force: bool = False) -> bool:
    """Rebuild ``totals_cell`` for ``year`` (and the parcel stats it reads) when stale."""
    rebuilt = ensure_parcel_stats(conn, year)
    marks = current_marks(conn)
    if not force and not rebuilt and _is_fresh(conn, TOTALS, year, marks, needs_runs=True):
        return False
    _lock(conn, TOTALS, year)
    marks = current_marks(conn)
    if not force and not rebuilt and _is_fresh(conn, TOTALS, year, marks, needs_runs=True):
        return False
    started = time.monotonic()
    with unscoped(conn):
        conn.execute(text("DELETE FROM totals_cell WHERE year = :year"), {"year": year})
        conn.execute(sql("totals_cell"), {"year": year, "jan1": dt.datetime(year, 1, 1, tzinfo=CHINA_TZ)})
    _mark(conn, TOTALS, year, marks, started)
    return True
