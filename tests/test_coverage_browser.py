"""覆盖质量 (/coverage) in Chromium: a leader drills down and opens a count's rows; forged queries get a message.

The world of tests/test_coverage.py (own database), served by gunicorn.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.browser import login, make_user, screenshot_dir, watched_page
from tests.demo_fixture import DemoDb, demo_db
from tests.demo_server import gunicorn_app
from tests.test_coverage import world

__all__ = ["demo_db", "world"]
pytestmark = [pytest.mark.db, pytest.mark.browser]


@pytest.fixture(scope="module")
def coverage_server(world: tuple[str, Engine]) -> Iterator[tuple[str, dict[str, tuple[str, str]]]]:
    """The world served by gunicorn, with a leader of the city and a grid manager of 建安区."""
    url, engine = world
    users = {"city": make_user(engine, role="leader", scope="411000"),
             "county": make_user(engine, role="grid_manager", scope="411003")}
    with gunicorn_app(url) as base:
        yield base, users


def test_leader_drills_down_and_opens_a_count(coverage_server: tuple[str, Any], chromium: Any) -> None:
    base, users = coverage_server
    with watched_page(chromium) as page:
        login(page, base, *users["city"])
        page.goto(base + "/coverage")
        page.wait_for_selector("#cov-counts")
        assert "覆盖质量 · 411000" in page.inner_text("#cov-title")
        assert "未归属" in page.inner_text("#cov-counts")
        page.click("#cov-row-411003 a >> nth=0")  # drill into the county
        page.wait_for_function("document.querySelector('#cov-title').innerText.includes('411003')")
        assert page.locator("#cov-crumbs a").count() == 1  # 411000 › 411003
        page.click("#cov-total a >> nth=0")  # the county's vacancies
        page.wait_for_selector("#cov-items")
        assert "人员空缺：1 条" in page.inner_text("#cov-items-title")
        assert "安全监管责任人缺 1 人" in page.inner_text("#cov-items")
        page.screenshot(path=str(screenshot_dir() / "coverage_drill.png"), full_page=True)
        assert not page.console_errors


def test_forged_queries_get_a_message(coverage_server: tuple[str, Any], chromium: Any,
                                     world: tuple[str, Engine]) -> None:
    (base, users), (_, engine) = coverage_server, world
    with watched_page(chromium) as page:
        login(page, base, *users["county"])
        for query, message in (("unit=411002", "超出本账户的数据范围"), ("unit=41;DROP", "单位代码格式不正确"),
                               ("check=nope", "没有这项检查")):
            page.goto(f"{base}/coverage?{query}")
            page.wait_for_selector(".sg-alert")
            assert message in page.inner_text(".sg-alert")
            assert "411002" not in page.inner_text("#shell-content")
        page.goto(base + "/coverage")  # its own county, without the city's unassigned rows
        page.wait_for_selector("#cov-counts")
        assert "未归属" not in page.inner_text("#cov-counts")
    with engine.connect() as c:
        refused = c.execute(text("SELECT count(*) FROM audit_log WHERE username = :u AND action = 'forbidden' "
                                 "AND detail->>'target' = '411002'"), {"u": users["county"][0]}).scalar_one()
    assert refused >= 1


def test_the_demo_city_coverage(demo_db: DemoDb, chromium: Any) -> None:
    """The demo's own gaps (vacancies, unassessed enterprises…) per county, as a leader of the city sees them."""
    engine = create_engine(demo_db.url)
    with engine.connect() as c:
        unassessed = c.execute(text("SELECT count(*) FROM enterprises WHERE risk_level IS NULL "
                                    "AND unit_id IS NOT NULL")).scalar_one()
    user, password = make_user(engine, role="leader", scope="411000")
    engine.dispose()
    with gunicorn_app(demo_db.url) as base, watched_page(chromium) as page:
        login(page, base, user, password)
        page.goto(base + "/coverage")
        page.wait_for_selector("#cov-counts")
        assert "覆盖质量 · 许昌市" in page.inner_text("#cov-title")
        assert page.locator("#cov-counts tr.cov-row").count() >= 7  # the counties (and the 开发区)
        page.goto(base + "/coverage?check=unassessed")
        page.wait_for_selector("#cov-items")
        assert f"企业未评估：{unassessed} 条" in page.inner_text("#cov-items-title")
        page.screenshot(path=str(screenshot_dir() / "coverage.png"), full_page=False)
        assert not page.console_errors
