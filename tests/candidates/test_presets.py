"""The shipped presets against hand-labelled parcels (year 2023, reference date 2023-12-31).

Every parcel of a fixture is labelled for every preset run on it; the labels were worked out
from the preset's published definition, not from the code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Connection, text

from landgis.candidates.selection import parse_request, select_candidates
from landgis.errors import InvalidInput
from tests import land

YEAR = 2023


def _select(db: Connection, preset: str, **params: Any) -> dict[str, list[str]]:
    """zddm sequence number → reasons, for the parcels a preset selects in the county."""
    request = parse_request({"preset": preset, "params": params, "area": {"region_code": "330699"}, "year": YEAR})
    select_candidates(db, request)
    rows = db.execute(text("SELECT zddm, reasons FROM landgis_candidate ORDER BY zddm")).all()
    return {str(r[0])[-5:]: list(r[1]) for r in rows}


def _firm_on(db: Connection, n: int, x: float, scale: str, tax: float | None, *, h: float = 100, **kw: Any) -> int:
    enterprise_kw = {k: kw.pop(k) for k in ("registered", "producing", "industry") if k in kw}
    parcel_id = land.parcel(db, n, x, 0, 100, h, **kw)
    firm = land.enterprise(db, n, scale, **enterprise_kw)
    land.occupy(db, firm, parcel_id, None)
    if tax is not None:
        land.figures(db, firm, YEAR, tax_wan=tax, electricity_kwh=1e6)
    return firm


@pytest.fixture
def huzhou_county(db: Connection) -> Connection:
    land.county(db)
    _firm_on(db, 1, 0, "above", 73.5)  # H1 规上 4.9 万元/亩
    _firm_on(db, 2, 200, "above", 105)  # H2 规上 7
    _firm_on(db, 3, 400, "below", 43.5)  # H3 规下 2.9
    _firm_on(db, 4, 600, "below", 52.5)  # H4 规下 3.5 on 15 亩
    _firm_on(db, 5, 800, "below", 31.5, h=60)  # H5 规下 3.5 on 9 亩
    land.parcel(db, 6, 1000, 0)  # H6 no firm
    _firm_on(db, 7, 1200, "below", 15, registered=dt.date(2022, 3, 1))  # C1 规下 1.0, registered 2022
    _firm_on(db, 8, 1400, "below", None)  # H7 规下, 15 亩, no 2023 figures
    return db


def test_huzhou_sandi(huzhou_county: Connection) -> None:
    got = _select(huzhou_county, "huzhou-sandi")
    assert set(got) == {"00001", "00003", "00004", "00007", "00008"}
    assert got["00001"] == ["规上低税收: 规上企业亩均税收 4.90 万元/亩 < 6"]
    assert "规下企业大面积占地: 用地 15.00 亩 ≥ 10" in got["00004"]
    assert got["00008"] == ["规下企业", "规下企业大面积占地: 用地 15.00 亩 ≥ 10"]


def test_huzhou_sandi_with_parameters(huzhou_county: Connection) -> None:
    got = _select(huzhou_county, "huzhou-sandi", above_mu_tax=8, below_mu_tax=3, below_area_mu=20)
    # H2 (7 < 8) joins; H4 and H7 (15 亩 < 20) leave
    assert set(got) == {"00001", "00002", "00003", "00007"}


def test_changxing(huzhou_county: Connection) -> None:
    got = _select(huzhou_county, "changxing")
    assert set(got) == {"00001", "00003", "00004", "00005"}
    assert got["00005"] == ["注册满3年: 2005-01-01 成立", "亩均税收低: 企业亩均税收 3.50 万元/亩 < 5"]


@pytest.fixture
def jinhua_county(db: Connection) -> Connection:
    land.county(db)
    _firm_on(db, 1, 0, "below", 75, far=0.8)  # J1 容积率 0.8
    _firm_on(db, 2, 200, "above", 75, far=0.8)  # J2 规上: exempt
    _firm_on(db, 3, 400, "below", 75, far=1.2, far_min=2.5)  # J3 1.2 < 60% of 2.5
    _firm_on(db, 4, 600, "below", 75, far=1.2, far_min=1.8)  # J4 1.2 >= 60% of 1.8
    _firm_on(db, 5, 800, "below", 75, far=1.5, building_safety_grade="D")  # J5 危房
    strategic = _firm_on(db, 6, 1000, "below", 75, far=0.8)  # J6 战略性新兴产业: exempt
    land.flag(db, strategic, "strategic_emerging")
    _firm_on(db, 7, 1200, "below", 75, far=0.8, producing=dt.date(2022, 1, 1))  # J7 投产不满3年
    _firm_on(db, 8, 1400, "below", 135, far=0.9, far_min=0.8)  # J8 requirement < 1.0, 9 万元/亩
    _firm_on(db, 9, 1600, "below", 75, far=1.5, industry="C1713")  # J9 印染 (banned only when listed)
    j10 = _firm_on(db, 10, 1800, "below", 45, far=1.5, industry="C3551")  # J10 3 万元/亩
    j11 = _firm_on(db, 11, 2000, "below", 300, far=1.5, industry="C3551")  # J11 20 万元/亩
    # 2022: C35 industry average = (30 + 300) / (15 + 15) = 11 万元/亩; 40 % of it is 4.4
    land.figures(db, j10, 2022, tax_wan=30)
    land.figures(db, j11, 2022, tax_wan=300)
    return db


def test_jinhua_inefficient(jinhua_county: Connection) -> None:
    got = _select(jinhua_county, "jinhua-inefficient")
    assert set(got) == {"00001", "00003", "00005", "00010"}
    assert got["00003"] == ["容积率低于控制值: 容积率 1.20 < 0.6 × 控制值 2.50"]
    assert got["00005"] == ["危险房屋: 房屋安全等级 D 级 (JGJ 125)"]
    assert got["00010"] == ["亩均税收低于行业水平: 亩均税收 3.00 万元/亩 < 0.4 × 上年行业(C35)平均 11.00"]


def test_jinhua_with_a_banned_industry_list(jinhua_county: Connection) -> None:
    got = _select(jinhua_county, "jinhua-inefficient", banned_industries=["C17"])
    assert set(got) == {"00001", "00003", "00005", "00009", "00010"}
    assert got["00009"] == ["限制淘汰类产业: 行业代码 C1713"]


@pytest.fixture
def idle_county(db: Connection) -> Connection:
    land.county(db)
    land.parcel(db, 1, 0, 0, agreed_start_date=dt.date(2022, 6, 1))  # I1 not started, 1.6 years
    land.parcel(db, 2, 200, 0, agreed_start_date=dt.date(2021, 6, 1))  # I2 not started, 2.6 years
    land.parcel(db, 3, 400, 0, agreed_start_date=dt.date(2023, 6, 1))  # I3 not started, 0.6 years
    halted = {"actual_start_date": dt.date(2020, 1, 1), "far_min": 1.5, "agreed_completion_date": dt.date(2022, 6, 1)}
    land.parcel(db, 4, 600, 0, far=0.3, **halted)  # I4 started, 0.3 < 1.5/3, completion 1.6 years overdue
    land.parcel(db, 5, 800, 0, far=0.8, **halted)  # I5 started, 0.8 >= 1.5/3
    land.parcel(db, 6, 1000, 0, far=1.2, agreed_start_date=dt.date(2021, 1, 1))  # I6 built, dates missing
    return db


def test_idle_land_stages(idle_county: Connection) -> None:
    one = _select(idle_county, "idle-land-53")
    assert set(one) == {"00001", "00002", "00004"}
    assert one["00001"] == ["闲置土地: 约定 2022-06-01 开工, 至 2023-12-31 未动工 (满1年, 按土地价款20%征收闲置费)"]
    assert "容积率 0.30 不足约定 1.50 的1/3" in one["00004"][0]
    two = _select(idle_county, "idle-land-53", stage=2)
    assert set(two) == {"00002"}
    assert two["00002"][0].endswith("(满2年, 可无偿收回)")


@pytest.fixture
def wuwei_county(db: Connection) -> Connection:
    land.county(db)
    land.parcel(db, 1, 0, 0)  # W1 no contract, no supply, no firm: 批而未供
    supplied = {"contract_date": dt.date(2021, 1, 1), "supply_method": "transfer"}
    land.parcel(db, 2, 200, 0, agreed_start_date=dt.date(2022, 1, 1), **supplied)  # W2 供而未用
    land.parcel(
        db, 3, 400, 0, actual_completion_date=dt.date(2020, 1, 1), far=0.9, far_min=1.2, **supplied
    )  # W3 用而未尽
    land.parcel(
        db,
        4,
        600,
        0,
        actual_completion_date=dt.date(2022, 1, 1),
        agreed_production_date=dt.date(2023, 1, 1),
        far=1.5,
        **supplied,
    )  # W4 建而未投
    standard = {"is_standard_land": True, "actual_production_date": dt.date(2021, 1, 1), "far_min": 1.5, **supplied}
    _firm_on(db, 5, 800, "above", 300, far=1.6, actual_completion_date=dt.date(2020, 6, 1), **standard)  # W5 20 < 30
    _firm_on(db, 6, 1000, "above", 600, far=1.6, actual_completion_date=dt.date(2020, 6, 1), **standard)  # W6 40
    return db


def test_wuwei(wuwei_county: Connection) -> None:
    got = _select(wuwei_county, "wuwei")
    assert set(got) == {"00001", "00002", "00003", "00004", "00005"}
    assert got["00001"] == ["五未土地: 批而未供, 未签订供地合同"]
    assert got["00002"][0].startswith("五未土地: 供而未用")
    assert got["00003"][0].startswith("五未土地: 用而未尽, 容积率 0.90 (约定 ≥ 1.20)")
    assert got["00004"][0].startswith("五未土地: 建而未投")
    assert got["00005"][0].startswith("五未土地: 投而未达")
    assert set(_select(wuwei_county, "wuwei", mu_tax_commitment=15)) == {"00001", "00002", "00003", "00004"}


def test_custom_rules_compose(huzhou_county: Connection) -> None:
    body = {
        "rules": {
            "all": [
                {"rule": "mu_tax_below", "value": "$limit"},
                {"not": {"rule": "scale_is", "scale": "above"}},
                {"any": [{"rule": "area_at_least", "mu": 10}, {"rule": "registered_at_least", "years": 3}]},
            ]
        },
        "params": {"limit": 4},
        "area": {"region_code": "330699"},
        "year": YEAR,
    }
    select_candidates(huzhou_county, parse_request(body))
    rows = huzhou_county.execute(text("SELECT zddm, reasons FROM landgis_candidate ORDER BY zddm")).all()
    # 规下 below 4 万元/亩: H3 (2.9), H4 (3.5), H5 (3.5 on 9 亩, registered 2005), C1 (1.0 on 15 亩)
    assert [str(r[0])[-5:] for r in rows] == ["00003", "00004", "00005", "00007"]
    # the negated rule gives no reason; both alternatives of the "any" that hold are listed
    assert rows[0][1] == [
        "亩均税收低于阈值: 企业亩均税收 2.90 万元/亩 < 4",
        "用地面积不少于: 用地 15.00 亩 ≥ 10",
        "注册满规定年限: 2005-01-01 成立",
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rules": {"rule": "mu_tax_lower", "value": 3}}, "rules.rule"),
        ({"rules": {"any": [{"rule": "mu_tax_below", "value": "3"}]}}, "rules.any[0].value"),
        ({"rules": {"all": [{"rule": "far_below", "value": 1, "colour": "red"}]}}, "rules.all[0].colour"),
        ({"rules": {"all": []}}, "rules.all"),
        ({"rules": {"not": {"rule": "dangerous_building", "grades": ["E"]}}}, "rules.not.grades[0]"),
        ({"rules": {"rule": "mu_tax_below", "value": "$x"}}, "rules.value"),
        ({"preset": "huzhou-sandi", "params": {"above_mu_tax": "6万"}}, "params.above_mu_tax"),
        ({"preset": "huzhou-sandi", "params": {"colour": 1}}, "params.colour"),
        ({"preset": "huzhou-sandi", "area": {}}, "area"),
        ({"preset": "huzhou-sandi", "area": {"polygon": {"type": "Point", "coordinates": [120, 30]}}}, "area.polygon"),
        ({"preset": "nope"}, "preset"),
    ],
)
def test_malformed_rule_sets_are_refused_naming_the_field(db: Connection, body: dict[str, Any], field: str) -> None:
    from landgis.errors import NotFound

    land.county(db)
    request = {"area": {"region_code": "330699"}, "year": YEAR, **body}
    with pytest.raises((InvalidInput, NotFound)) as caught:
        select_candidates(db, parse_request(request))
    assert field in caught.value.message, caught.value.message
    assert db.execute(text("SELECT to_regclass('pg_temp.landgis_candidate')")).scalar() is None


def test_class_in_reads_the_latest_run(huzhou_county: Connection) -> None:
    from landgis.evaluation.policy import load_policy
    from landgis.evaluation.runs import run_evaluation

    run = run_evaluation(huzhou_county, load_policy("huangyan-2022"), YEAR)
    classes = dict(
        huzhou_county.execute(
            text(
                "SELECT p.zddm, ep.class FROM evaluation_parcel ep JOIN parcel p ON p.id = ep.parcel_id WHERE run_id = :r"
            ),
            {"r": run.id},
        ).all()
    )
    wanted = {str(z)[-5:] for z, c in classes.items() if c in ("C", "D")}
    assert wanted  # the fixture has low-tax firms
    body = {"rules": {"rule": "class_in", "classes": ["C", "D"]}, "area": {"region_code": "330699"}, "year": YEAR}
    select_candidates(huzhou_county, parse_request(body))
    rows = huzhou_county.execute(text("SELECT zddm, reasons FROM landgis_candidate")).all()
    assert {str(r[0])[-5:] for r in rows} == wanted
    assert all(r[1][0].startswith(f"亩均评价类别: 主要用地企业{YEAR}年评价为 ") for r in rows)
