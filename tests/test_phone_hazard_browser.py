"""The hazard loop on a phone (360×740, touch) in real Chromium, on the session database (测试丁市 tree).

A grid manager opens 登记隐患 without an enterprise, taps 使用我的位置 (the browser's position), adds a finding
photo, reports; on the hazard page starts the rectification and submits it for 验收 with an after photo; an
inspector of the cell finds it in 待办 and opens it. Every page: one column, nothing wider than the screen
(``scrollWidth <= innerWidth``), buttons inside the screen. Screenshots ``phone_hazard_page.png`` and
``phone_todo.png`` in screenshot_dir() (``make screenshots`` writes the documented ones in docs/screenshots).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from domain import clock
from tests.browser import make_user, screenshot_dir
from tests.test_attachments import gps_jpeg
from tests.test_hazard_page import OWN_GRID, PLAN, loop_world

__all__ = ["loop_world"]
pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.usefixtures("loop_world")]
HERE = {"latitude": 30.3, "longitude": 110.3}  # inside 丁甲社区第1网格


@pytest.fixture
def phones(chromium: Any) -> Iterator[Any]:
    """Open a 360×740 touch page with the browser's position granted; all closed at the end."""
    contexts: list[Any] = []

    def open_phone() -> Any:
        context = chromium.new_context(locale="zh-CN", viewport={"width": 360, "height": 740}, device_scale_factor=2,
                                       is_mobile=True, has_touch=True, geolocation=HERE, permissions=["geolocation"])
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.console_errors = errors
        return page

    yield open_phone
    for context in contexts:
        context.close()


def sign_in(page: Any, base: str, account: tuple[str, str], path: str) -> None:
    """Sign in with a tap, straight to ``path`` (the user's name sits behind the phone's menu: wait for ☰)."""
    page.goto(f"{base}/login?next={path}")
    for selector, value in zip(("#username", "#password"), account, strict=True):
        page.fill(selector, value)
    page.locator("button[type=submit]").tap()
    page.wait_for_selector("#shell-menu")


def fits(page: Any, *buttons: str) -> None:
    """Nothing scrolls sideways, and each button lies within the screen's width."""
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"horizontal overflow on {page.url}: {width}"
    for selector in buttons:
        found = page.locator(selector).first.bounding_box()
        assert found is not None and found["x"] >= 0 and found["x"] + found["width"] <= width[1], selector


def wait_text(page: Any, selector: str, part: str, timeout: int = 10000) -> None:
    page.wait_for_function("([s, p]) => (document.querySelector(s) || {}).textContent?.includes(p)",
                           arg=[selector, part], timeout=timeout)


def test_report_act_and_todo_on_a_phone(live_server: str, engine: Engine, phones: Any) -> None:
    base = live_server
    manager = make_user(engine, role="grid_manager", scope=OWN_GRID)
    page = phones()
    sign_in(page, base, manager, "/hazard/new")
    page.wait_for_selector("#hzn-locate")
    fits(page, "#hzn-locate", "#hzn-submit")
    page.locator("#hzn-locate").tap()
    wait_text(page, "#hzn-located", "已定位")
    assert float(page.input_value("input[id*='\"axis\":\"lat\"']")) == pytest.approx(HERE["latitude"])
    title = "手机登记：消防通道堵塞"
    page.fill("#hzn-name", title)
    deadline = page.locator("#hzn-deadline")
    deadline.fill((clock.today() + timedelta(days=20)).isoformat())
    deadline.press("Enter")
    page.locator("#hzn-title").tap()  # close the calendar
    camera = page.locator("#hz-photo-picker-report .hz-upload-camera input[type=file]")
    assert camera.get_attribute("accept") == "image/*" and camera.get_attribute("capture") == "environment"
    page.locator("#hz-photo-picker-report .hz-upload-album input[type=file]").set_input_files(
        [{"name": "IMG_1.jpg", "mimeType": "image/jpeg", "buffer": gps_jpeg((4000, 3000))}])
    wait_text(page, "[id*='hz-photo-note']", "已选择 1 张照片")
    fits(page, "#hzn-submit", "#hz-photo-picker-report .hz-upload-camera")
    page.locator("#hzn-submit").tap()
    page.wait_for_url("**/hazard?id=*", timeout=10000)
    page.wait_for_selector("#hz-status")
    hazard_id = int(page.url.rsplit("=", 1)[1])
    page.wait_for_selector("#hz-photos img")
    fits(page, "#hz-action-start button.hz-go")

    page.locator("#hz-action-start button.hz-go").tap()
    wait_text(page, "#hz-status", "整改中")
    card = page.locator("#hz-action-submit")
    for field, value in PLAN.items():
        card.locator(f"[id*='\"field\":\"{field}\"']").fill(value)
    card.locator(".hz-upload-album input[type=file]").set_input_files(
        [{"name": "IMG_2.jpg", "mimeType": "image/jpeg", "buffer": gps_jpeg((3000, 4000))}])
    wait_text(page, "[id*='hz-photo-note'][id*='submit']", "已选择 1 张照片")
    fits(page, "#hz-action-submit button.hz-go", "#hz-action-record button.hz-go")
    card.locator("button.hz-go").tap()
    wait_text(page, "#hz-status", "待验收")
    page.wait_for_selector(".hz-event-submit img")
    fits(page)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshot_dir() / "phone_hazard_page.png"), full_page=True)
    with engine.connect() as conn:
        kinds = conn.execute(text("SELECT array_agg(kind ORDER BY id) FROM attachments WHERE hazard_id = :h"),
                             {"h": hazard_id}).scalar_one()
    assert kinds == ["finding", "after"]
    assert not page.console_errors

    inspector = make_user(engine, role="inspector", scope=OWN_GRID)
    other = phones()
    sign_in(other, base, inspector, "/todo")
    row = other.locator(f"tr.todo-row:has-text('{title}')")
    row.wait_for()
    assert "待验收" in row.inner_text()
    fits(other, f"tr.todo-row:has-text('{title}') .todo-link")
    other.screenshot(path=str(screenshot_dir() / "phone_todo.png"), full_page=True)
    row.locator(".todo-link").tap()
    other.wait_for_selector("#hz-action-pass")
    fits(other, "#hz-action-pass button.hz-go")
    assert not other.console_errors
