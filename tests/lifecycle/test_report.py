"""The progress report: targets against actuals computed by hand, classes, and the HTML and Excel forms."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Connection, text

from landgis.lifecycle import report
from landgis.lifecycle.events import TransitionRequest, apply_transition
from landgis.lifecycle.workflow import read_workflow
from tests.conftest import ClientFactory
from tests.lifecycle.conftest import add_parcel, add_zone, record_classes

WF = read_workflow()


@pytest.fixture
def zone(land: Connection) -> dict[str, int]:
    """Z1 with A (30 亩), B (15 亩), C (15 亩): 60 亩 = 40 000 m² in all.

    2023: A freed 12 亩. 2024: A freed 18 亩 more; B upgraded, FAR 0.8 → 1.6.
    Targets: 治理 2024 = 40 亩; 腾出 2023-2027 = 100 亩; 容积率提升 2024 = 0.1; 亩均税收增长 2024 = 10 %.
    """
    z = add_zone(land, "Z1", -1000, -1000, 3000, 3000)
    ids = {
        "zone": z,
        "A": add_parcel(land, 0, 0, 200, 100, zone_id=z, renewal_status="in_progress"),
        "B": add_parcel(land, 300, 0, 100, 100, zone_id=z, far=0.8, renewal_status="in_progress"),
        "C": add_parcel(land, 500, 0, 100, 100, zone_id=z),
    }

    def step(pid: int, to: str, date: str, **kw: Any) -> None:
        apply_transition(
            land,
            WF,
            pid,
            TransitionRequest(to_status=to, event_date=dt.date.fromisoformat(date), user="t", **kw),
            today=dt.date(2025, 1, 31),
        )

    freeing = {"renewal_mode": "acquisition", "documents": ["收储协议"]}
    step(ids["A"], "freed", "2023-10-01", area_mu=12.0, **freeing)
    step(ids["A"], "freed", "2024-03-01", area_mu=18.0, **freeing)
    step(ids["B"], "upgraded", "2024-09-01", renewal_mode="far_uplift", far_after=1.6)
    for metric, y0, y1, value in (
        ("governed_mu", 2024, 2024, 40),
        ("freed_mu", 2023, 2027, 100),
        ("far_uplift", 2024, 2024, 0.1),
        ("mu_tax_growth", 2024, 2024, 0.10),
    ):
        land.execute(
            text("INSERT INTO zone_target (zone_id, metric, year_from, year_to, value) VALUES (:z, :m, :a, :b, :v)"),
            {"z": z, "m": metric, "a": y0, "b": y1, "v": value},
        )
    return ids


def targets(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["metric"]: t for t in data["targets"]}


def test_targets_against_actuals(land: Connection, zone: dict[str, int]) -> None:
    data = report.progress(land, WF, year=2024, zone_id=zone["zone"])
    t = targets(data)
    assert t["governed_mu"]["actual"] == pytest.approx(33.0, rel=1e-6)  # 18 + 15
    assert t["governed_mu"]["progress"] == pytest.approx(0.825, rel=1e-6)
    assert t["freed_mu"]["actual"] == pytest.approx(30.0, rel=1e-6)  # 12 (2023) + 18 (2024)
    assert (t["freed_mu"]["progress"], t["freed_mu"]["elapsed"]) == (pytest.approx(0.3, rel=1e-6), 0.4)
    assert t["far_uplift"]["actual"] == pytest.approx(0.8 * 10_000 / 40_000, rel=1e-6)
    assert t["mu_tax_growth"]["actual"] is None and "v_parcel_class" in t["mu_tax_growth"]["note"]
    assert data["totals"] == {"governed_mu": pytest.approx(33.0), "freed_mu": pytest.approx(18.0)}
    assert [(r["year"], round(r["freed_mu"], 4)) for r in data["by_year"]] == [(2023, 12.0), (2024, 18.0)]
    assert [e["to_label"] for e in data["events"]] == ["已腾出", "提容增效完成"]
    assert data["classes"] is None
    assert [i["parcel_id"] for i in data["lists"]["freed"]] == [zone["A"]]


def test_classes_and_growth_from_the_evaluation(land: Connection, zone: dict[str, int]) -> None:
    a, b, c = zone["A"], zone["B"], zone["C"]
    record_classes(
        land,
        [
            (a, 2023, "B", 10.0, 50.0),
            (b, 2023, "C", 20.0, 60.0),
            (c, 2023, "D", 30.0, 70.0),
            (a, 2024, "B", 12.0, 55.0),
            (b, 2024, "B", 22.0, 66.0),
            (c, 2024, "C", 33.0, 77.0),
        ],
    )
    data = report.progress(land, WF, year=2024, zone_id=zone["zone"])
    # area-weighted 亩均税收: 2023 (10*30 + 20*15 + 30*15) / 60 = 17.5; 2024 (12*30 + 22*15 + 33*15) / 60 = 19.75
    assert targets(data)["mu_tax_growth"]["actual"] == pytest.approx(19.75 / 17.5 - 1, rel=1e-9)
    table = {row["class"]: (row["last"], row["this"], row["change"]) for row in data["classes"]["table"]}
    assert table == {"A": (0, 0, 0), "B": (1, 2, 1), "C": (1, 1, 0), "D": (1, 0, -1)}
    assert [(m["from_class"], m["to_class"], m["parcels"]) for m in data["classes"]["moves"]] == [
        ("B", "B", 1),
        ("C", "B", 1),
        ("D", "C", 1),
    ]


def test_html_and_workbook(api: TestClient, land: Connection, zone: dict[str, int], client_for: ClientFactory) -> None:
    page = api.get(f"/reports/progress?year=2024&zone_id={zone['zone']}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    assert "Z1园区 (Z1) 2024年度低效工业用地有机更新进展" in html
    assert "33.00 亩" in html and "82.5%" in html
    assert html.count("<svg") >= 3  # targets and yearly charts, the map
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    xlsx = api.get(f"/reports/progress?year=2024&zone_id={zone['zone']}&format=xlsx")
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames[:3] == ["目标完成", "历年治理腾出", "2024年治理腾出明细"]
    first = [c.value for c in book["目标完成"][2]]
    assert first[:5] == ["Z1园区", "治理面积", "2024", 40, pytest.approx(33.0, rel=1e-6)]
    detail = list(book["2024年治理腾出明细"].iter_rows(min_row=2, values_only=True))
    assert [(row[4], row[7], row[8]) for row in detail] == [
        ("已腾出", "是", "是"),
        ("提容增效完成", "是", None),
    ]  # empty cells read back as None
    as_json = api.get(f"/reports/progress?year=2024&zone_id={zone['zone']}&format=json").json()
    assert as_json["totals"]["freed_mu"] == pytest.approx(18.0)
    neighbour = client_for("viewer", ["330698"])
    assert neighbour.get(f"/reports/progress?year=2024&zone_id={zone['zone']}").status_code == 404
    assert api.get("/reports/progress?year=2024").status_code == 400
    region = api.get("/reports/progress?year=2024&region=330699&format=json").json()
    assert region["area"]["zone_ids"] == [zone["zone"]]
