"""Links to the patrol form (issue 16 part 2): 巡查此网格 on a grid cell's command-map panel and 今日巡查 on 待办,
both shown by the server to roles that patrol only (on the 测试市 map data of tests/fixtures_map.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from domain import clock
from geo.todo import patrols_due
from tests.browser import http_login, login, make_user, route_payload
from tests.fixtures_map import FOREIGN_GRID, OWN_GRID, map_data  # noqa: F401

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("map_data")]
OTHER_GRID = "41900200200101"  # 甲二社区第1网格, also in 甲区


def _patrol(conn: Connection, cell: str, days_ago: int = 0) -> None:
    conn.execute(text("INSERT INTO patrols (unit_id, patrol_date, result, created_by, request_key) "
                      "SELECT id, CAST(:d AS date), 'clear', 'links_test', md5(random()::text) FROM units "
                      "WHERE code = :c"), {"d": clock.today() - timedelta(days=days_ago), "c": cell})


def test_patrols_due_lists_the_cells_not_patrolled_today(conn: Connection) -> None:
    conn.execute(text("DELETE FROM patrols WHERE unit_id IN (SELECT id FROM units WHERE code LIKE '419%')"))
    cells, due, total = patrols_due(conn, scope="419000.419002.", today=clock.today())
    assert (due, total) == (2, 2) and {c.code for c in cells} == {OWN_GRID, OTHER_GRID}
    _patrol(conn, OWN_GRID)
    _patrol(conn, OTHER_GRID, days_ago=3)
    cells, due, total = patrols_due(conn, scope="419000.419002.", today=clock.today())
    assert [(c.code, c.last_patrol) for c in cells] == [(OTHER_GRID, clock.today() - timedelta(days=3))]
    assert (due, total) == (1, 2)
    assert patrols_due(conn, scope="419000.419003.", today=clock.today())[0][0].code == FOREIGN_GRID


def _todo(session: Any, base: str) -> str:
    r = session.post(f"{base}/_dash-update-component", json=route_payload("/todo"), timeout=20)
    assert r.status_code == 200
    return json.dumps(r.json(), ensure_ascii=False)


def test_todo_offers_todays_patrols_to_grid_managers_only(live_server: str, engine: Engine) -> None:
    with engine.begin() as c:
        c.execute(text("DELETE FROM patrols WHERE unit_id IN (SELECT id FROM units WHERE code LIKE '419%')"))
    manager = _todo(http_login(live_server, *make_user(engine, role="grid_manager", scope="419002")), live_server)
    assert "todo-patrols-count" in manager and f"/patrol?cell={OWN_GRID}" in manager
    assert f"/patrol?cell={FOREIGN_GRID}" not in manager  # another district's cell
    for role in ("inspector", "leader", "planner"):
        body = _todo(http_login(live_server, *make_user(engine, role=role, scope="419002")), live_server)
        assert "/patrol?cell=" not in body and "todo-patrols-count" not in body, role
    try:
        with engine.begin() as c:
            _patrol(c, OWN_GRID)
        manager = _todo(http_login(live_server, *make_user(engine, role="grid_manager", scope="419002")),
                        live_server)
        assert f"/patrol?cell={OWN_GRID}" not in manager and f"/patrol?cell={OTHER_GRID}" in manager
    finally:
        with engine.begin() as c:
            c.execute(text("DELETE FROM patrols WHERE created_by = 'links_test'"))


@pytest.mark.browser
def test_the_cell_panel_links_to_the_patrol_form_for_roles_that_patrol(
        live_server: str, engine: Engine, chromium: Any) -> None:
    for role, shown in (("planner", False), ("grid_manager", True)):  # same scope: the panel cache must not mix them
        context = chromium.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
        page = context.new_page()
        try:
            user, password = make_user(engine, role=role, scope="419002")
            login(page, live_server, user, password, expect_path=f"/?unit={OWN_GRID}")
            page.wait_for_selector("#cm-unit-name:has-text('甲一社区第1网格')")
            assert page.locator("#cm-patrol-link").count() == (1 if shown else 0), role
            if shown:
                page.goto(f"{live_server}/?unit=419002001")  # a township's panel has no link
                page.wait_for_selector("#cm-unit-name:has-text('甲一街道')")
                assert page.locator("#cm-patrol-link").count() == 0
                page.goto(f"{live_server}/?unit={OWN_GRID}")
                page.click("#cm-patrol-link")
                page.wait_for_url(f"**/patrol?cell={OWN_GRID}")
                page.wait_for_selector("#patrol-cell:has-text('甲一社区第1网格')")
        finally:
            context.close()
