"""``safegrid users …`` and ``safegrid audit`` against the test database (real subprocesses)."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import requests
from sqlalchemy import Engine

from geo.users import get_user_by_name
from tests.browser import http_login
from tests.test_search_data import inspector_world

__all__ = ["inspector_world"]

pytestmark = pytest.mark.db


def sg(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "safegrid", *args], input=stdin, capture_output=True, text=True,
                          timeout=120, check=False)


def test_create_list_disable_set_password_set_scope(engine: Engine, unit_tree: dict[str, str],
                                                     live_server: str) -> None:
    name = f"cli_{uuid.uuid4().hex[:6]}"
    res = sg("users", "create", name, "--role", "grid_manager", "--scope", "411002001", "--password-stdin",
             stdin="Cli-pass-2026\n")
    assert res.returncode == 0, res.stderr
    assert "已创建用户" in res.stdout and "初始密码" not in res.stdout
    assert name in sg("users", "list").stdout
    s = http_login(live_server, name, "Cli-pass-2026")

    res = sg("users", "set-scope", name, "411003")
    assert res.returncode == 0 and "会话已失效" in res.stdout
    assert s.get(f"{live_server}/api/me", timeout=10).status_code == 401
    with engine.connect() as conn:
        user = get_user_by_name(conn, username=name)
    assert user is not None and user.scope_code == "411003"

    res = sg("users", "set-password", name)  # generated password, printed once
    assert res.returncode == 0
    new_password = res.stdout.split("新密码：")[1].strip()
    http_login(live_server, name, new_password)

    assert sg("users", "disable", name).returncode == 0
    with engine.connect() as conn:
        user = get_user_by_name(conn, username=name)
    assert user is not None and not user.active

    audit = sg("audit", "--user", "cli", "--limit", "200").stdout
    assert "user_create" in audit and "user_set_scope" in audit and "user_disable" in audit


@pytest.mark.parametrize(("args", "stdin", "code", "message"), [
    (["users", "create", "x1", "--role", "boss", "--scope", "411000"], None, 2, "角色“boss”无效"),
    (["users", "create", "x2", "--role", "planner", "--scope", "999999"], None, 1, "不存在"),
    (["users", "create", "x3", "--role", "planner", "--scope", "411000", "--password-stdin"], "short\n", 1, "至少"),
    (["users", "disable", "no_such_user_zz"], None, 1, "不存在"),
    (["users", "set-scope", "no_such_user_zz", "411000"], None, 1, "不存在"),
    (["users", "nonsense"], None, 2, ""),
])
def test_rejected_input(unit_tree: dict[str, str], args: list[str], stdin: str | None, code: int,
                        message: str) -> None:
    res = sg(*args, stdin=stdin)
    assert res.returncode == code, (res.stdout, res.stderr)
    assert message in res.stderr


def test_duplicate_user_rejected(unit_tree: dict[str, str]) -> None:
    name = f"dup_{uuid.uuid4().hex[:6]}"
    assert sg("users", "create", name, "--role", "planner", "--scope", "411000").returncode == 0
    res = sg("users", "create", name, "--role", "planner", "--scope", "411000")
    assert res.returncode == 1 and "已存在" in res.stderr


def test_demo_accounts_one_per_role_and_idempotent(unit_tree: dict[str, str], live_server: str) -> None:
    for _ in range(2):
        res = sg("users", "demo")
        assert res.returncode == 0, res.stderr
    for user in ("admin", "leader", "planner", "inspector", "gridmgr"):
        assert f"{user}@Demo2026" in res.stdout
    gm = http_login(live_server, "gridmgr", "gridmgr@Demo2026")
    me = gm.get(f"{live_server}/api/me", timeout=10).json()
    assert me["role"] == "grid_manager" and me["scope"]["code"] == "411002001"  # first township of 魏都区
    assert gm.get(f"{live_server}/api/units/411002002", timeout=10).status_code == 403
    inspector = http_login(live_server, "inspector", "inspector@Demo2026").get(f"{live_server}/api/me", timeout=10)
    assert inspector.json()["scope"]["level"] == 2
    leader = http_login(live_server, "leader", "leader@Demo2026")
    assert leader.get(f"{live_server}/api/units/411000", timeout=10).status_code == 200
    assert requests.get(f"{live_server}/api/units/411000", timeout=10).status_code == 401


def test_enterprise_account_from_the_cli(inspector_world: None, engine: Engine, live_server: str) -> None:
    from tests.test_search_data import A_CODE, JINDI_GRID

    name = f"ent_{uuid.uuid4().hex[:6]}"
    res = sg("users", "create", name, "--role", "enterprise", "--enterprise", A_CODE, "--password-stdin",
             stdin="Ent-pass-2026\n")
    assert res.returncode == 0, res.stderr
    assert A_CODE in res.stdout and JINDI_GRID in res.stdout
    with engine.connect() as conn:
        user = get_user_by_name(conn, username=name)
    assert user is not None and user.role == "enterprise" and user.scope_code == JINDI_GRID and user.enterprise_id
    s = http_login(live_server, name, "Ent-pass-2026")
    landing = s.get(f"{live_server}/", allow_redirects=False, timeout=10)
    assert landing.headers["Location"] == f"/enterprise?code={A_CODE}"
    res = sg("users", "set-scope", name, "411002")
    assert res.returncode == 1 and "企业所在网格" in res.stderr


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--role", "enterprise"], 2, "须用 --enterprise"),
    (["--role", "planner", "--scope", "411000", "--enterprise", "914110020000000000"], 2, "只能用于企业账户"),
    (["--role", "enterprise", "--enterprise", "91411002ZZ9999999X"], 1, "不存在"),
    (["--role", "planner"], 2, "--scope"),
])
def test_enterprise_option_rejected(unit_tree: dict[str, str], args: list[str], code: int, message: str) -> None:
    res = sg("users", "create", f"bad_{uuid.uuid4().hex[:6]}", *args)
    assert res.returncode == code, (res.stdout, res.stderr)
    assert message in res.stderr


def test_demo_adds_an_enterprise_and_a_second_inspector(inspector_world: None, live_server: str) -> None:
    res = sg("users", "demo")
    assert res.returncode == 0, res.stderr
    assert "enterprise@Demo2026" in res.stdout and "inspector2@Demo2026" in res.stdout
    assert "演示群众举报" in res.stdout
    second = http_login(live_server, "inspector2", "inspector2@Demo2026").get(f"{live_server}/api/me", timeout=10)
    assert second.json()["role"] == "inspector" and second.json()["scope"]["code"] == "411002"
    company = http_login(live_server, "enterprise", "enterprise@Demo2026")
    landing = company.get(f"{live_server}/", allow_redirects=False, timeout=10)
    assert landing.status_code == 302 and landing.headers["Location"].startswith("/enterprise?code=")
    code = landing.headers["Location"].rpartition("=")[2]
    assert company.get(f"{live_server}/api/enterprise/{code}", timeout=10).status_code == 200
    assert company.get(f"{live_server}/api/units/411002001", timeout=10).status_code == 403
    assert sg("users", "demo").returncode == 0  # idempotent with the enterprise account in place
