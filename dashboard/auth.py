"""Sign-in: flask-login sessions, the Chinese login page, CSRF, throttling and lockout, the request guard.

CSRF has two forms. Server-rendered forms (login, logout) post the session's token as a field. Dash
callbacks cannot: Dash's renderer reads the cookie ``_csrf_token`` and sends its value back in the
``X-CSRFToken`` header of every callback request (``dash.Dash(csrf_token_name=, csrf_header_name=)``,
the defaults). :func:`set_csrf_cookie` puts the session's token into that cookie (readable by the page's
script, ``SameSite=Lax``, ``Secure`` with secure cookies) and :func:`check_csrf_header` refuses a POST to a
path in :data:`CSRF_HEADER_PATHS` whose header does not match the session's token (double submit: a page
on another site can make the browser send the cookies, but cannot read them to set the header).
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from flask import Flask, Request, Response, current_app, jsonify, redirect, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_login import LoginManager, current_user, login_user, logout_user
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import Connection
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard import shared as shared_state
from dashboard import websec
from dashboard.errors import DASH_UPDATE_PATH, AppError, BadRequestError, HTTPStatusError, error_page, to_app_error
from dashboard.readdb import run_read
from dashboard.scope import Account, client_ip
from dashboard.settings import DashboardSettings
from dashboard.shared import KEY_PREFIX, shared
from geo.db import connect
from geo.users import (
    audit,
    close_session,
    get_user_by_id,
    get_user_by_name,
    hash_password,
    name_locked_until,
    needs_rehash,
    open_session,
    recent_failures_from_ip,
    record_login_failure,
    record_login_success,
    session_key_hash,
    session_user,
    set_password_hash,
    verify_password,
)

log = logging.getLogger(__name__)

CSRF_FIELD = "csrf_token"
CSRF_COOKIE = "_csrf_token"  # the cookie Dash's renderer reads (Dash's csrf_token_name default)
CSRF_HEADER = "X-CSRFToken"  # the header it sends the value back in (Dash's csrf_header_name default)
# POST paths that must carry the token in CSRF_HEADER: Dash callbacks; add a state-changing JSON route here.
CSRF_HEADER_PATHS: frozenset[str] = frozenset({DASH_UPDATE_PATH})
CSRF_REFUSED = "请求来源无效或页面已过期（缺少安全令牌），已拒绝。请刷新页面后重试。"
SESSION_ID_FIELD = "_sid"  # the random server-side session id (its SHA-256 is the user_sessions row)
MAX_NEXT_LENGTH = 2000
# What a post-login target may contain: a same-site path and query, RFC 3986 characters only (no
# backslash, whitespace or control characters that browsers strip or turn into "/").
_NEXT_RE = re.compile(r"^/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$")
RESIGN_AFTER = timedelta(seconds=60)  # an unchanged session cookie is re-signed at most this often
# Paths anyone may request; everything else needs a session.
# /report: the public report page (随手拍, dashboard/public_report.py), GET and its POST, no account.
PUBLIC_PATHS = frozenset({"/login", "/logout", "/healthz", "/_favicon.ico", "/favicon.ico", "/report"})
# /_dash-component-suites/: the installed component libraries' JS, no data: served without reading the account,
# so pages still load their code while the database hangs. /ogc/: authenticates itself (dashboard/ogc.py).
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/ogc/")
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


def check_csrf_header() -> Any:
    """Before a request (after the guard): refuse a POST to :data:`CSRF_HEADER_PATHS` without the session's token."""
    if request.method != "POST" or request.path not in CSRF_HEADER_PATHS or not current_user.is_authenticated:
        return None  # an unauthenticated POST got its 401 from the guard already
    if csrf_ok(request.headers.get(CSRF_HEADER)):
        return None
    log.warning("refused a POST to %s without a matching %s header", request.path, CSRF_HEADER)
    return jsonify(error=CSRF_REFUSED), 403


def set_csrf_cookie(response: Response) -> Response:
    """After a request: keep the ``_csrf_token`` cookie equal to a signed-in session's token.

    After sign-out the old value stays until the next sign-in replaces it: it fits no session any more.
    """
    if request.path.startswith(PUBLIC_PREFIXES):
        return response
    # flask-login's own session key: no account read here (the login form's token stays in the form alone)
    token = session.get(CSRF_FIELD) if session.get("_user_id") else None
    if token and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, str(token), httponly=False, samesite="Lax",
                            secure=_settings().cookie_secure, path="/")
    return response


def safe_next(target: str | None) -> str:
    r"""Return the post-login target: an allow-listed same-site relative path, else ``/`` (no open redirect).

    Allowed: ``/`` followed by RFC 3986 path and query characters, not ``//`` or ``/\`` (which
    browsers read as another host), no scheme or host however encoded, at most 2000 characters.
    Anything else (absolute URLs, tabs or newlines, NUL, non-ASCII, fragments) falls back to ``/``.
    """
    if not target or len(target) > MAX_NEXT_LENGTH or not _NEXT_RE.match(target):
        return "/"
    decoded = unquote(unquote(target))  # a proxy or the browser may decode once more
    parts = urlsplit(decoded)
    if (parts.scheme or parts.netloc or decoded.startswith(("//", "/\\")) or "\\" in decoded
            or websec.has_control_characters(decoded)):
        return "/"
    return target


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


def _ip_key(ip: str) -> str:
    return f"{KEY_PREFIX}login-ip:{ip}"


def ip_failures(conn: Connection, *, ip: str, minutes: int) -> int:
    """Failed logins from ``ip`` in the window: Redis's counter when configured and up, else the audit log's."""
    store = shared()
    if store is not None:
        counted = store.call(lambda r: int(r.get(_ip_key(ip)) or 0), None)
        if counted is not None:
            return counted
    return recent_failures_from_ip(conn, ip=ip, minutes=minutes)


def note_ip_failure(ip: str, *, minutes: int) -> None:
    """Count a failed login from ``ip`` in Redis (a window from its first failure); the audit row is written anyway."""
    store = shared()
    if store is not None:
        key = _ip_key(ip)

        def count(r: Any) -> None:
            pipe = r.pipeline()
            pipe.set(key, 0, ex=minutes * 60, nx=True)
            pipe.incr(key)
            pipe.execute()

        store.call(count, None)


class LoginView:
    """The /login and /logout handlers bound to the app settings."""

    def __init__(self, settings: DashboardSettings) -> None:
        self.settings = settings

    def _page(self, status: int, **kwargs: Any) -> Response:
        return Response(login_page(title=self.settings.app_title, **kwargs), status=status,
                        mimetype="text/html")

    def login(self) -> Any:
        """GET shows the form; POST checks CSRF, throttles, verifies the password and signs in."""
        next_url = safe_next(request.values.get("next"))
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
            recent = ip_failures(conn, ip=ip, minutes=s.login_ip_window_minutes) if ip else 0
            if recent >= s.login_ip_max_failures:
                audit(conn, username=username or None, action="login_throttled", ip=ip)
                return self._page(429, message=f"登录尝试过于频繁，请 {s.login_ip_window_minutes} 分钟后再试。",
                                  username=username, next_url=next_url)
            user = get_user_by_name(conn, username=username) if username else None
            # A name without an account locks exactly like an account would (replayed from the audit
            # log), so neither the lockout nor its absence tells which usernames exist.
            locked_until = user.locked_until if user is not None and user.is_locked else (
                None if user is not None else name_locked_until(
                    conn, username=username, max_failures=s.login_max_failures, lockout_minutes=s.lockout_minutes))
            if locked_until is not None:
                audit(conn, username=username or None, action="login_locked", ip=ip)
                return self._page(429, message=_lockout_message(locked_until), username=username,
                                  next_url=next_url)
            if not verify_password(user.password_hash if user else None, password) or user is None:
                if user is not None:
                    locked = record_login_failure(conn, user_id=user.id, max_failures=s.login_max_failures,
                                                  lockout_minutes=s.lockout_minutes)
                else:
                    locked = name_locked_until(conn, username=username, max_failures=s.login_max_failures,
                                               lockout_minutes=s.lockout_minutes, failing_now=True)
                audit(conn, username=username or None, action="login_failed", ip=ip,
                      detail={"locked": True} if locked else None)
                if ip:
                    note_ip_failure(ip, minutes=s.login_ip_window_minutes)
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
            session_id = secrets.token_urlsafe(32)
            open_session(conn, user_id=user.id, session_hash=session_key_hash(session_id), ip=ip,
                         max_minutes=s.session_absolute_minutes)
        session.clear()  # a fresh session on sign-in (no fixation)
        session.permanent = True
        session[SESSION_ID_FIELD] = session_id
        login_user(Account(user))
        csrf_token()
        return redirect(next_url)

    def logout(self) -> Any:
        """POST with the CSRF token ends the session; GET only shows the login page."""
        if request.method == "POST" and current_user.is_authenticated:
            if not csrf_ok(request.form.get(CSRF_FIELD)):
                raise BadRequestError("页面已过期，请刷新后再退出登录。")
            with connect() as conn:
                close_session(conn, session_hash=session_key_hash(str(session.get(SESSION_ID_FIELD, ""))))
                audit(conn, username=current_user.username, action="logout", ip=client_ip())
            logout_user()
            session.clear()
        return redirect("/login")


def load_account(session_key: str) -> Account | None:
    """flask-login user loader: re-read the account every request; refuse ended, stale or disabled sessions.

    The same one-statement read also requires the server-side session row (``user_sessions``) of the
    cookie's random id, so a session ended by logout or an account change is refused on every instance.
    """
    user_id, _, version = session_key.partition(":")
    session_id = session.get(SESSION_ID_FIELD)
    if not user_id.isdigit() or not version.isdigit() or not isinstance(session_id, str) or not session_id:
        return None
    key = session_key_hash(session_id)
    max_minutes = _settings().session_absolute_minutes
    found = run_read(lambda conn: session_user(conn, user_id=int(user_id), session_hash=key, max_minutes=max_minutes),
                     primary=True)  # never a replica: a logout must be honoured at once on every instance
    if found is None:
        return None
    user, data_version, table_versions = found
    if not user.active or user.session_version != int(version):
        return None
    return Account(user, data_version, table_versions)


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


def _settings() -> DashboardSettings:
    settings: DashboardSettings = current_app.extensions["safegrid_settings"]
    return settings


def http_error(exc: HTTPException) -> AppError | None:
    """Return the Chinese refusal for a werkzeug HTTP error (bad body, too large, wrong method); None for redirects."""
    if exc.code is None or exc.code < 400:
        return None
    if exc.code == 413:
        limit = (request.max_content_length or _settings().max_request_bytes) / 1024 / 1024  # per-route limits
        return HTTPStatusError(413, f"请求内容过大（上限 {limit:g} MB），已拒绝。")
    return HTTPStatusError(exc.code)


def handle_error(exc: Exception) -> Any:
    """Flask error handler: every error → Chinese JSON (machine endpoints) or HTML page, never a stack trace.

    HTTP errors (400 malformed, 404, 405, 413 too large, 415) keep their status with a Chinese message;
    anything else that escapes the Dash callback endpoint comes from Dash reading a malformed body
    (callbacks' own errors go to ``on_error``): 400.
    """
    if isinstance(exc, HTTPException):
        error: AppError | None = http_error(exc)
        if error is None:
            return exc
    elif request.path == DASH_UPDATE_PATH and not isinstance(exc, AppError) and not _is_database_error(exc):
        log.warning("malformed callback request refused: %s", type(exc).__name__)
        error = BadRequestError("请求格式有误，请刷新页面后重试。")
    else:
        error = to_app_error(exc)
    if wants_json(request.path) or request.is_json:
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


def _is_database_error(exc: Exception) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, SQLAlchemyError)


def init_app(server: Flask, settings: DashboardSettings) -> None:
    """Configure cookies and sessions, flask-login, the login routes, the guard, request checks and error handlers."""
    server.extensions["safegrid_settings"] = settings
    shared_state.init_app(server, settings)  # Redis when configured: login throttle here, response cache
    if settings.trusted_proxy_hops > 0:  # behind nginx: the client's address for the IP throttle and the audit log
        hops = settings.trusted_proxy_hops
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    websec.init_app(server, settings)  # request id first, security headers on every response
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
    server.before_request(check_csrf_header)  # after the guard: 401 first; before the body checks
    server.after_request(set_csrf_cookie)
    server.before_request(websec.check_request)  # after the guard: unauthenticated requests get 401 first
    server.register_error_handler(Exception, handle_error)
