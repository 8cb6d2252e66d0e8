"""User list for administrators (accounts within the admin's own scope) and the department of an account.

Accounts are created, disabled and re-scoped with ``safegrid users …``; here an administrator also limits an
account to one supervising department (管行业必须管安全, issue 18 part 5): the account then sees only that
department's enterprises and their hazards, inspections and accidents (docs/department_scope.md). The change is
checked on the server (capability, the account inside the admin's scope, not an enterprise account, a department
of the catalogue), versioned by the account's ``session_version`` read with the page, a no-op when nothing changes,
audited, and ends the account's sessions. Ids are prefixed ``admin-users-``.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard.pages import Page
from dashboard.roles import Capability, role_label
from dashboard.scope import Account, callback_scope, client_ip, current_account
from geo import rule_settings
from geo.db import connect
from geo.users import ENTERPRISE_ROLE, UserError, UserRecord, audit, list_users, set_department

ALL = ""  # the dropdown's value for "every department"


def _table(users: list[UserRecord], label: Any) -> html.Table:
    head = ["用户名", "姓名", "角色", "数据范围", "监管部门", "状态", "最近登录"]
    rows = [html.Tr([
        html.Td(u.username), html.Td(u.display_name or ""), html.Td(role_label(u.role)),
        html.Td(f"{u.scope_name}（{u.scope_code}）"), html.Td(label(u.dept_code) or "全部"),
        html.Td("已锁定" if u.is_locked else ("正常" if u.active else "已停用")),
        html.Td(f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "从未登录"),
    ]) for u in users]
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="sg-table",
                      id="admin-users-table")


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Table of the accounts whose scope lies inside the admin's scope, and the department form."""
    with connect() as conn:
        users = list_users(conn, scope=account.scope)
        catalogue = rule_settings.department_catalogue(conn)
    choosable = [u for u in users if u.role != ENTERPRISE_ROLE]
    return html.Div([
        html.H2("用户管理"),
        html.P("账户的创建、停用、改密和调整数据范围请使用命令行 safegrid users …（操作均记入审计日志）。",
               className="sg-note"),
        _table(users, catalogue.label),
        html.H3("监管部门"),
        html.P("管行业必须管安全：限定到某一监管部门的账户只能查看本部门监管的企业及其隐患、检查和事故"
               "（在其数据范围内）。修改后该账户需重新登录。", className="sg-note"),
        html.Div([
            html.Label("账户", htmlFor="admin-users-user"),
            dcc.Dropdown(id="admin-users-user", options=[{"label": f"{u.username}（{u.label}）", "value": u.username}
                                                          for u in choosable], clearable=False,
                         style={"width": "16em"}),
            html.Label("监管部门", htmlFor="admin-users-dept"),
            dcc.Dropdown(id="admin-users-dept", options=[{"label": "全部部门（不限定）", "value": ALL}] + [
                {"label": f"{d.name}（{d.code}）", "value": d.code} for d in catalogue.departments],
                value=ALL, clearable=False, style={"width": "18em"}),
            html.Button("保存", id="admin-users-dept-save", n_clicks=0),
        ], style={"display": "flex", "gap": "0.6em", "alignItems": "center", "flexWrap": "wrap"}),
        dcc.Store(id="admin-users-versions", data={u.username: u.session_version for u in choosable}),
        html.Div(id="admin-users-dept-result", role="status"),
    ])


def change_department(account: Account, *, username: str, dept: str | None, seen_version: int | None) -> str:
    """Set ``username``'s department for ``account`` (checked as the module says); return the message shown."""
    with connect() as conn:
        target = next((u for u in list_users(conn, scope=account.scope) if u.username == username), None)
        if target is None:
            raise UserError("该账户不存在或不在您的管理范围内")
        if seen_version is not None and target.session_version != seen_version:
            raise UserError("该账户已被他人修改，请刷新页面后重试。")
        code = dept or None
        if target.dept_code == code:
            return f"账户 {username} 的监管部门没有变化。"
        catalogue = rule_settings.department_catalogue(conn)
        set_department(conn, username=username, dept_code=code, catalogue=catalogue)
        audit(conn, username=account.username, action="user_set_dept", ip=client_ip(),
              detail={"user": username, "dept": code or "", "was": target.dept_code or ""})
    return f"已将账户 {username} 限定为{catalogue.label(code) if code else '全部监管部门'}，其已登录会话已结束。"


def register(app: Dash) -> None:
    """Add the department form's save callback."""

    @app.callback(
        Output("admin-users-dept-result", "children"), Output("admin-users-table", "children"),
        Output("admin-users-versions", "data"),
        Input("admin-users-dept-save", "n_clicks"), State("admin-users-user", "value"),
        State("admin-users-dept", "value"), State("admin-users-versions", "data"), prevent_initial_call=True,
    )
    def save(_n: int | None, username: str | None, dept: str | None, versions: Any) -> tuple[Any, Any, Any]:
        callback_scope(Capability.MANAGE_USERS)
        account = current_account()
        if account.department is not None:
            return html.P("限定了监管部门的管理员不能修改账户的监管部门。", className="sg-alert"), no_update, no_update
        if not username:
            return html.P("请选择账户。", className="sg-alert"), no_update, no_update
        seen = versions.get(str(username)) if isinstance(versions, dict) else None
        try:
            message = change_department(account, username=str(username)[:50], dept=str(dept or "")[:20] or None,
                                        seen_version=seen if isinstance(seen, int) else None)
        except UserError as exc:
            return html.P(str(exc), className="sg-alert"), no_update, no_update
        with connect() as conn:
            users = list_users(conn, scope=account.scope)
            label = rule_settings.department_catalogue(conn).label
        fresh = {u.username: u.session_version for u in users if u.role != ENTERPRISE_ROLE}
        return html.P(message, className="sg-note", id="admin-users-dept-saved"), _table(users, label).children, fresh


PAGE = Page(path="/admin/users", title="用户管理", layout=layout, register=register,
            capability=Capability.MANAGE_USERS, order=90)
