"""季度考核 (/scorecards) in Chromium: a city leader reads 2026Q3's ranking of the test tree's townships.

Committed rows coded SCB-… (hazards and accidents in Q2 and Q3 2026), removed at the end; weights: the defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.browser import login, make_user, screenshot_dir

pytestmark = [pytest.mark.db, pytest.mark.browser]

# code, grid, status, found, deadline, closed_at
HAZARDS = [
    ("SCB-1", "41100310020001", "closed", "2026-07-02", "2026-07-20", "2026-07-10"),
    ("SCB-2", "41100310020001", "closed", "2026-08-02", "2026-08-20", "2026-08-10"),
    ("SCB-3", "41100200100101", "rectifying", "2026-07-05", "2026-08-01", None),
    ("SCB-4", "41100200100101", "closed", "2026-04-05", "2026-04-20", "2026-04-10"),  # Q2: 西大街道 led then
]
# code, grid, date, deaths
ACCIDENTS = [("SCB-A1", "41100200100101", "2026-08-15", 1), ("SCB-A2", "41100310020001", "2026-05-15", 2)]


@pytest.fixture
def world(engine: Engine, unit_tree: dict[str, str]) -> Iterator[None]:
    """Commit the rows above; delete them afterwards."""
    with engine.begin() as c:
        for code, grid, status, found, deadline, closed in HAZARDS:
            c.execute(text("INSERT INTO hazards (code, unit_id, title, level, status, found_at, deadline, closed_at) "
                           "SELECT :c, id, '考核测试隐患', 'general', :s, CAST(:f AS date), CAST(:d AS date), "
                           "CAST(:x AS date) FROM units WHERE code = :g"),
                      {"c": code, "g": grid, "s": status, "f": found, "d": deadline, "x": closed})
        for code, grid, day, deaths in ACCIDENTS:
            c.execute(text("INSERT INTO accidents (code, title, occurred_on, unit_id, deaths, grade) SELECT :c, "
                           "'考核测试事故', CAST(:d AS date), id, :n, 'general' FROM units WHERE code = :g"),
                      {"c": code, "g": grid, "d": day, "n": deaths})
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM hazards WHERE code LIKE 'SCB-%'"))
        c.execute(text("DELETE FROM accidents WHERE code LIKE 'SCB-%'"))


def test_leader_reads_the_quarters_ranking(live_server: str, browser_page: Any, engine: Engine, world: None) -> None:
    page = browser_page
    user, password = make_user(engine, role="leader", scope="411000")
    login(page, live_server, user, password, expect_path="/scorecards?quarter=2026Q3")
    page.wait_for_selector("#sc-table")
    assert "季度考核 · 许昌市 · 2026年第3季度" in page.inner_text("h2")
    rows = page.locator("#sc-table .sc-row")
    # the test tree's townships, in ranking order (other tests of the session may commit townships of their own)
    codes = [c for c in (r.get_attribute("data-code") for r in rows.all())
             if c in ("411002001", "411002002", "411003100")]
    assert codes == ["411003100", "411002002", "411002001"]  # 将官池镇: both hazards closed on time, no accident
    first = page.locator("#sc-table .sc-row[data-code='411003100']").inner_text().split("\t")
    assert first[1].startswith("↑") and first[2] == "将官池镇"  # Q2: two deaths ranked it last
    jindi = page.locator("#sc-table .sc-row[data-code='411002001']").inner_text()
    assert "↓" in jindi
    href = page.get_attribute("#sc-export", "href")
    assert href is not None and "quarter=2026Q3" in href
    page.screenshot(path=str(screenshot_dir() / "scorecards.png"), full_page=True)
    page.click("#sc-table a:has-text('西大街道')")
    page.wait_for_function("document.querySelector('h2') && "
                           "document.querySelector('h2').innerText.includes('西大街道')")
    page.wait_for_selector("#sc-table .sc-row[data-code='411002001001']")
    page.click("#sc-modes a:has-text('监管部门')")
    page.wait_for_selector("#sc-table th:has-text('监管部门')")
    assert not page.console_errors
