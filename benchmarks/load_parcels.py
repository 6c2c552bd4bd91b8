#!/usr/bin/env python
"""Parcel loading: ``landgis load parcels`` (validation included) against ogr2ogr, same file,
same database, same run.

The file is the demo county's parcel shapefile (GBK, no .cpg, EPSG:4528), generated once into
``benchmarks/data/``. Each round loads it into an empty ``parcel`` table with our command line,
and with ``ogr2ogr -f PostgreSQL -gt unlimited`` into a scratch table of the same scratch
database (ogr2ogr is told the encoding with ``--config SHAPE_ENCODING CP936``, without which it
fails on the GBK text). Wall times are of the whole command, start-up included; our own
in-process time (from ``--json``) is reported beside it. Peak memory (RSS) of our command is
measured on a second, larger file with ``os.wait4``.

Usage::

    .venv/bin/python benchmarks/load_parcels.py                      # 100,000 parcels, 3 rounds
    .venv/bin/python benchmarks/load_parcels.py --memory-parcels 1000000
    .venv/bin/python benchmarks/load_parcels.py --bound-role     # also as a role RLS binds

``--bound-role`` also loads the file, each round, logged in as a role that is not a superuser
(``landgis_bench_loader``, every privilege on the schema): row-level security binds it, so its
first load cannot ``COPY`` into ``parcel`` and goes through the stage and the checks instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
SCRATCH_DB = "landgis_bench_load"
SEED = 20221231
BOUND_ROLE = "landgis_bench_loader"


def county(parcels: int) -> Path:
    """The demo county of ``parcels`` parcels, generated on first use."""
    folder = DATA / f"county-{parcels}"
    if not (folder / "manifest.json").is_file():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "demo_county.py"),
                "--parcels",
                str(parcels),
                "--seed",
                str(SEED),
                "--figures-format",
                "csv",
                "--out",
                str(folder),
            ],
            check=True,
        )
    return folder


def scratch_database() -> tuple[URL, Engine]:
    from landgis.db import cluster, migrate
    from landgis.settings import Settings

    settings = Settings()
    if settings.database_url:
        from sqlalchemy.engine import make_url

        admin = make_url(settings.database_url).set(drivername="postgresql+psycopg", database="postgres")
    else:
        admin = cluster.up(settings).url("postgres")
    cluster.drop_database(admin, SCRATCH_DB)
    cluster.ensure_database(admin, SCRATCH_DB)
    url = admin.set(database=SCRATCH_DB)
    engine = create_engine(url)
    migrate.upgrade(engine)
    return url, engine


def prepare(engine: Engine, folder: Path) -> None:
    """Regions and zones of the county (not timed)."""
    from landgis.loading import areas
    from landgis.loading.batch import committed

    committed(engine, lambda c: areas.load_regions(c, folder / "regions.geojson"))
    committed(engine, lambda c: areas.load_zones(c, folder / "zones.geojson"))


def empty_parcels(engine: Engine) -> None:
    with engine.begin() as conn:
        # CASCADE: every table referring to parcels (renewal events, plans, colours ...) of the scratch database
        conn.execute(text("TRUNCATE parcel, occupancy, change_log CASCADE"))
        conn.execute(text("DELETE FROM load_batch WHERE kind = 'parcels'"))
        conn.execute(text("DROP TABLE IF EXISTS bench_ogr_scratch"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE parcel"))
        conn.execute(text("CHECKPOINT"))


def run(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall time (s), peak RSS (bytes) and stdout of a command."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)  # wait4: the child's own peak RSS
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command[:4])} failed ({process.returncode}): {err.read().decode()[-2000:]}")
        return elapsed, usage.ru_maxrss * 1024, out.read().decode()


def ours(url: URL, shp: Path) -> tuple[float, float, int, dict[str, object]]:
    env = dict(os.environ, LANDGIS_DATABASE_URL=url.render_as_string(hide_password=False))
    landgis = str(Path(sys.executable).parent / "landgis")
    wall, rss, out = run([landgis, "load", "parcels", str(shp), "--json"], env)
    summary = json.loads(out)
    return wall, float(summary["elapsed_s"]), rss, summary


def bound_role(engine: Engine, url: URL) -> URL:
    """A login role of the scratch database that row-level security binds (not a superuser, not
    the owner); the URL to log in as it."""
    password = os.urandom(12).hex()
    with engine.begin() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": BOUND_ROLE}).first()
        verb = "ALTER" if exists else "CREATE"
        # A DDL statement takes no parameters; the password is ours, made just above.
        conn.execute(text(f"{verb} ROLE {BOUND_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '{password}'"))
        for grant in (
            f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {BOUND_ROLE}",
            f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {BOUND_ROLE}",
            f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {BOUND_ROLE}",
            f"GRANT TEMP, CONNECT ON DATABASE {SCRATCH_DB} TO {BOUND_ROLE}",
        ):
            conn.execute(text(grant))
        assert not conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = :r"), {"r": BOUND_ROLE}).scalar()
    return url.set(username=BOUND_ROLE, password=password)


def ogr2ogr(url: URL, shp: Path) -> float:
    pg = f"PG:host={url.host} port={url.port} dbname={url.database} user={url.username} password={url.password}"
    command = ["ogr2ogr", "-f", "PostgreSQL", pg, str(shp), "-nln", "bench_ogr_scratch", "-overwrite"]
    command += ["-gt", "unlimited", "--config", "SHAPE_ENCODING", "CP936"]
    wall, _, _ = run(command, dict(os.environ))
    return wall


def live_table_floor(engine: Engine, batch_id: int) -> float:
    """Seconds the database alone takes to put ogr2ogr's rows into the live ``parcel`` table
    (its triggers, foreign keys and indexes), with no reading and no checks: one INSERT ... SELECT
    from the scratch table, transformed to EPSG:4490, in a transaction that is rolled back."""
    with engine.connect() as conn:
        conn.execute(text("TRUNCATE parcel, occupancy CASCADE"))
        started = time.perf_counter()
        conn.execute(
            text(
                "INSERT INTO parcel (zddm, zddm_raw, zddm_valid, right_holder, location, declared_area_m2,"
                " region_code, geom, source_attrs, load_batch_id)"
                ' SELECT "宗地代码", "宗地代码", true, "权利人", "坐落", "宗地面积", \'330699\','
                " ST_Multi(ST_Transform(wkb_geometry, 4490)), '{}', :batch FROM bench_ogr_scratch"
            ),
            {"batch": batch_id},
        )
        elapsed = time.perf_counter() - started
        conn.rollback()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory-parcels", type=int, default=0, help="also measure peak RSS on this many")
    parser.add_argument("--bound-role", action="store_true", help="also load as a role row-level security binds")
    args = parser.parse_args()
    if shutil.which("ogr2ogr") is None:
        raise SystemExit("ogr2ogr is not installed (apt-get install gdal-bin)")

    folder = county(args.parcels)
    shp = folder / "ZD_330699.shp"
    url, engine = scratch_database()
    prepare(engine, folder)
    ours_wall: list[float] = []
    ours_inner: list[float] = []
    peer: list[float] = []
    floor: list[float] = []
    rss: list[int] = []
    bound: list[float] = []
    bound_url = bound_role(engine, url) if args.bound_role else None
    for round_no in range(1, args.runs + 1):
        empty_parcels(engine)
        wall, inner, peak, summary = ours(url, shp)
        counts = summary["counts"]
        if not isinstance(counts, dict) or counts["inserted"] != args.parcels:
            raise SystemExit(f"unexpected result: {summary}")
        ours_wall.append(wall)
        ours_inner.append(inner)
        rss.append(peak)
        peer.append(ogr2ogr(url, shp))
        floor.append(live_table_floor(engine, int(summary["batch_id"])))
        as_bound = ""
        if bound_url is not None:
            empty_parcels(engine)
            bound_wall, _, _, bound_summary = ours(bound_url, shp)
            if bound_summary["counts"] != counts:
                raise SystemExit(f"the bound role's load differs: {bound_summary}")
            bound.append(bound_wall)
            as_bound = f", landgis as a role RLS binds {bound_wall:.2f} s"
        print(
            f"round {round_no}: landgis {wall:.2f} s (in-process {inner:.2f} s, RSS {peak / 2**20:.0f} MiB),"
            f" ogr2ogr {peer[-1]:.2f} s, INSERT into the live table alone {floor[-1]:.2f} s{as_bound}",
            flush=True,
        )
    rerun_wall, _, _, rerun = ours(url, shp)
    print(f"re-run of the same file (nothing changes): {rerun_wall:.2f} s, status {rerun['status']}")
    median_ours, median_peer = statistics.median(ours_wall), statistics.median(peer)
    print(
        f"\n{args.parcels:,} parcels, {args.runs} rounds, medians: landgis {median_ours:.2f} s"
        f" (in-process {statistics.median(ours_inner):.2f} s), ogr2ogr {median_peer:.2f} s,"
        f" ratio {median_ours / median_peer:.2f}x (in-process {statistics.median(ours_inner) / median_peer:.2f}x);"
        f" INSERT into the live table alone {statistics.median(floor):.2f} s"
        f" ({statistics.median(floor) / median_peer:.2f}x ogr2ogr); peak RSS {max(rss) / 2**20:.0f} MiB"
    )
    if bound:
        print(
            f"as a role row-level security binds (first load through the stage): {statistics.median(bound):.2f} s"
            f" ({statistics.median(bound) / median_peer:.2f}x ogr2ogr, {statistics.median(bound) / median_ours:.2f}x"
            " the superuser's direct load)"
        )
    if args.memory_parcels:
        engine.dispose()
        big = county(args.memory_parcels)
        url, engine = scratch_database()
        prepare(engine, big)
        wall, inner, peak, summary = ours(url, big / "ZD_330699.shp")
        print(
            f"{args.memory_parcels:,} parcels: landgis {wall:.1f} s (in-process {inner:.1f} s),"
            f" peak RSS {peak / 2**20:.0f} MiB, status {summary['status']}, counts {summary['counts']}"
        )
    engine.dispose()


if __name__ == "__main__":
    main()
