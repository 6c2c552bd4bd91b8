"""闲置土地 under 国土资源部令第53号 at its date boundaries, 五未 and the deadline list."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from landgis.db.engine import set_scope
from landgis.lifecycle import idle
from tests.conftest import ClientFactory
from tests.lifecycle.conftest import add_parcel

D = dt.date.fromisoformat


@pytest.mark.parametrize(
    ("basis", "idle_from", "recapture_from"),
    [
        ("2023-06-30", "2024-07-01", "2025-07-01"),
        ("2023-03-15", "2024-03-16", "2025-03-16"),
        # a period from 29 February ends on 28 February (no corresponding day): 民法典 第二百零二条
        ("2020-02-29", "2021-03-01", "2022-03-01"),
        ("2023-02-28", "2024-02-29", "2025-03-01"),  # the year ends on 2024-02-28; 2024 is a leap year
        ("2024-02-29", "2025-03-01", "2026-03-01"),
        ("2023-12-31", "2025-01-01", "2026-01-01"),
    ],
)
def test_one_and_two_year_thresholds(land: Connection, basis: str, idle_from: str, recapture_from: str) -> None:
    assert idle.idle_thresholds(land, D(basis)) == {"idle_from": D(idle_from), "recapture_from": D(recapture_from)}


def _idle(db: Connection, pid: int, as_of: str) -> dict[str, object] | None:
    rows = [r for r in idle.idle_land(db, as_of=D(as_of)) if r["parcel_id"] == pid]
    return rows[0] if rows else None


def test_not_started_exactly_one_year_is_not_yet_idle_one_year_and_a_day_is(land: Connection) -> None:
    pid = add_parcel(land, agreed_start_date=D("2023-03-15"), land_price_wan=432.1)
    assert _idle(land, pid, "2024-03-15") is None  # exactly one year: the period's last day
    row = _idle(land, pid, "2024-03-16")  # one year and one day
    assert row is not None
    assert (row["kind"], row["stage"], row["idle_from"], row["days_idle"]) == (
        "not_started",
        "idle",
        D("2024-03-16"),
        1,
    )
    assert row["idle_fee_wan"] == pytest.approx(86.42)  # 20 % of 432.1 万元
    assert _idle(land, pid, "2025-03-15")["stage"] == "idle"  # type: ignore[index]  # exactly two years
    assert _idle(land, pid, "2025-03-16")["stage"] == "recapture"  # type: ignore[index]


def test_leap_day_basis(land: Connection) -> None:
    pid = add_parcel(land, agreed_start_date=D("2020-02-29"))
    assert _idle(land, pid, "2021-02-28") is None
    assert _idle(land, pid, "2021-03-01") is not None
    assert _idle(land, pid, "2022-02-28")["stage"] == "idle"  # type: ignore[index]
    assert _idle(land, pid, "2022-03-01")["stage"] == "recapture"  # type: ignore[index]


def test_a_start_ends_idleness_from_its_date(land: Connection) -> None:
    pid = add_parcel(land, agreed_start_date=D("2022-01-10"), actual_start_date=D("2023-05-01"))
    assert _idle(land, pid, "2023-04-30") is not None  # idle from 2023-01-11 until it started
    assert _idle(land, pid, "2023-05-01") is None
    # Old records hold a completion but no start: the land was started.
    old = add_parcel(land, 300, agreed_start_date=D("2001-01-10"), actual_completion_date=D("2003-01-01"))
    assert _idle(land, old, "2024-01-01") is None


@pytest.mark.parametrize(
    ("developed_m2", "invested", "expected"),
    [
        (10_000 / 3, None, False),  # exactly one third developed: not 不足三分之一
        (3_333.0, None, True),  # just under one third
        (6_000.0, 250.0, False),  # a quarter invested: not 不足25%
        (6_000.0, 249.0, True),
    ],
)
def test_started_but_halted_land(land: Connection, developed_m2: float, invested: float | None, expected: bool) -> None:
    # 100 m x 100 m = 10 000 m² to develop; total investment 1 000 万元.
    pid = add_parcel(land, agreed_start_date=D("2021-01-01"), actual_start_date=D("2021-02-01"))
    land.execute(
        text(
            "INSERT INTO land_progress (parcel_id, report_date, developed_area_m2, invested_wan, total_investment_wan,"
            " halted_since) VALUES (:p, '2023-01-31', :dev, :inv, 1000, '2022-12-31')"
        ),
        {"p": pid, "dev": developed_m2, "inv": invested},
    )
    assert _idle(land, pid, "2023-12-31") is None  # halted exactly one year
    row = _idle(land, pid, "2024-01-01")
    assert (row is not None) == expected
    if row is not None:
        assert (row["kind"], row["basis_date"]) == ("halted", D("2022-12-31"))


def test_government_delay_is_idle_without_fee_or_recapture(land: Connection) -> None:
    pid = add_parcel(land, agreed_start_date=D("2020-01-01"), land_price_wan=300.0)
    land.execute(
        text("INSERT INTO land_progress (parcel_id, report_date, delay_cause) VALUES (:p, '2020-06-01', 'government')"),
        {"p": pid},
    )
    row = _idle(land, pid, "2024-01-01")
    assert row is not None
    assert (row["stage"], row["idle_fee_wan"], row["cause_label"], row["stage_label"]) == (
        "idle",
        None,
        "政府原因",
        "协商处置",
    )


def test_idle_list_respects_scope(land: Connection) -> None:
    add_parcel(land, region="330698", agreed_start_date=D("2020-01-01"))
    mine = add_parcel(land, 300, agreed_start_date=D("2020-01-01"))
    set_scope(land, ["330699"])
    assert [r["parcel_id"] for r in idle.idle_land(land, as_of=D("2024-01-01"))] == [mine]


def test_wuwei_categories(land: Connection) -> None:
    as_of = D("2024-06-30")
    not_used = add_parcel(land, 0, agreed_start_date=D("2024-06-01"))
    under_built = add_parcel(
        land,
        200,
        far=0.8,
        far_min=1.2,
        building_coverage=0.5,
        coverage_min=0.4,
        actual_completion_date=D("2022-01-01"),
        actual_production_date=D("2022-03-01"),
    )
    not_producing = add_parcel(
        land, 400, actual_completion_date=D("2023-01-01"), agreed_production_date=D("2023-06-30")
    )
    no_agreed_date = add_parcel(land, 600, actual_completion_date=D("2023-06-29"))  # + 12 months = 2024-06-29
    too_recent = add_parcel(land, 800, actual_completion_date=D("2023-07-01"))
    producing = add_parcel(land, 1000, actual_completion_date=D("2023-01-01"), actual_production_date=D("2023-05-01"))
    batch = land.execute(
        text(
            "INSERT INTO land_approval_batch (batch_no, approved_on, region_code, approved_area_mu)"
            " VALUES ('2021-浙-001', '2021-05-01', '330699', 100) RETURNING id"
        )
    ).scalar_one()
    land.execute(
        text(
            "INSERT INTO land_approval_supply (batch_id, parcel_id, supplied_area_mu, supplied_on) VALUES (:b, :p, 40, '2022-01-01')"
        ),
        {"b": batch, "p": producing},
    )
    result = {c["category"]: c for c in idle.wuwei(land, as_of=as_of)["categories"]}
    assert [p["parcel_id"] for p in result["supplied_not_used"]["parcels"]] == [not_used]
    assert result["supplied_not_used"]["parcels"][0]["detail"] == "约定开工 2024-06-01, 已逾期 29 天未开工"
    assert [p["parcel_id"] for p in result["used_not_exhausted"]["parcels"]] == [under_built]
    assert result["used_not_exhausted"]["parcels"][0]["detail"] == "容积率 0.80 低于约定下限 1.2"
    assert sorted(p["parcel_id"] for p in result["built_not_producing"]["parcels"]) == sorted(
        [not_producing, no_agreed_date]
    )
    assert too_recent not in [p["parcel_id"] for p in result["built_not_producing"]["parcels"]]
    assert result["built_not_producing"]["area_mu"] == pytest.approx(30.0, rel=1e-6)
    approved = result["approved_not_supplied"]
    assert approved["count"] == 1 and approved["area_mu"] == pytest.approx(60.0)
    assert approved["batches"][0]["supplied_mu"] == pytest.approx(40.0)


def test_deadline_list_in_buckets(land: Connection) -> None:
    as_of = D("2024-07-01")
    a = add_parcel(land, 0, agreed_completion_date=D("2024-07-11"))  # 10 days
    b = add_parcel(land, 200, agreed_production_date=D("2024-08-30"))  # 60 days
    c = add_parcel(land, 400, agreed_start_date=D("2023-12-31"), land_price_wan=50.0)  # idle from 2025-01-01: 184
    d = add_parcel(
        land,
        600,
        agreed_start_date=D("2023-08-01"),
        actual_start_date=D("2023-09-01"),
        agreed_delivery_date=D("2024-11-28"),
    )  # delivery done by the start: no item
    e = add_parcel(land, 800, agreed_start_date=D("2024-12-28"))  # start in 180 days
    result = idle.deadlines(land, as_of=as_of, within=180)
    got = [(i["parcel_id"], i["kind"], i["days_left"], i["bucket"]) for i in result["items"]]
    assert got == [
        (a, "contract_completion", 10, 30),
        (b, "contract_production", 60, 90),
        (e, "contract_start", 180, 180),
    ]
    assert d not in [i["parcel_id"] for i in result["items"]]
    assert result["counts"] == {"30": 1, "90": 2, "180": 3}
    later = idle.deadlines(land, as_of=as_of, within=200)
    idle_item = next(i for i in later["items"] if i["parcel_id"] == c and i["kind"] == "idle_from")
    assert (idle_item["due_date"], idle_item["days_left"], idle_item["amount_wan"]) == (D("2025-01-01"), 184, 10.0)
    assert idle_item["bucket"] is None


def test_idle_and_deadline_endpoints(api: TestClient, land: Connection, client_for: ClientFactory) -> None:
    pid = add_parcel(land, agreed_start_date=D("2020-01-01"), land_price_wan=100.0)
    other = add_parcel(land, 300, region="330698", agreed_start_date=D("2020-01-01"))
    assert {r["parcel_id"] for r in api.get("/idle-land?as_of=2024-01-01").json()} == {pid, other}
    viewer = client_for("viewer", ["330699"])
    body = viewer.get("/idle-land?as_of=2024-01-01").json()
    assert [r["parcel_id"] for r in body] == [pid] and body[0]["stage_label"] == "可无偿收回"
    # both agreed starts 2020-01-01 are 31 days after 2019-12-01: the 90-day bucket
    assert api.get("/deadlines?within=90&as_of=2019-12-01").json()["counts"] == {"30": 0, "90": 2, "180": 2}
    wuwei = api.get("/wuwei?as_of=2024-01-01").json()
    assert {c["label"] for c in wuwei["categories"]} == {"批而未供", "供而未用", "用而未尽", "建而未投", "投而未达"}
    progress = api.post(
        f"/parcels/{pid}/progress",
        json={"report_date": "2024-01-05", "delay_cause": "government", "user": "巡查员"},
    )
    assert progress.status_code == 201 and progress.json()["recorded_by"] == "lifecycle-admin"
    rows = api.get("/idle-land?as_of=2024-02-01").json()
    assert next(r for r in rows if r["parcel_id"] == pid)["stage_label"] == "协商处置"
    bad = api.post(f"/parcels/{pid}/progress", json={"report_date": "2024-01-05", "delay_cause": "weather"})
    assert bad.status_code == 400
    assert viewer.post(f"/parcels/{pid}/progress", json={"report_date": "2024-01-06"}).status_code == 403


def test_buildings_prove_a_start_whose_date_was_never_recorded(land: Connection) -> None:
    built = add_parcel(land, agreed_start_date=D("2001-01-10"), far=0.9)
    assert _idle(land, built, "2024-01-01") is None
    result = {c["category"]: c for c in idle.wuwei(land, as_of=D("2024-01-01"))["categories"]}
    assert built not in [p["parcel_id"] for p in result["supplied_not_used"]["parcels"]]
