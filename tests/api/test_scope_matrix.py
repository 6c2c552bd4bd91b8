"""The region-scope matrix: for every route of the service, a user limited to county A cannot read
or change county B's parcels, enterprises or their history.

``MATRIX`` must name every route of the app (method and path, as ``app.routes`` has them): a probe
that tries to reach county B through it, or an exemption saying why the route cannot return
parcel data. ``test_every_route_is_in_the_matrix`` fails for a route added without an entry, so a
new endpoint cannot skip this check. Each probe also reaches county A the same way (a control),
so a probe that could never see anything does not pass by accident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Connection, text

from tests.api.conftest import County, TwoCounties
from tests.conftest import ClientFactory


@dataclass
class Ctx:
    officer: TestClient  # officer limited to county A
    admin: TestClient  # administrator limited to county A
    counties: TwoCounties
    db: Connection

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
        assert marker not in response.text


def far_of(ctx: Ctx, parcel_id: int) -> float:
    return float(ctx.db.execute(text("SELECT far FROM parcel WHERE id = :id"), {"id": parcel_id}).scalar_one())


def patch_parcel(ctx: Ctx) -> None:
    assert ctx.officer.patch(f"/parcels/{ctx.a.parcel_id}", json={"far": 1.1}).status_code == 200
    assert ctx.officer.patch(f"/parcels/{ctx.b.parcel_id}", json={"far": 1.9}).status_code == 404
    assert far_of(ctx, ctx.b.parcel_id) == 0.8


def change_status(ctx: Ctx) -> None:
    body = {"status": "identified", "reason": "亩均税收低于标准"}
    assert ctx.officer.post(f"/parcels/{ctx.a.parcel_id}/status", json=body).status_code == 200
    assert ctx.officer.post(f"/parcels/{ctx.b.parcel_id}/status", json=body).status_code == 404
    status = ctx.db.execute(text("SELECT renewal_status FROM parcel WHERE id = :id"), {"id": ctx.b.parcel_id})
    assert status.scalar_one() == "normal"


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


def exempt(reason: str) -> Exempt:
    return Exempt(reason)


MATRIX: dict[tuple[str, str], Probe | Exempt] = {
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
def ctx(two_counties: TwoCounties, client_for: ClientFactory, db: Connection) -> Ctx:
    return Ctx(
        officer=client_for("officer", [two_counties.a.code]),
        admin=client_for("admin", [two_counties.a.code]),
        counties=two_counties,
        db=db,
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
