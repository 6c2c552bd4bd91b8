"""Matching freed land to a project: a fixture whose ranking is computed by hand.

Request: 20-30 亩 (middle 25, half range 5), FAR 1.5, preferred zone Z1.

| candidate | 亩 | zone | kind | area fit | zone | availability | consolidation | total |
|---|---|---|---|---|---|---|---|---|
| P3 | 24 | Z1 | vacant | 30*(1-1/5) = 24 | 25 | 20*0.75 = 15 | 10 | 74 |
| P6 | 25 | Z1 | idle | 30 | 25 | 20*0.25 = 5 | 10 | 70 |
| P4 | 25 | Z2 | freed | 30 | 0 | 20 | 10 | 60 |
| P9+P10 (50 m apart) | 22 | Z1 | freed | 30*(1-3/5) = 12 | 25 | 20 | 10/2*0.5 = 2.5 | 59.5 |
| P1+P2 (touching) | 30 | Z1 | freed | 0 | 25 | 20 | 10/2 = 5 | 50 |

P5 (FAR ceiling 1.2) is excluded; P7 (45 亩), P1, P2, P9, P10 alone are out of range; P8 produces.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from landgis.errors import InvalidInput
from landgis.lifecycle.matching import ProjectRequest, match
from tests.conftest import ClientFactory
from tests.lifecycle.conftest import add_enterprise, add_parcel, add_zone, occupy

AS_OF = dt.date(2024, 7, 1)


@pytest.fixture
def county(land: Connection) -> dict[str, int]:
    z1 = add_zone(land, "Z1", -1000, -1000, 3000, 3000)
    z2 = add_zone(land, "Z2", 3000, -1000, 2000, 3000)
    freed = {"renewal_status": "freed"}
    ids = {
        "Z1": z1,
        "Z2": z2,
        "P1": add_parcel(land, 0, 0, 100, 100, zone_id=z1, **freed),
        "P2": add_parcel(land, 100, 0, 100, 100, zone_id=z1, **freed),
        "P3": add_parcel(land, 0, 400, 160, 100, zone_id=z1),
        "P4": add_parcel(land, 3200, 0, 250, 200 / 3, zone_id=z2, **freed),
        "P5": add_parcel(land, 0, 800, 250, 200 / 3, zone_id=z1, far_max=1.2, **freed),
        "P6": add_parcel(land, 0, 1200, 250, 200 / 3, zone_id=z1, agreed_start_date=dt.date(2020, 1, 1)),
        "P7": add_parcel(land, 1500, 1500, 300, 100, zone_id=z1, **freed),
        "P8": add_parcel(
            land,
            400,
            400,
            100,
            100,
            zone_id=z1,
            contract_date=dt.date(2010, 1, 1),
            actual_production_date=dt.date(2012, 1, 1),
            far=1.1,
        ),
        "P9": add_parcel(land, 0, 1600, 100, 200 / 3, zone_id=z1, **freed),
        "P10": add_parcel(land, 150, 1600, 120, 100, zone_id=z1, **freed),
    }
    return ids


def request(county: dict[str, int], **kw: Any) -> ProjectRequest:
    base: dict[str, Any] = {"area_min_mu": 20, "area_max_mu": 30, "far_min": 1.5, "preferred_zone_ids": [county["Z1"]]}
    return ProjectRequest(**{**base, **kw})


def names(county: dict[str, int], candidate: dict[str, Any]) -> str:
    back = {v: k for k, v in county.items() if k.startswith("P")}
    return "+".join(back[i] for i in candidate["parcel_ids"])


def test_ranking_matches_the_hand_computed_scores(land: Connection, county: dict[str, int]) -> None:
    result = match(land, request(county), as_of=AS_OF)
    ranked = [(names(county, c), c["score"]) for c in result["candidates"]]
    assert ranked == [("P3", 74.0), ("P6", 70.0), ("P4", 60.0), ("P1+P2", 50.0)]
    assert result["excluded"]["规划容积率上限低于 1.5 (FAR ceiling too low)"] == 1
    top = result["candidates"][0]
    assert top["rank"] == 1 and top["parcels"][0]["availability_label"] == "储备/空地"
    assert top["reasons"][0] == "面积 24.00 亩, 需求 20-30 亩, 距中值 25 亩 1.00 亩 (+24.0)"
    assert "位于意向园区的面积占 100% (+25.0)" in top["reasons"]
    assert "规划容积率上限未设定, 需核实规划条件" in top["reasons"]
    block = result["candidates"][3]
    assert block["contiguous"] and "2宗连片地块 (+5.0)" in block["reasons"]


def test_non_contiguous_groups_only_when_allowed(land: Connection, county: dict[str, int]) -> None:
    result = match(land, request(county, contiguous=False), as_of=AS_OF)
    ranked = [(names(county, c), c["score"], c["contiguous"]) for c in result["candidates"]]
    assert ranked == [
        ("P3", 74.0, True),
        ("P6", 70.0, True),
        ("P4", 60.0, True),
        ("P9+P10", 59.5, False),
        ("P1+P2", 50.0, True),
    ]


def test_industry_neighbours_and_investment_intensity(land: Connection, county: dict[str, int]) -> None:
    bearing = add_enterprise(land, 1, "示范轴承有限公司", industry_code="C3311")
    chemicals = add_enterprise(land, 2, "示范化工有限公司", industry_code="C2611")
    occupy(land, bearing, county["P8"])
    occupy(land, chemicals, county["P8"], 3.0, tenure="lease")
    agreement = land.execute(
        text("INSERT INTO standard_agreement (parcel_id) VALUES (:p) RETURNING id"), {"p": county["P8"]}
    ).scalar_one()
    land.execute(
        text(
            "INSERT INTO standard_commitment (agreement_id, indicator, comparator, value) VALUES (:a, 'investment_intensity', '>=', 400)"
        ),
        {"a": agreement},
    )
    result = match(land, request(county, industry_code="C3312", investment_intensity=350), as_of=AS_OF)
    by_name = {names(county, c): c for c in result["candidates"]}
    # P3 lies 240-300 m from P8: 1 of its 2 neighbouring firms is in C33 → 15 * 1/2 = 7.5; Z1 expects 400 万元/亩.
    assert by_name["P3"]["parts"]["industry"] == 7.5
    assert "周边500米内 2 家企业中 1 家属 C33 大类 (+7.5)" in by_name["P3"]["reasons"]
    assert by_name["P3"]["score"] == pytest.approx(74.0 + 7.5 - 10.0)
    assert (
        by_name["P4"]["parts"]["intensity"] == 0.0 and by_name["P4"]["parts"]["industry"] == 0.0
    )  # Z2: no firms, no agreement


def test_promised_land_and_scope_are_left_out(land: Connection, county: dict[str, int]) -> None:
    project = land.execute(
        text(
            "INSERT INTO project (code, name, region_code, status) VALUES ('P-9', '已落地项目', '330699', 'matched') RETURNING id"
        )
    ).scalar_one()
    land.execute(
        text("INSERT INTO project_parcel (project_id, parcel_id) VALUES (:j, :p)"), {"j": project, "p": county["P3"]}
    )
    land.execute(text("UPDATE parcel SET region_code = '330698' WHERE id = :p"), {"p": county["P4"]})
    land.execute(text("SELECT set_config('landgis.scope', '330699', true)"))
    ranked = [names(county, c) for c in match(land, request(county), as_of=AS_OF)["candidates"]]
    assert ranked == ["P6", "P1+P2"]


def test_bad_requests_are_refused(land: Connection) -> None:
    with pytest.raises(InvalidInput, match="面积范围无效"):
        match(land, ProjectRequest(area_min_mu=30, area_max_mu=20))
    with pytest.raises(InvalidInput, match="行业代码"):
        match(land, ProjectRequest(area_min_mu=10, area_max_mu=20, industry_code="3311"))


def test_matching_and_projects_api(
    api: TestClient, land: Connection, county: dict[str, int], client_for: ClientFactory
) -> None:
    body = {
        "area_min_mu": 20,
        "area_max_mu": 30,
        "far_min": 1.5,
        "preferred_zone_ids": [county["Z1"]],
        "as_of": "2024-07-01",
    }
    result = api.post("/matching", json=body).json()
    assert [c["score"] for c in result["candidates"]] == [74.0, 70.0, 60.0, 50.0]
    created = api.post(
        "/projects", json={"code": "XM-2024-01", "name": "精密轴承项目", "region_code": "330699", **body}
    )
    assert created.status_code == 201, created.text
    project = created.json()
    matches = api.get(f"/projects/{project['id']}/matches?as_of=2024-07-01").json()
    assert [c["score"] for c in matches["candidates"]] == [74.0, 70.0, 60.0, 50.0]
    viewer = client_for("viewer", ["330699"])
    assert viewer.get(f"/projects/{project['id']}").status_code == 200
    assert viewer.post("/matching", json=body).status_code == 403
    refused = viewer.post(f"/projects/{project['id']}/parcels", json={"parcel_ids": [county["P3"]]})
    assert refused.status_code == 403
    linked = api.post(f"/projects/{project['id']}/parcels", json={"parcel_ids": [county["P3"]], "user": "招商局"})
    assert linked.status_code == 200 and linked.json()["status"] == "matched"
    assert [p["linked_by"] for p in linked.json()["parcels"]] == ["lifecycle-admin"]
    dossier = api.get(
        f"/land-codes/{land.execute(text('SELECT land_code FROM parcel WHERE id = :p'), {'p': county['P3']}).scalar()}"
    ).json()
    assert [p["code"] for p in dossier["projects"]] == ["XM-2024-01"]
    again = api.get(f"/projects/{project['id']}/matches?as_of=2024-07-01").json()
    assert [c["score"] for c in again["candidates"]] == [70.0, 60.0, 50.0]


def test_a_city_project_on_county_land_is_seen_there_and_its_land_is_promised(
    land: Connection, county: dict[str, int], client_for: ClientFactory
) -> None:
    """A project of 绍兴市 (330600) placed on a parcel of 示范县 (330699): the county's users see the
    project and that its land is taken; the neighbouring county 330698 sees neither."""
    project = land.execute(
        text(
            "INSERT INTO project (code, name, region_code, status, area_min_mu, area_max_mu)"
            " VALUES ('SX-1', '市级重大项目', '330600', 'matched', 20, 30) RETURNING id"
        )
    ).scalar_one()
    land.execute(
        text("INSERT INTO project_parcel (project_id, parcel_id) VALUES (:j, :p)"), {"j": project, "p": county["P3"]}
    )
    county_officer = client_for("officer", ["330699"])
    neighbour = client_for("officer", ["330698"])
    assert [p["code"] for p in county_officer.get("/projects").json()] == ["SX-1"]
    assert [p["parcel_id"] for p in county_officer.get(f"/projects/{project}").json()["parcels"]] == [county["P3"]]
    body = {"area_min_mu": 20, "area_max_mu": 30, "far_min": 1.5, "as_of": "2024-07-01"}
    candidates = county_officer.post("/matching", json=body).json()["candidates"]
    assert candidates and all(county["P3"] not in c["parcel_ids"] for c in candidates)
    assert neighbour.get("/projects").json() == []
    assert neighbour.get(f"/projects/{project}").status_code == 404
    # the county may place it on more of its land; nobody may place a project it cannot see
    linked = county_officer.post(f"/projects/{project}/parcels", json={"parcel_ids": [county["P1"]]})
    assert linked.status_code == 200
    assert sorted(p["parcel_id"] for p in linked.json()["parcels"]) == sorted([county["P1"], county["P3"]])
    other = add_parcel(land, 5000, 5000, region="330698")
    assert neighbour.post(f"/projects/{project}/parcels", json={"parcel_ids": [other]}).status_code == 404
