"""The command map in real Chromium on the small 许昌 demo (tests/demo_fixture.py), served by gunicorn.

Drill 许昌市 → county → township → village → grid by clicking polygons and by keyboard through the
side list; breadcrumb and browser back/forward; persons and hazards shown equal the database; layer
toggles; deep links; zero console errors. Screenshots of the city, township and grid views go to
command_map_*.png in screenshot_dir() (docs/screenshots under `make screenshots`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import Engine, create_engine, text

from dashboard.command_map.panel import HAZARD_PAGE
from domain.rules_config import DEFAULT_STAFFING
from layers.registry import POINT_LAYERS
from tests.browser import login, make_user, screenshot_dir
from tests.demo_fixture import DemoDb, demo_db  # noqa: F401  (fixture)
from tests.demo_server import gunicorn_app

pytestmark = [pytest.mark.browser, pytest.mark.db]
SHOTS = screenshot_dir()  # tests/artifacts/screenshots unless SAFEGRID_SCREENSHOT_DIR (make screenshots)
COUNTY = "411002"  # 魏都区


@pytest.fixture(scope="module")
def demo_engine(demo_db: DemoDb) -> Engine:  # noqa: F811
    return create_engine(demo_db.url)


@pytest.fixture(scope="module")
def demo_server(demo_db: DemoDb) -> Iterator[str]:  # noqa: F811
    """gunicorn (one worker) serving the app on the demo database; yields its base URL."""
    with gunicorn_app(demo_db.url) as base:
        yield base


@pytest.fixture(scope="module")
def grid_path(demo_engine: Engine) -> list[str]:
    """Codes city → grid of the 魏都区 grid cell with the most open hazards (and some enterprises)."""
    with demo_engine.connect() as conn:
        path = conn.execute(text(
            """
            SELECT u.path FROM units u JOIN hazards h ON h.unit_id = u.id AND h.status <> 'closed'
            WHERE u.level = 5 AND u.path LIKE :p AND EXISTS (SELECT 1 FROM enterprises e WHERE e.unit_id = u.id)
            GROUP BY u.path ORDER BY count(*) DESC, u.path LIMIT 1
            """
        ), {"p": f"411000.{COUNTY}.%"}).scalar_one()
    return str(path).rstrip(".").split(".")


def open_map(page: Any, server: str, engine: Engine, *, role: str, scope: str, unit: str | None = None) -> None:
    """Sign in a new account with ``role``/``scope`` and wait for the map of ``unit`` (default: the scope)."""
    user, password = make_user(engine, role=role, scope=scope)
    login(page, server, user, password, expect_path=f"/?unit={unit}" if unit else "/")
    wait_unit(page, unit or scope)


def wait_unit(page: Any, code: str) -> None:
    page.wait_for_selector(f".cm-panel-body[data-unit='{code}']", timeout=20_000)
    page.wait_for_load_state("networkidle")


@contextmanager
def points_held(page: Any, engine: Engine, table: str) -> Iterator[None]:
    """With the map's points shown, lock ``table`` (a writer's transaction), zoom in and wait for 点位加载中…;
    the lock goes when the block ends, and the held point request is answered then."""
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises, .cm-agg').length > 0")
    with engine.connect() as writer:
        writer.begin()
        writer.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        page.locator(".leaflet-control-zoom-in").click()
        page.wait_for_selector("#cm-points-status .cm-points-loading", state="visible")
        try:
            yield
        finally:
            writer.rollback()


def names(page: Any, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def db_persons(engine: Engine, code: str) -> tuple[list[tuple[str, str]], int]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            """
            SELECT d.role, p.name, u.level FROM units u JOIN duties d ON d.unit_id = u.id
            JOIN persons p ON p.id = d.person_id
            WHERE u.code = :c AND (d.until IS NULL OR d.until >= current_date)
              AND (d.since IS NULL OR d.since <= current_date)
            """
        ), {"c": code}).all()
        level = conn.execute(text("SELECT level FROM units WHERE code = :c"), {"c": code}).scalar_one()
    present: dict[str, int] = {}
    for role, _, _ in rows:
        present[role] = present.get(role, 0) + 1
    vacancies = sum(max(0, n - present.get(role, 0)) for role, n in DEFAULT_STAFFING[level].items())
    return sorted((r, n) for r, n, _ in rows), vacancies


CITY = "411000"  # the small demo's city


def db_open_hazards(engine: Engine, code: str, *, limit: int | None = None, offset: int = 0) -> list[str]:
    """Codes of the open hazards below ``code`` in the panel's order (overdue, major, deadline, id)."""
    with engine.connect() as conn:
        return list(conn.execute(text(
            """
            SELECT h.code FROM hazards h JOIN units u ON u.id = h.unit_id
            WHERE h.status <> 'closed' AND u.path LIKE (SELECT path FROM units WHERE code = :c) || '%'
            ORDER BY (h.deadline < current_date) DESC NULLS LAST, (h.level = 'major') DESC, h.deadline NULLS LAST, h.id
            LIMIT :n OFFSET :o
            """
        ), {"c": code, "n": limit, "o": offset}).scalars())


@pytest.mark.parametrize("grouped", [True, False])
def test_open_hazards_read_either_way_equal_one_order_by(demo_engine: Engine, grouped: bool,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The panel's list read group by group (a subtree of many open hazards) or sorted whole: the same pages."""
    from geo import map_queries as mq

    size = 4  # the demo's city has 13 open hazards

    for code in (CITY,):
        everything = db_open_hazards(demo_engine, code)
        assert len(everything) > 2 * size
        groups: set[tuple[bool, str, bool]] = set()
        with demo_engine.connect() as conn:
            for offset in range(0, len(everything) + size, size):
                got = mq.open_hazards(conn, scope=CITY + ".", code=code, limit=size, offset=offset,
                                      grouped=grouped)
                assert got is not None and got["total"] == len(everything)
                assert [h["code"] for h in got["items"]] == everything[offset:offset + size], offset
                groups |= {(h["overdue"], h["level"], h["deadline"] is None) for h in got["items"]}
            assert len(groups) >= 3, groups  # the order's groups are met, not one of them
            monkeypatch.setattr(mq, "COUNT_CAP", 5)  # counted up to 5 past the page: "more", when grouped
            first = mq.open_hazards(conn, scope=CITY + ".", code=code, limit=size, grouped=grouped)
            assert first is not None and first["total"] == (-1 if grouped else len(everything))
            monkeypatch.undo()


def test_a_list_counted_past_the_cap_pages_on() -> None:
    """Total -1 (more than the cap past the page): "超过 N", no page count, 下一页 enabled."""
    from dashboard.command_map.panel import hazards_content
    from dashboard.dry import to_html
    from geo.paging import COUNT_CAP

    item = {"id": 1, "code": "H1", "title": "t", "level": "general", "status": "reported", "deadline": None,
            "supervision_level": None, "overdue": False, "days_overdue": 0, "enterprise": "e", "unit_name": "u"}
    shown = to_html(hazards_content({"total": -1, "items": [item]}, page=2))
    assert f"未销号隐患（超过 {3 * HAZARD_PAGE + COUNT_CAP:,}）" in shown and "第 3 页" in shown
    assert " disabled" not in shown and 'data-hz-page="3"' in shown and 'data-hz-page="1"' in shown
    exact = to_html(hazards_content({"total": 25, "items": [item]}, page=2))
    assert "未销号隐患（25）" in exact and "第 3/3 页" in exact and exact.count(" disabled") == 1
    assert re.search(r'<button id="cm-hz-next"[^>]* disabled', exact)


def shown_hazards(page: Any) -> list[str]:
    """Codes of the hazards the panel's list shows, top to bottom."""
    return [str(c) for c in page.eval_on_selector_all(".cm-hazard", "els => els.map((e) => e.dataset.code)")]


def test_the_hazard_list_pages(demo_server: str, demo_engine: Engine, browser_page: Any) -> None:
    """The panel lists HAZARD_PAGE open hazards at a time in the order of the database; 下一页 and 上一页 page."""
    page = browser_page
    open_map(page, demo_server, demo_engine, role="grid_manager", scope=CITY, unit=CITY)
    total = len(db_open_hazards(demo_engine, CITY))
    pages = -(-total // HAZARD_PAGE)
    assert pages >= 3, total  # the small demo city has enough
    assert page.locator("#cm-hazards h3").inner_text() == f"未销号隐患（{total}）"
    assert shown_hazards(page) == db_open_hazards(demo_engine, CITY, limit=HAZARD_PAGE)
    assert page.locator("#cm-hz-prev").is_disabled()
    assert page.locator("#cm-hz-text").inner_text().startswith(f"第 1/{pages} 页")
    # Inserting the list's buttons asks the server nothing (only a real click locates): dash#1103.
    locates: list[str] = []
    page.on("request", lambda r: locates.append(r.url) if "cm-hz-click" in (r.post_data or "") else None)
    for n in (2, 3):
        page.locator("#cm-hz-next").click()
        page.wait_for_function(f"(document.querySelector('#cm-hz-text') || {{}}).textContent"
                               f" && document.querySelector('#cm-hz-text').textContent.startsWith('第 {n}/')")
        offset = (n - 1) * HAZARD_PAGE
        assert shown_hazards(page) == db_open_hazards(demo_engine, CITY, limit=HAZARD_PAGE, offset=offset)
    assert page.locator("#cm-hz-prev").is_enabled()
    page.locator("#cm-hz-text").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "command_map_hazard_pages.png"))
    page.locator("#cm-hz-prev").click()
    page.wait_for_function("document.querySelector('#cm-hz-text').textContent.startsWith('第 2/')")
    assert shown_hazards(page) == db_open_hazards(demo_engine, CITY, limit=HAZARD_PAGE, offset=HAZARD_PAGE)
    assert locates == []
    # A hazard of a later page still locates on the map.
    page.locator(".cm-hazard").first.click()
    page.wait_for_selector("path.cm-focus-ring")
    assert len(locates) == 1
    assert page.console_errors == []


def test_panel_page_link_navigates_inside_the_app(demo_server: str, demo_engine: Engine, browser_page: Any) -> None:
    """办理 in the panel's hazard list (HTML, a delegated listener) opens the hazard page without reloading the app;
    back returns to the map."""
    page = browser_page
    open_map(page, demo_server, demo_engine, role="grid_manager", scope=CITY, unit=CITY)
    page.evaluate("() => { window.__sameDocument = true; }")
    code = page.locator(".cm-hazard").first.get_attribute("data-code")
    href = page.locator(".cm-hazard-open").first.get_attribute("href")
    assert code and href and href.startswith("/hazard?id=")
    page.locator(".cm-hazard-open").first.click()
    page.wait_for_url(f"**{href}")
    page.wait_for_function("(c) => document.querySelector('#shell-content').innerText.includes(c)", arg=code)
    assert page.evaluate("() => window.__sameDocument === true")  # no page load: the app's own navigation
    page.go_back()
    wait_unit(page, CITY)
    assert page.console_errors == []


def test_drill_city_to_grid_by_map_breadcrumb_and_history(
    demo_server: str, demo_engine: Engine, browser_page: Any, grid_path: list[str]
) -> None:
    page = browser_page
    open_map(page, demo_server, demo_engine, role="grid_manager", scope="411000")
    assert page.locator("#cm-unit-name").inner_text() == "许昌市"
    page.wait_for_selector("path.cm-unit-411002")
    assert page.locator("path.cm-unit").count() == 7  # the counties (incl. 开发区) of 许昌市
    assert "魏都区" in names(page, ".cm-label span")
    assert page.locator(".leaflet-control-zoom-in").get_attribute("title") == "放大"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "command_map_city.png"))

    for code in grid_path[1:]:  # county, township, village, grid: four clicks on the map
        page.locator(f"path.cm-unit-{code}").dispatch_event("click")
        wait_unit(page, code)
        assert page.url.endswith(f"/?unit={code}")
        if len(code) == 9:
            page.screenshot(path=str(SHOTS / "command_map_township.png"))
    grid = grid_path[-1]
    assert page.locator("#cm-unit-level").inner_text() == "网格"
    crumbs = names(page, "#cm-breadcrumb .cm-crumb")
    assert len(crumbs) == 5 and crumbs[0] == "许昌市"

    # Persons, vacancies and open hazards shown equal the database.
    persons, vacancies = db_persons(demo_engine, grid)
    assert sorted(names(page, ".cm-person-name")) == sorted(n for _, n in persons)
    assert page.locator(".cm-vacant").count() == vacancies
    assert page.locator("a[href^='tel:']").count() == len(persons)
    assert shown_hazards(page) == db_open_hazards(demo_engine, grid, limit=HAZARD_PAGE) and shown_hazards(page)

    # At grid level the points are raw markers.
    with demo_engine.connect() as conn:
        n_ent = conn.execute(text("SELECT count(*) FROM enterprises e JOIN units u ON u.id = e.unit_id "
                                  "WHERE u.code = :c AND e.geom IS NOT NULL"), {"c": grid}).scalar_one()
    page.wait_for_function(f"document.querySelectorAll('.cm-pt-enterprises').length >= {n_ent}")
    assert page.locator(".cm-pt-hazards").count() >= 1
    assert page.locator(".cm-agg").count() == 0
    page.screenshot(path=str(SHOTS / "command_map_grid.png"))

    # A hazard in the list locates it on the map.
    page.locator(".cm-hazard").first.click()
    page.wait_for_selector("path.cm-focus-ring")

    # Breadcrumb back to the township, then browser back and forward.
    township = grid_path[2]
    page.locator("#cm-breadcrumb a.cm-crumb >> nth=2").click()
    wait_unit(page, township)
    assert page.url.endswith(f"/?unit={township}")
    page.wait_for_selector(f"path.cm-unit-{grid_path[3]}")
    page.go_back()
    wait_unit(page, grid)
    # The map follows history too (a fit arriving during the previous zoom animation was once dropped).
    page.wait_for_function("window.dash_component_api.getLayout('cm-map').props.zoom >= 15")
    page.go_forward()
    wait_unit(page, township)
    page.wait_for_function("window.dash_component_api.getLayout('cm-map').props.zoom < 15")
    page.go_back()
    page.go_back()
    wait_unit(page, grid_path[3])

    # Up to the city: its zoom is below the point layers' min_zoom, so the markers go and no point
    # layer is requested there (pointData sets empty collections without a request).
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises, .cm-agg').length > 0")
    point_requests: list[str] = []
    page.on("request", lambda r: point_requests.append(r.url) if "/api/map/points" in r.url else None)
    page.locator("#cm-breadcrumb a.cm-crumb >> nth=0").click()
    wait_unit(page, grid_path[0])
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises, .cm-pt-hazards, .cm-agg').length === 0")
    page.wait_for_timeout(500)
    zooms = [int(parse_qs(urlparse(u).query)["zoom"][0]) for u in point_requests]
    assert all(z >= min(s.min_zoom for s in POINT_LAYERS) for z in zooms), zooms
    assert page.console_errors == []


def test_drill_by_keyboard_through_the_side_list(
    demo_server: str, demo_engine: Engine, browser_page: Any, grid_path: list[str]
) -> None:
    page = browser_page
    open_map(page, demo_server, demo_engine, role="grid_manager", scope="411000")
    with demo_engine.connect() as conn:
        unit_names = dict(conn.execute(text("SELECT code, name FROM units WHERE code = ANY(:c)"),
                                       {"c": grid_path}).all())
    for code in grid_path[1:]:
        link = page.locator("#cm-children a.cm-drill", has_text=unit_names[code]).first
        link.focus()
        page.keyboard.press("Enter")
        wait_unit(page, code)
    assert page.locator("#cm-unit-name").inner_text() == unit_names[grid_path[-1]]
    assert page.console_errors == []


def test_sorting_the_children_by_enterprises(demo_server: str, demo_engine: Engine, browser_page: Any) -> None:
    page = browser_page
    open_map(page, demo_server, demo_engine, role="leader", scope="411000")
    page.locator("#cm-sort label", has_text="企业数").click()
    with demo_engine.connect() as conn:
        top = conn.execute(text(
            "SELECT u.name FROM units u JOIN unit_stats s ON s.unit_id = u.id WHERE u.level = 2 "
            "ORDER BY s.enterprises DESC, u.code LIMIT 1")).scalar_one()
    page.wait_for_function(
        f"document.querySelector('#cm-children a.cm-drill') && "
        f"document.querySelector('#cm-children a.cm-drill').innerText === {top!r}")
    assert page.console_errors == []


def test_deep_link_scope_and_layer_toggles(
    demo_server: str, demo_engine: Engine, browser_page: Any, grid_path: list[str]
) -> None:
    page = browser_page
    township, village = grid_path[2], grid_path[3]
    open_map(page, demo_server, demo_engine, role="grid_manager", scope=township, unit=village)
    crumbs = names(page, "#cm-breadcrumb .cm-crumb")
    assert len(crumbs) == 2  # the scope starts at the township: nothing above it is shown
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises').length > 0")

    overlay = page.locator(".leaflet-control-layers-overlays label", has_text="生产经营单位").locator("input")
    overlay.uncheck()
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises').length === 0")
    page.wait_for_selector("#cm-layer-enterprises-legend", state="hidden")
    overlay.check()
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises').length > 0")
    page.wait_for_selector("#cm-layer-enterprises-legend", state="visible")
    units = page.locator(".leaflet-control-layers-overlays label", has_text="四色风险分区").locator("input")
    units.uncheck()
    page.wait_for_function("document.querySelectorAll('path.cm-unit').length === 0")
    units.check()
    page.wait_for_function("document.querySelectorAll('path.cm-unit').length > 0")

    # A deep link outside the scope shows a refusal, not data.
    page.goto(f"{demo_server}/?unit={COUNTY}")
    page.wait_for_selector(".cm-message")
    assert "无权查看" in page.locator(".cm-message").inner_text()
    assert page.locator(".cm-panel-body").count() == 0
    assert page.console_errors == []


def test_slow_points_say_they_are_loading(demo_server: str, demo_engine: Engine, browser_page: Any,
                                         grid_path: list[str]) -> None:
    """A point request held up (here: the hazards table locked by a writer) shows 点位加载中…, then the points."""
    page = browser_page
    open_map(page, demo_server, demo_engine, role="grid_manager", scope=grid_path[1], unit=grid_path[3])
    with points_held(page, demo_engine, "hazards"):
        assert page.locator("#cm-points-status").inner_text() == "点位加载中…"
    page.wait_for_selector("#cm-points-status", state="hidden")
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises').length > 0")
    assert page.console_errors == []


def test_an_answer_for_a_view_left_behind_is_dropped(demo_server: str, demo_engine: Engine, browser_page: Any,
                                                     grid_path: list[str]) -> None:
    """Points asked for a view the user has already left never appear when they finally arrive."""
    page = browser_page
    open_map(page, demo_server, demo_engine, role="grid_manager", scope=grid_path[0], unit=grid_path[3])
    with points_held(page, demo_engine, "hazard_sources"):  # only the points read it
        page.locator("#cm-breadcrumb a.cm-crumb >> nth=0").click()  # up to the city: below every min_zoom
        wait_unit(page, grid_path[0])
        page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises, .cm-pt-hazards, .cm-agg').length === 0")
        page.wait_for_selector("#cm-points-status", state="hidden")
    # the held answer for the village view arrives now
    page.wait_for_timeout(1500)
    assert page.locator(".cm-pt-enterprises, .cm-pt-hazards, .cm-agg").count() == 0
    assert page.locator("#cm-points-status").is_hidden()
    assert page.console_errors == []


def test_points_asked_again_for_the_same_view_still_arrive(demo_server: str, demo_engine: Engine,
                                                          browser_page: Any, grid_path: list[str]) -> None:
    """pointData triggered again while its answer for the same view is held (here: a layer unchecked and checked
    again): Dash drops the older call's result, so the newer call must fill every layer itself (CI at stop 25)."""
    page = browser_page
    # Scoped to the township: the server's cached answers of the tests above (per scope) are not this view's.
    open_map(page, demo_server, demo_engine, role="grid_manager", scope=grid_path[2], unit=grid_path[3])
    overlay = page.locator(".leaflet-control-layers-overlays label", has_text="重大危险源").locator("input")
    with points_held(page, demo_engine, "hazard_sources"):  # only the points read it
        overlay.uncheck()
        overlay.check()
        page.wait_for_timeout(300)  # both calls under way while the answer is held
    page.wait_for_selector("#cm-points-status", state="hidden")
    # Every checked layer holds the data of the view now shown (its zoom), not of the view before the zoom-in.
    page.wait_for_function(
        """() => {
          const zoom = Math.round(window.dash_component_api.getLayout("cm-map").props.zoom);
          return ["enterprises", "sources", "hazards"].every((id) => {
            const data = window.dash_component_api.getLayout("cm-layer-" + id).props.data;
            return data && data.view && data.view.split("|")[1] === String(zoom);
          });
        }""", timeout=15_000)
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises, .cm-agg').length > 0")
    assert page.console_errors == []


def test_a_layer_checked_again_after_a_pan_loads_the_new_view(demo_server: str, demo_engine: Engine,
                                                            browser_page: Any, grid_path: list[str]) -> None:
    page = browser_page
    open_map(page, demo_server, demo_engine, role="grid_manager", scope=grid_path[0], unit=grid_path[3])
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises').length > 0")
    overlay = page.locator(".leaflet-control-layers-overlays label", has_text="生产经营单位").locator("input")
    overlay.uncheck()
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises').length === 0")

    def kinds(request: Any) -> str:
        return str(parse_qs(urlparse(request.url).query)["kinds"][0])

    points_request = lambda r: "/api/map/points" in r.url  # noqa: E731
    with page.expect_request(points_request) as panned:
        page.locator(".leaflet-control-zoom-in").click()
    assert kinds(panned.value) == "sources,hazards"  # the unchecked layer is not asked
    with page.expect_request(points_request) as checked:
        overlay.check()
    assert kinds(checked.value) == "enterprises"  # checked again: only it, for the view now shown
    assert parse_qs(urlparse(checked.value.url).query)["zoom"] == parse_qs(urlparse(panned.value.url).query)["zoom"]
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises').length > 0")
    assert page.console_errors == []


def test_points_that_cannot_load_say_why(demo_server: str, demo_engine: Engine, browser_page: Any,
                                         grid_path: list[str]) -> None:
    """An account disabled while its map is open: the next point request is refused, and the map says so."""
    page = browser_page
    user, password = make_user(demo_engine, role="grid_manager", scope=grid_path[1])
    login(page, demo_server, user, password, expect_path=f"/?unit={grid_path[3]}")
    wait_unit(page, grid_path[3])
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises, .cm-agg').length > 0")
    assert page.locator("#cm-points-status").is_hidden()
    with demo_engine.begin() as conn:
        conn.execute(text("UPDATE users SET active = false WHERE username = :u"), {"u": user})
    page.locator(".leaflet-control-zoom-in").click()  # a new view: its points are asked for
    page.wait_for_selector("#cm-points-status .cm-points-error", state="visible")
    assert "登录已失效" in page.locator("#cm-points-status").inner_text()
    # the refused request itself is the only console error ("Failed to load resource … 401")
    assert all("401" in e for e in page.console_errors), page.console_errors
