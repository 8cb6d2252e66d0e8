"""/risk in headless Chromium on the demo: heatmap vs the DB, zoom → resolution, filters, explanation, exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from domain import clock
from domain.crs import BBox
from domain.labels import RISK_LEVEL_LONG
from geo import risk_queries as rq
from layers.risk import RISK_UNITS
from tests.browser import http_login, login, make_user, screenshot_dir
from tests.demo_fixture import demo_db  # noqa: F401  (session fixture used by risk_server)
from tests.test_risk_routes import RiskServer, risk_server  # noqa: F401  (session fixture)

pytestmark = pytest.mark.browser
SHOTS = screenshot_dir()  # tests/artifacts/screenshots unless SAFEGRID_SCREENSHOT_DIR (make screenshots)
_INFO = re.compile(r"缩放 (\d+) · H3 分辨率 (\d+) · (\d+) 个六边形")


def _info(page: Any) -> tuple[int, int, int]:
    m = _INFO.search(page.inner_text("#risk-hex-info"))
    assert m, page.inner_text("#risk-hex-info")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _wait_info(page: Any, previous: str | None = None) -> None:
    page.wait_for_function(
        "([prev]) => { const e = document.querySelector('#risk-hex-info'); const t = e ? e.textContent : '';"
        " return t.includes('分辨率') && t !== prev; }", arg=[previous], timeout=30_000)


def _expected(server: RiskServer, href: str) -> dict[str, Any]:
    """Recompute the heatmap of the page's current view (export link) from the DB, on the server's business day."""
    q = {k: v for k, v in parse_qs(urlparse(href).query).items()}
    with server.engine.connect() as c:
        return json.loads(rq.heatmap_geojson(
            c, scope="411000.", metric=q.get("metric", ["risk_score"])[0], zoom=float(q["zoom"][0]),
            bbox=BBox.parse(q["bbox"][0]), filters=rq.RiskFilters.from_args(q), as_of=clock.today()))


def test_risk_page_heatmap_explanation_exports(risk_server: RiskServer, browser_page: Any,  # noqa: F811
                                               tmp_path: Path) -> None:
    page = browser_page
    user, password = make_user(risk_server.engine, role="planner", scope="411000")
    login(page, risk_server.url, user, password)
    page.goto(f"{risk_server.url}/risk")
    _wait_info(page)

    # 1. the heatmap drawn equals the DB's answer for the view, at the resolution of the zoom
    zoom, res, cells = _info(page)
    assert res == rq.resolution_for_zoom(zoom)
    expected = _expected(risk_server, page.get_attribute("#risk-export-xlsx", "href"))
    assert cells == len(expected["features"]) == page.locator(".rk-hex").count() > 0
    assert "预聚合" in page.inner_text("#risk-hex-info")
    ticks = page.locator("#risk-colorbar, .rk-colorbar").first.inner_text()
    assert str(expected["breaks"][-1]).rstrip("0").rstrip(".") in ticks.replace("\n", " ")

    # 2. zooming in switches to finer hexagons
    before = page.inner_text("#risk-hex-info")
    page.click(".leaflet-control-zoom-in")
    page.wait_for_timeout(400)
    page.click(".leaflet-control-zoom-in")
    _wait_info(page, before)
    page.wait_for_function("([z]) => document.querySelector('#risk-hex-info').textContent.includes('缩放 ' + z)",
                           arg=[zoom + 2], timeout=30_000)
    zoom2, res2, _ = _info(page)
    assert zoom2 == zoom + 2 and res2 == rq.resolution_for_zoom(zoom2) and res2 > res
    page.click(".leaflet-control-zoom-out")
    page.wait_for_timeout(400)
    page.click(".leaflet-control-zoom-out")
    page.wait_for_function("([z]) => document.querySelector('#risk-hex-info').textContent.includes('缩放 ' + z + ' ')",
                           arg=[zoom], timeout=30_000)

    # 3. a filter (enterprise colour = 红) changes the heatmap to on-the-fly aggregation matching the DB
    before = page.inner_text("#risk-hex-info")
    page.click("#risk-colour")
    page.click(f"[role=option]:has-text('{RISK_LEVEL_LONG['red']}')")
    page.keyboard.press("Escape")
    _wait_info(page, before)
    page.wait_for_function("document.querySelector('#risk-hex-info').textContent.includes('实时聚合')",
                           timeout=30_000)
    href = page.get_attribute("#risk-export-xlsx", "href")
    assert "risk=red" in href
    filtered = _expected(risk_server, href)
    _, _, fcells = _info(page)
    assert fcells == len(filtered["features"]) == page.locator(".rk-hex").count()
    assert 0 < fcells < cells
    page.screenshot(path=str(SHOTS / "risk_filtered.png"))

    # 4. clicking a unit explains its class exactly as unit_stats.risk_explain says
    page.locator(".cm-unit-411002").first.dispatch_event("click")
    page.wait_for_selector("#risk-explain-class")
    with risk_server.engine.connect() as c:
        cls, score, doc = c.execute(text(
            "SELECT s.risk_class, s.risk_score, s.risk_explain FROM unit_stats s JOIN units u ON u.id = s.unit_id "
            "WHERE u.code = '411002'")).one()
    assert page.inner_text("#risk-explain-class") == RISK_LEVEL_LONG[cls]
    assert f"{score:g}" in page.inner_text("#risk-explain-score")
    assert page.locator(".rk-input-row").evaluate_all("rows => rows.map(r => r.dataset.input)") == [
        c["input"] for c in doc["contributions"]]
    assert page.locator(".rk-top-enterprise").evaluate_all("rows => rows.map(r => r.dataset.code)") == [
        e["code"] for e in doc["top_enterprises"]]
    thresholds = page.inner_text("#risk-explain-thresholds")
    assert all(f"{v:g}" in thresholds for v in doc["thresholds"].values())
    first = doc["top_enterprises"][0]["code"]
    assert page.locator(f".rk-top-enterprise[data-code='{first}'] a").get_attribute("href") == \
        f"/enterprise?code={first}"
    page.screenshot(path=str(SHOTS / "risk_explain.png"))

    # 5. the xlsx export holds what the page shows (cells in view, explanation of the selected unit)
    page.wait_for_function("document.querySelector('#risk-export-xlsx').href.includes('unit=411002')")
    with page.expect_download() as download:
        page.click("#risk-export-xlsx")
    path = tmp_path / "risk.xlsx"
    download.value.save_as(path)
    assert download.value.suggested_filename.endswith(".xlsx")
    wb = load_workbook(path)
    hexes = {row[0]: row[2] for row in wb["H3六边形"].iter_rows(min_row=2, values_only=True)}
    assert hexes == {f["id"]: f["properties"]["v"] for f in filtered["features"]}
    assert wb["定级依据"]["A3"].value == "得分" and wb["定级依据"]["B3"].value == pytest.approx(doc["score"])
    with page.expect_download() as download:
        page.click("#risk-export-png")
    assert Path(download.value.path()).read_bytes()[:4] == b"\x89PNG"

    # 6. compare block shows the two default counties' KPIs from unit_stats
    page.wait_for_selector("#risk-compare-table")
    rows = page.locator("#risk-compare-table tr[data-kpi='enterprises'] td").all_inner_texts()
    with risk_server.engine.connect() as c:
        ents = c.execute(text("SELECT s.enterprises FROM unit_stats s JOIN units u ON u.id = s.unit_id "
                              "WHERE u.level = 2 ORDER BY u.code LIMIT 2")).scalars().all()
    assert [int(v) for v in rows] == ents
    page.set_viewport_size({"width": 1440, "height": 900})
    page.screenshot(path=str(SHOTS / "risk_analysis.png"), full_page=True)
    assert page.console_errors == []


def test_four_colour_map_by_industry_in_the_browser(risk_server: RiskServer, browser_page: Any) -> None:  # noqa: F811
    """A planner recolours the county outlines for 烟花爆竹 (分行业): each unit's colour is the route's answer."""
    page = browser_page
    user, password = make_user(risk_server.engine, role="planner", scope="411000")
    login(page, risk_server.url, user, password)
    page.goto(f"{risk_server.url}/risk")
    page.wait_for_selector("path.rk-unit", state="attached", timeout=30_000)
    page.click("#risk-overlay-industry")
    page.get_by_role("option", name="烟花爆竹", exact=True).click()
    session = http_login(risk_server.url, user, password)
    fc = session.get(f"{risk_server.url}/api/risk/units.geojson", params={"level": 2, "industry": "烟花爆竹"},
                     timeout=30).json()
    hideout = RISK_UNITS.hideout()
    expected = {f["id"]: (hideout["colours"].get(f["properties"]["risk"]) or hideout.get("noColour") or "#8a97a8")
                for f in fc["features"]}
    page.wait_for_function(
        "(exp) => Object.entries(exp).every(([code, colour]) => { const el = document.querySelector("
        "'path.rk-unit.cm-unit-' + code); "
        "return el && el.getAttribute('stroke').toLowerCase() === colour.toLowerCase(); })",
        arg=expected, timeout=30_000)
    with risk_server.engine.connect() as c:
        fireworks = c.execute(text("SELECT count(*) FROM enterprises WHERE industry = '烟花爆竹' "
                                   "AND unit_id IS NOT NULL")).scalar_one()
    assert sum(f["properties"]["enterprises"] for f in fc["features"]) == fireworks > 0
    page.screenshot(path=str(SHOTS / "risk_by_industry.png"))
    assert not page.console_errors
