"""Benchmark: 亩均评价 run, whole-county candidate query with blocks, zone totals page.

The county is the demo generator's at 1,000,000 parcels. The generator gives about 1.18 firms
per parcel (1,175,285 firms); the issue asks for 100,000 enterprises on 1,000,000 parcels, so
``prepare`` keeps the firms using a fixed, hash-chosen 7.87 % of the occupied parcels (every firm
on such a parcel, with all of that firm's land) and drops the others before loading: all
1,000,000 parcels are loaded, about 100,000 enterprises with their land and three years of
figures. The rest of the parcels are land without a firm on record.

Usage::

    python scripts/demo_county.py --parcels 1000000 --figures-format csv --out benchmarks/data/county-1m
    python benchmarks/evaluation.py prepare --source benchmarks/data/county-1m     # once, ~15 min
    python benchmarks/evaluation.py run                                            # medians of 5

``prepare`` loads into the database ``landgis_bench_eval`` on the project-local cluster (or on
the server of ``LANDGIS_DATABASE_URL``) and is reused by later runs. Peers measured in the same
run: the raw-SQL ceiling for each step (see ``run``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "landgis_bench_eval"
YEAR = 2024
#: Share (in 1/10,000) of occupied parcels whose firms are kept: 787 gives ~100,000 firms.
KEEP_PER_10000 = 787


def admin_url() -> URL:
    from landgis.db import cluster
    from landgis.settings import Settings

    settings = Settings()
    if settings.database_url:
        return make_url(settings.database_url).set(drivername="postgresql+psycopg", database="postgres")
    return cluster.up(settings).url("postgres")


def bench_engine() -> Engine:
    return create_engine(admin_url().set(database=DB_NAME), pool_size=2)


# --------------------------------------------------------------------------- prepare


def _subsample(source: Path, out: Path, keep: int) -> dict[str, int]:
    """Write the enterprise tables of ``source`` restricted to the firms of the chosen parcels."""
    out.mkdir(parents=True, exist_ok=True)
    occ = pd.read_csv(source / "用地关系.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    codes = occ["宗地代码"].unique()
    chosen = {c for c in codes if zlib.crc32(c.encode()) % 10000 < keep}

    def key(frame: pd.DataFrame) -> pd.Series:
        return frame["统一社会信用代码"].where(frame["统一社会信用代码"] != "", "名称:" + frame["企业名称"])

    firms = set(key(occ[occ["宗地代码"].isin(chosen)]))
    counts = {"parcels_with_kept_firms": len(chosen), "enterprises": len(firms)}
    for name in ("企业名录.csv", "用地关系.csv", *(f"{y}年度.csv" for y in (2022, 2023, 2024))):
        frame = pd.read_csv(source / name, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        kept = frame[key(frame).isin(firms)]
        kept.to_csv(out / name, index=False, encoding="utf-8-sig")
        counts[name] = len(kept)
    return counts


def _zones(conn: Any, path: Path) -> Any:
    """Insert the zones and set parcel.zone_id from subdivided boundaries.

    ``landgis load zones`` assigns zones with one point-in-polygon join over the whole zone
    boundaries, which at 1,000,000 parcels ran for over 15 minutes here; the benchmark only needs
    the result, so it inserts the zones itself and tests each parcel's interior point against
    the boundaries cut into pieces of at most 256 vertices (same rule: the smallest zone holding
    the point).
    """
    import json

    from landgis.loading.report import LoadReport

    kinds = {"开发区": "development_zone", "工业园区": "industrial_park", "小微企业园": "small_micro_park"}
    kinds["整治片区"] = "renewal_area"
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    for feature in features:
        props = feature["properties"]
        conn.execute(
            text(
                "INSERT INTO zone (code, name, zone_type, region_code, boundary) VALUES (:c, :n, :t, :r,"
                " ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(:g), 4490)))"
            ),
            {
                "c": props["编码"],
                "n": props["名称"],
                "t": kinds.get(props["类型"], props["类型"]),
                "r": props["所属区划"],
                "g": json.dumps(feature["geometry"]),
            },
        )
    conn.execute(
        text(
            "CREATE TEMP TABLE zone_piece AS SELECT id, area_m2, ST_Subdivide(boundary, 256) AS geom FROM zone;"
            " CREATE INDEX ON zone_piece USING gist (geom); ANALYZE zone_piece;"
            " WITH hit AS (SELECT DISTINCT ON (p.id) p.id, z.id AS zone_id FROM parcel p"
            "  JOIN zone_piece z ON ST_Intersects(z.geom, ST_PointOnSurface(p.geom)) ORDER BY p.id, z.area_m2)"
            " UPDATE parcel p SET zone_id = hit.zone_id FROM hit WHERE p.id = hit.id;"
            " DROP TABLE zone_piece"
        )
    )
    report = LoadReport(kind="zones", file=path.name)
    report.message = f"写入 {len(features)} 条 (zone_id set from subdivided boundaries)"
    return report


def prepare(source: Path, keep: int) -> None:
    from landgis.db import cluster, migrate
    from landgis.loading import areas, enterprises
    from landgis.loading.batch import LoadOptions, committed
    from landgis.loading.parcels import ParcelLoadOptions, load_parcels

    sub = source.parent / f"{source.name}-firms-{keep}"
    started = time.monotonic()
    print("subsampling firms ...", flush=True)
    print(_subsample(source, sub, keep), flush=True)
    admin = admin_url()
    cluster.drop_database(admin, DB_NAME)
    cluster.ensure_database(admin, DB_NAME)
    engine = bench_engine()
    migrate.upgrade(engine)
    user = "bench"

    def table(year: int | None = None) -> enterprises.TableLoadOptions:
        return enterprises.TableLoadOptions(user=user, year=year)

    steps: list[tuple[str, Callable[[Any], Any]]] = [
        ("regions", lambda c: areas.load_regions(c, source / "regions.geojson", LoadOptions(user=user))),
        ("parcels", lambda c: load_parcels(c, source / "ZD_330699.shp", ParcelLoadOptions(user=user))),
        ("zones", lambda c: _zones(c, source / "zones.geojson")),
        ("targets", lambda c: areas.load_targets(c, source / "zone_targets.csv", LoadOptions(user=user))),
        ("enterprises", lambda c: enterprises.load_enterprises(c, sub / "企业名录.csv", table())),
        ("occupancy", lambda c: enterprises.load_occupancy(c, sub / "用地关系.csv", table())),
    ]
    for year in (2022, 2023, 2024):
        steps.append((f"figures {year}", lambda c, y=year: enterprises.load_figures(c, sub / f"{y}年度.csv", table(y))))
    for label, step in steps:
        t0 = time.monotonic()
        report = committed(engine, step)
        message = report.message if hasattr(report, "message") else report
        print(f"{label}: {message} ({time.monotonic() - t0:.0f} s)", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    print(f"prepared in {time.monotonic() - started:.0f} s", flush=True)
    engine.dispose()


# --------------------------------------------------------------------------- run


def median_of(runs: int, action: Callable[[], object]) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        action()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="subsample the firms and load the county into landgis_bench_eval")
    p.add_argument("--source", type=Path, default=ROOT / "benchmarks" / "data" / "county-1m")
    p.add_argument("--keep", type=int, default=KEEP_PER_10000)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare(args.source, args.keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
