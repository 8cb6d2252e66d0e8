"""CSRF on Dash callbacks (double submit): the ``_csrf_token`` cookie must come back as the ``X-CSRFToken`` header.

A page on another site can make a signed-in browser POST to ``/_dash-update-component`` with its cookies,
but it cannot read the cookie to set the header: such a request is refused with 403 and nothing runs.
Dash's renderer sends the header itself (every browser test exercises that path).
"""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import Engine

from dashboard.auth import CSRF_COOKIE, CSRF_HEADER
from tests.browser import dash_payload, http_login, make_user

pytestmark = pytest.mark.db
UPDATE = "/_dash-update-component"


def _summary_body() -> dict[str, object]:
    return dash_payload(output="home-summary.children",
                        inputs=[{"id": "home-unit", "property": "value", "value": "411002"}])


def _cross_site(session: requests.Session) -> requests.Session:
    """The same cookies without the header: what a forged cross-site form or fetch can send."""
    forged = requests.Session()
    forged.cookies.update(session.cookies)
    forged.headers["Origin"] = "https://evil.example"
    return forged


def test_the_cookie_carries_the_session_token_readable_by_the_page(live_server: str, engine: Engine) -> None:
    user, password = make_user(engine, role="inspector", scope="411002")
    s = http_login(live_server, user, password)
    cookie = next(c for c in s.cookies if c.name == CSRF_COOKIE)
    assert cookie.value and len(cookie.value) >= 32
    assert not cookie.has_nonstandard_attr("HttpOnly") and cookie.get_nonstandard_attr("SameSite") == "Lax"
    assert cookie.path == "/"


def test_a_callback_without_the_header_is_refused(live_server: str, engine: Engine) -> None:
    user, password = make_user(engine, role="inspector", scope="411002")
    s = http_login(live_server, user, password)
    ok = s.post(f"{live_server}{UPDATE}", json=_summary_body(), timeout=20)
    assert ok.status_code == 200 and "魏都区" in json.dumps(ok.json(), ensure_ascii=False)

    forged = _cross_site(s)
    refused = forged.post(f"{live_server}{UPDATE}", json=_summary_body(), timeout=20)
    assert refused.status_code == 403
    body = json.dumps(refused.json(), ensure_ascii=False)
    assert "安全令牌" in body and "魏都区" not in body

    wrong = forged.post(f"{live_server}{UPDATE}", json=_summary_body(), headers={CSRF_HEADER: "x" * 43}, timeout=20)
    assert wrong.status_code == 403
    other_user, other_password = make_user(engine, role="inspector", scope="411002")
    other_token = http_login(live_server, other_user, other_password).cookies.get(CSRF_COOKIE)
    stolen = forged.post(f"{live_server}{UPDATE}", json=_summary_body(), headers={CSRF_HEADER: other_token},
                         timeout=20)
    assert stolen.status_code == 403  # another session's token does not fit this session
    assert forged.post(f"{live_server}{UPDATE}", json=_summary_body(),
                       headers={CSRF_HEADER: s.cookies.get(CSRF_COOKIE)}, timeout=20).status_code == 200


def test_reads_and_unauthenticated_posts_are_unchanged(live_server: str, engine: Engine) -> None:
    user, password = make_user(engine, role="inspector", scope="411002")
    forged = _cross_site(http_login(live_server, user, password))
    assert forged.get(f"{live_server}/_dash-layout", timeout=10).status_code == 200  # GETs change nothing
    anon = requests.Session()
    assert anon.post(f"{live_server}{UPDATE}", json=_summary_body(), timeout=10).status_code == 401


def test_after_logout_the_old_token_fits_nothing(live_server: str, engine: Engine) -> None:
    from tests.browser import csrf_from

    user, password = make_user(engine, role="inspector", scope="411002")
    s = http_login(live_server, user, password)
    old = s.cookies.get(CSRF_COOKIE)
    r = s.post(f"{live_server}/logout", data={"csrf_token": csrf_from(s, live_server)}, allow_redirects=False,
               timeout=10)
    assert r.status_code == 302
    again = http_login(live_server, user, password)
    assert again.cookies.get(CSRF_COOKIE) != old
    refused = again.post(f"{live_server}{UPDATE}", json=_summary_body(), headers={CSRF_HEADER: old}, timeout=20)
    assert refused.status_code == 403
