"""``/evaluations`` over HTTP: run, reuse, explain, latest class, compare, export, refusals."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Connection, text

from tests.evaluation.test_huangyan import F4


def test_policies_are_listed(client: TestClient) -> None:
    items = {p["id"]: p for p in client.get("/evaluations/policies").json()}
    assert items["huangyan-2022"]["class_method"] == "thresholds"
    assert items["percentile-a25-b45-c25-d5"]["class_method"] == "percentile"
    full = client.get("/evaluations/policies/huangyan-2022").json()
    assert full["segments"][1]["indicators"][1] == {
        "indicator": "tax_per_power",
        "scale": 1.0,
        "weight": 50.0,
        "benchmark": 0.2352,
        "direction": "higher",
        "missing": "zero",
    }
    assert client.get("/evaluations/policies/nope").status_code == 404


def test_run_explain_latest_and_export(client: TestClient, db: Connection, huangyan_county: dict[str, int]) -> None:
    ids = huangyan_county
    created = client.post("/evaluations", json={"policy": "huangyan-2022", "year": 2022})
    assert created.status_code == 201, created.text
    run = created.json()
    again = client.post("/evaluations", json={"policy": "huangyan-2022", "year": 2022})
    assert again.status_code == 200 and again.json()["id"] == run["id"] and again.json()["reused"]

    one = client.get(f"/evaluations/{run['id']}/enterprises/{ids['F4']}").json()
    assert one["score"] == pytest.approx(F4) and one["class"] == "A" and one["class_label"] == "优先发展类"
    assert [i["indicator"] for i in one["indicators"]] == ["mu_tax", "tax_per_power"]

    explained = client.get(f"/evaluations/{run['id']}/enterprises/{ids['F4']}/explain").json()
    assert explained["lines"][-1]["class"] == "A"
    assert "单位电耗税收 = 评价税收 70.0000 万元 ÷ 用电量 2,000,000.0000 千瓦时 × 10000" in explained["text"]

    page = client.get(f"/evaluations/{run['id']}/enterprises", params={"segment": "above", "order": "rank"}).json()
    assert page["total"] == 3
    assert [item["enterprise_id"] for item in page["items"]] == [ids["F1"], ids["F3"], ids["F2"]]

    latest = client.get(f"/evaluations/latest/parcels/{ids['P4']}", params={"year": 2022}).json()
    assert latest["class"] == "B" and latest["enterprise_count"] == 2
    assert client.get(f"/evaluations/latest/enterprises/{ids['F2']}").json()["class"] == "C"

    export = client.get(f"/evaluations/{run['id']}/export", params={"format": "xlsx"})
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    book = load_workbook(io.BytesIO(export.content), read_only=True)
    assert book.sheetnames == ["企业评价结果", "宗地亩均", "分类汇总"]
    header = next(book["企业评价结果"].iter_rows(max_row=1, values_only=True))
    assert "亩均税收(万元/亩)" in header and "综合得分" in header and "用地面积(亩)" in header


def test_a_malformed_policy_document_is_refused_and_nothing_stored(
    client: TestClient, db: Connection, huangyan_county: dict[str, int]
) -> None:
    document = client.get("/evaluations/policies/huangyan-2022").json()
    document["segments"][0]["indicators"][0]["weight"] = 35  # weights now add up to 105
    answer = client.post("/evaluations", json={"policy_document": document, "year": 2022})
    assert answer.status_code == 400
    assert "segments[0].weights_total" in answer.json()["detail"]
    assert db.execute(text("SELECT count(*) FROM evaluation_run")).scalar_one() == 0
    check = client.post("/evaluations/policies/check", json=document)
    assert check.status_code == 400 and "权重合计 105" in check.json()["detail"]


def test_unknown_run_is_404(client: TestClient) -> None:
    assert client.get("/evaluations/99999").status_code == 404
    assert client.get("/evaluations/99999/enterprises/1/explain").status_code == 404
