"""Department scope on the wire (issue 18 part 5): forged requests per role with another department's ids.

A 住建 (zhujian) account over the whole city, for each of three roles, asks the live server for an 应急 (yingji)
enterprise and hazard by id or name — enterprise file, search (route and Dash callback), OGC item and items,
the map's points, the hazard export — and gets 403/404 or rows without them; its own department's rows come back.
A city account without a department sees both (the control). The rows are committed by this module and removed
after it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import openpyxl
import pytest
import requests
from sqlalchemy import Engine, text

from domain.catalogues import DepartmentCatalogue
from geo.users import set_department
from tests.browser import dash_payload, http_login, login, make_user, screenshot_dir

pytestmark = pytest.mark.db
ZJ, YJ = "9141100000DPH0ZJ1A", "9141100000DPH0YJ1A"
NAMES = {ZJ: "部门路由住建公司", YJ: "部门路由应急公司"}
HAZARDS = {ZJ: "DPH-H-ZJ", YJ: "DPH-H-YJ"}
ROLES = ("inspector", "leader", "planner")
BBOX = "113.79,34.00,113.83,34.04"


@pytest.fixture(scope="module")
def rows(engine: Engine, unit_tree: dict[str, str]) -> Iterator[dict[str, int]]:
    """Commit one 住建 and one 应急 enterprise in the same grid cell, each with an open hazard; yield hazard ids."""
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        for code, dept in ((ZJ, "zhujian"), (YJ, "yingji")):
            conn.execute(text(
                "INSERT INTO enterprises (credit_code, name, industry, dept_code, unit_id, geom) SELECT :c, :n, "
                "'建筑施工', :d, id, ST_SetSRID(ST_MakePoint(113.811, 34.021), 4326) FROM units "
                "WHERE code = '41100200100101'"), {"c": code, "n": NAMES[code], "d": dept})
            ids[code] = conn.execute(text(
                "INSERT INTO hazards (code, title, level, status, found_at, deadline, enterprise_id, unit_id, geom) "
                "SELECT :h, '部门路由隐患', 'general', 'rectifying', current_date - 5, current_date + 5, e.id, "
                "e.unit_id, e.geom FROM enterprises e WHERE e.credit_code = :c RETURNING id"),
                {"h": HAZARDS[code], "c": code}).scalar_one()
    yield ids
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM hazards WHERE code LIKE 'DPH-%'"))
        conn.execute(text("DELETE FROM enterprises WHERE credit_code = ANY(:c)"), {"c": [ZJ, YJ]})


@pytest.fixture(scope="module")
def sessions(live_server: str, engine: Engine, rows: dict[str, int]) -> dict[str, requests.Session]:
    """A 住建 session per role over the city, and a city inspector without a department (``control``)."""
    out = {}
    for role in ROLES:
        user, password = make_user(engine, role=role, scope="411000", prefix=f"dph_{role}")
        with engine.begin() as conn:
            set_department(conn, username=user, dept_code="zhujian", catalogue=DepartmentCatalogue())
        out[role] = http_login(live_server, user, password)
    user, password = make_user(engine, role="leader", scope="411000", prefix="dph_control")
    out["control"] = http_login(live_server, user, password)
    return out


def _body(r: requests.Response) -> str:
    try:
        return json.dumps(r.json(), ensure_ascii=False)
    except ValueError:
        return r.text


@pytest.mark.parametrize("role", ["inspector", "leader", "control"])
def test_enterprise_file_and_search(live_server: str, sessions: dict[str, requests.Session], role: str) -> None:
    s = sessions[role]
    foreign = s.get(f"{live_server}/api/enterprise/{YJ}", timeout=10)
    own = s.get(f"{live_server}/api/enterprise/{ZJ}", timeout=10)
    assert own.status_code == 200 and NAMES[ZJ] in _body(own)
    found = _body(s.get(f"{live_server}/api/search", params={"q": "部门路由"}, timeout=10))
    assert NAMES[ZJ] in found
    if role == "control":
        assert foreign.status_code == 200 and NAMES[YJ] in found
        return
    assert foreign.status_code in (403, 404) and NAMES[YJ] not in _body(foreign)
    assert NAMES[YJ] not in found
    # the header search box's callback, forged with the other department's name and code
    for q in ("部门路由", YJ):
        payload = dash_payload(output="..search-results.children...search-results.hidden..",
                               inputs=[{"id": "search-input", "property": "value", "value": q}])
        payload["outputs"] = [{"id": "search-results", "property": "children"},
                              {"id": "search-results", "property": "hidden"}]
        r = s.post(f"{live_server}/_dash-update-component", json=payload, timeout=20)
        assert r.status_code in (200, 204) and NAMES[YJ] not in _body(r)
        assert (NAMES[ZJ] in _body(r)) == (q != YJ)


@pytest.mark.parametrize("role", [*ROLES, "control"])
def test_ogc_and_map_points(live_server: str, sessions: dict[str, requests.Session], rows: dict[str, int],
                            role: str) -> None:
    s = sessions[role]
    foreign = s.get(f"{live_server}/ogc/collections/open-hazards/items/{rows[YJ]}", timeout=10)
    own = s.get(f"{live_server}/ogc/collections/open-hazards/items/{rows[ZJ]}", timeout=10)
    assert own.status_code == 200
    page = _body(s.get(f"{live_server}/ogc/collections/enterprises/items", params={"bbox": BBOX, "limit": "1000"},
                       timeout=10))
    points = _body(s.get(f"{live_server}/api/map/points/hazards.geojson", params={"bbox": BBOX, "zoom": "17"},
                         timeout=10))
    assert NAMES[ZJ] in page
    if role == "control":
        assert foreign.status_code == 200 and NAMES[YJ] in page
        return
    assert foreign.status_code == 404
    assert NAMES[YJ] not in page
    ids = {f.get("id") for f in json.loads(points).get("features", [])}
    assert rows[YJ] not in ids and str(rows[YJ]) not in ids


@pytest.mark.parametrize("role", ["leader", "planner", "control"])
def test_hazard_export(live_server: str, sessions: dict[str, requests.Session], role: str) -> None:
    r = sessions[role].get(f"{live_server}/export/hazards.xlsx", params={"q": "DPH-H"}, timeout=20)
    assert r.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True).active
    assert sheet is not None
    cells: set[Any] = {c for row in sheet.iter_rows(values_only=True) for c in row}
    assert HAZARDS[ZJ] in cells
    assert (HAZARDS[YJ] in cells) == (role == "control")


def test_a_department_account_in_the_browser(live_server: str, engine: Engine, rows: dict[str, int],
                                             browser_page: Any) -> None:
    user, password = make_user(engine, role="inspector", scope="411000", prefix="dph_browser")
    with engine.begin() as conn:
        set_department(conn, username=user, dept_code="zhujian", catalogue=DepartmentCatalogue())
    page = browser_page
    login(page, live_server, user, password)
    page.goto(f"{live_server}/enterprise?code={YJ}")
    page.wait_for_selector("text=未找到")
    assert NAMES[YJ] not in page.content()
    page.goto(f"{live_server}/enterprise?code={ZJ}")
    page.wait_for_selector(f"text={NAMES[ZJ]}")
    assert HAZARDS[ZJ] in page.content()
    page.screenshot(path=str(screenshot_dir() / "department_account_enterprise.png"), full_page=True)
    assert not page.console_errors
