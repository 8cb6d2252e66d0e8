"""Personal access tokens (geo/tokens.py) on PostGIS, and the /tokens page in Chromium: created with a name and a
validity, shown once, hashed at rest, listed with prefix and last use, revoked, audited; the secret created in
the page opens /ogc/ and stops working once revoked there."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
import requests
from sqlalchemy import Connection, Engine, text

from geo.tokens import (
    MAX_ACTIVE_TOKENS,
    MAX_DAYS,
    TOKEN_PREFIX,
    TokenError,
    create_token,
    list_tokens,
    resolve_token,
    revoke_token,
)
from geo.users import create_user, hash_password
from tests.browser import login, make_user, screenshot_dir

pytestmark = pytest.mark.db


def account(conn: Connection, unit_tree: dict[str, str], name: str = "tok_user") -> int:
    create_user(conn, username=name, password_hash=hash_password("Test-pass-2026"), role="grid_manager",
                scope_code="411002001")
    return int(conn.execute(text("SELECT id FROM users WHERE username = :u"), {"u": name}).scalar_one())


def test_created_hashed_listed_resolved(conn: Connection, unit_tree: dict[str, str]) -> None:
    user_id = account(conn, unit_tree)
    token_id, secret = create_token(conn, user_id=user_id, name=" QGIS 办公电脑 ", days=90)
    assert re.fullmatch(TOKEN_PREFIX + r"[A-Za-z0-9_-]{43}", secret)  # 32 random bytes, URL-safe
    stored = conn.execute(text("SELECT token_hash, prefix, name, expires_at - created_at FROM api_tokens "
                               "WHERE id = :id"), {"id": token_id}).one()
    assert stored[0] == hashlib.sha256(secret.encode()).hexdigest() and secret not in stored
    assert stored[1] == secret[:12] and stored[2] == "QGIS 办公电脑" and stored[3].days == 90
    [row] = list_tokens(conn, user_id=user_id)
    assert row.active and row.last_used_at is None and row.prefix == secret[:12]
    check = resolve_token(conn, token=secret)
    assert check.user is not None and check.user.scope_code == "411002001" and check.refusal is None
    assert list_tokens(conn, user_id=user_id)[0].last_used_at is not None


def test_revoked_only_by_its_owner(conn: Connection, unit_tree: dict[str, str]) -> None:
    owner, other = account(conn, unit_tree, "tok_owner"), account(conn, unit_tree, "tok_other")
    token_id, secret = create_token(conn, user_id=owner, name="a", days=1)
    assert revoke_token(conn, user_id=other, token_id=token_id) is None  # someone else's token: nothing changes
    assert resolve_token(conn, token=secret).user is not None
    revoked = revoke_token(conn, user_id=owner, token_id=token_id)
    assert revoked is not None and not revoked.active
    assert revoke_token(conn, user_id=owner, token_id=token_id) is None  # once
    assert resolve_token(conn, token=secret).refusal == "revoked"


@pytest.mark.parametrize(("name", "days"), [("", 30), ("x" * 101, 30), ("ok", 0), ("ok", MAX_DAYS + 1),
                                            ("a\nb", 30)])
def test_refused_requests(conn: Connection, unit_tree: dict[str, str], name: str, days: int) -> None:
    with pytest.raises(TokenError):
        create_token(conn, user_id=account(conn, unit_tree), name=name, days=days)


def test_at_most_so_many_active_tokens(conn: Connection, unit_tree: dict[str, str]) -> None:
    user_id = account(conn, unit_tree)
    for i in range(MAX_ACTIVE_TOKENS):
        create_token(conn, user_id=user_id, name=f"t{i}", days=1)
    with pytest.raises(TokenError, match="吊销"):
        create_token(conn, user_id=user_id, name="one more", days=1)


def test_the_tokens_page(browser_page: Any, live_server: str, engine: Engine) -> None:
    page = browser_page
    username, password = make_user(engine, role="grid_manager", scope="411002001")
    login(page, live_server, username, password, expect_path="/tokens")
    page.wait_for_selector("#tok-ogc-url")
    assert page.inner_text("#tok-ogc-url") == f"{live_server}/ogc/"
    page.fill("#tok-name", "QGIS 办公电脑")
    page.click("#tok-create")
    page.wait_for_selector("#tok-secret")
    secret = page.inner_text("#tok-secret").strip()
    assert secret.startswith(TOKEN_PREFIX) and "无法再次查看" in page.inner_text("#tok-new")
    row = page.locator("#tok-table tbody tr").first
    assert "QGIS 办公电脑" in row.inner_text() and secret[:12] in row.inner_text() and "从未使用" in row.inner_text()
    page.fill("#tok-name", "ArcGIS 测试")
    page.click("#tok-create")
    page.wait_for_function("document.querySelectorAll('#tok-table tbody tr').length === 2")

    r = requests.get(f"{live_server}/ogc/collections", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert r.status_code == 200 and r.json()["collections"][0]["id"] == "units-3"  # a township manager
    page.reload()
    page.wait_for_selector("#tok-table")
    assert secret not in page.content()  # shown once
    assert "从未使用" not in page.locator("#tok-table tbody tr").nth(1).inner_text()  # last use listed
    page.screenshot(path=str(screenshot_dir() / "tokens.png"), full_page=True)

    page.locator("#tok-table tbody tr").nth(1).locator("button.tok-revoke").click()
    page.wait_for_function("document.querySelector('#tok-new').innerText.includes('已吊销')")
    assert "已吊销" in page.locator("#tok-table tbody tr").nth(1).inner_text()
    r = requests.get(f"{live_server}/ogc/collections", params={"token": secret}, timeout=10)
    assert r.status_code == 401 and r.json()["description"] == "访问令牌已被吊销，已拒绝。"
    with engine.begin() as conn:
        actions = conn.execute(text("SELECT action FROM audit_log WHERE username = :u AND action LIKE 'token_%' "
                                    "ORDER BY id"), {"u": username}).scalars().all()
    assert actions == ["token_created", "token_created", "token_revoked", "token_refused"]
    assert page.console_errors == []
