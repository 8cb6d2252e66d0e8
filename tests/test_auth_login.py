"""Sign-in security: CSRF, lockout, throttling, cookie flags, session invalidation, DB outage page."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine

from dashboard.app import create_app
from dashboard.settings import ConfigError, DashboardSettings
from geo.users import list_audit, set_active, set_password_hash, set_scope
from tests.browser import app_settings, csrf_from, http_login, make_user

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parent.parent


def _post_login(s: requests.Session, base: str, user: str, password: str, token: str | None) -> requests.Response:
    data = {"username": user, "password": password, "next": "/"}
    if token is not None:
        data["csrf_token"] = token
    return s.post(f"{base}/login", data=data, allow_redirects=False, timeout=10)


def test_login_page_is_chinese_and_sets_safe_cookie(live_server: str) -> None:
    r = requests.get(f"{live_server}/login", timeout=10)
    assert r.status_code == 200 and 'lang="zh-CN"' in r.text
    assert "用户名" in r.text and "密码" in r.text and 'name="csrf_token"' in r.text
    cookie = r.headers["Set-Cookie"]
    assert "safegrid_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # dev default; SAFEGRID_COOKIE_SECURE=true adds it


def test_secure_cookie_by_setting(engine: Engine) -> None:
    app = create_app(app_settings(cookie_secure=True, session_lifetime_minutes=30))
    r = app.server.test_client().get("/login")
    cookie = r.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert app.server.permanent_session_lifetime.total_seconds() == 30 * 60


def test_csrf_missing_or_invalid_is_refused(live_server: str, engine: Engine) -> None:
    user, password = make_user(engine, role="planner", scope="411000")
    s = requests.Session()
    token = csrf_from(s, live_server)
    for bad in (None, "", "forged-" + token[7:], token + "x"):
        r = _post_login(s, live_server, user, password, bad)
        assert r.status_code == 400, bad
        assert "页面已过期" in r.text
        assert s.get(f"{live_server}/api/me", timeout=10).status_code == 401
    # A token from another session does not work either.
    other = csrf_from(requests.Session(), live_server)
    assert _post_login(s, live_server, user, password, other).status_code == 400
    assert _post_login(s, live_server, user, password, token).status_code == 302
    assert s.get(f"{live_server}/api/me", timeout=10).json()["username"] == user


def test_lockout_after_repeated_failures(live_server: str, engine: Engine) -> None:
    user, password = make_user(engine, role="inspector", scope="411002")
    s = requests.Session()
    token = csrf_from(s, live_server)
    for _ in range(4):
        r = _post_login(s, live_server, user, "wrong-password", token)
        assert r.status_code == 401 and "用户名或密码错误" in r.text
    r = _post_login(s, live_server, user, "wrong-password", token)
    assert r.status_code == 429
    assert "登录失败次数过多，账户已临时锁定，请 15 分钟后再试" in r.text
    # Locked: even the right password is refused, with the same clear message.
    r = _post_login(s, live_server, user, password, token)
    assert r.status_code == 429 and "账户已临时锁定" in r.text
    with engine.connect() as conn:
        actions = [e.action for e in list_audit(conn, username=user)]
    assert actions.count("login_failed") == 5 and "login_locked" in actions and "login_ok" not in actions
    # An administrator's password reset lifts the lock.
    with engine.begin() as conn:
        set_password_hash(conn, username=user, password_hash=_hash("New-pass-2026"))
    assert _post_login(s, live_server, user, "New-pass-2026", token).status_code == 302


def _hash(password: str) -> str:
    from geo.users import hash_password

    return hash_password(password)


def test_unknown_user_gets_the_same_message(live_server: str) -> None:
    s = requests.Session()
    r = _post_login(s, live_server, f"nobody_{uuid.uuid4().hex[:6]}", "whatever-123", csrf_from(s, live_server))
    assert r.status_code == 401 and "用户名或密码错误" in r.text


def test_ip_throttle(engine: Engine, unit_tree: dict[str, str]) -> None:
    app = create_app(app_settings(login_ip_max_failures=3, login_ip_window_minutes=10))
    client = app.server.test_client()
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    env = {"REMOTE_ADDR": ip}
    user, password = make_user(engine, role="planner", scope="411000")
    token = _client_token(client, env)
    for _ in range(3):
        r = client.post("/login", data={"username": "x" + user, "password": "bad-bad-bad", "csrf_token": token},
                        environ_base=env)
        assert r.status_code == 401
    r = client.post("/login", data={"username": user, "password": password, "csrf_token": token}, environ_base=env)
    assert r.status_code == 429 and "登录尝试过于频繁" in r.get_data(as_text=True)


def _client_token(client: object, env: dict[str, str]) -> str:
    import re

    html = client.get("/login", environ_base=env).get_data(as_text=True)  # type: ignore[attr-defined]
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_open_redirect_is_ignored(live_server: str, engine: Engine) -> None:
    user, password = make_user(engine, role="leader", scope="411000")
    s = requests.Session()
    token = csrf_from(s, live_server)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = s.post(f"{live_server}/login", data={"username": user, "password": password, "csrf_token": token,
                                                 "next": target}, allow_redirects=False, timeout=10)
        assert r.status_code == 302 and r.headers["Location"] == "/", target
        token = csrf_from(s, live_server)


@pytest.mark.parametrize("change", ["disable", "password", "scope"])
def test_account_change_ends_old_sessions(live_server: str, engine: Engine, change: str) -> None:
    user, password = make_user(engine, role="grid_manager", scope="411002001")
    s = http_login(live_server, user, password)
    old_cookie = s.cookies.get("safegrid_session")
    assert s.get(f"{live_server}/api/units/411002001", timeout=10).status_code == 200
    with engine.begin() as conn:
        if change == "disable":
            set_active(conn, username=user, active=False)
        elif change == "password":
            set_password_hash(conn, username=user, password_hash=_hash("Other-pass-2026"))
        else:
            set_scope(conn, username=user, scope_code="411003")
    replay = requests.Session()
    replay.cookies.set("safegrid_session", old_cookie)
    assert replay.get(f"{live_server}/api/units/411002001", timeout=10).status_code == 401
    assert replay.get(f"{live_server}/api/me", timeout=10).status_code == 401
    if change == "disable":
        r = _post_login(replay, live_server, user, password, csrf_from(replay, live_server))
        assert r.status_code == 403 and "该账户已停用" in r.text
    if change == "scope":  # a new login gets the new scope, read from the database
        fresh = http_login(live_server, user, password)
        assert fresh.get(f"{live_server}/api/units/411002001", timeout=10).status_code == 403
        assert fresh.get(f"{live_server}/api/units/411003100", timeout=10).status_code == 200


def test_logout_needs_csrf_and_ends_session(live_server: str, engine: Engine) -> None:
    user, password = make_user(engine, role="planner", scope="411000")
    s = http_login(live_server, user, password)
    r = s.post(f"{live_server}/logout", data={"csrf_token": "nope"}, allow_redirects=False, timeout=10)
    assert r.status_code == 400
    assert s.get(f"{live_server}/api/me", timeout=10).status_code == 200
    r = s.post(f"{live_server}/logout", data={"csrf_token": csrf_from(s, live_server)}, allow_redirects=False,
               timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert s.get(f"{live_server}/api/me", timeout=10).status_code == 401


def test_healthz(live_server: str) -> None:
    r = requests.get(f"{live_server}/healthz", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok"}


def test_database_outage_shows_a_friendly_page(tmp_path: Path) -> None:
    """Run the app against a database that does not exist: Chinese 503 pages, no stack trace."""
    script = """
import re
from dashboard.app import create_app
from tests.browser import app_settings
c = create_app(app_settings()).server.test_client()
h = c.get("/healthz"); print("healthz", h.status_code)
html = c.get("/login").get_data(as_text=True)
tok = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
r = c.post("/login", data={"username": "a", "password": "b", "csrf_token": tok})
print("login", r.status_code); print(r.get_data(as_text=True))
"""
    env = dict(os.environ, SAFEGRID_PG_DATABASE="safegrid_no_such_db_" + uuid.uuid4().hex[:6],
               SAFEGRID_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert "healthz 503" in res.stdout
    assert "login 503" in res.stdout
    assert "数据库暂时无法连接" in res.stdout and "Traceback" not in res.stdout


def test_prod_requires_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SAFEGRID_SECRET_KEY"):
        DashboardSettings(env="prod", secret_key=None, home=tmp_path).resolve_secret_key()
    with pytest.raises(ConfigError, match="太短"):
        DashboardSettings(env="prod", secret_key="short", home=tmp_path).resolve_secret_key()
    dev = DashboardSettings(env="dev", secret_key=None, home=tmp_path)
    key = dev.resolve_secret_key()
    assert len(key) >= 48 and dev.resolve_secret_key() == key
    assert (tmp_path / ".local" / "secret_key").stat().st_mode & 0o777 == 0o600


def _signed_in(engine: Engine, settings: DashboardSettings) -> tuple[Any, dict[str, str]]:
    """A test client of a new app signed in as a new planner from its own address; returns (client, environ)."""
    client = create_app(settings).server.test_client()
    user, password = make_user(engine, role="planner", scope="411000")
    env = {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9"}
    token = _client_token(client, env)
    assert client.post("/login", data={"username": user, "password": password, "csrf_token": token},
                       environ_base=env).status_code == 302
    return client, env


def test_session_cookie_slides_without_being_resigned_on_every_request(
    engine: Engine, unit_tree: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unchanged session is renewed once a minute, not per request; the idle lifetime still slides."""
    import time

    import itsdangerous.timed

    client, env = _signed_in(engine, app_settings(session_lifetime_minutes=30))
    first = client.get("/api/me", environ_base=env)
    assert first.status_code == 200 and "Set-Cookie" not in first.headers  # just signed: not again
    later = int(time.time()) + 25 * 60
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: later)
    r = client.get("/api/me", environ_base=env)  # 25 idle minutes later: still valid, and renewed now
    assert r.status_code == 200 and "safegrid_session=" in r.headers["Set-Cookie"]
    assert "Set-Cookie" not in client.get("/api/me", environ_base=env).headers
    even_later = later + 20 * 60  # 45 minutes after sign-in, 20 after the renewal: alive (idle < 30)
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: even_later)
    assert client.get("/api/me", environ_base=env).status_code == 200
    expired = even_later + 31 * 60  # 31 idle minutes: gone
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: expired)
    assert client.get("/api/me", environ_base=env).status_code == 401


def test_a_changed_session_is_written_at_once(engine: Engine, unit_tree: dict[str, str]) -> None:
    """Within the minute after sign-in a changed session still reaches the browser, and so does signing out."""
    client, env = _signed_in(engine, app_settings())
    with client.session_transaction(environ_base=env) as signed_in:  # changed within the minute after sign-in
        token = signed_in["csrf_token"]  # (sign-in started a fresh session and token)
        signed_in["probe"] = "changed"
    with client.session_transaction(environ_base=env) as reread:
        assert reread["probe"] == "changed"  # the changed cookie was written although its signature is fresh
    assert client.get("/api/me", environ_base=env).status_code == 200
    out = client.post("/logout", data={"csrf_token": token}, environ_base=env)
    assert out.status_code == 302
    assert "safegrid_session=" in out.headers["Set-Cookie"]  # the cleared session is sent at once
    assert client.get("/api/me", environ_base=env).status_code == 401
