"""Real Chromium: search (partial name, credit code), the file drawer and page, radius queries, the hazard
ledger with filters, locate and xlsx export (opened with openpyxl and compared with the database)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from geo.hazard_ledger import LedgerFilters, hazard_export_rows
from tests.browser import make_user, screenshot_dir
from tests.test_search_data import A_CODE, A_LAT, A_LON, inspector_world

__all__ = ["inspector_world"]
pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.usefixtures("inspector_world")]
SHOTS = screenshot_dir()  # tests/artifacts/screenshots unless SAFEGRID_SCREENSHOT_DIR (make screenshots)
WEIDU = "411000.411002."


def _callback_outputs(page: Any) -> list[dict[str, Any]]:
    """Collect the JSON responses of Dash callbacks (to read what went into dcc.Store components)."""
    seen: list[dict[str, Any]] = []

    def on_response(resp: Any) -> None:
        if "/_dash-update-component" in resp.url and resp.status == 200:
            with contextlib.suppress(ValueError):  # a non-JSON body is simply not collected
                seen.append(json.loads(resp.text()))

    page.on("response", on_response)
    return seen


def login_to(page: Any, base_url: str, username: str, password: str, path: str = "/overview") -> None:
    """Sign in through the login form straight to ``path`` (not the command map, tested elsewhere)."""
    page.goto(f"{base_url}/login?next={path}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{path}")
    page.wait_for_selector("#shell-user")


def test_search_file_and_radius(live_server: str, chromium: Any, engine: Engine) -> None:
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900},
                                   geolocation={"latitude": A_LAT, "longitude": A_LON}, permissions=["geolocation"])
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    outputs = _callback_outputs(page)
    user, password = make_user(engine, role="inspector", scope="411002")
    login_to(page, live_server, user, password)

    # Partial Chinese name: results as you type, only within 魏都区.
    page.fill("#search-input", "瑞恒")
    page.wait_for_selector("#search-results .search-hit")
    results = page.locator("#search-results").inner_text()
    assert "许昌瑞恒化工有限公司" in results and "建安区瑞恒化工二厂" not in results
    page.locator("#search-results .search-hit").first.click()
    page.wait_for_selector("#search-drawer:not([hidden]) #search-ent-name")
    drawer = page.locator("#search-drawer")
    assert "许昌瑞恒化工有限公司" in page.locator("#search-ent-name").inner_text()
    text_ = drawer.inner_text()
    assert "空缺" in text_ and "褚主任" in text_ and "郑班长" in text_
    codes = page.locator("#search-ent-hazards .ent-hazard").evaluate_all("els => els.map(e => e.dataset.code)")
    assert codes == ["TT-H1", "TT-H3", "TT-H2"]
    focus = [o["response"]["map-focus"]["data"] for o in outputs if "map-focus" in o.get("response", {})]
    assert focus and focus[-1]["highlight"] == f"enterprise:{A_CODE}"
    assert focus[-1]["lat"] == pytest.approx(A_LAT) and focus[-1]["lon"] == pytest.approx(A_LON)
    page.click("#search-drawer-close")
    page.wait_for_selector("#search-drawer", state="hidden")

    # Credit code prefix + Enter opens the best hit.
    page.fill("#search-input", A_CODE[:15].lower())
    page.wait_for_selector("#search-results .search-hit")
    assert A_CODE in page.locator("#search-results").inner_text()
    page.press("#search-input", "Enter")
    page.wait_for_selector("#search-drawer:not([hidden]) #search-ent-name")

    # The full page, radius changed from 1 km to 2 km brings in the petrol station 1.2 km north.
    page.click("#search-ent-full-link")
    page.wait_for_url(f"{live_server}/enterprise?code={A_CODE}")
    page.wait_for_selector(".ent-page #ent-nearby-table")
    assert "魏都区金地加油站" not in page.locator("#ent-nearby").inner_text()
    page.click("#ent-radius")
    page.get_by_text("2 公里", exact=True).click()
    page.wait_for_function("document.querySelector('#ent-nearby').innerText.includes('魏都区金地加油站')")
    near = page.locator("#ent-nearby").inner_text()
    assert "建安区瑞恒化工二厂" not in near and "东关烟花爆竹批发部" in near
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "enterprise_file.png"), full_page=True)

    # Around my position (browser geolocation = enterprise A).
    page.click("#search-locate")
    page.wait_for_selector("#search-around:not([hidden]) #search-around-summary")
    around = page.locator("#search-around").inner_text()
    assert "许昌恒达机械制造有限公司" in around and "东关烟花爆竹批发部" in around
    assert "魏都区金地加油站" not in around and "建安区瑞恒化工二厂" not in around
    assert "TT-S1" in around and "TT-S2" not in around
    assert page.locator("#search-drawer-title").inner_text() == "周边查询"
    page.screenshot(path=str(SHOTS / "around_point.png"))
    assert errors == []
    context.close()


def test_hazard_ledger_filter_locate_export(
    live_server: str, browser_page: Any, engine: Engine, tmp_path: Path
) -> None:
    page = browser_page
    user, password = make_user(engine, role="grid_manager", scope="411002")
    login_to(page, live_server, user, password, "/hazards")
    page.wait_for_selector("#haz-grid .ag-row")
    page.fill("#haz-text", "TT-")  # the export link follows the grid's filters, so wait for it
    page.wait_for_function("document.querySelector('#haz-export').href.includes('q=TT-')")
    assert page.locator("#haz-count").inner_text() == "共 4 条隐患"
    page.click("#haz-flags input[value=overdue]")
    page.wait_for_function("document.querySelector('#haz-export').href.includes('flag=overdue')")
    page.wait_for_function("document.querySelector('#haz-count').innerText === '共 2 条隐患'")
    page.wait_for_function("document.querySelectorAll('#haz-grid .ag-center-cols-container .ag-row').length === 2")
    grid = page.locator("#haz-grid").inner_text()
    assert "TT-H1" in grid and "TT-H4" in grid and "TT-H3" not in grid and "TT-H5" not in grid
    page.wait_for_selector("#haz-grid .ag-row[row-id='TT-H4'] .haz-locate")
    page.screenshot(path=str(SHOTS / "hazard_ledger.png"))  # not full_page: resizing re-renders the grid

    with page.expect_download() as info:
        page.click("#haz-export")
    assert info.value.suggested_filename.startswith("隐患台账_魏都区_")
    path = tmp_path / "ledger.xlsx"
    info.value.save_as(path)
    ws = load_workbook(path).active
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    with engine.connect() as conn:
        expected = hazard_export_rows(conn, scope=WEIDU, filters=LedgerFilters(text="TT-", overdue=True))
        audit = conn.execute(text(
            "SELECT detail FROM audit_log WHERE username = :u AND action = 'export_hazards' ORDER BY id DESC LIMIT 1"
        ), {"u": user}).scalar_one()
    assert [r["隐患编号"] for r in rows] == [e["code"] for e in expected] == ["TT-H1", "TT-H4"]
    assert [r["企业名称"] for r in rows] == [e["enterprise_name"] for e in expected]
    assert rows[0]["隐患描述"] == "'=1+2 液氨储罐区未设置泄漏报警"  # neutralised, not a formula
    assert rows[0]["整改责任人"] == "'+8613800000001"
    assert rows[0]["五到位缺项"] == "应急预案"  # the fixture's hazards have no 预案
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    assert audit["rows"] == 2 and audit["filters"] == {"overdue": True, "text": "TT-"}

    page.locator("#haz-grid .ag-row[row-id='TT-H1'] .haz-locate").first.click()
    page.wait_for_url("**/?unit=41100200100101&focus=hazard%3ATT-H1")
    assert page.console_errors == []
