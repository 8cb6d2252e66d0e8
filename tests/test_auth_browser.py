"""Real Chromium: sign in through the login page, see the Chinese home page, no console errors, sign out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine

from dashboard.pages.home import PAGE as HOME
from tests.browser import dash_payload, login, make_user, screenshot_dir
from tests.fixtures_units import ENTERPRISES

pytestmark = [pytest.mark.browser, pytest.mark.db]
SHOTS = screenshot_dir()  # tests/artifacts/screenshots unless SAFEGRID_SCREENSHOT_DIR (make screenshots)


def test_login_home_logout_in_chromium(live_server: str, browser_page: Any, engine: Engine) -> None:
    page = browser_page
    user, password = make_user(engine, role="grid_manager", scope="411002001")
    captured: list[dict[str, Any]] = []
    page.on("request", lambda r: captured.append(json.loads(r.post_data))
            if "/_dash-update-component" in r.url else None)

    page.goto(f"{live_server}/")
    assert page.url.startswith(f"{live_server}/login")
    assert page.locator("h1").inner_text() == "安全生产网格化监管“一张图”"
    assert page.locator("button[type=submit]").inner_text() == "登录"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "login.png"))

    login(page, live_server, user, password, expect_path=HOME.path)
    assert page.locator("#shell-role").inner_text() == "网格管理员"
    assert "西大街道" in page.locator("#shell-scope").inner_text()
    assert page.locator("#shell-user").inner_text() == "测试grid_manager"
    page.wait_for_selector(".sg-summary[data-unit='411002001']")
    assert page.locator("#home-title").inner_text() == "西大街道 · 安全生产概况"
    body = page.locator("body").inner_text()
    assert "金地社区" in body and str(ENTERPRISES["411002001"]) in body
    assert "东大街道" not in body and "建安区" not in body
    assert page.locator("#shell-nav-admin-users").count() == 0  # no menu entry for non-admins
    page.screenshot(path=str(SHOTS / "home.png"), full_page=True)

    # The payload the renderer really sends is the one tests/browser.py:dash_update forges.
    home = [c for c in captured if c.get("output") == "home-summary.children"]
    assert home, captured
    forged = dash_payload(output="home-summary.children",
                          inputs=[{"id": "home-unit", "property": "value", "value": "411002001"}], changed=False)
    assert home[0] == forged

    page.click("#shell-logout")
    page.wait_for_url(f"{live_server}/login")
    page.goto(f"{live_server}/")
    assert page.url.startswith(f"{live_server}/login")
    assert page.console_errors == []


def test_admin_sees_user_page_in_menu(live_server: str, browser_page: Any, engine: Engine) -> None:
    page = browser_page
    user, password = make_user(engine, role="admin", scope="411000")
    login(page, live_server, user, password, expect_path=HOME.path)
    page.click("#shell-nav-admin-users")
    page.wait_for_selector("#admin-users-table")
    assert user in page.locator("#admin-users-table").inner_text()
    assert page.console_errors == []
