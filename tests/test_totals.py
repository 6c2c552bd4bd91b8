"""Zone totals against an independent computation from the fixture's own definitions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Connection, text

from landgis.evaluation.policy import load_policy
from landgis.evaluation.runs import run_evaluation
from landgis.lifecycle.events import TransitionRequest, apply_transition
from landgis.lifecycle.workflow import read_workflow
from landgis.totals import zone_totals
from tests import land

TODAY = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()  # China Standard Time
THIS_YEAR = TODAY.year
LAST_YEAR = THIS_YEAR - 1

# name: (zone, x, height m → 亩 = height * 100 * 15 / 10000, land use, far, scale, tax this year, tax last year)
PARCELS: dict[str, tuple[str | None, float, float, str, float | None, str | None, float | None, float | None]] = {
    "P1": ("Z1", 0, 100, "0601", 1.0, "above", 300.0, 240.0),
    "P2": ("Z1", 200, 200, "0601", 0.8, "below", 30.0, 30.0),
    "P3": ("Z1", 400, 100, "0601", 0.5, "above", 45.0, 60.0),
    "P4": ("Z1", 600, 100, "0602", 1.2, "below", 100.0, 100.0),  # mining land: not industrial
    "P5": ("Z2", 3000, 100, "0601", None, None, None, None),  # vacant, FAR unknown
    "P6": (None, 6000, 100, "100101", 2.0, "above", 600.0, 500.0),  # outside every zone
}


def _mu(height: float) -> float:
    return height * 100 * 15 / 10000


@pytest.fixture
def totals_county(db: Connection) -> dict[str, int]:
    land.county(db)
    ids = {"Z1": land.zone(db, "Z1", -100, -100, 1000, 500), "Z2": land.zone(db, "Z2", 2900, -100, 500, 500)}
    for n, (name, (zone, x, h, use, far, scale, tax, tax_before)) in enumerate(PARCELS.items(), start=1):
        ids[name] = land.parcel(
            db, n, x, 0, 100, h, zone_id=ids.get(zone) if zone else None, land_use_code=use, far=far
        )
        if scale is not None:
            firm = land.enterprise(db, n, scale)
            land.occupy(db, firm, ids[name], None)
            land.figures(db, firm, THIS_YEAR, tax_wan=tax, value_added_wan=(tax or 0) * 4, electricity_kwh=1e6)
            land.figures(
                db, firm, LAST_YEAR, tax_wan=tax_before, value_added_wan=(tax_before or 0) * 4, electricity_kwh=1e6
            )
    db.execute(
        text(
            "INSERT INTO zone_target (zone_id, metric, year_from, year_to, value) VALUES"
            " (:z, 'governed_mu', :y, :y, 40), (:z, 'freed_mu', :y0, :y9, 100), (:z, 'far_uplift', :y, :y9, 0.5),"
            " (:z, 'mu_tax_growth', :y, :y, 0.10)"
        ),
        {"z": ids["Z1"], "y": THIS_YEAR, "y0": THIS_YEAR - 1, "y9": THIS_YEAR + 3},
    )
    # this year's renewal, through the workflow: P2 is upgraded (提容增效完成, counts as 治理), P3 is
    # freed (腾出, counts as 治理 and 腾出); the steps before count for nothing. P1's FAR is raised.
    _renew(
        db, ids["P2"], ("identified", None), ("planned", None), ("in_progress", "retrofit"), ("upgraded", "retrofit")
    )
    _renew(
        db, ids["P3"], ("identified", None), ("planned", None), ("in_progress", "acquisition"), ("freed", "acquisition")
    )
    db.execute(text("UPDATE parcel SET far = 1.6 WHERE id = :p"), {"p": ids["P1"]})
    return ids


def _renew(db: Connection, parcel_id: int, *steps: tuple[str, str | None]) -> None:
    workflow = read_workflow()
    for status, mode in steps:
        request = TransitionRequest(
            to_status=status, event_date=TODAY, user="batch", renewal_mode=mode, documents=["县经信〔2024〕8号"]
        )
        apply_transition(db, workflow, parcel_id, request, today=TODAY)


def _same(got: float | None, want: float | None) -> bool:
    return (got is None and want is None) or (
        got is not None and want is not None and got == pytest.approx(want, rel=1e-5)
    )


def _expected_zone(zone: str | None) -> dict[str, Any]:
    rows = [(k, v) for k, v in PARCELS.items() if v[0] == zone and v[3] != "0602"]
    area = {k: _mu(v[2]) for k, v in rows}
    far_now = {k: (1.6 if k == "P1" else v[4]) for k, v in rows}
    occupied = sum(area[k] for k, v in rows if v[5])
    tax = sum(v[6] or 0 for _, v in rows)
    above = [(k, v) for k, v in rows if v[5] == "above"]
    above_land = sum(area[k] for k, _ in above)
    mu_above_now = sum(v[6] or 0 for _, v in above) / above_land if above_land else None
    mu_above_before = sum(v[7] or 0 for _, v in above) / above_land if above_land else None
    with_far = [k for k, _ in rows if far_now[k] is not None]
    far_area = sum(area[k] for k in with_far)
    return {
        "industrial_mu": sum(area.values()),
        "occupied_mu": occupied,
        "tax_wan": tax,
        "mu_tax": tax / occupied if occupied else None,
        "mu_tax_above": mu_above_now,
        "growth": (mu_above_now / mu_above_before - 1) if mu_above_now else None,
        "far": sum(far_now[k] * area[k] for k in with_far) / far_area if far_area else None,
        "far_start": sum(PARCELS[k][4] * area[k] for k in with_far) / far_area if far_area else None,  # type: ignore[operator]
    }


def test_zone_totals_match_an_independent_computation(db: Connection, totals_county: dict[str, int]) -> None:
    page = zone_totals(db, THIS_YEAR)
    zones = {z["code"]: z for z in page["zones"]}
    for code in ("Z1", "Z2"):
        want, got = _expected_zone(code), zones[code]
        for key in ("industrial_mu", "occupied_mu", "tax_wan", "mu_tax", "mu_tax_above", "far"):
            assert _same(got[key], want[key]), (code, key, got[key], want[key])
        assert _same(got["mu_tax_above_growth"], want["growth"])
        assert _same(got["far_start_of_year"], want["far_start"])
    outside = _expected_zone(None)
    assert page["outside_zones"]["industrial_mu"] == pytest.approx(outside["industrial_mu"], rel=1e-5)
    total_industrial = sum(_mu(v[2]) for v in PARCELS.values() if v[3] != "0602")
    assert page["total"]["industrial_mu"] == pytest.approx(total_industrial, rel=1e-5)
    z1 = zones["Z1"]
    assert z1["by_status"] == {
        "normal": pytest.approx(_mu(100), rel=1e-5),
        "freed": pytest.approx(_mu(100), rel=1e-5),
        "upgraded": pytest.approx(_mu(200), rel=1e-5),
    }
    # 治理: P2 upgraded (30 亩) and P3 freed (15 亩); 腾出: P3 (15 亩)
    assert z1["governed_mu"] == {str(THIS_YEAR): pytest.approx(_mu(300), rel=1e-5)}
    assert z1["freed_mu"] == {str(THIS_YEAR): pytest.approx(_mu(100), rel=1e-5)}
    targets = {t["metric"]: t for t in z1["targets"]}
    assert targets["governed_mu"]["progress"] == pytest.approx(_mu(300) / 40, rel=1e-5)
    assert targets["freed_mu"]["actual"] == pytest.approx(_mu(100), rel=1e-5)
    assert targets["far_uplift"]["actual"] == pytest.approx(
        _expected_zone("Z1")["far"] - _expected_zone("Z1")["far_start"], rel=1e-5
    )
    assert targets["mu_tax_growth"]["actual"] == pytest.approx(_expected_zone("Z1")["growth"], rel=1e-5)


def test_classes_come_from_the_latest_run(db: Connection, totals_county: dict[str, int]) -> None:
    run = run_evaluation(db, load_policy("huangyan-2022"), THIS_YEAR)
    classes = dict(
        db.execute(text("SELECT parcel_id, class FROM evaluation_parcel WHERE run_id = :r"), {"r": run.id}).all()
    )
    z1 = next(z for z in zone_totals(db, THIS_YEAR)["zones"] if z["code"] == "Z1")
    expected: dict[str, float] = {}
    for name in ("P1", "P2", "P3"):
        klass = classes.get(totals_county[name]) or "未评价"
        expected[klass] = expected.get(klass, 0.0) + _mu(PARCELS[name][2])
    assert {k: v for k, v in z1["by_class"].items() if v} == {
        k: pytest.approx(v, rel=1e-5) for k, v in expected.items()
    }


def test_totals_respect_the_region_scope(db: Connection, totals_county: dict[str, int]) -> None:
    from landgis.db.engine import set_scope

    db.execute(text("UPDATE parcel SET region_code = '330699002' WHERE id = :p"), {"p": totals_county["P6"]})
    set_scope(db, ["330699002"])
    page = zone_totals(db, THIS_YEAR)
    assert page["total"]["industrial_mu"] == pytest.approx(_mu(100), rel=1e-5)  # P6 only
    assert all(z["industrial_mu"] == 0 for z in page["zones"]) or not page["zones"]
    set_scope(db, None)


def test_renewal_view_sums_the_counted_renewal_events(db: Connection, totals_county: dict[str, int]) -> None:
    query = text("SELECT zone_id, year, governed_mu, freed_mu FROM v_renewal_area_by_year ORDER BY zone_id")
    rows = db.execute(query).all()
    assert [(r[0], r[1]) for r in rows] == [(totals_county["Z1"], THIS_YEAR)]
    assert rows[0][2] == pytest.approx(_mu(300), rel=1e-5)  # P2 upgraded, P3 freed
    assert rows[0][3] == pytest.approx(_mu(100), rel=1e-5)  # P3 freed
    # a revoked step counts for nothing
    db.execute(
        text("UPDATE renewal_event SET revoked_at = now(), revoked_by = 'batch' WHERE parcel_id = :p AND counts_freed"),
        {"p": totals_county["P3"]},
    )
    governed, freed = db.execute(query).one()[2:]
    assert (governed, freed) == (pytest.approx(_mu(200), rel=1e-5), 0)


def test_account_changes_leave_the_aggregates_fresh(db: Connection, totals_county: dict[str, int]) -> None:
    from landgis.accounts.tokens import create_token
    from landgis.accounts.users import create_user
    from landgis.aggregates import ensure_parcel_stats, ensure_totals

    ensure_totals(db, THIS_YEAR)
    user = create_user(db, "marks-viewer", "viewer", None)  # change_log rows of app_user, api_token
    create_token(db, user.id, "marks")
    assert ensure_parcel_stats(db, THIS_YEAR) is False
    assert ensure_totals(db, THIS_YEAR) is False
    db.execute(text("UPDATE parcel SET far = 1.5 WHERE id = :p"), {"p": totals_county["P1"]})
    assert ensure_parcel_stats(db, THIS_YEAR) is True  # a data change still makes them stale
