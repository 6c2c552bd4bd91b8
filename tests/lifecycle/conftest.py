"""Fixtures for the life-cycle tests: two counties, parcels of known size, a signed-in API client."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from tests.conftest import ClientFactory
from tests.helpers import add_evaluation_run, ewkb, gk_rect, make_uscc

#: 100 m x 100 m in the GK zone is exactly 15 亩.
MU_PER_HECTARE = 15.0


@pytest.fixture
def land(db: Connection) -> Connection:
    """Regions 330000 > 330600 > 330699 (示范县) > 330699001 (兴业镇), and 330698 (邻县)."""
    db.execute(
        text(
            "INSERT INTO region (code, name, level, parent_code) VALUES"
            " ('330000', '浙江省', 1, NULL), ('330600', '绍兴市', 2, '330000'),"
            " ('330699', '示范县', 3, '330600'), ('330698', '邻县', 3, '330600'),"
            " ('330699001', '兴业镇', 4, '330699')"
        )
    )
    return db


def add_zone(db: Connection, code: str, x: float, y: float, w: float, h: float, region: str = "330699") -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO zone (code, name, zone_type, region_code, boundary)"
                " VALUES (:code, :name, 'industrial_park', :region, ST_GeomFromEWKB(decode(:g, 'hex'))) RETURNING id"
            ),
            {"code": code, "name": f"{code}园区", "region": region, "g": ewkb(gk_rect(x, y, w, h))},
        ).scalar_one()
    )


def add_parcel(
    db: Connection,
    x: float = 0,
    y: float = 0,
    w: float = 100,
    h: float = 100,
    *,
    region: str = "330699001",
    zddm: str | None = None,
    **columns: Any,
) -> int:
    """A w x h metre rectangle at GK offsets (x, y); other parcel columns by keyword."""
    names = ["region_code", "geom", "zddm", "zddm_raw", "zddm_valid", *columns]
    values = [
        ":region",
        "ST_GeomFromEWKB(decode(:g, 'hex'))",
        ":zddm",
        ":zddm_raw",
        ":valid",
        *(f":{c}" for c in columns),
    ]
    params = {
        "region": region,
        "g": ewkb(gk_rect(x, y, w, h)),
        "zddm": zddm,
        "zddm_raw": zddm,
        "valid": zddm is not None,
        **columns,
    }
    sql = f"INSERT INTO parcel ({', '.join(names)}) VALUES ({', '.join(values)}) RETURNING id"
    return int(db.execute(text(sql), params).scalar_one())


def add_enterprise(db: Connection, n: int, name: str | None = None, **columns: Any) -> int:
    names = ["uscc", "name", "region_code", *columns]
    params = {"uscc": make_uscc(n), "name": name or f"示范企业{n}有限公司", "region_code": "330699", **columns}
    sql = f"INSERT INTO enterprise ({', '.join(names)}) VALUES ({', '.join(':' + c for c in names)}) RETURNING id"
    return int(db.execute(text(sql), params).scalar_one())


def occupy(db: Connection, enterprise_id: int, parcel_id: int, area_mu: float | None = None, **columns: Any) -> None:
    names = ["enterprise_id", "parcel_id", "land_area_mu", *columns]
    params = {"enterprise_id": enterprise_id, "parcel_id": parcel_id, "land_area_mu": area_mu, **columns}
    db.execute(text(f"INSERT INTO occupancy ({', '.join(names)}) VALUES ({', '.join(':' + c for c in names)})"), params)


def figures(db: Connection, enterprise_id: int, year: int, **values: float) -> None:
    names = ["enterprise_id", "year", *values]
    params = {"enterprise_id": enterprise_id, "year": year, **values}
    db.execute(
        text(f"INSERT INTO enterprise_year ({', '.join(names)}) VALUES ({', '.join(':' + c for c in names)})"), params
    )


def record_classes(db: Connection, rows: list[tuple[int, int, str, float, float]]) -> None:
    """亩均评价 results as a run of the evaluation stores them: for each year, a new run (so the
    newest of that year) with each listed parcel's class, 亩均税收 and 亩均增加值 (万元/亩).

    ``rows`` are (parcel id, year, class, mu_tax, mu_value_added); ``v_parcel_class`` then shows them.
    """
    for year in sorted({r[1] for r in rows}):
        add_evaluation_run(db, year, [(pid, klass, mt, mv) for pid, y, klass, mt, mv in rows if y == year])


def colour_of(db: Connection, parcel_id: int) -> tuple[str, list[str]]:
    colour, reasons = db.execute(
        text("SELECT colour, reasons FROM parcel_colour WHERE parcel_id = :id"), {"id": parcel_id}
    ).one()
    return colour, [r["rule"] for r in reasons]


@pytest.fixture
def api(land: Connection, client_for: ClientFactory) -> TestClient:
    """The service on ``land``, signed in as an administrator of every region (API token).
    ``client_for(role, scope)`` gives clients of other roles and region scopes on it."""
    return client_for("admin", None, username="lifecycle-admin")
