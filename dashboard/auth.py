"""Sign-in: flask-login sessions, the Chinese login page, CSRF, throttling and lockout, the request guard."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Request, Response, jsonify, redirect, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_login import LoginManager, current_user, login_user, logout_user
from itsdangerous import BadSignature, TimestampSigner
from werkzeug.exceptions import HTTPException

from dashboard.errors import AppError, BadRequestError, error_page, to_app_error
from dashboard.readdb import run_read
from dashboard.scope import Account, client_ip
from dashboard.settings import DashboardSettings
from geo.db import connect
from geo.users import (
    audit,
    get_user_by_id,
    get_user_by_name,
    hash_password,
    needs_rehash,
    recent_failures_from_ip,
    record_login_failure,
    record_login_success,
    session_user,
    set_password_hash,
    verify_password,
)

CSRF_FIELD = "csrf_token"
RESIGN_AFTER = timedelta(seconds=60)  # an unchanged session cookie is re-signed at most this often
# Paths anyone may request; everything else needs a session.
PUBLIC_PATHS = frozenset({"/login", "/logout", "/healthz", "/_favicon.ico", "/favicon.ico"})
PUBLIC_PREFIXES = ("/assets/",)
# Machine endpoints answer 401 JSON instead of redirecting to the login page.
API_PREFIXES = ("/api/", "/_dash-", "/_reload-hash")


def csrf_token() -> str:
    """Return this session's CSRF token (created on first use); forms post it back as ``csrf_token``."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return str(token)


def csrf_ok(sent: str | None) -> bool:
    """Tell whether ``sent`` matches the session's CSRF token."""
    expected = session.get(CSRF_FIELD)
    return bool(expected and sent and hmac.compare_digest(str(expected), sent))


def _safe_next(target: str | None) -> str:
    """Only same-site absolute paths are followed after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def wants_json(path: str) -> bool:
    """Tell whether ``path`` is a machine endpoint (JSON errors, no redirects)."""
    return path.startswith(API_PREFIXES)


def login_page(*, message: str | None = None, username: str = "", next_url: str = "/", title: str) -> str:
    """Render the Chinese login form (server-side HTML, no JavaScript needed)."""
    alert = f'<p class="sg-alert" role="alert">{escape(message)}</p>' if message else ""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>登录 · {escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/base.css"></head>
<body class="sg-plain">
<main class="sg-card sg-login">
  <h1>{escape(title)}</h1>
  <p class="sg-sub">安全生产网格化监管平台 · 请登录</p>
  {alert}
  <form method="post" action="/login" autocomplete="on">
    <input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token())}">
    <input type="hidden" name="next" value="{escape(next_url)}">
    <label for="username">用户名</label>
    <input id="username" name="username" value="{escape(username)}" required autofocus autocomplete="username">
    <label for="password">密码</label>
    <input id="password" name="password" type="password" required autocomplete="current-password">
    <button type="submit">登录</button>
  </form>
  <p class="sg-hint">连续输错密码将临时锁定账户。忘记密码请联系系统管理员。</p>
</main></body></html>"""


def _minutes_left(until: datetime) -> int:
    left = until - datetime.now(until.tzinfo)
    return max(1, int(left / timedelta(minutes=1)) + (1 if left % timedelta(minutes=1) else 0))


def _lockout_message(until: datetime) -> str:
    return f"登录失败次数过多，账户已临时锁定，请 {_minutes_left(until)} 分钟后再试（或联系管理员解锁）。"


class LoginView:
    """The /login and /logout handlers bound to the app settings."""

    def __init__(self, settings: DashboardSettings) -> None:
        self.settings = settings

    def _page(self, status: int, **kwargs: Any) -> Response:
        return Response(login_page(title=self.settings.app_title, **kwargs), status=status,
                        mimetype="text/html")

    def login(self) -> Any:
        """GET shows the form; POST checks CSRF, throttles, verifies the password and signs in."""
        next_url = _safe_next(request.values.get("next"))
        if request.method == "GET":
            if current_user.is_authenticated:
                return redirect(next_url)
            return self._page(200, next_url=next_url)
        if not csrf_ok(request.form.get(CSRF_FIELD)):
            return self._page(400, message="页面已过期或来源无效，请重新输入后登录。", next_url=next_url)
        username = (request.form.get("username") or "").strip()[:50]
        password = request.form.get("password") or ""
        s = self.settings
        ip = client_ip()
        with connect() as conn:
            recent = recent_failures_from_ip(conn, ip=ip, minutes=s.login_ip_window_minutes) if ip else 0
            if recent >= s.login_ip_max_failures:
                audit(conn, username=username or None, action="login_throttled", ip=ip)
                return self._page(429, message=f"登录尝试过于频繁，请 {s.login_ip_window_minutes} 分钟后再试。",
                                  username=username, next_url=next_url)
            user = get_user_by_name(conn, username=username) if username else None
            if user is not None and user.is_locked and user.locked_until is not None:
                audit(conn, username=username, action="login_locked", ip=ip)
                return self._page(429, message=_lockout_message(user.locked_until), username=username,
                                  next_url=next_url)
            if not verify_password(user.password_hash if user else None, password) or user is None:
                locked = None
                if user is not None:
                    locked = record_login_failure(conn, user_id=user.id, max_failures=s.login_max_failures,
                                                  lockout_minutes=s.lockout_minutes)
                audit(conn, username=username or None, action="login_failed", ip=ip,
                      detail={"locked": True} if locked else None)
                if locked is not None:
                    return self._page(429, message=_lockout_message(locked), username=username, next_url=next_url)
                return self._page(401, message=f"用户名或密码错误。连续输错 {s.login_max_failures} 次将锁定账户 "
                                  f"{s.lockout_minutes} 分钟。", username=username, next_url=next_url)
            if not user.active:
                audit(conn, username=username, action="login_disabled", ip=ip)
                return self._page(403, message="该账户已停用，请联系系统管理员。", username=username,
                                  next_url=next_url)
            record_login_success(conn, user_id=user.id)
            if needs_rehash(user.password_hash):
                set_password_hash(conn, username=user.username, password_hash=hash_password(password))
                user = get_user_by_id(conn, user_id=user.id) or user
            audit(conn, username=username, action="login_ok", ip=ip)
        session.clear()  # a fresh session on sign-in (no fixation)
        session.permanent = True
        login_user(Account(user))
        csrf_token()
        return redirect(next_url)

    def logout(self) -> Any:
        """POST with the CSRF token ends the session; GET only shows the login page."""
        if request.method == "POST" and current_user.is_authenticated:
            if not csrf_ok(request.form.get(CSRF_FIELD)):
                raise BadRequestError("页面已过期，请刷新后再退出登录。")
            with connect() as conn:
                audit(conn, username=current_user.username, action="logout", ip=client_ip())
            logout_user()
            session.clear()
        return redirect("/login")


def load_account(session_key: str) -> Account | None:
    """flask-login user loader: re-read the account every request; refuse stale or disabled sessions."""
    user_id, _, version = session_key.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    found = run_read(lambda conn: session_user(conn, user_id=int(user_id)))
    if found is None:
        return None
    user, data_version = found
    if not user.active or user.session_version != int(version):
        return None
    return Account(user, data_version)


def guard() -> Any:
    """Before every request: public paths pass, machine endpoints get 401, pages redirect to login."""
    path = request.path
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return None
    if current_user.is_authenticated:
        return None
    if wants_json(path) or request.method != "GET":
        return jsonify(error="登录已失效，请重新登录。"), 401
    query = urlencode({"next": request.full_path.rstrip("?")})
    return redirect(f"/login?{query}")


def handle_error(exc: Exception) -> Any:
    """Flask error handler: AppError/DB errors → Chinese JSON or HTML page; HTTP errors pass through."""
    if isinstance(exc, HTTPException):
        return exc
    error: AppError = to_app_error(exc)
    if wants_json(request.path):
        return jsonify(error=error.message), error.status
    return Response(error_page(error), status=error.status, mimetype="text/html")


class SignedSession(SecureCookieSession):
    """The session cookie's contents, and whether its signature is old enough to be renewed."""

    renew = True  # a new session; an opened one knows its signature's age


class SlidingSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session whose idle lifetime slides without re-signing on every request.

    ``SESSION_REFRESH_EACH_REQUEST`` re-signs and re-sends an unchanged cookie on every response (an
    HMAC, a JSON dump and a ``Set-Cookie`` header each time, ~0.15-0.3 ms). Here an unchanged cookie is
    renewed once its signature is :data:`RESIGN_AFTER` old: the idle lifetime still counts from the last
    request, give or take that minute. A changed session (sign-in, CSRF token) is always written at once.
    """

    session_class = SignedSession

    def open_session(self, app: Flask, request: Request) -> SignedSession | None:
        """Load and verify the cookie as Flask does, noting whether its signature is due for renewal."""
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return SignedSession()
        try:
            data, signed_at = serializer.loads(
                value, max_age=int(app.permanent_session_lifetime.total_seconds()), return_timestamp=True)
        except BadSignature:  # also expired
            return SignedSession()
        opened = SignedSession(data)
        signer = serializer.make_signer()
        assert isinstance(signer, TimestampSigner)  # a timed serializer's signer
        age = signer.get_timestamp() - signed_at.timestamp()  # the signer's own clock
        opened.renew = age >= RESIGN_AFTER.total_seconds()
        return opened

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        """Write a changed session; renew an unchanged permanent one when its signature is due."""
        if session.modified:
            return True
        return bool(session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]
                    and getattr(session, "renew", True))


def init_app(server: Flask, settings: DashboardSettings) -> None:
    """Configure cookies and sessions, flask-login, the login routes, the guard and error handlers."""
    server.config.update(
        SECRET_KEY=settings.resolve_secret_key(),
        SESSION_COOKIE_NAME="safegrid_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_lifetime_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.cookie_secure,
    )
    server.session_interface = SlidingSessionInterface()
    manager = LoginManager()
    manager.session_protection = "basic"
    manager.user_loader(load_account)
    manager.init_app(server)
    view = LoginView(settings)
    server.add_url_rule("/login", "login", view.login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", view.logout, methods=["GET", "POST"])
    server.before_request(guard)
    server.register_error_handler(Exception, handle_error)
