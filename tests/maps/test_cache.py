"""The tile cache against committed writes on a scratch database: tiles need a signed-in caller;
repeated tiles come from the cache (keyed by the caller's region scope), answered by the front
door without a pooled connection; any write to a table behind a layer makes the next tile fresh,
and any account change reaches the next tile."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import URL

from api.main import create_app
from landgis.accounts.tokens import create_token, digest
from landgis.accounts.users import create_user
from landgis.maps.cache import VersionGate
from landgis.settings import Settings
from tests.helpers import scratch_database
from tests.maps.conftest import tile_of
from tests.maps.mvt import decode

LON, LAT = 120.6001, 30.0001
SQUARE = (
    f"MULTIPOLYGON((({LON} {LAT},{LON + 0.001} {LAT},{LON + 0.001} {LAT + 0.001},{LON} {LAT + 0.001},{LON} {LAT})))"
)


@pytest.fixture(scope="module")
def scratch(admin_url: URL) -> Iterator[Engine]:
    with scratch_database(admin_url, "landgis_test_tile_cache") as engine:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO region (code, name, level) VALUES ('330699', '示范县', 3)"))
            conn.execute(
                text("INSERT INTO parcel (region_code, geom, zddm) VALUES ('330699', ST_GeomFromText(:w, 4490), :z)"),
                {"w": SQUARE, "z": "330699001001GB00001"},
            )
        yield engine


@pytest.fixture(scope="module")
def signed(scratch: Engine) -> dict[str, str]:
    """The Authorization header of an administrator of every region (committed in the scratch database)."""
    with scratch.begin() as conn:
        user = create_user(conn, "cache-admin", "admin", None)
        _, secret = create_token(conn, user.id, "tile cache tests")
    return {"authorization": f"Bearer {secret}"}


@pytest.fixture
def live(scratch: Engine, signed: dict[str, str], tmp_path: Path) -> Iterator[tuple[TestClient, Engine]]:
    settings = Settings(database_url=scratch.url.render_as_string(hide_password=False), home=tmp_path)
    with TestClient(create_app(settings)) as client:
        client.headers.update(signed)
        yield client, scratch


def another_admin_token(engine: Engine, purpose: str) -> tuple[str, dict[str, str]]:
    """A second token of the tests' administrator (to revoke), and its Authorization header."""
    with engine.begin() as conn:
        user = conn.execute(text("SELECT id FROM app_user WHERE username = 'cache-admin'")).scalar_one()
        _, secret = create_token(conn, user, purpose)
    return secret, {"authorization": f"Bearer {secret}"}


def version(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT version FROM map_data_version")).scalar_one())


def set_status(engine: Engine, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE parcel SET renewal_status = :s"), {"s": status})


def statuses(content: bytes) -> set[str]:
    return {f.properties["renewal_status"] for f in decode(content)["parcels_status"].features}


def test_writes_bump_the_data_version(scratch: Engine) -> None:
    before = version(scratch)
    set_status(scratch, "planned")
    after = version(scratch)  # the status write and the colour refresh it triggers each count
    assert after > before
    with scratch.connect() as conn, conn.begin():
        conn.execute(text("UPDATE parcel SET far = 1.0"))
        conn.execute(text("UPDATE parcel SET far = 1.1"))
        conn.rollback()
    assert version(scratch) == after  # a rolled-back write changes nothing


def test_anonymous_tile_requests_are_refused(live: tuple[TestClient, Engine]) -> None:
    client, _ = live
    x, y = tile_of(LON + 0.0005, LAT + 0.0005, 16)
    path = f"/tiles/parcels_status/16/{x}/{y}.mvt"
    assert client.get(path).status_code == 200  # signed in: rendered and cached
    anonymous = TestClient(client.app)  # the same app and tile cache, without credentials
    for headers in ({}, {"cookie": "landgis_session=stale"}):
        response = anonymous.get(path, headers=headers)
        assert response.status_code == 401, (headers, response.status_code)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "x-tile-cache" not in response.headers  # never answered from the cache


def test_repeated_tiles_come_from_the_cache_until_a_write(live: tuple[TestClient, Engine]) -> None:
    client, engine = live
    set_status(engine, "normal")
    x, y = tile_of(LON + 0.0005, LAT + 0.0005, 16)
    path = f"/tiles/parcels_status/16/{x}/{y}.mvt"
    first = client.get(path)
    assert first.headers["x-tile-cache"] == "miss" and statuses(first.content) == {"normal"}
    assert first.headers["cache-control"] == "no-cache"  # never "public": a tile depends on who asks
    second = client.get(path, headers={"accept-encoding": "gzip"})
    assert second.headers["x-tile-cache"] == "hit"
    assert second.headers["etag"] == first.headers["etag"] and second.content == first.content
    assert client.get(path, headers={"if-none-match": first.headers["etag"]}).status_code == 304
    assert client.get(path + "?unrelated=1").headers["x-tile-cache"] == "hit"  # cache busting is ignored

    set_status(engine, "identified")  # and ask at once: the route reads the version in its own snapshot
    third = client.get(path)
    assert third.headers["x-tile-cache"] == "miss"
    assert statuses(third.content) == {"identified"}
    assert third.headers["etag"] != first.headers["etag"]


def test_the_route_never_serves_a_tile_older_than_the_callers_snapshot(live: tuple[TestClient, Engine]) -> None:
    client, engine = live
    x, y = tile_of(LON + 0.0005, LAT + 0.0005, 15)
    path = f"/tiles/parcels_status/15/{x}/{y}.mvt"
    set_status(engine, "normal")
    assert statuses(client.get(path).content) == {"normal"}
    assert client.get(path).headers["x-tile-cache"] == "hit"
    for status in ("planned", "in_progress", "freed"):
        set_status(engine, status)  # and ask at once, without waiting for the notification
        response = client.get(path)
        assert response.headers["x-tile-cache"] == "miss"
        assert statuses(response.content) == {status}


def test_enterprise_figures_invalidate_the_mu_tax_layer(live: tuple[TestClient, Engine]) -> None:
    client, engine = live
    with engine.begin() as conn:
        firm = conn.execute(text("INSERT INTO enterprise (name) VALUES ('测试企业') RETURNING id")).scalar_one()
        parcel = conn.execute(text("SELECT id FROM parcel")).scalar_one()
        conn.execute(text("INSERT INTO occupancy (enterprise_id, parcel_id) VALUES (:e, :p)"), {"e": firm, "p": parcel})
        conn.execute(
            text("INSERT INTO enterprise_year (enterprise_id, year, tax_wan) VALUES (:e, 2024, 10)"), {"e": firm}
        )
        area_mu = conn.execute(text("SELECT area_mu FROM parcel")).scalar_one()
    try:
        x, y = tile_of(LON + 0.0005, LAT + 0.0005, 16)
        path = f"/tiles/parcels_mu_tax/16/{x}/{y}.mvt"
        tile = decode(client.get(path).content)["parcels_mu_tax"]
        assert tile.features[0].properties["mu_tax"] == pytest.approx(10 / area_mu)
        with engine.begin() as conn:
            conn.execute(text("UPDATE enterprise_year SET tax_wan = 30 WHERE enterprise_id = :e"), {"e": firm})
        tile = decode(client.get(path).content)["parcels_mu_tax"]
        assert tile.features[0].properties["mu_tax"] == pytest.approx(30 / area_mu)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM enterprise WHERE id = :e"), {"e": firm})


def _checkouts(client: TestClient) -> list[int]:
    """A counter of the app's pooled connections handed out from now on."""
    counter = [0]
    event.listen(client.app.state.engine.pool, "checkout", lambda *_: counter.__setitem__(0, counter[0] + 1))
    return counter


def test_the_front_door_answers_repeated_tiles_without_a_pooled_connection(live: tuple[TestClient, Engine]) -> None:
    client, engine = live
    set_status(engine, "normal")
    x, y = tile_of(LON + 0.0005, LAT + 0.0005, 16)
    path = f"/tiles/parcels_status/16/{x}/{y}.mvt"
    first = client.get(path)
    assert first.headers["x-tile-cache"] == "miss"
    checkouts = _checkouts(client)
    gate = client.app.state.maps.gate
    queries = gate.queries
    for _ in range(5):
        again = client.get(path)
        assert again.status_code == 200 and again.headers["x-tile-cache"] == "hit"
        assert again.content == first.content and again.headers["x-request-id"] != first.headers["x-request-id"]
    assert checkouts[0] == 0  # neither authentication nor the version took a connection of the pool
    assert gate.queries - queries == 5  # but each answer read the versions after it was asked
    assert client.app.state.maps.fast.rendered == 0  # the first tile was the route's (caller unknown)


def test_the_front_door_renders_a_known_callers_misses_without_a_pooled_connection(
    live: tuple[TestClient, Engine],
) -> None:
    client, engine = live
    set_status(engine, "normal")
    x, y = tile_of(LON + 0.0005, LAT + 0.0005, 16)
    maps = client.app.state.maps
    assert client.get(f"/tiles/parcels_status/16/{x}/{y}.mvt").headers["x-tile-cache"] == "miss"  # the route
    checkouts = _checkouts(client)
    rendered = maps.fast.rendered
    path = "/tiles/parcels_status/17/{}/{}.mvt".format(*tile_of(LON + 0.0005, LAT + 0.0005, 17))
    first = client.get(path)
    assert first.status_code == 200 and first.headers["x-tile-cache"] == "miss"
    assert statuses(first.content) == {"normal"}
    assert maps.fast.rendered == rendered + 1 and checkouts[0] == 0
    assert client.get(path).headers["x-tile-cache"] == "hit"  # and cached for the next time
    set_status(engine, "freed")  # and ask at once: the front door renders from its own snapshot
    again = client.get(path)
    assert again.headers["x-tile-cache"] == "miss" and statuses(again.content) == {"freed"}
    assert maps.fast.rendered == rendered + 2 and checkouts[0] == 0


def test_the_front_door_keeps_its_tile_statement_prepared(live: tuple[TestClient, Engine]) -> None:
    """The front door's transactions end without a rollback, which would make psycopg deallocate
    every prepared statement of the connection (and PostgreSQL plan each tile again)."""
    client, _ = live
    maps = client.app.state.maps
    x, y = tile_of(LON + 0.0005, LAT + 0.0005, 18)
    assert client.get(f"/tiles/parcels_status/18/{x}/{y}.mvt").status_code == 200  # the route: caller known
    rendered = maps.fast.rendered
    for i in range(1, 9):  # past psycopg's prepare threshold (5), one statement: same layer and zoom
        assert client.get(f"/tiles/parcels_status/18/{x + i}/{y}.mvt").status_code in (200, 204)
    assert maps.fast.rendered == rendered + 8

    async def prepared_tile_statements() -> tuple[int, str]:
        async with maps.fast._pool.connection() as conn:  # the one connection the tiles above used
            cur = await conn.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%ST_AsMVT%'")
            prepared = await cur.fetchone()
            async with conn.transaction():
                cur = await conn.execute("SHOW transaction_read_only")
                read_only = await cur.fetchone()
        assert prepared is not None and read_only is not None
        return int(prepared[0]), str(read_only[0])

    assert client.portal.call(prepared_tile_statements) == (1, "on")


def test_the_front_door_renders_the_same_tiles_as_the_route(
    scratch: Engine, signed: dict[str, str], tmp_path: Path
) -> None:
    with scratch.begin() as conn:
        firm = conn.execute(text("INSERT INTO enterprise (name) VALUES ('同图企业') RETURNING id")).scalar_one()
        parcel = conn.execute(text("SELECT id FROM parcel")).scalar_one()
        conn.execute(text("INSERT INTO occupancy (enterprise_id, parcel_id) VALUES (:e, :p)"), {"e": firm, "p": parcel})
        conn.execute(
            text("INSERT INTO enterprise_year (enterprise_id, year, tax_wan) VALUES (:e, 2023, 7), (:e, 2024, 11)"),
            {"e": firm},
        )
    url = scratch.url.render_as_string(hide_password=False)
    x, y = tile_of(LON + 0.0005, LAT + 0.0005, 16)
    paths = [
        "/tiles/parcels_status/13/{}/{}.mvt?crs=gcj02".format(*tile_of(LON + 0.0005, LAT + 0.0005, 13)),
        f"/tiles/parcels_mu_tax/16/{x}/{y}.mvt?year=2023",
        "/tiles/parcels_mu_tax/17/{}/{}.pbf".format(*tile_of(LON + 0.0005, LAT + 0.0005, 17)),
        f"/collections/parcels_status/tiles/WebMercatorQuad/16/{x}/{y}",
    ]
    answers: dict[bool, list[bytes]] = {}
    try:
        for front in (False, True):
            settings = Settings(database_url=url, home=tmp_path, tile_front_render=front)
            with TestClient(create_app(settings)) as client:
                client.headers.update(signed)
                assert client.get(f"/tiles/parcels_status/14/{x // 4}/{y // 4}.mvt").status_code == 200
                responses = [client.get(p) for p in paths]
                assert [(r.status_code, r.headers["x-tile-cache"]) for r in responses] == [(200, "miss")] * len(paths)
                maps = client.app.state.maps
                assert (maps.fast.rendered if maps.fast else 0) == (len(paths) if front else 0)
                answers[front] = [r.content for r in responses]
    finally:
        with scratch.begin() as conn:
            conn.execute(text("DELETE FROM enterprise WHERE id = :e"), {"e": firm})
    assert answers[True] == answers[False]
    taxes = [decode(c)["parcels_mu_tax"].features[0].properties["mu_tax"] for c in answers[True][1:3]]
    assert taxes[0] < taxes[1]  # 2023's 7 万元, then the latest year's 11 万元


def test_front_door_misses_keep_the_callers_region_scope(live: tuple[TestClient, Engine]) -> None:
    client, engine = live
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO region (code, name, level) VALUES ('330700', '邻县', 3)"))
        user = create_user(conn, "cache-elsewhere", "viewer", ["330700"])
        _, secret = create_token(conn, user.id, "another county")
    headers = {"authorization": f"Bearer {secret}"}
    x, y = tile_of(LON + 0.0005, LAT + 0.0005, 16)
    maps = client.app.state.maps
    assert client.get(f"/tiles/parcels_status/16/{x}/{y}.mvt", headers=headers).status_code == 204  # the route
    rendered = maps.fast.rendered
    path = "/tiles/parcels_status/18/{}/{}.mvt".format(*tile_of(LON + 0.0005, LAT + 0.0005, 18))
    elsewhere = client.get(path, headers=headers)
    assert elsewhere.status_code == 204 and maps.fast.rendered == rendered + 1  # rendered here, and empty
    mine = client.get(path)  # the unrestricted admin: a cache entry of its own, with the parcel
    assert mine.status_code == 200 and len(decode(mine.content)["parcels_status"].features) == 1


def test_a_revoked_token_gets_no_front_door_misses(live: tuple[TestClient, Engine]) -> None:
    client, engine = live
    secret, headers = another_admin_token(engine, "revoked before a miss")
    x, y = tile_of(LON + 0.0005, LAT + 0.0005, 16)
    assert client.get(f"/tiles/parcels_status/16/{x}/{y}.mvt", headers=headers).status_code == 200
    with engine.begin() as conn:
        conn.execute(text("UPDATE api_token SET revoked_at = now() WHERE token_hash = :h"), {"h": digest(secret)})
    refused = client.get(f"/tiles/parcels_status/17/{x * 2 + 1}/{y * 2}.mvt", headers=headers)
    assert refused.status_code == 401 and "x-tile-cache" not in refused.headers


def test_a_slow_front_door_tile_is_cut_off_with_504(scratch: Engine, signed: dict[str, str], tmp_path: Path) -> None:
    url = scratch.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, home=tmp_path, tile_timeout_ms=300)
    x, y = tile_of(LON + 0.0005, LAT + 0.0005, 16)
    path = "/tiles/parcels_status/17/{}/{}.mvt".format(*tile_of(LON + 0.0005, LAT + 0.0005, 17))
    with TestClient(create_app(settings)) as client:
        client.headers.update(signed)
        assert client.get(f"/tiles/parcels_status/16/{x}/{y}.mvt").status_code == 200  # the route
        maps = client.app.state.maps
        with scratch.connect() as blocker:
            blocker.execute(text("LOCK TABLE parcel IN ACCESS EXCLUSIVE MODE"))  # every read of parcel waits
            slow = client.get(path)
            blocker.rollback()
        assert slow.status_code == 504
        assert slow.headers["content-type"].startswith("application/problem+json")
        assert slow.json()["request_id"] == slow.headers["x-request-id"]
        assert maps.fast.timed_out == 1 and maps.fast.rendered == 0  # cut off in the front door
        again = client.get(path)  # a timeout is the tile's fault, not the database's: no pause
        assert again.status_code == 200 and again.headers["x-tile-cache"] == "miss"
        assert maps.fast.rendered == 1


def test_a_revoked_token_gets_no_more_cached_tiles(live: tuple[TestClient, Engine]) -> None:
    client, engine = live
    secret, headers = another_admin_token(engine, "to be revoked")
    x, y = tile_of(LON + 0.0005, LAT + 0.0005, 16)
    path = f"/tiles/parcels_status/16/{x}/{y}.mvt"
    client.get(path, headers=headers)
    assert client.get(path, headers=headers).headers["x-tile-cache"] == "hit"
    with engine.begin() as conn:  # revoked by another process (the CLI, another worker)
        conn.execute(text("UPDATE api_token SET revoked_at = now() WHERE token_hash = :h"), {"h": digest(secret)})
    refused = client.get(path, headers=headers)  # at once, with the tile still in the cache
    assert refused.status_code == 401 and "x-tile-cache" not in refused.headers
    assert client.get(path).headers["x-tile-cache"] == "hit"  # the other token's caller is unaffected


def test_a_narrowed_scope_takes_effect_on_the_next_cached_tile(live: tuple[TestClient, Engine]) -> None:
    client, engine = live
    with engine.begin() as conn:
        user = create_user(conn, "cache-narrowed", "viewer", ["330699"])
        _, secret = create_token(conn, user.id, "narrowed")
    headers = {"authorization": f"Bearer {secret}"}
    x, y = tile_of(LON + 0.0005, LAT + 0.0005, 16)
    path = f"/tiles/parcels_status/16/{x}/{y}.mvt"
    assert len(decode(client.get(path, headers=headers).content)["parcels_status"].features) == 1
    assert client.get(path, headers=headers).headers["x-tile-cache"] == "hit"
    with engine.begin() as conn:  # moved to another county
        conn.execute(text("UPDATE app_user SET region_scope = '{330700}' WHERE id = :id"), {"id": user.id})
    narrowed = client.get(path, headers=headers)
    assert narrowed.headers["x-tile-cache"] != "hit"
    assert narrowed.status_code == 204  # the parcel lies outside the new scope: an empty tile


def test_the_version_gate_shares_one_query_among_waiting_requests(scratch: Engine) -> None:
    conninfo = scratch.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def scenario() -> tuple[list[tuple[int, int] | None], int, int]:
        gate = VersionGate(conninfo)
        try:
            first = await gate.read()
            assert first is not None
            set_status(scratch, "normal")  # committed before the next reads begin
            set_status(scratch, "planned")
            reads = await asyncio.gather(*(gate.read() for _ in range(50)))
            return reads, first[0], gate.queries
        finally:
            await gate.close()

    reads, before, queries = asyncio.run(scenario())
    assert all(r is not None and r[0] >= before + 2 for r in reads)  # none older than the writes
    assert queries <= 3  # 50 requests, at most two queries (one may have begun before the rest asked)


def test_the_version_gate_answers_none_when_the_database_is_unreachable() -> None:
    async def scenario() -> tuple[int, int] | None:
        gate = VersionGate("host=127.0.0.1 port=1 dbname=nothing connect_timeout=1", retry_s=60)
        try:
            return await gate.read()
        finally:
            await gate.close()

    assert asyncio.run(scenario()) is None


def test_the_front_door_leaves_misses_to_the_route_when_the_database_is_unreachable() -> None:
    from api.tilefast import TileMissPath
    from landgis.accounts.principal import Principal, Role
    from landgis.maps.layers import load_layers
    from landgis.maps.tiles import Tile, TileRenderer

    layer = load_layers(Settings().layers_path)["parcels_status"]
    statement, values = TileRenderer(layer).bind(Tile(16, *tile_of(LON, LAT, 16)), {})

    async def scenario() -> tuple[object, bool, bool]:
        fast = TileMissPath("host=127.0.0.1 port=1 dbname=nothing connect_timeout=1", max_size=2, wait_s=1)
        await fast.open()
        try:
            before = fast.usable()
            answer = await fast.render(
                Principal(user_id=1, username="x", role=Role.ADMIN, region_scope=None, via="token"),
                statement,
                values,
                timeout_ms=1000,
                request_id=None,
                client_addr=None,
            )
            return answer, before, fast.usable()
        finally:
            await fast.close()

    answer, before, after = asyncio.run(scenario())
    assert before and answer is None  # no tile: the route answers (with its own 503)
    assert not after  # and misses go to the route for a moment instead of waiting on the pool
