"""The region-scope matrix: for every route of the service, a user limited to county A cannot read
or change county B's parcels, enterprises or their history.

``MATRIX`` must name every route of the app (method and path, as ``app.routes`` has them): a probe
that tries to reach county B through it, or an exemption saying why the route cannot return
parcel data. ``test_every_route_is_in_the_matrix`` fails for a route added without an entry, so a
new endpoint cannot skip this check. Each probe also reaches county A the same way (a control),
so a probe that could never see anything does not pass by accident.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import load_workbook
from sqlalchemy import Connection, text

from landgis.lifecycle.events import TransitionRequest, apply_transition
from landgis.lifecycle.workflow import read_workflow
from landgis.settings import Settings
from tests.api.conftest import County, TwoCounties
from tests.conftest import ClientFactory


@dataclass
class Ctx:
    officer: TestClient  # officer limited to county A
    admin: TestClient  # administrator limited to county A
    planner: TestClient  # planner limited to county A
    counties: TwoCounties
    db: Connection
    home: Path  # the service's LANDGIS_HOME (rasters)

    @property
    def a(self) -> County:
        return self.counties.a

    @property
    def b(self) -> County:
        return self.counties.b


Probe = Callable[[Ctx], None]


@dataclass(frozen=True)
class Exempt:
    reason: str


def _markers(county: County) -> list[str]:
    return [county.zddm, county.enterprise_name, county.uscc]


def shows_a_not_b(ctx: Ctx, response: Response) -> None:
    assert response.status_code == 200, response.text
    body = response.text
    assert any(m in body for m in _markers(ctx.a)), "control: county A's data should be visible"
    for marker in _markers(ctx.b):
        assert marker not in body, f"county B leaked: {marker}"


def hidden(ctx: Ctx, path_b: str, path_a: str | None = None, client: TestClient | None = None) -> None:
    http = client or ctx.officer
    if path_a is not None:
        assert http.get(path_a).status_code == 200, "control: county A's record should be readable"
    response = http.get(path_b)
    assert response.status_code == 404, response.text
    for marker in _markers(ctx.b):
        # a 404 may repeat what the caller sent (a land code in the path), nothing more
        if marker not in path_b:
            assert marker not in response.text


def far_of(ctx: Ctx, parcel_id: int) -> float:
    return float(ctx.db.execute(text("SELECT far FROM parcel WHERE id = :id"), {"id": parcel_id}).scalar_one())


def patch_parcel(ctx: Ctx) -> None:
    assert ctx.officer.patch(f"/parcels/{ctx.a.parcel_id}", json={"far": 1.1}).status_code == 200
    assert ctx.officer.patch(f"/parcels/{ctx.b.parcel_id}", json={"far": 1.9}).status_code == 404
    assert far_of(ctx, ctx.b.parcel_id) == 0.8


def _status(ctx: Ctx, parcel_id: int) -> str:
    row = ctx.db.execute(text("SELECT renewal_status FROM parcel WHERE id = :id"), {"id": parcel_id})
    return str(row.scalar_one())


def _count(ctx: Ctx, sql: str, **params: Any) -> int:
    return int(ctx.db.execute(text(sql), params).scalar_one())


IDENTIFY = {"documents": ["县经信〔2024〕8号"]}


def change_status(ctx: Ctx) -> None:
    body = {"status": "identified", "reason": "亩均税收低于标准", **IDENTIFY}
    assert ctx.officer.post(f"/parcels/{ctx.a.parcel_id}/status", json=body).status_code == 200
    assert ctx.officer.post(f"/parcels/{ctx.b.parcel_id}/status", json=body).status_code == 404
    assert _status(ctx, ctx.b.parcel_id) == "normal"
    assert _count(ctx, "SELECT count(*) FROM renewal_event WHERE parcel_id = :p", p=ctx.b.parcel_id) == 0


def _occupancies(ctx: Ctx, parcel_id: int) -> int:
    return int(
        ctx.db.execute(text("SELECT count(*) FROM occupancy WHERE parcel_id = :p"), {"p": parcel_id}).scalar_one()
    )


def add_occupancy(ctx: Ctx) -> None:
    before = _occupancies(ctx, ctx.b.parcel_id)
    own = {"enterprise_id": ctx.a.enterprise_id, "land_area_mu": 1, "valid_from": "2020-01-01"}
    assert ctx.officer.post(f"/parcels/{ctx.a.parcel_id}/occupancy", json=own).status_code == 201
    assert ctx.officer.post(f"/parcels/{ctx.b.parcel_id}/occupancy", json=own).status_code == 404
    # nor may county B's enterprise be put on county A's land: it is invisible
    other = {"enterprise_id": ctx.b.enterprise_id, "land_area_mu": 1}
    assert ctx.officer.post(f"/parcels/{ctx.a.parcel_id}/occupancy", json=other).status_code == 400
    assert _occupancies(ctx, ctx.b.parcel_id) == before


def patch_occupancy(ctx: Ctx) -> None:
    ok = ctx.officer.patch(f"/parcels/{ctx.a.parcel_id}/occupancy/{ctx.a.occupancy_id}", json={"land_area_mu": 9})
    assert ok.status_code == 200
    path = f"/parcels/{ctx.b.parcel_id}/occupancy/{ctx.b.occupancy_id}"
    assert ctx.officer.patch(path, json={"land_area_mu": 1}).status_code == 404
    # B's occupancy through A's parcel id: still not found
    path = f"/parcels/{ctx.a.parcel_id}/occupancy/{ctx.b.occupancy_id}"
    assert ctx.officer.patch(path, json={"land_area_mu": 1}).status_code == 404
    area = ctx.db.execute(text("SELECT land_area_mu FROM occupancy WHERE id = :id"), {"id": ctx.b.occupancy_id})
    assert area.scalar_one() == 10


def delete_occupancy(ctx: Ctx) -> None:
    assert ctx.officer.delete(f"/parcels/{ctx.b.parcel_id}/occupancy/{ctx.b.occupancy_id}").status_code == 404
    assert ctx.officer.delete(f"/parcels/{ctx.a.parcel_id}/occupancy/{ctx.b.occupancy_id}").status_code == 404
    assert _occupancies(ctx, ctx.b.parcel_id) == 1
    assert ctx.officer.delete(f"/parcels/{ctx.a.parcel_id}/occupancy/{ctx.a.occupancy_id}").status_code == 204


def ogc_items(ctx: Ctx, collection: str) -> None:
    response = ctx.officer.get(f"/ogc/collections/{collection}/items", params={"limit": 1000})
    shows_a_not_b(ctx, response)
    everywhere = "120,29,121,31"
    shows_a_not_b(ctx, ctx.officer.get(f"/ogc/collections/{collection}/items", params={"bbox": everywhere}))
    # a filter naming county B's code finds nothing
    code_filter = f"region_code = '{ctx.b.code}'"
    found = ctx.officer.get(f"/ogc/collections/{collection}/items", params={"filter": code_filter}).json()
    assert found["features"] == [] and found["numberMatched"] == 0


def ogc_all_items(ctx: Ctx) -> None:
    ogc_items(ctx, "parcels")
    ogc_items(ctx, "enterprises")


def ogc_item(ctx: Ctx) -> None:
    hidden(
        ctx, f"/ogc/collections/parcels/items/{ctx.b.parcel_id}", f"/ogc/collections/parcels/items/{ctx.a.parcel_id}"
    )
    hidden(
        ctx,
        f"/ogc/collections/enterprises/items/{ctx.b.enterprise_id}",
        f"/ogc/collections/enterprises/items/{ctx.a.enterprise_id}",
    )


def parcel_history(ctx: Ctx) -> None:
    ctx.admin.patch(f"/parcels/{ctx.a.parcel_id}", json={"far": 1.2})
    hidden(ctx, f"/parcels/{ctx.b.parcel_id}/history", f"/parcels/{ctx.a.parcel_id}/history")


def audit_events(ctx: Ctx) -> None:
    # an event about county B's parcel, written by a batch job (unrestricted)
    ctx.db.execute(
        text("SELECT landgis_audit('status_change', 'parcel', :id, :r, CAST(:d AS jsonb))"),
        {"id": ctx.b.parcel_id, "r": ctx.b.code, "d": f'{{"note": "{ctx.b.zddm}"}}'},
    )
    ctx.db.execute(
        text("SELECT landgis_audit('status_change', 'parcel', :id, :r, CAST(:d AS jsonb))"),
        {"id": ctx.a.parcel_id, "r": ctx.a.code, "d": f'{{"note": "{ctx.a.zddm}"}}'},
    )
    shows_a_not_b(ctx, ctx.admin.get("/audit/events", params={"limit": 1000}))


def users_list(ctx: Ctx) -> None:
    response = ctx.admin.get("/users")
    assert response.status_code == 200
    names = {u["username"] for u in response.json()}
    assert "test-officer-330601" in names
    assert not any(n.endswith("330602") or n.endswith("-all") for n in names)


def parcel_search_body(ctx: Ctx) -> None:
    polygon = {
        "type": "Polygon",
        "coordinates": [[[120.0, 29.0], [121.0, 29.0], [121.0, 31.0], [120.0, 31.0], [120.0, 29.0]]],
    }
    shows_a_not_b(ctx, ctx.officer.post("/parcels/search", json={"polygon": polygon, "limit": 500}))
    shows_a_not_b(ctx, ctx.officer.post("/parcels/search", json={"enterprise": "机械", "limit": 500}))


def parcel_list(ctx: Ctx) -> None:
    shows_a_not_b(ctx, ctx.officer.get("/parcels", params={"limit": 500}))
    assert ctx.officer.get("/parcels", params={"zddm": ctx.b.zddm}).json()["total"] == 0
    assert ctx.officer.get("/parcels", params={"enterprise": ctx.b.uscc}).json()["total"] == 0
    assert ctx.officer.get("/parcels", params={"region": ctx.b.code}).json()["total"] == 0


def enterprise_list(ctx: Ctx) -> None:
    shows_a_not_b(ctx, ctx.officer.get("/enterprises", params={"limit": 500}))
    assert ctx.officer.get("/enterprises", params={"uscc": ctx.b.uscc}).json()["total"] == 0


def token_revoke(ctx: Ctx) -> None:
    """Tokens are per user: A's officer cannot revoke the token of a county-B user."""
    from landgis.accounts.tokens import create_token
    from landgis.accounts.users import create_user

    other = create_user(ctx.db, "b-officer", "officer", [ctx.b.code])
    token, _ = create_token(ctx.db, other.id, "script")
    assert ctx.officer.delete(f"/auth/tokens/{token.id}").status_code == 404
    assert ctx.admin.delete(f"/auth/tokens/{token.id}").status_code == 403
    revoked = ctx.db.execute(text("SELECT revoked_at FROM api_token WHERE id = :id"), {"id": token.id}).scalar_one()
    assert revoked is None


def user_get(ctx: Ctx) -> None:
    from landgis.accounts.users import create_user

    other = create_user(ctx.db, "b-viewer", "viewer", [ctx.b.code])
    assert ctx.admin.get(f"/users/{other.id}").status_code == 404
    assert ctx.admin.patch(f"/users/{other.id}", json={"role": "admin"}).status_code == 404
    created = ctx.admin.post("/users", json={"username": "sneaky", "role": "viewer", "region_scope": [ctx.b.code]})
    assert created.status_code == 403
    role = ctx.db.execute(text("SELECT role FROM app_user WHERE id = :id"), {"id": other.id}).scalar_one()
    assert role == "viewer"


# ---- the renewal life cycle (issue 7) -----------------------------------------------------------

WORKFLOW = read_workflow()


def _step(ctx: Ctx, county: County, to: str = "identified", **extra: Any) -> int:
    """A step recorded by a batch job (unrestricted), as the command line would."""
    request = TransitionRequest(to_status=to, event_date=dt.date(2024, 5, 6), user="batch", **(IDENTIFY | extra))
    return int(apply_transition(ctx.db, WORKFLOW, county.parcel_id, request)["id"])


def _both(ctx: Ctx, sql: str, **params: Any) -> None:
    ctx.db.execute(text(sql), {"a": ctx.a.parcel_id, "b": ctx.b.parcel_id, **params})


def _idle_land(ctx: Ctx) -> None:
    """Both parcels: agreed to start on 2020-01-01, never started, nothing built (idle since 2021)."""
    _both(
        ctx,
        "UPDATE parcel SET far = NULL, agreed_start_date = '2020-01-01', land_price_wan = 100 WHERE id IN (:a, :b)",
    )


def _in_a_zone(ctx: Ctx) -> None:
    """County B's parcel recorded (wrongly) in county A's zone: a zone filter alone would show it."""
    ctx.db.execute(text("UPDATE parcel SET zone_id = :z WHERE id = :b"), {"z": ctx.a.zone_id, "b": ctx.b.parcel_id})


def transitions_list(ctx: Ctx) -> None:
    _step(ctx, ctx.b)
    hidden(ctx, f"/parcels/{ctx.b.parcel_id}/transitions", f"/parcels/{ctx.a.parcel_id}/transitions")


def transition_post(ctx: Ctx) -> None:
    step = {"to_status": "identified", "event_date": "2024-05-06", **IDENTIFY}
    assert ctx.officer.post(f"/parcels/{ctx.a.parcel_id}/transitions", json=step).status_code == 201
    assert ctx.officer.post(f"/parcels/{ctx.b.parcel_id}/transitions", json=step).status_code == 404
    assert _status(ctx, ctx.b.parcel_id) == "normal"
    assert _count(ctx, "SELECT count(*) FROM renewal_event WHERE parcel_id = :p", p=ctx.b.parcel_id) == 0


def transition_undo(ctx: Ctx) -> None:
    _step(ctx, ctx.a)
    b_event = _step(ctx, ctx.b)
    undo = {"reason": "撤销"}
    assert ctx.officer.post(f"/parcels/{ctx.a.parcel_id}/transitions/undo", json=undo).status_code == 200
    assert ctx.officer.post(f"/parcels/{ctx.b.parcel_id}/transitions/undo", json=undo).status_code == 404
    assert _status(ctx, ctx.b.parcel_id) == "identified"
    assert _count(ctx, "SELECT count(*) FROM renewal_event WHERE id = :e AND revoked_at IS NULL", e=b_event) == 1


def colour_list(ctx: Ctx) -> None:
    _in_a_zone(ctx)
    shows_a_not_b(ctx, ctx.officer.get("/colours"))
    shows_a_not_b(ctx, ctx.officer.get("/colours", params={"zone_id": ctx.a.zone_id}))
    assert ctx.officer.get("/colours", params={"region": ctx.b.code}).json() == []


def colour_summary(ctx: Ctx) -> None:
    def parcels(**params: Any) -> int:
        body = ctx.officer.get("/colours/summary", params=params).json()
        return sum(c["parcels"] for c in body["colours"])

    _in_a_zone(ctx)
    assert parcels() == 1 and parcels(zone_id=ctx.a.zone_id) == 1
    assert parcels(region=ctx.b.code) == 0


def _colour_as_of(ctx: Ctx, county: County) -> dt.date:
    row = ctx.db.execute(text("SELECT as_of FROM parcel_colour WHERE parcel_id = :p"), {"p": county.parcel_id})
    return dt.date.fromisoformat(str(row.scalar_one()))


def colour_refresh(ctx: Ctx) -> None:
    before = _colour_as_of(ctx, ctx.b)
    response = ctx.admin.post("/colours/refresh", params={"as_of": "2030-01-01"})
    assert response.status_code == 200 and response.json()["changed"] == 1
    assert _colour_as_of(ctx, ctx.a) == dt.date(2030, 1, 1)
    assert _colour_as_of(ctx, ctx.b) == before


def colour_rules_replace(ctx: Ctx) -> None:
    """The rules colour every region's land: an administrator of county A may not replace them."""
    rules = [
        {
            "code": "identified",
            "kind": "renewal_status",
            "colour": "red",
            "label": "认定",
            "params": {"states": ["normal"]},
        }
    ]
    before = ctx.db.execute(text("SELECT count(*), max(updated_at) FROM colour_rule")).one()
    assert ctx.admin.put("/colour-rules", json={"rules": rules}).status_code == 403
    assert ctx.officer.put("/colour-rules", json={"rules": rules}).status_code == 403
    assert ctx.db.execute(text("SELECT count(*), max(updated_at) FROM colour_rule")).one() == before
    colour = ctx.db.execute(text("SELECT colour FROM parcel_colour WHERE parcel_id = :p"), {"p": ctx.b.parcel_id})
    assert colour.scalar_one() == "green"


def land_code_qr(ctx: Ctx) -> None:
    for fmt in ("png", "svg"):
        hidden(ctx, f"/land-codes/{ctx.b.zddm}/qr.{fmt}", f"/land-codes/{ctx.a.zddm}/qr.{fmt}")


def parcel_qr(ctx: Ctx) -> None:
    for fmt in ("png", "svg"):
        hidden(ctx, f"/parcels/{ctx.b.parcel_id}/qr.{fmt}", f"/parcels/{ctx.a.parcel_id}/qr.{fmt}")


def zone_qr_sheet(ctx: Ctx) -> None:
    _in_a_zone(ctx)
    shows_a_not_b(ctx, ctx.officer.get(f"/zones/{ctx.a.zone_id}/qr-sheet"))
    hidden(ctx, f"/zones/{ctx.b.zone_id}/qr-sheet")


def idle_list(ctx: Ctx) -> None:
    _idle_land(ctx)
    shows_a_not_b(ctx, ctx.officer.get("/idle-land", params={"as_of": "2024-01-01"}))
    assert ctx.officer.get("/idle-land", params={"as_of": "2024-01-01", "region": ctx.b.code}).json() == []


def _batches(ctx: Ctx) -> None:
    for county in (ctx.a, ctx.b):
        ctx.db.execute(
            text(
                "INSERT INTO land_approval_batch (batch_no, approved_on, region_code, approved_area_mu)"
                " VALUES (:no, '2020-01-01', :r, 30)"
            ),
            {"no": f"批次-{county.zddm}", "r": county.code},
        )


def wuwei_list(ctx: Ctx) -> None:
    _idle_land(ctx)
    _batches(ctx)
    body = ctx.officer.get("/wuwei", params={"as_of": "2024-01-01"})
    shows_a_not_b(ctx, body)
    categories = {c["category"]: c for c in body.json()["categories"]}
    assert categories["supplied_not_used"]["count"] == 1 and categories["approved_not_supplied"]["count"] == 1


def deadline_list(ctx: Ctx) -> None:
    _idle_land(ctx)
    shows_a_not_b(ctx, ctx.officer.get("/deadlines", params={"as_of": "2019-12-01", "within": 90}))


def batch_list(ctx: Ctx) -> None:
    _batches(ctx)
    shows_a_not_b(ctx, ctx.officer.get("/land-approval-batches", params={"as_of": "2024-01-01"}))


def batch_create(ctx: Ctx) -> None:
    def batch(no: str, region: str, supplies: list[int] = []) -> int:  # noqa: B006 - never changed
        body = {
            "batch_no": no,
            "approved_on": "2021-03-01",
            "region_code": region,
            "approved_area_mu": 20,
            "supplies": [{"parcel_id": p, "supplied_area_mu": 5} for p in supplies],
        }
        return ctx.officer.post("/land-approval-batches", json=body).status_code

    assert batch("A-1", ctx.a.code, [ctx.a.parcel_id]) == 201
    assert batch("B-1", ctx.b.code) == 404
    assert batch("A-2", ctx.a.code, [ctx.b.parcel_id]) == 404  # county B's parcel supplied from A's batch
    assert _count(ctx, "SELECT count(*) FROM land_approval_batch WHERE batch_no <> 'A-1'") == 0
    assert _count(ctx, "SELECT count(*) FROM land_approval_supply WHERE parcel_id = :p", p=ctx.b.parcel_id) == 0


def progress_create(ctx: Ctx) -> None:
    report = {"report_date": "2024-01-05", "developed_area_m2": 100}
    assert ctx.officer.post(f"/parcels/{ctx.a.parcel_id}/progress", json=report).status_code == 201
    assert ctx.officer.post(f"/parcels/{ctx.b.parcel_id}/progress", json=report).status_code == 404
    assert _count(ctx, "SELECT count(*) FROM land_progress WHERE parcel_id = :p", p=ctx.b.parcel_id) == 0


def _agreements(ctx: Ctx) -> dict[str, int]:
    """A 标准地 agreement on each county's parcel (committed 亩均税收 30 万元/亩), due 2024-06-30."""
    ids = {}
    for key, county in (("a", ctx.a), ("b", ctx.b)):
        ids[key] = int(
            ctx.db.execute(
                text(
                    "INSERT INTO standard_agreement (parcel_id, enterprise_id, agreement_no, review_due_date)"
                    " VALUES (:p, :e, :no, '2024-06-30') RETURNING id"
                ),
                {"p": county.parcel_id, "e": county.enterprise_id, "no": f"BZD-{county.zddm}"},
            ).scalar_one()
        )
        ctx.db.execute(
            text(
                "INSERT INTO standard_commitment (agreement_id, indicator, comparator, value) VALUES (:a, 'mu_tax', '>=', 30)"
            ),
            {"a": ids[key]},
        )
    return ids


def agreement_list(ctx: Ctx) -> None:
    _agreements(ctx)
    shows_a_not_b(ctx, ctx.officer.get("/standard/agreements"))
    assert ctx.officer.get("/standard/agreements", params={"region": ctx.b.code}).json() == []


def agreement_create(ctx: Ctx) -> None:
    def create(parcel_id: int, uscc: str) -> int:
        body = {"parcel_id": parcel_id, "enterprise_uscc": uscc, "commitments": {"mu_tax": 30}}
        return ctx.officer.post("/standard/agreements", json=body).status_code

    assert create(ctx.a.parcel_id, ctx.b.uscc) == 404  # county B's enterprise is not visible from A
    assert create(ctx.a.parcel_id, ctx.a.uscc) == 201
    assert create(ctx.b.parcel_id, ctx.a.uscc) == 404
    assert _count(ctx, "SELECT count(*) FROM standard_agreement WHERE parcel_id = :p", p=ctx.b.parcel_id) == 0
    assert _count(ctx, "SELECT count(*) FROM standard_agreement WHERE enterprise_id = :e", e=ctx.b.enterprise_id) == 0


def agreement_get(ctx: Ctx) -> None:
    ids = _agreements(ctx)
    hidden(ctx, f"/standard/agreements/{ids['b']}", f"/standard/agreements/{ids['a']}")


def agreement_check(ctx: Ctx) -> None:
    ids = _agreements(ctx)
    hidden(ctx, f"/standard/agreements/{ids['b']}/check", f"/standard/agreements/{ids['a']}/check")


def parcel_agreement(ctx: Ctx) -> None:
    _agreements(ctx)
    hidden(ctx, f"/parcels/{ctx.b.parcel_id}/standard", f"/parcels/{ctx.a.parcel_id}/standard")


def review_create(ctx: Ctx) -> None:
    ids = _agreements(ctx)
    review = {"reviewed_on": "2024-07-01", "figures_year": 2023, "action": "rectify"}
    assert ctx.officer.post(f"/standard/agreements/{ids['a']}/reviews", json=review).status_code == 201
    assert ctx.officer.post(f"/standard/agreements/{ids['b']}/reviews", json=review).status_code == 404
    assert _count(ctx, "SELECT count(*) FROM standard_review WHERE agreement_id = :a", a=ids["b"]) == 0


def _freed(ctx: Ctx) -> None:
    """Both parcels freed (已腾出) by a batch job: land available for projects."""
    _both(ctx, "UPDATE parcel SET renewal_status = 'freed' WHERE id IN (:a, :b)")


MATCH = {"area_min_mu": 10, "area_max_mu": 20, "as_of": "2024-07-01"}


def matching(ctx: Ctx) -> None:
    _freed(ctx)
    shows_a_not_b(ctx, ctx.officer.post("/matching", json=MATCH))
    assert ctx.officer.post("/matching", json={**MATCH, "region": ctx.b.code}).json()["candidates"] == []


def _projects(ctx: Ctx) -> dict[str, int]:
    ids = {}
    for key, county in (("a", ctx.a), ("b", ctx.b)):
        ids[key] = int(
            ctx.db.execute(
                text(
                    "INSERT INTO project (code, name, region_code, area_min_mu, area_max_mu)"
                    " VALUES (:code, :name, :r, 10, 20) RETURNING id"
                ),
                {"code": f"XM-{county.code}", "name": f"{county.enterprise_name}扩产项目", "r": county.code},
            ).scalar_one()
        )
    return ids


def project_list(ctx: Ctx) -> None:
    _projects(ctx)
    shows_a_not_b(ctx, ctx.officer.get("/projects"))


def project_create(ctx: Ctx) -> None:
    body = {**MATCH, "code": "XM-new", "name": "新项目"}
    assert ctx.officer.post("/projects", json={**body, "region_code": ctx.a.code}).status_code == 201
    assert ctx.officer.post("/projects", json={**body, "code": "XM-b", "region_code": ctx.b.code}).status_code == 404
    assert _count(ctx, "SELECT count(*) FROM project WHERE region_code = :r", r=ctx.b.code) == 0


def project_get(ctx: Ctx) -> None:
    ids = _projects(ctx)
    hidden(ctx, f"/projects/{ids['b']}", f"/projects/{ids['a']}")


def project_matches(ctx: Ctx) -> None:
    ids = _projects(ctx)
    _freed(ctx)
    shows_a_not_b(ctx, ctx.officer.get(f"/projects/{ids['a']}/matches", params={"as_of": "2024-07-01"}))
    hidden(ctx, f"/projects/{ids['b']}/matches")


def project_link(ctx: Ctx) -> None:
    ids = _projects(ctx)

    def link(project: int, parcel: int) -> int:
        return ctx.officer.post(f"/projects/{project}/parcels", json={"parcel_ids": [parcel]}).status_code

    assert link(ids["a"], ctx.b.parcel_id) == 404
    assert link(ids["b"], ctx.a.parcel_id) == 404
    assert link(ids["a"], ctx.a.parcel_id) == 200
    assert _count(ctx, "SELECT count(*) FROM project_parcel WHERE parcel_id = :p", p=ctx.b.parcel_id) == 0
    assert _count(ctx, "SELECT count(*) FROM project_parcel WHERE project_id = :j", j=ids["b"]) == 0


def _workbook_text(content: bytes) -> str:
    book = load_workbook(io.BytesIO(content))
    return "\n".join(
        str(value) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for value in row if value
    )


def progress_report(ctx: Ctx) -> None:
    # both parcels identified (a step each), B's recorded in A's zone
    _step(ctx, ctx.a)
    _step(ctx, ctx.b)
    _in_a_zone(ctx)
    path = "/reports/progress"
    for params in ({"zone_id": ctx.a.zone_id}, {"region": ctx.a.code}):
        query = {"year": 2024, **params}
        shows_a_not_b(ctx, ctx.officer.get(path, params=query))
        shows_a_not_b(ctx, ctx.officer.get(path, params={**query, "format": "json"}))
        xlsx = ctx.officer.get(path, params={**query, "format": "xlsx"})
        assert xlsx.status_code == 200
        cells = _workbook_text(xlsx.content)
        assert ctx.a.zddm in cells and ctx.b.zddm not in cells
    for params in ({"zone_id": ctx.b.zone_id}, {"region": ctx.b.code}):
        for fmt in ("html", "xlsx", "json"):
            assert ctx.officer.get(path, params={"year": 2024, "format": fmt, **params}).status_code == 404


# ---- evaluations, candidates, plans, totals and exports (issue 4) -------------------------------

LOW_FAR: dict[str, Any] = {"rules": {"rule": "far_below", "value": 1.5}, "year": 2023}


def _cover(*counties: County) -> dict[str, Any]:
    """A GeoJSON polygon (EPSG:4490) around the parcels of ``counties``, with a margin."""
    west = min(c.bbox[0] for c in counties) - 0.01
    south = min(c.bbox[1] for c in counties) - 0.01
    east = max(c.bbox[2] for c in counties) + 0.01
    north = max(c.bbox[3] for c in counties) + 0.01
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def _candidates(ctx: Ctx, area: dict[str, Any], path: str = "/candidates", **params: Any) -> Response:
    return ctx.planner.post(path, params=params, json={**LOW_FAR, "area": area})


def _no_b(ctx: Ctx, body: str) -> None:
    for marker in _markers(ctx.b):
        assert marker not in body, f"county B leaked: {marker}"


def candidates_select(ctx: Ctx) -> None:
    shows_a_not_b(ctx, _candidates(ctx, {"region_code": ctx.a.code}))
    shows_a_not_b(ctx, _candidates(ctx, {"polygon": _cover(ctx.a, ctx.b)}))
    assert _candidates(ctx, {"region_code": ctx.b.code}).status_code in (403, 404)
    assert _candidates(ctx, {"zone_id": ctx.b.zone_id}).status_code == 404
    only_b = _candidates(ctx, {"polygon": _cover(ctx.b)})
    assert only_b.status_code == 200, only_b.text
    assert only_b.json()["totals"]["count"] == 0
    _no_b(ctx, only_b.text)


def candidates_export(ctx: Ctx) -> None:
    xlsx = _candidates(ctx, {"polygon": _cover(ctx.a, ctx.b)}, "/candidates/export", format="xlsx")
    assert xlsx.status_code == 200, xlsx.text
    cells = _workbook_text(xlsx.content)
    assert ctx.a.zddm in cells and ctx.b.zddm not in cells
    geojson = _candidates(ctx, {"polygon": _cover(ctx.a, ctx.b)}, "/candidates/export", format="geojson")
    assert geojson.status_code == 200
    _no_b(ctx, geojson.content.decode("utf-8", "replace"))
    for area in ({"region_code": ctx.b.code}, {"zone_id": ctx.b.zone_id}):
        assert _candidates(ctx, area, "/candidates/export", format="xlsx").status_code in (403, 404)


def _plans(ctx: Ctx) -> dict[str, int]:
    """A plan of each county (its low-FAR parcel, a block of its own), saved by a batch job
    (unrestricted)."""
    from landgis.candidates.blocks import BLOCKS, CLUSTERS
    from landgis.candidates.selection import CANDIDATES, parse_request
    from landgis.plans import save_plan

    ids = {}
    for key, county in (("a", ctx.a), ("b", ctx.b)):
        request = parse_request({**LOW_FAR, "area": {"region_code": county.code}, "blocks": {"distance_m": 0}})
        ids[key] = int(save_plan(ctx.db, f"方案-{county.zddm}", request, actor="batch")["id"])
    # The batch's selection tables belong to the test's role until the (never committed)
    # transaction ends; a request, running as the service's role, could not replace them.
    ctx.db.execute(text(f"DROP TABLE IF EXISTS {CANDIDATES}, {BLOCKS}, {CLUSTERS}"))
    return ids


def _plan_exists(ctx: Ctx, plan_id: int) -> bool:
    return _count(ctx, "SELECT count(*) FROM plan WHERE id = :p", p=plan_id) == 1


def plan_list(ctx: Ctx) -> None:
    _plans(ctx)
    shows_a_not_b(ctx, ctx.officer.get("/plans"))
    shows_a_not_b(ctx, ctx.officer.get("/plans", params={"year": 2023}))


def plan_create(ctx: Ctx) -> None:
    def save(name: str, area: dict[str, Any]) -> Response:
        return ctx.planner.post("/plans", json={"name": name, "request": {**LOW_FAR, "area": area}})

    assert save("乙县方案", {"region_code": ctx.b.code}).status_code in (403, 404)
    assert save("乙县园区方案", {"zone_id": ctx.b.zone_id}).status_code == 404
    # a polygon over both counties saves county A's parcel only
    saved = save("两县方案", {"polygon": _cover(ctx.a, ctx.b)})
    assert saved.status_code == 201, saved.text
    assert saved.json()["region_code"] == ctx.a.code
    _no_b(ctx, saved.text)
    assert _count(ctx, "SELECT count(*) FROM plan_parcel WHERE parcel_id = :p", p=ctx.a.parcel_id) == 1
    assert _count(ctx, "SELECT count(*) FROM plan_parcel WHERE parcel_id = :p", p=ctx.b.parcel_id) == 0
    assert _count(ctx, "SELECT count(*) FROM plan WHERE name LIKE '乙县%'") == 0


def plan_get(ctx: Ctx) -> None:
    ids = _plans(ctx)
    hidden(ctx, f"/plans/{ids['b']}", f"/plans/{ids['a']}")


def plan_parcels(ctx: Ctx) -> None:
    ids = _plans(ctx)
    shows_a_not_b(ctx, ctx.officer.get(f"/plans/{ids['a']}/parcels"))
    hidden(ctx, f"/plans/{ids['b']}/parcels")


def plan_delete(ctx: Ctx) -> None:
    ids = _plans(ctx)
    assert ctx.planner.delete(f"/plans/{ids['b']}").status_code == 404
    assert _plan_exists(ctx, ids["b"])
    assert ctx.planner.delete(f"/plans/{ids['a']}").status_code == 204
    assert not _plan_exists(ctx, ids["a"])


def plan_compare(ctx: Ctx) -> None:
    ids = _plans(ctx)
    own = ctx.planner.post(
        "/plans", json={"name": "甲县方案二", "request": {**LOW_FAR, "area": {"region_code": ctx.a.code}}}
    )
    assert own.status_code == 201, own.text
    shows_a_not_b(ctx, ctx.officer.get("/plans/compare", params={"ids": [ids["a"], own.json()["id"]]}))
    hidden(ctx, f"/plans/compare?ids={ids['a']}&ids={ids['b']}")


def plan_export(ctx: Ctx) -> None:
    ids = _plans(ctx)
    xlsx = ctx.officer.get(f"/plans/{ids['a']}/export", params={"format": "xlsx"})
    assert xlsx.status_code == 200, xlsx.text
    cells = _workbook_text(xlsx.content)
    assert ctx.a.zddm in cells and ctx.b.zddm not in cells
    for fmt in ("xlsx", "geojson"):
        hidden(ctx, f"/plans/{ids['b']}/export?format={fmt}")


def plan_map(ctx: Ctx) -> None:
    ids = _plans(ctx)
    page = ctx.officer.get(f"/exports/plans/{ids['a']}/map.html")
    assert page.status_code == 200, page.text
    assert ctx.a.zddm in page.text
    _no_b(ctx, page.text)
    hidden(ctx, f"/exports/plans/{ids['b']}/map.html")


def zone_map(ctx: Ctx) -> None:
    _in_a_zone(ctx)
    shows_a_not_b(ctx, ctx.officer.get(f"/exports/zones/{ctx.a.zone_id}/map.html"))
    hidden(ctx, f"/exports/zones/{ctx.b.zone_id}/map.html")


def totals_read(ctx: Ctx) -> None:
    def zones(body: str) -> tuple[bool, bool]:
        return f"Z{ctx.a.code}" in body, f"Z{ctx.b.code}" in body

    _in_a_zone(ctx)
    for params in ({}, {"region_code": ctx.a.code}):
        response = ctx.officer.get("/totals", params={"year": 2023, **params})
        assert response.status_code == 200, response.text
        assert zones(response.text) == (True, False)
        assert ctx.b.code not in response.text
    assert ctx.officer.get("/totals", params={"year": 2023, "region_code": ctx.b.code}).status_code in (403, 404)


def totals_export(ctx: Ctx) -> None:
    _in_a_zone(ctx)
    xlsx = ctx.officer.get("/totals/export", params={"year": 2023})
    assert xlsx.status_code == 200, xlsx.text
    cells = _workbook_text(xlsx.content)
    assert f"{ctx.a.code}" in cells and ctx.b.code not in cells and "乙县" not in cells
    refused = ctx.officer.get("/totals/export", params={"year": 2023, "region_code": ctx.b.code})
    assert refused.status_code in (403, 404)


def _runs(ctx: Ctx) -> dict[str, int]:
    """A 2023 evaluation run of each county, made by a batch job (unrestricted)."""
    from landgis.evaluation.policy import load_policy
    from landgis.evaluation.runs import run_evaluation

    policy = load_policy("huangyan-2022")
    return {
        key: run_evaluation(ctx.db, policy, 2023, region_code=county.code, actor="batch").id
        for key, county in (("a", ctx.a), ("b", ctx.b))
    }


def _run_exists(ctx: Ctx, run_id: int) -> bool:
    return _count(ctx, "SELECT count(*) FROM evaluation_run WHERE id = :r", r=run_id) == 1


def evaluation_create(ctx: Ctx) -> None:
    def run(**body: Any) -> Response:
        return ctx.planner.post("/evaluations", json={"policy": "huangyan-2022", "year": 2023, **body})

    assert run(region_code=ctx.b.code).status_code in (403, 404)
    assert _count(ctx, "SELECT count(*) FROM evaluation_run WHERE region_code = :r", r=ctx.b.code) == 0
    own = run()  # the caller's only region by default
    assert own.status_code == 201, own.text
    assert own.json()["region_code"] == ctx.a.code
    assert _count(ctx, "SELECT count(*) FROM evaluation_result WHERE enterprise_id = :e", e=ctx.b.enterprise_id) == 0
    assert _count(ctx, "SELECT count(*) FROM evaluation_result WHERE enterprise_id = :e", e=ctx.a.enterprise_id) == 1


def evaluation_list(ctx: Ctx) -> None:
    ids = _runs(ctx)
    for params in ({}, {"year": 2023}):
        response = ctx.officer.get("/evaluations", params=params)
        assert response.status_code == 200, response.text
        assert {r["id"] for r in response.json()} == {ids["a"]}


def evaluation_get(ctx: Ctx) -> None:
    ids = _runs(ctx)
    hidden(ctx, f"/evaluations/{ids['b']}", f"/evaluations/{ids['a']}")


def evaluation_delete(ctx: Ctx) -> None:
    ids = _runs(ctx)
    assert ctx.planner.delete(f"/evaluations/{ids['b']}").status_code == 404
    assert _run_exists(ctx, ids["b"])
    assert ctx.planner.delete(f"/evaluations/{ids['a']}").status_code == 204
    assert not _run_exists(ctx, ids["a"])


def evaluation_results(ctx: Ctx) -> None:
    ids = _runs(ctx)
    shows_a_not_b(ctx, ctx.officer.get(f"/evaluations/{ids['a']}/enterprises", params={"limit": 5000}))
    hidden(ctx, f"/evaluations/{ids['b']}/enterprises")


def evaluation_result(suffix: str) -> Probe:
    def probe(ctx: Ctx) -> None:
        ids = _runs(ctx)
        shows_a_not_b(ctx, ctx.officer.get(f"/evaluations/{ids['a']}/enterprises/{ctx.a.enterprise_id}{suffix}"))
        hidden(ctx, f"/evaluations/{ids['b']}/enterprises/{ctx.b.enterprise_id}{suffix}")
        hidden(ctx, f"/evaluations/{ids['a']}/enterprises/{ctx.b.enterprise_id}{suffix}")
        hidden(ctx, f"/evaluations/{ids['b']}/enterprises/{ctx.a.enterprise_id}{suffix}")

    return probe


def evaluation_compare(ctx: Ctx) -> None:
    ids = _runs(ctx)
    hidden(ctx, f"/evaluations/{ids['a']}/compare/{ids['b']}")
    hidden(ctx, f"/evaluations/{ids['b']}/compare/{ids['a']}")
    same = ctx.officer.get(f"/evaluations/{ids['a']}/compare/{ids['a']}")
    assert same.status_code == 200 and same.json()["both"] == 1, same.text
    _no_b(ctx, same.text)


def evaluation_export(ctx: Ctx) -> None:
    ids = _runs(ctx)
    xlsx = ctx.officer.get(f"/evaluations/{ids['a']}/export", params={"format": "xlsx"})
    assert xlsx.status_code == 200, xlsx.text
    cells = _workbook_text(xlsx.content)
    assert ctx.a.enterprise_name in cells and ctx.b.enterprise_name not in cells and ctx.b.uscc not in cells
    for fmt in ("xlsx", "geojson"):
        hidden(ctx, f"/evaluations/{ids['b']}/export?format={fmt}")


def latest_enterprise(ctx: Ctx) -> None:
    _runs(ctx)
    path = "/evaluations/latest/enterprises/{}"
    hidden(ctx, path.format(ctx.b.enterprise_id), path.format(ctx.a.enterprise_id))


def latest_parcel(ctx: Ctx) -> None:
    _runs(ctx)
    shows_a_not_b(ctx, ctx.officer.get(f"/evaluations/latest/parcels/{ctx.a.parcel_id}"))
    hidden(ctx, f"/evaluations/latest/parcels/{ctx.b.parcel_id}")


# ---- maps: search, the dossier, tiles and zonal statistics (issue 5) ---------------------------


def search(ctx: Ctx) -> None:
    shows_a_not_b(ctx, ctx.officer.get("/search", params={"q": "机械"}))
    shows_a_not_b(ctx, ctx.officer.get("/search", params={"q": "3306"}))  # a code prefix of both counties
    for q in _markers(ctx.b):
        found = ctx.officer.get("/search", params={"q": q})
        assert found.status_code == 200 and found.json()["results"] == [], found.text


def _xyz(county: County, z: int) -> tuple[int, int, int]:
    from tests.maps.conftest import tile_of

    west, south, east, north = county.bbox
    x, y = tile_of((west + east) / 2, (south + north) / 2, z)
    return z, x, y


#: Vector layers whose features are parcels (or their zones and regions) of the caller's scope.
SCOPED_LAYERS = ("parcels_status", "parcels_mu_tax", "parcels_class", "parcels_yima", "zones", "regions")


def _vector_tiles(ctx: Ctx, url: Callable[[str, int, int, int], str]) -> None:
    from tests.maps.mvt import decode

    _runs(ctx)
    z, x, y = _xyz(ctx.a, 16)
    own = ctx.officer.get(url("parcels_status", z, x, y))
    assert own.status_code == 200, own.text
    features = decode(own.content)["parcels_status"].features
    assert {f.properties.get("zddm") for f in features} == {ctx.a.zddm}
    for layer in SCOPED_LAYERS:
        z, x, y = _xyz(ctx.a, 14)
        assert ctx.officer.get(url(layer, z, x, y)).status_code == 200, f"control: {layer} over county A"
        z, x, y = _xyz(ctx.b, 14)
        other = ctx.officer.get(url(layer, z, x, y))
        assert other.status_code == 204, f"{layer} over county B: {other.status_code} {other.content[:200]!r}"
    # A plan's layers: county A's plan over its land; county B's plan is not found, so nothing of it.
    plans = _plans(ctx)
    for layer, feature_id in (("plan_parcels", ctx.a.parcel_id), ("plan_blocks", 1)):
        z, x, y = _xyz(ctx.a, 16)
        own = ctx.officer.get(url(layer, z, x, y), params={"plan_id": plans["a"]})
        assert own.status_code == 200, own.text
        assert [f.id for f in decode(own.content)[layer].features] == [feature_id], f"control: {layer} of plan A"
        z, x, y = _xyz(ctx.b, 16)
        other = ctx.officer.get(url(layer, z, x, y), params={"plan_id": plans["b"]})
        assert other.status_code == 204, f"{layer} of plan B: {other.status_code} {other.content[:200]!r}"


def xyz_tiles(ctx: Ctx) -> None:
    _vector_tiles(ctx, lambda layer, z, x, y: f"/tiles/{layer}/{z}/{x}/{y}.mvt")
    # the 亩均 heat map paints the parcels it can see: nothing over county B
    z, x, y = _xyz(ctx.a, 14)
    assert ctx.officer.get(f"/tiles/mu_tax_density/{z}/{x}/{y}.png").status_code == 200
    z, x, y = _xyz(ctx.b, 14)
    assert ctx.officer.get(f"/tiles/mu_tax_density/{z}/{x}/{y}.png").status_code == 204


def ogc_tiles(ctx: Ctx) -> None:
    _vector_tiles(ctx, lambda layer, z, x, y: f"/collections/{layer}/tiles/WebMercatorQuad/{z}/{x}/{y}")


def tilejson(ctx: Ctx) -> None:
    """The bounds a TileJSON announces are those of the caller's rows: county B's land is 10 km east."""
    for layer in ("parcels_status", "zones", "mu_tax_density"):
        response = ctx.officer.get(f"/tiles/{layer}/tilejson.json")
        assert response.status_code == 200, response.text
        east = response.json()["bounds"][2]
        assert east < ctx.b.bbox[0] - 0.01, f"{layer}: bounds reach county B ({east})"


def zonal(ctx: Ctx) -> None:
    from landgis.maps.raster import write_demo_cogs

    write_demo_cogs(ctx.home / "rasters", _bounds(ctx))
    layer = "basemap_terrain"
    for kind, a, b in (("parcel_id", ctx.a.parcel_id, ctx.b.parcel_id), ("zone_id", ctx.a.zone_id, ctx.b.zone_id)):
        hidden(ctx, f"/rasters/{layer}/zonal?{kind}={b}", f"/rasters/{layer}/zonal?{kind}={a}")


def _bounds(ctx: Ctx) -> tuple[float, float, float, float]:
    both = _cover(ctx.a, ctx.b)["coordinates"][0]
    return both[0][0], both[0][1], both[2][0], both[2][1]


def exempt(reason: str) -> Exempt:
    return Exempt(reason)


def _load_job(ctx: Ctx, county: County) -> str:
    """A finished load job of ``county`` whose report names its parcel."""
    report = {
        "kind": "parcels",
        "file": "宗地.zip",
        "counts": {"read": 1},
        "issues": [
            {
                "file": "宗地.zip",
                "row": 1,
                "field": "宗地代码",
                "severity": "warning",
                "code": "x",
                "message": county.zddm,
                "value": county.zddm,
            }
        ],
    }
    return str(
        ctx.db.execute(
            text(
                "INSERT INTO load_job (kind, status, file_name, size_bytes, actor, scope, exit_code, report,"
                " finished_at) VALUES ('parcels', 'succeeded', '宗地.zip', 1, 'clerk', ARRAY[:code], 0,"
                " CAST(:report AS jsonb), now()) RETURNING id"
            ),
            {"code": county.code, "report": json.dumps(report, ensure_ascii=False)},
        ).scalar_one()
    )


def load_job_hidden(suffix: str) -> Probe:
    def probe(ctx: Ctx) -> None:
        own, other = _load_job(ctx, ctx.a), _load_job(ctx, ctx.b)
        mine = ctx.officer.get(f"/loads/{own}{suffix}")
        assert mine.status_code == 200, mine.text
        assert ctx.a.zddm in mine.text
        hidden(ctx, f"/loads/{other}{suffix}")

    return probe


MATRIX: dict[tuple[str, str], Probe | Exempt] = {
    ("POST", "/loads/{kind}"): exempt(
        "the job runs later on its own connection under the caller's scope; county B rows are refused"
        " end to end in tests/api/test_loads.py::test_a_scoped_caller_cannot_load_or_see_another_countys_land"
    ),
    ("GET", "/loads/{job_id}"): load_job_hidden(""),
    ("GET", "/loads/{job_id}/report.csv"): load_job_hidden("/report.csv"),
    ("GET", "/loads/{job_id}/report.html"): load_job_hidden("/report.html"),
    ("GET", "/health"): exempt("service status, no data"),
    ("GET", "/"): exempt("redirect to /docs"),
    ("GET", "/docs"): exempt("static API documentation"),
    ("GET", "/openapi.json"): exempt("the API description"),
    ("GET", "/login"): exempt("log-in form"),
    ("POST", "/login"): exempt("log-in form; returns no data"),
    ("POST", "/logout"): exempt("ends the session; returns no data"),
    ("POST", "/auth/login"): exempt("returns the signed-in user only"),
    ("POST", "/auth/logout"): exempt("ends the session; returns no data"),
    ("GET", "/auth/me"): exempt("returns the caller's own account"),
    ("GET", "/auth/tokens"): exempt("the caller's own tokens"),
    ("POST", "/auth/tokens"): exempt("issues a token for the caller, who keeps their scope"),
    ("DELETE", "/auth/tokens/{token_id}"): token_revoke,
    ("GET", "/users"): users_list,
    ("POST", "/users"): user_get,
    ("GET", "/users/{user_id}"): user_get,
    ("PATCH", "/users/{user_id}"): user_get,
    ("GET", "/audit/events"): audit_events,
    ("GET", "/parcels"): parcel_list,
    ("POST", "/parcels/search"): parcel_search_body,
    ("GET", "/parcels/statuses"): exempt("the list of status codes"),
    ("GET", "/parcels/{parcel_id}"): lambda c: hidden(c, f"/parcels/{c.b.parcel_id}", f"/parcels/{c.a.parcel_id}"),
    ("PATCH", "/parcels/{parcel_id}"): patch_parcel,
    ("POST", "/parcels/{parcel_id}/status"): change_status,
    ("GET", "/parcels/{parcel_id}/occupancy"): lambda c: hidden(
        c, f"/parcels/{c.b.parcel_id}/occupancy", f"/parcels/{c.a.parcel_id}/occupancy"
    ),
    ("POST", "/parcels/{parcel_id}/occupancy"): add_occupancy,
    ("PATCH", "/parcels/{parcel_id}/occupancy/{occupancy_id}"): patch_occupancy,
    ("DELETE", "/parcels/{parcel_id}/occupancy/{occupancy_id}"): delete_occupancy,
    ("GET", "/parcels/{parcel_id}/history"): parcel_history,
    ("GET", "/enterprises"): enterprise_list,
    ("GET", "/enterprises/{enterprise_id}"): lambda c: hidden(
        c, f"/enterprises/{c.b.enterprise_id}", f"/enterprises/{c.a.enterprise_id}"
    ),
    ("GET", "/enterprises/{enterprise_id}/figures"): lambda c: hidden(
        c, f"/enterprises/{c.b.enterprise_id}/figures", f"/enterprises/{c.a.enterprise_id}/figures"
    ),
    ("GET", "/ogc"): exempt("landing page: links only"),
    ("GET", "/ogc/conformance"): exempt("conformance classes"),
    ("GET", "/ogc/collections"): exempt("collection descriptions; the extent is the caller's own regions"),
    ("GET", "/ogc/collections/{collection_id}"): exempt("a collection's description"),
    ("GET", "/ogc/collections/{collection_id}/queryables"): exempt("property names and types"),
    ("GET", "/ogc/collections/{collection_id}/items"): ogc_all_items,
    ("GET", "/ogc/collections/{collection_id}/items/{feature_id}"): ogc_item,
    # the renewal life cycle (issue 7)
    ("GET", "/workflow"): exempt("the workflow configuration: states, modes, transitions"),
    ("GET", "/parcels/{parcel_id}/transitions"): transitions_list,
    ("GET", "/parcels/{parcel_id}/transitions/allowed"): lambda c: hidden(
        c, f"/parcels/{c.b.parcel_id}/transitions/allowed", f"/parcels/{c.a.parcel_id}/transitions/allowed"
    ),
    ("POST", "/parcels/{parcel_id}/transitions"): transition_post,
    ("POST", "/parcels/{parcel_id}/transitions/undo"): transition_undo,
    ("GET", "/lifecycle/parcels/{parcel_id}"): exempt(
        "a static page without data; its script reads through the probed /parcels/{id}/transitions and /colour"
    ),
    ("GET", "/colour-rules"): exempt("the colour rules: configuration, no parcel data"),
    ("PUT", "/colour-rules"): colour_rules_replace,
    ("GET", "/parcels/{parcel_id}/colour"): lambda c: hidden(
        c, f"/parcels/{c.b.parcel_id}/colour", f"/parcels/{c.a.parcel_id}/colour"
    ),
    ("GET", "/colours"): colour_list,
    ("GET", "/colours/summary"): colour_summary,
    ("POST", "/colours/refresh"): colour_refresh,
    ("GET", "/land-codes/{code}"): lambda c: hidden(c, f"/land-codes/{c.b.zddm}", f"/land-codes/{c.a.zddm}"),
    ("GET", "/land-codes/{code}/qr.{fmt}"): land_code_qr,
    ("GET", "/parcels/{parcel_id}/qr.{fmt}"): parcel_qr,
    ("GET", "/zones/{zone_id}/qr-sheet"): zone_qr_sheet,
    ("GET", "/idle-land"): idle_list,
    ("GET", "/wuwei"): wuwei_list,
    ("GET", "/deadlines"): deadline_list,
    ("GET", "/land-approval-batches"): batch_list,
    ("POST", "/land-approval-batches"): batch_create,
    ("POST", "/parcels/{parcel_id}/progress"): progress_create,
    ("GET", "/standard/indicators"): exempt("the list of 标准地 indicators"),
    ("GET", "/standard/agreements"): agreement_list,
    ("POST", "/standard/agreements"): agreement_create,
    ("GET", "/standard/agreements/{agreement_id}"): agreement_get,
    ("GET", "/parcels/{parcel_id}/standard"): parcel_agreement,
    ("GET", "/standard/agreements/{agreement_id}/check"): agreement_check,
    ("POST", "/standard/agreements/{agreement_id}/reviews"): review_create,
    ("POST", "/matching"): matching,
    ("GET", "/projects"): project_list,
    ("POST", "/projects"): project_create,
    ("GET", "/projects/{project_id}"): project_get,
    ("GET", "/projects/{project_id}/matches"): project_matches,
    ("POST", "/projects/{project_id}/parcels"): project_link,
    ("GET", "/reports/progress"): progress_report,
    # evaluations, candidates, plans, totals and exports (issue 4)
    ("GET", "/evaluations/policies"): exempt("the shipped evaluation policies: configuration, no data"),
    ("GET", "/evaluations/policies/{policy_id}"): exempt("one shipped policy document"),
    ("POST", "/evaluations/policies/check"): exempt("validates the policy document sent; reads no table"),
    ("POST", "/evaluations"): evaluation_create,
    ("GET", "/evaluations"): evaluation_list,
    ("GET", "/evaluations/{run_id}"): evaluation_get,
    ("DELETE", "/evaluations/{run_id}"): evaluation_delete,
    ("GET", "/evaluations/{run_id}/enterprises"): evaluation_results,
    ("GET", "/evaluations/{run_id}/enterprises/{enterprise_id}"): evaluation_result(""),
    ("GET", "/evaluations/{run_id}/enterprises/{enterprise_id}/explain"): evaluation_result("/explain"),
    ("GET", "/evaluations/{run_id}/compare/{other_id}"): evaluation_compare,
    ("GET", "/evaluations/{run_id}/export"): evaluation_export,
    ("GET", "/evaluations/latest/enterprises/{enterprise_id}"): latest_enterprise,
    ("GET", "/evaluations/latest/parcels/{parcel_id}"): latest_parcel,
    ("GET", "/candidates/presets"): exempt("the shipped rule presets: configuration, no data"),
    ("GET", "/candidates/rules"): exempt("the rule catalogue: names and parameters"),
    ("POST", "/candidates"): candidates_select,
    ("POST", "/candidates/export"): candidates_export,
    ("POST", "/plans"): plan_create,
    ("GET", "/plans"): plan_list,
    ("GET", "/plans/compare"): plan_compare,
    ("GET", "/plans/{plan_id}"): plan_get,
    ("GET", "/plans/{plan_id}/parcels"): plan_parcels,
    ("DELETE", "/plans/{plan_id}"): plan_delete,
    ("GET", "/plans/{plan_id}/export"): plan_export,
    ("GET", "/totals"): totals_read,
    ("GET", "/totals/export"): totals_export,
    ("GET", "/exports/zones/{zone_id}/map.html"): zone_map,
    ("GET", "/exports/plans/{plan_id}/map.html"): plan_map,
    # maps: search, the dossier, tiles (issue 5)
    ("GET", "/search"): search,
    ("GET", "/parcels/{parcel_id}/dossier"): lambda c: hidden(
        c, f"/parcels/{c.b.parcel_id}/dossier", f"/parcels/{c.a.parcel_id}/dossier"
    ),
    ("GET", "/dossier/{parcel_id}"): exempt(
        "a static page without data; its script reads through the probed /parcels/{id}/dossier"
    ),
    ("GET", "/map"): exempt("the static web map page; its data come through the probed tile and search routes"),
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.{fmt}"): xyz_tiles,
    ("GET", "/tiles/{layer}/tilejson.json"): tilejson,
    ("GET", "/collections/{collection_id}/tiles/{tms}/{z}/{x}/{y}"): ogc_tiles,
    ("GET", "/styles/{layer}.json"): exempt("a layer's MapLibre style: colours and tile URLs, no rows"),
    ("GET", "/maps/layers"): exempt("layer descriptions, legends and basemap URLs; no rows"),
    ("GET", "/collections"): exempt("the map layers as OGC collections: titles and links"),
    ("GET", "/collections/{collection_id}"): exempt("one map layer's title and links"),
    ("GET", "/collections/{collection_id}/tiles"): exempt("a layer's tileset description: zoom range and links"),
    ("GET", "/collections/{collection_id}/tiles/{tms}"): exempt("a layer's tileset description: zoom range and links"),
    ("GET", "/rasters/{layer}/zonal"): zonal,
}


def app_routes() -> set[tuple[str, str]]:
    from api.main import create_app
    from landgis.settings import Settings

    app = create_app(Settings())
    found = set()
    # iter_route_contexts flattens included routers and gives each route its full path.
    for route in iter_route_contexts(app.routes):
        if route.path is None or route.path.startswith(("/static", "/vendor")):
            continue
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, route.path))
    assert len(found) > 20, "the route enumeration found too few routes to be right"
    return found


def test_every_route_is_in_the_matrix() -> None:
    routes = app_routes()
    missing = sorted(routes - set(MATRIX))
    assert not missing, f"routes without a scope-matrix entry (add a probe or an exemption): {missing}"
    stale = sorted(set(MATRIX) - routes)
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


@pytest.fixture
def ctx(two_counties: TwoCounties, client_for: ClientFactory, db: Connection, settings: Settings) -> Ctx:
    return Ctx(
        officer=client_for("officer", [two_counties.a.code]),
        admin=client_for("admin", [two_counties.a.code]),
        planner=client_for("planner", [two_counties.a.code]),
        counties=two_counties,
        db=db,
        home=settings.home,
    )


@pytest.mark.parametrize("route", sorted(k for k, v in MATRIX.items() if not isinstance(v, Exempt)), ids=" ".join)
def test_county_a_cannot_reach_county_b(route: tuple[str, str], ctx: Ctx) -> None:
    probe = MATRIX[route]
    assert not isinstance(probe, Exempt)
    probe(ctx)


def test_unrestricted_admin_sees_both_counties(two_counties: TwoCounties, client: TestClient) -> None:
    """The other side of the matrix: without a scope, both counties are there."""
    body = client.get("/parcels", params={"limit": 500}).text
    assert two_counties.a.zddm in body and two_counties.b.zddm in body
    features = client.get("/ogc/collections/parcels/items").json()["features"]
    assert {f["properties"]["zddm"] for f in features} == {two_counties.a.zddm, two_counties.b.zddm}
