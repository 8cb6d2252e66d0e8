"""Patrols (网格巡查): geo.patrols on PostGIS, the /patrol page's write callback forged per role, and the page in
Chromium on a 360×740 phone with geolocation: a day's patrols and one finding leading to the hazard report form."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from sqlalchemy import Connection, Engine, text

from domain import clock
from geo.patrols import NewPatrol, PatrolError, PatrolNotFoundError, cell_at, patrol_cells, patrols_of_day, record
from tests.browser import dash_payload, http_login, make_user, screenshot_dir

pytestmark = pytest.mark.db

WEST = "411000.411002.411002001."  # 西大街道
CELL = "41100200100101"  # 金地社区第1网格 (in 西大街道)
FOREIGN_CELL = "41100310020001"  # 张庄村第1网格 (建安区)
CREDIT = "91411002PT0000001X"
# 金地社区第1网格 as a small square around (113.80, 34.00) for the distance tests (rolled back)
SQUARE = "SRID=4326;MULTIPOLYGON(((113.79 33.99,113.81 33.99,113.81 34.01,113.79 34.01,113.79 33.99)))"


def key() -> str:
    return uuid.uuid4().hex


def new(**kw: Any) -> NewPatrol:
    values: dict[str, Any] = {"cell_code": CELL, "result": "clear", "request_key": key()} | kw
    return NewPatrol(**values)


@pytest.fixture
def cell_world(conn: Connection, unit_tree: dict[str, str]) -> Connection:
    """The test tree's cell with a geometry and one enterprise in it (rolled back)."""
    conn.execute(text("UPDATE units SET geom = ST_GeomFromEWKT(:g) WHERE code = :c"), {"g": SQUARE, "c": CELL})
    conn.execute(text("INSERT INTO enterprises (credit_code, name, unit_id, geom) SELECT :cc, '巡查测试化工', id, "
                      "ST_SetSRID(ST_MakePoint(113.8, 34.0), 4326) FROM units WHERE code = :c"),
                 {"cc": CREDIT, "c": CELL})
    return conn


def test_record_inside_far_and_without_location(cell_world: Connection) -> None:
    conn, today = cell_world, clock.today()
    inside, created = record(conn, scope=WEST, username="gw", new=new(lon=113.8, lat=34.0, accuracy_m=20), today=today)
    assert created and not inside.far and inside.outside_m == 0 and inside.patrol_date == today
    near, _ = record(conn, scope=WEST, username="gw", new=new(lon=113.813, lat=34.0), today=today)  # ~280 m out
    assert not near.far and 200 < (near.outside_m or 0) < 400
    far, _ = record(conn, scope=WEST, username="gw", new=new(lon=113.85, lat=34.0, result="hazard_found",
                                                              enterprise_code=CREDIT), today=today)
    assert far.far and (far.outside_m or 0) > 3000 and far.enterprise_name == "巡查测试化工"
    blurred, _ = record(conn, scope=WEST, username="gw", new=new(lon=113.85, lat=34.0, accuracy_m=5000), today=today)
    assert not blurred.far  # within the reported accuracy: not flagged
    unlocated, _ = record(conn, scope=WEST, username="gw", new=new(), today=today)
    assert unlocated.outside_m is None and not unlocated.far and unlocated.lon is None
    mine = patrols_of_day(conn, scope=WEST, username="gw", day=today)
    assert [p.id for p in mine] == sorted((p.id for p in mine), reverse=True) and len(mine) == 5
    assert patrols_of_day(conn, scope=WEST, username="other", day=today) == []
    assert next(c for c in patrol_cells(conn, scope=WEST, today=today) if c.code == CELL).patrols_today == 5
    assert cell_at(conn, scope=WEST, lon=113.8, lat=34.0) == CELL
    assert cell_at(conn, scope=WEST, lon=113.9, lat=34.0) is None
    audited = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'patrol_recorded' AND username = 'gw'"))
    assert audited.scalar_one() == 5


def test_same_key_once_and_refusals(cell_world: Connection) -> None:
    conn, today = cell_world, clock.today()
    k = key()
    first, created = record(conn, scope=WEST, username="gw", new=new(request_key=k), today=today)
    again, created_again = record(conn, scope=WEST, username="gw", new=new(request_key=k), today=today)
    assert created and not created_again and again.id == first.id
    with pytest.raises(PatrolNotFoundError):
        record(conn, scope=WEST, username="gw", new=new(cell_code=FOREIGN_CELL), today=today)
    with pytest.raises(PatrolNotFoundError):
        record(conn, scope=WEST, username="gw", new=new(cell_code="411002001001"), today=today)  # a village
    with pytest.raises(PatrolNotFoundError):
        record(conn, scope=WEST, username="gw", new=new(enterprise_code="91411002NOTHERE000"), today=today)
    for bad in (new(result="maybe"), new(note="x" * 501), new(lon=113.8), new(request_key="short")):
        with pytest.raises(PatrolError):
            record(conn, scope=WEST, username="gw", new=bad, today=today)
    n = conn.execute(text("SELECT count(*) FROM patrols p JOIN units u ON u.id = p.unit_id WHERE u.code = :c"),
                     {"c": CELL}).scalar_one()
    assert n == 1


# --- the page's write callback, forged per role --------------------------------------------------------------

def submit_request(session: requests.Session, base: str, *, cell: str, request_key: str,
                   result: str = "clear") -> requests.Response:
    """POST the /patrol submit callback as the renderer does for a click on 提交巡查记录."""
    payload = dash_payload(output="..patrol-message.children...patrol-today.children...patrol-key.data..."
                                  "patrol-note.value..", inputs=[])
    payload["outputs"] = [{"id": "patrol-message", "property": "children"},
                          {"id": "patrol-today", "property": "children"},
                          {"id": "patrol-key", "property": "data"}, {"id": "patrol-note", "property": "value"}]
    payload["inputs"] = [{"id": "patrol-submit", "property": "n_clicks", "value": 1}]
    payload["state"] = [
        {"id": "patrol-cell", "property": "value", "value": cell},
        {"id": "patrol-enterprise", "property": "value", "value": None},
        {"id": "patrol-result", "property": "value", "value": result},
        {"id": "patrol-note", "property": "value", "value": "forged"},
        {"id": "patrol-point", "property": "data", "value": None},
        {"id": "patrol-key", "property": "data", "value": request_key},
    ]
    payload["changedPropIds"] = payload["parsedChangedPropsIds"] = ["patrol-submit.n_clicks"]
    return session.post(f"{base}/_dash-update-component", json=payload, timeout=20)


def stored(engine: Engine, request_key: str) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM patrols WHERE request_key = :k"), {"k": request_key})
                   .scalar_one())


def test_forged_patrols_per_role(live_server: str, engine: Engine) -> None:
    roles = (("planner", "411000"), ("inspector", "411002"), ("leader", "411000"),
             ("grid_manager", "411003100"))  # the last: a grid manager of another township
    for role, scope in roles:
        user, password = make_user(engine, role=role, scope=scope)
        session = http_login(live_server, user, password)
        k = key()
        r = submit_request(session, live_server, cell=CELL, request_key=k)
        body = json.dumps(r.json(), ensure_ascii=False) if r.headers.get("content-type", "").startswith(
            "application/json") else r.text
        assert r.status_code in (200, 403), (role, r.status_code)
        assert r.status_code == 403 or any(m in body for m in ("无权使用此功能", "不在您的负责范围内")), (role, body)
        assert stored(engine, k) == 0, role
    # the right account: written once; without the CSRF header: refused, nothing written
    user, password = make_user(engine, role="grid_manager", scope="411002001")
    session = http_login(live_server, user, password)
    forged = requests.Session()
    forged.cookies.update(session.cookies)
    k = key()
    assert submit_request(forged, live_server, cell=CELL, request_key=k).status_code == 403
    assert stored(engine, k) == 0
    ok = submit_request(session, live_server, cell=CELL, request_key=k)
    assert ok.status_code == 200 and "已记录" in json.dumps(ok.json(), ensure_ascii=False)
    assert stored(engine, k) == 1
    with engine.begin() as c:  # leave the session database as it was
        c.execute(text("DELETE FROM patrols WHERE request_key = :k"), {"k": k})


# --- the page on a phone -------------------------------------------------------------------------------------

def test_a_day_of_patrols_on_a_phone(chromium: Any, live_server: str, engine: Engine) -> None:
    user, password = make_user(engine, role="grid_manager", scope="411002001")
    context = chromium.new_context(locale="zh-CN", viewport={"width": 360, "height": 740}, is_mobile=True,
                                   has_touch=True, geolocation={"latitude": 34.0, "longitude": 113.8},
                                   permissions=["geolocation"])
    page = context.new_page()
    try:
        page.goto(f"{live_server}/login?next=/patrol?cell={CELL}")
        page.fill("#username", user)
        page.fill("#password", password)
        page.locator("button[type=submit]").tap()
        page.wait_for_selector("#patrol-submit")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
        page.locator("#patrol-locate").tap()  # the location goes with the record (this test cell has no geometry)
        page.wait_for_selector("#patrol-where:has-text('当前位置')")
        page.locator("#patrol-submit").tap()
        page.wait_for_selector("#patrol-message:has-text('已记录')")
        page.fill("#patrol-note", "东侧仓库消防通道堵塞")
        page.locator("label:has-text('发现隐患')").tap()
        page.locator("#patrol-submit").tap()
        link = page.wait_for_selector("#patrol-hazard-link")
        page.wait_for_selector("#patrol-today:has-text('今日巡查（2）')")
        assert "/hazard/new?lon=113.800000&lat=34.000000" in (link.get_attribute("href") or "")
        page.screenshot(path=str(screenshot_dir() / "patrol.png"))
        link.tap()
        page.wait_for_url("**/hazard/new?**")
    finally:
        context.close()
    with engine.begin() as c:
        rows = c.execute(text("SELECT result, ST_X(geom), note FROM patrols WHERE created_by = :u ORDER BY id"),
                         {"u": user}).all()
        assert [(r[0], r[1]) for r in rows] == [("clear", 113.8), ("hazard_found", 113.8)]
        assert rows[1][2] == "东侧仓库消防通道堵塞"
        c.execute(text("DELETE FROM patrols WHERE created_by = :u"), {"u": user})
