"""The renewal workflow over HTTP: steps, refusals with the allowed steps, history, undo, scope."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from tests.lifecycle.conftest import add_parcel


def test_workflow_configuration_is_published(api: TestClient) -> None:
    body = api.get("/workflow").json()
    assert body["initial"] == "normal"
    assert {"code": "freed", "label": "已腾出"} in body["states"]
    freeing = next(t for t in body["transitions"] if (t["from"], t["to"]) == ("in_progress", "freed"))
    assert freeing["counts"] == ["governed", "freed"] and freeing["area"] == "partial"
    assert {"code": "judicial_auction", "label": "司法拍卖"} in freeing["modes"]


def test_a_step_through_the_api(api: TestClient, land: Connection) -> None:
    pid = add_parcel(land)
    allowed = api.get(f"/parcels/{pid}/transitions/allowed").json()
    assert [a["to"] for a in allowed["allowed"]] == ["identified"]
    assert allowed["parcel"]["renewal_status_label"] == "正常"

    response = api.post(
        f"/parcels/{pid}/transitions",
        json={
            "to_status": "identified",
            "event_date": "2024-05-06",
            "documents": ["县经信〔2024〕8号"],
            "user": "张三",
        },
    )
    assert response.status_code == 201, response.text
    event = response.json()
    assert (event["from_label"], event["to_label"], event["recorded_by"]) == ("正常", "认定低效", "张三")

    refused = api.post(f"/parcels/{pid}/transitions", json={"to_status": "freed", "event_date": "2024-05-07"})
    assert refused.status_code == 409
    problem = refused.json()
    assert "不允许从「认定低效」直接转为「已腾出」" in problem["detail"]
    assert problem["details"]["allowed"] == ["planned", "exempt", "normal"]

    missing_docs = api.post(f"/parcels/{pid}/transitions", json={"to_status": "planned", "event_date": "2024-05-07"})
    assert missing_docs.status_code == 400
    assert "需填写文件依据" in missing_docs.json()["detail"]

    future = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    too_late = api.post(
        f"/parcels/{pid}/transitions", json={"to_status": "planned", "event_date": future, "documents": ["x"]}
    )
    assert too_late.status_code == 400

    listing = api.get(f"/parcels/{pid}/transitions").json()
    assert [e["to_status"] for e in listing["events"]] == ["identified"]
    assert listing["parcel"]["land_code"].startswith("330699001000L")

    undo = api.post(f"/parcels/{pid}/transitions/undo", json={"reason": "认定文件撤回", "user": "李四"})
    assert undo.status_code == 200 and undo.json()["revoked"]
    assert land.execute(text("SELECT renewal_status FROM parcel WHERE id = :id"), {"id": pid}).scalar() == "normal"


def test_scope_hides_other_regions(api: TestClient, land: Connection) -> None:
    other = add_parcel(land, region="330698")
    scope = {"X-Test-Scope": "330699"}
    assert api.get(f"/parcels/{other}/transitions", headers=scope).status_code == 404
    step = {"to_status": "identified", "event_date": "2024-05-06", "documents": ["x"]}
    assert api.post(f"/parcels/{other}/transitions", json=step, headers=scope).status_code == 404
    assert api.post(f"/parcels/{other}/transitions", json=step, headers={"X-Test-Scope": "330698"}).status_code == 201
    assert api.get("/parcels/999999/transitions").status_code == 404


def test_the_thin_workflow_page_and_its_assets_are_served(api: TestClient) -> None:
    page = api.get("/lifecycle/parcels/1")
    assert page.status_code == 200 and "地块更新流程" in page.text
    assert '<script src="/static/lifecycle/workflow.js">' in page.text
    script = api.get("/static/lifecycle/workflow.js")
    assert script.status_code == 200 and "/transitions" in script.text
