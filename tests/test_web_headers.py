"""Security headers: CSP (Dash's inline scripts hashed, nothing else inline), no framing (headers and a real
cross-origin frame in Chromium), nosniff, Referrer-Policy, no Server banner under gunicorn, JSON logs."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine

from dashboard.websec import content_security_policy, tile_sources
from tests.browser import TEST_SECRET, http_login, login, make_user

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parent.parent
_INLINE_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S)


def _assert_hardened(r: requests.Response) -> None:
    h = r.headers
    csp = h["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert "'unsafe-eval'" not in csp and "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert h["X-Frame-Options"] == "DENY"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert h["Cross-Origin-Opener-Policy"] == "same-origin"
    assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", h["X-Request-ID"])


def test_headers_on_every_kind_of_response(live_server: str, engine: Engine) -> None:
    user, password = make_user(engine, role="admin", scope="411000")
    s = http_login(live_server, user, password)
    anon = requests.Session()
    responses = {
        "login": anon.get(f"{live_server}/login", timeout=10),
        "redirect": anon.get(f"{live_server}/risk", allow_redirects=False, timeout=10),
        "401": anon.get(f"{live_server}/api/me", timeout=10),
        "page": s.get(f"{live_server}/", timeout=10),
        "api": s.get(f"{live_server}/api/me", timeout=10),
        "layout": s.get(f"{live_server}/_dash-layout", timeout=10),
        "asset": s.get(f"{live_server}/assets/base.css", timeout=10),
        "400": s.post(f"{live_server}/_dash-update-component", json=[], timeout=10),
        "403": s.get(f"{live_server}/api/units/411099", timeout=10),
        "healthz": anon.get(f"{live_server}/healthz", timeout=10),
    }
    for name, r in responses.items():
        _assert_hardened(r)
        assert r.status_code < 500, name
    for name in ("login", "page", "api", "layout", "400"):
        assert responses[name].headers["Cache-Control"] == "no-store", name
    assert "Strict-Transport-Security" not in responses["page"].headers  # plain HTTP in dev
    # An asset named with its modification time (as Dash links it) is kept by the browser; without it, asked again.
    assert "max-age" not in responses["asset"].headers.get("Cache-Control", "")
    named = s.get(f"{live_server}/assets/base.css?m=123", timeout=10)
    assert named.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # So is Dash's favicon, named with Dash's version (the page links it as /_favicon.ico?v=…).
    favicon = re.search(r'href="(/_favicon\.ico\?v=[^"]+)"', responses["page"].text)
    assert favicon, "the page links Dash's favicon by version"
    assert s.get(f"{live_server}{favicon[1]}", timeout=10).headers["Cache-Control"] == \
        "public, max-age=31536000, immutable"
    assert "max-age" not in s.get(f"{live_server}/_favicon.ico", timeout=10).headers.get("Cache-Control", "")
    # The map page has its lazily loaded component code fetched with it, and each preloaded file exists; every
    # other page the code of its HTML blocks (the header menu), the API nothing.
    links = re.findall(r"<([^>]+)>; rel=preload; as=script", responses["page"].headers["Link"])
    assert len(links) == 3 and all(s.get(f"{live_server}{u}", timeout=10).status_code == 200 for u in links)
    elsewhere = re.findall(r"<([^>]+)>; rel=preload; as=script", s.get(f"{live_server}/hazards", timeout=10)
                           .headers["Link"])
    assert len(elsewhere) == 2 and set(elsewhere) < set(links) and not any("GeoJSON" in u for u in elsewhere)
    assert "Link" not in responses["api"].headers and "Link" not in responses["login"].headers
    # A request id sent by the proxy is kept when well-formed, replaced otherwise.
    assert anon.get(f"{live_server}/login", headers={"X-Request-ID": "proxy-1234abcd"},
                    timeout=10).headers["X-Request-ID"] == "proxy-1234abcd"
    assert anon.get(f"{live_server}/login", headers={"X-Request-ID": "bad id <script>"},
                    timeout=10).headers["X-Request-ID"] != "bad id"


def test_csp_hashes_cover_exactly_the_inline_scripts(live_server: str, engine: Engine) -> None:
    """Every executable inline script of the Dash index page is allowed by its hash; the JSON config is data."""
    user, password = make_user(engine, role="planner", scope="411000")
    r = http_login(live_server, user, password).get(f"{live_server}/risk", timeout=10)
    script_src = r.headers["Content-Security-Policy"].split("script-src ")[1].split(";")[0].split()
    html = re.sub(r"<!--.*?-->", "", r.text, flags=re.S)  # Dash's IE conditional comment never runs
    inline = [m for m in _INLINE_SCRIPT.finditer(html) if "src=" not in m["attrs"]]
    executable = [m["body"] for m in inline if "application/json" not in m["attrs"]]
    assert executable and any("DashRenderer" in body for body in executable)
    for body in executable:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src, body[:80]


def test_policy_builder() -> None:
    csp = content_security_policy(["'sha256-abc'"], tile_sources([
        "https://t{s}.tianditu.gov.cn/vec_w/wmts?tk=k", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "http://gis.local:8080/tiles/{z}/{x}/{y}.png", "not a url"]))
    assert "script-src 'self' 'sha256-abc';" in csp
    assert "img-src 'self' data: blob: https://*.tianditu.gov.cn https://tile.openstreetmap.org " \
           "http://gis.local:8080;" in csp


@pytest.fixture
def other_origin() -> Iterator[tuple[str, list[str]]]:
    """A page on another origin (another port) that frames whatever URL it is asked for: ``/?src=…``."""
    hits: list[str] = []

    class Framer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            src = self.path.split("src=", 1)[1] if "src=" in self.path else ""
            body = f'<!doctype html><title>evil</title><iframe id="victim" src="{src}" width="800" height="600">' \
                   f'</iframe>'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Framer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_port}", hits
    finally:
        server.shutdown()


@pytest.mark.browser
def test_cross_site_frame_is_refused_in_chromium(
    live_server: str, browser_page: Any, engine: Engine, other_origin: tuple[str, list[str]]
) -> None:
    """A signed-in user visits another site that frames the app (clickjacking): Chromium shows nothing of it."""
    user, password = make_user(engine, role="admin", scope="411000")
    page = browser_page
    login(page, live_server, user, password)
    evil, _ = other_origin
    refused: list[str] = []
    page.on("console", lambda msg: refused.append(msg.text) if "frame-ancestors" in msg.text else None)
    for target in ("/", "/login", "/risk"):
        page.goto(f"{evil}/?src={live_server}{target}")
        page.wait_for_selector("#victim")
        page.wait_for_timeout(500)
        frame = page.frame_locator("#victim")
        assert frame.locator("#shell-user").count() == 0 and frame.locator("#username").count() == 0, target
        victim = next(f for f in page.frames if f != page.main_frame)
        assert not victim.url.startswith(live_server) or victim.content().count("sg-") == 0, target
    assert refused, "Chromium did not report the frame-ancestors refusal"
    page.console_errors.clear()  # the refusals above are the expected console errors
    # The same app opened directly works (the policy does not break it): no CSP violation on the main pages.
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    for path, ready in (("/", "#shell-user"), ("/risk", "#shell-user"), ("/hazards", "#shell-user"),
                        ("/bigscreen", "#bs-kpis")):
        page.goto(f"{live_server}{path}")
        page.wait_for_selector(ready)
        page.wait_for_timeout(1500)
    assert not violations, violations[:5]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gunicorn_has_no_banner_and_writes_json_logs(engine: Engine, unit_tree: dict[str, str]) -> None:
    """``safegrid serve``'s gunicorn settings: no Server header; JSON log lines with time, level, request id,
    user; no SQL parameters (a failing statement with a user's search text) and no query strings."""
    port = _free_port()
    user, password = make_user(engine, role="inspector", scope="411002")
    env = dict(os.environ, SAFEGRID_SECRET_KEY=TEST_SECRET, PYTHONPATH=str(ROOT), SAFEGRID_ENV="prod")
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2",
            "--worker-class", "gthread", "--config", "python:safegrid.gunicorn_conf", "--no-control-socket",
            "dashboard.app:server"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still starting
                time.sleep(0.1)
        r = requests.get(f"{base}/login", timeout=10)
        assert r.status_code == 200 and "Server" not in r.headers
        _assert_hardened(r)
        s = http_login(base, user, password)
        secret_text = "秘密搜索词-" + "z" * 8
        assert s.get(f"{base}/api/search", params={"q": secret_text}, timeout=10).status_code == 200
        # A forged value in a callback is logged (WARNING, with the user and the request id) and refused.
        deps = s.get(f"{base}/_dash-dependencies", timeout=10).json()
        rows = next(d for d in deps if "haz-grid.getRowsResponse" in d["output"])
        body = {"output": rows["output"], "outputs": [{"id": o.rpartition(".")[0], "property": o.rpartition(".")[2]}
                                                      for o in rows["output"][2:-2].split("...")],
                "inputs": [{**i, "value": {"startRow": "x"}} for i in rows["inputs"]],
                "state": [{**st, "value": {}} for st in rows["state"]], "changedPropIds": []}
        refused = s.post(f"{base}/_dash-update-component", json=body, timeout=10)
        assert refused.status_code == 200 and "请求参数有误" in json.dumps(refused.json(), ensure_ascii=False)
        refused_id = refused.headers["X-Request-ID"]
        request_id = s.get(f"{base}/api/me", timeout=10).headers["X-Request-ID"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "request_id", "user", "message"} <= set(e) for e in lines)
    assert not [line for line in err.splitlines() if line.strip() and not line.startswith("{")]
    access = [e for e in lines if e["logger"] == "gunicorn.access"]
    assert any(f"rid={request_id}" in e["message"] and "/api/me" in e["message"] for e in access)
    assert secret_text not in err and "zzzzzzzz" not in err  # no query string in the access log
    warning = next(e for e in lines if e["request_id"] == refused_id and e["logger"] != "gunicorn.access")
    assert warning["level"] == "WARNING" and warning["user"] == user and "exception" in warning


def test_log_lines_hide_sql_parameters() -> None:
    """A failing statement logged with its traceback names the statement, never the bound values."""
    import io
    import logging

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import StatementError

    from dashboard.errors import to_app_error
    from dashboard.websec import JsonLogFormatter, RequestContextFilter
    from geo.settings import get_settings

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(RequestContextFilter())
    errors_log = logging.getLogger("dashboard.errors")
    errors_log.addHandler(handler)
    try:
        with create_engine(get_settings().url()).connect() as conn:
            try:
                conn.execute(text("SELECT CAST(:q AS integer)"), {"q": "用户的搜索词-secret"})
            except StatementError as exc:
                error = to_app_error(exc)
    finally:
        errors_log.removeHandler(handler)
    assert error.status == 400  # invalid input syntax: the value's fault, not a 500
    entry = json.loads(stream.getvalue().splitlines()[0])
    assert entry["level"] == "WARNING" and entry["request_id"] == "-"
    assert "用户的搜索词" not in stream.getvalue() and "secret" not in stream.getvalue()
