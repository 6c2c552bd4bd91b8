"""The renewal workflow page (/lifecycle/parcels/{id}) in headless Chromium (see tests/browser.py).

An officer of the parcel's township signs in through /login and takes a step through the form; a
step refused by the server shows the server's message and changes nothing; a viewer only reads;
a page whose session has ended sends its user back to /login; the date offered is the officer's
today. The served app runs every request in the test's transaction (``share_connection``): the
test sees in the database what the page did, and nothing outlives the test. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import Connection, Engine, Row, text

from landgis.accounts.tokens import end_session
from landgis.accounts.users import create_user
from landgis.db.engine import set_audit_context
from landgis.lifecycle import events
from landgis.lifecycle.workflow import workflow_for
from landgis.settings import Settings
from tests.browser import ARTIFACTS, Watch, serving, sign_in
from tests.conftest import request_lock, share_connection
from tests.lifecycle.conftest import add_parcel

pytestmark = pytest.mark.browser

TOWNSHIP = "330699001"  # 兴业镇, where add_parcel puts its parcels
PASSWORD = "workflow page secret"
OFFICER = "zhou.qi"
CLERK = "li.si"  # another officer, whose steps are seeded straight through the core
VIEWER = "wu.ba"


@pytest.fixture
def server(settings: Settings, engine: Engine, land: Connection) -> Iterator[str]:
    """The service on ``land`` behind a real uvicorn, every request in the test's transaction;
    an officer and a viewer of 兴业镇 who sign in with ``PASSWORD``."""
    from api.main import create_app

    create_user(land, OFFICER, "officer", [TOWNSHIP], password=PASSWORD, display_name="周七")
    create_user(land, VIEWER, "viewer", [TOWNSHIP], password=PASSWORD, display_name="吴八")
    app = create_app(settings, engine=engine)
    share_connection(app, land)
    with serving(app) as base:
        yield base


def clerk_step(land: Connection, parcel_id: int, to_status: str, when: str, **step: Any) -> None:
    """A step taken by another officer (``CLERK``), as her request would take it."""
    with request_lock(land):
        set_audit_context(land, actor=CLERK)
        request = events.TransitionRequest(to_status, dt.date.fromisoformat(when), CLERK, **step)
        events.apply_transition(land, workflow_for(None), parcel_id, request)


def open_page(
    browser: object, base: str, username: str, parcel_id: int, *, clock: str | None = None
) -> tuple[object, object, Watch]:
    """A new browser context signed in as ``username`` on the parcel's page, in China's time zone
    (with its clock fixed at ``clock``, an ISO date-time, when given)."""
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 1100, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    if clock:
        context.clock.set_fixed_time(clock)
    page = context.new_page()
    watch = Watch(page, base)
    sign_in(page, base, username, PASSWORD, f"/lifecycle/parcels/{parcel_id}")
    page.wait_for_function("document.querySelector('#state').textContent.includes('更新状态')")
    return context, page, watch


def timeline(page: object) -> list[list[str]]:
    rows = page.locator("#events tbody tr")  # type: ignore[attr-defined]
    return [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()] for i in range(rows.count())]


def test_an_officer_frees_part_of_a_parcel_through_the_page(server: str, browser: object, land: Connection) -> None:
    pid = add_parcel(land, 0, 0, 100, 150)  # 100 m x 150 m: 22.5 亩
    clerk_step(land, pid, "identified", "2024-03-01", documents=["县经信〔2024〕8号"])
    clerk_step(land, pid, "planned", "2024-04-01", documents=["县政办〔2024〕3号"])
    clerk_step(land, pid, "in_progress", "2024-05-06", renewal_mode="acquisition")

    context, page, watch = open_page(browser, server, OFFICER, pid)
    assert "更新状态: 整治中" in page.inner_text("#state")  # type: ignore[attr-defined]
    assert "22.50 亩" in page.inner_text("#state")  # type: ignore[attr-defined]
    assert "周七" in page.inner_text("#who")  # type: ignore[attr-defined]
    offered = page.locator("select[name=to_status] option").evaluate_all("os => os.map(o => o.value)")  # type: ignore[attr-defined]
    assert sorted(offered) == ["freed", "planned", "upgraded"]

    page.select_option("select[name=to_status]", "freed")  # type: ignore[attr-defined]
    page.fill("input[name=event_date]", "2024-06-18")  # type: ignore[attr-defined]
    page.select_option("select[name=renewal_mode]", "acquisition")  # type: ignore[attr-defined]
    page.fill("input[name=area_mu]", "9")  # type: ignore[attr-defined]
    page.fill("textarea[name=documents]", "县政办〔2024〕12号\n收储协议 2024-031")  # type: ignore[attr-defined]
    page.fill("input[name=note]", "东侧厂房先行收储")  # type: ignore[attr-defined]
    page.click("#step button[type=submit]")  # type: ignore[attr-defined]
    # the page says the step was recorded, then shows the parcel and its timeline read afresh
    page.wait_for_function("document.querySelector('#state').textContent.includes('更新状态: 已腾出')")  # type: ignore[attr-defined]
    assert page.inner_text("#message") == "已记录: 整治中 → 已腾出"  # type: ignore[attr-defined]
    shown = timeline(page)
    assert len(shown) == 4
    assert shown[-1] == [
        "2024-06-18",
        "整治中",
        "已腾出",
        "收储",
        "9.00",
        "县政办〔2024〕12号; 收储协议 2024-031",
        OFFICER,
        "",
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "workflow-step.png"), full_page=True)  # type: ignore[attr-defined]

    # 分期腾出 of 15 more 亩 would free 24 of 22.5 亩: refused; the page reads the parcel again and
    # keeps what the officer chose, to correct the area
    page.select_option("select[name=to_status]", "freed")  # type: ignore[attr-defined]
    page.select_option("select[name=renewal_mode]", "acquisition")  # type: ignore[attr-defined]
    page.fill("input[name=area_mu]", "15")  # type: ignore[attr-defined]
    with page.expect_response(lambda r: r.request.method == "GET" and r.url.endswith(f"/parcels/{pid}/transitions")):  # type: ignore[attr-defined]
        page.click("#step button[type=submit]")  # type: ignore[attr-defined]
    assert page.inner_text("#message").startswith("本宗地已腾出 9.00 亩, 再腾出 15.00 亩将超过宗地面积 22.50 亩")  # type: ignore[attr-defined]
    assert page.get_attribute("#message", "class") == "error"  # type: ignore[attr-defined]
    assert page.input_value("select[name=to_status]") == "freed"  # type: ignore[attr-defined]
    assert page.input_value("select[name=renewal_mode]") == "acquisition"  # type: ignore[attr-defined]
    assert page.input_value("input[name=area_mu]") == "15"  # type: ignore[attr-defined]
    assert len(timeline(page)) == 4
    watch.check(f"409 /parcels/{pid}/transitions")
    context.close()  # type: ignore[attr-defined]

    status, steps, by_page = recorded(land, pid)
    assert status == "freed"
    assert steps == [("identified", CLERK), ("planned", CLERK), ("in_progress", CLERK), ("freed", OFFICER)]
    assert by_page == 2  # the step's audit event and the parcel's change of status
    event = rows(land, "SELECT * FROM renewal_event WHERE parcel_id = :p ORDER BY id DESC LIMIT 1", p=pid)[0]
    audited = rows(
        land,
        "SELECT actor, request_id, details FROM audit_event"
        " WHERE action = 'status_change' AND target_table = 'parcel' AND target_id = :p ORDER BY id",
        p=pid,
    )
    changed = rows(
        land,
        "SELECT actor, request_id, changes -> 'renewal_status' AS status FROM change_log"
        " WHERE table_name = 'parcel' AND row_id = :p AND changes ? 'renewal_status' ORDER BY id",
        p=pid,
    )
    assert (event.from_status, event.to_status, event.event_date) == ("in_progress", "freed", dt.date(2024, 6, 18))
    assert (event.renewal_mode, event.area_mu, event.documents) == (
        "acquisition",
        9.0,
        ["县政办〔2024〕12号", "收储协议 2024-031"],
    )
    assert (event.note, event.recorded_by, event.revoked_at) == ("东侧厂房先行收储", OFFICER, None)
    assert event.counts_governed and event.counts_freed
    # the audit trail and the change history name the officer, for the page's request
    assert [a.actor for a in audited] == [CLERK, CLERK, CLERK, OFFICER]
    assert audited[-1].details["to"] == "freed" and audited[-1].details["event_id"] == event.id
    assert [(c.actor, c.status["new"]) for c in changed][-1] == (OFFICER, "freed")
    assert event.request_id and audited[-1].request_id == changed[-1].request_id == event.request_id


def test_a_step_refused_by_the_server_shows_its_message_and_changes_nothing(
    server: str, browser: object, land: Connection
) -> None:
    pid = add_parcel(land)
    context, page, watch = open_page(browser, server, OFFICER, pid)
    assert "更新状态: 正常" in page.inner_text("#state")  # type: ignore[attr-defined]
    # While the page is open, another officer recognises the parcel as inefficient: the step the
    # page still offers (正常 → 认定低效) is no longer allowed.
    clerk_step(land, pid, "identified", "2024-05-06", documents=["县经信〔2024〕8号"])
    page.fill("input[name=event_date]", "2024-05-07")  # type: ignore[attr-defined]
    page.fill("textarea[name=documents]", "县经信〔2024〕9号")  # type: ignore[attr-defined]
    page.click("#step button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector("#message.error")  # type: ignore[attr-defined]

    message = page.inner_text("#message")  # type: ignore[attr-defined]
    assert message.startswith("不允许从「认定低效」直接转为「认定低效」"), message
    assert "可转为: 列入计划 (planned)、豁免 (exempt)、正常 (normal)" in message
    # the page now shows the parcel as it is, with the steps it may take from there
    page.wait_for_function("document.querySelector('#state').textContent.includes('认定低效')")  # type: ignore[attr-defined]
    offered = page.locator("select[name=to_status] option").evaluate_all("os => os.map(o => o.value)")  # type: ignore[attr-defined]
    assert sorted(offered) == ["exempt", "normal", "planned"]
    assert page.inner_text("#message") == message  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / "workflow-refused.png"), full_page=True)  # type: ignore[attr-defined]
    watch.check(f"409 /parcels/{pid}/transitions")
    context.close()  # type: ignore[attr-defined]

    assert recorded(land, pid) == ("identified", [("identified", CLERK)], 0)


def test_a_viewer_reads_the_workflow_but_is_offered_no_step(server: str, browser: object, land: Connection) -> None:
    pid = add_parcel(land)
    clerk_step(land, pid, "identified", "2024-05-06", documents=["县经信〔2024〕8号"])
    context, page, watch = open_page(browser, server, VIEWER, pid)
    assert "更新状态: 认定低效" in page.inner_text("#state")  # type: ignore[attr-defined]
    assert timeline(page)[0][:3] == ["2024-05-06", "正常", "认定低效"]
    assert "只能查看" in page.inner_text("#message")  # type: ignore[attr-defined]
    for control in ("select[name=to_status]", "input[name=event_date]", "#step button[type=submit]", "#undo"):
        assert page.is_disabled(control), control  # type: ignore[attr-defined]
    watch.check()
    context.close()  # type: ignore[attr-defined]
    assert recorded(land, pid) == ("identified", [("identified", CLERK)], 0)


def test_a_page_whose_session_ended_sends_the_officer_to_sign_in(
    server: str, browser: object, land: Connection
) -> None:
    pid = add_parcel(land)
    context, page, watch = open_page(browser, server, OFFICER, pid)
    # the officer signs out elsewhere (another tab): the session ends, the page is still open
    cookie = next(c["value"] for c in context.cookies() if c["name"] == "landgis_session")  # type: ignore[attr-defined]
    with request_lock(land):
        assert end_session(land, cookie)
    page.fill("textarea[name=documents]", "县经信〔2024〕9号")  # type: ignore[attr-defined]
    page.click("#step button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url("**/login?**")  # type: ignore[attr-defined]
    target = f"/lifecycle/parcels/{pid}"
    assert urlsplit(page.url).query == f"next={quote(target, safe='')}"  # type: ignore[attr-defined]
    # signing in again brings the officer back to the parcel, which did not change
    page.fill("input[name=username]", OFFICER)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("form button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(f"{server}{target}")  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('#state').textContent.includes('更新状态: 正常')")  # type: ignore[attr-defined]
    watch.check(f"401 /parcels/{pid}/transitions")
    context.close()  # type: ignore[attr-defined]
    assert recorded(land, pid) == ("normal", [], 0)


def test_the_date_defaults_to_the_officers_today(server: str, browser: object, land: Connection) -> None:
    # 07:30 in 兴业镇 is still the day before in UTC: the form must offer the local date
    pid = add_parcel(land)
    context, page, watch = open_page(browser, server, OFFICER, pid, clock="2024-06-18T07:30:00+08:00")
    assert page.input_value("input[name=event_date]") == "2024-06-18"  # type: ignore[attr-defined]
    watch.check()
    context.close()  # type: ignore[attr-defined]


def rows(land: Connection, sql: str, **params: object) -> list[Row[Any]]:
    """The rows of ``sql`` on the test's connection, read between the page's requests."""
    with request_lock(land):
        return list(land.execute(text(sql), params).all())


def recorded(land: Connection, parcel_id: int) -> tuple[str, list[tuple[str, str]], int]:
    """The parcel's renewal status, its steps (target, 经办人) and how many of its audit events and
    change-history rows name a user of the page."""
    status = rows(land, "SELECT renewal_status FROM parcel WHERE id = :p", p=parcel_id)[0][0]
    steps = rows(land, "SELECT to_status, recorded_by FROM renewal_event WHERE parcel_id = :p ORDER BY id", p=parcel_id)
    by_page = rows(
        land,
        "SELECT (SELECT count(*) FROM audit_event WHERE target_table = 'parcel' AND target_id = :p"
        "        AND actor IN (:officer, :viewer))"
        " + (SELECT count(*) FROM change_log WHERE table_name = 'parcel' AND row_id = :p"
        "        AND actor IN (:officer, :viewer))",
        p=parcel_id,
        officer=OFFICER,
        viewer=VIEWER,
    )[0][0]
    return str(status), [(s.to_status, s.recorded_by) for s in steps], int(by_page)
