"""Inspector Flask routes over real HTTP on the live server: scope (404 like unknown, audited), 400, 401, roles."""

from __future__ import annotations

import io

import pytest
import requests
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from tests.browser import http_login, make_user
from tests.test_search_data import A_CODE, A_LAT, A_LON, E_CODE, inspector_world

__all__ = ["inspector_world"]
pytestmark = [pytest.mark.db, pytest.mark.usefixtures("inspector_world")]


@pytest.fixture(scope="module")
def weidu_inspector(live_server: str, engine: Engine) -> tuple[requests.Session, str]:
    user, password = make_user(engine, role="inspector", scope="411002")
    return http_login(live_server, user, password), user


def test_search_route_is_scoped(live_server: str, weidu_inspector: tuple[requests.Session, str]) -> None:
    s, _ = weidu_inspector
    r = s.get(f"{live_server}/api/search", params={"q": "瑞恒化工"}, timeout=10)
    assert r.status_code == 200
    names = [h["name"] for h in r.json()["results"]]
    assert names[0] == "许昌瑞恒化工有限公司" and "建安区瑞恒化工二厂" not in names
    assert r.json()["results"][0]["match_label"] == "名称"


def test_enterprise_route_404_outside_scope_and_audited(
    live_server: str, weidu_inspector: tuple[requests.Session, str], engine: Engine
) -> None:
    """Outside the scope answers exactly like an unknown code (no existence oracle), and is audited."""
    s, user = weidu_inspector
    ok = s.get(f"{live_server}/api/enterprise/{A_CODE}", timeout=10)
    assert ok.status_code == 200
    body = ok.json()
    assert body["enterprise"]["name"] == "许昌瑞恒化工有限公司"
    assert [h["code"] for h in body["hazards"]][-1] == "TT-H2"
    foreign = s.get(f"{live_server}/api/enterprise/{E_CODE}", timeout=10)
    unknown = s.get(f"{live_server}/api/enterprise/91411002XXXXXXXXXX", timeout=10)
    assert foreign.status_code == unknown.status_code == 404
    assert "建安" not in foreign.text and foreign.json() == unknown.json()
    with engine.connect() as conn:
        detail = conn.execute(text(
            "SELECT detail FROM audit_log WHERE username = :u AND action = 'forbidden' ORDER BY id DESC LIMIT 1"
        ), {"u": user}).scalar_one()
    assert detail["target"] == f"enterprise:{E_CODE}"


def test_around_route(live_server: str, weidu_inspector: tuple[requests.Session, str]) -> None:
    s, _ = weidu_inspector
    r = s.get(f"{live_server}/api/around", params={"lat": A_LAT, "lon": A_LON, "r": 1000}, timeout=10)
    assert r.status_code == 200
    names = {e["name"] for e in r.json()["enterprises"]}
    assert {"许昌瑞恒化工有限公司", "许昌恒达机械制造有限公司", "东关烟花爆竹批发部"} <= names
    assert "建安区瑞恒化工二厂" not in names
    for bad in ({"lat": "x", "lon": A_LON}, {"lat": 95, "lon": A_LON}, {"lat": A_LAT, "lon": A_LON, "r": 10**7},
                {"lat": A_LAT, "lon": A_LON, "r": "nan"}, {"lon": A_LON}):
        assert s.get(f"{live_server}/api/around", params=bad, timeout=10).status_code == 400, bad


def test_anonymous_gets_401_and_inspector_may_not_export(
    live_server: str, weidu_inspector: tuple[requests.Session, str]
) -> None:
    assert requests.get(f"{live_server}/api/search", params={"q": "化工"}, timeout=10).status_code == 401
    s, _ = weidu_inspector
    assert s.get(f"{live_server}/export/hazards.xlsx", timeout=10).status_code == 403


def test_planner_cannot_search_but_can_export(live_server: str, engine: Engine) -> None:
    user, password = make_user(engine, role="planner", scope="411002")
    s = http_login(live_server, user, password)
    assert s.get(f"{live_server}/api/search", params={"q": "化工"}, timeout=10).status_code == 403
    r = s.get(f"{live_server}/export/hazards.xlsx", params={"q": "TT-", "level": "major"}, timeout=20)
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in rows] == ["TT-H1"]  # TT-H5 (建安区, major) is outside the scope
    assert rows[0][1] == "'=1+2 液氨储罐区未设置泄漏报警"
    assert s.get(f"{live_server}/export/hazards.xlsx", params={"sort": "evil:asc"}, timeout=10).status_code == 400
    assert s.get(f"{live_server}/export/hazards.xlsx", params={"status": "bogus"}, timeout=10).status_code == 400
