"""五年目标 (/targets) in Chromium: a leader of the city reads 2024 against 2020, drills into a county.

Committed rows of years no other test writes (accidents of 2020-2025 coded TGB-…, denominators of both counties);
removed at the end. Settings: the plan's defaults (``five_year_targets`` is not set in the test database).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.browser import login, make_user, screenshot_dir, watched_page
from tests.demo_fixture import DEMO_AS_OF, DemoDb, demo_db
from tests.demo_server import gunicorn_app

__all__ = ["demo_db"]

pytestmark = [pytest.mark.db, pytest.mark.browser]

# (cell, year, accidents with deaths, road deaths)
ACCIDENTS = [("41100200100101", 2020, [2, 1, 0, 1], [1]), ("41100310020001", 2020, [1, 0, 1], []),
             ("41100200100101", 2021, [1, 1, 0], [1]), ("41100310020001", 2022, [2, 0], []),
             ("41100200100101", 2023, [1, 0], [1]), ("41100310020001", 2023, [1], []),
             ("41100200100101", 2024, [1, 0], []), ("41100310020001", 2024, [1, 1], [1])]
# (county, year, GDP 亿元, 工矿商贸 employees, vehicles); 建安区 lacks its 2024 vehicles
DENOMINATORS = [(c, y, g + 20 * (y - 2020), e, v + 15_000 * (y - 2020)) for c, g, e, v in
                (("411002", 480, 150_000, 210_000), ("411003", 420, 130_000, 190_000)) for y in range(2020, 2026)]


@pytest.fixture(scope="module")
def world(engine: Engine, unit_tree: dict[str, str]) -> Iterator[None]:
    """Commit the accidents and denominators; delete them afterwards."""
    with engine.begin() as c:
        n = 0
        for cell, year, deaths, road in ACCIDENTS:
            for i, d in enumerate(deaths + road):
                n += 1
                c.execute(text("INSERT INTO accidents (code, title, occurred_on, unit_id, deaths, road_traffic, grade) "
                               "SELECT :c, '目标测试事故', make_date(:y, 3, 1), id, :d, :r, 'general' FROM units "
                               "WHERE code = :cell"),
                          {"c": f"TGB-{n}", "y": year, "d": d, "r": i >= len(deaths), "cell": cell})
        for county, year, gdp, emp, veh in DENOMINATORS:
            c.execute(text("INSERT INTO area_denominators (code, unit_id, year, gdp_yi, industrial_employees, "
                           "motor_vehicles) SELECT :k, id, :y, :g, :e, :v FROM units WHERE code = :u "
                           "ON CONFLICT (code) DO NOTHING"),
                      {"k": f"{county}-{year}", "u": county, "y": year, "g": gdp, "e": emp,
                       "v": None if (county, year) == ("411003", 2024) else veh})
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM accidents WHERE code LIKE 'TGB-%'"))
        c.execute(text("DELETE FROM area_denominators WHERE code LIKE '41100_-20__'"))


def test_leader_reads_the_targets_and_drills_down(live_server: str, browser_page: Any, engine: Engine,
                                                  world: None) -> None:
    page = browser_page
    user, password = make_user(engine, role="leader", scope="411000")
    login(page, live_server, user, password, expect_path="/targets?year=2024")
    page.wait_for_selector("#tg-table")
    rows = {r.get_attribute("data-indicator"): r.inner_text() for r in page.locator("#tg-table .tg-row").all()}
    # 2020: 魏都区 5 (one of them road) + 建安区 3 = 8, target 7.2 in 2025; 2024: 5, at most 7.4 on the path
    assert rows["accidents"].split("\t")[2:6] == ["8", "5", "-37.5%", "7.2（−10%）"] and "进度内" in rows["accidents"]
    assert "缺少分母：机动车保有量" in rows["road_deaths_per_vehicles"]  # 建安区 2024: no city sum
    assert "落后于进度" in rows["deaths_per_employees"] or "进度内" in rows["deaths_per_employees"]
    page.wait_for_selector("#tg-trend .main-svg")
    assert page.locator("#tg-children .tg-child").count() == 2
    page.screenshot(path=str(screenshot_dir() / "targets_drill.png"), full_page=True)
    page.click("#tg-children a:has-text('魏都区')")
    page.wait_for_function("document.querySelector('h2') && document.querySelector('h2').innerText.includes('魏都区')")
    page.wait_for_selector("#tg-table")
    weidu = page.locator("#tg-table .tg-row[data-indicator=road_deaths_per_vehicles]").inner_text()
    assert "缺少分母" not in weidu
    assert page.locator("#tg-crumbs a").count() == 1
    assert not page.console_errors


def test_out_of_scope_area_is_refused(live_server: str, browser_page: Any, engine: Engine, world: None) -> None:
    page = browser_page
    user, password = make_user(engine, role="planner", scope="411003")
    login(page, live_server, user, password, expect_path="/targets?unit=411002")
    page.wait_for_selector(".sg-alert")
    assert "魏都区" not in page.inner_text("#shell-content")


def test_the_demo_citys_targets(demo_db: DemoDb, chromium: Any) -> None:
    """The demo city's last full year against 2020, as a leader of the city reads it (docs/screenshots/targets.png)."""
    engine = create_engine(demo_db.url)
    user, password = make_user(engine, role="leader", scope="411000")
    engine.dispose()
    last = DEMO_AS_OF.year - 1
    with gunicorn_app(demo_db.url) as base, watched_page(chromium) as page:
        login(page, base, user, password)
        page.goto(f"{base}/targets?year={last}")
        page.wait_for_selector("#tg-trend .main-svg")
        assert "五年目标 · 许昌市" in page.inner_text("h2")
        assert "缺少分母" not in page.inner_text("#tg-table")
        assert page.locator("#tg-children .tg-child").count() == 7
        page.screenshot(path=str(screenshot_dir() / "targets.png"), full_page=True)
        page.goto(f"{base}/targets")  # the demo's own year: no denominators published yet
        page.wait_for_selector("#tg-table")
        assert "缺少分母：GDP" in page.inner_text("#tg-table")
        assert not page.console_errors
