"""Pre-computed aggregates the candidate rules, the map and the totals page read.

``parcel_year_stat`` (per parcel and year: the firms' figures and the main user) and
``totals_cell`` (zone totals pre-summed per year, zone, region, status and class) are rebuilt per
year, set-based, whenever they are older than the newest change in the change history or the
newest evaluation run. Every write to parcels, firms, occupancy, figures and flags goes through
the change-history triggers, so ``max(change_log.id)`` tells whether anything changed since.

Aggregates are built over the whole database, not the caller's region scope (they are a cache;
every read of them is filtered by scope through row-level security). The service role may not
write them: it rebuilds them through the SECURITY DEFINER functions ``landgis_build_parcel_year_stat``
and ``landgis_build_totals_cell`` (revision 0008), which see every region for their own statements
and return only a row count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, text

PARCEL_STATS = "parcel_year_stat"
TOTALS = "totals_cell"


@dataclass(frozen=True)
class Freshness:
    change_id: int
    run_id: int


def current_marks(conn: Connection) -> Freshness:
    """The newest change-history id and evaluation run id of the whole database (not only the scope's)."""
    row = conn.execute(text("SELECT change_id, run_id FROM landgis_aggregate_marks()")).one()
    return Freshness(int(row[0]), int(row[1]))


def _is_fresh(conn: Connection, name: str, year: int, marks: Freshness, needs_runs: bool) -> bool:
    row = conn.execute(
        text("SELECT change_id, run_id FROM aggregate_refresh WHERE name = :name AND year = :year"),
        {"name": name, "year": year},
    ).first()
    if row is None:
        return False
    return int(row[0]) >= marks.change_id and (not needs_runs or int(row[1]) >= marks.run_id)


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
    conn.execute(text("SELECT landgis_build_parcel_year_stat(:year)"), {"year": year})
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
    conn.execute(text("SELECT landgis_build_totals_cell(:year)"), {"year": year})
    _mark(conn, TOTALS, year, marks, started)
    return True
