"""Two counties side by side, each with a parcel, an enterprise on it and its figures: what the
region-scope tests read and try to change."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Connection, text

from tests.helpers import ewkb, gk_rect, gk_square, make_uscc


@dataclass(frozen=True)
class County:
    code: str
    parcel_id: int
    zddm: str
    enterprise_id: int
    enterprise_name: str
    uscc: str
    occupancy_id: int
    zone_id: int
    #: a CRS84 bbox holding the county's parcel (and nothing of the other county)
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class TwoCounties:
    a: County
    b: County


def _county(db: Connection, code: str, name: str, x: float, n: int) -> County:
    boundary = gk_rect(x, 0, 5_000, 5_000)
    db.execute(
        text(
            "INSERT INTO region (code, name, level, parent_code, boundary)"
            " VALUES (:c, :n, 3, '330600', ST_GeomFromEWKB(decode(:g, 'hex')))"
        ),
        {"c": code, "n": name, "g": ewkb(boundary)},
    )
    zone_id = db.execute(
        text(
            "INSERT INTO zone (code, name, zone_type, region_code, boundary)"
            " VALUES (:code, :name, 'industrial_park', :r, ST_GeomFromEWKB(decode(:g, 'hex'))) RETURNING id"
        ),
        {"code": f"Z{code}", "name": f"{name}工业园", "r": code, "g": ewkb(gk_rect(x + 100, 100, 2_000, 2_000))},
    ).scalar_one()
    zddm = f"{code}001001GB{n:05d}"
    square = gk_square(x + 500, 500, 100)  # 10,000 m² = 15 亩
    parcel_id = db.execute(
        text(
            "INSERT INTO parcel (zddm, zddm_raw, zddm_valid, region_code, zone_id, location, right_holder, geom, far)"
            " VALUES (:z, :zraw, true, :r, :zone, :loc, :holder, ST_GeomFromEWKB(decode(:g, 'hex')), 0.8) RETURNING id"
        ),
        {
            "z": zddm,
            "zraw": zddm,
            "r": code,
            "zone": zone_id,
            "loc": f"{name}工业路{n}号",
            "holder": f"{name}权利人",
            "g": ewkb(square),
        },
    ).scalar_one()
    uscc = make_uscc(n, code)
    firm = f"{name}机械有限公司"
    enterprise_id = db.execute(
        text("INSERT INTO enterprise (uscc, name, scale, region_code) VALUES (:u, :n, 'above', :r) RETURNING id"),
        {"u": uscc, "n": firm, "r": code},
    ).scalar_one()
    occupancy_id = db.execute(
        text("INSERT INTO occupancy (enterprise_id, parcel_id, land_area_mu) VALUES (:e, :p, 10) RETURNING id"),
        {"e": enterprise_id, "p": parcel_id},
    ).scalar_one()
    db.execute(
        text("INSERT INTO enterprise_year (enterprise_id, year, tax_wan) VALUES (:e, 2023, 120.0)"),
        {"e": enterprise_id},
    )
    minx, miny, maxx, maxy = square.bounds
    return County(code, parcel_id, zddm, enterprise_id, firm, uscc, occupancy_id, zone_id, (minx, miny, maxx, maxy))


@pytest.fixture
def two_counties(db: Connection) -> TwoCounties:
    """Counties A (330601) and B (330602), 10 km apart, each with one parcel, enterprise and figures."""
    return build_two_counties(db)


def build_two_counties(db: Connection) -> TwoCounties:
    db.execute(text("INSERT INTO region (code, name, level) VALUES ('330000', '浙江省', 1)"))
    db.execute(text("INSERT INTO region (code, name, level, parent_code) VALUES ('330600', '绍兴市', 2, '330000')"))
    a = _county(db, "330601", "甲县", 0, 1)
    b = _county(db, "330602", "乙县", 10_000, 2)
    return TwoCounties(a, b)
