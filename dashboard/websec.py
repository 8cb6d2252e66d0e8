"""Web hardening in one place: security headers and the CSP, request ids and structured logs, malformed requests.

* :func:`init_app` (called by :func:`dashboard.auth.init_app`): the body size limit, a request id per
  request (``X-Request-ID``, also in every log line), the security headers on every response.
* :func:`check_request` (a ``before_request`` after the sign-in guard): no NUL or other control
  characters in the path, query or form; the Dash callback endpoint only takes a body shaped as the
  renderer sends it, for a callback that exists, with the declared inputs and states.
* :func:`init_dash` (called by :func:`dashboard.app.create_app` once every callback is registered): the
  CSP's script hashes of Dash's inline scripts, and the callback map the body check compares against.
* :class:`JsonLogFormatter` and :class:`RequestContextFilter`: one JSON object per log line with time,
  level, logger, request id and user, and never SQL parameters (used by ``safegrid/gunicorn_conf.py``).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, g, has_request_context, request

from dashboard.errors import DASH_UPDATE_PATH, BadRequestError, hide_sql_parameters
from dashboard.settings import DashboardSettings

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# C0 control characters other than tab, line feed and carriage return, and DEL: no form or URL needs them.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_JSON_DEPTH = 32  # the renderer's deepest body (pattern-matching ids, AG Grid requests) is under 10
_MALFORMED = "请求格式有误，请刷新页面后重试。"
_EXTENSION = "safegrid_websec"


@dataclass
class WebSecurity:
    """Per-app state: the CSP header value and the Dash callbacks the body check knows."""

    settings: DashboardSettings
    csp: str
    callbacks: dict[str, Any] = field(default_factory=dict)
    body_limits: dict[str, int] = field(default_factory=dict)  # path → larger body limit (upload routes)


def content_security_policy(script_hashes: Iterable[str] = (), img_sources: Iterable[str] = ()) -> str:
    """Return the CSP: scripts only from this site (or the hashed inline ones), never framed.

    ``style-src 'unsafe-inline'``: Plotly, dash-leaflet and AG Grid insert ``<style>`` elements at run
    time; style injection cannot run script, so this is the usual trade-off.
    """
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *img_sources],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(dict.fromkeys(values))}" for name, values in directives.items())


def tile_sources(urls: Iterable[str]) -> list[str]:
    """CSP sources of basemap tile URL templates: ``https://t{s}.tianditu.gov.cn/…`` → ``https://*.tianditu.gov.cn``."""
    sources = []
    for url in urls:
        parts = urlsplit(url.replace("{s}", "x"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            continue
        host = parts.netloc
        if "{s}" in urlsplit(url).netloc:
            host = "*." + host.split(".", 1)[1]
        sources.append(f"{parts.scheme}://{host}")
    return sources


def _state() -> WebSecurity:
    from flask import current_app

    state: WebSecurity = current_app.extensions[_EXTENSION]
    return state


def start_request() -> None:
    """First ``before_request``: a request id (the proxy's, when well-formed) for the response and the logs."""
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = sent if _REQUEST_ID_RE.match(sent) else secrets.token_hex(8)
    limit = _state().body_limits.get(request.path)
    if limit is not None:  # before anything reads the body
        request.max_content_length = limit


def allow_body(server: Flask, path: str, limit: int) -> None:
    """Let requests to exactly ``path`` carry bodies up to ``limit`` bytes (an upload route; others keep 2 MiB)."""
    server.extensions[_EXTENSION].body_limits[path] = limit


def security_headers(response: Response) -> Response:
    """``after_request``: CSP, framing, sniffing, referrer and caching headers; no framework banner."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", _state().csp)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # Tile servers (天地图 keys are bound to the site) get the origin only, never a path with a credit code.
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    # The app itself asks for the position (search around me, reports in the field) and the camera (photos).
    headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=(self), payment=(), usb=()")
    if _state().settings.cookie_secure:  # served over HTTPS
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    versioned = (request.path.startswith("/assets/") and request.args.get("m")) \
        or (request.path.endswith("/_favicon.ico") and request.args.get("v"))
    if versioned and response.status_code == 200:
        # Dash names each asset with its file's modification time (?m=…) and its favicon with its own version
        # (?v=…): a changed file gets a new URL, so the browser may keep this one and need not ask again on
        # every page load (~20 conditional requests that held the page's scripts back ~200 ms on each sign-in;
        # Chromium fetched the 4.9 kB favicon again on every step of the command map's history).
        headers["Cache-Control"] = "public, max-age=31536000, immutable"
    if "Cache-Control" not in headers and (response.mimetype == "text/html" or request.path.startswith(
            ("/api/", "/_dash-layout", DASH_UPDATE_PATH, "/login"))):
        headers["Cache-Control"] = "no-store"  # pages and data of a signed-in user stay out of shared caches
    headers.pop("Server", None)
    if has_request_context() and "request_id" in g:
        headers[REQUEST_ID_HEADER] = g.request_id
    return response


def has_control_characters(value: str) -> bool:
    """Tell whether ``value`` holds NUL or another control character (tab, CR and LF excepted)."""
    return bool(_CONTROL_RE.search(value))


def _refuse_controls(values: Iterable[str]) -> None:
    for value in values:
        if _CONTROL_RE.search(value):
            raise BadRequestError("请求中含有无效的控制字符。")


def check_request() -> None:
    """``before_request`` after the sign-in guard: refuse control characters and malformed callback bodies (400)."""
    _refuse_controls([request.path])
    _refuse_controls(k for pair in request.args.items(multi=True) for k in pair)
    if request.method == "POST" and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _refuse_controls(k for pair in request.form.items(multi=True) for k in pair)
    if request.path == DASH_UPDATE_PATH and request.method == "POST":
        check_callback_body(_read_json(), _state().callbacks)


def _read_json() -> Any:
    """Return the JSON body (cached by Flask for Dash); 400 for bad JSON, 415 for another type, 400 if too deep."""
    try:
        return request.get_json()
    except RecursionError as exc:  # nested deeper than the parser's recursion limit
        raise BadRequestError(_MALFORMED) from exc


def _is_dependency(item: Any) -> bool:
    return (isinstance(item, dict) and isinstance(item.get("property"), str)
            and isinstance(item.get("id"), str | dict))


def _check_dependencies(items: Any, spec: list[dict[str, Any]], what: str) -> None:
    """``items`` must be the renderer's list for the declared dependencies ``spec``, one by one."""
    if not isinstance(items, list) or len(items) != len(spec):
        raise BadRequestError(f"{_MALFORMED}（{what}）")
    for item, declared in zip(items, spec, strict=True):
        declared_id = str(declared.get("id", ""))
        if declared_id.startswith("{"):  # pattern-matching: a dict (MATCH) or a list of dicts (ALL, ALLSMALLER)
            ok = _is_dependency(item) or (isinstance(item, list) and all(_is_dependency(i) for i in item))
        else:
            ok = (_is_dependency(item) and item["id"] == declared_id
                  and item["property"] == declared.get("property"))
        if not ok:
            raise BadRequestError(f"{_MALFORMED}（{what}）")


def _check_outputs(outputs: Any) -> None:
    stack = [outputs]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif not _is_dependency(node):
            raise BadRequestError(f"{_MALFORMED}（outputs）")


def _check_values(body: Any) -> None:
    """No value deeper than :data:`MAX_JSON_DEPTH` and no control characters in any string or key."""
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequestError(f"{_MALFORMED}（嵌套过深）")
        if isinstance(node, str):
            _refuse_controls([node])
        elif isinstance(node, dict):
            _refuse_controls(node)
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def check_callback_body(body: Any, callbacks: dict[str, Any]) -> None:
    """Refuse (400) a ``/_dash-update-component`` body the Dash renderer would not send."""
    if not isinstance(body, dict):
        raise BadRequestError(f"{_MALFORMED}（应为 JSON 对象）")
    _check_values(body)
    output = body.get("output")
    callback = callbacks.get(output) if isinstance(output, str) else None
    if callback is None:
        raise BadRequestError(f"{_MALFORMED}（未知的回调输出）")
    if "outputs" not in body:
        raise BadRequestError(f"{_MALFORMED}（outputs）")
    _check_outputs(body["outputs"])
    _check_dependencies(body.get("inputs"), callback["inputs"], "inputs")
    _check_dependencies(body.get("state", []), callback["state"], "state")
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise BadRequestError(f"{_MALFORMED}（changedPropIds）")


def init_app(server: Flask, settings: DashboardSettings) -> None:
    """Body limit, request id and security headers (call before the sign-in guard is registered)."""
    server.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    server.extensions[_EXTENSION] = WebSecurity(settings, content_security_policy())
    server.before_request(start_request)
    server.after_request(security_headers)


def init_dash(app: Any, img_sources: Iterable[str] = ()) -> None:
    """Complete the CSP with the hashes of Dash's inline scripts and hand the callback map to the body check.

    Call after every callback is registered and Dash's setup ran (``app.callback_map`` is complete).
    """
    state: WebSecurity = app.server.extensions[_EXTENSION]
    state.csp = content_security_policy(app.csp_hashes(), img_sources)
    state.callbacks = app.callback_map


class RequestContextFilter(logging.Filter):
    """Add ``request_id`` and ``user`` (the account already loaded for this request, never a new query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate ``record``; never drops it."""
        request_id, user = "-", "-"
        if has_request_context():
            request_id = g.get("request_id", "-")
            loaded = g.get("_login_user")  # set by flask-login once the loader ran
            user = getattr(loaded, "username", None) or "-"
        record.request_id = request_id
        record.user = user
        return True


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, request id, user, message, exception.

    SQLAlchemy statement errors are rendered with their parameters hidden (users' search text stays out).
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as one line of JSON."""
        if record.exc_info and record.exc_info[1] is not None:
            hide_sql_parameters(record.exc_info[1])
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "user": getattr(record, "user", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
