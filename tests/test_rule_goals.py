"""动态清零 per area (geo.rule_settings.goal_rows, shown on /risk): counts by the stored cut-off, goals that follow it.

The world of tests/test_coverage.py (the refresh tree, stock cut-off 2026-01-01): h1 (major, found 2025-12-01,
e1 in 魏都区) is 存量; h6 (major, found 2026-11-01, e6 in 建安区, deadline 2027-01-01) is 增量.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, text

from domain.rules_config import Goals
from geo.rule_settings import current, goal_rows
from tests.test_coverage import world

__all__ = ["world"]
pytestmark = pytest.mark.db


def rows(engine: Engine, as_of: date) -> dict[str, dict[str, object]]:
    with engine.connect() as c:
        return {r["code"]: r for r in goal_rows(c, scope="411000.", code="411000", as_of=as_of)}


def test_counts_by_the_stored_cutoff_and_goals_that_follow_it(world: tuple[str, Engine]) -> None:
    _, engine = world
    with engine.connect() as c:
        assert current(c).goals == Goals(date(2027, 12, 31), date(2028, 1, 1))  # cut-off 2026-01-01 → +1 year
    now = rows(engine, date(2026, 11, 23))
    assert {k: (r["stock_open"], r["increment_open"], r["increment_overdue"]) for k, r in now.items()} == {
        "411002": (1, 0, 0), "411003": (0, 1, 0)}
    assert now["411002"]["marks"]["stock"] == {"label": "存量剩 1 项（2027-12-31 前清零）", "ok": True}
    assert now["411003"]["marks"]["increment"]["label"] == "增量动态清零自 2028-01-01 起考核"
    late = rows(engine, date(2028, 2, 1))  # past both goals: the stock is late, the increment past its deadline
    assert late["411002"]["marks"]["stock"] == {"label": "存量逾期未清零 1 项", "ok": False}
    assert late["411003"]["marks"]["increment"] == {"label": "增量逾期 1 项", "ok": False}


def test_the_plans_cutoff_gives_the_plans_years(world: tuple[str, Engine]) -> None:
    _, engine = world
    with engine.begin() as c:
        c.execute(text("UPDATE app_config SET value = '\"2023-12-31\"' WHERE key = 'stock_cutoff'"))
    try:
        with engine.connect() as c:
            assert current(c).goals == Goals()  # end of 2024, from 2025 (招贤镇 plan)
        assert rows(engine, date(2026, 11, 23))["411002"]["stock_open"] == 0  # h1 (2025) is 增量 now
    finally:
        with engine.begin() as c:
            c.execute(text("UPDATE app_config SET value = '\"2026-01-01\"' WHERE key = 'stock_cutoff'"))
