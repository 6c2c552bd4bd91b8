"""folium HTML exports: a zone or a saved plan with its parcels, self-contained (Leaflet inlined, no
CDN); a plan outside the caller's region scope is as missing as one that does not exist."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from tests import land
from tests.conftest import ClientFactory
from tests.maps.conftest import OTHER_COUNTY, WAITING_LAYER, WAITING_VIEW, PlanLand


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
    assert_standalone(page)


def key(name: str) -> str:
    """A property name as folium writes it into the page's GeoJSON (JSON, non-ASCII escaped)."""
    return json.dumps(name)


def assert_standalone(page: str) -> None:
    """A folium export that loads nothing from another host."""
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


def test_plan_export_on_the_demo_county(maps_client: TestClient, demo_db: Connection) -> None:
    zone_id = demo_db.execute(text("SELECT min(id) FROM zone")).scalar_one()
    request = {
        "rules": {"rule": "industrial_land"},
        "area": {"zone_id": zone_id},
        "year": 2023,
        "blocks": {"distance_m": 0, "min_block_mu": 0},
    }
    saved = maps_client.post("/plans", json={"name": "园区工业用地", "request": request})
    assert saved.status_code == 201, saved.text
    plan_id = saved.json()["id"]
    codes = (
        demo_db.execute(
            text("SELECT p.zddm FROM plan_parcel pp JOIN parcel p ON p.id = pp.parcel_id WHERE pp.plan_id = :id"),
            {"id": plan_id},
        )
        .scalars()
        .all()
    )
    blocks = demo_db.execute(
        text("SELECT count(DISTINCT block_no) FROM plan_parcel WHERE plan_id = :id"), {"id": plan_id}
    ).scalar_one()
    page = maps_client.get(f"/exports/plans/{plan_id}/map.html")
    assert page.status_code == 200, page.text
    assert len(codes) > 5 and all(code in page.text for code in codes)
    assert blocks > 1 and page.text.count(f"{key('连片区块')}: ") == blocks  # one outline per saved block
    assert_standalone(page.text)


def test_plan_export_shows_the_plans_parcels_and_blocks(plan_land: PlanLand, client_for: ClientFactory) -> None:
    officer = client_for("officer", [land.COUNTY])
    response = officer.get(f"/exports/plans/{plan_land.blocks}/map.html")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<title>更新方案 连片更新方案</title>" in page
    assert all(plan_land.zddm[n] in page for n in "ABC")
    assert not any(plan_land.zddm[n] in page for n in "DEF"), "parcels of the other plan only"
    # the one block: A, B and C, 45 亩
    assert f"{key('连片区块')}: 1," in page and f"{key('宗地数')}: 3," in page
    assert f"{key('连片面积(亩)')}: 45.0}}" in page
    assert_standalone(page)
    # centred on the plan: its bounds are those of A, B and C, not of every parcel
    west, _, east, _ = plan_land.bbox
    bounds = re.search(r"fitBounds\(\s*\[\[([\d.]+),\s*([\d.]+)\],\s*\[([\d.]+),\s*([\d.]+)\]\]", page)
    assert bounds is not None
    assert float(bounds[2]) == pytest.approx(west, abs=1e-6) and float(bounds[4]) < east - 0.015

    low_far = officer.get(f"/exports/plans/{plan_land.low_far}/map.html").text
    assert all(plan_land.zddm[n] in low_far for n in "ACDEF") and plan_land.zddm["B"] not in low_far
    assert f"{key('连片区块')}: " not in low_far  # saved without blocks


def test_plan_export_leaves_out_members_outside_the_scope(
    plan_land: PlanLand, client_for: ClientFactory, db: Connection
) -> None:
    # E and F were handed over to the neighbouring county after the plan was saved.
    ids = [plan_land.ids["E"], plan_land.ids["F"]]
    db.execute(text("UPDATE parcel SET region_code = :r WHERE id = ANY(:ids)"), {"r": OTHER_COUNTY, "ids": ids})
    page = client_for("officer", [land.COUNTY]).get(f"/exports/plans/{plan_land.low_far}/map.html")
    assert page.status_code == 200, page.text
    assert all(plan_land.zddm[n] in page.text for n in "ACD")
    assert not any(plan_land.zddm[n] in page.text for n in "EF")
    # nor do they stretch the map: E and F lie 2 km east of A, C ends 319.5 m from A's west edge
    west, _, _, _ = plan_land.bbox
    bounds = re.search(r"fitBounds\(\s*\[\[[\d.]+,\s*[\d.]+\],\s*\[[\d.]+,\s*([\d.]+)\]\]", page.text)
    assert bounds is not None and float(bounds[1]) < west + 0.005
    # the neighbouring county does not get them through this plan either: the plan is not theirs
    assert client_for("viewer", [OTHER_COUNTY]).get(f"/exports/plans/{plan_land.low_far}/map.html").status_code == 404


def test_plan_export_out_of_scope_is_a_missing_plan(plan_land: PlanLand, client_for: ClientFactory) -> None:
    missing = client_for("viewer", [land.COUNTY]).get("/exports/plans/987654/map.html")
    assert missing.status_code == 404
    # the neighbouring county, and the township that holds B: the county's plan is not theirs
    for scope in (OTHER_COUNTY, land.TOWNS[1]):
        other = client_for("viewer", [scope])
        for plan_id in (plan_land.blocks, plan_land.low_far):
            response = other.get(f"/exports/plans/{plan_id}/map.html")
            assert response.status_code == 404, (scope, response.text[:200])
            assert response.json()["detail"] == missing.json()["detail"].replace("987654", str(plan_id))
            assert not any(code in response.text for code in plan_land.zddm.values())


def test_maps_check_command_lists_layers(maps_settings: object, waiting_layers: object, monkeypatch: object) -> None:
    from typer.testing import CliRunner

    from landgis.cli import app

    monkeypatch.setenv("LANDGIS_DATABASE_URL", maps_settings.database_url)  # type: ignore[attr-defined]
    monkeypatch.setenv("LANDGIS_LAYERS_DIR", str(waiting_layers))  # type: ignore[attr-defined]
    result = CliRunner().invoke(app, ["maps", "check"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "parcels_status" in result.output and "parcels_class" in result.output
    assert WAITING_LAYER in result.output and WAITING_VIEW in result.output
