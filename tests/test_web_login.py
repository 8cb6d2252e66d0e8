"""The login as a hostile user tries it: the redirect allow-list, and answers that do not tell which usernames
exist (wrong password, lockout) nor which enterprises exist outside the scope."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import requests
from sqlalchemy import Engine

from dashboard.app import create_app
from dashboard.auth import safe_next
from tests.browser import app_settings, csrf_from, http_login, make_user
from tests.test_search_data import E_CODE, inspector_world

__all__ = ["inspector_world"]
pytestmark = pytest.mark.db

ALLOWED = ["/", "/risk", "/hazards?status=open&level=major", "/enterprise?code=91411002MA0000000X",
           "/?unit=411002&focus=hazard%3AYH1", "/%E4%B8%AD%E6%96%87", "/a/b/c?x=1&y=2",
           "/@evil.example:80"]  # a path on this site, however it reads
REFUSED = [
    None, "", "risk", "//evil.example/x", "///evil.example", "/\\evil.example", "\\\\evil.example",
    "https://evil.example/", "http:/evil.example", "javascript:alert(1)", "data:text/html,x",
    "/\t/evil.example", "/\n/evil.example", "/ok\r\nSet-Cookie: a=b", "/\x00", "\x00/", "/%2F%2Fevil.example",
    "/%5Cevil.example", "/%252F%252Fevil.example", "/%09/evil.example", "/%00", " /risk", "/risk#frag",
    "/中文", "/" + "a" * 2001, "@evil.example", "/risk\\..\\evil",
]


@pytest.mark.parametrize("target", ALLOWED)
def test_allowed_redirect_targets(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize("target", REFUSED, ids=[repr(t)[:40] for t in REFUSED])
def test_refused_redirect_targets(target: str | None) -> None:
    assert safe_next(target) == "/"


def test_redirect_targets_over_http(engine: Engine, unit_tree: dict[str, str]) -> None:
    """Every malformed ``next`` ends at ``/`` (or a 400 for control characters), never elsewhere, never 500."""
    client = create_app(app_settings()).server.test_client()
    user, password = make_user(engine, role="leader", scope="411000")
    for target in [*REFUSED[1:], *ALLOWED]:
        html = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert token
        r = client.post("/login", data={"username": user, "password": password, "csrf_token": token.group(1),
                                        "next": target})
        assert r.status_code in (302, 400), (target, r.status_code)
        if r.status_code == 302:
            assert r.headers["Location"] == (target if target in ALLOWED else "/"), target
        else:
            assert "控制字符" in r.get_data(as_text=True)
        shown = client.get(f"/login?next={requests.utils.quote(target, safe='')}")
        assert shown.status_code in (200, 302, 400), target
        client.post("/logout", data={"csrf_token": _token(client)})


def _token(client: Any) -> str:
    with client.session_transaction() as sess:
        return str(sess.get("csrf_token", ""))


def _attempt(s: requests.Session, base: str, user: str, token: str) -> tuple[int, str]:
    r = s.post(f"{base}/login", data={"username": user, "password": "wrong-password-1", "csrf_token": token,
                                      "next": "/"}, allow_redirects=False, timeout=10)
    return r.status_code, r.text.replace(user, "<USER>").replace(token, "<CSRF>")


def test_unknown_and_existing_users_get_identical_answers(live_server: str, engine: Engine) -> None:
    """Five wrong passwords, then more: the same statuses and pages for a real account and an unknown name."""
    existing, _ = make_user(engine, role="inspector", scope="411002")
    unknown = f"inspector_{uuid.uuid4().hex[:8]}"  # same shape as make_user's names
    answers = {}
    for user in (existing, unknown):
        s = requests.Session()
        token = csrf_from(s, live_server)
        answers[user] = [_attempt(s, live_server, user, token) for _ in range(7)]
    assert [a[0] for a in answers[existing]] == [401, 401, 401, 401, 429, 429, 429]
    assert answers[existing] == answers[unknown]
    assert "账户已临时锁定" in answers[unknown][4][1]


def test_locked_unknown_name_stays_locked_like_an_account(engine: Engine, unit_tree: dict[str, str]) -> None:
    client = create_app(app_settings(login_max_failures=2, lockout_minutes=5)).server.test_client()
    name = f"ghost_{uuid.uuid4().hex[:8]}"
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    codes = [client.post("/login", data={"username": name, "password": "x-wrong-123", "csrf_token": token.group(1)}
                         ).status_code for _ in range(3)]
    assert codes == [401, 429, 429]
    r = client.post("/login", data={"username": name, "password": "x-wrong-123", "csrf_token": token.group(1)})
    assert "请 5 分钟后再试" in r.get_data(as_text=True)


@pytest.mark.usefixtures("inspector_world")
def test_enterprise_outside_scope_answers_like_an_unknown_one(live_server: str, engine: Engine) -> None:
    """``/api/enterprise`` (and the page, which reads the file the same way): no oracle outside the scope."""
    user, password = make_user(engine, role="inspector", scope="411002")
    s = http_login(live_server, user, password)
    foreign = s.get(f"{live_server}/api/enterprise/{E_CODE}", timeout=10)  # exists, in 建安区
    unknown = s.get(f"{live_server}/api/enterprise/91411002ZZZZZZZZZZ", timeout=10)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json() and "不在本账户的数据范围内" in foreign.json()["error"]
