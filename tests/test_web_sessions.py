"""Server-side sessions (``user_sessions``): a copied cookie is refused after logout, disable, password
change and ``safegrid users end-sessions``, on every app instance; the absolute lifetime; the per-request cost."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import requests
from sqlalchemy import Engine, text

from dashboard.app import create_app
from dashboard.auth import SESSION_ID_FIELD
from geo.users import count_sessions, hash_password, session_key_hash, set_active, set_password_hash
from tests.browser import app_settings, csrf_from, http_login, make_user

pytestmark = pytest.mark.db
COOKIE = "safegrid_session"


def _replay(base: str, cookie: str) -> requests.Session:
    """A fresh client that only carries a copy of ``cookie`` (what a thief would hold)."""
    s = requests.Session()
    s.cookies.set(COOKIE, cookie)
    return s


def _logout(s: requests.Session, base: str) -> None:
    r = s.post(f"{base}/logout", data={"csrf_token": csrf_from(s, base)}, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "/login"


def test_copied_cookie_is_refused_after_logout(live_server: str, engine: Engine) -> None:
    user, password = make_user(engine, role="planner", scope="411000")
    s = http_login(live_server, user, password)
    other_device = http_login(live_server, user, password)
    copied = s.cookies.get(COOKIE)
    assert copied and _replay(live_server, copied).get(f"{live_server}/api/me", timeout=10).status_code == 200
    with engine.connect() as conn:
        assert count_sessions(conn, username=user) == 2
    _logout(s, live_server)
    thief = _replay(live_server, copied)
    assert thief.get(f"{live_server}/api/me", timeout=10).status_code == 401
    page = thief.get(f"{live_server}/risk", allow_redirects=False, timeout=10)
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
    # Logging out ends that session only: the same account on another device stays signed in.
    assert other_device.get(f"{live_server}/api/me", timeout=10).status_code == 200
    with engine.connect() as conn:
        assert count_sessions(conn, username=user) == 1


@pytest.mark.parametrize("change", ["disable", "password"])
def test_account_change_deletes_every_session(live_server: str, engine: Engine, change: str) -> None:
    user, password = make_user(engine, role="inspector", scope="411002")
    cookies = [http_login(live_server, user, password).cookies.get(COOKIE) for _ in range(2)]
    with engine.begin() as conn:
        if change == "disable":
            set_active(conn, username=user, active=False)
        else:
            set_password_hash(conn, username=user, password_hash=hash_password("Other-pass-2026"))
        assert count_sessions(conn, username=user) == 0
    for cookie in cookies:
        assert cookie and _replay(live_server, cookie).get(f"{live_server}/api/me", timeout=10).status_code == 401


def _sg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "safegrid", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_cli_ends_sessions(live_server: str, engine: Engine) -> None:
    """``users end-sessions``, ``disable`` and ``set-password`` end the sessions of every device."""
    user, password = make_user(engine, role="leader", scope="411000")
    sessions = [http_login(live_server, user, password) for _ in range(2)]
    res = _sg("users", "end-sessions", user)
    assert res.returncode == 0 and "2 个登录会话" in res.stdout, res.stderr
    assert all(s.get(f"{live_server}/api/me", timeout=10).status_code == 401 for s in sessions)
    s = http_login(live_server, user, password)
    assert _sg("users", "set-password", user).returncode == 0
    assert s.get(f"{live_server}/api/me", timeout=10).status_code == 401
    assert _sg("users", "end-sessions", "no_such_user_zz").returncode == 1


def test_logout_on_one_instance_ends_the_session_on_another(engine: Engine, unit_tree: dict[str, str]) -> None:
    """Two app instances (as behind a load balancer) share the sessions through PostgreSQL."""
    a = create_app(app_settings()).server.test_client()
    b = create_app(app_settings()).server.test_client()
    user, password = make_user(engine, role="planner", scope="411000")
    html = a.get("/login").get_data(as_text=True)
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    assert a.post("/login", data={"username": user, "password": password, "csrf_token": token}).status_code == 302
    cookie = a.get_cookie(COOKIE)
    assert cookie is not None
    b.set_cookie(COOKIE, cookie.value)
    assert b.get("/api/me").status_code == 200  # the cookie works on the other instance
    with a.session_transaction() as sess:
        token = sess["csrf_token"]
    assert a.post("/logout", data={"csrf_token": token}).status_code == 302
    assert b.get("/api/me").status_code == 401  # and is refused there once signed out here


def test_absolute_lifetime_and_missing_session_id(engine: Engine, unit_tree: dict[str, str]) -> None:
    client = create_app(app_settings(session_absolute_minutes=60)).server.test_client()
    user, password = make_user(engine, role="planner", scope="411000")
    html = client.get("/login").get_data(as_text=True)
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/login", data={"username": user, "password": password, "csrf_token": token}).status_code == 302
    assert client.get("/api/me").status_code == 200
    with client.session_transaction() as sess:
        sid = sess[SESSION_ID_FIELD]
    with engine.begin() as conn:  # signed in 61 minutes ago: past the absolute lifetime however active
        conn.execute(text("UPDATE user_sessions SET created_at = now() - interval '61 minutes' WHERE id = :h"),
                     {"h": session_key_hash(sid)})
    assert client.get("/api/me").status_code == 401
    # A validly signed cookie without a session id (as issued before 0003) is refused too.
    with client.session_transaction() as sess:
        sess.pop(SESSION_ID_FIELD)
    assert client.get("/api/me").status_code == 401


def test_the_session_check_is_an_index_probe_inside_the_account_read(engine: Engine, unit_tree: dict[str, str]) -> None:
    """The session row is checked in the same statement as the account (no extra round trip), by an index.

    Its cost is measured in bench/bench_session_check.py (tests never time).
    """
    from geo.users import _SESSION_LIVE, _SESSION_SELECT, get_user_by_name, open_session, session_user

    assert _SESSION_LIVE.split(" WHERE ")[0] in _SESSION_SELECT  # one statement: the check is part of the read
    user, _ = make_user(engine, role="planner", scope="411000")
    sid = session_key_hash(uuid.uuid4().hex)
    with engine.begin() as conn:
        record = get_user_by_name(conn, username=user)
        assert record is not None
        open_session(conn, user_id=record.id, session_hash=sid, ip=None, max_minutes=720)
        for i in range(2000):  # other sessions in the table
            conn.execute(text("INSERT INTO user_sessions (id, user_id) VALUES (:h, :u)"),
                         {"h": session_key_hash(f"filler-{uuid.uuid4()}-{i}"), "u": record.id})
        conn.execute(text("ANALYZE user_sessions"))
    with engine.connect() as conn:
        assert session_user(conn, user_id=record.id, session_hash=sid, max_minutes=720)
        plan = "\n".join(conn.execute(text(
            "EXPLAIN SELECT 1 FROM user_sessions WHERE id = :h AND user_id = :u"), {"h": sid, "u": record.id}
        ).scalars())
    # Either index answers it (the planner picks by statistics); never a scan of every session.
    assert "Index" in plan and "Seq Scan" not in plan
