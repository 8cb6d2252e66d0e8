"""The demo city's 季度考核 in Chromium: a city leader reads 2026Q3's ranking of 许昌's townships.

The small demo (``tests.demo_fixture.demo_db``, as of 2026-11-23) served by gunicorn; the screenshot is
``scorecards_demo.png`` (``make screenshots`` writes it to ``docs/screenshots``).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.browser import login, make_user, screenshot_dir, watched_page
from tests.demo_fixture import DEMO_AS_OF, DemoDb, demo_db
from tests.demo_server import gunicorn_app

__all__ = ["demo_db"]
pytestmark = [pytest.mark.db, pytest.mark.browser]


def test_the_demo_citys_scorecards(demo_db: DemoDb, chromium: Any) -> None:
    engine = create_engine(demo_db.url)
    user, password = make_user(engine, role="leader", scope="411000")
    with engine.connect() as c:
        townships = c.execute(text("SELECT count(*) FROM units WHERE level = 3")).scalar_one()
    engine.dispose()
    quarter = f"{DEMO_AS_OF.year}Q3"
    with gunicorn_app(demo_db.url) as base, watched_page(chromium, viewport={"width": 1440, "height": 1300}) as page:
        login(page, base, user, password, expect_path=f"/scorecards?quarter={quarter}")
        page.wait_for_selector("#sc-table .sc-row", timeout=120_000)
        assert f"季度考核 · 许昌市 · {DEMO_AS_OF.year}年第3季度" in page.inner_text("h2")
        rows = page.locator("#sc-table .sc-row")
        assert rows.count() == townships > 50
        first = rows.first.inner_text().split("\t")
        assert first[0] == "1" and float(first[4]) > 0  # rank, change, name, code, score
        page.screenshot(path=str(screenshot_dir() / "scorecards_demo.png"))
        assert not page.console_errors
