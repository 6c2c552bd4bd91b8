"""标准地 达产复核: the shortfall per indicator, exactly, from hand-computed figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from landgis.errors import Conflict, InvalidInput
from landgis.lifecycle import idle, standard
from tests.conftest import ClientFactory
from tests.helpers import make_uscc
from tests.lifecycle.conftest import add_enterprise, add_parcel, colour_of, figures, occupy

D = dt.date.fromisoformat
COMMITMENTS = {
    "mu_tax": 30.0,
    "mu_value_added": 90.0,
    "mu_output": 500.0,
    "investment_intensity": 400.0,
    "far": 1.2,
    "energy_per_va": 0.25,
    "emissions_per_va": 0.0004,
    "rd_ratio": 0.008,
}


@pytest.fixture
def agreement(land: Connection) -> dict[str, Any]:
    """Parcel A, 200 m x 100 m = 30 亩, FAR 1.1, producing since 2021-03-01 (达产复核 2024-03-01).

    Firm 1 uses A (30 亩) and 10 亩 of parcel B: 3/4 of its figures count on A. Firm 2 leases 5 亩
    of A and has no other land: all its figures count. 2023 figures, summed on A:
    税收 0.75*800 + 150 = 750 → 25 万元/亩; 增加值 0.75*3200 + 400 = 2800 → 93.33;
    产值 0.75*12000 + 1500 = 10500 → 350; 能耗 0.75*640 + 80 = 560 → 0.2 吨/万元;
    排放 0.75*1.6 + 0.2 = 1.4 → 0.0005 吨/万元; R&D 0.75*80 + 8 = 68 / 主营收入 0.75*10000 + 1000 = 8500
    → 0.008; investment 12 000 万元 → 400 万元/亩.
    """
    a = add_parcel(land, 0, 0, 200, 100, far=1.1, actual_production_date=D("2021-03-01"))
    b = add_parcel(land, 500, 0, 100, 100)
    firm1 = add_enterprise(land, 1, "示范精工有限公司")
    firm2 = add_enterprise(land, 2, "示范电子有限公司")
    occupy(land, firm1, a)
    occupy(land, firm1, b, 10.0)
    occupy(land, firm2, a, 5.0, tenure="lease")
    figures(
        land,
        firm1,
        2023,
        tax_wan=800,
        value_added_wan=3200,
        output_wan=12000,
        energy_tce=640,
        emissions_t=1.6,
        rd_wan=80,
        revenue_wan=10000,
    )
    figures(
        land,
        firm2,
        2023,
        tax_wan=150,
        value_added_wan=400,
        output_wan=1500,
        energy_tce=80,
        emissions_t=0.2,
        rd_wan=8,
        revenue_wan=1000,
    )
    land.execute(
        text("INSERT INTO land_progress (parcel_id, report_date, invested_wan) VALUES (:p, '2023-06-30', 12000)"),
        {"p": a},
    )
    created = standard.create_agreement(
        land, parcel_id=a, commitments_in=COMMITMENTS, enterprise_uscc=make_uscc(1), agreement_no="BZD-2020-07"
    )
    return {"parcel": a, "other": b, "firm2": firm2, **created}


def by_indicator(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["indicator"]: r for r in result["results"]}


def test_shortfall_per_indicator_exactly(land: Connection, agreement: dict[str, Any]) -> None:
    assert agreement["review_due_date"] == D("2024-03-01")
    result = standard.check(land, agreement["id"])
    assert result["figures_year"] == 2023 and result["land_mu"] == pytest.approx(30.0, abs=1e-4)
    r = by_indicator(result)
    tax = r["mu_tax"]
    assert (tax["status"], tax["actual"], tax["shortfall"], tax["shortfall_ratio"], tax["shortfall_total_wan"]) == (
        "shortfall",
        25.0,
        5.0,
        0.1667,
        150.0,
    )
    assert (r["mu_output"]["shortfall"], r["mu_output"]["shortfall_total_wan"]) == (150.0, 4500.0)
    assert (r["far"]["status"], r["far"]["actual"], r["far"]["shortfall"]) == ("shortfall", 1.1, 0.1)
    assert (r["emissions_per_va"]["actual"], r["emissions_per_va"]["shortfall"]) == (0.0005, 0.0001)
    assert r["mu_value_added"]["status"] == "met" and r["mu_value_added"]["actual"] == 93.3333
    assert r["energy_per_va"]["status"] == "met" and r["energy_per_va"]["actual"] == 0.2
    # exactly at the commitment counts as met
    assert (r["investment_intensity"]["status"], r["investment_intensity"]["actual"]) == ("met", 400.0)
    assert (r["rd_ratio"]["status"], r["rd_ratio"]["actual"]) == ("met", 0.008)
    assert result["outcome"] == "failed"
    assert result["summary"].startswith(
        "亩均税收 承诺≥30 万元/亩, 实际 25.00 万元/亩, 差 5.00 万元/亩 (合计 150.00 万元)"
    )
    assert {e["name"]: e["share"] for e in result["enterprises"]} == {"示范精工有限公司": 0.75, "示范电子有限公司": 1.0}


def test_missing_figures_are_not_a_pass(land: Connection, agreement: dict[str, Any]) -> None:
    land.execute(
        text("UPDATE enterprise_year SET energy_tce = NULL WHERE enterprise_id = :e"), {"e": agreement["firm2"]}
    )
    r = by_indicator(standard.check(land, agreement["id"]))
    assert r["energy_per_va"]["status"] == "missing"
    assert "缺企业填报" in r["energy_per_va"]["note"]
    no_figures = standard.check(land, agreement["id"], year=2022)  # no 2022 figures at all
    assert by_indicator(no_figures)["mu_tax"]["status"] == "missing"
    assert by_indicator(no_figures)["investment_intensity"]["status"] == "missing"  # reported in 2023 only
    assert no_figures["outcome"] == "failed"  # the FAR shortfall stands
    passing_far = standard.check(land, agreement["id"], year=2022, overrides={"far": 1.2})
    assert passing_far["outcome"] == "incomplete"
    assert passing_far["summary"].startswith("数据不全: 亩均税收、亩均增加值")


def test_overrides_replace_what_the_database_lacks(land: Connection, agreement: dict[str, Any]) -> None:
    result = standard.check(land, agreement["id"], overrides={"far": 1.25, "mu_output": 520})
    r = by_indicator(result)
    assert (r["far"]["status"], r["far"]["source"]) == ("met", "人工录入 (override)")
    assert r["mu_output"]["status"] == "met"
    with pytest.raises(InvalidInput, match="未知指标 mu_profit"):
        standard.check(land, agreement["id"], overrides={"mu_profit": 1})


def test_recorded_review_outcome_action_and_colour(land: Connection, agreement: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match="处置措施"):
        standard.record_review(land, agreement["id"], reviewed_on=D("2024-03-10"), reviewer="复核组", action="jail")
    review = standard.record_review(
        land,
        agreement["id"],
        reviewed_on=D("2024-03-10"),
        reviewer="复核组",
        action="penalty",
        action_note="按协议支付违约金",
        penalty_wan=150.0,
    )
    assert (review["outcome"], review["action_label"]) == ("failed", "支付违约金")
    stored = land.execute(
        text("SELECT outcome, figures_year, results -> 'results' FROM standard_review WHERE id = :id"),
        {"id": review["review_id"]},
    ).one()
    assert stored[0] == "failed" and stored[1] == 2023
    assert next(r for r in stored[2] if r["indicator"] == "mu_tax")["shortfall"] == 5.0
    colour, rules = colour_of(land, agreement["parcel"])
    assert colour == "red" and "review_failed" in rules
    detail = standard.agreement_detail(land, agreement["id"])
    assert [m["label"] for m in detail["milestones"]] == ["交地", "开工", "竣工", "投产", "达产复核 (投产后36个月)"]
    assert detail["reviews"][0]["penalty_wan"] == 150.0
    with pytest.raises(InvalidInput, match="复核达标时不应"):
        standard.record_review(
            land,
            agreement["id"],
            reviewed_on=D("2024-03-11"),
            reviewer="复核组",
            overrides={"mu_tax": 31, "mu_output": 520, "far": 1.3, "emissions_per_va": 0.0003},
            action="penalty",
        )


def test_producing_below_commitment_in_the_wuwei_list(land: Connection, agreement: dict[str, Any]) -> None:
    before = {c["category"]: c for c in idle.wuwei(land, as_of=D("2024-02-29"))["categories"]}
    assert before["producing_below_commitment"]["count"] == 0  # not yet due
    after = {c["category"]: c for c in idle.wuwei(land, as_of=D("2024-03-01"))["categories"]}
    flagged = after["producing_below_commitment"]["parcels"]
    assert [p["parcel_id"] for p in flagged] == [agreement["parcel"]]
    assert (
        "未复核, 按2023年数据测算: 亩均税收 承诺≥30 万元/亩, 实际 25.00 万元/亩, 差 5.00 万元/亩"
        in flagged[0]["detail"]
    )


def test_one_agreement_per_parcel_and_valid_indicators(land: Connection, agreement: dict[str, Any]) -> None:
    with pytest.raises(Conflict, match="已有标准地协议"):
        standard.create_agreement(land, parcel_id=agreement["parcel"], commitments_in={"mu_tax": 1})
    with pytest.raises(InvalidInput, match="未知指标 'mu_profit'"):
        standard.create_agreement(land, parcel_id=agreement["other"], commitments_in={"mu_profit": 1})
    with pytest.raises(InvalidInput, match="统一社会信用代码无效"):
        standard.create_agreement(
            land, parcel_id=agreement["other"], commitments_in={"mu_tax": 1}, enterprise_uscc="91330699MA0000010X"
        )


def test_standard_endpoints(
    api: TestClient, land: Connection, agreement: dict[str, Any], client_for: ClientFactory
) -> None:
    check = api.get(f"/standard/agreements/{agreement['id']}/check").json()
    tax = next(r for r in check["results"] if r["indicator"] == "mu_tax")
    assert (tax["shortfall"], tax["shortfall_total_wan"]) == (5.0, 150.0)
    assert api.get(f"/parcels/{agreement['parcel']}/standard").json()["agreement_no"] == "BZD-2020-07"
    listed = api.get("/standard/agreements").json()
    assert [a["land_code"] for a in listed] == [agreement["land_code"]]
    neighbour = client_for("officer", ["330698"])
    assert neighbour.get(f"/standard/agreements/{agreement['id']}/check").status_code == 404
    new = add_parcel(land, 900, 0)
    created = api.post("/standard/agreements", json={"parcel_id": new, "commitments": {"mu_tax": 23.08}})
    assert created.status_code == 201 and created.json()["commitments"][0]["label"] == "亩均税收"
    reviewed = api.post(
        f"/standard/agreements/{agreement['id']}/reviews",
        json={"reviewed_on": "2024-03-10", "action": "rectify", "reviewer": "复核组"},
    )
    assert reviewed.status_code == 201 and reviewed.json()["outcome"] == "failed"
    reviewer = land.execute(
        text("SELECT reviewer FROM standard_review WHERE id = :id"), {"id": reviewed.json()["review_id"]}
    ).scalar_one()
    assert reviewer == "lifecycle-admin"  # the signed-in user, not the name in the body
    viewer = client_for("viewer", ["330699"])
    assert viewer.get(f"/standard/agreements/{agreement['id']}").status_code == 200
    refused = viewer.post(f"/standard/agreements/{agreement['id']}/reviews", json={"reviewed_on": "2024-03-11"})
    assert refused.status_code == 403
