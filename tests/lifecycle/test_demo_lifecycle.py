"""The issue's acceptance on the demo county: a parcel taken through the whole workflow over the
API changes colour and the zone totals; a 标准地 parcel below its 亩均税收 commitment is flagged
with the exact shortfall."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text


def test_every_demo_parcel_has_a_code_and_a_colour(demo_db: Connection) -> None:
    parcels, coded, coloured = demo_db.execute(
        text(
            "SELECT count(*), count(DISTINCT land_code), (SELECT count(*) FROM parcel_colour c JOIN parcel p"
            " ON p.id = c.parcel_id) FROM parcel"
        )
    ).one()
    assert parcels == coded == coloured == 400


def test_a_demo_parcel_through_the_whole_workflow(demo_client: TestClient, demo_db: Connection) -> None:
    pid, zone, area = demo_db.execute(
        text(
            "SELECT p.id, p.zone_id, p.area_mu FROM parcel p JOIN parcel_colour c ON c.parcel_id = p.id"
            " WHERE p.zone_id IS NOT NULL AND p.renewal_status = 'normal' AND c.colour = 'green'"
            " AND p.area_mu > 10 ORDER BY p.id LIMIT 1"
        )
    ).one()
    year = dt.date.today().year

    def totals() -> tuple[float, float]:
        row = demo_db.execute(
            text(
                "SELECT coalesce(sum(governed_mu), 0), coalesce(sum(freed_mu), 0) FROM v_renewal_event_area_by_year"
                " WHERE zone_id = :z AND year = :y"
            ),
            {"z": zone, "y": year},
        ).one()
        return float(row[0]), float(row[1])

    def post(to: str, **extra: object) -> dict[str, object]:
        body = {"to_status": to, "event_date": dt.date.today().isoformat(), **extra}
        response = demo_client.post(f"/parcels/{pid}/transitions", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def colour() -> str:
        return str(demo_client.get(f"/parcels/{pid}/colour").json()["colour"])

    before = totals()
    post("identified", documents=["示范县经信〔2024〕5号"])
    assert colour() == "red"  # recognised as inefficient, not yet in a plan
    post("planned", documents=["示范县政办〔2024〕18号"])
    post("in_progress", renewal_mode="acquisition")
    post("freed", renewal_mode="acquisition", documents=["收储协议"], area_mu=round(area / 2, 4))
    post("freed", renewal_mode="acquisition", documents=["补充收储协议"])  # the rest
    # events keep 4 decimals of 亩
    assert totals() == (pytest.approx(before[0] + area, abs=2e-4), pytest.approx(before[1] + area, abs=2e-4))
    post("resupplied", documents=["出让合同"])
    post("producing")
    assert colour() == "green"
    history = demo_client.get(f"/parcels/{pid}/transitions").json()
    assert [e["to_label"] for e in history["events"]] == [
        "认定低效",
        "列入计划",
        "整治中",
        "已腾出",
        "已腾出",
        "已再供应",
        "已投产",
    ]
    assert (
        demo_client.post(
            f"/parcels/{pid}/transitions", json={"to_status": "freed", "event_date": "2024-01-01"}
        ).status_code
        == 409
    )


def test_a_demo_standard_parcel_missing_its_tax_commitment(demo_client: TestClient, demo_db: Connection) -> None:
    # A producing parcel whose only occupant uses no other land and reported 2024 tax.
    row = demo_db.execute(
        text(
            """
            SELECT p.id, p.area_mu, y.tax_wan, e.uscc FROM parcel p
            JOIN occupancy o ON o.parcel_id = p.id
            JOIN enterprise e ON e.id = o.enterprise_id
            JOIN enterprise_year y ON y.enterprise_id = e.id AND y.year = 2024
            WHERE p.actual_production_date IS NOT NULL AND y.tax_wan > 0
              AND (SELECT count(*) FROM occupancy x WHERE x.parcel_id = p.id) = 1
              AND (SELECT count(*) FROM occupancy x WHERE x.enterprise_id = e.id) = 1
            ORDER BY p.id LIMIT 1
            """
        )
    ).one()
    actual = row.tax_wan / row.area_mu
    committed = round(actual + 5.0, 2)  # 5 万元/亩 short, give or take the rounding of the commitment
    created = demo_client.post(
        "/standard/agreements",
        json={
            "parcel_id": row.id,
            "enterprise_uscc": row.uscc,
            "commitments": {"mu_tax": committed},
            "review_due_date": "2025-06-30",
        },
    )
    assert created.status_code == 201, created.text
    check = demo_client.get(f"/standard/agreements/{created.json()['id']}/check").json()
    tax = check["results"][0]
    assert check["figures_year"] == 2024 and tax["status"] == "shortfall"
    assert tax["shortfall"] == pytest.approx(round(committed - round(actual, 4), 4), abs=1e-9)
    assert tax["shortfall_total_wan"] == pytest.approx(tax["shortfall"] * row.area_mu, abs=1e-3)
    wuwei = demo_client.get("/wuwei?as_of=2025-07-01").json()
    below = next(c for c in wuwei["categories"] if c["category"] == "producing_below_commitment")
    flagged = next(p for p in below["parcels"] if p["parcel_id"] == row.id)
    assert f"差 {tax['shortfall']:.2f} 万元/亩" in flagged["detail"]
