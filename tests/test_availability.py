"""Availability: a database that hangs, is down or is misconfigured (docs/security.md "Availability: timeouts").

Nothing is mocked. A hanging database is the test database behind :class:`HangingProxy`, a TCP relay
that, once told to hang, keeps every connection open and accepts new ones but forwards nothing: to
the app this is a server that stops answering while its host still acknowledges the packets (as a
SIGSTOPped postmaster does), the case no libpq timeout covers. The app runs under gunicorn.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
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
from sqlalchemy import Engine, create_engine, make_url

from dashboard.errors import DatabaseMisconfiguredError, DatabaseUnavailableError, to_app_error
from geo.db import Health, probe
from geo.settings import get_settings
from tests.browser import http_login, login, make_user
from tests.demo_server import gunicorn_app

ROOT = Path(__file__).resolve().parent.parent
TIMINGS: dict[str, float] = {}  # printed with -s; the numbers in docs/security.md


class HangingProxy:
    """Relay 127.0.0.1:port to the test database's server; :meth:`hang` stops forwarding, :meth:`resume` goes on."""

    def __init__(self, upstream_family: int, upstream_address: Any) -> None:
        self.family, self.address = upstream_family, upstream_address
        self.forwarding = threading.Event()
        self.forwarding.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def hang(self) -> None:
        """Stop answering: connections stay open, new ones are accepted, nothing is forwarded."""
        self.forwarding.clear()

    def resume(self) -> None:
        """Forward again what waited, and everything after."""
        self.forwarding.set()

    def close(self) -> None:
        """Close the listener and every relayed connection."""
        self.forwarding.set()
        for s in [self.listener, *self.sockets]:
            s.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        self.forwarding.wait()
        upstream = socket.socket(self.family, socket.SOCK_STREAM)
        self.sockets.append(upstream)
        try:
            upstream.connect(self.address)
        except OSError:
            client.close()
            return
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                self.forwarding.wait()
                if not select.select([src], [], [], 0.1)[0]:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                self.forwarding.wait()
                dst.sendall(data)
        except (OSError, ValueError):  # closed under us (close(), or the other direction ended)
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def _upstream(url: str) -> tuple[int, Any]:
    """Address of the server of ``url``: a unix socket file or (host, port)."""
    u = make_url(url)
    host = u.host or str(u.query.get("host", ""))
    port = u.port or 5432
    if host.startswith("/"):
        return socket.AF_UNIX, os.path.join(host, f".s.PGSQL.{port}")
    return socket.AF_INET, (host, port)


@pytest.fixture
def proxy(db_url: str) -> Iterator[HangingProxy]:
    """A :class:`HangingProxy` in front of the test database's server."""
    p = HangingProxy(*_upstream(db_url))
    try:
        yield p
    finally:
        p.close()


def _via(proxy: HangingProxy, db_url: str) -> str:
    u = make_url(db_url)
    return u.set(host="127.0.0.1", port=proxy.port, query={}).render_as_string(hide_password=False)


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - started


def test_hanging_database_fails_fast_and_recovers(proxy: HangingProxy, db_url: str, engine: Engine,
                                                  unit_tree: dict[str, str]) -> None:
    user, password = make_user(engine, role="leader", scope="411000")
    with gunicorn_app(_via(proxy, db_url)) as base:
        s = http_login(base, user, password)
        assert s.get(f"{base}/api/units/411002", timeout=10).status_code == 200  # pools warm
        assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
        suite = re.search(r'src="(/_dash-component-suites/[^"]+)"', s.get(f"{base}/", timeout=10).text)
        assert suite, "the page names its component bundles"

        proxy.hang()
        hung_at = time.monotonic()
        r, took = _timed(requests.get, f"{base}/login", timeout=5)  # no session: the form
        assert r.status_code == 200 and "csrf_token" in r.text and took < 1, took
        r, took = _timed(s.get, f"{base}/login", timeout=5)  # signed in: still the form, no account read
        assert r.status_code == 200 and "csrf_token" in r.text and took < 1, took
        TIMINGS["login page"] = took
        r, took = _timed(s.get, f"{base}/assets/base.css", timeout=5)
        assert r.status_code == 200 and took < 1, took
        TIMINGS["static file"] = took
        r, took = _timed(s.get, f"{base}{suite.group(1)}", timeout=5)  # a page's component code, signed in
        assert r.status_code == 200 and took < 1, took

        r, took = _timed(s.get, f"{base}/api/units/411002", timeout=30)  # a pooled connection waits: detected
        assert r.status_code == 503 and r.json()["error"] == DatabaseUnavailableError.message, r.text
        assert took < 5, took
        TIMINGS["first data request after the hang"] = took
        r, took = _timed(s.get, f"{base}/api/units/411002", timeout=30)  # known to hang: at once
        assert r.status_code == 503 and r.json()["error"] == DatabaseUnavailableError.message
        assert took < 1, took
        TIMINGS["later data requests"] = took
        r, took = _timed(requests.get, f"{base}/healthz", timeout=30)
        assert r.status_code == 503 and r.json() == {"status": "error", "database": "unavailable"}
        assert took < 3, took
        TIMINGS["/healthz"] = took
        TIMINGS["hang to all of the above"] = time.monotonic() - hung_at

        proxy.resume()
        resumed = time.monotonic()
        while s.get(f"{base}/api/units/411002", timeout=30).status_code != 200:
            assert time.monotonic() - resumed < 10, "no recovery"
            time.sleep(0.05)
        TIMINGS["recovery (resume to first 200)"] = time.monotonic() - resumed
        assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
    print("\navailability timings (s):", {k: round(v, 3) for k, v in TIMINGS.items()})


def test_probe_of_a_hanging_server_gives_up_in_time(proxy: HangingProxy, db_url: str) -> None:
    dsn = f"host=127.0.0.1 port={proxy.port} dbname={make_url(db_url).database} user={make_url(db_url).username}"
    assert probe(dsn, 2).ok
    proxy.hang()
    health, took = _timed(probe, dsn, 1.0)
    assert health == Health("hung", health.detail, health.seconds) and not health.misconfigured
    assert 0.9 < took < 1.5, took


def _status(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "safegrid", "db", "status"], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **env}, timeout=60, check=False)


def test_cli_status_tells_misconfiguration_from_outage(proxy: HangingProxy, db_url: str) -> None:
    u = make_url(_via(proxy, db_url))
    ok = _status(SAFEGRID_DATABASE_URL=str(u.render_as_string(hide_password=False)))
    assert ok.returncode == 0 and "migration:" in ok.stdout, ok.stderr
    missing = _status(SAFEGRID_DATABASE_URL=u.set(database="no_such_db_avail").render_as_string(False))
    assert missing.returncode == 3 and "数据库配置错误：数据库不存在" in missing.stderr, missing.stderr
    role = _status(SAFEGRID_DATABASE_URL=u.set(username="no_such_role_avail").render_as_string(False))
    assert role.returncode == 3 and "数据库配置错误：认证失败" in role.stderr, role.stderr
    host = _status(SAFEGRID_DATABASE_URL=u.set(host="no-such-host.invalid").render_as_string(False))
    assert host.returncode == 3 and "数据库主机名无法解析" in host.stderr, host.stderr
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        refused = _status(SAFEGRID_DATABASE_URL=u.set(port=closed.getsockname()[1]).render_as_string(False))
    assert refused.returncode == 1 and "数据库不可用" in refused.stderr, refused.stderr
    proxy.hang()
    hung, took = _timed(_status, SAFEGRID_DATABASE_URL=str(u.render_as_string(hide_password=False)))
    assert hung.returncode == 1 and "数据库无响应" in hung.stderr, hung.stderr
    assert took < 10, took  # the 2 s probe plus the interpreter's start


def test_users_read_misconfiguration_and_outage_differently(db_url: str) -> None:
    settings = get_settings()
    for url, expected in ((settings.url("no_such_db_avail"), DatabaseMisconfiguredError),
                          (make_url(db_url).set(host="127.0.0.1", port=1, query={}), DatabaseUnavailableError)):
        with pytest.raises(Exception) as caught:
            create_engine(url).connect()
        assert type(to_app_error(caught.value)) is expected
    assert DatabaseMisconfiguredError.message != DatabaseUnavailableError.message


def test_app_start_says_the_database_is_misconfigured(db_url: str) -> None:
    bad = make_url(db_url).set(database="no_such_db_avail").render_as_string(hide_password=False)
    script = ("from dashboard.app import create_app\nfrom tests.browser import app_settings\n"
              "c = create_app(app_settings()).server.test_client()\n"
              "print(c.get('/healthz').get_json())\n"
              "import re\ntoken = re.search('name=\"csrf_token\" value=\"([^\"]+)', c.get('/login').text)[1]\n"
              "r = c.post('/login', data={'username': 'u', 'password': 'p', 'csrf_token': token})\n"
              "print(r.status_code, r.text)\n")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60,
                         env={**os.environ, "SAFEGRID_DATABASE_URL": bad}, check=False)
    assert res.returncode == 0, res.stderr
    assert "启动检查：数据库配置错误：数据库不存在" in res.stderr
    assert "{'database': 'misconfigured', 'status': 'error'}" in res.stdout
    assert "503" in res.stdout and DatabaseMisconfiguredError.message in res.stdout  # signing in says so too


def test_banner_shows_while_callbacks_fail_and_clears(live_server: str, browser_page: Any, engine: Engine) -> None:
    page = browser_page
    user, password = make_user(engine, role="admin", scope="411000")
    login(page, live_server, user, password)
    outage = DatabaseUnavailableError.message

    def fail(route: Any) -> None:
        route.fulfill(status=503, content_type="application/json", body=json.dumps({"error": outage}))

    page.route("**/_dash-update-component*", fail)
    page.click("#shell-nav-hazards")
    banner = page.locator("#sg-net-alert")
    banner.wait_for(state="visible", timeout=10_000)
    assert banner.inner_text() == outage
    page.unroute("**/_dash-update-component*", fail)
    page.click("#shell-nav-admin-users")
    page.wait_for_selector("#admin-users-table")
    banner.wait_for(state="hidden", timeout=10_000)

    page.route("**/_dash-update-component*", lambda route: route.abort("connectionrefused"))
    page.click("#shell-nav-hazards")
    banner.wait_for(state="visible", timeout=10_000)
    assert "无法连接服务器" in banner.inner_text()
    page.unroute("**/_dash-update-component*")
    page.click("#shell-nav-admin-users")
    banner.wait_for(state="hidden", timeout=10_000)
    # the renderer logs the failed callbacks to the console; nothing may throw
    assert [e for e in page.console_errors if e.startswith("pageerror")] == []
