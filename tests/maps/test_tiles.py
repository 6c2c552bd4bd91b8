"""Vector tiles: content checked against independent PostGIS queries, zoom-dependent attributes
and thinning, errors for tiles that cannot exist, gzip/ETag/Cache-Control, invalid geometries,
region scope and the statement timeout."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text

from landgis.settings import Settings
from tests.maps.conftest import WAITING_LAYER, WAITING_VIEW, tile_of
from tests.maps.mvt import decode

MVT = "application/vnd.mapbox-vector-tile"


def ids_intersecting(db: Connection, z: int, x: int, y: int, *, margin: float, min_px2: float = 0.0) -> set[int]:
    """Parcels whose geometry meets the tile (grown by ``margin`` of its width) in Web Mercator,
    keeping only those whose overlap covers at least ``min_px2`` square pixels of a 4096 grid."""
    rows = db.execute(
        text(
            "WITH t AS (SELECT ST_Expand(ST_TileEnvelope(:z, :x, :y), :grow) AS env, "
            "  (ST_XMax(ST_TileEnvelope(:z, :x, :y)) - ST_XMin(ST_TileEnvelope(:z, :x, :y))) / 4096 AS px) "
            "SELECT p.id FROM parcel p, t WHERE ST_Intersects(ST_Transform(p.geom, 3857), t.env) "
            "AND ST_Area(ST_Intersection(ST_Transform(p.geom, 3857), t.env)) >= :min_px2 * t.px * t.px"
        ),
        {"z": z, "x": x, "y": y, "grow": margin * 40075016.68557849 / 2**z, "min_px2": min_px2},
    ).scalars()
    return set(rows)


def expected_mu_tax(db: Connection) -> dict[tuple[int, int], float]:
    """亩均税收 per (parcel, year), computed in Python from the raw rows: a firm's tax of the year is
    shared among the parcels it occupies that year by the land it uses there; a parcel sums the
    shares and divides by its area in 亩."""
    import datetime as dt
    from collections import defaultdict

    area = dict(db.execute(text("SELECT id, area_mu FROM parcel")).all())
    occupancy = db.execute(
        text("SELECT enterprise_id, parcel_id, land_area_mu, valid_from, valid_to FROM occupancy")
    ).all()
    taxes = db.execute(text("SELECT enterprise_id, year, tax_wan FROM enterprise_year WHERE tax_wan IS NOT NULL")).all()
    by_firm = defaultdict(list)
    for firm, parcel, land, start, end in occupancy:
        by_firm[firm].append((parcel, land if land is not None else area[parcel], start, end))
    totals: dict[tuple[int, int], float] = defaultdict(float)
    for firm, year, tax in taxes:
        first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
        used = [
            (p, mu)
            for p, mu, start, end in by_firm[firm]
            if (start is None or start <= last) and (end is None or end >= first)
        ]
        whole = sum(mu for _, mu in used)
        for parcel, mu in used:
            totals[(parcel, year)] += tax * mu / whole
    return {key: value / area[key[0]] for key, value in totals.items()}


def get_tile(client: TestClient, path: str, **headers: str) -> dict[str, object]:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MVT
    return decode(response.content)  # type: ignore[return-value]


def test_z14_tile_holds_exactly_the_parcels_it_covers(
    maps_client: TestClient, demo_db: Connection, busy_tile: tuple[float, float]
) -> None:
    x, y = tile_of(*busy_tile, 14)
    layers = get_tile(maps_client, f"/tiles/parcels_status/14/{x}/{y}.mvt")
    layer = layers["parcels_status"]  # type: ignore[index]
    got = {f.id for f in layer.features}
    inside = ids_intersecting(demo_db, 14, x, y, margin=0, min_px2=4)
    within_buffer = ids_intersecting(demo_db, 14, x, y, margin=64 / 4096 + 0.001)
    assert len(inside) > 20
    assert inside <= got <= within_buffer
    statuses = dict(
        demo_db.execute(text("SELECT id, renewal_status FROM parcel WHERE id = ANY(:ids)"), {"ids": list(got)}).all()
    )
    for feature in layer.features:
        assert feature.properties == {"renewal_status": statuses[feature.id]}
        assert feature.type == 3  # polygon


def test_high_zoom_adds_attributes_and_ogc_url_serves_the_same_tile(
    maps_client: TestClient, demo_db: Connection, busy_tile: tuple[float, float]
) -> None:
    x, y = tile_of(*busy_tile, 16)
    layer = get_tile(maps_client, f"/tiles/parcels_status/16/{x}/{y}.mvt")["parcels_status"]  # type: ignore[index]
    codes = dict(demo_db.execute(text("SELECT id, zddm FROM parcel")).all())
    assert layer.features
    for feature in layer.features:
        assert set(feature.properties) == {"renewal_status", "zddm"}
        assert feature.properties["zddm"] == codes[feature.id]
    plain = maps_client.get(f"/tiles/parcels_status/16/{x}/{y}.mvt")
    ogc = maps_client.get(f"/collections/parcels_status/tiles/WebMercatorQuad/16/{x}/{y}")
    assert ogc.status_code == 200 and ogc.content == plain.content


def test_low_zoom_drops_parcels_under_six_pixels(
    maps_client: TestClient, demo_db: Connection, busy_tile: tuple[float, float]
) -> None:
    x, y = tile_of(*busy_tile, 11)
    layer = get_tile(maps_client, f"/tiles/parcels_status/11/{x}/{y}.mvt")["parcels_status"]  # type: ignore[index]
    # Hand calculation: a 512-px tile at z11 spans 40075016.69 / 2048 m, so one pixel is 38.22 m of
    # Web Mercator, 38.22 * cos(30.0°) = 33.1 m on the ground here; 6 px² ≈ 6574 m².
    n = 2**11
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / n))))
    threshold = 6 * (40075016.686 / n / 512 * math.cos(math.radians(lat))) ** 2
    assert 6400 < threshold < 6700
    areas = dict(demo_db.execute(text("SELECT id, area_m2 FROM parcel")).all())
    got = {f.id for f in layer.features}
    assert got and all(areas[i] >= threshold * 0.999 for i in got)
    big = {i for i in ids_intersecting(demo_db, 11, x, y, margin=0, min_px2=1) if areas[i] > threshold * 1.001}
    assert big <= got
    assert any(a < threshold for a in areas.values())  # the rule had something to drop


def test_lookup_layer_carries_mu_tax_of_the_latest_or_requested_year(
    maps_client: TestClient, demo_db: Connection, busy_tile: tuple[float, float]
) -> None:
    x, y = tile_of(*busy_tile, 15)
    expected = expected_mu_tax(demo_db)
    for query, year in (("", 2024), ("?year=2022", 2022)):
        layer = get_tile(maps_client, f"/tiles/parcels_mu_tax/15/{x}/{y}.mvt{query}")["parcels_mu_tax"]  # type: ignore[index]
        checked = 0
        for feature in layer.features:
            if (feature.id, year) in expected:
                assert feature.properties["year"] == year
                assert feature.properties["mu_tax"] == pytest.approx(expected[(feature.id, year)], rel=1e-9)
                checked += 1
        assert checked > 5


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/tiles/parcels_status/14/16384/0.mvt", 400, "超出瓦片矩阵"),
        ("/tiles/parcels_status/14/-1/0.mvt", 400, "超出瓦片矩阵"),
        ("/tiles/parcels_status/23/0/0.mvt", 400, "缩放级别 23"),
        ("/tiles/parcels_status/14/a/0.mvt", 400, "应为整数"),
        ("/tiles/parcels_status/9/400/200.mvt", 404, "11–18"),
        ("/tiles/no_such_layer/14/0/0.mvt", 404, "没有图层 no_such_layer"),
        ("/tiles/parcels_status/14/0/0.gif", 404, "不支持的瓦片格式"),
        ("/collections/parcels_status/tiles/WorldCRS84Quad/1/0/0", 404, "WebMercatorQuad"),
        ("/tiles/parcels_status/14/0/0.mvt?crs=bd09", 400, "crs"),
    ],
)
def test_impossible_tiles_answer_4xx_with_a_message(
    maps_client: TestClient, path: str, status: int, words: str
) -> None:
    response = maps_client.get(path)
    assert response.status_code == status
    assert words in response.json()["detail"]


def test_a_layer_waiting_for_its_view_is_listed_but_serves_nothing(waiting_client: TestClient) -> None:
    response = waiting_client.get(f"/tiles/{WAITING_LAYER}/14/0/0.mvt")
    assert response.status_code == 404 and WAITING_VIEW in response.json()["detail"]
    for path in (
        f"/tiles/{WAITING_LAYER}/tilejson.json",
        f"/styles/{WAITING_LAYER}.json",
        f"/collections/{WAITING_LAYER}",
    ):
        assert waiting_client.get(path).status_code == 404, path
    ids = {c["id"] for c in waiting_client.get("/collections").json()["collections"]}
    assert "parcels_status" in ids and "parcels_class" in ids and WAITING_LAYER not in ids
    listed = {layer["id"]: layer for layer in waiting_client.get("/maps/layers").json()["layers"]}
    assert not listed[WAITING_LAYER]["available"] and WAITING_VIEW in listed[WAITING_LAYER]["reason"]
    assert listed["parcels_class"]["available"]


def test_gzip_etag_and_cache_control(maps_client: TestClient, busy_tile: tuple[float, float]) -> None:
    x, y = tile_of(*busy_tile, 14)
    path = f"/tiles/parcels_status/14/{x}/{y}.mvt"
    raw = maps_client.get(path, headers={"accept-encoding": "identity"})
    zipped = maps_client.get(path, headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in raw.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == raw.content  # httpx inflates; same tile
    assert int(zipped.headers["content-length"]) < len(raw.content)
    assert raw.headers["etag"] == zipped.headers["etag"]
    assert raw.headers["cache-control"] == "no-cache"
    assert raw.headers["vary"] == "Accept-Encoding"
    again = maps_client.get(path, headers={"if-none-match": raw.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    empty = maps_client.get("/tiles/parcels_status/14/0/0.mvt")
    assert empty.status_code == 204


def test_invalid_geometries_do_not_break_a_tile(
    maps_client: TestClient, demo_db: Connection, busy_tile: tuple[float, float]
) -> None:
    lon, lat = busy_tile
    x, y = tile_of(lon, lat, 16)
    before = {
        f.id for f in get_tile(maps_client, f"/tiles/parcels_status/16/{x}/{y}.mvt?year=0")["parcels_status"].features
    }  # type: ignore[index]
    d = 0.0004
    bowtie = f"MULTIPOLYGON((({lon} {lat},{lon + d} {lat + d},{lon + d} {lat},{lon} {lat + d},{lon} {lat})))"
    twice = (
        f"MULTIPOLYGON((({lon} {lat},{lon + d} {lat},{lon + d} {lat + d},{lon} {lat + d},{lon} {lat})),"
        f"(({lon} {lat},{lon + d} {lat},{lon + d} {lat + d},{lon} {lat + d},{lon} {lat})))"
    )
    ids = []
    for wkt in (bowtie, twice):
        ids.append(
            demo_db.execute(
                text(
                    "INSERT INTO parcel (region_code, geom, renewal_status) "
                    "VALUES ('330699001', ST_GeomFromText(:wkt, 4490), 'identified') RETURNING id"
                ),
                {"wkt": wkt},
            ).scalar_one()
        )
    assert demo_db.execute(
        text("SELECT bool_or(NOT ST_IsValid(geom)) FROM parcel WHERE id = ANY(:i)"), {"i": ids}
    ).scalar()
    layer = get_tile(maps_client, f"/tiles/parcels_status/16/{x}/{y}.mvt")["parcels_status"]  # type: ignore[index]
    got = {f.id for f in layer.features}
    # The tile still holds every valid parcel and the bow-tie (drawn as its two triangles); the
    # doubled ring may cancel itself out (even-odd fill), but it never breaks the tile.
    assert before and before <= got
    assert ids[0] in got


def signed_in_as(conn: Connection, username: str, role: str, scope: list[str] | None) -> dict[str, str]:
    """The Authorization header of a new user (in the test's transaction), to send through an
    existing client: one app, one tile cache, several callers."""
    from landgis.accounts.tokens import create_token
    from landgis.accounts.users import create_user

    user = create_user(conn, username, role, scope)
    _, secret = create_token(conn, user.id, "tests")
    return {"authorization": f"Bearer {secret}"}


def test_region_scope_limits_tiles_and_splits_the_cache(
    maps_client: TestClient, demo_db: Connection, busy_tile: tuple[float, float]
) -> None:
    x, y = tile_of(*busy_tile, 13)
    path = f"/tiles/parcels_status/13/{x}/{y}.mvt"
    regions = dict(demo_db.execute(text("SELECT id, region_code FROM parcel")).all())

    def ids(response: object) -> set[int]:
        assert response.status_code == 200, response.text  # type: ignore[attr-defined]
        return {f.id for f in decode(response.content)["parcels_status"].features}  # type: ignore[attr-defined]

    first = maps_client.get(path)  # an administrator of every region
    everything = ids(first)
    assert first.headers["x-tile-cache"] == "miss"
    township = {regions[i] for i in everything}
    assert len(township) >= 2, "the test tile should straddle townships"
    chosen, other = sorted(township)[:2]
    clerk = signed_in_as(demo_db, "tiles-clerk", "viewer", [chosen])
    scoped = maps_client.get(path, headers=clerk)
    assert scoped.headers["x-tile-cache"] == "miss"  # never the administrator's entry
    assert ids(scoped) and ids(scoped) < everything
    assert all(regions[i] == chosen for i in ids(scoped))
    # A county-wide officer is scoped too: not the unrestricted administrator's entry either.
    county = signed_in_as(demo_db, "tiles-county", "officer", [chosen[:6]])
    assert maps_client.get(path, headers=county).headers["x-tile-cache"] == "miss"
    neighbour = signed_in_as(demo_db, "tiles-neighbour", "viewer", [other])
    beside = maps_client.get(path, headers=neighbour)
    assert beside.headers["x-tile-cache"] == "miss" and not ids(beside) & ids(scoped)
    assert all(regions[i] == other for i in ids(beside))

    again = maps_client.get(path)
    assert again.headers["x-tile-cache"] == "hit" and ids(again) == everything
    # Callers of the same scope see the same rows, so they share entries.
    colleague = signed_in_as(demo_db, "tiles-colleague", "viewer", [chosen])
    shared = maps_client.get(path, headers=colleague)
    assert shared.headers["x-tile-cache"] == "hit" and ids(shared) == ids(scoped)


def test_a_slow_tile_is_cut_off_by_the_statement_timeout(
    maps_settings: Settings, demo_engine: Engine, demo_db: Connection, busy_tile: tuple[float, float]
) -> None:
    from tests.conftest import api_client

    # Make the layer's source slow: a view that sleeps per row stands in for a pathological query.
    demo_db.execute(text("ALTER TABLE parcel RENAME TO parcel_real"))
    demo_db.execute(text("CREATE VIEW parcel AS SELECT p.*, pg_sleep(0.05) IS NULL AS slow FROM parcel_real p"))
    cfg = maps_settings.model_copy(update={"tile_timeout_ms": 200, "tile_cache_mb": 0})
    client_iter = api_client(cfg, demo_engine, demo_db)
    client = next(client_iter)
    try:
        x, y = tile_of(*busy_tile, 13)
        response = client.get(f"/tiles/parcels_status/13/{x}/{y}.mvt")
        assert response.status_code == 504
        assert "查询超时" in response.json()["detail"]
    finally:
        client_iter.close()


def test_tilejson_style_and_ogc_metadata(maps_client: TestClient, demo_db: Connection) -> None:
    tj = maps_client.get("/tiles/parcels_status/tilejson.json").json()
    assert tj["tilejson"] == "3.0.0"
    assert tj["tiles"] == ["http://testserver/tiles/parcels_status/{z}/{x}/{y}.mvt"]
    assert (tj["minzoom"], tj["maxzoom"]) == (11, 18)
    extent = demo_db.execute(
        text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM parcel) q")
    ).one()
    assert tj["bounds"] == pytest.approx([float(v) for v in extent], abs=1e-5)
    assert tj["vector_layers"][0]["id"] == "parcels_status"
    style = maps_client.get("/styles/parcels_status.json").json()
    assert style["version"] == 8
    assert style["sources"]["parcels_status"]["tiles"][0].endswith("/tiles/parcels_status/{z}/{x}/{y}.mvt")
    assert {layer["source-layer"] for layer in style["layers"]} == {"parcels_status"}
    assert {item["value"] for item in style["metadata"]["landgis:legend"]} >= {"normal", "identified", "exempt"}
    tileset = maps_client.get("/collections/parcels_status/tiles/WebMercatorQuad").json()
    item = next(link for link in tileset["links"] if link["rel"] == "item")
    assert item["href"].endswith("/collections/parcels_status/tiles/WebMercatorQuad/{tileMatrix}/{tileCol}/{tileRow}")
    ids = {c["id"] for c in maps_client.get("/collections").json()["collections"]}
    assert "parcels_status" in ids


def test_gcj02_tiles_are_shifted_by_about_half_a_kilometre(
    maps_client: TestClient, busy_tile: tuple[float, float]
) -> None:
    from landgis.maps import gcj02

    lon, lat = busy_tile
    dlon, dlat = gcj02.offset(lon, lat)
    shift_m = math.hypot(dlon * 111320 * math.cos(math.radians(lat)), dlat * 110540)
    assert 300 < shift_m < 800  # "offset about 0.5 km in Zhejiang"
    x, y = tile_of(lon, lat, 14)
    plain = get_tile(maps_client, f"/tiles/parcels_status/14/{x}/{y}.mvt")["parcels_status"]  # type: ignore[index]
    shifted = get_tile(maps_client, f"/tiles/parcels_status/14/{x}/{y}.mvt?crs=gcj02")["parcels_status"]  # type: ignore[index]
    assert {f.id for f in plain.features} != {f.id for f in shifted.features}


def test_layer_list_offers_local_basemaps_and_optional_online_ones(
    waiting_client: TestClient, maps_settings: Settings, demo_engine: Engine, demo_db: Connection
) -> None:
    from tests.conftest import api_client

    listing = waiting_client.get("/maps/layers").json()
    by_id = {layer["id"]: layer for layer in listing["layers"]}
    assert by_id["parcels_status"]["available"] and by_id["parcels_status"]["visible"]
    assert not by_id[WAITING_LAYER]["available"] and WAITING_VIEW in by_id[WAITING_LAYER]["reason"]
    assert [b["id"] for b in listing["basemaps"]] == ["basemap_hillshade", "basemap_terrain", "none"]
    assert all(url.startswith("http://testserver/") for b in listing["basemaps"] for url in b["tiles"])

    cfg = maps_settings.model_copy(
        update={"tianditu_key": "k123", "gcj02_basemap_url": "http://intranet/gd/{z}/{x}/{y}.png"}
    )
    clients = api_client(cfg, demo_engine, demo_db, username="test-maps-online-basemaps")
    client = next(clients)
    try:
        basemaps = {b["id"]: b for b in client.get("/maps/layers").json()["basemaps"]}
    finally:
        clients.close()
    assert "tk=k123" in basemaps["tianditu_vec"]["tiles"][0] and basemaps["tianditu_vec"]["crs"] == "wgs84"
    assert basemaps["gcj02"]["crs"] == "gcj02"
