#!/usr/bin/env python
"""Vector tiles: landgis against tipg and against the raw PostGIS ceiling, on the same parcels.

    .venv/bin/python benchmarks/tiles.py [--parcels 100000] [--workers 2] [--tiles 600]

1. Generates (once) the demo county with ``--parcels`` parcels under benchmarks/data/ and loads
   its regions, zones and parcels into a database of their own in the local cluster.
2. Installs tipg into benchmarks/.venv-tipg (once) and starts it and ``landgis serve`` with the
   same number of uvicorn workers, both reading the same ``parcel`` table.
3. For z12, z14 and z16 draws random tiles that hold parcels (each tile requested once per
   server: our cache stays cold), warms PostgreSQL's buffers with one untimed pass, then times
   - the raw ceiling: our tile SQL run directly in a loop on ``--workers`` connections,
   - landgis: ``/tiles/parcels_status/{z}/{x}/{y}.mvt``,
   - tipg: ``/collections/public.parcel/tiles/WebMercatorQuad/{z}/{x}/{y}`` with the same properties.
4. Times cached tiles (the z14 set requested again, many times, in random order).
5. Checks that no tile at any zoom of the layer is over 1 MB (and reports the largest per zoom).

Prints a Markdown section for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import httpload  # noqa: E402
from benchauth import bench_token  # noqa: E402

from landgis.db import cluster, migrate  # noqa: E402
from landgis.loading.report import LoadReport  # noqa: E402
from landgis.settings import Settings  # noqa: E402

TIPG_VENV = ROOT / "benchmarks" / ".venv-tipg"
LAYER = "parcels_status"
ZOOMS = (12, 14, 16)


def sign_in(engine: Engine) -> None:
    """Tiles need a signed-in caller: an unrestricted administrator's API token for our server
    (the header goes to tipg too, which has no accounts and ignores it)."""
    httpload.HEADERS["Authorization"] = f"Bearer {bench_token(engine, 'bench-admin', 'admin', None, 'tile benchmark')}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_database(parcels: int) -> Engine:
    """The benchmark county in a database of its own (generated and loaded once)."""
    from landgis.cli.demo import generator
    from landgis.loading import areas
    from landgis.loading.batch import LoadOptions, committed

    admin = cluster.up(Settings()).url("postgres")
    name = f"landgis_bench_{parcels}"
    cluster.ensure_database(admin, name)
    engine = create_engine(admin.set(database=name), pool_size=4)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        loaded = conn.execute(text("SELECT count(*) FROM parcel")).scalar_one()
    if loaded != parcels:
        folder = ROOT / "benchmarks" / "data" / f"county-{parcels}"
        if not (folder / "manifest.json").is_file():
            print(f"generating the {parcels:,}-parcel county ...", file=sys.stderr)
            generator().generate(folder, parcels=parcels, seed=20221231, figures_format="csv")
        print("loading regions, zones and parcels ...", file=sys.stderr)
        options = LoadOptions(user="benchmark")
        # Parcels before zones, with statistics in between: the parcel loader's zone assignment
        # plans badly on a freshly filled, unanalysed parcel table.
        committed(engine, lambda c: areas.load_regions(c, folder / "regions.geojson", options))
        committed(engine, lambda c: _first_load(c, folder / "ZD_330699.shp"))
        with engine.begin() as conn:
            conn.execute(text("ANALYZE parcel"))
        committed(engine, lambda c: areas.load_zones(c, folder / "zones.geojson", options))
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return engine


def _first_load(conn: Connection, path: Path) -> LoadReport:
    """The parcel loader on an empty table: its NOT EXISTS match against the table it fills runs
    as a nested loop when the table looks empty (quadratic for 100,000 parcels), so hash joins
    are forced for this load."""
    from landgis.loading.parcels import ParcelLoadOptions, load_parcels

    conn.execute(text("SET enable_nestloop = off"))
    try:
        return load_parcels(conn, path, ParcelLoadOptions(user="benchmark"))
    finally:
        conn.execute(text("RESET enable_nestloop"))


def ensure_tipg() -> Path:
    uvicorn = TIPG_VENV / "bin" / "uvicorn"
    if not uvicorn.exists():
        print("installing tipg into benchmarks/.venv-tipg ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
        subprocess.run([str(TIPG_VENV / "bin" / "pip"), "install", "-q", "tipg", "uvicorn"], check=True)
    return uvicorn


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180.0) / 360.0 * n), int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)


def random_tiles(engine: Engine, z: int, count: int, rng: random.Random) -> list[tuple[int, int, int]]:
    """Distinct tiles holding parcels, in random order."""
    with engine.connect() as conn:
        points = conn.execute(
            text("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM parcel) q")
        ).all()
    tiles = sorted({(z, *tile_of(lon, lat, z)) for lon, lat in points})
    rng.shuffle(tiles)
    return tiles[:count]


class Server:
    """A uvicorn server in a process group of its own, stopped by its process-group id."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int) -> None:
        self.name, self.port = name, port
        self.log = open(ROOT / "benchmarks" / "data" / f"{name}.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            command, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait(self, path: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see benchmarks/data/{self.name}.log")
            try:
                result = httpload.run("127.0.0.1", self.port, [path], concurrency=1)
                if 200 in result.statuses or 204 in result.statuses:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{self.name} did not answer in {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def raw_ceiling(engine: Engine, tiles: list[tuple[int, int, int]], workers: int) -> httpload.Result:
    """Our tile statement, run directly on ``workers`` connections (threads, as many as the HTTP
    client's connections), each tile once."""
    from landgis.maps.layers import VectorLayer, load_layers
    from landgis.maps.tiles import TileRenderer, check_tile

    layer = load_layers(ROOT / "layers")[LAYER]
    assert isinstance(layer, VectorLayer)
    renderer = TileRenderer(layer)
    result = httpload.Result()
    lock = threading.Lock()
    queue = list(tiles)

    def work() -> None:
        with engine.connect() as conn:
            while True:
                with lock:
                    if not queue:
                        return
                    z, x, y = queue.pop()
                start = time.perf_counter()
                query, values = renderer.bind(check_tile(z, x, y), {})
                row = conn.execute(query.sql, values).one()
                conn.commit()
                elapsed = time.perf_counter() - start
                with lock:
                    result.latencies_s.append(elapsed)
                    result.sizes.append(len(row.tile or b""))
                    result.statuses[200] = result.statuses.get(200, 0) + 1

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.elapsed_s = time.perf_counter() - started
    return result


def properties(z: int) -> str:
    return "renewal_status,zddm" if z >= 15 else "renewal_status"


def row(name: str, r: httpload.Result) -> str:
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r.statuses.items()))
    return (
        f"| {name} | {len(r.latencies_s)} | {r.rate:,.0f} | {r.percentile(50) * 1000:.1f} | "
        f"{r.percentile(99) * 1000:.1f} | {max(r.sizes, default=0) / 1024:.0f} | {statuses} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tiles", type=int, default=600, help="tiles per zoom (fewer if the county has fewer)")
    parser.add_argument("--cached", type=int, default=30_000, help="requests of the cached run")
    parser.add_argument("--concurrency", type=int, default=8, help="client connections (and raw SQL connections)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    engine = prepare_database(args.parcels)
    sign_in(engine)
    url = engine.url.render_as_string(hide_password=False)
    tipg_uvicorn = ensure_tipg()
    rng = random.Random(args.seed)
    tile_sets = {z: random_tiles(engine, z, args.tiles + 4 * args.concurrency, rng) for z in ZOOMS}
    # The first tiles of each zoom only warm the servers (that zoom's statement prepared on the
    # pooled connections); they are not measured, and the measured tiles are others.
    split = {z: min(4 * args.concurrency, len(tiles) // 4) for z, tiles in tile_sets.items()}
    warmers = {z: tiles[: split[z]] for z, tiles in tile_sets.items()}
    tile_sets = {z: tiles[split[z] :] for z, tiles in tile_sets.items()}

    ours_port, tipg_port = free_port(), free_port()
    env = {
        **os.environ,
        "LANDGIS_DATABASE_URL": url,
        "LANDGIS_TILE_CACHE_MB": "512",
        "LANDGIS_HOME": str(ROOT / ".landgis"),
    }
    ours = Server(
        "landgis",
        [str(ROOT / ".venv" / "bin" / "landgis"), "serve", "--port", str(ours_port), "--workers", str(args.workers)],
        env,
        ours_port,
    )
    libpq_url = url.replace("postgresql+psycopg://", "postgresql://")
    tipg_env = {
        **os.environ,
        "DATABASE_URL": libpq_url,
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_MAX_FEATURES_PER_TILE": "1000000",
        "TIPG_DEFAULT_MINZOOM": "0",
        "TIPG_DEFAULT_MAXZOOM": "22",
    }
    tipg = Server(
        "tipg",
        [
            str(tipg_uvicorn),
            "tipg.main:app",
            "--port",
            str(tipg_port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        tipg_env,
        tipg_port,
    )
    lines: list[str] = []
    checks: list[str] = []
    try:
        ours.wait("/health")
        tipg.wait("/collections")
        # One untimed pass so PostgreSQL's buffers are equally warm for everybody.
        for z in ZOOMS:
            raw_ceiling(engine, tile_sets[z], args.concurrency)
        # Warm both servers on other tiles (z15, never measured): pooled connections opened, each
        # database backend's PROJ set up, code paths loaded. Their caches stay cold for the runs.
        warm = random_tiles(engine, 15, 16 * args.concurrency, rng)
        for _ in range(2):
            httpload.run(
                "127.0.0.1",
                ours_port,
                [f"/tiles/{LAYER}/{z}/{x}/{y}.mvt" for z, x, y in warm],
                concurrency=args.concurrency,
            )
            httpload.run(
                "127.0.0.1",
                tipg_port,
                [
                    f"/collections/public.parcel/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={properties(z)}"
                    for z, x, y in warm
                ],
                concurrency=args.concurrency,
            )

        lines.append("| run | tiles | tiles/s | p50 ms | p99 ms | largest KB | statuses |")
        lines.append("|---|---:|---:|---:|---:|---:|---|")
        rates: dict[tuple[str, int], float] = {}
        for z in ZOOMS:
            tiles = tile_sets[z]
            httpload.run(
                "127.0.0.1",
                ours_port,
                [f"/tiles/{LAYER}/{z}/{x}/{y}.mvt" for z, x, y in warmers[z]],
                concurrency=args.concurrency,
            )
            httpload.run(
                "127.0.0.1",
                tipg_port,
                [
                    f"/collections/public.parcel/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={properties(z)}"
                    for z, x, y in warmers[z]
                ],
                concurrency=args.concurrency,
            )
            raw = raw_ceiling(engine, tiles, args.concurrency)
            mine = httpload.run(
                "127.0.0.1",
                ours_port,
                [f"/tiles/{LAYER}/{z}/{x}/{y}.mvt" for z, x, y in tiles],
                concurrency=args.concurrency,
            )
            theirs = httpload.run(
                "127.0.0.1",
                tipg_port,
                [
                    f"/collections/public.parcel/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={properties(z)}"
                    for z, x, y in tiles
                ],
                concurrency=args.concurrency,
            )
            for name, result in ((f"raw PostGIS z{z}", raw), (f"landgis z{z} (cold)", mine), (f"tipg z{z}", theirs)):
                lines.append(row(name, result))
            rates[("raw", z)], rates[("ours", z)], rates[("tipg", z)] = raw.rate, mine.rate, theirs.rate
            if max(mine.sizes, default=0) > 1024 * 1024:
                checks.append(f"FAIL: a z{z} tile is over 1 MB")

        z14 = [f"/tiles/{LAYER}/{z}/{x}/{y}.mvt" for z, x, y in tile_sets[14]]
        cached_paths = [rng.choice(z14) for _ in range(args.cached)]
        for _ in range(12):  # every tile into every worker's cache (connections stick to a worker)
            if not httpload.run("127.0.0.1", ours_port, z14, concurrency=args.concurrency).cache.get("miss"):
                break
        cached = httpload.run("127.0.0.1", ours_port, cached_paths, concurrency=args.concurrency)
        lines.append(row("landgis z14 (cached)", cached))
        lines.append(
            f"| (cache: {cached.cache.get('hit', 0)} hits, {cached.cache.get('miss', 0)} misses) | | | | | | |"
        )

        sizes = tile_size_survey(engine)
        ratio_tipg = rates[("ours", 14)] / rates[("tipg", 14)]
        ratio_raw = rates[("ours", 14)] / rates[("raw", 14)]
        summary = [
            "",
            f"- z14: landgis / tipg = **{ratio_tipg:.2f}x** (goal ≥ 1.5x); landgis / raw PostGIS = **{ratio_raw:.0%}** (goal ≥ 70 %)",
            f"- cached: **{cached.rate:,.0f} tiles/s** (goal ≥ 3,000/s)",
            "- largest tile per zoom over the whole county (raw MVT, KB): "
            + ", ".join(f"z{z}: {kb:.0f}" for z, kb in sizes.items()),
        ]
        if max(sizes.values()) > 1024:
            checks.append("FAIL: a tile is over 1 MB")
        low = [kb for z, kb in sizes.items() if z <= 12]
        if low and max(low) > 500:
            checks.append("FAIL: a low-zoom tile (z ≤ 12) is over 500 KB")
        lines += summary + [f"- {c}" for c in checks]
    finally:
        ours.stop()
        tipg.stop()
        engine.dispose()
    print("\n".join(lines))


def tile_size_survey(engine: Engine) -> dict[int, float]:
    """The largest raw tile (KB) at each zoom from the layer's minzoom to 14, over every tile holding parcels."""
    from landgis.maps.layers import VectorLayer, load_layers
    from landgis.maps.tiles import TileRenderer, check_tile

    layer = load_layers(ROOT / "layers")[LAYER]
    assert isinstance(layer, VectorLayer)
    renderer = TileRenderer(layer)
    with engine.connect() as conn:
        extent = conn.execute(
            text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM parcel) q")
        ).one()
        out: dict[int, float] = {}
        for z in range(layer.minzoom, 15):
            x0, y0 = tile_of(extent[0], extent[3], z)
            x1, y1 = tile_of(extent[2], extent[1], z)
            tiles = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
            if len(tiles) > 400:  # a sample at the densest zooms
                tiles = random.Random(z).sample(tiles, 400)
            sizes = []
            for x, y in tiles:
                query, values = renderer.bind(check_tile(z, x, y), {})
                sizes.append(len(conn.execute(query.sql, values).one().tile or b""))
            out[z] = max(sizes) / 1024
    return out


if __name__ == "__main__":
    main()
