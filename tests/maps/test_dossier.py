"""Parcel search and the 一宗一档 dossier on the demo county."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from tests.helpers import add_evaluation_run


def test_search_by_zddm_prefix_enterprise_and_address(maps_client: TestClient, demo_db: Connection) -> None:
    pid, zddm, location = demo_db.execute(
        text("SELECT id, zddm, location FROM parcel WHERE zddm IS NOT NULL ORDER BY id LIMIT 1")
    ).one()
    hits = maps_client.get("/search", params={"q": zddm}).json()["results"]
    assert hits[0]["id"] == pid and hits[0]["matched"] == ["zddm"]
    prefix = maps_client.get("/search", params={"q": zddm[:14], "limit": 50}).json()["results"]
    expected = demo_db.execute(
        text("SELECT count(*) FROM parcel WHERE zddm LIKE :p"), {"p": zddm[:14] + "%"}
    ).scalar_one()
    assert len(prefix) == min(expected, 50) and all(r["zddm"].startswith(zddm[:14]) for r in prefix)

    firm, firm_parcels = demo_db.execute(
        text(
            "SELECT e.name, array_agg(o.parcel_id) FROM enterprise e JOIN occupancy o ON o.enterprise_id = e.id GROUP BY e.name ORDER BY count(*) DESC, e.name LIMIT 1"
        )
    ).one()
    found = maps_client.get("/search", params={"q": firm}).json()["results"]
    assert set(firm_parcels) <= {r["id"] for r in found if "enterprise" in r["matched"]}
    assert all(firm in (r["enterprises"] or "") for r in found if "enterprise" in r["matched"])

    by_address = maps_client.get("/search", params={"q": location}).json()["results"]
    assert pid in {r["id"] for r in by_address}


@pytest.mark.parametrize(("q", "status"), [("x", 400), ("x" * 101, 400)])
def test_search_rejects_bad_queries(maps_client: TestClient, q: str, status: int) -> None:
    assert maps_client.get("/search", params={"q": q}).status_code == status


def test_search_escapes_like_wildcards(maps_client: TestClient) -> None:
    assert maps_client.get("/search", params={"q": "%%"}).json()["results"] == []


def test_dossier_holds_attributes_enterprises_history_and_timeline(
    maps_client: TestClient, demo_db: Connection
) -> None:
    pid = demo_db.execute(
        text("SELECT parcel_id FROM occupancy GROUP BY parcel_id HAVING count(*) >= 2 ORDER BY parcel_id LIMIT 1")
    ).scalar_one()
    firms = set(demo_db.execute(text("SELECT enterprise_id FROM occupancy WHERE parcel_id = :p"), {"p": pid}).scalars())
    demo_db.execute(text("SELECT set_config('landgis.actor', '张科长', true)"))
    demo_db.execute(text("UPDATE parcel SET renewal_status = 'identified' WHERE id = :p"), {"p": pid})
    demo_db.execute(text("UPDATE parcel SET renewal_status = 'planned' WHERE id = :p"), {"p": pid})
    d = maps_client.get(f"/parcels/{pid}/dossier").json()

    assert d["parcel"]["id"] == pid and "geom" not in d["parcel"]
    assert d["parcel"]["renewal_status_label"] == "列入计划"
    assert d["geometry"]["type"] == "MultiPolygon"
    assert {e["id"] for e in d["enterprises"]} == firms
    years = {f["year"] for e in d["enterprises"] for f in e["figures"]}
    assert years == {2022, 2023, 2024}
    assert [m["year"] for m in d["mu_by_year"]] == sorted(m["year"] for m in d["mu_by_year"])
    steps = [(s["event"], s["status"]) for s in d["status_timeline"]]
    assert steps == [("入库", "normal"), ("状态变更", "identified"), ("状态变更", "planned")]
    assert d["status_timeline"][-1]["actor"] == "张科长"
    assert d["history"][0]["changes"] == {"renewal_status": {"old": "identified", "new": "planned"}}
    assert d["evaluation"] == {"classes": []}  # no evaluation has been run on the demo county
    assert d["links"]["page"] == f"http://testserver/dossier/{pid}"


def add_run(db: Connection, year: int, rows: list[tuple[int, str | None, float]]) -> int:
    """An evaluation run of ``year`` holding (parcel id, class, 亩均税收) rows (written by the test's
    owner connection; read back through the API)."""
    return add_evaluation_run(db, year, [(pid, klass, mu_tax, None) for pid, klass, mu_tax in rows])


def test_dossier_reads_the_parcels_classes_of_the_latest_runs(maps_client: TestClient, demo_db: Connection) -> None:
    pid, other = demo_db.execute(text("SELECT id FROM parcel ORDER BY id LIMIT 2")).scalars().all()
    add_run(demo_db, 2023, [(pid, "A", 9.0), (other, "D", 0.5)])
    newer_2023 = add_run(demo_db, 2023, [(pid, "B", 8.0)])  # the latest run of a year wins
    run_2024 = add_run(demo_db, 2024, [(pid, "C", 1.5), (other, "A", 20.0)])
    # As an administrator of every region (the evaluation tables' row-level security lets it read all).
    classes = maps_client.get(f"/parcels/{pid}/dossier").json()["evaluation"]["classes"]
    assert [(c["year"], c["class"], c["run_id"]) for c in classes] == [(2023, "B", newer_2023), (2024, "C", run_2024)]
    assert [c["mu_tax"] for c in classes] == pytest.approx([8.0, 1.5])


def test_unknown_parcel_is_404(maps_client: TestClient) -> None:
    for path in ("/parcels/987654321/dossier", "/parcels/987654321/qr.svg"):
        response = maps_client.get(path)
        assert response.status_code == 404
        assert "不存在" in response.json()["detail"]


def test_qr_code_is_an_svg_and_pages_are_served(maps_client: TestClient, demo_db: Connection) -> None:
    pid = demo_db.execute(text("SELECT min(id) FROM parcel")).scalar_one()
    response = maps_client.get(f"/parcels/{pid}/qr.svg")
    assert response.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    page = maps_client.get(f"/dossier/{pid}").text
    assert "/vendor/chart.js/dist/chart.umd.js" in page and "https://" not in page
    home = maps_client.get("/map").text
    assert "/vendor/maplibre-gl/dist/maplibre-gl.js" in home and "https://" not in home
    for asset in (
        "/vendor/chart.js/dist/chart.umd.js",
        "/vendor/maplibre-gl/dist/maplibre-gl.js",
        "/static/map/map.js",
    ):
        assert maps_client.get(asset).status_code == 200


def test_pages_send_an_anonymous_browser_to_the_log_in(maps_client: TestClient, demo_db: Connection) -> None:
    pid = demo_db.execute(text("SELECT min(id) FROM parcel")).scalar_one()
    anonymous = TestClient(maps_client.app, follow_redirects=False)
    browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for page in ("/map", f"/dossier/{pid}", "/map?layer=parcels_class"):
        response = anonymous.get(page, headers=browser)
        assert response.status_code == 303, page
        assert response.headers["location"] == "/login?next=" + quote(page, safe="")
    # Scripts and the page's own fetch() calls keep the 401 problem answer.
    for path in (f"/parcels/{pid}/dossier", "/maps/layers", "/tiles/parcels_status/14/0/0.mvt"):
        response = anonymous.get(path)
        assert response.status_code == 401 and response.json()["status"] == 401, path
