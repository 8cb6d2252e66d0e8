"""User list for administrators (accounts within the admin's own scope)."""

from __future__ import annotations

from dash import html

from dashboard.pages import Page
from dashboard.roles import Capability, role_label
from dashboard.scope import Account
from geo.db import connect
from geo.users import list_users


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Table of the accounts whose scope lies inside the admin's scope."""
    with connect() as conn:
        users = list_users(conn, scope=account.scope)
    head = ["用户名", "姓名", "角色", "数据范围", "状态", "最近登录"]
    rows = [html.Tr([
        html.Td(u.username), html.Td(u.display_name or ""), html.Td(role_label(u.role)),
        html.Td(f"{u.scope_name}（{u.scope_code}）"),
        html.Td("已锁定" if u.is_locked else ("正常" if u.active else "已停用")),
        html.Td(f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "从未登录"),
    ]) for u in users]
    return html.Div([
        html.H2("用户管理"),
        html.P("账户的创建、停用、改密和调整数据范围请使用命令行 safegrid users …（操作均记入审计日志）。",
               className="sg-note"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="sg-table",
                   id="admin-users-table"),
    ])


PAGE = Page(path="/admin/users", title="用户管理", layout=layout, capability=Capability.MANAGE_USERS, order=90)
