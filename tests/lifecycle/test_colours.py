"""一码管地 colours: each rule, red over yellow over green with reasons, configuration, triggers, scope."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from landgis.db.engine import set_scope
from landgis.errors import InvalidInput
from landgis.lifecycle import colours
from tests.conftest import ClientFactory
from tests.lifecycle.conftest import add_parcel, colour_of, record_classes

AS_OF = dt.date(2024, 7, 1)


def refresh(db: Connection, *ids: int, as_of: dt.date = AS_OF) -> None:
    colours.refresh(db, as_of=as_of, parcel_ids=list(ids))


def reasons_of(db: Connection, pid: int) -> list[str]:
    return [r["reason"] for r in colours.colour_of(db, pid)["reasons"]]


def classes(db: Connection, rows: list[tuple[int, int, str]]) -> None:
    """Evaluation runs classing these (parcel, year) pairs (亩均 figures do not matter here)."""
    record_classes(db, [(pid, year, klass, 10.0, 50.0) for pid, year, klass in rows])


def test_packaged_rules_equal_the_rules_the_migration_seeds(land: Connection) -> None:
    seeded = [
        {k: r[k] for k in ("code", "kind", "colour", "label", "enabled", "params")} for r in colours.list_rules(land)
    ]
    assert colours.parse_rules({"rules": seeded}, "database") == colours.read_rules()


def test_a_parcel_no_rule_matches_is_green_with_a_reason(land: Connection) -> None:
    pid = add_parcel(land)
    refresh(land, pid)
    assert colour_of(land, pid) == ("green", ["none"])
    assert reasons_of(land, pid) == ["无红色或黄色预警事项"]


def test_idle_land_is_red_from_one_year_and_one_day(land: Connection) -> None:
    # agreed start 2023-06-30: 满一年 at the end of 2024-06-30, idle from 2024-07-01.
    pid = add_parcel(land, agreed_start_date=dt.date(2023, 6, 30), land_price_wan=150.0)
    refresh(land, pid, as_of=dt.date(2024, 6, 30))
    assert "idle_land" not in colour_of(land, pid)[1]
    refresh(land, pid, as_of=dt.date(2024, 7, 1))
    assert colour_of(land, pid)[0] == "red"
    assert reasons_of(land, pid)[0] == (
        "约定开工日期 2023-06-30, 满一年未动工, 自 2024-07-01 起闲置; 应征闲置费 30.00 万元 (土地价款的20%)"
    )
    refresh(land, pid, as_of=dt.date(2025, 7, 1))
    assert "已满两年 (2025-07-01 起), 可无偿收回" in reasons_of(land, pid)[0]


def test_idle_rule_skips_freed_and_exempt_land(land: Connection) -> None:
    pid = add_parcel(land, agreed_start_date=dt.date(2020, 1, 1), renewal_status="exempt")
    refresh(land, pid)
    assert colour_of(land, pid) == ("green", ["none"])


def test_class_rules_read_the_latest_evaluation_and_are_silent_without_one(land: Connection) -> None:
    d_now = add_parcel(land, 0)
    c_now = add_parcel(land, 200)
    d_last_year = add_parcel(land, 400)
    d_exempt = add_parcel(land, 600, renewal_status="exempt")
    ids = (d_now, c_now, d_last_year, d_exempt)
    refresh(land, *ids)
    assert {colour_of(land, p)[0] for p in ids} == {"green"}

    classes(
        land,
        [(d_now, 2023, "B"), (d_now, 2024, "D"), (c_now, 2024, "C"), (d_last_year, 2023, "D"), (d_exempt, 2024, "D")],
    )
    refresh(land, *ids)
    assert colour_of(land, d_now) == ("red", ["class_d"])
    assert reasons_of(land, d_now) == ["2024年度亩均效益综合评价 D 类"]
    assert colour_of(land, c_now) == ("yellow", ["class_c"])
    assert colour_of(land, d_last_year) == ("green", ["none"])  # the latest evaluation year is 2024
    assert colour_of(land, d_exempt) == ("green", ["none"])

    # a newer run of 2024 replaces the classes of the earlier one
    classes(land, [(d_now, 2024, "D"), (c_now, 2024, "B"), (d_exempt, 2024, "D")])
    refresh(land, *ids)
    assert colour_of(land, d_now) == ("red", ["class_d"])
    assert colour_of(land, c_now) == ("green", ["none"])


def test_identified_and_not_in_a_plan_is_red(land: Connection) -> None:
    pid = add_parcel(land, renewal_status="identified")
    land.execute(
        text(
            "INSERT INTO renewal_event (parcel_id, from_status, to_status, event_date, area_mu, recorded_by)"
            " VALUES (:id, 'normal', 'identified', '2024-06-21', 15, 'test')"
        ),
        {"id": pid},
    )
    refresh(land, pid)
    assert colour_of(land, pid) == ("red", ["identified_not_planned"])
    assert reasons_of(land, pid) == ["更新状态: 认定低效 (自 2024-06-21, 已 10 天)"]
    land.execute(text("UPDATE parcel SET renewal_status = 'planned' WHERE id = :id"), {"id": pid})
    refresh(land, pid)
    assert colour_of(land, pid)[0] == "green"


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"agreed_completion_date": dt.date(2024, 8, 15)}, "约定竣工日期 2024-08-15, 还有 45 天"),
        ({"agreed_production_date": dt.date(2024, 9, 29)}, "约定投产日期 2024-09-29, 还有 90 天"),
        ({"agreed_production_date": dt.date(2024, 9, 30)}, None),  # 91 days
        ({"agreed_start_date": dt.date(2024, 6, 21)}, "约定开工日期 2024-06-21, 已逾期 10 天"),
        ({"agreed_delivery_date": dt.date(2024, 7, 1)}, "约定交地日期 2024-07-01, 今日到期"),
        ({"agreed_completion_date": dt.date(2023, 6, 30)}, None),  # overdue 367 days: no longer a deadline
        # done: a later milestone's actual date proves the earlier one
        ({"agreed_completion_date": dt.date(2024, 8, 1), "actual_production_date": dt.date(2024, 5, 1)}, None),
        ({"agreed_start_date": dt.date(2024, 8, 1), "actual_start_date": dt.date(2024, 6, 1)}, None),
    ],
)
def test_contract_deadline_within_ninety_days_is_yellow(
    land: Connection, columns: dict[str, dt.date], expected: str | None
) -> None:
    pid = add_parcel(land, **columns)
    refresh(land, pid)
    if expected is None:
        assert colour_of(land, pid) == ("green", ["none"])
    else:
        assert colour_of(land, pid) == ("yellow", ["contract_deadline"])
        assert reasons_of(land, pid) == [expected]


def _agreement(db: Connection, pid: int, **columns: object) -> int:
    names = ["parcel_id", *columns]
    return int(
        db.execute(
            text(
                f"INSERT INTO standard_agreement ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"
                " RETURNING id"
            ),
            {"parcel_id": pid, **columns},
        ).scalar_one()
    )


def test_review_due_is_yellow_and_a_failed_review_is_red(land: Connection) -> None:
    # 投产 2021-08-15 + 36 months = 达产复核 2024-08-15, 45 days after AS_OF.
    pid = add_parcel(land, actual_production_date=dt.date(2021, 8, 15), is_standard_land=True)
    agreement = _agreement(land, pid)
    refresh(land, pid)
    assert colour_of(land, pid) == ("yellow", ["review_due"])
    assert reasons_of(land, pid) == ["达产复核应于 2024-08-15 进行, 还有 45 天"]
    land.execute(
        text(
            "INSERT INTO standard_review (agreement_id, figures_year, reviewed_on, outcome, results, reviewer)"
            " VALUES (:a, 2023, '2024-06-20', 'failed', CAST(:r AS jsonb), '复核组')"
        ),
        {"a": agreement, "r": '{"summary": "亩均税收 差 5.00 万元/亩"}'},
    )
    refresh(land, pid)
    assert colour_of(land, pid) == ("red", ["review_failed"])
    assert reasons_of(land, pid) == ["2023年度数据达产复核 (2024-06-20) 未达标: 亩均税收 差 5.00 万元/亩"]


def test_red_wins_and_every_reason_is_kept_red_first(land: Connection) -> None:
    pid = add_parcel(land, agreed_start_date=dt.date(2022, 1, 1), agreed_completion_date=dt.date(2024, 8, 1))
    classes(land, [(pid, 2024, "C")])
    refresh(land, pid)
    colour, rules = colour_of(land, pid)
    assert colour == "red"
    assert rules == ["idle_land", "class_c", "contract_deadline"]


def test_a_county_rule_file_changes_colours(land: Connection, tmp_path: Path) -> None:
    pid = add_parcel(land)
    classes(land, [(pid, 2024, "C")])
    refresh(land, pid)
    assert colour_of(land, pid)[0] == "yellow"
    rules = [r.model_dump() for r in colours.read_rules()]
    next(r for r in rules if r["code"] == "class_c")["colour"] = "red"
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": rules}, allow_unicode=True), encoding="utf-8")
    changed = colours.apply_rules(land, colours.read_rules(path), as_of=AS_OF)
    assert changed >= 1
    assert colour_of(land, pid) == ("red", ["class_c"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r[1]["params"].update(classes=["E"]), r"rules\[1\].params.classes\[0\]: Input should be"),
        (lambda r: r[0].update(colour="blue"), r"rules\[0\].colour: Input should be 'red' or 'yellow'"),
        (lambda r: r[2].update(code="class_d"), r"rules\[2\].code: 规则代码重复 'class_d'"),
        (lambda r: r[5]["params"].update(days=-1), r"rules\[5\].params.days: Input should be greater"),
        (lambda r: r[0].update(kind="sql"), r"rules\[0\].kind: Input should be"),
        (lambda r: r[3]["params"].update(where="1=1"), r"rules\[3\].params.where: Extra inputs"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(change: object, message: str) -> None:
    rules = [r.model_dump() for r in colours.read_rules()]
    change(rules)  # type: ignore[operator]
    with pytest.raises(InvalidInput, match=message):
        colours.parse_rules({"rules": rules}, "rules.yaml")


def test_colours_follow_data_changes_through_triggers(land: Connection) -> None:
    today = dt.date.today()
    pid = add_parcel(land, agreed_start_date=today - dt.timedelta(days=800), land_price_wan=100.0)
    assert colour_of(land, pid)[0] == "red"  # computed on insert
    land.execute(text("UPDATE parcel SET actual_start_date = :d WHERE id = :id"), {"d": today, "id": pid})
    assert colour_of(land, pid) == ("green", ["none"])
    land.execute(
        text(
            "INSERT INTO land_progress (parcel_id, report_date, developed_area_m2, halted_since) VALUES (:id, :d, 1000, :h)"
        ),
        {"id": pid, "d": today, "h": today - dt.timedelta(days=400)},
    )
    assert colour_of(land, pid)[0] == "red"  # started, 1/10 developed, halted over a year


def test_colour_view_respects_the_scope(land: Connection) -> None:
    mine = add_parcel(land)
    theirs = add_parcel(land, 300, region="330698")
    set_scope(land, ["330699"])
    visible = land.execute(text("SELECT parcel_id FROM v_parcel_colour")).scalars().all()
    assert mine in visible and theirs not in visible
    summary = colours.summary(land)
    assert sum(c["parcels"] for c in summary["colours"]) == 1


def test_a_scoped_officers_step_recolours_the_parcel(land: Connection, client_for: ClientFactory) -> None:
    """The colour triggers run as the service role, in the officer's scope."""
    pid = add_parcel(land)
    assert colour_of(land, pid)[0] == "green"
    officer = client_for("officer", ["330699"])
    step = {"to_status": "identified", "event_date": "2024-05-06", "documents": ["县经信〔2024〕8号"]}
    assert officer.post(f"/parcels/{pid}/transitions", json=step).status_code == 201
    assert colour_of(land, pid) == ("red", ["identified_not_planned"])
    assert officer.get(f"/parcels/{pid}/colour").json()["colour_label"] == "红码"


def test_rules_through_the_api(land: Connection, api: TestClient, client_for: ClientFactory) -> None:
    pid = add_parcel(land)
    classes(land, [(pid, 2024, "C")])
    refresh(land, pid)
    assert colour_of(land, pid)[0] == "yellow"
    rules = [r.model_dump() for r in colours.read_rules()]
    next(r for r in rules if r["code"] == "class_c")["colour"] = "red"
    for role in ("viewer", "officer", "planner"):
        assert client_for(role, None).put("/colour-rules", json={"rules": rules}).status_code == 403
    assert colour_of(land, pid)[0] == "yellow"

    replaced = api.put("/colour-rules", params={"as_of": AS_OF.isoformat()}, json={"rules": rules})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["changed"] >= 1
    assert next(r for r in replaced.json()["rules"] if r["code"] == "class_c")["colour"] == "red"
    assert colour_of(land, pid) == ("red", ["class_c"])
    action = land.execute(text("SELECT action FROM audit_event ORDER BY id DESC LIMIT 1")).scalar_one()
    assert action == "colour_rules_replaced"

    rules[0]["colour"] = "blue"
    refused = api.put("/colour-rules", json={"rules": rules})
    assert refused.status_code == 400 and "rules[0].colour" in refused.json()["detail"]
    assert api.get("/colour-rules").json()[0]["colour"] == "red"  # unchanged


def test_refresh_through_the_api_needs_an_admin(land: Connection, api: TestClient, client_for: ClientFactory) -> None:
    pid = add_parcel(land)
    assert client_for("officer", ["330699"]).post("/colours/refresh").status_code == 403
    done = api.post("/colours/refresh", params={"as_of": "2030-01-01"})
    assert done.status_code == 200 and done.json()["changed"] == 1
    as_of = land.execute(text("SELECT as_of FROM parcel_colour WHERE parcel_id = :p"), {"p": pid}).scalar_one()
    assert as_of == dt.date(2030, 1, 1)
