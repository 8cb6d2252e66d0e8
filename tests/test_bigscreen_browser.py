"""The big screen (/bigscreen) in real Chromium on the small 许昌 demo (tests/demo_fixture.py), served by gunicorn.

At 1920×1080 the KPI ribbon equals counts taken straight from the tables; three refresh cycles
(``SAFEGRID_BIGSCREEN_REFRESH_SECONDS=2``) leave no console error, keep the panned map view and the
very same DOM nodes (no flicker); the carousel flies through the counties and back; 3840×2160 and
1366×768 have no scrollbars and no clipped panel. Roles without the big screen get 403 for the page
and a refusal for a forged refresh callback; the clock shows 北京时间. Screenshots
go to bigscreen_{1920,3840,1366}.png in screenshot_dir() (docs/screenshots under `make screenshots`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import Engine, create_engine, text

from domain.clock import today as business_today
from etl.refresh import refresh_all
from geo.rule_settings import goal_rows
from tests.browser import http_login, make_user, screenshot_dir
from tests.demo_fixture import DemoDb, demo_db  # noqa: F401  (fixture)
from tests.demo_server import gunicorn_app

pytestmark = [pytest.mark.browser, pytest.mark.db]
SHOTS = screenshot_dir()  # tests/artifacts/screenshots unless SAFEGRID_SCREENSHOT_DIR (make screenshots)
REFRESH_SECONDS = 2
CAROUSEL_SECONDS = 3


@pytest.fixture(scope="module")
def demo_engine(demo_db: DemoDb) -> Iterator[Engine]:  # noqa: F811
    engine = create_engine(demo_db.url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def bs_server(demo_db: DemoDb) -> Iterator[str]:  # noqa: F811
    """The app on the demo database with a 2-second refresh and a 3-second carousel; yields its base URL."""
    with gunicorn_app(demo_db.url, SAFEGRID_BIGSCREEN_REFRESH_SECONDS=str(REFRESH_SECONDS),
                      SAFEGRID_BIGSCREEN_CAROUSEL_SECONDS=str(CAROUSEL_SECONDS)) as base:
        yield base


@pytest.fixture(scope="module")
def leader(demo_engine: Engine) -> tuple[str, str]:
    return make_user(demo_engine, role="leader", scope="411000")


def open_screen(chromium: Any, base: str, user: tuple[str, str], width: int, height: int) -> Any:
    """Sign in at ``width``×``height`` and open /bigscreen; the page collects console errors."""
    context = chromium.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.console_errors = errors
    page.goto(f"{base}/login?next=/bigscreen")
    page.fill("#username", user[0])
    page.fill("#password", user[1])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/bigscreen")
    page.wait_for_selector("#bs-kpis")
    page.wait_for_selector("path.bs-outline")
    page.wait_for_selector("path.bs-unit[class*='bs-fill-']")
    page.wait_for_selector("#bs-trend .bars .point")
    return page


def number(text_value: str) -> int:
    """Parse '20,000' → 20000."""
    return int(text_value.replace(",", "").strip())


def kpi(page: Any, key: str) -> str:
    return str(page.inner_text(f"#bs-kpi-{key} .bs-kpi-value"))


def expected_kpis(engine: Engine, scope: str, as_of: Any) -> dict[str, Any]:
    """The ribbon's numbers counted straight from the tables (independent of geo/bigscreen_queries.py)."""
    with engine.connect() as conn:
        def one(sql: str) -> int:
            return int(conn.execute(text(sql), {"p": scope, "d": as_of,
                                                "m": as_of.replace(day=1)}).scalar_one())

        ent = "FROM enterprises e JOIN units u ON u.id = e.unit_id WHERE u.path LIKE :p || '%'"
        haz = ("FROM hazards h LEFT JOIN enterprises e ON e.id = h.enterprise_id "
               "JOIN units u ON u.id = coalesce(h.unit_id, e.unit_id) WHERE u.path LIKE :p || '%'")
        out: dict[str, Any] = {
            "enterprises": one(f"SELECT count(*) {ent}"),
            "ent_red": one(f"SELECT count(*) {ent} AND e.risk_level = 'red'"),
            "ent_orange": one(f"SELECT count(*) {ent} AND e.risk_level = 'orange'"),
            "sources": one("SELECT count(*) FROM hazard_sources s JOIN enterprises e ON e.id = s.enterprise_id "
                           "JOIN units u ON u.id = coalesce(s.unit_id, e.unit_id) WHERE u.path LIKE :p || '%'"),
            "hazards_open": one(f"SELECT count(*) {haz} AND h.status <> 'closed'"),
            "hazards_overdue": one(f"SELECT count(*) {haz} AND h.status <> 'closed' AND h.deadline < :d"),
            "hazards_major_open": one(f"SELECT count(*) {haz} AND h.status <> 'closed' AND h.level = 'major'"),
            "hazards_supervised": one(f"SELECT count(*) {haz} AND h.status <> 'closed' "
                                      "AND h.supervision_level IS NOT NULL"),
        }
        closed = one(f"SELECT count(*) {haz} AND h.closed_at >= :m AND h.closed_at <= :d")
        base = one(f"SELECT count(*) {haz} AND ((h.found_at < :m AND (h.closed_at IS NULL OR h.closed_at >= :m)) "
                   "OR (h.found_at >= :m AND h.found_at <= :d))")
        out["closure_rate"] = f"{100 * closed / base:.1f}%" if base else "—"
        return out


def test_kpis_match_database_1920(chromium: Any, bs_server: str, leader: tuple[str, str],
                                  demo_engine: Engine) -> None:

    page = open_screen(chromium, bs_server, leader, 1920, 1080)
    expected = expected_kpis(demo_engine, "411000.", business_today())
    for key, value in expected.items():
        shown = kpi(page, key)
        assert (shown if key == "closure_rate" else number(shown)) == value, key
    assert "许昌市安全生产网格化监管指挥大屏" in page.inner_text("#bs-title")
    assert not page.is_visible(".sg-header")  # full screen: the shell header is hidden
    clock = datetime.strptime(page.inner_text("#bs-date")[:11] + page.inner_text("#bs-clock"), "%Y年%m月%d日%H:%M:%S")
    beijing = datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
    assert abs((beijing - clock).total_seconds()) < 90  # 北京时间, whatever the browser's zone
    with demo_engine.connect() as conn:
        by_risk = conn.execute(text(
            "SELECT coalesce(u.short_name, u.name) FROM units u JOIN unit_stats s ON s.unit_id = u.id "
            "WHERE u.level = 2 ORDER BY round(s.risk_score::numeric, 2) DESC, "
            "array_position(ARRAY['red','orange','yellow','blue'], s.risk_class), u.code"
        )).scalars().all()
    assert page.locator("#bs-rank-risk .bs-rank-name").all_inner_texts() == list(by_risk)
    overdue = page.locator("#bs-rank-overdue .bs-rank-value").all_inner_texts()
    assert [number(v) for v in overdue] == sorted((number(v) for v in overdue), reverse=True)
    assert sum(number(v) for v in overdue) == expected["hazards_overdue"]
    assert page.locator("path.bs-outline").count() == 7
    assert page.locator(".bs-tick").count() > 0
    with demo_engine.connect() as conn:  # 动态清零: the counties on track, as /risk's goal table marks them
        goals = goal_rows(conn, scope="411000.", code="411000", as_of=business_today())
    assert page.inner_text("#bs-goals") == f"{sum(1 for g in goals if g['marks']['ok'])}/{len(goals)}"
    assert f"存量未销号 {sum(g['stock_open'] for g in goals)} 项" in page.inner_text("#bs-goals-sub")
    page.wait_for_timeout(1500)  # let the first fills and the trend settle before the picture
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "bigscreen_1920.png"))
    assert page.console_errors == []
    page.context.close()


_MARK = """() => {
  const nodes = {map: document.querySelector('#bs-map'),
                 kpi: document.querySelector('#bs-kpi-enterprises .bs-kpi-value'),
                 rank: document.querySelector('#bs-rank-risk .bs-rank-row'),
                 track: document.querySelector('.bs-tick-track'), trend: document.querySelector('#bs-trend .main-svg')};
  for (const [k, n] of Object.entries(nodes)) { if (n) { n.dataset.bsMark = k; } }
}"""
_VIEW = """() => {
  const pane = document.querySelector('#bs-map .leaflet-map-pane');
  const unit = document.querySelector('path.bs-unit-411002').getBoundingClientRect();
  return {pane: pane.style.transform, unit: [unit.x, unit.y, unit.width, unit.height].map(v => Math.round(v))};
}"""
_MARKED = """() => ['map', 'kpi', 'rank', 'track', 'trend'].filter(k => {
  const n = document.querySelector('[data-bs-mark="' + k + '"]');
  return n && n.isConnected;
})"""


def test_refresh_keeps_view_nodes_and_console_clean(chromium: Any, bs_server: str, leader: tuple[str, str],
                                                    demo_engine: Engine) -> None:
    page = open_screen(chromium, bs_server, leader, 1920, 1080)
    refreshes: list[int] = []

    def on_response(resp: Any) -> None:
        if "_dash-update-component" in resp.url and "bs-tick.n_intervals" in (resp.request.post_data or ""):
            refreshes.append(resp.status)

    def wait_refreshes(n: int) -> None:
        deadline = time.monotonic() + n * (REFRESH_SECONDS + 2) + 10
        while len(refreshes) < n and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        page.wait_for_timeout(500)
        assert len(refreshes) >= n and set(refreshes) == {200}, refreshes

    page.on("response", on_response)
    page.wait_for_timeout(800)  # the initial fitBounds has finished
    box = page.locator("#bs-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 180, cy - 90, steps=8)
    page.mouse.up()
    page.mouse.wheel(0, -300)  # and zoom in one step: a reset would undo both
    page.wait_for_timeout(1200)
    page.evaluate(_MARK)
    before = page.evaluate(_VIEW)
    enterprises, red = number(kpi(page, "enterprises")), number(kpi(page, "ent_red"))
    refreshes.clear()
    wait_refreshes(3)
    assert page.evaluate(_VIEW) == before
    assert page.evaluate(_MARKED) == ["map", "kpi", "rank", "track", "trend"]  # unchanged data: nodes untouched
    # New data arrives (an enterprise load, then the derived layers' refresh the ETL runs after it: the ribbon's
    # enterprise counts come from unit_stats like the map's colours): the numbers change in place, the view stays.
    demo_url = demo_engine.url.render_as_string(hide_password=False)
    with demo_engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO enterprises (credit_code, name, risk_level, unit_id) SELECT '91411000BSREFRESH1', "
            "'大屏刷新测试企业', 'red', min(id) FROM units WHERE level = 5"
        ))
    try:
        refresh_all(demo_url)
        refreshes.clear()
        wait_refreshes(1)
        page.wait_for_function(f"document.querySelector('#bs-kpi-enterprises-value').textContent === "
                               f"'{enterprises + 1:,}'", timeout=(REFRESH_SECONDS + 5) * 1000)
        assert number(kpi(page, "ent_red")) == red + 1
        # the map and the KPI ribbon are updated in place; the ranking and the 动态清零 track may be redrawn, as
        # the refresh changed the units' roll-ups they show
        assert {"map", "kpi", "trend"} <= set(page.evaluate(_MARKED))
        assert page.evaluate(_VIEW) == before
    finally:
        with demo_engine.begin() as conn:
            conn.execute(text("DELETE FROM enterprises WHERE credit_code = '91411000BSREFRESH1'"))
        refresh_all(demo_url)
    assert page.console_errors == []
    page.context.close()


def _is_callback(url: str) -> bool:
    return "/_dash-update-component" in url


def test_stale_warning_when_refreshes_fail(chromium: Any, bs_server: str, leader: tuple[str, str]) -> None:
    page = open_screen(chromium, bs_server, leader, 1920, 1080)
    assert not page.is_visible("#bs-stale")
    kpis = page.inner_text("#bs-kpis")

    def fail(route: Any) -> None:  # the server is unreachable for the refresh
        if "bs-tick.n_intervals" in (route.request.post_data or ""):
            route.fulfill(status=503, body="数据库暂时无法连接")
        else:
            route.continue_()

    # (a glob "**/_dash-update-component" does not catch Dash's POSTs here; a predicate does)
    page.route(_is_callback, fail)
    page.wait_for_selector("#bs-stale", timeout=(4 * REFRESH_SECONDS + 5) * 1000)
    assert page.inner_text("#bs-stale").startswith("数据已") and "未更新" in page.inner_text("#bs-stale")
    assert page.inner_text("#bs-kpis") == kpis  # the last figures stay up
    m = page.evaluate(_FITS)
    assert m["clipped"] == [] and m["sh"] <= m["ih"], m
    page.screenshot(path=str(SHOTS / "bigscreen_stale.png"), clip={"x": 0, "y": 0, "width": 960, "height": 80})
    page.unroute(_is_callback, fail)
    page.wait_for_selector("#bs-stale", state="hidden", timeout=(2 * REFRESH_SECONDS + 5) * 1000)
    page.context.close()  # console errors are expected here: the refreshes failed on purpose


def test_carousel_flies_through_children_and_back(chromium: Any, bs_server: str, leader: tuple[str, str]) -> None:
    page = open_screen(chromium, bs_server, leader, 1920, 1080)
    page.wait_for_timeout(600)
    start = page.evaluate(_VIEW)
    page.click("#bs-carousel-toggle")
    page.wait_for_selector("#bs-carousel-card .bs-card-name")
    assert page.inner_text("#bs-carousel-card .bs-card-name") == "魏都区"  # children in code order
    page.wait_for_selector("path.bs-outline.bs-current")
    page.wait_for_function("document.querySelector('#bs-carousel-card .bs-card-name').textContent === '建安区'",
                           timeout=(CAROUSEL_SECONDS + 5) * 1000)
    assert "bs-on" in (page.get_attribute("#bs-carousel-toggle", "class") or "")
    page.wait_for_timeout(1800)  # flyToBounds has landed on 建安区
    assert page.evaluate(_VIEW) != start
    page.click("#bs-carousel-toggle")
    page.wait_for_selector("#bs-carousel-card", state="hidden")
    assert page.locator("path.bs-outline.bs-current").count() == 0
    page.wait_for_timeout(2000)  # flown back to the whole city
    after = page.evaluate(_VIEW)
    assert all(abs(a - b) <= 3 for a, b in zip(after["unit"], start["unit"], strict=True)), (after, start)
    assert page.console_errors == []
    page.context.close()


_FITS = """() => {
  const d = document.documentElement;
  const clipped = [...document.querySelectorAll(
    '.bs-fit, .bs-kpi, .bs-title, .bs-rank-head, .bs-line, .bs-legend, .bs-header-side, .bs-header')]
    .filter(e => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1)
    .map(e => (e.id || e.className) + ' ' + e.scrollWidth + 'x' + e.scrollHeight + ' in '
              + e.clientWidth + 'x' + e.clientHeight);
  const page = document.querySelector('.bs-page').getBoundingClientRect();
  return {sw: d.scrollWidth, sh: d.scrollHeight, iw: innerWidth, ih: innerHeight, clipped,
          page: [page.width, page.height],
          kpiFont: parseFloat(getComputedStyle(document.querySelector('.bs-kpi-value')).fontSize),
          labelFont: parseFloat(getComputedStyle(document.querySelector('.bs-rank-name')).fontSize)};
}"""


@pytest.mark.parametrize("width,height", [(1920, 1080), (3840, 2160), (1366, 768)])
def test_layouts_fit_without_scrollbars(chromium: Any, bs_server: str, leader: tuple[str, str],
                                        width: int, height: int) -> None:
    page = open_screen(chromium, bs_server, leader, width, height)
    page.wait_for_timeout(1500)
    m = page.evaluate(_FITS)
    assert m["sw"] <= m["iw"] and m["sh"] <= m["ih"], m
    assert m["page"] == [width, height]
    assert m["clipped"] == [], m["clipped"]
    scale = min(width / 1920, height / 1080)
    assert m["kpiFont"] == pytest.approx(47.04 * scale, rel=0.02)  # 2.45 × 19.2 px at 1920×1080
    assert m["labelFont"] >= 11  # readable on a laptop, large on a wall
    if width != 1920:
        page.screenshot(path=str(SHOTS / f"bigscreen_{width}.png"))
    assert page.console_errors == []
    page.context.close()


def test_roles_and_menu(demo_engine: Engine, bs_server: str, leader: tuple[str, str]) -> None:
    for role in ("inspector", "planner", "grid_manager"):
        user = make_user(demo_engine, role=role, scope="411000")
        s = http_login(bs_server, *user)
        assert s.get(f"{bs_server}/bigscreen", timeout=10).status_code == 403, role
        assert "shell-nav-bigscreen" not in s.get(f"{bs_server}/_dash-layout", timeout=10).text
    s = http_login(bs_server, *leader)
    assert s.get(f"{bs_server}/bigscreen", timeout=10).status_code == 200
    assert "shell-nav-bigscreen" in s.get(f"{bs_server}/_dash-layout", timeout=10).text
    admin = http_login(bs_server, *make_user(demo_engine, role="admin", scope="411000"))
    assert admin.get(f"{bs_server}/bigscreen", timeout=10).status_code == 200


_LABELS = """() => {
  const spans = [...document.querySelectorAll('.bs-map .cm-label span')];
  const shown = spans.filter(s => s.style.visibility !== 'hidden').map(s => s.getBoundingClientRect());
  let overlaps = 0;
  shown.forEach((a, i) => shown.slice(i + 1).forEach(b => {
    if (a.left < b.right && a.right > b.left && a.top < b.bottom && a.bottom > b.top) { overlaps += 1; }
  }));
  return {hidden: spans.length - shown.length, overlaps};
}"""


def test_county_leader_sees_the_county(chromium: Any, bs_server: str, demo_engine: Engine) -> None:

    user = make_user(demo_engine, role="leader", scope="411002")
    page = open_screen(chromium, bs_server, user, 1920, 1080)
    assert page.inner_text("#bs-title").startswith("魏都区")
    expected = expected_kpis(demo_engine, "411000.411002.", business_today())
    assert number(kpi(page, "enterprises")) == expected["enterprises"]
    assert number(kpi(page, "hazards_open")) == expected["hazards_open"]
    with demo_engine.connect() as conn:
        townships = conn.execute(text("SELECT count(*) FROM units WHERE path LIKE '411000.411002.%' AND level = 3"))
        assert page.locator("path.bs-outline").count() == townships.scalar_one()
    assert re.match(r"风险指数排名（乡镇\(街道\)）", page.inner_text("#bs-rank-risk >> xpath=.. >> h2"))
    page.wait_for_timeout(1500)  # the declutter pass runs every second
    labels = page.evaluate(_LABELS)
    assert labels["hidden"] > 0  # the dense town centre has clashing labels…
    assert labels["overlaps"] == 0  # …and none of the shown ones overlap
    assert page.console_errors == []
    page.context.close()


def _refresh_request(session: requests.Session, base: str) -> requests.Response:
    """POST the big screen's refresh callback as the renderer would (outputs as listed by Dash)."""
    deps = session.get(f"{base}/_dash-dependencies", timeout=10).json()
    output = next(d["output"] for d in deps if "bs-kpi-enterprises-value.children" in d["output"])
    outputs: list[Any] = []
    for part in output.strip(".").split("..."):
        ident, prop = part.rsplit(".", 1)
        outputs.append([] if ident.startswith("{") else {"id": ident, "property": prop})  # no fill layer matched
    payload = {"output": output, "outputs": outputs,
               "inputs": [{"id": "bs-tick", "property": "n_intervals", "value": 1}],
               "state": [{"id": "bs-sig", "property": "data", "value": None}, []],
               "changedPropIds": ["bs-tick.n_intervals"]}
    return session.post(f"{base}/_dash-update-component", json=payload, timeout=30)


def test_forged_refresh_callback_refused_without_capability(demo_engine: Engine, bs_server: str,
                                                            leader: tuple[str, str]) -> None:
    own = _refresh_request(http_login(bs_server, *leader), bs_server)
    assert own.status_code == 200
    assert own.json()["response"]["bs-kpi-enterprises-value"]["children"] == f"{expected_total(demo_engine):,}"
    for role in ("inspector", "grid_manager"):
        r = _refresh_request(http_login(bs_server, *make_user(demo_engine, role=role, scope="411000")), bs_server)
        assert r.status_code == 200
        body = json.dumps(r.json(), ensure_ascii=False)
        assert "当前账户无权使用此功能" in body and "bs-kpi" not in body, body[:300]


def expected_total(engine: Engine) -> int:
    """All enterprises of the demo city."""
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM enterprises WHERE unit_id IS NOT NULL")).scalar_one())
