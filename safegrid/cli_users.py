"""``safegrid users …`` (accounts, roles, scope, demo accounts) and ``safegrid audit``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection

from domain import clock
from domain.labels import USER_ROLE
from geo.db import connect
from geo.models import USER_ROLES
from geo.public_reports import NewPublicReport, submit
from geo.rule_settings import department_catalogue
from geo.units import child_codes
from geo.users import (
    UserError,
    audit,
    check_department,
    check_password_policy,
    create_user,
    demo_enterprise,
    demo_points,
    generate_password,
    get_user_by_name,
    hash_password,
    list_audit,
    list_users,
    revoke_sessions,
    set_active,
    set_department,
    set_enterprise,
    set_password_hash,
    set_role,
    set_scope,
)

app = typer.Typer(help="账户管理：角色与数据范围", no_args_is_help=True, pretty_exceptions_enable=False)
CITY = "411000"
DEMO_PASSWORD_SUFFIX = "@Demo2026"
# username, role, display name; scopes are resolved in ``demo`` from the loaded units.
DEMO_ACCOUNTS = (
    ("admin", "admin", "演示管理员"),
    ("leader", "leader", "演示领导"),
    ("planner", "planner", "演示规划员"),
    ("inspector", "inspector", "演示执法员"),
    ("gridmgr", "grid_manager", "演示网格管理员"),
    ("inspector2", "inspector", "演示执法员二"),
    ("zhujian", "inspector", "演示住建局执法员"),
)
# Department accounts among the demo accounts (issue 18 part 5): username → department code.
DEMO_DEPARTMENTS = {"zhujian": "zhujian"}
# Pending public reports (随手拍) for the grid manager's queue: description, contact; placed in the township's cells.
DEMO_REPORTS = (
    ("小区地下车库有人给电动车飞线充电，插线板拖在地上。", "138****0001"),
    ("沿街门面房楼梯间堆满纸箱杂物，安全出口被堵住了。", ""),
    ("工地塔吊下方没有设置警戒区，行人直接从下面经过。", "139****0002"),
    ("饭店后厨液化气钢瓶放在门口太阳下暴晒，旁边就是灶台。", ""),
)
# The enterprise account: an enterprise of the grid manager's township with an open hazard (see ``demo``).
DEMO_ENTERPRISE_ACCOUNT = ("enterprise", "演示企业安全员")
CLI_ACTOR = "cli"


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _read_password(from_stdin: bool) -> tuple[str, bool]:
    """Return the new password and whether it was generated (then it must be shown once)."""
    if not from_stdin:
        return generate_password(), True
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        check_password_policy(password)
    except UserError as exc:
        raise _fail(str(exc)) from exc
    return password, False


def _role(role: str) -> str:
    if role not in USER_ROLES:
        raise _fail(f"角色“{role}”无效，可选：{', '.join(USER_ROLES)}", 2)
    return role


@app.command()
def create(
    name: str,
    role: Annotated[str, typer.Option(help=f"角色：{', '.join(USER_ROLES)}")],
    scope: Annotated[str | None, typer.Option(help="数据范围单位代码，如 411002001（企业账户不填）")] = None,
    enterprise: Annotated[str | None, typer.Option(
        help="企业账户所属企业的统一社会信用代码（仅角色 enterprise；数据范围为企业所在网格）")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码")] = False,
    display_name: Annotated[str | None, typer.Option(help="显示姓名")] = None,
    dept: Annotated[str | None, typer.Option(
        help="监管部门代码（部门目录，如 zhujian）：只看该部门监管的企业及其隐患、检查、事故")] = None,
) -> None:
    """Create an account; without --password-stdin a random password is generated and printed once.

    An enterprise account (--role enterprise) names its enterprise with --enterprise CREDIT_CODE: it sees
    only that enterprise's file and hazards, and its scope is the enterprise's grid cell.
    """
    _role(role)
    if role == "enterprise" and not enterprise:
        raise _fail("企业账户须用 --enterprise 指定企业的统一社会信用代码。", 2)
    if role != "enterprise" and enterprise:
        raise _fail("--enterprise 只能用于企业账户（--role enterprise）。", 2)
    if role != "enterprise" and not scope:
        raise _fail("请用 --scope 指定数据范围单位代码。", 2)
    password, generated = _read_password(password_stdin)
    try:
        with connect() as conn:
            dept_code = check_department(department_catalogue(conn), dept)
            create_user(conn, username=name, password_hash=hash_password(password), role=role,
                        scope_code=scope, display_name=display_name, enterprise_code=enterprise, dept_code=dept_code)
            user = get_user_by_name(conn, username=name)
            assert user is not None
            detail = {"user": name, "role": role, "scope": user.scope_code}
            if enterprise:
                detail["enterprise"] = enterprise
            if dept_code:
                detail["dept"] = dept_code
            audit(conn, username=CLI_ACTOR, action="user_create", detail=detail)
    except UserError as exc:
        raise _fail(str(exc)) from exc
    what = f"企业 {enterprise}，数据范围 {user.scope_name} {user.scope_code}" if enterprise else f"数据范围 {scope}"
    if user.dept_code:
        what += f"，监管部门 {user.dept_code}"
    typer.echo(f"已创建用户 {name}（{USER_ROLE[role]}，{what}）。")
    if generated:
        typer.echo(f"初始密码：{password}")


@app.command(name="list")
def list_cmd() -> None:
    """List every account with role, scope and state."""
    with connect() as conn:
        users = list_users(conn, scope=None)
        catalogue = department_catalogue(conn)
    table = Table("用户名", "姓名", "角色", "数据范围", "状态", "最近登录")
    for u in users:
        state = "已锁定" if u.is_locked else ("正常" if u.active else "已停用")
        last = f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "从未登录"
        dept = f" · {catalogue.label(u.dept_code)}" if u.dept_code else ""  # a department account
        table.add_row(u.username, u.display_name or "", USER_ROLE.get(u.role, u.role),
                      f"{u.scope_name}（{u.scope_code}）{dept}", state, last)
    Console().print(table)


def _change(name: str, action: str, detail: dict[str, str] | None = None) -> None:
    with connect() as conn:
        audit(conn, username=CLI_ACTOR, action=action, detail={"user": name, **(detail or {})})


@app.command()
def disable(name: str) -> None:
    """Disable an account; its sessions are deleted and refused at their next request."""
    try:
        with connect() as conn:
            set_active(conn, username=name, active=False)
    except UserError as exc:
        raise _fail(str(exc)) from exc
    _change(name, "user_disable")
    typer.echo(f"已停用用户 {name}，其已登录会话立即失效。")


@app.command()
def enable(name: str) -> None:
    """Re-enable a disabled account."""
    try:
        with connect() as conn:
            set_active(conn, username=name, active=True)
    except UserError as exc:
        raise _fail(str(exc)) from exc
    _change(name, "user_enable")
    typer.echo(f"已启用用户 {name}。")


@app.command(name="set-password")
def set_password(
    name: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码")] = False,
) -> None:
    """Set a new password (also lifts a lockout and ends the user's sessions)."""
    password, generated = _read_password(password_stdin)
    try:
        with connect() as conn:
            set_password_hash(conn, username=name, password_hash=hash_password(password))
    except UserError as exc:
        raise _fail(str(exc)) from exc
    _change(name, "user_set_password")
    typer.echo(f"已修改用户 {name} 的密码，其已登录会话已失效。")
    if generated:
        typer.echo(f"新密码：{password}")


@app.command(name="end-sessions")
def end_sessions(name: str) -> None:
    """End every signed-in session of an account now, on every app instance (e.g. a lost laptop)."""
    with connect() as conn:
        if get_user_by_name(conn, username=name) is None:
            raise _fail(f"用户“{name}”不存在")
        ended = revoke_sessions(conn, username=name)
    _change(name, "user_end_sessions", {"sessions": str(ended)})
    typer.echo(f"已结束用户 {name} 的 {ended} 个登录会话。")


@app.command(name="set-scope")
def set_scope_cmd(name: str, code: str) -> None:
    """Move an account's data scope to unit CODE (ends the user's sessions)."""
    try:
        with connect() as conn:
            set_scope(conn, username=name, scope_code=code)
    except UserError as exc:
        raise _fail(str(exc)) from exc
    _change(name, "user_set_scope", {"scope": code})
    typer.echo(f"已将用户 {name} 的数据范围改为 {code}，其已登录会话已失效。")


@app.command(name="set-dept")
def set_dept_cmd(
    name: str,
    code: Annotated[str | None, typer.Argument(help="部门代码（部门目录）；省略则取消部门限制")] = None,
) -> None:
    """Scope an account to a supervising department CODE, or to every department without CODE (ends its sessions)."""
    try:
        with connect() as conn:
            catalogue = department_catalogue(conn)
            set_department(conn, username=name, dept_code=code, catalogue=catalogue)
    except UserError as exc:
        raise _fail(str(exc)) from exc
    _change(name, "user_set_dept", {"dept": code or ""})
    label = f"监管部门 {catalogue.label(code)}（{code}）" if code else "全部监管部门"
    typer.echo(f"已将用户 {name} 的数据范围限定为{label}，其已登录会话已失效。")


def _demo_scopes() -> dict[str, str]:
    """Scope per demo account: city for admin/leader/planner, 魏都区 for the inspectors, a 魏都区 township."""
    with connect() as conn:
        counties = child_codes(conn, parent_code=CITY)
        townships = child_codes(conn, parent_code="411002")
    if not counties or not townships:
        raise _fail("数据库中没有许昌市 (411000) 与魏都区 (411002) 的下级单位：请先加载演示数据 (make demo)。")
    inspector_county = "411002" if "411002" in counties else counties[0]
    return {"admin": CITY, "leader": CITY, "planner": CITY, "inspector": inspector_county,
            "inspector2": inspector_county, "gridmgr": townships[0], "zhujian": CITY}


def _demo_account(conn: Connection, username: str, role: str, display: str, *, scope: str | None = None,
                  enterprise: str | None = None) -> None:
    """Create or reset one demo account (password ``<username>@Demo2026``)."""
    pw_hash = hash_password(username + DEMO_PASSWORD_SUFFIX)
    dept = DEMO_DEPARTMENTS.get(username)
    if get_user_by_name(conn, username=username) is None:
        create_user(conn, username=username, password_hash=pw_hash, role=role, scope_code=scope,
                    display_name=display, enterprise_code=enterprise, dept_code=dept)
    else:
        set_password_hash(conn, username=username, password_hash=pw_hash)
        if enterprise:
            set_enterprise(conn, username=username, credit_code=enterprise)
        else:
            set_role(conn, username=username, role=role)
            set_scope(conn, username=username, scope_code=scope or CITY)
            set_department(conn, username=username, dept_code=dept, catalogue=department_catalogue(conn))
        set_active(conn, username=username, active=True)
    audit(conn, username=CLI_ACTOR, action="user_demo_reset", detail={"user": username})


def ensure_demo_accounts() -> tuple[dict[str, str], list[tuple[str, str]], str | None, str]:
    """Create or reset the demo accounts; return the scopes, (username, role) pairs, the enterprise and a note."""
    scopes = _demo_scopes()
    with connect() as conn:
        accounts: list[tuple[str, str]] = []
        for username, role, display in DEMO_ACCOUNTS:
            _demo_account(conn, username, role, display, scope=scopes[username])
            accounts.append((username, role))
        username, display = DEMO_ENTERPRISE_ACCOUNT
        credit_code = demo_enterprise(conn, unit_code=scopes["gridmgr"])
        if credit_code is None:
            note = f"{scopes['gridmgr']} 下没有存在未销号隐患的企业，未创建演示企业账户 {username}。"
        else:
            _demo_account(conn, username, "enterprise", display, enterprise=credit_code)
            accounts.append((username, "enterprise"))
            note = ""
    return scopes, accounts, credit_code, note


@app.command()
def demo() -> None:
    """Create or reset the demo accounts (one per role, a second inspector, an enterprise) and print them."""
    scopes, accounts, credit_code, note = ensure_demo_accounts()
    table = Table("用户名", "密码", "角色", "数据范围", title="演示账户 (密码公开，切勿用于生产环境)")
    with connect() as conn:
        for username, role in accounts:
            user = get_user_by_name(conn, username=username)
            assert user is not None
            where = f"{user.scope_name}（{user.scope_code}）"
            if user.dept_code:
                where += f"，仅{department_catalogue(conn).label(user.dept_code)}监管的企业"
            if role == "enterprise":
                where = f"企业 {credit_code}，{where}"
            table.add_row(username, username + DEMO_PASSWORD_SUFFIX, USER_ROLE[role], where)
    Console().print(table)
    if note:
        typer.secho(note, fg=typer.colors.YELLOW)
    typer.echo(_demo_reports(scopes["gridmgr"]))
    typer.echo("修改密码：safegrid users set-password 用户名 [--password-stdin]")


def _demo_reports(township: str) -> str:
    """Submit the pending demo public reports once (fixed request keys: a rerun adds nothing); say what happened."""
    with connect() as conn:
        points = demo_points(conn, unit_code=township, n=len(DEMO_REPORTS))
        created = 0
        for i, ((description, contact), (lon, lat)) in enumerate(zip(DEMO_REPORTS, points, strict=False)):
            new = NewPublicReport(description=description, lon=lon, lat=lat, contact=contact,
                                  request_key=f"safegrid-demo-report-{i:02d}")
            created += submit(conn, new=new, photos=[], ip_hash="safegrid-demo", per_day=len(DEMO_REPORTS),
                              today=clock.today()).created
    if not points:
        return f"{township} 下没有带边界的网格，未添加演示群众举报。"
    return f"演示群众举报：{len(points)} 条（{township} 下的网格，本次新增 {created} 条），由网格管理员在待办中核实。"


def audit_cmd(
    limit: Annotated[int, typer.Option(help="显示条数")] = 50,
    user: Annotated[str | None, typer.Option(help="只看此用户")] = None,
    action: Annotated[str | None, typer.Option(help="只看此类操作，如 login_failed")] = None,
) -> None:
    """List recent audit entries (logins, refusals, exports, user changes)."""
    with connect() as conn:
        entries = list_audit(conn, limit=limit, username=user, action=action)
    table = Table("时间", "用户", "操作", "详情", "IP")
    for e in entries:
        detail = ", ".join(f"{k}={v}" for k, v in (e.detail or {}).items())
        table.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.username or "", e.action, detail, e.ip or "")
    Console().print(table)
