"""The published 黄岩区 2022 formula on a hand-computed fixture, to the fourth decimal.

    规上 = 亩均税收/24.097*30 + 亩均增加值/136.16*20 + 单位能耗增加值/2.694*20
         + 单位排放增加值/4929.81*10 + 全员劳动生产率/18.14*10 + R&D占比/0.0302*10
    规下 = 亩均税收/11.5932*50 + 单位电耗税收/0.2352*50   (用电 in 万千瓦时)
    缺排放数据: 取本组该项平均得分.

The expected numbers below are the formula written out by hand on the fixture's figures, and
their values rounded to four decimals (worked out separately); the code under test is not used.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text

from landgis.errors import InvalidInput
from landgis.evaluation.policy import load_policy
from landgis.evaluation.results import compare_runs, explain, latest_enterprise_class, parcel_evaluation
from landgis.evaluation.runs import run_evaluation
from tests import land

# F1 规上, 25.94 亩 on a 30 亩 parcel
F1 = (
    845.92 / 25.94 / 24.097 * 30
    + 3715.87 / 25.94 / 136.16 * 20
    + 3715.87 / 2128.85 / 2.694 * 20
    + 3715.87 / 0.623 / 4929.81 * 10
    + 3715.87 / 312 / 18.14 * 10
    + 392.91 / 14838.98 / 0.0302 * 10
)
# F3 规上, 40 亩 on two parcels (30 + 10, 一企多地)
F3_EMISSION = 6000 / 1.5 / 4929.81 * 10
F1_EMISSION = 3715.87 / 0.623 / 4929.81 * 10
F3 = (
    1200 / 40 / 24.097 * 30
    + 6000 / 40 / 136.16 * 20
    + 6000 / 2000 / 2.694 * 20
    + F3_EMISSION
    + 6000 / 400 / 18.14 * 10
    + 200 / 20000 / 0.0302 * 10
)
# F2 规上 without emission data: that indicator scores the mean of F1's and F3's
F2 = (
    120 / 10 / 24.097 * 30
    + 900 / 10 / 136.16 * 20
    + 900 / 400 / 2.694 * 20
    + (F1_EMISSION + F3_EMISSION) / 2
    + 900 / 60 / 18.14 * 10
    + 30 / 2000 / 0.0302 * 10
)
# F4 规下, 5 亩 own; F5 规下, 8 亩 leased on F4's parcel
F4 = 70 / 5 / 11.5932 * 50 + 70 / (2_000_000 / 10_000) / 0.2352 * 50
F5 = 20 / 8 / 11.5932 * 50 + 20 / (500_000 / 10_000) / 0.2352 * 50


def _scores(db: Connection, run_id: int) -> dict[int, tuple[float, int, str, str]]:
    rows = db.execute(
        text("SELECT enterprise_id, score, rank, class, segment FROM evaluation_result WHERE run_id = :r"),
        {"r": run_id},
    ).all()
    return {int(r[0]): (float(r[1]), int(r[2]), r[3], r[4]) for r in rows}


def test_huangyan_formula_to_the_fourth_decimal(db: Connection, huangyan_county: dict[str, int]) -> None:
    ids = huangyan_county
    run = run_evaluation(db, load_policy("huangyan-2022"), 2022, actor="test")
    scores = _scores(db, run.id)
    expected = {
        "F1": (F1, 102.0307),
        "F2": (F2, 68.2054),
        "F3": (F3, 101.3478),
        "F4": (F4, 134.7850),
        "F5": (F5, 95.8162),
    }
    for name, (formula, rounded) in expected.items():
        assert round(formula, 4) == rounded  # the hand arithmetic agrees with itself
        assert scores[ids[name]][0] == pytest.approx(rounded, abs=5e-5), name
    # thresholds A >= 120, B >= 80, C >= 50; ranks within the segment
    assert {n: scores[ids[n]][1:] for n in expected} == {
        "F1": (1, "B", "above"),
        "F3": (2, "B", "above"),
        "F2": (3, "C", "above"),
        "F4": (1, "A", "below"),
        "F5": (2, "B", "below"),
    }
    assert ids["F6"] not in scores
    assert run.summary["skipped"] == {"no_figures": 1, "no_segment": 0}
    assert run.summary["segments"]["above"]["mean_scores"]["va_per_emission"] == pytest.approx(
        (F1_EMISSION + F3_EMISSION) / 2
    )


def test_indicator_lines_are_stored(db: Connection, huangyan_county: dict[str, int]) -> None:
    run = run_evaluation(db, load_policy("huangyan-2022"), 2022)
    values, scores, notes = db.execute(
        text(
            "SELECT indicator_values, indicator_scores, indicator_notes FROM evaluation_result"
            " WHERE run_id = :r AND enterprise_id = :e"
        ),
        {"r": run.id, "e": huangyan_county["F2"]},
    ).one()
    assert values[0] == pytest.approx(12.0)  # 120 万元 / 10 亩
    assert values[3] is None  # no emission figure
    assert scores[3] == pytest.approx((F1_EMISSION + F3_EMISSION) / 2)
    assert notes[3] == "missing_segment_mean"


def test_explanation_line_by_line(db: Connection, huangyan_county: dict[str, int]) -> None:
    ids = huangyan_county
    run = run_evaluation(db, load_policy("huangyan-2022"), 2022)
    lines = explain(db, run.id, ids["F3"]).lines
    kinds = [line["kind"] for line in lines]
    assert kinds[:4] == ["run", "enterprise", "segment", "land"]
    assert kinds.count("indicator") == 6
    land_line = next(line["text"] for line in lines if line["kind"] == "land")
    assert "40.0000 亩" in land_line and "330699001001GB00003 30.0000亩" in land_line
    first = next(line["text"] for line in lines if line["kind"] == "indicator")
    assert "评价税收 1,200.0000 万元 ÷ 用地面积 40.0000 亩 = 30.0000 万元/亩" in first
    assert f"= {1200 / 40 / 24.097 * 30:.4f}" in first
    assert lines[-1]["kind"] == "class" and "B类" in lines[-1]["text"]
    f2 = explain(db, run.id, ids["F2"]).text
    assert "数据缺失, 取本组该项平均得分" in f2


def test_parcel_level_sums_every_firm_on_the_parcel(db: Connection, huangyan_county: dict[str, int]) -> None:
    ids = huangyan_county
    run = run_evaluation(db, load_policy("huangyan-2022"), 2022)
    rows = {
        int(r[0]): r[1:]
        for r in db.execute(
            text(
                "SELECT parcel_id, enterprise_count, tax_wan, mu_tax, main_enterprise_id, class FROM evaluation_parcel WHERE run_id = :r"
            ),
            {"r": run.id},
        )
    }
    area_p4 = land.parcel_area_mu(db, ids["P4"])
    assert area_p4 == pytest.approx(13.0, rel=1e-5)
    # 一地多企: F4 (70) and F5 (20) on P4; the main user is F5 (8 亩 > 5 亩)
    assert rows[ids["P4"]][0] == 2
    assert rows[ids["P4"]][2] == pytest.approx(90 / area_p4)
    assert rows[ids["P4"]][3:] == (ids["F5"], "B")
    # 一企多地: F3's 1200 split 30:10 over its two parcels
    assert rows[ids["P3a"]][1] == pytest.approx(900)
    assert rows[ids["P3b"]][1] == pytest.approx(300)
    view = db.execute(
        text("SELECT class, mu_tax FROM v_parcel_class WHERE parcel_id = :p AND year = 2022"), {"p": ids["P1"]}
    ).one()
    assert view[0] == "B" and view[1] == pytest.approx(845.92 / land.parcel_area_mu(db, ids["P1"]))
    dossier = parcel_evaluation(db, ids["P4"], 2022)
    assert {e["enterprise_id"] for e in dossier["enterprises"]} == {ids["F4"], ids["F5"]}
    assert latest_enterprise_class(db, ids["F4"])["class"] == "A"


def test_rerun_on_unchanged_inputs_returns_the_stored_run(db: Connection, huangyan_county: dict[str, int]) -> None:
    policy = load_policy("huangyan-2022")
    first = run_evaluation(db, policy, 2022)
    again = run_evaluation(db, policy, 2022)
    assert again.reused and again.id == first.id
    assert again.inputs_sha256 == first.inputs_sha256 and again.policy_sha256 == policy.sha256
    db.execute(
        text("UPDATE enterprise_year SET tax_wan = 100 WHERE enterprise_id = :e AND year = 2022"),
        {"e": huangyan_county["F4"]},
    )
    changed = run_evaluation(db, policy, 2022)
    assert not changed.reused and changed.inputs_sha256 != first.inputs_sha256
    forced = run_evaluation(db, policy, 2022, force=True)
    assert forced.id != changed.id
    # the latest run of the year is the current one for the map
    assert db.execute(text("SELECT run_id FROM v_evaluation_latest_run WHERE year = 2022")).scalar_one() == forced.id


def test_year_on_year_comparison(db: Connection, huangyan_county: dict[str, int]) -> None:
    ids = huangyan_county
    policy = load_policy("huangyan-2022")
    first = run_evaluation(db, policy, 2022)
    for name in ("F1", "F2", "F3", "F4", "F5"):
        db.execute(
            text(
                "INSERT INTO enterprise_year (enterprise_id, year, tax_wan, value_added_wan, energy_tce, emissions_t,"
                " employees, rd_wan, revenue_wan, electricity_kwh) SELECT enterprise_id, 2023, tax_wan, value_added_wan,"
                " energy_tce, emissions_t, employees, rd_wan, revenue_wan, electricity_kwh FROM enterprise_year"
                " WHERE enterprise_id = :e AND year = 2022"
            ),
            {"e": ids[name]},
        )
    db.execute(
        text("UPDATE enterprise_year SET tax_wan = 10 WHERE enterprise_id = :e AND year = 2023"), {"e": ids["F4"]}
    )
    second = run_evaluation(db, policy, 2023)
    result = compare_runs(db, first.id, second.id)
    assert result["both"] == 5
    # F4: 10/5/11.5932*50 + 10/200/0.2352*50 = 43.13 + 10.63 → D (was A)
    assert result["matrix"]["A"] == {"D": 1}
    assert result["changed"] == 1
    assert result["changes"][0]["enterprise_id"] == ids["F4"]


def test_nothing_to_evaluate_is_refused_and_nothing_stored(db: Connection, huangyan_county: dict[str, int]) -> None:
    with pytest.raises(InvalidInput, match="2030"):
        run_evaluation(db, load_policy("huangyan-2022"), 2030)
    assert db.execute(text("SELECT count(*) FROM evaluation_run")).scalar_one() == 0
    assert db.execute(text("SELECT count(*) FROM evaluation_result")).scalar_one() == 0


def test_failure_mid_run_leaves_nothing(
    db: Connection, huangyan_county: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from landgis.evaluation import runs

    def broken(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("disk full")

    monkeypatch.setattr(runs, "ensure_parcel_stats", broken)
    with pytest.raises(RuntimeError):
        run_evaluation(db, load_policy("huangyan-2022"), 2022)
    assert db.execute(text("SELECT count(*) FROM evaluation_run")).scalar_one() == 0
    assert db.execute(text("SELECT count(*) FROM evaluation_result")).scalar_one() == 0


def test_deleting_a_run_deletes_its_results(db: Connection, huangyan_county: dict[str, int]) -> None:
    from landgis.evaluation.runs import delete_run

    policy = load_policy("huangyan-2022")
    first = run_evaluation(db, policy, 2022)
    second = run_evaluation(db, policy, 2022, force=True)
    delete_run(db, second.id)
    counts = db.execute(
        text(
            "SELECT (SELECT count(*) FROM evaluation_result WHERE run_id = :b),"
            " (SELECT count(*) FROM evaluation_parcel WHERE run_id = :b),"
            " (SELECT count(*) FROM evaluation_result WHERE run_id = :a)"
        ),
        {"a": first.id, "b": second.id},
    ).one()
    assert tuple(counts) == (0, 0, 5)
    # the earlier run of the year is the current one again
    assert db.execute(text("SELECT run_id FROM v_evaluation_latest_run WHERE year = 2022")).scalar_one() == first.id


def test_a_scoped_caller_evaluates_only_its_region(db: Connection, huangyan_county: dict[str, int]) -> None:
    from landgis.db.engine import set_scope
    from landgis.errors import PermissionDenied

    ids = huangyan_county
    # F4 and F5 (on P4) move to the second township
    db.execute(
        text("UPDATE enterprise SET region_code = '330699002' WHERE id = ANY(:e)"), {"e": [ids["F4"], ids["F5"]]}
    )
    db.execute(text("UPDATE parcel SET region_code = '330699002' WHERE id = :p"), {"p": ids["P4"]})
    set_scope(db, ["330699002"])
    run = run_evaluation(db, load_policy("huangyan-2022"), 2022)
    assert run.region_code == "330699002"
    evaluated = set(
        db.execute(text("SELECT enterprise_id FROM evaluation_result WHERE run_id = :r"), {"r": run.id}).scalars()
    )
    assert evaluated == {ids["F4"], ids["F5"]}
    parcels = set(
        db.execute(text("SELECT parcel_id FROM evaluation_parcel WHERE run_id = :r"), {"r": run.id}).scalars()
    )
    assert parcels == {ids["P4"]}
    with pytest.raises(PermissionDenied):
        run_evaluation(db, load_policy("huangyan-2022"), 2022, region_code="330699001")
    set_scope(db, None)
