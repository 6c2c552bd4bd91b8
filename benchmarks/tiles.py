#!/usr/bin/env python
"""Vector tiles: landgis against tipg and against the raw PostGIS ceiling, on the same parcels.

    .venv/bin/python benchmarks/tiles.py [--parcels 100000] [--workers 2] [--tiles 600]
        [--cached-client wrk|python|both] [--cached-seconds 10]

1. Generates (once) the demo county with ``--parcels`` parcels under benchmarks/data/ and loads
   its regions, zones and parcels into a database of their own in the local cluster.
2. Installs tipg into benchmarks/.venv-tipg (once) and starts it and ``landgis serve`` with the
   same number of uvicorn workers, both reading the same ``parcel`` table.
3. For z12, z14 and z16 draws random tiles that hold parcels (each tile requested once per
   server: our cache stays cold), warms PostgreSQL's buffers with one untimed pass, then times
   - the raw ceiling: our tile SQL run directly in a loop on ``--concurrency`` connections (as many as the HTTP client keeps busy),
   - landgis: ``/tiles/parcels_status/{z}/{x}/{y}.mvt``,
   - tipg: ``/collections/public.parcel/tiles/WebMercatorQuad/{z}/{x}/{y}`` with the same properties.
   This in ``--rounds`` rounds (default 5), the three taking turns within a round; before each
   round a data version bump makes our cache cold again, as any write does. The tables give the
   median round's rate; the ratios are also given round by round.
4. Times cached tiles (the z14 set requested again, many times, in random order) with ``wrk``
   for ``--cached-seconds`` on ``--concurrency`` connections, cycling through a random sequence
   of ``--cached`` z14 paths. wrk replaced our Python client (``httpload``) here because at
   ~3,000 cached tiles/s the client competes with the two server workers for the machine's two
   cores. On the 5,000-parcel county (machine busy) httpload used about 70 µs of CPU a request,
   a quarter of a core at 3,500 tiles/s; wrk, counting answers in its Lua script, about 37 µs
   (each prints its CPU time on stderr). wrk is installed from Debian's packages when missing
   (as root) and the run stops if it cannot be. ``--cached-client python`` measures with httpload
   as before (each path of the sequence once), ``both`` with both, one after the other. The cold
   runs above still use httpload: at a few hundred tiles/s its cost is small.
5. Checks that no tile at any zoom of the layer is over 1 MB (and reports the largest per zoom).

Prints a Markdown section for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    # Room for the raw ceiling's connections (one per client connection) to stay open between
    # rounds: a connection beyond pool_size is closed when returned, and a new backend pays
    # ~100 ms to set up PROJ on its first tile, which would count against the ceiling.
    engine = create_engine(admin.set(database=name), pool_size=32)
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


def ensure_wrk() -> str:
    """The path of ``wrk``, installed from Debian's packages when missing (only root can); without
    it the benchmark stops with a message: it never falls back to the Python client unasked."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit(
            "wrk (the load generator of the cached-tile run) is not installed and only root can install it: "
            "sudo apt-get install -y wrk; or measure with our Python client instead: --cached-client python"
        )
    print("installing wrk from Debian's packages ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "wrk"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"apt-get could not install wrk: {done.stderr.strip()[-800:]}")
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get installed wrk, but it is not on PATH")
    return found


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


def our_paths(tiles: Sequence[tuple[int, int, int]]) -> list[str]:
    """Our tile URLs of ``tiles`` (z, x, y)."""
    return [f"/tiles/{LAYER}/{z}/{x}/{y}.mvt" for z, x, y in tiles]


def tipg_paths(tiles: Sequence[tuple[int, int, int]]) -> list[str]:
    """tipg's URLs of the same tiles, asking for the properties our layer carries at that zoom."""
    return [
        f"/collections/public.parcel/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={properties(z)}" for z, x, y in tiles
    ]


def invalidate_tiles(engine: Engine) -> None:
    """Make every cached tile stale, as any write to a table behind a layer does (revision 0004's
    trigger bumps the same version)."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE map_data_version SET version = version + 1, changed_at = now() WHERE id = 1"))


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


@dataclass
class Summary:
    """What a table row reports of one timed run, whichever client measured it."""

    requests: int
    rate: float  # answered requests per second
    p50_s: float
    p99_s: float
    largest_bytes: int
    statuses: dict[int, int]
    cache: dict[str, int] = field(default_factory=dict)  # X-Tile-Cache values: hit, miss
    errors: dict[str, int] = field(default_factory=dict)  # wrk's socket errors and timeouts, when any

    @classmethod
    def of_rounds(cls, results: list[httpload.Result]) -> Summary:
        """Rounds of the same requests: the median round's rate, latencies and sizes over all."""
        merged = httpload.Result()
        for r in results:
            merged.latencies_s.extend(r.latencies_s)
            merged.sizes.extend(r.sizes)
            for status, n in r.statuses.items():
                merged.statuses[status] = merged.statuses.get(status, 0) + n
            for kind, n in r.cache.items():
                merged.cache[kind] = merged.cache.get(kind, 0) + n
        summary = cls.of(merged)
        summary.rate = statistics.median(r.rate for r in results)
        return summary

    @classmethod
    def of(cls, r: httpload.Result) -> Summary:
        return cls(
            requests=len(r.latencies_s),
            rate=r.rate,
            p50_s=r.percentile(50),
            p99_s=r.percentile(99),
            largest_bytes=max(r.sizes, default=0),
            statuses=dict(r.statuses),
            cache=dict(r.cache),
        )

    def not_2xx(self) -> dict[str, int]:
        """Answers other than 2xx, and requests that got no answer."""
        bad = {str(status): n for status, n in self.statuses.items() if not 200 <= status < 300}
        return {**bad, **{kind: n for kind, n in self.errors.items() if n}}


def row(name: str, r: Summary) -> str:
    statuses = ", ".join(
        [f"{k}: {v}" for k, v in sorted(r.statuses.items())]
        + [f"{kind} errors: {n}" for kind, n in r.errors.items() if n]
    )
    return (
        f"| {name} | {r.requests} | {r.rate:,.0f} | {r.p50_s * 1000:.1f} | "
        f"{r.p99_s * 1000:.1f} | {r.largest_bytes / 1024:.0f} | {statuses} |"
    )


# wrk's script for the cached run. It is loaded once per wrk thread and once more for setup() and
# done(); each thread counts in its own Lua state, and done() adds the threads' counts up.
# Defining response() makes wrk parse every answer's headers and keep its body: a small cost next to
# the server's, and what lets us count statuses, X-Tile-Cache values and the largest tile.
WRK_SCRIPT = """\
-- Generated by benchmarks/tiles.py for one cached-tile run.
local paths = {}
for line in io.lines(@PATHS@) do
  paths[#paths + 1] = line
end
@HEADERS@
local threads = {}

function setup(thread)
  -- each thread starts somewhere else in the list
  thread:set("offset", math.floor(#threads * 0.618 * #paths) % #paths)
  threads[#threads + 1] = thread
end

function init(args)
  requests = {}
  for i, path in ipairs(paths) do
    requests[i] = wrk.format("GET", path)
  end
  n = offset or 0
  statuses, cache, largest = {}, {}, 0
end

function request()
  n = n % #requests + 1
  return requests[n]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local state = headers["x-tile-cache"] or headers["X-Tile-Cache"]
  if state then
    cache[state] = (cache[state] or 0) + 1
  end
  if #body > largest then
    largest = #body
  end
end

local function json_counts(counts)
  local out = {}
  for k, v in pairs(counts) do
    out[#out + 1] = string.format("%q:%d", tostring(k), v)
  end
  return "{" .. table.concat(out, ",") .. "}"
end

function done(summary, latency, _)
  local all_statuses, all_cache, all_largest = {}, {}, 0
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("statuses")) do
      all_statuses[k] = (all_statuses[k] or 0) + v
    end
    for k, v in pairs(thread:get("cache")) do
      all_cache[k] = (all_cache[k] or 0) + v
    end
    all_largest = math.max(all_largest, thread:get("largest"))
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"largest":%d,"statuses":%s,"cache":%s,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), all_largest,
    json_counts(all_statuses), json_counts(all_cache), e.connect, e.read, e.write, e.timeout
  ))
end
"""


def lua_string(s: str) -> str:
    """A Lua string literal for ``s``: printable ASCII only (paths and header values here), for which
    JSON's escapes (backslash and double quote) are Lua's too."""
    if not (s.isascii() and s.isprintable()):
        raise ValueError(f"not printable ASCII: {s!r}")
    return json.dumps(s)


def wrk_run(
    wrk: str, port: int, paths: Sequence[str], *, concurrency: int, seconds: int, gzip: bool = False
) -> Summary:
    """``wrk`` for ``seconds`` on ``concurrency`` keep-alive connections, cycling through ``paths``
    (from a different place in the list per wrk thread), with ``httpload.HEADERS``, as httpload does."""
    headers = dict(httpload.HEADERS)
    if gzip:
        headers["Accept-Encoding"] = "gzip"
    with tempfile.TemporaryDirectory(prefix="landgis-wrk-") as tmp:
        paths_file = Path(tmp) / "paths.txt"
        for path in paths:
            lua_string(path)  # one path a line: no newline or other control character in a path
        paths_file.write_text("".join(f"{path}\n" for path in paths))
        script = Path(tmp) / "cached.lua"
        script.write_text(
            WRK_SCRIPT.replace("@PATHS@", lua_string(str(paths_file))).replace(
                "@HEADERS@",
                "\n".join(f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()),
            )
        )
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [
                wrk,
                # One thread. The two cores are shared by the two server workers and this client; one
                # wrk thread (a C event loop) sends many times the ~3,000 cached tiles/s the server
                # answers while using a small part of one core (printed below), so a second thread
                # would add no load that matters and take CPU from the workers.
                "--threads",
                "1",
                "--connections",
                str(concurrency),
                "--duration",
                f"{seconds}s",
                "--script",
                str(script),
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds + 120,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(done.stdout.rstrip(), file=sys.stderr)
    # wrk reports an error in the script on stderr and then runs anyway, without the script's
    # requests (and so without the token): an error there is a failed run.
    if done.returncode != 0 or done.stderr.strip():
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    last = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not last:
        raise RuntimeError(f"wrk printed no result line: {done.stdout.strip()[-800:]} {done.stderr.strip()[-800:]}")
    out = json.loads(last[-1])
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(f"wrk used {cpu:.1f} CPU-s in {out['duration_us'] / 1e6:.1f} s", file=sys.stderr)
    summary = Summary(
        requests=out["requests"],
        rate=out["requests"] / (out["duration_us"] / 1e6),
        p50_s=out["p50_us"] / 1e6,
        p99_s=out["p99_us"] / 1e6,
        largest_bytes=out["largest"],
        statuses={int(k): v for k, v in out["statuses"].items()},
        cache=out["cache"],
        errors=out["errors"],
    )
    if sum(summary.statuses.values()) != summary.requests:
        raise RuntimeError(f"wrk counted {summary.requests} answers, the script {sum(summary.statuses.values())}")
    return summary


def python_run(port: int, paths: Sequence[str], *, concurrency: int) -> Summary:
    """Our asyncio client (``httpload``), each path once, as the cached run was measured before wrk."""
    cpu = time.process_time()
    result = httpload.run("127.0.0.1", port, paths, concurrency=concurrency)
    cpu = time.process_time() - cpu
    print(f"the Python client used {cpu:.1f} CPU-s in {result.elapsed_s:.1f} s", file=sys.stderr)
    return Summary.of(result)


CLIENTS = {"wrk": "wrk", "python": "Python client"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tiles", type=int, default=600, help="tiles per zoom (fewer if the county has fewer)")
    parser.add_argument(
        "--cached",
        type=int,
        default=30_000,
        help="length of the random sequence of z14 paths of the cached run: the Python client requests each "
        "once, wrk cycles through them",
    )
    parser.add_argument("--cached-seconds", type=int, default=10, help="duration of the cached run with wrk")
    parser.add_argument(
        "--cached-client",
        choices=("wrk", "python", "both"),
        default="wrk",
        help="load generator of the cached run: wrk, our Python asyncio client (which competes with the "
        "server for the CPU at cached rates), or both one after the other",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="client connections (and raw SQL connections)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="cold rounds per zoom (each tile once per server and round, our cache emptied by a data version "
        "bump before each); the tables give the median round's rate",
    )
    args = parser.parse_args()

    clients = ["wrk", "python"] if args.cached_client == "both" else [args.cached_client]
    wrk = ensure_wrk() if "wrk" in clients else ""  # before the long cold runs, so a failure comes early
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
                our_paths(warm),
                concurrency=args.concurrency,
            )
            httpload.run(
                "127.0.0.1",
                tipg_port,
                tipg_paths(warm),
                concurrency=args.concurrency,
            )

        lines.append("| run | tiles | tiles/s | p50 ms | p99 ms | largest KB | statuses |")
        lines.append("|---|---:|---:|---:|---:|---:|---|")
        rates: dict[tuple[str, int], float] = {}
        ratios: dict[int, list[float]] = {}
        round_rates: dict[int, dict[str, list[float]]] = {}
        for z in ZOOMS:
            tiles = tile_sets[z]
            httpload.run(
                "127.0.0.1",
                ours_port,
                our_paths(warmers[z]),
                concurrency=args.concurrency,
            )
            httpload.run(
                "127.0.0.1",
                tipg_port,
                tipg_paths(warmers[z]),
                concurrency=args.concurrency,
            )
            # Rounds: each requests every tile of the set once per server, after a data version
            # bump, so that our cache is cold again (as after any write); the three take turns
            # within a round, so that a slow moment of the machine falls on all of them.
            runs: dict[str, list[httpload.Result]] = {"raw": [], "ours": [], "tipg": []}
            for _ in range(args.rounds):
                invalidate_tiles(engine)
                runs["raw"].append(raw_ceiling(engine, tiles, args.concurrency))
                runs["ours"].append(
                    httpload.run(
                        "127.0.0.1",
                        ours_port,
                        our_paths(tiles),
                        concurrency=args.concurrency,
                    )
                )
                runs["tipg"].append(
                    httpload.run(
                        "127.0.0.1",
                        tipg_port,
                        tipg_paths(tiles),
                        concurrency=args.concurrency,
                    )
                )
            if any(r.cache.get("hit") for r in runs["ours"]):
                checks.append(f"FAIL: a z{z} round got cached tiles from landgis (the cache was not cold)")
            names = {"raw": f"raw PostGIS z{z}", "ours": f"landgis z{z} (cold)", "tipg": f"tipg z{z}"}
            for key, name in names.items():
                lines.append(row(name, Summary.of_rounds(runs[key])))
                rates[(key, z)] = statistics.median(r.rate for r in runs[key])
            ratios[z] = [o.rate / t.rate for o, t in zip(runs["ours"], runs["tipg"], strict=True) if t.rate]
            round_rates[z] = {key: [r.rate for r in results] for key, results in runs.items()}
            if max((size for r in runs["ours"] for size in r.sizes), default=0) > 1024 * 1024:
                checks.append(f"FAIL: a z{z} tile is over 1 MB")

        z14 = our_paths(tile_sets[14])
        cached_paths = [rng.choice(z14) for _ in range(args.cached)]
        for _ in range(12):  # every tile into every worker's cache (connections stick to a worker)
            if not httpload.run("127.0.0.1", ours_port, z14, concurrency=args.concurrency).cache.get("miss"):
                break
        cached: dict[str, Summary] = {}
        for client in clients:
            if client == "wrk":
                cached[client] = wrk_run(
                    wrk, ours_port, cached_paths, concurrency=args.concurrency, seconds=args.cached_seconds
                )
            else:
                cached[client] = python_run(ours_port, cached_paths, concurrency=args.concurrency)
        for client, run in cached.items():
            lines.append(row(f"landgis z14 (cached, {CLIENTS[client]})", run))
            lines.append(f"| (cache: {run.cache.get('hit', 0)} hits, {run.cache.get('miss', 0)} misses) | | | | | | |")
            if run.not_2xx():
                checks.append(
                    f"FAIL: the cached run with {CLIENTS[client]} had answers other than 2xx: {run.not_2xx()}"
                )

        sizes = tile_size_survey(engine)
        ratio_tipg = rates[("ours", 14)] / rates[("tipg", 14)]
        ratio_raw = rates[("ours", 14)] / rates[("raw", 14)]
        per_round = ", ".join(f"{r:.2f}x" for r in ratios[14])
        summary = [
            "",
            f"- z14 (median rates of {args.rounds} rounds): landgis / tipg = **{ratio_tipg:.2f}x** (goal ≥ 1.5x; "
            f"round by round {per_round}, median {statistics.median(ratios[14]):.2f}x); "
            f"landgis / raw PostGIS = **{ratio_raw:.0%}** (goal ≥ 70 %)",
            "- rates of each round (tiles/s): "
            + "; ".join(
                f"z{z} " + ", ".join(f"{k} {' '.join(f'{v:.0f}' for v in vals)}" for k, vals in by.items())
                for z, by in round_rates.items()
            ),
            "- cached: "
            + "; ".join(f"**{run.rate:,.0f} tiles/s** with {CLIENTS[client]}" for client, run in cached.items())
            + " (goal ≥ 3,000/s)",
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
