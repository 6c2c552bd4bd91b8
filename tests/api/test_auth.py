"""Signing in: closed by default, passwords, session cookies with CSRF, API tokens, roles, lock-out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from api.deps import PUBLIC_PATHS
from landgis.accounts.users import MAX_FAILED_LOGINS, create_user
from tests.api.conftest import TwoCounties
from tests.conftest import ClientFactory

PASSWORD = "correct horse battery"


@pytest.fixture
def anonymous(client: TestClient) -> Iterator[TestClient]:
    """The same app with no credentials."""
    saved = client.headers.pop("Authorization")
    yield client
    client.headers["Authorization"] = saved


@pytest.fixture
def officer(db: Connection, two_counties: TwoCounties) -> str:
    create_user(db, "li.si", "officer", [two_counties.a.code], password=PASSWORD, display_name="李四")
    return "li.si"


def _concrete(path: str) -> str:
    return path.replace("{collection_id}", "parcels").replace("{feature_id}", "1").replace("{", "").replace("}", "")


def test_every_route_but_the_public_ones_needs_a_user(anonymous: TestClient) -> None:
    checked = 0
    for route in iter_route_contexts(anonymous.app.routes):  # type: ignore[attr-defined]
        path = route.path
        if path is None or path.startswith(("/static", "/vendor")) or path in PUBLIC_PATHS:
            continue
        for method in route.methods or ():
            url = _concrete(path).replace("parcel_id", "1").replace("enterprise_id", "1")
            url = url.replace("occupancy_id", "1").replace("user_id", "1").replace("token_id", "1")
            response = anonymous.request(method, url, headers={"accept": "application/json"})
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.headers["www-authenticate"].startswith("Bearer")
            checked += 1
    assert checked > 25
    assert anonymous.get("/health").status_code == 200


def test_a_browser_without_a_session_is_sent_to_the_login_page(anonymous: TestClient) -> None:
    response = anonymous.get("/ogc/collections", headers={"accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fogc%2Fcollections"
    assert "登录" in anonymous.get("/login").text


def test_password_login_sets_a_session_and_writes_need_the_csrf_token(
    anonymous: TestClient, officer: str, two_counties: TwoCounties, db: Connection
) -> None:
    assert anonymous.post("/auth/login", json={"username": officer, "password": "wrong password"}).status_code == 401
    response = anonymous.post("/auth/login", json={"username": "LI.SI", "password": PASSWORD})
    assert response.status_code == 200
    me = response.json()
    assert me["role"] == "officer" and me["region_scope"] == ["330601"] and me["via"] == "session"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    parcel = f"/parcels/{two_counties.a.parcel_id}"
    assert anonymous.get(parcel).status_code == 200
    refused = anonymous.patch(parcel, json={"far": 1.5})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    cross = anonymous.patch(
        parcel, json={"far": 1.5}, headers={"X-CSRF-Token": me["csrf_token"], "Origin": "http://evil.example"}
    )
    assert cross.status_code == 403
    done = anonymous.patch(parcel, json={"far": 1.5}, headers={"X-CSRF-Token": me["csrf_token"]})
    assert done.status_code == 200
    actor = db.execute(
        text("SELECT actor FROM change_log WHERE table_name = 'parcel' AND row_id = :id ORDER BY id DESC LIMIT 1"),
        {"id": two_counties.a.parcel_id},
    ).scalar_one()
    assert actor == "li.si"
    assert anonymous.post("/auth/logout", headers={"X-CSRF-Token": me["csrf_token"]}).status_code == 204
    assert anonymous.get(parcel, headers={"accept": "application/json"}).status_code == 401


def test_html_login_form_and_logout(anonymous: TestClient, officer: str) -> None:
    response = anonymous.post(
        "/login", data={"username": officer, "password": PASSWORD, "next": "//evil.example/x"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    page = anonymous.get("/ogc?f=html")
    assert "li.si" in page.text and 'name="csrf_token"' in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    assert anonymous.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False).status_code == 403
    out = anonymous.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert anonymous.get("/ogc", headers={"accept": "application/json"}).status_code == 401


def test_failed_logins_are_recorded_and_lock_the_account(anonymous: TestClient, officer: str, db: Connection) -> None:
    for _ in range(MAX_FAILED_LOGINS):
        assert anonymous.post("/auth/login", json={"username": officer, "password": "nope nope"}).status_code == 401
    # locked now: even the right password is refused, with the same message
    locked = anonymous.post("/auth/login", json={"username": officer, "password": PASSWORD})
    assert locked.status_code == 401
    failures = db.execute(text("SELECT count(*) FROM audit_event WHERE action = 'login_failed'")).scalar_one()
    assert failures == MAX_FAILED_LOGINS + 1
    stored = db.execute(text("SELECT password_hash FROM app_user WHERE username = :u"), {"u": officer}).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_tokens_are_stored_hashed_and_can_be_revoked(
    client_for: ClientFactory, two_counties: TwoCounties, db: Connection
) -> None:
    viewer = client_for("viewer", [two_counties.a.code])
    issued = viewer.post("/auth/tokens", json={"name": "nightly script", "days": 30})
    assert issued.status_code == 201
    secret = issued.json()["token"]
    stored = db.execute(text("SELECT token_hash FROM api_token WHERE id = :id"), {"id": issued.json()["id"]})
    assert secret not in stored.scalar_one()
    assert "token" not in viewer.get("/auth/tokens").json()[0]
    viewer.headers["Authorization"] = f"Bearer {secret}"
    assert viewer.get("/auth/me").json()["via"] == "token"
    basic = viewer.get("/auth/me", headers={"Authorization": "Basic " + _b64(f"anyone:{secret}")})
    assert basic.status_code == 200
    assert viewer.delete(f"/auth/tokens/{issued.json()['id']}").status_code == 204
    assert viewer.get("/auth/me").status_code == 401


def _b64(value: str) -> str:
    import base64

    return base64.b64encode(value.encode()).decode()


def test_roles_decide_what_a_user_may_do(client_for: ClientFactory, two_counties: TwoCounties) -> None:
    parcel = f"/parcels/{two_counties.a.parcel_id}"
    viewer = client_for("viewer", [two_counties.a.code])
    planner = client_for("planner", [two_counties.a.code])
    officer = client_for("officer", [two_counties.a.code])
    assert viewer.get(parcel).status_code == 200
    assert viewer.patch(parcel, json={"far": 1.0}).status_code == 403
    assert planner.patch(parcel, json={"far": 1.0}).status_code == 403
    assert officer.patch(parcel, json={"far": 1.0}).status_code == 200
    assert officer.get("/users").status_code == 403
    assert officer.get("/audit/events").status_code == 403


def test_planning_needs_a_planner(client_for: ClientFactory, two_counties: TwoCounties, db: Connection) -> None:
    """Candidate selection, plans and evaluation runs are the planners' (and admins') work: viewers
    and officers may read plans and runs but neither make nor delete them."""
    area = {"region_code": two_counties.a.code}
    selection = {"rules": {"rule": "far_below", "value": 1.5}, "area": area, "year": 2023}
    run = {"policy": "huangyan-2022", "year": 2023}
    planner = client_for("planner", [two_counties.a.code])
    plan = planner.post("/plans", json={"name": "甲县方案", "request": selection})
    assert plan.status_code == 201, plan.text
    evaluation = planner.post("/evaluations", json=run)
    assert evaluation.status_code == 201, evaluation.text
    plan_id, run_id = plan.json()["id"], evaluation.json()["id"]
    for role in ("viewer", "officer"):
        other = client_for(role, [two_counties.a.code])
        assert other.post("/candidates", json=selection).status_code == 403
        assert other.post("/candidates/export", json=selection).status_code == 403
        assert other.post("/plans", json={"name": f"{role}方案", "request": selection}).status_code == 403
        assert other.post("/evaluations", json={**run, "force": True}).status_code == 403
        assert other.delete(f"/plans/{plan_id}").status_code == 403
        assert other.delete(f"/evaluations/{run_id}").status_code == 403
        assert other.get(f"/plans/{plan_id}").status_code == 200
        assert other.get(f"/evaluations/{run_id}").status_code == 200
    assert db.execute(text("SELECT count(*) FROM plan")).scalar_one() == 1
    assert planner.post("/candidates", json=selection).status_code == 200
    assert planner.delete(f"/plans/{plan_id}").status_code == 204
    assert client_for("admin", [two_counties.a.code]).delete(f"/evaluations/{run_id}").status_code == 204


def test_admin_manages_users_and_changes_are_audited(
    client: TestClient, two_counties: TwoCounties, db: Connection
) -> None:
    created = client.post(
        "/users",
        json={"username": "wang.wu", "role": "viewer", "region_scope": ["330602"], "password": "a long password"},
    )
    assert created.status_code == 201
    user_id = created.json()["id"]
    changed = client.patch(f"/users/{user_id}", json={"role": "officer", "password": "another long password"})
    assert changed.status_code == 200 and changed.json()["role"] == "officer"
    log = db.execute(
        text("SELECT action, changes FROM change_log WHERE table_name = 'app_user' AND row_id = :id ORDER BY id"),
        {"id": user_id},
    ).all()
    assert [row.action for row in log] == ["insert", "update"]
    assert log[1].changes["role"] == {"old": "viewer", "new": "officer"}
    assert log[1].changes["password_hash"] == {"old": "***", "new": "***"}
    assert "argon2" not in str(log)
    bad_scope = client.post("/users", json={"username": "x1", "role": "viewer", "region_scope": ["999999"]})
    assert bad_scope.status_code == 400
