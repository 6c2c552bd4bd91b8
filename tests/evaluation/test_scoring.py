"""Scoring rules on small tables worked out by hand: computed benchmarks, caps, lower-is-better,
missing-data rules, 加分/减分, 一票否决, 不定等级, segments and 出租方与承租方合并评价."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, text

from landgis.errors import InvalidInput
from landgis.evaluation.flags import load_flags
from landgis.evaluation.policy import FIGURE_FIELDS, parse_policy
from landgis.evaluation.scoring import merge_lessees, score_population
from tests import land
from tests.helpers import make_uscc


def _firm(n: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(FIGURE_FIELDS)
    row.update(
        enterprise_id=n,
        scale="below",
        industry_code="C3484",
        production_start_date=dt.date(2010, 1, 1),
        has_figures=True,
        land_mu=10.0,
        own_mu=10.0,
        zone_types=(),
        flags=(),
    )
    row.update(values)
    return row


def _policy(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "t",
        "name": "测试",
        "version": "1",
        "segments": [
            {
                "id": "all",
                "name": "全部",
                "indicators": [
                    {"indicator": "mu_tax", "weight": 50, "benchmark": "segment_weighted_mean", "cap": 1.5},
                    {"indicator": "energy_per_va", "weight": 50, "benchmark": 0.5, "direction": "lower", "cap": 2},
                ],
            }
        ],
        "classes": {"method": "thresholds", "thresholds": {"A": 100, "B": 60, "C": 30, "D": None}},
    }
    base.update(extra)
    return base


def test_benchmarks_caps_and_lower_is_better() -> None:
    frame = pd.DataFrame(
        [
            _firm(1, tax_wan=100.0, energy_tce=50.0, value_added_wan=100.0),  # 10 万元/亩, 0.5 吨/万元
            _firm(2, tax_wan=300.0, energy_tce=10.0, value_added_wan=100.0),  # 30, 0.1
            _firm(3, tax_wan=20.0, energy_tce=None, value_added_wan=100.0),  # 2, missing
        ]
    )
    scored = score_population(parse_policy(_policy()), frame, 2023)
    # weighted benchmark: (100 + 300 + 20) / 30 亩 = 14 万元/亩
    assert scored.benchmarks["all"]["mu_tax"] == pytest.approx(14.0)
    lines = scored.lines.set_index(["enterprise_id", "indicator"])
    assert lines.loc[(1, "mu_tax"), "score"] == pytest.approx(10 / 14 * 50)
    assert lines.loc[(2, "mu_tax"), "score"] == pytest.approx(75.0)  # 30/14*50 = 107.1, capped at 1.5 x 50
    assert lines.loc[(2, "mu_tax"), "note"] == "capped"
    assert lines.loc[(1, "energy_per_va"), "score"] == pytest.approx(0.5 / 0.5 * 50)  # lower is better
    assert lines.loc[(2, "energy_per_va"), "score"] == pytest.approx(100.0)  # 0.5/0.1*50 = 250, capped at 2 x 50
    assert lines.loc[(3, "energy_per_va"), "score"] == 0.0  # missing: zero
    totals = scored.results.set_index("enterprise_id")
    assert totals.loc[2, "score"] == pytest.approx(175.0) and totals.loc[2, "class"] == "A"
    assert totals.loc[3, "score"] == pytest.approx(2 / 14 * 50) and totals.loc[3, "class"] == "D"


def test_missing_penalty_adjustments_vetoes_and_exemptions() -> None:
    document = _policy(
        adjustments=[
            {"flag": "high_tech", "points": 5, "label": "高新技术企业"},
            {"flag": "safety_incident", "points": -10},
        ],
        vetoes=[
            {"flag": "major_env_incident", "class": "C"},
            {"flag": "tax_violation", "class": "D", "label": "税收违法"},
        ],
        exemptions=[
            {"label": "公用事业", "flag": "utility"},
            {"label": "投产不满2年", "producing_years_below": 2},
            {"label": "热电", "industry_prefixes": ["D44"]},
        ],
    )
    document["segments"][0]["indicators"][1].update(missing="penalty", penalty=5)
    frame = pd.DataFrame(
        [
            _firm(1, tax_wan=140.0, energy_tce=50.0, value_added_wan=100.0, flags=("high_tech",)),
            _firm(2, tax_wan=140.0, energy_tce=50.0, value_added_wan=100.0, flags=("safety_incident",)),
            _firm(
                3, tax_wan=140.0, energy_tce=50.0, value_added_wan=100.0, flags=("major_env_incident", "tax_violation")
            ),
            _firm(4, tax_wan=140.0, energy_tce=None, value_added_wan=100.0, flags=("utility",)),
            _firm(5, tax_wan=140.0, energy_tce=50.0, value_added_wan=100.0, production_start_date=dt.date(2022, 6, 1)),
            _firm(6, tax_wan=140.0, energy_tce=50.0, value_added_wan=100.0, industry_code="D4411"),
        ]
    )
    results = score_population(parse_policy(document), frame, 2023).results.set_index("enterprise_id")
    # benchmark: firms 1-3 are the population (vetoed firms count, exempt ones do not): 14 万元/亩
    base = 50 + 50  # 14/14*50 + 0.5/0.5*50
    assert results.loc[1, "score"] == pytest.approx(base + 5) and results.loc[1, "class"] == "A"
    assert results.loc[1, "notes"] == ["高新技术企业 (+5分)"]
    assert results.loc[2, "score"] == pytest.approx(base - 10) and results.loc[2, "class"] == "B"
    assert results.loc[3, "status"] == "vetoed" and results.loc[3, "class"] == "D"  # the worse of C and D
    assert pd.isna(results.loc[3, "rank"])
    assert results.loc[4, "status"] == "exempt" and results.loc[4, "class"] is None
    assert results.loc[4, "base_score"] == pytest.approx(50 - 5)  # scored for information, penalty for missing
    assert results.loc[5, "notes"] == ["投产不满2年"] and results.loc[6, "notes"] == ["热电"]
    assert list(results.loc[[1, 2], "rank"]) == [1, 2]


def test_segments_first_match_wins_and_firms_without_figures_are_skipped() -> None:
    document = _policy()
    seg = document["segments"][0]
    document["segments"] = [
        {**seg, "id": "big", "name": "≥3亩", "when": {"scale": "below", "own_land": True, "min_land_mu": 3}},
        {**seg, "id": "small", "name": "<3亩", "when": {"scale": "below", "own_land": True}},
        {**seg, "id": "tenant", "name": "租赁", "when": {"own_land": False}},
        {**seg, "id": "park", "name": "小微园", "when": {"zone_types": ["small_micro_park"]}},
    ]
    frame = pd.DataFrame(
        [
            _firm(1, tax_wan=10.0, land_mu=5.0, own_mu=5.0),
            _firm(2, tax_wan=10.0, land_mu=2.0, own_mu=2.0),
            _firm(3, tax_wan=10.0, land_mu=4.0, own_mu=0.0),
            _firm(4, tax_wan=10.0, scale="above", land_mu=4.0, own_mu=4.0, zone_types=("small_micro_park",)),
            _firm(5, scale="above", land_mu=4.0, own_mu=4.0),
            _firm(6, has_figures=False),
        ]
    )
    scored = score_population(parse_policy(document), frame, 2023)
    segments = dict(zip(scored.results["enterprise_id"], scored.results["segment"], strict=True))
    assert segments == {1: "big", 2: "small", 3: "tenant", 4: "park"}
    assert scored.skipped == {"no_figures": 1, "no_segment": 1}


def test_merge_lessees_into_the_owner() -> None:
    frame = pd.DataFrame(
        [
            _firm(1, tax_wan=100.0, electricity_kwh=1e6, land_mu=20.0, own_mu=20.0),  # owner of parcel 10
            _firm(2, tax_wan=30.0, electricity_kwh=None, land_mu=6.0, own_mu=0.0),  # leases 4 亩 on 10, 2 on 11
            _firm(3, tax_wan=50.0, land_mu=10.0, own_mu=10.0),  # owner of parcel 11
            _firm(4, tax_wan=8.0, land_mu=1.0, own_mu=0.0),  # leases on parcel 12, no owner on record
        ]
    )
    occupancy = pd.DataFrame(
        [
            (1, 10, "own", 20.0),
            (2, 10, "lease", 4.0),
            (2, 11, "lease", 2.0),
            (3, 11, "own", 10.0),
            (4, 12, "lease", 1.0),
        ],
        columns=["enterprise_id", "parcel_id", "tenure", "mu"],
    )
    merged = merge_lessees(frame, occupancy).set_index("enterprise_id")
    assert merged.loc[1, "tax_wan"] == pytest.approx(100 + 30 * 4 / 6)
    assert merged.loc[3, "tax_wan"] == pytest.approx(50 + 30 * 2 / 6)
    assert merged.loc[1, "electricity_kwh"] == pytest.approx(1e6)  # the lessee had none to add
    assert merged.loc[2, "merged_into"] == 1  # its larger landlord is reported
    assert pd.isna(merged.loc[4, "merged_into"]) and merged.loc[4, "tax_wan"] == 8.0
    document = _policy(merge_lessees_into_owner=True)
    results = score_population(parse_policy(document), merged.reset_index(), 2023).results.set_index("enterprise_id")
    assert results.loc[2, "status"] == "merged" and pd.isna(results.loc[2, "score"])
    assert results.loc[2, "notes"] == ["承租企业, 并入出租方 (企业编号 1) 合并评价"]


def test_flags_load_from_a_workbook(db: Connection, tmp_path: Path) -> None:
    land.county(db)
    first = land.enterprise(db, 1, "above")
    land.enterprise(db, 2, "below")
    good = tmp_path / "flags.csv"
    good.write_text(
        "统一社会信用代码,年度,标记,说明\n"
        f"{make_uscc(1)},2023,发生安全生产事故,3月车间火灾\n"
        f"{make_uscc(2)},,utility,自来水厂\n",
        encoding="utf-8",
    )
    assert load_flags(db, good, actor="test") == 2
    rows = db.execute(text("SELECT enterprise_id, year, flag, note FROM enterprise_flag ORDER BY id")).all()
    assert tuple(rows[0]) == (first, 2023, "safety_incident", "3月车间火灾")
    assert rows[1][1] is None and rows[1][2] == "utility"
    bad = tmp_path / "bad.csv"
    bad.write_text(f"统一社会信用代码,年度,标记\n{make_uscc(1)},2024,纵火\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="第2行 标记: 未知标记"):
        load_flags(db, bad, actor="test")
    assert db.execute(text("SELECT count(*) FROM enterprise_flag")).scalar_one() == 2
