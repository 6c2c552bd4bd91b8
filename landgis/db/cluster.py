"""A project-local PostgreSQL 15 + PostGIS cluster, for when ``LANDGIS_DATABASE_URL`` is unset.

The cluster lives under ``<home>/pg`` (``.landgis/pg`` in a checkout, git-ignored), listens on
127.0.0.1 on a port of its own (never the system cluster's), and uses password authentication
with a generated password kept in ``<home>/pg/cluster.json`` (mode 600). PostgreSQL refuses to
run as root, so when we are root the server runs as the ``postgres`` system user that the Debian
package creates, and that user owns the data directory. When ``postgres`` cannot reach the
checkout (a checkout under ``/root``, say), the data directory goes to
``/var/lib/postgresql/landgis/<hash>`` instead and ``cluster.json`` says where.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from landgis.errors import ClusterError
from landgis.settings import Settings

PG_MAJOR = 15
DEBIAN_PACKAGES = (f"postgresql-{PG_MAJOR}", f"postgresql-{PG_MAJOR}-postgis-3")
SUPERUSER = "landgis"
DATABASE = "landgis"
PORT_RANGE = (54320, 54999)

#: Server settings sized for a 2-core, 24 GB machine that also runs the service and tests.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_connections": "200",
    "shared_buffers": "'512MB'",
    "work_mem": "'32MB'",
    "maintenance_work_mem": "'512MB'",
    "effective_cache_size": "'4GB'",
    "max_wal_size": "'4GB'",
    "jit": "off",
    "timezone": "'Asia/Shanghai'",
    "log_timezone": "'Asia/Shanghai'",
    "log_min_duration_statement": "5000",
}

Log = Callable[[str], None]


@dataclass(frozen=True)
class ClusterInfo:
    """What ``cluster.json`` records about the local cluster."""

    data_dir: Path
    port: int
    password: str

    def url(self, database: str = DATABASE) -> URL:
        return URL.create(
            "postgresql+psycopg",
            username=SUPERUSER,
            password=self.password,
            host="127.0.0.1",
            port=self.port,
            database=database,
        )


def _noop(_: str) -> None:
    pass


def is_root() -> bool:
    return os.geteuid() == 0


def find_bindir(settings: Settings) -> Path | None:
    """The directory holding PostgreSQL 15's ``pg_ctl``, or None when it is not installed."""
    candidates = [settings.pg_bindir] if settings.pg_bindir else []
    candidates.append(Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin"))
    for candidate in candidates:
        if candidate and (candidate / "pg_ctl").is_file():
            return candidate
    return None


def postgis_installed() -> bool:
    """True when the PostGIS extension files for PostgreSQL 15 are present."""
    return Path(f"/usr/share/postgresql/{PG_MAJOR}/extension/postgis.control").is_file()


def ensure_packages(settings: Settings, log: Log = _noop) -> Path:
    """Install PostgreSQL 15 and PostGIS 3 from Debian's packages when missing; return the bindir."""
    bindir = find_bindir(settings)
    if bindir and postgis_installed():
        return bindir
    missing = ", ".join(DEBIAN_PACKAGES)
    if not is_root():
        raise ClusterError(
            f"PostgreSQL {PG_MAJOR} with PostGIS is not installed and only root can install it. "
            f"Run as root, or: sudo apt-get install -y {' '.join(DEBIAN_PACKAGES)}; "
            "or set LANDGIS_DATABASE_URL to an existing PostGIS database."
        )
    log(f"Installing {missing} from Debian's packages ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *DEBIAN_PACKAGES]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ClusterError(f"apt-get could not install {missing}: {done.stderr.strip()[-800:]}")
    bindir = find_bindir(settings)
    if bindir is None or not postgis_installed():
        raise ClusterError(f"{missing} installed, but pg_ctl or postgis.control is still missing")
    return bindir


def _server_user() -> pwd.struct_passwd | None:
    """The OS user the server runs as: ``postgres`` when we are root, else ourselves (None)."""
    if not is_root():
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ClusterError("the 'postgres' system user is missing; the Debian postgresql package creates it") from exc


def _as_server_user(argv: Sequence[str]) -> list[str]:
    user = _server_user()
    if user is None:
        return list(argv)
    return ["runuser", "-u", user.pw_name, "--", *argv]


def _run(argv: Sequence[str], *, what: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=timeout, check=False, cwd="/")
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-1500:]
        raise ClusterError(f"{what} failed: {detail}")
    return done


def _user_can_reach(path: Path) -> bool:
    """Whether the server user can traverse to ``path`` (an existing directory we own)."""
    user = _server_user()
    if user is None:
        return os.access(path, os.W_OK | os.X_OK)
    probe = subprocess.run(
        ["runuser", "-u", user.pw_name, "--", "test", "-x", str(path)],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def _chown_to_server_user(path: Path) -> None:
    user = _server_user()
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)


def state_file(settings: Settings) -> Path:
    return settings.cluster_dir / "cluster.json"


def read_info(settings: Settings) -> ClusterInfo | None:
    """The recorded cluster, or None when ``db up`` has never run here."""
    path = state_file(settings)
    if not path.is_file():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    return ClusterInfo(data_dir=Path(raw["data_dir"]), port=int(raw["port"]), password=raw["password"])


def _write_info(settings: Settings, info: ClusterInfo) -> None:
    path = state_file(settings)
    payload = {"data_dir": str(info.data_dir), "port": info.port, "password": info.password}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _choose_port(settings: Settings) -> int:
    if settings.pg_port:
        return settings.pg_port
    low, high = PORT_RANGE
    span = high - low + 1
    # Start from a port derived from the checkout's path so that two checkouts rarely collide.
    start = int(hashlib.sha256(str(settings.home.resolve()).encode()).hexdigest(), 16) % span
    for offset in range(span):
        port = low + (start + offset) % span
        if _port_free(port):
            return port
    raise ClusterError(f"no free TCP port in {low}-{high} on 127.0.0.1")


def _choose_data_dir(settings: Settings, log: Log) -> Path:
    settings.cluster_dir.mkdir(parents=True, exist_ok=True)
    settings.cluster_dir.chmod(0o755)
    if _user_can_reach(settings.cluster_dir):
        return settings.cluster_dir / "data"
    digest = hashlib.sha256(str(settings.home.resolve()).encode()).hexdigest()[:12]
    fallback = Path("/var/lib/postgresql/landgis") / digest
    log(f"The postgres user cannot reach {settings.cluster_dir}; the cluster goes to {fallback}")
    fallback.parent.mkdir(parents=True, exist_ok=True)
    _chown_to_server_user(fallback.parent)
    return fallback / "data"


def _initdb(bindir: Path, data_dir: Path, password: str, log: Log) -> None:
    log(f"Initialising a PostgreSQL {PG_MAJOR} cluster in {data_dir} ...")
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    _chown_to_server_user(data_dir)
    pwfile = data_dir.parent / f".pw-{secrets.token_hex(4)}"
    try:
        pwfile.write_text(password + "\n", encoding="utf-8")
        pwfile.chmod(0o600)
        _chown_to_server_user(pwfile)
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            what="initdb",
        )
    finally:
        pwfile.unlink(missing_ok=True)
    conf = data_dir / "postgresql.conf"
    lines = [f"{key} = {value}" for key, value in SERVER_SETTINGS.items()]
    with conf.open("a", encoding="utf-8") as handle:
        handle.write("\n# landgis project-local cluster\n" + "\n".join(lines) + "\n")


def _set_port(data_dir: Path, port: int) -> None:
    auto = data_dir / "postgresql.auto.conf"
    kept = [ln for ln in auto.read_text(encoding="utf-8").splitlines() if not ln.startswith("port =")]
    auto.write_text("\n".join([*kept, f"port = {port}"]) + "\n", encoding="utf-8")


def is_running(settings: Settings) -> bool:
    """True when the local cluster's postmaster is up."""
    info = read_info(settings)
    bindir = find_bindir(settings)
    if info is None or bindir is None or not (info.data_dir / "PG_VERSION").is_file():
        return False
    done = subprocess.run(
        _as_server_user([str(bindir / "pg_ctl"), "-D", str(info.data_dir), "status"]),
        capture_output=True,
        check=False,
        cwd="/",
    )
    return done.returncode == 0


@contextmanager
def _exclusive(settings: Settings) -> Iterator[None]:
    """Hold the checkout's cluster lock, so that two processes (parallel test workers, a service
    and a script) never initialise or start the same cluster at once."""
    settings.home.mkdir(parents=True, exist_ok=True)
    with (settings.home / "pg.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def up(settings: Settings, log: Log = _noop) -> ClusterInfo:
    """Install (when root and missing), initialise and start the local cluster; harmless when it runs.

    Returns the cluster's connection details. Creates the ``landgis`` database with PostGIS.
    """
    with _exclusive(settings):
        return _up(settings, log)


def _up(settings: Settings, log: Log) -> ClusterInfo:
    bindir = ensure_packages(settings, log)
    info = read_info(settings)
    if info is None or not (info.data_dir / "PG_VERSION").is_file():
        data_dir = info.data_dir if info else _choose_data_dir(settings, log)
        password = info.password if info else secrets.token_urlsafe(24)
        _initdb(bindir, data_dir, password, log)
        info = ClusterInfo(data_dir=data_dir, port=_choose_port(settings), password=password)
        _set_port(data_dir, info.port)
        _write_info(settings, info)
    if is_running(settings):
        log(f"The local cluster already runs on 127.0.0.1:{info.port}")
    else:
        if not _port_free(info.port):
            info = ClusterInfo(info.data_dir, _choose_port(settings), info.password)
            _set_port(info.data_dir, info.port)
            _write_info(settings, info)
        log(f"Starting the local cluster on 127.0.0.1:{info.port} ...")
        logfile = info.data_dir.parent / "server.log"
        if not logfile.exists():
            logfile.touch()
            _chown_to_server_user(logfile)
        _run(
            [str(bindir / "pg_ctl"), "-D", str(info.data_dir), "-l", str(logfile), "-w", "-t", "90", "start"],
            what="pg_ctl start",
        )
    ensure_database(info.url("postgres"), DATABASE)
    return info


def down(settings: Settings, log: Log = _noop) -> bool:
    """Stop the local cluster (fast shutdown); return False when it was not running."""
    info = read_info(settings)
    bindir = find_bindir(settings)
    if info is None or bindir is None or not is_running(settings):
        log("The local cluster is not running")
        return False
    _run([str(bindir / "pg_ctl"), "-D", str(info.data_dir), "-m", "fast", "-w", "stop"], what="pg_ctl stop")
    log("The local cluster stopped")
    return True


def destroy(settings: Settings, log: Log = _noop) -> None:
    """Stop the local cluster and delete its data directory and state."""
    info = read_info(settings)
    down(settings, log)
    if info is not None:
        shutil.rmtree(info.data_dir, ignore_errors=True)
    state_file(settings).unlink(missing_ok=True)
    log("The local cluster was removed")


def ensure_database(admin_url: URL, name: str, *, template: str | None = None) -> None:
    """Create database ``name`` (with PostGIS) through ``admin_url`` unless it exists."""
    import psycopg
    from psycopg import sql

    conninfo = _libpq(admin_url)
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
            break
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise ClusterError(f"cannot connect to the database server: {exc}") from exc
            time.sleep(0.5)
    with conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            conn.execute(statement)
    with psycopg.connect(_libpq(admin_url.set(database=name)), autocommit=True) as db:
        db.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def drop_database(admin_url: URL, name: str) -> None:
    """Drop database ``name`` if it exists, closing its connections first."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _libpq(url: URL) -> str:
    """A libpq connection string for a SQLAlchemy URL (psycopg takes it directly)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def libpq_url(url: URL | str) -> str:
    """``postgresql://...`` form of a URL, for psql, ogr2ogr, tipg and psycopg."""
    from sqlalchemy.engine import make_url

    return _libpq(make_url(url) if isinstance(url, str) else url)


def status(settings: Settings) -> dict[str, Any]:
    """A description of the local cluster for ``landgis db status``."""
    info = read_info(settings)
    return {
        "installed": find_bindir(settings) is not None and postgis_installed(),
        "initialised": info is not None and (info.data_dir / "PG_VERSION").is_file(),
        "running": is_running(settings),
        "data_dir": str(info.data_dir) if info else None,
        "port": info.port if info else None,
    }
