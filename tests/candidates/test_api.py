"""``/candidates``, ``/plans`` and ``/totals`` over HTTP, and the exports they offer."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Connection, text

from landgis.db.engine import set_scope

BODY: dict[str, Any] = {
    "rules": {"rule": "far_below", "value": 1.5},
    "area": {"region_code": "330699"},
    "year": 2023,
    "blocks": {"distance_m": 20, "min_block_mu": 40},
}


def test_presets_contract(client: TestClient) -> None:
    presets = {p["id"]: p for p in client.get("/candidates/presets").json()}
    assert {"huzhou-sandi", "changxing", "jinhua-inefficient", "idle-land-53", "wuwei"} <= set(presets)
    for preset in presets.values():
        assert {"id", "name", "description", "rules", "params"} <= set(preset)
    rules = {r["rule"] for r in client.get("/candidates/rules").json()}
    assert {"mu_tax_below", "far_below_control_share", "idle", "wuwei", "class_in"} <= rules


def test_candidates_contract(client: TestClient, drawn: dict[str, int]) -> None:
    answer = client.post("/candidates", json=BODY)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    parcels = {f["properties"]["parcel_id"]: f for f in data["parcels"]["features"]}
    # FAR < 1.5: A (1.0), C (0.5), D, E, F (1.0); B (2.0) is not a candidate
    assert set(parcels) == {drawn[n] for n in "ACDEF"}
    a = parcels[drawn["A"]]["properties"]
    assert {"parcel_id", "zddm", "area_mu", "mu_tax", "far", "reasons"} <= set(a)
    assert a["zddm"] == "330699001001GB00001" and a["reasons"] == ["容积率低于阈值: 容积率 1.00 < 1.5"]
    assert a["mu_tax"] == pytest.approx(150 / 15, rel=1e-4)
    assert parcels[drawn["A"]]["geometry"]["type"] == "MultiPolygon"
    # without B, A and C are 119.5 m apart and D is 30 m from A: only E+F group, 30 亩 < 40
    assert data["blocks"]["features"] == []
    assert data["totals"]["blocks"] == {"count": 0, "area_mu": 0.0, "parcels": 0}
    assert data["totals"]["count"] == 5
    assert set(data["totals"]) >= {"count", "area_mu", "tax_wan", "value_added_wan"}
    assert data["totals"]["tax_wan"] == pytest.approx(150)


def test_candidate_blocks_over_http(client: TestClient, drawn: dict[str, int]) -> None:
    body = {**BODY, "rules": {"rule": "industrial_land"}}
    data = client.post("/candidates", json=body).json()
    blocks = data["blocks"]["features"]
    assert len(blocks) == 1
    props = blocks[0]["properties"]
    assert sorted(props["parcel_ids"]) == sorted(drawn[n] for n in "ABC")
    assert props["block_id"] == 1 and props["area_mu"] == pytest.approx(45, rel=1e-5)
    assert props["far"] == pytest.approx(3.5 / 3, rel=1e-4) and props["mu_tax"] == pytest.approx(150 / 45, rel=1e-4)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rules": {"rule": "far_below", "value": "1.5"}}, "rules.value"),
        ({"rules": {"rule": "far_below", "value": 1.5, "unit": "m"}}, "rules.unit"),
        ({"area": {}}, "area"),
        ({"area": {"region_code": "330699", "zone_id": 1}}, "area"),
        ({"blocks": {"distance_m": -1}}, "blocks.distance_m"),
        ({"year": "2023年"}, "year"),
    ],
)
def test_malformed_requests_are_400_naming_the_field(
    client: TestClient, db: Connection, drawn: dict[str, int], change: dict[str, Any], field: str
) -> None:
    answer = client.post("/candidates", json={**BODY, **change})
    assert answer.status_code == 400
    assert field in answer.json()["detail"], answer.json()["detail"]


def test_export_formats(client: TestClient, drawn: dict[str, int], tmp_path: Any) -> None:
    body = {**BODY, "rules": {"rule": "industrial_land"}}
    xlsx = client.post("/candidates/export", params={"format": "xlsx"}, json=body)
    book = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    assert book.sheetnames == ["候选宗地", "连片地块", "汇总"]
    header = next(book["候选宗地"].iter_rows(max_row=1, values_only=True))
    assert header[:6] == ("宗地编号", "宗地代码", "坐落", "权利人", "行政区划代码", "用地面积(亩)")
    assert "亩均税收(万元/亩)" in header and "认定理由" in header
    rows = list(book["候选宗地"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == 6

    shp = client.post("/candidates/export", params={"format": "shp"}, json=body)
    assert shp.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(shp.content))
    names = set(archive.namelist())
    assert {"候选宗地.shp", "候选宗地.dbf", "候选宗地.cpg", "候选宗地.prj", "连片地块.shp"} <= names
    assert archive.read("候选宗地.cpg").decode("ascii") == "GBK"
    archive.extractall(tmp_path)
    frame = gpd.read_file(tmp_path / "候选宗地.shp", encoding="gbk")
    assert "亩均税收" in frame.columns and "认定理由" in frame.columns
    assert all(len(c.encode("gbk")) <= 10 for c in frame.columns if c != "geometry")
    assert frame.crs.to_epsg() == 4490
    a = frame[frame["宗地编号"] == drawn["A"]].iloc[0]
    assert a["认定理由"] == "工业用地" and a["宗地代码"] == "330699001001GB00001"

    gpkg = client.post("/candidates/export", params={"format": "gpkg"}, json=body)
    path = tmp_path / "c.gpkg"
    path.write_bytes(gpkg.content)
    import pyogrio

    assert [layer[0] for layer in pyogrio.list_layers(path)] == ["候选宗地", "连片地块"]
    blocks = gpd.read_file(path, layer="连片地块")
    assert blocks["面积(亩)"].iloc[0] == pytest.approx(45, rel=1e-5)

    geojson = client.post("/candidates/export", params={"format": "geojson"}, json=body)
    assert geojson.headers["content-type"] == "application/zip"  # two layers


def test_plans_save_compare_export(client: TestClient, db: Connection, drawn: dict[str, int]) -> None:
    wide = {**BODY, "rules": {"rule": "industrial_land"}}
    low = {**BODY, "blocks": None}
    first = client.post("/plans", json={"name": "全部工业用地", "request": wide})
    assert first.status_code == 201, first.text
    second = client.post("/plans", json={"name": "低容积率", "description": "FAR < 1.5", "request": low}).json()
    assert client.post("/plans", json={"name": "全部工业用地", "request": wide}).status_code == 409
    plans = client.get("/plans").json()
    assert [p["name"] for p in plans] == ["低容积率", "全部工业用地"]
    compared = client.get("/plans/compare", params={"ids": [first.json()["id"], second["id"]]}).json()
    pair = compared["pairs"][0]
    assert pair["both"]["count"] == 5 and pair["only_a"]["count"] == 1 and pair["only_b"]["count"] == 0
    assert pair["only_a"]["area_mu"] == pytest.approx(15, rel=1e-5)
    # a plan layer's TileJSON frames that plan's parcels: one of parcel A alone, inside the others
    around_a = db.execute(
        text("SELECT ST_AsGeoJSON(ST_Expand(ST_Envelope(geom), 1e-6)) FROM parcel WHERE id = :i"), {"i": drawn["A"]}
    ).scalar_one()
    only_a = {**wide, "area": {"polygon": json.loads(around_a)}}
    third = client.post("/plans", json={"name": "宗地A", "request": only_a})
    assert third.status_code == 201, third.text

    def bounds(plan_id: object) -> list[float]:
        answer = client.get("/tiles/plan_parcels/tilejson.json", params={"plan_id": plan_id})
        assert answer.status_code == 200, answer.text
        assert f"plan_id={plan_id}" in answer.json()["tiles"][0]
        return list(answer.json()["bounds"])

    a_extent = db.execute(
        text("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM parcel WHERE id = :i"),
        {"i": drawn["A"]},
    ).one()
    assert bounds(third.json()["id"]) == pytest.approx(list(a_extent), abs=1e-6)
    assert bounds(first.json()["id"]) != pytest.approx(list(a_extent), abs=1e-6)
    assert client.get("/tiles/plan_parcels/tilejson.json", params={"plan_id": "x"}).status_code == 400
    assert client.delete(f"/plans/{third.json()['id']}").status_code == 204
    # the plan keeps the figures it was saved with
    db.execute(text("UPDATE enterprise_year SET tax_wan = 999 WHERE year = 2023"))
    saved = client.get(f"/plans/{second['id']}/parcels").json()
    a = next(f for f in saved["features"] if f["properties"]["parcel_id"] == drawn["A"])
    assert a["properties"]["tax_wan"] == pytest.approx(150)
    export = client.get(f"/plans/{first.json()['id']}/export", params={"format": "xlsx"})
    book = load_workbook(io.BytesIO(export.content), read_only=True)
    assert book.sheetnames == ["方案宗地", "连片地块", "汇总"]
    assert client.delete(f"/plans/{second['id']}").status_code == 204
    assert client.get(f"/plans/{second['id']}").status_code == 404


def test_totals_over_http(client: TestClient, drawn: dict[str, int]) -> None:
    page = client.get("/totals", params={"year": 2023}).json()
    assert page["total"]["industrial_mu"] == pytest.approx(6 * 15, rel=1e-5)
    assert [r["region_code"] for r in page["regions"]] == ["330699"]  # the counties in scope
    county = client.get("/totals", params={"year": 2023, "region_code": "330699"}).json()
    towns = {r["region_code"]: r["industrial_mu"] for r in county["regions"]}
    assert towns == {"330699001": pytest.approx(90, rel=1e-5), "330699002": 0.0}
    assert client.get("/totals", params={"year": 2023, "region_code": "330698"}).status_code == 404
    export = client.get("/totals/export", params={"year": 2023})
    book = load_workbook(io.BytesIO(export.content), read_only=True)
    assert book.sheetnames == ["2023年园区汇总", "目标进度", "区划汇总"]


def test_candidates_respect_the_region_scope(db: Connection, drawn: dict[str, int]) -> None:
    from landgis.candidates.selection import parse_request, select_candidates

    db.execute(text("UPDATE parcel SET region_code = '330699002' WHERE id = :p"), {"p": drawn["E"]})
    set_scope(db, ["330699002"])
    selection = select_candidates(db, parse_request({**BODY, "rules": {"rule": "industrial_land"}}))
    assert selection.totals["count"] == 1
    got = db.execute(text("SELECT parcel_id FROM landgis_candidate")).scalars().all()
    assert got == [drawn["E"]]
    set_scope(db, None)
