"""Forged requests per role: foreign units through the Dash callback, the data routes and the URL; all refused."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import Engine

from tests.browser import dash_update, http_login, make_user, route_payload
from tests.fixtures_units import ENTERPRISES, NAMES

pytestmark = pytest.mark.db

# role, scope unit, a unit inside the scope, units outside it (parent, sibling, other county, city).
CASES = [
    ("grid_manager", "411002001", "411002001001", ["411002", "411002002", "411002002001", "411003", "411000"]),
    ("inspector", "411002", "411002002", ["411000", "411003", "411003100", "41100310020001"]),
    ("planner", "411003", "411003100", ["411000", "411002", "411002001", "41100200100101"]),
    ("leader", "411003", "411003100200", ["411000", "411002", "411002002"]),
    ("admin", "411002002", "411002002001", ["411000", "411002", "411002001", "411003"]),
]


@pytest.fixture(scope="module")
def sessions(live_server: str, engine: Engine) -> dict[str, requests.Session]:
    """One signed-in HTTP session per role (scopes as in CASES)."""
    out = {}
    for role, scope, *_ in CASES:
        user, password = make_user(engine, role=role, scope=scope)
        out[role] = http_login(live_server, user, password)
    return out


def _summary(session: requests.Session, base: str, code: str) -> requests.Response:
    return dash_update(session, base, output="home-summary.children",
                       inputs=[{"id": "home-unit", "property": "value", "value": code}])


def _text(r: requests.Response) -> str:
    """Response body with JSON unicode escapes decoded (Dash escapes non-ASCII)."""
    try:
        return json.dumps(r.json(), ensure_ascii=False)
    except ValueError:
        return r.text


def _leaks(text: str, code: str) -> bool:
    return NAMES[code] in text or str(ENTERPRISES[code]) in text or f'"{code}"' in text


@pytest.mark.parametrize(("role", "scope", "inside", "outside"), CASES, ids=[c[0] for c in CASES])
def test_dash_callback_refuses_foreign_units(
    live_server: str, sessions: dict[str, requests.Session], role: str, scope: str, inside: str, outside: list[str]
) -> None:
    s = sessions[role]
    own = _summary(s, live_server, inside)
    assert own.status_code == 200
    assert NAMES[inside] in _text(own) and str(ENTERPRISES[inside]) in _text(own)
    for code in outside:
        r = _summary(s, live_server, code)
        assert r.status_code == 200, r.text[:300]
        assert not _leaks(_text(r), code), (role, code, _text(r)[:500])
        assert "无权查看该单位的数据" in _text(r)
        assert "home-summary" not in r.text  # the output is left untouched; only the shell alert is set


@pytest.mark.parametrize(("role", "scope", "inside", "outside"), CASES, ids=[c[0] for c in CASES])
def test_data_route_refuses_foreign_units(
    live_server: str, sessions: dict[str, requests.Session], role: str, scope: str, inside: str, outside: list[str]
) -> None:
    s = sessions[role]
    own = s.get(f"{live_server}/api/units/{inside}", timeout=10)
    assert own.status_code == 200
    assert own.json()["name"] == NAMES[inside]
    for code in outside:
        r = s.get(f"{live_server}/api/units/{code}", timeout=10)
        assert r.status_code == 403, (role, code)
        assert not _leaks(_text(r), code)
        assert r.json()["error"].startswith("无权查看")
    # Malformed and unknown codes are refused too, without telling which units exist.
    assert s.get(f"{live_server}/api/units/41100x", timeout=10).status_code == 400
    assert s.get(f"{live_server}/api/units/999999", timeout=10).status_code == 403


@pytest.mark.parametrize(("role", "scope", "inside", "outside"), CASES, ids=[c[0] for c in CASES])
def test_children_in_summaries_stay_inside_scope(
    live_server: str, sessions: dict[str, requests.Session], role: str, scope: str, inside: str, outside: list[str]
) -> None:
    data = sessions[role].get(f"{live_server}/api/units/{scope}", timeout=10).json()
    assert data["code"] == scope
    for child in data["children"]:
        assert child["path"].startswith(data["path"])


@pytest.mark.parametrize("role", [c[0] for c in CASES])
def test_admin_page_only_for_admins(live_server: str, sessions: dict[str, requests.Session], role: str) -> None:
    r = sessions[role].get(f"{live_server}/admin/users", timeout=10)
    assert r.status_code == (200 if role == "admin" else 403)
    if role != "admin":
        assert "无权使用此功能" in r.text
    layout = _text(sessions[role].get(f"{live_server}/_dash-layout", timeout=10))
    assert ("用户管理" in layout) == (role == "admin")  # no menu entry for other roles


@pytest.mark.parametrize("role", [c[0] for c in CASES])
def test_the_router_refuses_what_the_browser_never_sends(
    live_server: str, sessions: dict[str, requests.Session], role: str
) -> None:
    """The route store is the browser's (pathname, search): anything else is refused in Chinese, never a page."""
    for data in ("/", ["/"], {"search": ""}, {"pathname": 5}, {"pathname": "/", "search": {"unit": "x"}}):
        payload = route_payload("/")
        payload["inputs"][0]["value"] = data
        r = sessions[role].post(f"{live_server}/_dash-update-component", json=payload, timeout=10)
        body = r.json()  # the app's callback refusal: the shell's alert, nothing for the page
        assert r.status_code == 200 and body["response"] == {}, (data, r.text[:200])
        assert "请求格式有误" in json.dumps(body["sideUpdate"], ensure_ascii=False)
    admin = sessions[role].post(f"{live_server}/_dash-update-component", json=route_payload("/admin/users"),
                                timeout=10)
    assert admin.status_code == 200 and ("无权使用此功能" in admin.text) == (role != "admin")


def test_unauthenticated_requests_are_refused(live_server: str) -> None:
    anon = requests.Session()
    r = _summary(anon, live_server, "411002001")
    assert r.status_code == 401 and "西大街道" not in _text(r)
    assert anon.get(f"{live_server}/api/units/411000", timeout=10).status_code == 401
    assert anon.get(f"{live_server}/_dash-layout", timeout=10).status_code == 401
    assert anon.get(f"{live_server}/_dash-dependencies", timeout=10).status_code == 401
    page = anon.get(f"{live_server}/admin/users", allow_redirects=False, timeout=10)
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")


def test_forged_cookie_is_refused(live_server: str, sessions: dict[str, requests.Session]) -> None:
    cookie = sessions["grid_manager"].cookies.get("safegrid_session")
    assert cookie
    forged = requests.Session()
    forged.cookies.set("safegrid_session", cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB"))
    assert forged.get(f"{live_server}/api/me", timeout=10).status_code == 401


def test_refusals_are_audited(live_server: str, engine: Engine) -> None:
    user, password = make_user(engine, role="grid_manager", scope="411002001")
    s = http_login(live_server, user, password)
    assert s.get(f"{live_server}/api/units/411003", timeout=10).status_code == 403
    from geo.users import list_audit

    with engine.connect() as conn:
        entries = list_audit(conn, username=user, action="forbidden")
    assert entries and entries[0].detail == {"target": "411003", "scope": "411002001", "path": "/api/units/411003"}
