"""The web map in headless Chromium (see tests/browser.py): sign in through /login as a demo
user, open the demo county, wait for parcel tiles, click a parcel, open its dossier, search by
宗地代码; no request may leave the service and no JS error may happen. Screenshots go to
test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from landgis.settings import Settings
from tests.browser import ARTIFACTS, Watch, serving, sign_in

pytestmark = pytest.mark.browser

PARCEL_LAYER = "parcels_status_fill"


@pytest.fixture(scope="module")
def server(demo_engine: object, raster_home: Path) -> Iterator[str]:
    """The service on the demo county behind a real uvicorn on a free port."""
    from api.main import create_app

    url = demo_engine.url.render_as_string(hide_password=False)  # type: ignore[attr-defined]
    with serving(create_app(Settings(database_url=url, home=raster_home, pool_size=4))) as base:
        yield base


def test_map_popup_dossier_and_search(server: str, browser: object, demo_db: Connection) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    watch = Watch(page, server)
    sign_in(page, server, "viewer", "landgis-viewer-demo", "/map")  # 东湖街道 (330699001) only
    page.wait_for_function(
        f"window.landgisMap && window.landgisMap.loaded() && "
        f"window.landgisMap.queryRenderedFeatures({{layers: ['{PARCEL_LAYER}']}}).length > 50",
        timeout=90_000,
    )
    rendered = page.evaluate(
        f"new Set(window.landgisMap.queryRenderedFeatures({{layers: ['{PARCEL_LAYER}']}}).map(f => f.id)).size"
    )
    total = demo_db.execute(text("SELECT count(*) FROM parcel WHERE region_code LIKE '330699001%'")).scalar_one()
    assert 50 < rendered <= total  # the viewer's township only
    assert page.locator("#candidate-preset option").count() > 0  # the real presets
    assert page.locator("#legend").inner_text().count("认定低效") == 1
    page.screenshot(path=str(ARTIFACTS / "map-county.png"))

    # Click the parcel drawn at the centre of the map.
    point = page.evaluate(
        f"""(() => {{
            const m = window.landgisMap, c = m.getCanvas();
            const f = m.queryRenderedFeatures({{layers: ['{PARCEL_LAYER}']}})
                .find(f => f.id !== undefined);
            const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
            const lon = ring.reduce((s, p) => s + p[0], 0) / ring.length, lat = ring.reduce((s, p) => s + p[1], 0) / ring.length;
            m.jumpTo({{center: [lon, lat], zoom: 16}});
            return {{id: f.id}};
        }})()"""
    )
    page.wait_for_function("window.landgisMap.loaded() && window.landgisMap.areTilesLoaded()", timeout=60_000)
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector(".popup a.dossier-link", timeout=30_000)
    clicked = int(page.get_attribute(".popup a.dossier-link", "href").rsplit("/", 1)[1])
    zddm, area_mu = demo_db.execute(text("SELECT zddm, area_mu FROM parcel WHERE id = :i"), {"i": clicked}).one()
    popup = page.inner_text(".popup")
    assert zddm in popup and f"{area_mu:.2f}" in popup
    assert point["id"] is not None
    page.screenshot(path=str(ARTIFACTS / "map-popup.png"))

    # The dossier of the clicked parcel (the popup's link opens it in a new tab).
    assert page.get_attribute(".popup a.dossier-link", "target") == "_blank"
    tab = context.new_page()
    tab_watch = Watch(tab, server)
    tab.goto(f"{server}/dossier/{clicked}")
    tab.wait_for_selector("body[data-ready='1']", timeout=30_000)
    firms = (
        demo_db.execute(
            text("SELECT e.name FROM occupancy o JOIN enterprise e ON e.id = o.enterprise_id WHERE o.parcel_id = :i"),
            {"i": clicked},
        )
        .scalars()
        .all()
    )
    text_all = tab.inner_text("#dossier")
    assert zddm in tab.inner_text("#title")
    assert all(name in text_all for name in firms)
    assert tab.locator("#enterprises canvas").count() == len(firms)
    assert tab.evaluate("document.getElementById('qr').naturalWidth") > 0
    assert "入库" in tab.inner_text("#timeline")
    tab.screenshot(path=str(ARTIFACTS / "dossier.png"), full_page=True)
    tab_watch.check()
    tab.close()

    # Search by 宗地代码 and jump to the hit.
    code = demo_db.execute(
        text("SELECT zddm FROM parcel WHERE zddm LIKE '330699001%' ORDER BY zddm DESC LIMIT 1")
    ).scalar_one()
    page.fill("#search-input", code)
    page.click("#search-form button")
    page.wait_for_selector("#search-results li[data-parcel]")
    first = page.locator("#search-results li[data-parcel]").first
    assert code in first.inner_text()
    first.click()
    page.wait_for_selector(f".popup >> text={code}", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "map-search.png"))
    watch.check()
    context.close()


def test_candidate_panel_runs_a_preset_and_draws_the_result(server: str, browser: object, demo_client: object) -> None:
    # The real POST /candidates, from the page's session (cookie + CSRF token) as the county's planner.
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    watch = Watch(page, server)
    sign_in(page, server, "planner", "landgis-planner-demo", "/map")
    page.wait_for_function("window.landgisMap && window.landgisMap.loaded()", timeout=90_000)
    preset = demo_client.get("/candidates/presets").json()[0]["id"]  # type: ignore[attr-defined]
    page.wait_for_selector(f"#candidate-preset option[value='{preset}']", state="attached")
    page.select_option("#candidate-preset", preset)
    page.fill("#candidate-year", "2023")
    page.fill("#candidate-area", "330699")
    page.fill("#candidate-distance", "50")
    page.fill("#candidate-min-mu", "30")
    posted = []
    page.on("request", lambda r: posted.append(r) if r.method == "POST" else None)
    page.click("#candidate-run")
    page.wait_for_selector("#candidate-totals table", timeout=60_000)
    assert posted and posted[0].headers.get("x-csrf-token")  # the session's CSRF token went along
    body = {"preset": preset, "year": 2023, "area": {"region_code": "330699"}}
    body["blocks"] = {"distance_m": 50, "min_block_mu": 30}
    expected = demo_client.post("/candidates", json=body).json()  # type: ignore[attr-defined]
    count = expected["totals"]["count"]
    totals = page.inner_text("#candidate-totals")
    assert f"{count:,} 宗" in totals and "筛选完成" in page.inner_text("#candidate-message")
    assert f"{len(expected['blocks']['features'])} 片" in totals
    page.wait_for_function("window.landgisMap.loaded() && window.landgisMap.areTilesLoaded()", timeout=60_000)
    drawn = page.evaluate(
        "new Set(window.landgisMap.queryRenderedFeatures({layers: ['candidates-fill']}).map(f => f.id)).size"
    )
    # The map zoomed to the candidates and draws them. (On the demo county the presets currently
    # find none for 2023: parcel_year_stat stays empty there, see the hand-over notes.)
    assert drawn <= count and (drawn > 0) == (count > 0)
    page.screenshot(path=str(ARTIFACTS / "map-candidates.png"))
    watch.check()
    context.close()
