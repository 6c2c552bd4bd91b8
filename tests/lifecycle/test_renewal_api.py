"""The renewal workflow over HTTP: steps, refusals with the allowed steps, history, undo, roles,
region scope, and the thin page in a browser session (cookie and CSRF token)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from landgis.accounts.users import create_user
from tests.conftest import ClientFactory
from tests.lifecycle.conftest import add_parcel

STEP = {"to_status": "identified", "event_date": "2024-05-06", "documents": ["县经信〔2024〕8号"]}


def _status(land: Connection, pid: int) -> str:
    return str(land.execute(text("SELECT renewal_status FROM parcel WHERE id = :id"), {"id": pid}).scalar_one())


def _events(land: Connection, pid: int) -> int:
    return int(land.execute(text("SELECT count(*) FROM renewal_event WHERE parcel_id = :p"), {"p": pid}).scalar_one())


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

    # a name in the body is not who acted: the signed-in user is
    response = api.post(f"/parcels/{pid}/transitions", json={**STEP, "user": "张三"})
    assert response.status_code == 201, response.text
    event = response.json()
    assert (event["from_label"], event["to_label"], event["recorded_by"]) == ("正常", "认定低效", "lifecycle-admin")

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
    assert undo.json()["revoked_by"] == "lifecycle-admin"
    assert _status(land, pid) == "normal"

    audited = land.execute(
        text(
            "SELECT action, actor, details FROM audit_event WHERE target_table = 'parcel' AND target_id = :p ORDER BY id"
        ),
        {"p": pid},
    ).all()
    assert [(a.action, a.actor) for a in audited] == [
        ("status_change", "lifecycle-admin"),
        ("status_undo", "lifecycle-admin"),
    ]
    assert audited[0].details["documents"] == ["县经信〔2024〕8号"] and audited[0].details["to"] == "identified"
    assert audited[1].details["reason"] == "认定文件撤回"


def test_a_scoped_officer_cannot_step_or_undo_another_countys_parcel(
    land: Connection, client_for: ClientFactory
) -> None:
    own = add_parcel(land)
    other = add_parcel(land, 300, region="330698")
    officer = client_for("officer", ["330699"])
    assert officer.get(f"/parcels/{other}/transitions").status_code == 404
    assert officer.get(f"/parcels/{other}/transitions/allowed").status_code == 404
    assert officer.post(f"/parcels/{other}/transitions", json=STEP).status_code == 404
    assert _status(land, other) == "normal" and _events(land, other) == 0
    # a step recorded there by its own officer cannot be undone from county 330699 either
    neighbour = client_for("officer", ["330698"])
    assert neighbour.post(f"/parcels/{other}/transitions", json=STEP).status_code == 201
    assert officer.post(f"/parcels/{other}/transitions/undo", json={"reason": "越权撤销"}).status_code == 404
    assert _status(land, other) == "identified"
    assert (
        land.execute(text("SELECT revoked_at FROM renewal_event WHERE parcel_id = :p"), {"p": other}).scalar_one()
        is None
    )
    # the control: the same officer does step its own county's parcel
    assert officer.post(f"/parcels/{own}/transitions", json=STEP).status_code == 201
    assert officer.get("/parcels/999999/transitions").status_code == 404


def test_viewers_and_planners_cannot_take_steps(land: Connection, client_for: ClientFactory) -> None:
    pid = add_parcel(land)
    for role in ("viewer", "planner"):
        client = client_for(role, ["330699"])
        assert client.get(f"/parcels/{pid}/transitions").status_code == 200
        refused = client.post(f"/parcels/{pid}/transitions", json=STEP)
        assert refused.status_code == 403 and "officer" in refused.json()["detail"]
        assert client.post(f"/parcels/{pid}/status", json={"status": "identified", "reason": "越权"}).status_code == 403
        assert client.post(f"/parcels/{pid}/transitions/undo", json={"reason": "越权"}).status_code == 403
    assert _status(land, pid) == "normal" and _events(land, pid) == 0


def test_the_status_route_is_a_step_of_the_workflow(land: Connection, client_for: ClientFactory) -> None:
    pid = add_parcel(land)
    officer = client_for("officer", ["330699"], username="wang.wu")
    # the workflow's rules apply: 认定 needs its document
    missing = officer.post(f"/parcels/{pid}/status", json={"status": "identified", "reason": "亩均税收低于3万元"})
    assert missing.status_code == 400 and "需填写文件依据" in missing.json()["detail"]
    done = officer.post(
        f"/parcels/{pid}/status",
        json={"status": "identified", "reason": "亩均税收低于3万元", "documents": ["县经信〔2024〕8号"]},
    )
    assert done.status_code == 200, done.text
    assert done.json()["to_label"] == "认定低效"
    event = land.execute(
        text("SELECT id, from_status, to_status, note, recorded_by, documents FROM renewal_event WHERE parcel_id = :p"),
        {"p": pid},
    ).one()
    assert done.json()["event_id"] == event.id
    assert (event.from_status, event.to_status, event.note, event.recorded_by, event.documents) == (
        "normal",
        "identified",
        "亩均税收低于3万元",
        "wang.wu",
        ["县经信〔2024〕8号"],
    )
    # so it shows in the workflow's history and can be undone there
    assert [e["to_status"] for e in officer.get(f"/parcels/{pid}/transitions").json()["events"]] == ["identified"]
    assert officer.post(f"/parcels/{pid}/transitions/undo", json={"reason": "撤回"}).status_code == 200
    assert _status(land, pid) == "normal"


def test_statuses_and_their_next_steps_come_from_the_workflow(api: TestClient) -> None:
    statuses = {s["code"]: s for s in api.get("/parcels/statuses").json()}
    assert statuses["identified"]["next"] == ["planned", "exempt", "normal"]
    assert statuses["in_progress"]["next"] == ["planned", "freed", "upgraded"]
    assert statuses["freed"]["next"] == ["freed", "resupplied"]
    assert statuses["upgraded"]["label"] == "提容增效完成"


def test_an_attribute_edit_cannot_change_the_status(land: Connection, client_for: ClientFactory) -> None:
    pid = add_parcel(land)
    officer = client_for("officer", ["330699"])
    refused = officer.patch(f"/parcels/{pid}", json={"renewal_status": "freed"})
    assert refused.status_code == 422
    assert _status(land, pid) == "normal"


def test_the_workflow_page_in_a_browser_session(land: Connection, client_for: ClientFactory) -> None:
    pid = add_parcel(land)
    create_user(land, "zhao.liu", "officer", ["330699"], password="correct horse battery", display_name="赵六")
    browser = client_for("viewer", ["330699"])  # an app on the same transaction; its token is dropped below
    browser.headers.pop("Authorization")
    page = browser.get(f"/lifecycle/parcels/{pid}", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == f"/login?next=%2Flifecycle%2Fparcels%2F{pid}"

    signed_in = browser.post("/auth/login", json={"username": "zhao.liu", "password": "correct horse battery"})
    assert signed_in.status_code == 200
    page = browser.get(f"/lifecycle/parcels/{pid}", headers={"accept": "text/html"})
    assert page.status_code == 200 and "地块更新流程" in page.text
    assert '<script src="/static/lifecycle/workflow.js">' in page.text
    assert 'name="user"' not in page.text  # who acts is the session's user, not a form field
    script = browser.get("/static/lifecycle/workflow.js").text
    assert "/auth/me" in script and "X-CSRF-Token" in script and "/transitions" in script

    assert browser.get(f"/parcels/{pid}/transitions").status_code == 200
    without_token = browser.post(f"/parcels/{pid}/transitions", json=STEP)
    assert without_token.status_code == 403 and "CSRF" in without_token.json()["detail"]
    csrf = browser.get("/auth/me").json()["csrf_token"]
    step = browser.post(f"/parcels/{pid}/transitions", json=STEP, headers={"X-CSRF-Token": csrf})
    assert step.status_code == 201, step.text
    assert step.json()["recorded_by"] == "zhao.liu"
    undo = browser.post(f"/parcels/{pid}/transitions/undo", json={"reason": "误操作"}, headers={"X-CSRF-Token": csrf})
    assert undo.status_code == 200 and _status(land, pid) == "normal"
