"""Reusable fixtures for tests of the web app: a live server on the test DB, headless Chromium, logins.

Fixtures (imported into ``tests/conftest.py``, so every test module can request them):

* ``live_server`` (session) — base URL (``http://127.0.0.1:PORT``) of ``create_app()`` served by
  werkzeug in a background thread against the test database, with the ``unit_tree`` loaded. The
  per-IP login throttle is set high so tests that fail logins on purpose do not lock each other out.
* ``chromium`` (session) — a Playwright ``Browser`` on the Debian ``/usr/bin/chromium`` (never
  ``playwright install``).
* ``browser_page`` — a fresh ``Page`` in its own context (zh-CN locale, 1440×900) whose console errors
  and uncaught page errors are collected in ``browser_page.console_errors`` (a list of strings);
  assert it is empty at the end of a test.

Helpers:

* :func:`make_user` — create an account with a unique name (committed); returns ``(username, password)``.
* :func:`login` — sign in through the real login page in the browser.
* :func:`http_login` — sign in with ``requests`` (fetches the CSRF token from the form); returns a session that
  sends the ``X-CSRFToken`` header Dash callbacks need (:func:`with_csrf_header` does it for a Flask test client).
* :func:`dash_update` — POST a callback request to ``/_dash-update-component`` exactly as Dash's
  renderer does (the forged-request tests use it).
* :func:`click_nav` — click a header menu entry (``#shell-nav-<path>``, see ``dashboard.shell.nav_id``), opening
  its group's dropdown first when the entry sits in a closed one. The ``chromium`` fixture routes every
  ``page.click("#shell-nav-…")`` through it, so tests written for the flat menu keep working.
* :func:`screenshot_dir` — where the browser tests write their screenshots: ``tests/artifacts/screenshots``
  (git-ignored, so ``make test`` leaves a clean tree) unless ``SAFEGRID_SCREENSHOT_DIR`` names another
  folder (``make screenshots`` sets it to ``docs/screenshots`` to refresh the documented ones on purpose).
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import Engine
from werkzeug.serving import make_server

from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from geo.users import create_user, hash_password

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
TEST_SECRET = "test-secret-key-" + "x" * 40
_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCREENSHOT_DIR = REPO_ROOT / "tests" / "artifacts" / "screenshots"  # git-ignored (/tests/artifacts/)


def screenshot_dir() -> Path:
    """The folder for browser-test screenshots (created): ``SAFEGRID_SCREENSHOT_DIR`` (relative to the
    repository root) or the git-ignored ``tests/artifacts/screenshots``."""
    configured = os.environ.get("SAFEGRID_SCREENSHOT_DIR", "").strip()
    folder = REPO_ROOT / configured if configured else DEFAULT_SCREENSHOT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def app_settings(**overrides: Any) -> DashboardSettings:
    """App settings for tests: fixed secret, no IP throttle unless asked."""
    values: dict[str, Any] = {"secret_key": TEST_SECRET, "login_ip_max_failures": 100_000, **overrides}
    return DashboardSettings(**values)


def make_user(engine: Engine, *, role: str, scope: str, password: str = "Test-pass-2026",
              prefix: str | None = None) -> tuple[str, str]:
    """Create a committed account with a unique username; return ``(username, password)``."""
    username = f"{prefix or role}_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        create_user(conn, username=username, password_hash=hash_password(password), role=role, scope_code=scope,
                    display_name=f"测试{role}")
    return username, password


def http_login(base_url: str, username: str, password: str) -> requests.Session:
    """Sign in with a plain HTTP client through the real form (CSRF token included); assert success."""
    s = requests.Session()
    form = s.get(f"{base_url}/login", timeout=10)
    match = _CSRF_RE.search(form.text)
    assert match, "login form has no CSRF token"
    r = s.post(f"{base_url}/login", data={"username": username, "password": password, "csrf_token": match.group(1),
                                          "next": "/"}, allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:500])
    s.headers["X-CSRFToken"] = s.cookies.get("_csrf_token") or ""  # as Dash's renderer sends it (auth.CSRF_COOKIE)
    return s


def with_csrf_header(client: Any) -> Any:
    """Make a signed-in Flask test client send the ``X-CSRFToken`` header from its cookie, as Dash's renderer does."""
    cookie = client.get_cookie("_csrf_token")
    assert cookie is not None, "no _csrf_token cookie after sign-in"
    client.environ_base["HTTP_X_CSRFTOKEN"] = cookie.value
    return client


def csrf_from(session: requests.Session, base_url: str) -> str:
    """Return the session's CSRF token: from the login form, or (signed in) from the shell's logout form."""
    r = session.get(f"{base_url}/login", allow_redirects=False, timeout=10)
    match = _CSRF_RE.search(r.text)
    if match:
        return match.group(1)
    stack = [session.get(f"{base_url}/_dash-layout", timeout=10).json()]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("name") == "csrf_token" and node.get("value"):
                return str(node["value"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    raise AssertionError("no CSRF token in the login page or the shell")


def dash_payload(*, output: str, inputs: list[dict[str, Any]], state: list[dict[str, Any]] | None = None,
                 changed: bool = True) -> dict[str, Any]:
    """Build the JSON body Dash 4's renderer posts for a single-output callback (checked in test_auth_browser)."""
    out_id, _, prop = output.rpartition(".")
    changed_ids = [f"{i['id']}.{i['property']}" for i in inputs] if changed else []
    payload: dict[str, Any] = {
        "output": output,
        "outputs": {"id": out_id, "property": prop},
        "inputs": inputs,
        "changedPropIds": changed_ids,
        "parsedChangedPropsIds": changed_ids,
    }
    if state:
        payload["state"] = state
    return payload


def route_payload(path: str, search: str = "") -> dict[str, Any]:
    """The shell router's callback for ``path?search`` as the browser posts it (input: the ``shell-route`` store)."""
    payload = dash_payload(output="..shell-content.children...shell-alert.children..", inputs=[
        {"id": "shell-route", "property": "data", "value": {"pathname": path, "search": search}}])
    payload["outputs"] = [{"id": "shell-content", "property": "children"},
                          {"id": "shell-alert", "property": "children"}]
    return payload


def dash_update(session: requests.Session, base_url: str, *, output: str, inputs: list[dict[str, Any]],
                state: list[dict[str, Any]] | None = None) -> requests.Response:
    """POST one callback request as the Dash renderer does (``output`` like ``"home-summary.children"``)."""
    payload = dash_payload(output=output, inputs=inputs, state=state)
    return session.post(f"{base_url}/_dash-update-component", json=payload, timeout=20)


@pytest.fixture(scope="session")
def live_server(engine: Engine, unit_tree: dict[str, str]) -> Iterator[str]:
    """Serve ``create_app()`` on a free 127.0.0.1 port in a thread; yield its base URL."""
    app = create_app(app_settings())
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Chromium (Debian package) driven by Playwright."""
    from playwright.sync_api import Page, sync_playwright

    original_wait, original_click = Page.wait_for_function, Page.click
    Page.wait_for_function = _csp_safe_wait(original_wait)  # type: ignore[method-assign]  # every page
    Page.click = _nav_aware_click(original_click)  # type: ignore[method-assign]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
            Page.wait_for_function = original_wait  # type: ignore[method-assign]
            Page.click = original_click  # type: ignore[method-assign]


@contextmanager
def watched_page(chromium: Any, **context_options: Any) -> Iterator[Any]:
    """A page in a fresh context (``zh-CN``, 1440×900 unless given); ``page.console_errors`` collects
    console errors and uncaught exceptions."""
    context = chromium.new_context(**{"locale": "zh-CN", "viewport": {"width": 1440, "height": 900},
                                      **context_options})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.console_errors = errors
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    """A fresh desktop page (:func:`watched_page`)."""
    with watched_page(chromium) as page:
        yield page


def _csp_safe_wait(wait: Any) -> Any:
    """``Page.wait_for_function`` that also polls under the app's CSP (no ``unsafe-eval``).

    Playwright re-evaluates an expression string with ``eval`` inside the page, which the CSP refuses
    once it has to poll; an arrow function is compiled by the DevTools protocol instead.
    """

    def wait_for_function(page: Any, expression: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(expression, str) and "=>" not in expression and not expression.lstrip().startswith(
                ("function", "async")):
            expression = f"() => ({expression})"
        return wait(page, expression, *args, **kwargs)

    return wait_for_function


NAV_ENTRY = "#shell-nav-"


def open_nav_group(page: Any, selector: str) -> None:
    """Open the header menu group holding ``selector`` (a ``#shell-nav-…`` link) if that link is hidden in it."""
    page.wait_for_selector(selector, state="attached")
    toggle = page.locator(f".sg-nav-group:has({selector}) > .sg-nav-toggle")
    if not page.locator(selector).is_visible() and toggle.count() and toggle.is_visible():
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
        page.wait_for_selector(selector, state="visible")


def click_nav(page: Any, selector: str, **kwargs: Any) -> None:
    """Click the header menu entry ``selector`` (``#shell-nav-<path>``), opening its group's dropdown first."""
    open_nav_group(page, selector)
    page.locator(selector).click(**kwargs)


def _nav_aware_click(click: Any) -> Any:
    """``Page.click`` that opens the menu group first for a ``#shell-nav-…`` selector (:func:`click_nav`)."""

    def page_click(page: Any, selector: str, *args: Any, **kwargs: Any) -> Any:
        if isinstance(selector, str) and selector.startswith(NAV_ENTRY) and " " not in selector:
            open_nav_group(page, selector)
        return click(page, selector, *args, **kwargs)

    return page_click


def login(page: Any, base_url: str, username: str, password: str, *, expect_path: str = "/") -> None:
    """Sign in through the real login page (``?next=expect_path``) and wait until the shell shows the user."""
    page.goto(f"{base_url}/login?next={quote(expect_path)}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{expect_path}")
    page.wait_for_selector("#shell-user")
