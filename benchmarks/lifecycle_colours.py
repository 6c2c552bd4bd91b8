#!/usr/bin/env python
"""一码管地 colours: how long the set-based refresh takes for a whole county and for one parcel
(a workflow step), against two peers measured in the same run:

- row-at-a-time: the same function called once per parcel, as a row trigger would (measured on a
  sample and scaled to the county);
- floor: raw PostGIS SQL writing one row per parcel (``CREATE TEMP TABLE AS SELECT`` from
  ``parcel``), the least any per-parcel materialisation costs.

The one-parcel and full refreshes are also timed as the web service runs them: as the role
``landgis_app`` with a region scope, under row-level security (revision 0007).

Usage::

    python benchmarks/lifecycle_colours.py --parcels 100000 [--keep]

The county is generated with scripts/demo_county.py into benchmarks/data/ (git-ignored) and loaded
into a scratch database ``landgis_bench_lifecycle`` on the local cluster (or the server of
LANDGIS_DATABASE_URL); ``--keep`` leaves it for a re-run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from landgis.cli.demo import generator
from landgis.db import cluster, migrate
from landgis.loading import areas
from landgis.loading.batch import LoadOptions, committed
from landgis.loading.parcels import ParcelLoadOptions, load_parcels
from landgis.settings import Settings

ROOT = Path(__file__).resolve().parent
DB = "landgis_bench_lifecycle"


def timed(action: Callable[[], object], repeat: int = 3) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def prepare(parcels: int, keep: bool) -> Engine:
    settings = Settings()
    admin = (
        cluster.up(settings).url("postgres")
        if not settings.database_url
        else create_engine(settings.database_url).url.set(drivername="postgresql+psycopg", database="postgres")
    )
    url = admin.set(database=DB)
    engine = create_engine(url)
    if keep:
        try:
            with engine.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM parcel")).scalar_one() == parcels:
                    return engine
        except Exception:  # noqa: BLE001 - no database yet: build it
            pass
        engine.dispose()  # the pooled connection dies with the database dropped below
    cluster.drop_database(admin, DB)
    cluster.ensure_database(admin, DB)
    migrate.upgrade(engine)
    folder = ROOT / "data" / f"county-{parcels}"
    if not (folder / "manifest.json").is_file():
        generator().generate(folder, parcels=parcels, seed=20221231, figures_format="csv")
    start = time.perf_counter()
    # Regions, zones, targets and parcels are all the colours need (no evaluation in this run).
    options = LoadOptions(user="bench")
    for label, step in (
        ("行政区划", lambda c: areas.load_regions(c, folder / "regions.geojson", options)),
        ("园区", lambda c: areas.load_zones(c, folder / "zones.geojson", options)),
        ("宗地", lambda c: load_parcels(c, folder / "ZD_330699.shp", ParcelLoadOptions(user="bench"))),
    ):
        print(f"  {label}: {committed(engine, step).message}")
    print(f"loaded {parcels:,} parcels in {time.perf_counter() - start:.1f} s (colours computed by the insert trigger)")
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=500, help="parcels refreshed one at a time")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    engine = prepare(args.parcels, args.keep)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM parcel")).scalar_one()
        ids = conn.execute(text("SELECT id FROM parcel ORDER BY id LIMIT :n"), {"n": args.sample}).scalars().all()
        one = ids[len(ids) // 2]
        # the county of that parcel: the scope of the service-role measurements
        scope = conn.execute(text("SELECT region_code FROM parcel WHERE id = :id"), {"id": one}).scalar_one()[:6]
        conn.commit()

        def full() -> None:
            with conn.begin():
                # Force every row to be rewritten: refresh as of another day.
                conn.execute(text("SELECT landgis_refresh_parcel_colour(NULL, current_date + 1)"))
                conn.execute(text("SELECT landgis_refresh_parcel_colour(NULL, current_date)"))

        def single() -> None:
            with conn.begin():
                conn.execute(
                    text("SELECT landgis_refresh_parcel_colour(ARRAY[:id]::bigint[], current_date + 1)"), {"id": one}
                )

        def as_service(*statements: str, **params: object) -> Callable[[], None]:
            def run() -> None:
                with conn.begin():
                    conn.execute(text("SET LOCAL ROLE landgis_app"))
                    conn.execute(text("SELECT set_config('landgis.scope', :s, true)"), {"s": scope})
                    for sql in statements:
                        conn.execute(text(sql), params)

            return run

        single_app = as_service("SELECT landgis_refresh_parcel_colour(ARRAY[:id]::bigint[], current_date + 3)", id=one)
        full_app = as_service(
            "SELECT landgis_refresh_parcel_colour(NULL, current_date + 1)",
            "SELECT landgis_refresh_parcel_colour(NULL, current_date)",
        )

        def row_at_a_time() -> None:
            with conn.begin():
                for pid in ids:
                    conn.execute(
                        text("SELECT landgis_refresh_parcel_colour(ARRAY[:id]::bigint[], current_date + 2)"),
                        {"id": pid},
                    )

        def floor() -> None:
            with conn.begin():
                conn.execute(text("CREATE TEMP TABLE floor_copy AS SELECT id, renewal_status, land_code FROM parcel"))
                conn.execute(text("DROP TABLE floor_copy"))

        full_s = timed(full) / 2
        single_s = timed(single, repeat=5)
        single_app_s = timed(single_app, repeat=5)
        full_app_s = timed(full_app) / 2
        row_s = timed(row_at_a_time, repeat=1) / len(ids) * n
        floor_s = timed(floor)
        colours = dict(conn.execute(text("SELECT colour, count(*) FROM parcel_colour GROUP BY 1")).all())
    engine.dispose()
    print(f"parcels: {n:,}; colours: {colours}")
    print(f"set-based full refresh:            {full_s:8.2f} s  ({n / full_s:,.0f} parcels/s)")
    print(f"one parcel (a workflow step):      {single_s * 1000:8.1f} ms")
    print(f"  as landgis_app, scope {scope}:    {single_app_s * 1000:8.1f} ms")
    print(f"  full refresh as landgis_app:     {full_app_s:8.2f} s")
    print(f"row-at-a-time, scaled from {len(ids)}:   {row_s:8.2f} s  ({row_s / full_s:.0f}x the set-based refresh)")
    print(f"floor (CREATE TABLE AS, one row each): {floor_s:6.2f} s")


if __name__ == "__main__":
    main()
