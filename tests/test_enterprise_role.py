"""Forged requests by an enterprise account (role ``enterprise``): only its own file; everything else refused.

The account belongs to enterprise A of the inspector test world (``tests/test_search_data.py``); B and C
stand in the same grid cell, D and E elsewhere. Every Flask route (read from the app's ``url_map``), every
registered page and every server-side Dash callback (read from ``callback_map``) is requested, so a new
route, page or callback is covered without touching this file: it must refuse an enterprise account, or be
named below with the reason it may answer.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
from dash import Dash
from sqlalchemy import Connection, Engine, text

from dashboard.app import create_app
from dashboard.auth import PUBLIC_PATHS, PUBLIC_PREFIXES
from dashboard.pages import registered_pages
from dashboard.roles import can
from geo.users import UserError, create_user, get_user_by_name, hash_password, set_scope
from layers.registry import POINT_LAYERS
from tests.browser import app_settings, http_login, route_payload
from tests.fixtures_units import ENTERPRISES as UNIT_STATS
from tests.fixtures_units import NAMES
from tests.test_search_data import A_CODE, A_LAT, A_LON, ENTERPRISES, JINDI_GRID, inspector_world

__all__ = ["inspector_world"]
pytestmark = [pytest.mark.db, pytest.mark.usefixtures("inspector_world")]
PASSWORD = "Ent-pass-2026"
B_CODE, C_CODE, E_CODE = ENTERPRISES["B"][0], ENTERPRISES["C"][0], ENTERPRISES["E"][0]
OTHERS = [ENTERPRISES[k] for k in "BCDE"]
# The unit chain of A's own file; every other unit name (and every unit's statistics) is someone else's.
OWN_CHAIN = {"411000", "411002", "411002001", "411002001001", JINDI_GRID}
# 403 (capability, scope), 404 (not its own), 400 (a forged value), a refused action (domain.hazard_flow)
REFUSED = ("无权", "未找到", "请求参数有误", "不能")
# Server paths an enterprise account may use, with the check that keeps it to its own enterprise.
OWN_ROUTES = {
    "/api/enterprise/<credit_code>": "load_file: 404 unless the account's own credit code",
    "/api/attachments/<int:attachment_id>": "geo.attachments: only photos of its own enterprise's hazards",
}
# Server-side callbacks that read nothing from the database (their outputs derive from their inputs only).
PURE_CALLBACKS = {
    "shell-content.children": "the router: each page is checked by test_pages_*",
    "haz-filters.data": "the ledger's filter values → a dict",
    "risk-unit.data": "the clicked feature's code → the highlighted unit",
    "risk-units.url": "the overlay level → the route URL (the route itself needs ANALYSIS)",
}
# Plausible values an attacker would send, per "component-id.property"; others get 1.
FORGED: dict[str, Any] = {
    "home-unit.value": JINDI_GRID,
    "cm-url.search": f"?unit={JINDI_GRID}",
    "cm-url.pathname": "/",
    "cm-state.data": {"code": JINDI_GRID},
    "cm-sort-by.data": {"how": "risk", "n": 1},
    "cm-crs.data": "wgs84",
    "search-input.value": "许昌",
    "search-around-point.data": {"lat": A_LAT, "lon": A_LON},
    "search-around-radius.value": 1000,
    "search-around.hidden": False,
    "shell-url.pathname": "/enterprise",
    "shell-route.data": {"pathname": "/enterprise", "search": ""},
    "risk-unit.data": JINDI_GRID,
    "risk-compare-a.value": JINDI_GRID,
    "risk-compare-b.value": "411002001",
    "risk-overlay-level.value": 5,
    "haz-grid.getRowsRequest": {"startRow": 0, "endRow": 100},
    "haz-grid.cellClicked": {"colId": "locate", "rowId": "TT-H1"},
    "haz-filters.data": {},
    "ent-radius.value": 1000,
    "ent-code.data": A_CODE,  # its own code: the radius callback lists the neighbours, which it must not see
}
PATTERN_INDEX = {"search-hit": B_CODE, "bs-fill": JINDI_GRID}
# Wildcard keys other than the index: (type, key) → value.
PATTERN_KEYS = {("hz-go", "action"): "start", ("hz-in", "action"): "start", ("hz-in", "field"): "note",
                ("hz-date", "action"): "extend", ("hz-date", "field"): "deadline"}


def _text(r: requests.Response) -> str:
    """Body with JSON unicode escapes decoded (Dash escapes non-ASCII)."""
    try:
        return json.dumps(r.json(), ensure_ascii=False)
    except ValueError:
        return r.text


def leaks(text: str, *, own_file: bool = False) -> list[str]:
    """What of other enterprises, other units or any unit's statistics ``text`` shows."""
    found = [m for e in OTHERS for m in (e[0], e[1]) if m in text]
    found += [m for m in ("TT-H4", "TT-H5") if m in text]
    found += [NAMES[c] for c in NAMES if c not in OWN_CHAIN and NAMES[c] in text]
    found += [str(n) for n in UNIT_STATS.values() if re.search(rf"(?<!\d){n}(?!\d)", text)]
    if not own_file:
        found += [m for m in (A_CODE, ENTERPRISES["A"][1], "TT-H1") if m in text]
    return found


@pytest.fixture(scope="module")
def app() -> Dash:
    """A second app instance, for its url_map and callback_map (the live server serves an identical one)."""
    return create_app(app_settings())


@pytest.fixture(scope="module")
def company(engine: Engine, live_server: str) -> Iterator[requests.Session]:
    """A signed-in enterprise account of enterprise A (scope: A's grid cell)."""
    name = f"ent_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        create_user(conn, username=name, password_hash=hash_password(PASSWORD), role="enterprise",
                    enterprise_code=A_CODE, display_name="测试企业")
    yield http_login(live_server, name, PASSWORD)


def test_account_is_scoped_to_its_grid_cell_and_enterprise(conn: Connection) -> None:
    create_user(conn, username="ent_scope_probe", password_hash="x", role="enterprise", enterprise_code=A_CODE)
    user = get_user_by_name(conn, username="ent_scope_probe")
    assert user is not None and user.scope_code == JINDI_GRID and user.enterprise_id is not None
    with pytest.raises(UserError, match="数据范围是企业所在网格"):
        set_scope(conn, username="ent_scope_probe", scope_code="411002")
    for kwargs, message in (
        ({"role": "enterprise"}, "--enterprise"),
        ({"role": "enterprise", "enterprise_code": "91411002XXXXXXXXXX"}, "不存在"),
        ({"role": "enterprise", "enterprise_code": A_CODE, "scope_code": "411002"}, "所在网格"),
        ({"role": "inspector", "scope_code": "411002", "enterprise_code": A_CODE}, "只有企业账户"),
    ):
        with pytest.raises(UserError, match=message):
            create_user(conn, username="ent_bad", password_hash="x", **kwargs)


def test_landing_is_its_own_file(live_server: str, company: requests.Session) -> None:
    r = company.get(f"{live_server}/", allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == f"/enterprise?code={A_CODE}"
    assert company.get(f"{live_server}{r.headers['Location']}", timeout=10).status_code == 200
    page = _route(company, live_server, "/enterprise", f"?code={A_CODE}")
    shown = _text(page)
    assert ENTERPRISES["A"][1] in shown and "TT-H1" in shown  # its file with its open hazards
    assert "周边企业" not in shown and "在地图上查看" not in shown  # nothing around it, no map
    assert not leaks(shown, own_file=True), leaks(shown, own_file=True)
    data = company.get(f"{live_server}/api/enterprise/{A_CODE}?r=5000", timeout=10)
    assert data.status_code == 200 and data.json()["nearby"] == [] and data.json()["nearby_sources"] == []
    assert not leaks(_text(data), own_file=True)


@pytest.mark.parametrize("code", [B_CODE, C_CODE, E_CODE, "91411002MA00000000"], ids=["same-cell-B", "same-cell-C",
                                                                                        "other-county-E", "unknown"])
def test_other_files_answer_404(live_server: str, company: requests.Session, code: str) -> None:
    r = company.get(f"{live_server}/api/enterprise/{code}", timeout=10)
    assert r.status_code == 404 and not leaks(_text(r))
    page = _text(_route(company, live_server, "/enterprise", f"?code={quote(code)}"))
    assert "未找到该企业" in page and not leaks(page)


def _route(s: requests.Session, base: str, path: str, search: str = "") -> requests.Response:
    """The shell router's callback for ``path?search``, as the browser posts it."""
    return s.post(f"{base}/_dash-update-component", json=route_payload(path, search), timeout=20)


def test_pages_are_refused(live_server: str, company: requests.Session) -> None:
    for page in registered_pages():
        if can("enterprise", page.capability):
            continue  # a page of its own work (hazards, 待办): those pages filter to its enterprise themselves
        if page.path == "/enterprise":
            continue  # its own file only: test_landing_is_its_own_file, test_other_files_answer_404
        r = company.get(f"{live_server}{page.path}", allow_redirects=False, timeout=10)
        if page.path == "/":
            assert r.status_code == 302 and r.headers["Location"].startswith("/enterprise?code="), page.path
        else:
            assert r.status_code == 403 and "无权" in r.text, (page.path, r.status_code)
        shown = _text(_route(company, live_server, page.path))
        assert "无权使用此功能" in shown and not leaks(shown), (page.path, shown[:300])
    layout = _text(company.get(f"{live_server}/_dash-layout", timeout=10))
    assert not leaks(layout), leaks(layout)
    for title in ("一张图", "辖区概况", "隐患台账", "风险分析", "大屏", "用户管理"):
        assert f'"{title}"' not in layout  # no menu entry for what it may not use


# Pages of its own work, asked for other enterprises' things: (path, search, what it must say).
OWN_WORK_PAGES = [
    ("/hazard", "?code=TT-H4", "未找到"),  # D's hazard, another cell
    ("/hazard", "?code=TT-H5", "未找到"),  # E's hazard, another county
    ("/hazard/new", f"?enterprise={B_CODE}", ""),  # B stands in the same cell
    ("/todo", "", ""),
]


@pytest.mark.parametrize(("path", "search", "says"), OWN_WORK_PAGES, ids=[p + s for p, s, _ in OWN_WORK_PAGES])
def test_own_work_pages_show_nothing_of_others(live_server: str, company: requests.Session, path: str,
                                               search: str, says: str) -> None:
    shown = _text(_route(company, live_server, path, search))
    assert says in shown and not leaks(shown, own_file=True), (path, search, leaks(shown, own_file=True))


def _url(rule: Any) -> list[str]:
    """Concrete URLs for a url_map rule: its arguments filled with what an attacker would try."""
    values: dict[str, list[str]] = {
        "code": [JINDI_GRID, "411002001"], "unit": [JINDI_GRID], "credit_code": [B_CODE, C_CODE],
        "kind": [spec.id for spec in POINT_LAYERS] or ["hazards"], "filename": ["x"], "path": ["x"],
    }
    urls = [rule.rule]
    for arg in rule.arguments:
        urls = [re.sub(rf"<(?:[^:<>]+:)?{arg}>", quote(v), u) for u in urls for v in values.get(arg, ["1"])]
    query = f"?code={JINDI_GRID}&unit={JINDI_GRID}&q=许昌&lat={A_LAT}&lon={A_LON}&r=1000&level=5"
    return [u + query for u in urls]


def test_every_data_route_is_refused(app: Dash, live_server: str, company: requests.Session) -> None:
    pages = {p.path for p in registered_pages()} | {"/", "/<path:path>"}
    checked = 0
    for rule in app.server.url_map.iter_rules():
        path = rule.rule
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or path in pages or path.startswith("/_"):
            continue  # public, pages (test_pages_are_refused), Dash's own endpoints (callbacks: below)
        for url in _url(rule):
            method = "GET" if "GET" in (rule.methods or ()) else "POST"
            r = company.request(method, f"{live_server}{url}", allow_redirects=False, timeout=20)
            if path in OWN_ROUTES:
                assert r.status_code == 404, (url, r.status_code)  # another enterprise's file
            else:
                assert r.status_code == 403, (url, r.status_code, r.text[:200])
            assert not leaks(_text(r)), (url, leaks(_text(r)))
            checked += 1
    assert checked >= 12


def _ids(key: str) -> list[tuple[str, str]]:
    """(component id, property) of each output of a callback_map key."""
    parts = key.strip(".").split("...") if key.startswith("..") else [key]
    return [(i, p) for i, _, p in (part.rpartition(".") for part in parts)]


def _dep(dep: dict[str, Any]) -> Any:
    """A forged input or state entry: a plain id with a plausible value, or one match of a pattern."""
    raw, prop = dep["id"], dep["property"]
    if raw.startswith("{"):
        comp = _pattern(raw)
        value = comp if prop == "id" else 1
        return [{"id": comp, "property": prop, "value": value}]
    return {"id": raw, "property": prop, "value": FORGED.get(f"{raw}.{prop}", 1)}


def _pattern(raw: str) -> dict[str, Any]:
    """One concrete id matching a wildcard id (``{"type": "x", "index": ["ALL"]}``)."""
    pattern = json.loads(raw)
    return {k: (PATTERN_KEYS.get((pattern["type"], k), PATTERN_INDEX.get(pattern["type"], 1))
                if isinstance(v, list) else v) for k, v in pattern.items()}


def _forge(key: str, cb: dict[str, Any]) -> dict[str, Any]:
    outputs: list[Any] = [[{"id": _pattern(i), "property": p}] if i.startswith("{") else {"id": i, "property": p}
                          for i, p in _ids(key)]
    inputs = [_dep(d) for d in cb["inputs"]]
    first = inputs[0][0] if isinstance(inputs[0], list) else inputs[0]
    changed = (json.dumps(first["id"], separators=(",", ":"), sort_keys=True) if isinstance(first["id"], dict)
               else first["id"]) + "." + first["property"]
    return {"output": key, "outputs": outputs if key.startswith("..") else outputs[0], "inputs": inputs,
            "state": [_dep(d) for d in cb.get("state", [])], "changedPropIds": [changed]}


def server_callbacks(app: Dash) -> dict[str, dict[str, Any]]:
    """Every callback that runs on the server, by its callback_map key."""
    return {k: v for k, v in app.callback_map.items() if v.get("callback") is not None}


@pytest.fixture(scope="module")
def foreign_targets(engine: Engine) -> dict[str, Any]:
    """Forged values naming other enterprises' things: D's open hazard TT-H4 (id, version), enterprise B."""
    with engine.connect() as conn:
        hazard = conn.execute(text("SELECT id, version FROM hazards WHERE code = 'TT-H4'")).one()
        b_id = conn.execute(text("SELECT id FROM enterprises WHERE credit_code = :c"), {"c": B_CODE}).scalar_one()
    return {
        "hz-key.data": {"id": int(hazard[0]), "version": int(hazard[1])},  # act on D's hazard
        "hzn-place.data": {"enterprise_id": int(b_id)},  # report a hazard of B
        "hzn-name.value": "伪造的隐患", "hzn-level.value": "general", "hzn-deadline.date": "2099-12-31",
        "hzn-desc.value": "伪造", "hzn-key.data": f"forged-{uuid.uuid4().hex}",
    }


def test_every_callback_refuses_or_reads_nothing(app: Dash, live_server: str, company: requests.Session,
                                                 foreign_targets: dict[str, Any], engine: Engine) -> None:
    FORGED.update(foreign_targets)
    checked = []
    for key, cb in server_callbacks(app).items():
        first_output = "{}.{}".format(*_ids(key)[0]).split("@")[0]
        if first_output in PURE_CALLBACKS:
            continue
        r = company.post(f"{live_server}/_dash-update-component", json=_forge(key, cb), timeout=20)
        body = _text(r)
        assert r.status_code in (200, 204, 400, 403), (key, r.status_code, body[:200])
        assert not leaks(body), (key, leaks(body))
        if r.status_code == 200:
            assert any(m in body for m in REFUSED), (key, body[:300])
        checked.append(first_output)
    assert len(checked) >= 10
    with engine.connect() as conn:  # and nothing was written
        assert conn.execute(text("SELECT count(*) FROM hazards WHERE title = '伪造的隐患'")).scalar_one() == 0
        assert conn.execute(text("SELECT version FROM hazards WHERE code = 'TT-H4'")).scalar_one() == \
            foreign_targets["hz-key.data"]["version"]


# One callback of every page, sent with values that would show data to an account allowed to see it.
REPRESENTATIVE = [
    ("home-summary.children", "/overview"),
    ("..cm-panel.children...cm-breadcrumb.children...cm-state.data...cm-target.data...search-open.data..", "/"),
    ("risk-explain.children", "/risk"),
    ("..haz-grid.getRowsResponse...haz-count.children...haz-export.href..", "/hazards"),
    ("ent-nearby.children", "/enterprise"),
    ("..search-results.children...search-results.hidden..", "header search"),
]


@pytest.mark.parametrize(("key", "where"), REPRESENTATIVE, ids=[w for _, w in REPRESENTATIVE])
def test_representative_callbacks_say_refused(app: Dash, live_server: str, company: requests.Session, key: str,
                                              where: str) -> None:
    cb = server_callbacks(app)[key]
    r = company.post(f"{live_server}/_dash-update-component", json=_forge(key, cb), timeout=20)
    body = _text(r)
    assert r.status_code == 200 and "无权" in body, (where, r.status_code, body[:300])
    assert not leaks(body)


def test_bigscreen_callback_is_refused(app: Dash, live_server: str, company: requests.Session) -> None:
    key = next(k for k in server_callbacks(app) if k.startswith("..bs-kpi-enterprises-value.children"))
    r = company.post(f"{live_server}/_dash-update-component", json=_forge(key, server_callbacks(app)[key]),
                     timeout=20)
    assert r.status_code == 200 and "无权" in _text(r) and not leaks(_text(r))
