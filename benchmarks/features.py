"""OGC API - Features items pages: landgis (region-scope filter on) against tipg, same table, same run.

Pages of 100 and 1,000 parcels over random bboxes of the 100,000-parcel demo county. Both servers
run under uvicorn with the same number of workers, one after the other, on free ports, and get the
same list of requests (same bboxes, same properties, CRS84 output). landgis answers as a viewer
limited to the county (330699), so PostgreSQL's row-level security checks every row; tipg reads the
same table as the owner.

Usage::

    python benchmarks/features.py                      # prepares the data once, then measures
    python benchmarks/features.py --requests 100 --concurrency 4 --workers 1

tipg lives in its own virtual environment: ``python3.11 -m venv benchmarks/.venv-tipg &&
benchmarks/.venv-tipg/bin/pip install tipg``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchauth import bench_token  # noqa: E402

from landgis.db import cluster, migrate  # noqa: E402
from landgis.settings import Settings  # noqa: E402

DATABASE = "landgis_bench_features"
PROPERTIES = "zddm,location,right_holder,area_mu,far,renewal_status,region_code"
TIPG_VENV = ROOT / "benchmarks" / ".venv-tipg"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(parcels: int, seed: int) -> Engine:
    """The benchmark database with the demo county loaded (once) and a viewer limited to 330699."""
    from landgis.cli.demo import generator

    settings = Settings()
    admin = cluster.up(settings).url("postgres") if not settings.database_url else None
    if admin is None:
        raise SystemExit("run against the project-local cluster (unset LANDGIS_DATABASE_URL)")
    folder = ROOT / "benchmarks" / "data" / f"county-{parcels}"
    if not (folder / "manifest.json").is_file():
        print(f"generating {parcels} parcels into {folder} ...", flush=True)
        generator().generate(folder, parcels=parcels, seed=seed, figures_format="csv", progress=True)
    cluster.ensure_database(admin, DATABASE)
    engine = create_engine(admin.set(database=DATABASE))
    migrate.upgrade(engine)
    with engine.connect() as conn:
        loaded = conn.execute(text("SELECT count(*) FROM parcel")).scalar_one()
    if loaded != parcels:
        print(f"loading the county into {DATABASE} ({loaded} parcels there) ...", flush=True)
        engine.dispose()
        cluster.drop_database(admin, DATABASE)
        cluster.ensure_database(admin, DATABASE)
        engine = create_engine(admin.set(database=DATABASE))
        migrate.upgrade(engine)
        started = time.perf_counter()
        load_county(engine, folder)
        print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
    return engine


def load_county(engine: Engine, folder: Path) -> None:
    """The demo county's regions, parcels and zones through the loaders, parcels before zones
    (the benchmark reads parcels only; enterprises are not loaded).

    ``landgis demo load`` loads zones first; with 100,000 parcels inserted in the same transaction
    (no statistics yet) the zone assignment after the parcel load then takes many minutes. Loading
    the zones after the parcels were committed and analysed assigns them in one pass.
    """
    from landgis.loading import areas
    from landgis.loading.batch import LoadOptions, committed
    from landgis.loading.parcels import ParcelLoadOptions, load_parcels

    def show(label: str, report: object) -> None:
        print(f"  {label}: {getattr(report, 'message', '')}", flush=True)

    show(
        "regions",
        committed(engine, lambda c: areas.load_regions(c, folder / "regions.geojson", LoadOptions(user="bench"))),
    )
    show(
        "parcels",
        committed(engine, lambda c: load_parcels(c, folder / "ZD_330699.shp", ParcelLoadOptions(user="bench"))),
    )
    with engine.begin() as conn:
        conn.execute(text("ANALYZE parcel"))
    show("zones", committed(engine, lambda c: areas.load_zones(c, folder / "zones.geojson", LoadOptions(user="bench"))))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def bboxes(engine: Engine, limit: int, count: int, rng: random.Random) -> list[str]:
    """Random boxes around random parcels, sized so that most hold at least ``limit`` parcels."""
    with engine.connect() as conn:
        ids = conn.execute(text("SELECT id FROM parcel ORDER BY id")).scalars().all()
        centres = []
        for parcel_id in rng.sample(ids, count):
            x, y = conn.execute(
                text("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) c FROM parcel WHERE id = :id) s"),
                {"id": parcel_id},
            ).one()
            centres.append((float(x), float(y)))
        half = 0.002
        while True:  # grow the box until the median sample box holds 1.3 x limit
            counts = [
                conn.execute(
                    text("SELECT count(*) FROM parcel WHERE geom && ST_MakeEnvelope(:a, :b, :c, :d, 4490)"),
                    {"a": x - half, "b": y - half, "c": x + half, "d": y + half},
                ).scalar_one()
                for x, y in centres[:15]
            ]
            if statistics.median(counts) >= 1.3 * limit:
                break
            half *= 1.25
    return [f"{x - half:.6f},{y - half:.6f},{x + half:.6f},{y + half:.6f}" for x, y in centres]


def start(argv: list[str], env: dict[str, str], probe: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(probe, timeout=2).status_code < 500:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.5)
    process.kill()
    raise SystemExit(
        f"server did not start: {argv}: {process.stderr.read().decode()[-2000:] if process.stderr else ''}"
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def measure(url: str, boxes: list[str], limit: int, headers: dict[str, str], concurrency: int) -> dict[str, float]:
    """Wall time, latencies and features returned for one pass over ``boxes``."""

    def one(client: httpx.Client, box: str) -> tuple[float, bytes]:
        began = time.perf_counter()
        response = client.get(url, params={"bbox": box, "limit": limit, "properties": PROPERTIES}, headers=headers)
        response.raise_for_status()
        return time.perf_counter() - began, response.content

    with httpx.Client(timeout=120) as client:
        for box in boxes[:3]:  # warm-up: pools, plans, caches
            one(client, box)
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(lambda b: one(client, b), boxes))
        wall = time.perf_counter() - started
    latencies = sorted(r[0] for r in results)
    features = sum(len(json.loads(r[1])["features"]) for r in results)
    return {
        "features": features,
        "wall_s": wall,
        "features_per_s": features / wall,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "requests": len(results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20221231)
    parser.add_argument("--requests", type=int, default=60, help="requests per page size and server")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers for each server")
    args = parser.parse_args()

    engine = prepare(args.parcels, args.seed)
    token = bench_token(engine, "bench.viewer", "viewer", ["330699"], "benchmark")
    database_url = engine.url.render_as_string(hide_password=False)
    rng = random.Random(args.seed)
    plans = {limit: bboxes(engine, limit, args.requests, rng) for limit in (100, 1000)}
    results: dict[tuple[str, int], dict[str, float]] = {}

    port = free_port()
    ours = start(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:create_app",
            "--factory",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        {**os.environ, "LANDGIS_DATABASE_URL": database_url},
        f"http://127.0.0.1:{port}/health",
    )
    try:
        url = f"http://127.0.0.1:{port}/ogc/collections/parcels/items"
        for limit, boxes in plans.items():
            results[("landgis", limit)] = measure(
                url, boxes, limit, {"Authorization": f"Bearer {token}"}, args.concurrency
            )
    finally:
        stop(ours)

    port = free_port()
    tipg_env = {
        **os.environ,
        "DATABASE_URL": cluster.libpq_url(database_url),
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_MAX_FEATURES_PER_QUERY": "10000",
    }
    tipg = start(
        [
            str(TIPG_VENV / "bin" / "uvicorn"),
            "tipg.main:app",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        tipg_env,
        f"http://127.0.0.1:{port}/collections",
    )
    try:
        url = f"http://127.0.0.1:{port}/collections/public.parcel/items"
        for limit, boxes in plans.items():
            results[("tipg", limit)] = measure(url, boxes, limit, {}, args.concurrency)
    finally:
        stop(tipg)

    print(
        f"\n{args.parcels:,} parcels, {args.requests} requests per row, concurrency {args.concurrency}, "
        f"{args.workers} worker(s) each\n"
    )
    print("| server | page size | features/s | p50 ms | p99 ms | features | requests |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for (server, limit), r in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(
            f"| {server} | {limit} | {r['features_per_s']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {r['features']:,.0f} | {r['requests']:.0f} |"
        )


if __name__ == "__main__":
    main()
