"""Contiguous blocks (连片) on a drawn fixture with known answers.

    D (0,130)                                   30 m above A
    A (0,0)  B (100,0)   C (219.5,0)             B–C gap 19.5 m
                                    E (2000,0) F (2100,0)   far away, touching each other

Every square is 100 m x 100 m = 15 亩.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, text

from landgis.candidates.selection import geojson_response, parse_request, select_candidates


def _blocks(db: Connection, ids: dict[str, int], distance: float, min_mu: float = 0) -> list[dict[str, Any]]:
    body = {
        "rules": {"rule": "industrial_land"},
        "area": {"region_code": "330699"},
        "year": 2023,
        "blocks": {"distance_m": distance, "min_block_mu": min_mu},
    }
    select_candidates(db, parse_request(body))
    names = {v: k for k, v in ids.items()}
    rows = db.execute(
        text(
            "SELECT block_id, parcel_ids, area_mu, far, mu_tax, landgis_area_m2(geom) FROM landgis_block ORDER BY block_id"
        )
    ).all()
    return [
        {
            "id": r[0],
            "members": "".join(sorted(names[p] for p in r[1])),
            "area_mu": r[2],
            "far": r[3],
            "mu_tax": r[4],
            "union_mu": r[5] * 15 / 10000,
        }
        for r in rows
    ]


@pytest.mark.parametrize(
    ("distance", "expected"),
    [
        (0, {"AB", "C", "D", "EF"}),
        (10, {"AB", "C", "D", "EF"}),
        (20, {"ABC", "D", "EF"}),
        (29, {"ABC", "D", "EF"}),
        (35, {"ABCD", "EF"}),
        (500, {"ABCD", "EF"}),
    ],
)
def test_grouping_by_distance(db: Connection, drawn: dict[str, int], distance: float, expected: set[str]) -> None:
    assert {b["members"] for b in _blocks(db, drawn, distance)} == expected


def test_block_figures_and_minimum_size(db: Connection, drawn: dict[str, int]) -> None:
    blocks = _blocks(db, drawn, 20, min_mu=40)
    assert [b["members"] for b in blocks] == ["ABC"]
    block = blocks[0]
    assert block["area_mu"] == pytest.approx(45, rel=1e-5)
    assert block["far"] == pytest.approx((1.0 + 2.0 + 0.5) / 3, rel=1e-5)  # equal areas
    assert block["mu_tax"] == pytest.approx(150 / 45, rel=1e-5)
    # the block geometry is the union of its parcels: A and B touch, C is a separate part
    assert block["union_mu"] == pytest.approx(45, rel=1e-5)
    parts = db.execute(text("SELECT ST_NumGeometries(geom) FROM landgis_block")).scalar_one()
    assert parts == 2
    in_block = db.execute(
        text(
            "SELECT count(*) FILTER (WHERE block_id = 1), count(*) FILTER (WHERE block_id IS NULL) FROM landgis_candidate"
        )
    ).one()
    assert tuple(in_block) == (3, 3)


def test_blocks_in_the_response(db: Connection, drawn: dict[str, int]) -> None:
    import json

    body = {
        "rules": {"rule": "industrial_land"},
        "area": {"region_code": "330699"},
        "year": 2023,
        "blocks": {"distance_m": 20, "min_block_mu": 20, "only_in_blocks": True},
    }
    selection = select_candidates(db, parse_request(body))
    answer = json.loads(geojson_response(db, selection))
    blocks = answer["blocks"]["features"]
    assert [sorted(f["properties"]["parcel_ids"]) for f in blocks] == [
        sorted([drawn["A"], drawn["B"], drawn["C"]]),
        sorted([drawn["E"], drawn["F"]]),
    ]
    assert blocks[0]["geometry"]["type"] == "MultiPolygon"
    # only the parcels of kept blocks; totals still count every candidate
    assert {f["properties"]["parcel_id"] for f in answer["parcels"]["features"]} == {drawn[n] for n in "ABCEF"}
    assert answer["totals"]["count"] == 6
    assert answer["totals"]["blocks"] == {"count": 2, "area_mu": pytest.approx(75, rel=1e-5), "parcels": 5}


def test_totals_and_blocks_only(db: Connection, drawn: dict[str, int]) -> None:
    import json

    body = {
        "rules": {"rule": "industrial_land"},
        "area": {"region_code": "330699"},
        "year": 2023,
        "blocks": {"distance_m": 20, "min_block_mu": 20},
        "include_parcels": False,
    }
    answer = json.loads(geojson_response(db, select_candidates(db, parse_request(body))))
    assert answer["parcels"]["features"] == []
    assert len(answer["blocks"]["features"]) == 2 and answer["totals"]["count"] == 6
