"""Parcel search, one parcel's data, edits that validate and leave a history, enterprises and figures."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from tests.api.conftest import TwoCounties
from tests.conftest import ClientFactory


@pytest.fixture
def officer(client_for: ClientFactory, two_counties: TwoCounties) -> TestClient:
    return client_for("officer", [two_counties.a.code, two_counties.b.code], username="officer-ab")


def test_search_by_code_address_enterprise_and_polygon(officer: TestClient, two_counties: TwoCounties) -> None:
    a, b = two_counties.a, two_counties.b
    assert [p["id"] for p in officer.get("/parcels", params={"zddm": a.zddm}).json()["items"]] == [a.parcel_id]
    assert [p["id"] for p in officer.get("/parcels", params={"zddm": "330602"}).json()["items"]] == [b.parcel_id]
    by_address = officer.get("/parcels", params={"address": "乙县工业路"}).json()
    assert [p["id"] for p in by_address["items"]] == [b.parcel_id]
    assert officer.get("/parcels", params={"address": "%"}).json()["total"] == 0  # % is a character, not a wildcard
    by_firm = officer.get("/parcels", params={"enterprise": a.uscc}).json()
    assert [p["id"] for p in by_firm["items"]] == [a.parcel_id]
    minx, miny, maxx, maxy = b.bbox
    polygon = {
        "type": "Polygon",
        "coordinates": [[[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]],
    }
    found = officer.post("/parcels/search", json={"polygon": polygon}).json()
    assert [p["id"] for p in found["items"]] == [b.parcel_id]
    ordered = officer.get("/parcels", params={"sort": "-zddm"}).json()["items"]
    assert [p["zddm"] for p in ordered] == [b.zddm, a.zddm]
    assert officer.get("/parcels", params={"sort": "password"}).status_code == 400
    bad = officer.post("/parcels/search", json={"polygon": {"type": "Polygon", "coordinates": [[[500, 0], [1, 1]]]}})
    assert bad.status_code == 400


def test_parcel_detail_has_area_in_mu_and_its_enterprises(officer: TestClient, two_counties: TwoCounties) -> None:
    a = two_counties.a
    response = officer.get(f"/parcels/{a.parcel_id}", params={"geometry": True})
    body = response.json()
    assert body["area_mu"] == pytest.approx(15.0, rel=1e-3)  # a 100 m square: 10,000 m² x 15 / 10,000
    assert body["zone_name"] == "甲县工业园"
    assert [o["uscc"] for o in body["occupancy"]] == [a.uscc]
    assert body["geometry"]["type"] == "MultiPolygon"
    assert response.headers["etag"]


def test_attribute_edit_is_validated_and_recorded(
    officer: TestClient, two_counties: TwoCounties, db: Connection
) -> None:
    path = f"/parcels/{two_counties.a.parcel_id}"
    etag = officer.get(path).headers["etag"]
    response = officer.patch(path, json={"far": 1.25, "building_safety_grade": "C"}, headers={"If-Match": etag})
    assert response.status_code == 200
    assert response.json()["changed"] == {
        "building_safety_grade": {"old": None, "new": "C"},
        "far": {"old": 0.8, "new": 1.25},
    }
    stale = officer.patch(path, json={"far": 1.3}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert officer.patch(path, json={"far": -1}).status_code == 422
    assert officer.patch(path, json={"far_min": 2.0, "far_max": 1.0}).json()["detail"].startswith("far_min")
    assert officer.patch(path, json={"actual_start_date": "2999-01-01"}).status_code == 400
    assert officer.patch(path, json={"zddm": "330601001001GB99999"}).status_code == 422
    row = db.execute(
        text(
            "SELECT actor, request_id, changes FROM change_log"
            " WHERE table_name = 'parcel' AND row_id = :id AND action = 'update' ORDER BY id"
        ),
        {"id": two_counties.a.parcel_id},
    ).all()
    assert len(row) == 1
    assert row[0].actor == "officer-ab" and row[0].request_id
    assert row[0].changes["far"] == {"old": 0.8, "new": 1.25}


def test_status_changes_follow_the_workflow_with_a_reason(
    officer: TestClient, two_counties: TwoCounties, db: Connection
) -> None:
    path = f"/parcels/{two_counties.a.parcel_id}/status"
    skipped = officer.post(path, json={"status": "freed", "reason": "直接腾出"})
    assert skipped.status_code == 409 and "认定低效" in skipped.json()["detail"]
    assert officer.post(path, json={"status": "identified", "reason": "x"}).status_code == 422
    # the workflow's own rules apply (认定 needs its document)
    undocumented = officer.post(path, json={"status": "identified", "reason": "2024年亩均税收2.1万元/亩"})
    assert undocumented.status_code == 400 and "文件依据" in undocumented.json()["detail"]
    identified = {"status": "identified", "reason": "2024年亩均税收2.1万元/亩", "documents": ["县经信〔2024〕8号"]}
    assert officer.post(path, json=identified).status_code == 200
    planned = {"status": "planned", "reason": "列入2025年更新计划", "documents": ["县政办〔2025〕3号"]}
    assert officer.post(path, json=planned).json()["to_label"] == "列入计划"
    history = officer.get(f"/parcels/{two_counties.a.parcel_id}/history").json()
    events = [h for h in history if h["kind"] == "event"]
    assert [e["changes"]["to"] for e in events] == ["planned", "identified"]
    assert events[1]["changes"]["reason"] == "2024年亩均税收2.1万元/亩"
    changes = [h for h in history if h["kind"] == "change" and h["table_name"] == "parcel" and h["action"] == "update"]
    assert changes[0]["changes"]["renewal_status"] == {"old": "identified", "new": "planned"}


def test_occupancy_edits_check_areas_and_appear_in_the_history(
    officer: TestClient, two_counties: TwoCounties, db: Connection
) -> None:
    a, b = two_counties.a, two_counties.b
    path = f"/parcels/{a.parcel_id}/occupancy"
    # the parcel has 15 亩 and 10 are already used by A's firm
    too_much = officer.post(path, json={"enterprise_id": b.enterprise_id, "land_area_mu": 6, "tenure": "lease"})
    assert too_much.status_code == 400 and "超过宗地面积" in too_much.json()["detail"]
    added = officer.post(path, json={"enterprise_id": b.enterprise_id, "land_area_mu": 5, "tenure": "lease"})
    assert added.status_code == 201
    occupancy_id = added.json()["id"]
    twice = officer.post(path, json={"enterprise_id": b.enterprise_id, "land_area_mu": 0})
    assert twice.status_code == 409
    backwards = officer.patch(f"{path}/{occupancy_id}", json={"valid_from": "2024-01-01", "valid_to": "2023-01-01"})
    assert backwards.status_code == 400
    assert officer.delete(f"{path}/{occupancy_id}").status_code == 204
    history = officer.get(f"/parcels/{a.parcel_id}/history").json()
    occupancy = [(h["action"], h["row_id"]) for h in history if h["table_name"] == "occupancy"]
    assert ("insert", occupancy_id) in occupancy and ("delete", occupancy_id) in occupancy


def test_enterprises_and_their_figures(officer: TestClient, two_counties: TwoCounties) -> None:
    a = two_counties.a
    found = officer.get("/enterprises", params={"q": "甲县"}).json()
    assert [e["id"] for e in found["items"]] == [a.enterprise_id]
    detail = officer.get(f"/enterprises/{a.enterprise_id}").json()
    assert [p["parcel_id"] for p in detail["parcels"]] == [a.parcel_id]
    assert detail["figures"] == [
        {
            "year": 2023,
            "tax_wan": 120.0,
            "value_added_wan": None,
            "revenue_wan": None,
            "output_wan": None,
            "energy_tce": None,
            "emissions_t": None,
            "rd_wan": None,
            "employees": None,
            "electricity_kwh": None,
            "sources": {},
        }
    ]
    assert officer.get(f"/enterprises/{a.enterprise_id}/figures", params={"year": 2022}).json() == []
    assert officer.get("/enterprises/999999").status_code == 404
