"""Builders of small hand-made counties for evaluation, candidate and totals tests.

Parcels are GK zone-40 rectangles (metres from ``tests.helpers`` origin), so their areas are
known: 100 m x 100 m = 10 000 m² = 15 亩.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from tests.helpers import ewkb, gk_rect, make_uscc

COUNTY = "330699"
TOWNS = ("330699001", "330699002")


def county(db: Connection) -> Connection:
    """Regions 330000 > 330600 > 330699 > two townships (no boundaries needed here)."""
    db.execute(
        text(
            "INSERT INTO region (code, name, level, parent_code) VALUES ('330000', '浙江省', 1, NULL),"
            " ('330600', '绍兴市', 2, '330000'), ('330699', '示范县', 3, '330600'),"
            " ('330699001', '东湖街道', 4, '330699'), ('330699002', '城南街道', 4, '330699')"
        )
    )
    return db


def zone(db: Connection, code: str, x: float, y: float, w: float, h: float, kind: str = "industrial_park") -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO zone (code, name, zone_type, region_code, boundary)"
                " VALUES (:c, :n, :t, '330699', ST_GeomFromEWKB(decode(:g, 'hex'))) RETURNING id"
            ),
            {"c": code, "n": f"{code}园区", "t": kind, "g": ewkb(gk_rect(x, y, w, h))},
        ).scalar_one()
    )


def parcel(
    db: Connection,
    n: int,
    x: float,
    y: float,
    w: float = 100.0,
    h: float = 100.0,
    *,
    region: str = TOWNS[0],
    zone_id: int | None = None,
    **attrs: Any,
) -> int:
    """A parcel with 宗地代码 ...GB{n:05d}; ``attrs`` are parcel columns (far, far_min, dates …)."""
    columns = {
        "zddm": f"{region[:6]}001001GB{n:05d}",
        "zddm_raw": f"{region[:6]}001001GB{n:05d}",
        "zddm_valid": True,
        "region_code": region,
        "zone_id": zone_id,
        "land_use_code": "0601",
        "land_use_system": "GBT21010-2017",
        **attrs,
    }
    names = ", ".join(columns)
    values = ", ".join(f":{k}" for k in columns)
    return int(
        db.execute(
            text(
                f"INSERT INTO parcel ({names}, geom) VALUES ({values}, ST_GeomFromEWKB(decode(:g, 'hex'))) RETURNING id"
            ),
            {**columns, "g": ewkb(gk_rect(x, y, w, h))},
        ).scalar_one()
    )


def enterprise(
    db: Connection,
    n: int,
    scale: str,
    *,
    industry: str = "C3484",
    registered: dt.date = dt.date(2005, 1, 1),
    producing: dt.date | None = dt.date(2006, 1, 1),
    region: str = TOWNS[0],
) -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO enterprise (uscc, name, scale, industry_code, registration_date, production_start_date,"
                " region_code) VALUES (:u, :n, :s, :i, :r, :p, :reg) RETURNING id"
            ),
            {
                "u": make_uscc(n),
                "n": f"测试{n}号企业有限公司",
                "s": scale,
                "i": industry,
                "r": registered,
                "p": producing,
                "reg": region,
            },
        ).scalar_one()
    )


def occupy(db: Connection, enterprise_id: int, parcel_id: int, mu: float | None, tenure: str = "own") -> None:
    db.execute(
        text("INSERT INTO occupancy (enterprise_id, parcel_id, land_area_mu, tenure) VALUES (:e, :p, :m, :t)"),
        {"e": enterprise_id, "p": parcel_id, "m": mu, "t": tenure},
    )


def figures(db: Connection, enterprise_id: int, year: int, **values: float | None) -> None:
    columns = {"enterprise_id": enterprise_id, "year": year, **values}
    names = ", ".join(columns)
    db.execute(text(f"INSERT INTO enterprise_year ({names}) VALUES ({', '.join(':' + k for k in columns)})"), columns)


def flag(db: Connection, enterprise_id: int, name: str, year: int | None = None) -> None:
    db.execute(
        text("INSERT INTO enterprise_flag (enterprise_id, year, flag) VALUES (:e, :y, :f)"),
        {"e": enterprise_id, "y": year, "f": name},
    )


def parcel_area_mu(db: Connection, parcel_id: int) -> float:
    return float(db.execute(text("SELECT area_mu FROM parcel WHERE id = :i"), {"i": parcel_id}).scalar_one())
