"""事故登记 (/accident/new) in Chromium: a grade that contradicts the toll is refused in Chinese, then recorded."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.browser import login, make_user, screenshot_dir

pytestmark = [pytest.mark.db, pytest.mark.browser]
CELL = "41100200100101"
CREDIT = "91411002AC0000019X"


@pytest.fixture(scope="module")
def committed(engine: Engine, unit_tree: dict[str, str]) -> str:
    """A committed enterprise in 金地社区第1网格 (credit code)."""
    with engine.begin() as c:
        c.execute(text("INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id) SELECT :cc, "
                       "'事故浏览器测试建材厂', '建材', 'orange', id FROM units WHERE code = :cell "
                       "ON CONFLICT (credit_code) DO NOTHING"), {"cc": CREDIT, "cell": CELL})
    return CREDIT


def choose(page: Any, dropdown: str, label: str) -> None:
    """Pick an option of a Dash 4 dropdown (its options open in a popover outside the component)."""
    page.click(f"#{dropdown}")
    page.get_by_role("option", name=label, exact=True).click()
    page.wait_for_function(f"document.querySelector('#{dropdown}-value').innerText.includes('{label}')")
    page.keyboard.press("Escape")


def test_the_form_refuses_a_contradicting_grade_then_records(live_server: str, browser_page: Any, engine: Engine,
                                                             committed: str) -> None:
    page = browser_page
    user, password = make_user(engine, role="inspector", scope="411002")
    login(page, live_server, user, password, expect_path=f"/enterprise?code={committed}")
    page.wait_for_selector("#ent-accidents")
    assert "无事故记录" in page.inner_text("#ent-accidents")
    page.click("#ent-accident-link")  # the file's 登记事故
    page.wait_for_selector("#acc-submit")
    assert page.input_value("#acc-credit") == committed
    page.fill("#acc-title", "建材厂“12·1”坍塌事故")
    page.fill("#acc-deaths", "3")
    page.fill("#acc-injuries", "2")
    page.fill("#acc-loss", "450")
    choose(page, "acc-type", "坍塌")
    choose(page, "acc-grade", "一般事故")
    page.locator("#acc-investigation label:has-text('调查中')").click()
    page.fill("#acc-report", "模板支撑体系失稳坍塌。")
    page.click("#acc-submit")
    page.wait_for_selector("#acc-message .sg-alert")
    assert "对应“较大事故”" in page.inner_text("#acc-message")
    page.screenshot(path=str(screenshot_dir() / "accident_form_refused.png"), full_page=True)
    choose(page, "acc-grade", "按伤亡和损失自动确定")
    page.click("#acc-submit")
    page.wait_for_selector("#acc-done")
    assert "较大事故" in page.inner_text("#acc-done") and "死亡 3 人" in page.inner_text("#acc-done")
    page.screenshot(path=str(screenshot_dir() / "accident_form.png"), full_page=True)
    page.goto(f"{live_server}/enterprise?code={committed}")  # the file lists it
    page.wait_for_selector("#ent-accidents")
    listed = page.inner_text("#ent-accidents")
    assert "建材厂“12·1”坍塌事故" in listed and "较大事故" in listed
    with engine.begin() as c:
        row = c.execute(text("SELECT a.grade, a.accident_type, a.investigation, a.industry FROM accidents a "
                             "WHERE a.created_by = :u"), {"u": user}).one()
        assert tuple(row) == ("larger", "collapse", "investigating", "建材")
        c.execute(text("DELETE FROM accidents WHERE created_by = :u"), {"u": user})
    assert not page.console_errors
