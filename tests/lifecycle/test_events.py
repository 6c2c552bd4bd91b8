"""Every transition rule of the default workflow, the checks on a step, undo, and the 治理/腾出
totals per zone and year."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from sqlalchemy import Connection, text

from landgis.db.engine import set_scope
from landgis.errors import Conflict, InvalidInput, NotFound
from landgis.lifecycle.events import TransitionRequest, allowed_next, apply_transition, history, revoke_latest
from landgis.lifecycle.workflow import Transition, read_workflow
from tests.lifecycle.conftest import add_parcel, add_zone

WF = read_workflow()
TODAY = dt.date(2025, 6, 30)
EDGES = [(t.source, t.target) for t in WF.transitions]
NON_EDGES = [(a, b) for a, b in itertools.product(WF.states, WF.states) if (a, b) not in EDGES]


def step(db: Connection, pid: int, to: str, date: str = "2024-03-01", **kw: Any) -> dict[str, Any]:
    request = TransitionRequest(to_status=to, event_date=dt.date.fromisoformat(date), user=kw.pop("user", "张三"), **kw)
    return apply_transition(db, WF, pid, request, today=TODAY)


def valid_inputs(t: Transition) -> dict[str, Any]:
    """The least a step needs: a mode when required, a document reference when required."""
    inputs: dict[str, Any] = {}
    if t.mode == "required":
        inputs["renewal_mode"] = t.modes[0]
    if t.documents_required:
        inputs["documents"] = ["示范县政办〔2024〕12号"]
    return inputs


def set_status(db: Connection, pid: int, status: str) -> None:
    db.execute(text("UPDATE parcel SET renewal_status = :s WHERE id = :id"), {"s": status, "id": pid})


def status_of(db: Connection, pid: int) -> str:
    return str(db.execute(text("SELECT renewal_status FROM parcel WHERE id = :id"), {"id": pid}).scalar_one())


@pytest.mark.parametrize(("source", "target"), EDGES)
def test_every_allowed_transition_moves_the_parcel_and_writes_an_event(
    land: Connection, source: str, target: str
) -> None:
    pid = add_parcel(land)  # 100 m x 100 m = 15 亩
    set_status(land, pid, source)
    t = WF.find(source, target)
    event = step(land, pid, target, **valid_inputs(t))
    assert status_of(land, pid) == target
    assert (event["from_status"], event["to_status"]) == (source, target)
    assert event["area_mu"] == pytest.approx(15.0, rel=1e-6)
    assert (event["counts_governed"], event["counts_freed"]) == (t.counts_governed, t.counts_freed)
    stored = land.execute(
        text("SELECT from_status, to_status, recorded_by FROM renewal_event WHERE id = :id"), {"id": event["id"]}
    ).one()
    assert tuple(stored) == (source, target, "张三")


@pytest.mark.parametrize(("source", "target"), NON_EDGES)
def test_every_other_step_is_refused_and_changes_nothing(land: Connection, source: str, target: str) -> None:
    pid = add_parcel(land)
    set_status(land, pid, source)
    with pytest.raises(Conflict, match=f"transition {source} → {target} is not allowed"):
        step(land, pid, target, renewal_mode="acquisition", documents=["文号"])
    assert status_of(land, pid) == source
    assert land.execute(text("SELECT count(*) FROM renewal_event WHERE parcel_id = :id"), {"id": pid}).scalar() == 0


def test_the_whole_chain_from_normal_to_producing(land: Connection) -> None:
    pid = add_parcel(land, w=200)  # 30 亩
    doc = {"documents": ["县政办〔2023〕1号"]}
    step(land, pid, "identified", "2023-02-01", **doc)
    step(land, pid, "planned", "2023-03-01", **doc)
    step(land, pid, "in_progress", "2023-04-01", renewal_mode="acquisition")
    step(land, pid, "freed", "2023-09-01", renewal_mode="acquisition", **doc)
    step(land, pid, "resupplied", "2024-01-15", **doc)
    step(land, pid, "producing", "2025-05-01")
    result = history(land, WF, pid)
    assert [e["to_label"] for e in result["events"]] == [
        "认定低效",
        "列入计划",
        "整治中",
        "已腾出",
        "已再供应",
        "已投产",
    ]
    assert result["parcel"]["renewal_status_label"] == "已投产"
    assert [a["to"] for a in result["allowed"]] == ["normal"]


def test_mode_is_required_forbidden_or_limited_as_configured(land: Connection) -> None:
    pid = add_parcel(land)
    set_status(land, pid, "planned")
    with pytest.raises(InvalidInput, match="需填写改造方式"):
        step(land, pid, "in_progress")
    set_status(land, pid, "in_progress")
    with pytest.raises(InvalidInput, match=r"不适用改造方式 'acquisition'.*提容增效 \(far_uplift\)"):
        step(land, pid, "upgraded", renewal_mode="acquisition")
    set_status(land, pid, "normal")
    with pytest.raises(InvalidInput, match="不填写改造方式"):
        step(land, pid, "identified", renewal_mode="merger", documents=["文号"])
    assert step(land, pid, "identified", documents=["文号"])["renewal_mode"] is None


def test_documents_are_required_where_configured(land: Connection) -> None:
    pid = add_parcel(land)
    with pytest.raises(InvalidInput, match="需填写文件依据"):
        step(land, pid, "identified", documents=["  ", ""])
    event = step(land, pid, "identified", documents=[" 县政办〔2024〕3号 "])
    assert event["documents"] == ["县政办〔2024〕3号"]


def test_area_whole_and_partial(land: Connection) -> None:
    pid = add_parcel(land)  # 15 亩
    with pytest.raises(InvalidInput, match="针对整宗地"):
        step(land, pid, "identified", documents=["文号"], area_mu=5.0)
    assert step(land, pid, "identified", documents=["文号"], area_mu=15.05)["area_mu"] == pytest.approx(15.0)
    set_status(land, pid, "in_progress")
    with pytest.raises(InvalidInput, match="超过宗地面积"):
        step(land, pid, "freed", renewal_mode="closure", documents=["文号"], area_mu=16.0)
    with pytest.raises(InvalidInput, match="面积应大于0"):
        step(land, pid, "freed", renewal_mode="closure", documents=["文号"], area_mu=0.0)
    assert step(land, pid, "freed", renewal_mode="closure", documents=["文号"], area_mu=4.5)["area_mu"] == 4.5


def test_partial_freeing_in_stages_cannot_exceed_the_parcel(land: Connection) -> None:
    pid = add_parcel(land, w=200)  # 30 亩
    set_status(land, pid, "in_progress")
    kw = {"renewal_mode": "agreement_recovery", "documents": ["收回协议"]}
    step(land, pid, "freed", "2024-01-10", area_mu=10.0, **kw)
    step(land, pid, "freed", "2024-05-10", area_mu=15.0, **kw)
    assert allowed_next(land, WF, pid)["freed_so_far_mu"] == pytest.approx(25.0)
    with pytest.raises(Conflict, match=r"已腾出 25\.00 亩, 再腾出 6\.00 亩将超过宗地面积 30\.00 亩"):
        step(land, pid, "freed", "2024-06-10", area_mu=6.0, **kw)
    last = step(land, pid, "freed", "2024-06-10", **kw)  # default: what is left
    assert last["area_mu"] == pytest.approx(5.0, rel=1e-6)


def test_dates_must_not_be_in_the_future_nor_before_the_previous_step(land: Connection) -> None:
    pid = add_parcel(land)
    with pytest.raises(InvalidInput, match="晚于今天"):
        step(land, pid, "identified", "2025-07-01", documents=["文号"])
    step(land, pid, "identified", "2024-03-01", documents=["文号"])
    with pytest.raises(InvalidInput, match="早于上一步「认定低效」的日期 2024-03-01"):
        step(land, pid, "planned", "2024-02-29", documents=["文号"])
    assert step(land, pid, "planned", "2024-03-01", documents=["文号"])["to_status"] == "planned"


def test_upgrade_records_the_new_far_and_undo_restores_it(land: Connection) -> None:
    pid = add_parcel(land, far=0.8)
    set_status(land, pid, "in_progress")
    with pytest.raises(InvalidInput, match="不记录容积率"):
        step(land, pid, "planned", far_after=1.2)
    event = step(land, pid, "upgraded", renewal_mode="far_uplift", far_after=1.6)
    assert event["details"] == {"far_before": 0.8, "far_after": 1.6}
    assert land.execute(text("SELECT far FROM parcel WHERE id = :id"), {"id": pid}).scalar() == 1.6
    undone = revoke_latest(land, WF, pid, user="李四", reason="录入错误", event_id=event["id"])
    assert undone["revoked"] and undone["revoked_by"] == "李四"
    assert land.execute(text("SELECT far, renewal_status FROM parcel WHERE id = :id"), {"id": pid}).one() == (
        0.8,
        "in_progress",
    )


def test_undo_only_the_latest_step(land: Connection) -> None:
    pid = add_parcel(land)
    with pytest.raises(Conflict, match="没有可撤销"):
        revoke_latest(land, WF, pid, user="李四", reason="x")
    first = step(land, pid, "identified", "2024-01-02", documents=["文号"])
    second = step(land, pid, "planned", "2024-02-02", documents=["文号"])
    with pytest.raises(Conflict, match=f"only the latest step, {second['id']}"):
        revoke_latest(land, WF, pid, user="李四", reason="x", event_id=first["id"])
    with pytest.raises(InvalidInput, match="原因"):
        revoke_latest(land, WF, pid, user="李四", reason=" ")
    revoke_latest(land, WF, pid, user="李四", reason="计划未批")
    assert status_of(land, pid) == "identified"
    set_status(land, pid, "exempt")  # changed outside the workflow
    with pytest.raises(Conflict, match="outside the workflow"):
        revoke_latest(land, WF, pid, user="李四", reason="x")


def test_user_is_required_and_recorded_in_the_change_history(land: Connection) -> None:
    pid = add_parcel(land)
    with pytest.raises(InvalidInput, match="经办人"):
        step(land, pid, "identified", documents=["文号"], user=" ")
    land.execute(text("SELECT set_config('landgis.actor', 'officer:王五', true)"))
    step(land, pid, "identified", documents=["文号"])
    changes = land.execute(
        text(
            "SELECT actor, changes FROM change_log WHERE table_name = 'parcel' AND row_id = :id AND action = 'update'"
        ),
        {"id": pid},
    ).one()
    assert changes.actor == "officer:王五"
    assert changes.changes["renewal_status"] == {"old": "normal", "new": "identified"}


def test_a_parcel_outside_the_scope_is_not_found(land: Connection) -> None:
    other = add_parcel(land, region="330698")
    set_scope(land, ["330699"])
    with pytest.raises(NotFound):
        step(land, other, "identified", documents=["文号"])
    with pytest.raises(NotFound):
        history(land, WF, other)


def test_governed_and_freed_per_zone_and_year_from_the_events(land: Connection) -> None:
    zone = add_zone(land, "Z01", -1000, -1000, 5000, 5000)
    a = add_parcel(land, 0, 0, 200, 100, zone_id=zone)  # 30 亩
    b = add_parcel(land, 500, 0, 100, 100, zone_id=zone)  # 15 亩
    c = add_parcel(land, 900, 0, 100, 100)  # 15 亩, no zone
    freeing = {"renewal_mode": "acquisition", "documents": ["收储协议"]}
    for pid in (a, b, c):
        set_status(land, pid, "in_progress")
    step(land, a, "freed", "2023-11-30", area_mu=12.0, **freeing)  # 2023: governed 12, freed 12
    step(land, a, "freed", "2024-01-05", area_mu=18.0, **freeing)  # 2024: governed 18, freed 18
    step(land, b, "upgraded", "2024-06-01", renewal_mode="retrofit")  # 2024: governed 15
    step(land, c, "freed", "2024-02-01", **freeing)  # no zone, 2024: 15 and 15
    undone = step(land, b, "normal", "2024-07-01")  # counts nothing
    assert not (undone["counts_governed"] or undone["counts_freed"])
    rows = land.execute(
        text(
            "SELECT zone_id, region_code, year, governed_mu, freed_mu FROM v_renewal_event_area_by_year"
            " ORDER BY year, zone_id NULLS LAST"
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        (zone, "330699001", 2023, pytest.approx(12.0), pytest.approx(12.0)),
        (zone, "330699001", 2024, pytest.approx(33.0), pytest.approx(18.0)),
        (None, "330699001", 2024, pytest.approx(15.0), pytest.approx(15.0)),
    ]
    revoke_latest(land, WF, c, user="李四", reason="误录")
    total = land.execute(text("SELECT sum(freed_mu) FROM v_renewal_event_area_by_year WHERE year = 2024")).scalar_one()
    assert total == pytest.approx(18.0)
    set_scope(land, ["330698"])
    assert land.execute(text("SELECT count(*) FROM v_renewal_event_area_by_year")).scalar_one() == 0
