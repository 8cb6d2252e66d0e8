"""The command map's layer 检查到期/逾期企业 (issue 16 part 4): the point source's SQL agrees with the due list
(``geo.inspections_app.due_list``, itself checked against the pure rule) under the default and a configured
frequency, the routes serve it in scope only (also as an OGC collection), and Chromium draws it off by default,
overdue and due-soon apart, with the enterprise and due date in the tooltip."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from dash import Dash
from sqlalchemy import Connection, Engine, text

from dashboard.app import create_app
from domain import clock
from domain.crs import BBox
from domain.inspection_rules import FrequencyRule, due_state, frequency_from_config, next_due
from geo.inspections_app import DUE_POINTS, DUE_STATES, due_list
from geo.map_queries import raw_points
from layers.registry import LAYERS
from tests.browser import app_settings, http_login, login, make_user, route_payload, screenshot_dir
from tests.fixtures_map import ENTERPRISES, FOREIGN_GRID, OWN_GRID, map_data  # noqa: F401
from tests.test_cache import login as client_login

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("map_data")]
CITY = "419000."
JIA = "419000.419002."
YI = "419000.419003."
BOX = BBox(99.9, 25.7, 101.1, 26.5)
NAME = {credit: name for credit, name, *_ in ENTERPRISES}
RED, YELLOW, UNRATED, FOREIGN = (e[0] for e in ENTERPRISES)


def _inspect(conn: Connection, credit: str, day: date) -> None:
    conn.execute(text("INSERT INTO inspections (code, enterprise_id, unit_id, inspected_at) "
                      "SELECT :code, id, unit_id, :d FROM enterprises WHERE credit_code = :c"),
                 {"code": f"DUE-{credit}-{day}", "c": credit, "d": day})


def _classes(conn: Connection, scope: str) -> dict[str, str]:
    rows = raw_points(conn, scope=scope, kind=DUE_POINTS, bbox=BOX, limit=100)
    return {r["props"]["credit_code"]: r["cls"] for r in rows if r["props"]["credit_code"] in NAME}


@pytest.mark.parametrize("config", [None, {"months": {"red": 2, "yellow": 3}, "key_flags_months": 2,
                                           "due_soon_days": 10}])
def test_the_layer_agrees_with_the_due_list(conn: Connection, config: dict[str, Any] | None) -> None:
    conn.execute(text("DELETE FROM app_config WHERE key = 'inspection_frequency'"))
    if config:
        conn.execute(text("INSERT INTO app_config (key, value) VALUES ('inspection_frequency', CAST(:v AS jsonb))"),
                     {"v": json.dumps(config)})
    rule, today = frequency_from_config(config), clock.today()
    conn.execute(text("DELETE FROM inspections WHERE enterprise_id IN (SELECT id FROM enterprises "
                      "WHERE credit_code = ANY(:c))"), {"c": list(NAME)})
    assert set(_classes(conn, CITY).values()) == {"never"}  # nobody inspected yet: due today, its own class
    for days in (400, 170, 100, 75, 50, 40, 20, 0):
        conn.execute(text("DELETE FROM inspections WHERE code LIKE 'DUE-%'"))
        for credit in (RED, YELLOW, UNRATED, FOREIGN):
            _inspect(conn, credit, today - timedelta(days=days))
        listed = {d.credit_code: d for d in due_list(conn, scope=CITY, rule=rule, today=today)[0]}
        drawn = _classes(conn, CITY)
        assert set(drawn) == set(listed) & set(NAME), days
        for credit, cls in drawn.items():
            assert cls == due_state(listed[credit].due, today, rule), (credit, days)
        for state in DUE_STATES:  # the list narrowed to a state holds that class of the layer, the counts unchanged
            rows, total, overdue = due_list(conn, scope=CITY, rule=rule, today=today, state=state)
            assert {r.credit_code for r in rows} & set(NAME) == {c for c, k in drawn.items() if k == state}
            assert (total, overdue) == due_list(conn, scope=CITY, rule=rule, today=today)[1:]
    own = _classes(conn, JIA)
    assert FOREIGN not in own and not set(_classes(conn, YI)) & {RED, YELLOW, UNRATED}


@pytest.fixture(scope="module")
def app() -> Dash:
    return create_app(app_settings())


def test_routes_and_ogc_serve_it_in_scope_only(app: Dash, engine: Engine) -> None:
    jia = client_login(app, engine, role="grid_manager", scope="419002")
    r = jia.get("/api/map/points.json?kinds=inspection-due&bbox=99.9,25.7,101.1,26.5&zoom=12")
    assert r.status_code == 200
    names = {f["properties"]["name"] for f in json.loads(r.get_data(as_text=True))["inspection-due"]["features"]}
    assert {NAME[RED], NAME[YELLOW], NAME[UNRATED]} <= names and NAME[FOREIGN] not in names
    r = jia.get("/ogc/collections/inspection-due/items?limit=100")
    assert r.status_code == 200
    features = json.loads(r.get_data(as_text=True))["features"]
    ogc = {f["properties"]["name"]: f["properties"] for f in features}
    assert NAME[FOREIGN] not in ogc and ogc[NAME[RED]]["class_label"] in ("已逾期", "从未检查", "临期")
    yi = client_login(app, engine, role="grid_manager", scope="419003")
    r = yi.get("/api/map/points.json?kinds=inspection-due&bbox=99.9,25.7,101.1,26.5&zoom=12")
    names = {f["properties"]["name"] for f in json.loads(r.get_data(as_text=True))["inspection-due"]["features"]}
    assert NAME[FOREIGN] in names and NAME[RED] not in names


def test_the_due_list_page_is_scoped(live_server: str, engine: Engine) -> None:
    def shown(role: str, scope: str, search: str = "") -> str:
        session = http_login(live_server, *make_user(engine, role=role, scope=scope))
        r = session.post(f"{live_server}/_dash-update-component", json=route_payload("/inspection", search),
                         timeout=20)
        assert r.status_code == 200
        return json.dumps(r.json(), ensure_ascii=False)

    jia, yi = shown("grid_manager", "419002"), shown("planner", "419003")
    assert "insp-due-count" in jia and NAME[RED] in jia and NAME[FOREIGN] not in jia
    assert NAME[FOREIGN] in yi and NAME[RED] not in yi
    never = shown("grid_manager", "419002", "?due=never")  # nobody of 测试市 inspected: all never, none overdue
    assert NAME[RED] in never and "insp-due-filter" in never
    overdue = shown("grid_manager", "419002", "?due=overdue")
    assert NAME[RED] not in overdue and "没有已逾期的企业" in overdue
    assert NAME[RED] in shown("grid_manager", "419002", "?due=bogus")  # an unknown state lists all
    assert LAYERS["inspection-due"].checked is False


@pytest.mark.browser
def test_the_command_map_draws_the_layer_off_by_default(live_server: str, engine: Engine,
                                                        browser_page: Any) -> None:
    today = clock.today()
    with engine.begin() as c:
        _inspect(c, RED, today - timedelta(days=45))  # 红: monthly → overdue
        _inspect(c, YELLOW, today - timedelta(days=170))  # 黄: half-yearly → due within 30 days
    try:
        page = browser_page
        user, password = make_user(engine, role="grid_manager", scope="419002")
        login(page, live_server, user, password, expect_path=f"/?unit={OWN_GRID}")
        overlay = page.locator(".leaflet-control-layers-overlays label", has_text="检查到期/逾期企业")
        assert not overlay.locator("input").is_checked()  # off when the map opens
        assert page.locator(".cm-pt-inspection-due").count() == 0
        overlay.locator("input").click()
        page.wait_for_selector(".cm-pt-inspection-due.cm-cls-overdue", timeout=20_000)
        page.wait_for_selector(".cm-pt-inspection-due.cm-cls-due_soon")
        page.wait_for_selector(".cm-pt-inspection-due.cm-cls-never")
        assert "cm-shape-square" in (page.locator(".cm-pt-inspection-due").first.get_attribute("class") or "")
        legend = page.locator("#cm-layer-inspection-due-legend")
        assert all(label in legend.inner_text() for label in ("检查到期/逾期企业", "已逾期", "临期", "从未检查"))
        page.locator(".cm-pt-inspection-due.cm-cls-overdue").first.hover()
        tip = page.locator(".cm-tip").last
        tip.wait_for()
        due = next_due(today - timedelta(days=45), "red", False, FrequencyRule(), today)
        assert NAME[RED] in tip.inner_text() and f"应检日期 {due:%Y-%m-%d}" in tip.inner_text()
        page.screenshot(path=str(screenshot_dir() / "map_inspection_due.png"))
        assert page.console_errors == []
    finally:
        with engine.begin() as c:
            c.execute(text("DELETE FROM inspections WHERE code LIKE 'DUE-%'"))
