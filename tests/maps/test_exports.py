"""folium HTML exports: a zone with its parcels, self-contained (Leaflet inlined, no CDN)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from tests.maps.conftest import WAITING_LAYER, WAITING_VIEW


def test_zone_export_is_standalone_and_holds_its_parcels(maps_client: TestClient, demo_db: Connection) -> None:
    zone_id, name = demo_db.execute(text("SELECT id, name FROM zone ORDER BY id LIMIT 1")).one()
    codes = (
        demo_db.execute(text("SELECT zddm FROM parcel WHERE zone_id = :z AND zddm IS NOT NULL"), {"z": zone_id})
        .scalars()
        .all()
    )
    response = maps_client.get(f"/exports/zones/{zone_id}/map.html")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert name in page and len(codes) > 5 and all(code in page for code in codes)
    # Every external reference is gone: no <script src>, no stylesheet <link>, no CDN host.
    assert re.findall(r"<script[^>]+src=", page) == []
    assert re.findall(r"<link[^>]+stylesheet", page) == []
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    foreign = {u for u in urls if not u.startswith("http://testserver/")}
    # Leaflet's own source mentions a few URLs in comments and attribution strings; none is loaded.
    assert not any("cdn" in u or "bootstrap" in u or "jquery" in u for u in foreign), foreign
    assert "L.map(" in page or "L.map (" in page
    assert "http://testserver/tiles/basemap_hillshade/{z}/{x}/{y}.png" in page


def test_export_errors(maps_client: TestClient) -> None:
    assert maps_client.get("/exports/zones/999999/map.html").status_code == 404
    plan = maps_client.get("/exports/plans/1/map.html")
    assert plan.status_code == 404 and "方案" in plan.json()["detail"]


def test_maps_check_command_lists_layers(maps_settings: object, waiting_layers: object, monkeypatch: object) -> None:
    from typer.testing import CliRunner

    from landgis.cli import app

    monkeypatch.setenv("LANDGIS_DATABASE_URL", maps_settings.database_url)  # type: ignore[attr-defined]
    monkeypatch.setenv("LANDGIS_LAYERS_DIR", str(waiting_layers))  # type: ignore[attr-defined]
    result = CliRunner().invoke(app, ["maps", "check"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "parcels_status" in result.output and "parcels_class" in result.output
    assert WAITING_LAYER in result.output and WAITING_VIEW in result.output
