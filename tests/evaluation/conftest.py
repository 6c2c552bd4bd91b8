"""The hand-computed 黄岩 fixture shared by the evaluation tests."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection

from tests import land


@pytest.fixture
def huangyan_county(db: Connection) -> dict[str, int]:
    land.county(db)
    ids: dict[str, int] = {}
    ids["P1"] = land.parcel(db, 1, 0, 0, 100, 200)  # 30 亩
    ids["P2"] = land.parcel(db, 2, 200, 0, 100, 200 / 3)  # 10 亩
    ids["P3a"] = land.parcel(db, 3, 400, 0, 100, 200)  # 30 亩
    ids["P3b"] = land.parcel(db, 4, 600, 0, 100, 200 / 3)  # 10 亩
    ids["P4"] = land.parcel(db, 5, 800, 0, 100, 260 / 3)  # 13 亩
    ids["F1"] = land.enterprise(db, 1, "above")
    ids["F2"] = land.enterprise(db, 2, "above")
    ids["F3"] = land.enterprise(db, 3, "above")
    ids["F4"] = land.enterprise(db, 4, "below")
    ids["F5"] = land.enterprise(db, 5, "below")
    ids["F6"] = land.enterprise(db, 6, "below")  # no 2022 figures: not evaluated
    land.occupy(db, ids["F1"], ids["P1"], 25.94)
    land.occupy(db, ids["F2"], ids["P2"], None)  # the whole parcel
    land.occupy(db, ids["F3"], ids["P3a"], 30)
    land.occupy(db, ids["F3"], ids["P3b"], 10)
    land.occupy(db, ids["F4"], ids["P4"], 5)
    land.occupy(db, ids["F5"], ids["P4"], 8, tenure="lease")
    land.occupy(db, ids["F6"], ids["P2"], 1, tenure="lease")
    full = ("tax_wan", "value_added_wan", "energy_tce", "emissions_t", "employees", "rd_wan", "revenue_wan")
    for name, values in (
        ("F1", (845.92, 3715.87, 2128.85, 0.623, 312, 392.91, 14838.98)),
        ("F2", (120, 900, 400, None, 60, 30, 2000)),
        ("F3", (1200, 6000, 2000, 1.5, 400, 200, 20000)),
    ):
        land.figures(db, ids[name], 2022, **dict(zip(full, values, strict=True)))
    land.figures(db, ids["F4"], 2022, tax_wan=70, electricity_kwh=2_000_000)
    land.figures(db, ids["F5"], 2022, tax_wan=20, electricity_kwh=500_000)
    return ids
