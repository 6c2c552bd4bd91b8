"""A real OGC API client: GDAL's OAPIF driver (ogrinfo, ogr2ogr) against the service run by uvicorn
on a free port, reading the demo county with an API token."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from landgis.accounts.tokens import create_token
from landgis.db.engine import set_audit_context

pytestmark = pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="GDAL tools are installed by bootstrap --test")

ROOT = Path(__file__).resolve().parents[2]

#: collection -> SQL counting what it should hold (written independently of the service's queries)
COUNTS = {
    "parcels": "SELECT count(*) FROM parcel",
    "zones": "SELECT count(*) FROM zone",
    "regions": "SELECT count(*) FROM region",
    "enterprises": "SELECT count(DISTINCT enterprise_id) FROM occupancy WHERE valid_to IS NULL OR valid_to >= current_date",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def token(demo_engine: Engine) -> Iterator[str]:
    """An API token of the demo's administrator, committed for the server process and revoked after."""
    with demo_engine.begin() as conn:
        set_audit_context(conn, actor="tests")
        user_id = conn.execute(text("SELECT id FROM app_user WHERE username = 'admin'")).scalar_one()
        issued, secret = create_token(conn, user_id, "gdal test")
    yield secret
    with demo_engine.begin() as conn:
        conn.execute(text("DELETE FROM api_token WHERE id = :id"), {"id": issued.id})


@pytest.fixture(scope="module")
def server(demo_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "LANDGIS_DATABASE_URL": demo_engine.url.render_as_string(hide_password=False),
        "LANDGIS_HOME": str(tmp_path_factory.mktemp("home")),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {process.stderr.read() if process.stderr else ''}")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _gdal(args: list[str], token: str) -> str:
    done = subprocess.run(
        [*args, "--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {token}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_ogrinfo_lists_every_collection(server: str, token: str) -> None:
    listing = _gdal(["ogrinfo", "-ro", "-q", f"OAPIF:{server}/ogc"], token)
    for collection in COUNTS:
        assert re.search(rf"^\d+: {collection}\b", listing, re.MULTILINE), listing


@pytest.mark.parametrize("collection", list(COUNTS))
def test_ogr2ogr_pages_through_every_feature(
    server: str, token: str, demo_engine: Engine, tmp_path: Path, collection: str
) -> None:
    with demo_engine.connect() as conn:
        expected = conn.execute(text(COUNTS[collection])).scalar_one()
    info = _gdal(["ogrinfo", "-ro", "-so", f"OAPIF:{server}/ogc", collection], token)
    assert f"Feature Count: {expected}" in info, info
    out = tmp_path / f"{collection}.geojson"
    _gdal(["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{server}/ogc", collection, "-oo", "PAGE_SIZE=70"], token)
    features = json.loads(out.read_text(encoding="utf-8"))["features"]
    assert len(features) == expected > 0
    # no feature twice across the pages
    distinct = {json.dumps([f["geometry"], f["properties"]], sort_keys=True) for f in features}
    assert len(distinct) == len(features)


def test_gdal_without_a_token_is_refused(server: str) -> None:
    done = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{server}/ogc", "parcels"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
