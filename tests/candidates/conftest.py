"""The drawn block fixture shared by the candidate tests (see test_blocks.py for the picture)."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection

from tests import land

LAYOUT = {"A": (0, 0), "B": (100, 0), "C": (219.5, 0), "D": (0, 130), "E": (2000, 0), "F": (2100, 0)}
FAR = {"A": 1.0, "B": 2.0, "C": 0.5, "D": 1.0, "E": 1.0, "F": 1.0}


@pytest.fixture
def drawn(db: Connection) -> dict[str, int]:
    land.county(db)
    ids = {name: land.parcel(db, n, x, y, far=FAR[name]) for n, (name, (x, y)) in enumerate(LAYOUT.items(), start=1)}
    firm = land.enterprise(db, 1, "below")
    land.occupy(db, firm, ids["A"], None)
    land.figures(db, firm, 2023, tax_wan=150)
    return ids
