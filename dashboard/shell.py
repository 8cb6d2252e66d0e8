"""The app shell: header (user, role, scope, data freshness, logout), role-filtered menu and the page router.

The menu is :data:`dashboard.pages.MENU`'s groups, each a disclosure (button with ``aria-expanded`` and a list
of links) opened, closed and highlighted by ``assets/nav.js``; a group with one page the role may use is a
plain link. Phones (``assets/phone.css``) show the groups as sections of the ☰ fold-out. The menu is one HTML
block (nothing in it needs Dash: ~40 components fewer on every page, and on every store update); its links
navigate inside the app through ``assets/nav.js`` (``a[data-link]``), as ``dcc.Link`` does.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from dash import Dash, Input, Output, State, dcc, html, set_props
from flask import redirect, request
from flask_login import current_user
from markupsafe import Markup

from dashboard.auth import CSRF_FIELD, csrf_token
from dashboard.components.search import register as register_search
from dashboard.components.search import search_box
from dashboard.dry import static_html
from dashboard.errors import AppError, BadRequestError, ForbiddenError, NotFoundError, to_app_error
from dashboard.hazard.access import badge_count
from dashboard.pages import MENU, MenuGroup, Page, page_for_path
from dashboard.roles import Capability
from dashboard.scope import Account, current_account, landing_path
from dashboard.settings import DashboardSettings
from domain.labels import LEVEL
from geo.db import connect
from geo.todo import BADGE_CAP
from geo.units import data_freshness


def message_box(error: AppError) -> html.Div:
    """Show a Chinese message in place of page content."""
    return html.Div(error.message, className="sg-alert", role="alert")


def callback_error(exc: Exception) -> None:
    """Global Dash ``on_error``: show the mapped Chinese message in the shell alert, leave outputs as they are."""
    set_props("shell-alert", {"children": message_box(to_app_error(exc))})


def _freshness() -> str:
    with connect() as conn:
        at = data_freshness(conn)
    return f"数据更新于 {at:%Y-%m-%d %H:%M}" if at else "数据尚未刷新"


def nav_id(page: Page) -> str:
    """Return the component id of a page's menu entry, e.g. ``shell-nav-admin-users``."""
    return "shell-nav-" + (page.path.strip("/").replace("/", "-") or "home")


def badge_text(n: int) -> str:
    """Return the 待办 badge's text: the number, or "999+" past :data:`~geo.todo.BADGE_CAP` (counted no further)."""
    return f"{BADGE_CAP}+" if n > BADGE_CAP else str(n)


def todo_link(account: Account) -> Any:
    """Return the 待办 link with its count (hazards awaiting the account, reports to 核实); None without the loop."""
    if not account.can(Capability.HAZARD_WORK):
        return None
    n = badge_count(account)
    shown = badge_text(n)
    return dcc.Link(["待办", html.Span(shown, className="sg-todo-count" + (" sg-todo-zero" if not n else ""),
                                       id="shell-todo-count")],
                    href="/todo", className="sg-todo", id="shell-todo", title=f"待办事项 {shown} 项")


_MENU_ATTRS: dict[str, Any] = {"aria-label": "菜单", "aria-controls": "shell-header"}
_NAV_ATTRS: dict[str, Any] = {"aria-label": "主菜单"}
_LINK_ATTRS: dict[str, Any] = {"data-link": "nav"}  # followed inside the app (assets/nav.js)


def _nav_link(page: Page) -> html.A:
    return html.A(page.title, href=page.path, className="sg-nav-link", id=nav_id(page), **_LINK_ATTRS)


def _nav_group(group: MenuGroup, listed: list[Page], paths: list[str]) -> html.Div:
    """One menu group: a dropdown of ``listed``, or the plain link of its only page; ``paths`` mark it current."""
    attrs: dict[str, Any] = {"data-group": group.key, "data-paths": " ".join(paths)}
    if len(listed) == 1:  # the group's name is a section heading on phones only (phone.css)
        heading = html.Span(group.title, className="sg-nav-heading") if group.title != listed[0].title else None
        return html.Div([heading, _nav_link(listed[0])], className="sg-nav-group sg-nav-single", **attrs)
    menu_id = f"shell-navmenu-{group.key}"
    toggle: dict[str, Any] = {"aria-expanded": "false", "aria-controls": menu_id}
    labelled: dict[str, Any] = {"aria-label": group.title}
    return html.Div([
        html.Button(group.title, id=f"shell-navgroup-{group.key}", className="sg-nav-toggle", type="button",
                    **toggle),
        html.Ul([html.Li(_nav_link(p)) for p in listed], id=menu_id, className="sg-nav-menu", **labelled),
    ], className="sg-nav-group", **attrs)


def nav_menu(account: Account, pages: list[Page]) -> list[html.Div]:
    """Return the menu groups ``account`` may see (:data:`MENU` order), then ungrouped menu pages as plain links."""
    usable = {p.path: p for p in pages if account.can(p.capability)}
    items = []
    for group in MENU:
        listed = [usable[path] for path in group.listed if path in usable]
        if listed:
            paths = [path for path in group.listed + group.also if path in usable]
            items.append(_nav_group(group, listed, paths))
    for page in usable.values():
        if page.in_menu and page.group is None:
            items.append(_nav_group(MenuGroup(nav_id(page), page.title, (page.path,)), [page], [page.path]))
    return items


def _header(account: Account, pages: list[Page], title: str) -> html.Header:
    record = account.record
    level = LEVEL.get(record.scope_level, "")
    logout = Markup('<form action="/logout" method="POST" class="sg-logout"><input type="hidden" name="{}" value="{}">'
                    '<button type="submit" class="sg-link-button" id="shell-logout">退出登录</button></form>'
                    ).format(CSRF_FIELD, csrf_token())
    return html.Header([
        html.Div(title, className="sg-brand"),
        # Phones (assets/phone.css): nav, search and the user box fold behind this button; 待办 stays out.
        html.Button("☰", id="shell-menu", className="sg-menu-button", title="菜单", n_clicks=0, **_MENU_ATTRS),
        static_html(html.Nav(nav_menu(account, pages), className="sg-nav", id="shell-nav", **_NAV_ATTRS),
                    "sg-nav-host"),
        search_box(account),
        html.Div([
            todo_link(account),  # a Dash component: the router updates its count
            # The rest never changes on the page: one HTML block laid out as the box's items (base.css).
            static_html([
                html.Span(account.label, className="sg-user", id="shell-user",
                          title=f"{account.label}（{account.role_label}）"),
                html.Span(account.role_label, className="sg-role", id="shell-role"),
                html.Span([html.Span(f"{level} · ", className="sg-scope-level"), record.scope_name],
                          className="sg-scope", id="shell-scope",
                          title=f"数据范围：{level} {record.scope_name}（{record.scope_code}）"),
                html.Span(_freshness(), className="sg-freshness", id="shell-freshness"),
                logout,
            ], "sg-userbox-host"),
        ], className="sg-userbox"),
    ], className="sg-header", id="shell-header")


def init_app(app: Dash, pages: list[Page], settings: DashboardSettings) -> None:
    """Install the shell layout and the router callback on ``app``."""

    def layout() -> Any:
        body: list[Any] = [dcc.Location(id="shell-url", refresh=False), dcc.Store(id="shell-route")]
        if current_user.is_authenticated:
            body.append(_header(current_account(), pages, settings.app_title))
        body += [html.Div(id="shell-alert"), html.Main(id="shell-content", className="sg-content")]
        return html.Div(body, className="sg-app")

    app.layout = layout
    register_search(app)
    # The phone menu opens and closes with its button and closes on every page change (pure UI); on the first
    # load and every page change the current page's menu group is highlighted (assets/nav.js sgNav.mark).
    app.clientside_callback(
        """function(n, path, cls) {
            var menu = window.dash_clientside.callback_context.triggered_id === 'shell-menu';
            if (!menu && window.sgNav) { window.sgNav.mark(path); }
            return menu && !(cls || '').includes('sg-menu-open') ? 'sg-header sg-menu-open' : 'sg-header';
        }""",
        Output("shell-header", "className"), Input("shell-menu", "n_clicks"), Input("shell-url", "pathname"),
        State("shell-header", "className"),
    )

    def page_guard() -> Any:
        """Refuse a direct GET of a page the role may not use with a real 403 (not just hidden content)."""
        page = page_for_path(pages, request.path)
        if page is not None and current_user.is_authenticated and not current_account().can(page.capability):
            if request.path == "/" and (home := landing_path(current_account())) != "/":
                return redirect(home)  # an enterprise account lands on its own file
            raise ForbiddenError()
        return None

    app.server.before_request(page_guard)

    # The route the server builds a page for: the URL, except that a new query on a page that reads its own query
    # (the command map's ?unit=, every drill-down step) changes nothing here, so no request leaves for it.
    own_query = json.dumps(sorted(p.path for p in pages if p.own_query))
    app.clientside_callback(
        f"""function(pathname, search, last) {{
            var path = (pathname || '/').replace(/\\/+$/, '') || '/';
            if (last && last.pathname === path && {own_query}.indexOf(path) >= 0) {{
                return window.dash_clientside.no_update;
            }}
            return {{pathname: path, search: search || ''}};
        }}""",
        Output("shell-route", "data"), Input("shell-url", "pathname"), Input("shell-url", "search"),
        State("shell-route", "data"),
    )

    @app.callback(
        Output("shell-content", "children"), Output("shell-alert", "children"),
        Input("shell-route", "data"), prevent_initial_call=True,
    )
    def route(where: Any) -> tuple[Any, Any]:
        if not isinstance(where, dict) or not isinstance(where.get("pathname"), str) \
                or not isinstance(where.get("search", ""), str):
            raise BadRequestError("请求格式有误，请刷新页面后重试。")
        pathname, search = where["pathname"], where.get("search", "")
        account = current_account()
        page = page_for_path(pages, pathname or "/")
        if page is None:
            return message_box(NotFoundError("页面不存在。")), None
        if not account.can(page.capability):
            return message_box(ForbiddenError()), None
        query = dict(parse_qsl((search or "").lstrip("?")))
        if account.can(Capability.HAZARD_WORK):  # the badge follows every navigation (cached per data version)
            set_props("shell-todo", {"children": todo_link(account).children})
        return page.layout(account, query), None
