"""/admin/rules' 季度考核权重 and 五年目标 sections in Chromium: bad values refused in Chinese, then saved and used.

A city administrator types a negative weight and an all-zero set (refused), saves 事故起数 30 (the /scorecards
method line then shows it), tries a baseline year without data and a reduction of 150 % (refused), and saves a
baseline of 2019 (the module's accident year, ``tests.test_settings_weights_targets.settings_db``). Screenshot
``admin_scorecard_targets.png``.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import Engine, text

from domain.scorecards import KPI_LABELS
from tests.browser import login, make_user, screenshot_dir
from tests.test_settings_weights_targets import settings_db  # noqa: F401  (the module's rows)

pytestmark = [pytest.mark.db, pytest.mark.browser]


def _save(page: Any, kind: str, expected: str) -> None:
    """Click the section's save button and assert that its message comes to hold ``expected``."""
    page.click(f"#rules-{kind}-save")
    with suppress(PlaywrightTimeout):  # the assertion below shows the message there is
        page.wait_for_function("([id, text]) => document.getElementById(id).innerText.includes(text)",
                               arg=[f"rules-{kind}-result", expected], timeout=20_000)
    message = page.inner_text(f"#rules-{kind}-result")
    assert expected in message, message


def test_admin_edits_weights_and_targets(live_server: str, browser_page: Any,
                                         settings_db: Engine) -> None:  # noqa: F811
    page = browser_page
    user, password = make_user(settings_db, role="admin", scope="411000")
    login(page, live_server, user, password, expect_path="/admin/rules")
    page.wait_for_selector("#rules-sw-deaths")
    assert page.input_value("#rules-sw-closure") == "20" and page.input_value("#rules-tg-baseline_year") == "2020"
    assert "2019" in page.inner_text("#rules-tg-years")

    page.fill("#rules-sw-overdue", "-3")
    _save(page, "sw", "“季末逾期未改”的权重不能为负数")
    for key in KPI_LABELS:
        page.fill(f"#rules-sw-{key}", "0")
    _save(page, "sw", "考核权重之和应大于 0")
    for key, value in (("closure", 20), ("timeliness", 15), ("overdue", 15), ("supervised", 10), ("cadence", 15),
                       ("vacancies", 5), ("accidents", 30), ("deaths", 10)):
        page.fill(f"#rules-sw-{key}", str(value))
    _save(page, "sw", "已保存考核权重")
    assert "事故起数 30" in page.inner_text("#rules-sw-saved")
    _save(page, "sw", "没有变化")  # the same values again

    page.fill("#rules-tg-baseline_year", "2001")
    _save(page, "tg", "基准年份 2001 没有事故或分母数据")
    page.fill("#rules-tg-baseline_year", "2019")
    page.fill("#rules-tg-target_year", "2024")
    page.fill("#rules-tg-deaths", "150")
    _save(page, "tg", "“死亡人数”的下降比例应在 0-100% 之间")
    page.fill("#rules-tg-deaths", "12")
    _save(page, "tg", "已保存五年目标：基准 2019 年，目标 2024 年")
    top, bottom = page.evaluate("() => [document.querySelector('.rules-scorecard-weights'), "
                                "document.querySelector('.rules-targets')].map((e, i) => "
                                "(i ? e.getBoundingClientRect().bottom : e.getBoundingClientRect().top) "
                                "+ window.scrollY)")
    page.screenshot(path=str(screenshot_dir() / "admin_scorecard_targets.png"), full_page=True,
                    clip={"x": 0, "y": top - 10, "width": 1440, "height": bottom - top + 20})

    with settings_db.connect() as c:
        stored: dict[str, Any] = dict(c.execute(text("SELECT key, value FROM app_config WHERE key IN "
                                     "('scorecard_weights', 'five_year_targets')")).all())
        audits = c.execute(text("SELECT action FROM audit_log WHERE username = :u AND action IN "
                                "('scorecard_weights_changed', 'targets_changed') ORDER BY id"), {"u": user}).all()
    assert stored["scorecard_weights"]["accidents"] == 30
    assert (stored["five_year_targets"]["baseline_year"], stored["five_year_targets"]["reductions"]["deaths"]) == (
        2019, 12)
    assert [a.action for a in audits] == ["scorecard_weights_changed", "targets_changed"]

    page.goto(f"{live_server}/scorecards")
    page.wait_for_selector("#sc-method")
    assert "事故起数 30" in page.inner_text("#sc-method")
    page.goto(f"{live_server}/targets")
    page.wait_for_selector("h2")
    assert "2019" in page.inner_text("body")
    assert not page.console_errors
