#!/usr/bin/env python
"""Where the database's time goes when a load writes parcels: the same rows COPYed into
``parcel`` with one trigger, the foreign keys or the indexes taken away at a time.

The rows are the loader's own: the demo county's shapefile is loaded once with ``landgis load
parcels`` (as in ``load_parcels.py``), then read back with the columns the loader writes into an
empty table and COPYed again, in batches of 20,000, into the emptied table, each variant in a
transaction that is rolled back. Reported: the server process's CPU time (from /proc, so the
local cluster only; steadier than wall time on a shared machine) and the wall time.

Usage::

    .venv/bin/python benchmarks/load_breakdown.py                 # 100,000 parcels
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import psycopg
from load_parcels import county, empty_parcels, ours, prepare, scratch_database

from landgis.loading import source
from landgis.loading.mapping import best_preset
from landgis.loading.parcel_rows import DIRECT_COLUMNS
from landgis.loading.parcels import KIND, written_columns

BATCH = 20_000
FOREIGN_KEYS = ("fk_parcel_load_batch_id_load_batch", "fk_parcel_region_code_region", "fk_parcel_zone_id_zone")

Change = Callable[[psycopg.Cursor], None]


def _sql(*statements: str) -> Change:
    def run(cur: psycopg.Cursor) -> None:
        for statement in statements:
            cur.execute(statement)

    return run


def _drop_secondary_indexes(only: str | None = None) -> Change:
    def run(cur: psycopg.Cursor) -> None:
        names = cur.execute(
            "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
            " WHERE x.indrelid = 'parcel'::regclass AND NOT x.indisprimary"
        ).fetchall()
        for (name,) in names:
            if only is None or name == only:
                cur.execute(f'DROP INDEX "{name}"')

    return run


VARIANTS: list[tuple[str, Change | None]] = [
    ("everything (as a load writes)", None),
    ("without the 一码 colour trigger", _sql("ALTER TABLE parcel DISABLE TRIGGER parcel_colour_insert")),
    ("without the change-history trigger", _sql("ALTER TABLE parcel DISABLE TRIGGER parcel_log_insert")),
    ("without the 地块码 trigger", _sql("ALTER TABLE parcel DISABLE TRIGGER parcel_land_code")),
    ("without the foreign keys", _sql(*(f"ALTER TABLE parcel DROP CONSTRAINT {fk}" for fk in FOREIGN_KEYS))),
    ("without the GiST index", _drop_secondary_indexes("ix_parcel_geom")),
    ("without any index but the primary key", _drop_secondary_indexes()),
    ("without row-level security", _sql("ALTER TABLE parcel NO FORCE ROW LEVEL SECURITY")),
    ("everything again (the spread of the machine)", None),
]


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    except OSError:
        return None  # not a local server
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant (the median is shown)")
    args = parser.parse_args()

    folder = county(args.parcels)
    shp = folder / "ZD_330699.shp"
    url, engine = scratch_database()
    prepare(engine, folder)
    empty_parcels(engine)
    ours(url, shp)  # the loader's rows, as it writes them
    engine.dispose()
    info = source.inspect(shp)
    columns = ", ".join([*written_columns(best_preset(KIND, info.fields)), *DIRECT_COLUMNS])
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        cur = conn.cursor()
        payloads: list[bytes] = []
        ids = [row[0] for row in cur.execute("SELECT id FROM parcel ORDER BY id").fetchall()]
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            query = f"COPY (SELECT {columns} FROM parcel WHERE id BETWEEN {chunk[0]} AND {chunk[-1]} ORDER BY id)"
            with cur.copy(f"{query} TO STDOUT (FORMAT binary)") as copy:
                payloads.append(b"".join(bytes(block) for block in copy))
        conn.commit()
        pid = cur.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        print(f"{len(ids):,} parcels in {len(payloads)} batches; server CPU and wall seconds, median of {args.repeat}")
        baseline: float | None = None
        for label, change in VARIANTS:
            cpu: list[float] = []
            wall: list[float] = []
            for _ in range(args.repeat):
                cur.execute("TRUNCATE parcel, occupancy, change_log CASCADE")
                cur.execute("SELECT set_config('landgis.scope', '*', true)")
                if change is not None:
                    change(cur)
                before, started = _cpu_seconds(pid), time.perf_counter()
                for payload in payloads:
                    with cur.copy(f"COPY parcel ({columns}) FROM STDIN WITH (FORMAT binary)") as copy:
                        copy.write(payload)
                wall.append(time.perf_counter() - started)
                after = _cpu_seconds(pid)
                if before is not None and after is not None:
                    cpu.append(after - before)
                conn.rollback()
            cpu_s = statistics.median(cpu) if cpu else float("nan")
            wall_s = statistics.median(wall)
            if baseline is None:
                baseline = cpu_s
            print(f"| {label} | {cpu_s:.2f} | {baseline - cpu_s:+.2f} | {wall_s:.2f} |", flush=True)


if __name__ == "__main__":
    main()
