"""Setting an account's department (issue 18 part 5): the admin form's callback per role, the CLI and the demo.

The form's save callback is posted as the Dash renderer posts it; only an administrator may use it, only for
accounts inside its own scope, with a catalogue department; a double submit changes nothing, a stale version is
refused, every change is audited and ends the account's sessions.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, text

from geo.users import get_user_by_name
from tests.browser import dash_payload, http_login, login, make_user, screenshot_dir

pytestmark = pytest.mark.db
OUTPUTS = [{"id": "admin-users-dept-result", "property": "children"},
           {"id": "admin-users-table", "property": "children"}, {"id": "admin-users-versions", "property": "data"}]


def _save(session: requests.Session, base: str, username: str, dept: str, versions: dict[str, int] | None = None,
          ) -> requests.Response:
    payload = dash_payload(output="..admin-users-dept-result.children...admin-users-table.children..."
                                  "admin-users-versions.data..",
                           inputs=[{"id": "admin-users-dept-save", "property": "n_clicks", "value": 1}],
                           state=[{"id": "admin-users-user", "property": "value", "value": username},
                                  {"id": "admin-users-dept", "property": "value", "value": dept},
                                  {"id": "admin-users-versions", "property": "data", "value": versions or {}}])
    payload["outputs"] = OUTPUTS
    return session.post(f"{base}/_dash-update-component", json=payload, timeout=20)


def _text(r: requests.Response) -> str:
    try:
        return json.dumps(r.json(), ensure_ascii=False)
    except ValueError:
        return r.text


def _dept(engine: Engine, username: str) -> tuple[str | None, int]:
    with engine.connect() as conn:
        user = get_user_by_name(conn, username=username)
    assert user is not None
    return user.dept_code, user.session_version


@pytest.mark.parametrize("role", ["leader", "planner", "inspector", "grid_manager"])
def test_only_an_admin_sets_a_department(live_server: str, engine: Engine, role: str) -> None:
    target, _ = make_user(engine, role="inspector", scope="411002", prefix="dpa_target")
    caller, password = make_user(engine, role=role, scope="411000", prefix=f"dpa_{role}")
    r = _save(http_login(live_server, caller, password), live_server, target, "zhujian")
    assert r.status_code == 403 or (r.status_code == 200 and "无权使用此功能" in _text(r)), (r.status_code, _text(r))
    assert _dept(engine, target)[0] is None


def test_an_admin_sets_and_clears_a_department(live_server: str, engine: Engine) -> None:
    target, target_password = make_user(engine, role="inspector", scope="411002", prefix="dpa_target")
    admin, password = make_user(engine, role="admin", scope="411000", prefix="dpa_admin")
    s = http_login(live_server, admin, password)
    victim = http_login(live_server, target, target_password)
    _, version = _dept(engine, target)
    r = _save(s, live_server, target, "zhujian", {target: version})
    assert r.status_code == 200 and "已将账户" in _text(r), _text(r)
    assert _dept(engine, target) == ("zhujian", version + 1)
    assert victim.get(f"{live_server}/api/me", timeout=10).status_code == 401  # its sessions ended
    assert "没有变化" in _text(_save(s, live_server, target, "zhujian"))  # a double submit
    assert "已被他人修改" in _text(_save(s, live_server, target, "", {target: version}))  # the version read before
    assert "不在部门目录中" in _text(_save(s, live_server, target, "nosuch"))
    assert _save(s, live_server, target, "", {target: version + 1}).status_code == 200
    assert _dept(engine, target)[0] is None
    with engine.connect() as conn:
        audits = conn.execute(text("SELECT detail FROM audit_log WHERE action = 'user_set_dept' AND username = :u "
                                   "ORDER BY id"), {"u": admin}).scalars().all()
    assert [(a["user"], a["dept"]) for a in audits] == [(target, "zhujian"), (target, "")]


def test_an_admin_cannot_reach_an_account_outside_its_scope(live_server: str, engine: Engine) -> None:
    target, _ = make_user(engine, role="inspector", scope="411002", prefix="dpa_target")
    admin, password = make_user(engine, role="admin", scope="411003", prefix="dpa_county_admin")
    r = _save(http_login(live_server, admin, password), live_server, target, "zhujian")
    assert "不在您的管理范围内" in _text(r)
    assert _dept(engine, target)[0] is None


def sg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "safegrid", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_the_cli_sets_a_department(engine: Engine, unit_tree: dict[str, str]) -> None:
    name = f"dpc_{uuid.uuid4().hex[:6]}"
    res = sg("users", "create", name, "--role", "inspector", "--scope", "411000", "--dept", "zhujian")
    assert res.returncode == 0, res.stderr
    assert "监管部门 zhujian" in res.stdout and _dept(engine, name)[0] == "zhujian"
    assert "住房" in sg("users", "list").stdout  # (rich shortens the column in a narrow terminal)
    res = sg("users", "set-dept", name, "nosuch")
    assert res.returncode == 1 and "不在部门目录中" in res.stderr
    assert sg("users", "set-dept", name, "jiaotong").returncode == 0 and _dept(engine, name)[0] == "jiaotong"
    assert sg("users", "set-dept", name).returncode == 0 and _dept(engine, name)[0] is None
    res = sg("users", "create", f"dpc_{uuid.uuid4().hex[:6]}", "--role", "inspector", "--scope", "411000",
             "--dept", "nosuch")
    assert res.returncode == 1 and "不在部门目录中" in res.stderr


def test_the_admin_pages_show_departments(live_server: str, engine: Engine, browser_page: Any) -> None:
    admin, password = make_user(engine, role="admin", scope="411000", prefix="dpa_shot")
    target, _ = make_user(engine, role="inspector", scope="411000", prefix="dpa_zhujian")
    sg("users", "set-dept", target, "zhujian")
    page = browser_page
    login(page, live_server, admin, password)
    page.goto(f"{live_server}/admin/users")
    page.wait_for_selector("#admin-users-table th:has-text('监管部门')")
    assert "住房和城乡建设局" in page.locator(f"#admin-users-table tr:has-text('{target}')").inner_text()
    page.screenshot(path=str(screenshot_dir() / "admin_users_department.png"), full_page=True)
    page.goto(f"{live_server}/admin/rules")
    page.wait_for_selector("#rules-dept-text")
    assert "zhujian | 住房和城乡建设局" in page.input_value("#rules-dept-text")
    page.locator(".rules-departments").screenshot(path=str(screenshot_dir() / "admin_rules_departments.png"))
    assert not page.console_errors
