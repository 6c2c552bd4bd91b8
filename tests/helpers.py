"""Builders for test data: valid codes, small geometries of known size, evaluation results."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import shapely
from shapely.geometry import MultiPolygon, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL

from landgis.codes import USCC_CHARSET, org_code_check_char, uscc_check_char
from landgis.db import cluster, migrate
from landgis.geo import transformer

#: CGCS2000 GK zone 40 (CM 120E) easting/northing near 120.6E, 30.0N.
GK_EAST = 558_000.0
GK_NORTH = 3_320_000.0


def make_uscc(n: int, region: str = "330699") -> str:
    """A valid 统一社会信用代码 number ``n`` (check characters computed per GB 32100 / GB 11714)."""
    body8 = f"MA{n:06d}"
    org = body8 + org_code_check_char(body8)
    first17 = "91" + region + org
    assert all(c in USCC_CHARSET for c in first17)
    return first17 + uscc_check_char(first17)


def gk_square(x: float, y: float, side: float) -> BaseGeometry:
    """A ``side`` m square at GK zone-40 (CM 120E, EPSG:4549) offsets x, y from the origin above, in EPSG:4490."""
    square = box(GK_EAST + x, GK_NORTH + y, GK_EAST + x + side, GK_NORTH + y + side)
    return shapely.transform(square, transformer(4549, 4490).transform, interleaved=False)


def gk_rect(x: float, y: float, width: float, height: float) -> BaseGeometry:
    rect = box(GK_EAST + x, GK_NORTH + y, GK_EAST + x + width, GK_NORTH + y + height)
    return shapely.transform(rect, transformer(4549, 4490).transform, interleaved=False)


def ewkb(geom: BaseGeometry) -> str:
    """Hex EWKB of a MultiPolygon in EPSG:4490, for inserts."""
    multi = geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])
    return str(shapely.to_wkb(shapely.set_srid(multi, 4490), hex=True, include_srid=True))


def add_evaluation_run(
    db: Connection,
    year: int,
    rows: list[tuple[int, str | None, float | None, float | None]],
    *,
    region_code: str | None = None,
) -> int:
    """An evaluation run of ``year`` (the newest of that year) as the evaluation module stores it,
    holding (parcel id, class, 亩均税收, 亩均增加值 in 万元/亩) rows over each parcel's own area and
    region; ``v_parcel_class`` then shows them. Returns the run's id."""
    run = db.execute(
        text(
            "INSERT INTO evaluation_run (policy_id, policy_name, policy_version, policy_sha256, policy, year,"
            " region_code, scope, inputs_sha256, enterprise_count, created_by)"
            " VALUES ('test', '测试办法', '1', repeat('0', 64), '{}', :year, :region, '', repeat('0', 64), 0, 'test')"
            " RETURNING id"
        ),
        {"year": year, "region": region_code},
    ).scalar_one()
    for parcel_id, klass, mu_tax, mu_value_added in rows:
        db.execute(
            text(
                "INSERT INTO evaluation_parcel (run_id, parcel_id, region_code, area_mu, enterprise_count,"
                " tax_wan, value_added_wan, mu_tax, mu_value_added, class)"
                " SELECT :run, id, region_code, area_mu, 1, :mt * area_mu, :mv * area_mu, :mt, :mv, :cls"
                " FROM parcel WHERE id = :id"
            ),
            {"run": run, "id": parcel_id, "mt": mu_tax, "mv": mu_value_added, "cls": klass},
        )
    return int(run)


@contextmanager
def scratch_database(admin_url: URL, name: str) -> Iterator[Engine]:
    """A migrated database of its own, for tests whose writes must really commit (other
    connections, processes or pools see them); dropped afterwards."""
    cluster.drop_database(admin_url, name)
    cluster.ensure_database(admin_url, name)
    engine = create_engine(admin_url.set(database=name))
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        cluster.drop_database(admin_url, name)
