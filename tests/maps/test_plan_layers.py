"""The plan layers (plan_parcels, plan_blocks) over the views of revision 0011_plan_layers: served
once the views exist, a plan's tile holds its own parcels and blocks and nothing else, region scope
applies through the views (security_invoker) and a deleted plan never leaves a cached tile behind."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Connection, text

from landgis.maps.catalog import check_catalog
from landgis.maps.layers import load_layers
from landgis.settings import project_root
from tests import land
from tests.conftest import ClientFactory
from tests.maps.conftest import OTHER_COUNTY, PlanLand, tile_of
from tests.maps.mvt import Feature, decode

PLAN_LAYERS = ("plan_parcels", "plan_blocks")


def one_tile(bbox: tuple[float, float, float, float]) -> tuple[int, int, int]:
    """The highest zoom (16 down to 10) at which one tile holds the whole box."""
    west, south, east, north = bbox
    for z in range(16, 9, -1):
        if tile_of(west, north, z) == tile_of(east, south, z):
            return (z, *tile_of(west, north, z))
    raise AssertionError("the box fits no single tile from zoom 10 up")


def features(response: Response, layer: str) -> list[Feature]:
    """The features of ``layer`` in a tile answer (none for 204, the empty tile)."""
    if response.status_code == 204:
        return []
    assert response.status_code == 200, response.text
    return decode(response.content)[layer].features


def plan_tile(client: TestClient, layer: str, plan_id: int, z: int, x: int, y: int) -> list[Feature]:
    return features(client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", params={"plan_id": plan_id}), layer)


def test_views_run_with_the_callers_rights_and_are_read_only_for_the_service(db: Connection) -> None:
    for view in ("v_plan_parcel", "v_plan_block"):
        options = db.execute(text("SELECT reloptions FROM pg_class WHERE oid = to_regclass(:v)"), {"v": view})
        assert "security_invoker=true" in (options.scalar_one() or []), view
        rights = db.execute(
            text(
                "SELECT has_table_privilege('landgis_app', :v, 'SELECT'),"
                " has_table_privilege('landgis_app', :v, 'INSERT'),"
                " has_table_privilege('landgis_app', :v, 'UPDATE'),"
                " has_table_privilege('landgis_app', :v, 'DELETE')"
            ),
            {"v": view},
        ).one()
        assert tuple(rights) == (True, False, False, False), view


def test_plan_layers_are_available_and_cached(db: Connection, client: TestClient) -> None:
    catalog = check_catalog(db, load_layers(project_root() / "layers"))
    for layer_id in PLAN_LAYERS:
        state = catalog.state(layer_id)
        # plan, plan_parcel and parcel all carry the data-version trigger (0004, 0008)
        assert state.available and state.cached and state.untracked == (), (layer_id, state)
    listed = {layer["id"]: layer for layer in client.get("/maps/layers").json()["layers"]}
    for layer_id in PLAN_LAYERS:
        assert listed[layer_id]["available"], listed[layer_id]
        assert listed[layer_id]["params"] == ["plan_id"]


def test_a_plans_tile_holds_its_parcels_and_no_others(plan_land: PlanLand, client_for: ClientFactory) -> None:
    officer = client_for("officer", [land.COUNTY])
    z, x, y = one_tile(plan_land.bbox)
    for plan_id in (plan_land.blocks, plan_land.low_far):
        got = plan_tile(officer, "plan_parcels", plan_id, z, x, y)
        assert {f.id for f in got} == plan_land.members(plan_id), plan_id
        assert {f.properties["plan_id"] for f in got} == {plan_id}
        # area_mu as saved with the plan: each square is 15 亩
        assert all(f.properties["area_mu"] == pytest.approx(15, rel=1e-4) for f in got)
        assert all(f.type == 3 for f in got)  # polygons
    # B (FAR 2.0) is only in the block plan; D, E and F only in the low-FAR plan
    assert plan_land.ids["B"] not in plan_land.members(plan_land.low_far)
    assert not {plan_land.ids[n] for n in "DEF"} & plan_land.members(plan_land.blocks)
    missing = officer.get(f"/tiles/plan_parcels/{z}/{x}/{y}.mvt")
    assert missing.status_code == 400 and "plan_id" in missing.json()["detail"]
    assert plan_tile(officer, "plan_parcels", 987654, z, x, y) == []


def test_reasons_are_one_text_at_high_zoom(plan_land: PlanLand, client: TestClient, db: Connection) -> None:
    west, south, _, _ = plan_land.bbox
    z = 16
    x, y = tile_of(west + 0.0005, south + 0.0005, z)  # inside A, the first square
    blocks = {f.id: f.properties for f in plan_tile(client, "plan_parcels", plan_land.blocks, z, x, y)}
    low_far = {f.id: f.properties for f in plan_tile(client, "plan_parcels", plan_land.low_far, z, x, y)}
    a = plan_land.ids["A"]
    assert blocks[a]["reasons"] == "工业用地"
    assert low_far[a]["reasons"] == "容积率低于阈值: 容积率 1.00 < 1.5"
    # several reasons are joined, never written as an array literal
    db.execute(
        text("UPDATE plan_parcel SET reasons = ARRAY['工业用地', '亩均税收低'] WHERE plan_id = :p AND parcel_id = :a"),
        {"p": plan_land.blocks, "a": a},
    )
    again = {f.id: f.properties for f in plan_tile(client, "plan_parcels", plan_land.blocks, z, x, y)}
    assert again[a]["reasons"] == "工业用地；亩均税收低"


def test_a_plans_blocks_are_its_saved_blocks(plan_land: PlanLand, client_for: ClientFactory, db: Connection) -> None:
    officer = client_for("officer", [land.COUNTY])
    z, x, y = one_tile(plan_land.bbox)
    (block,) = plan_tile(officer, "plan_blocks", plan_land.blocks, z, x, y)
    assert block.id == 1
    assert block.properties["plan_id"] == plan_land.blocks and block.properties["parcels"] == 3
    assert block.properties["area_mu"] == pytest.approx(45, rel=1e-4)
    # the low-FAR plan was saved without blocks: its members have no block, it shows none
    assert plan_tile(officer, "plan_blocks", plan_land.low_far, z, x, y) == []
    # the block is the union of A, B and C: A and B touch, C is a part of its own
    row = db.execute(
        text("SELECT region_code, ST_NumGeometries(geom), ST_SRID(geom), landgis_area_m2(geom) FROM v_plan_block")
    ).one()
    # A and C lie in the first township, B in the second: the smaller code
    assert row[0] == land.TOWNS[0] < land.TOWNS[1]
    assert row[1:3] == (2, 4490)
    assert row[3] == pytest.approx(30_000, rel=1e-3)  # three 100 m squares


def test_region_scope_applies_to_plan_tiles(plan_land: PlanLand, client_for: ClientFactory) -> None:
    z, x, y = one_tile(plan_land.bbox)
    county = client_for("viewer", [land.COUNTY])
    assert plan_tile(county, "plan_parcels", plan_land.blocks, z, x, y), "control: the county sees its plan"
    # A plan of county 330699 is out of scope for the neighbouring county and for a township of it
    # (B's own township included: the plan is the county's, not the township's).
    for scope in (OTHER_COUNTY, land.TOWNS[1]):
        other = client_for("viewer", [scope])
        for layer in PLAN_LAYERS:
            assert plan_tile(other, layer, plan_land.blocks, z, x, y) == [], (scope, layer)


def test_a_deleted_plan_leaves_no_cached_tile(plan_land: PlanLand, client_for: ClientFactory) -> None:
    planner = client_for("planner", [land.COUNTY])
    z, x, y = one_tile(plan_land.bbox)
    path = f"/tiles/plan_blocks/{z}/{x}/{y}.mvt"
    first = planner.get(path, params={"plan_id": plan_land.blocks})
    assert first.status_code == 200 and first.headers["x-tile-cache"] == "miss"
    again = planner.get(path, params={"plan_id": plan_land.blocks})
    assert again.headers["x-tile-cache"] == "hit" and again.content == first.content
    assert planner.delete(f"/plans/{plan_land.blocks}").status_code == 204
    assert planner.get(path, params={"plan_id": plan_land.blocks}).status_code == 204
