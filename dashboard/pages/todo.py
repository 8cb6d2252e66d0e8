"""待办 ``/todo``: hazards awaiting the account, public reports waiting for 核实, cells not yet patrolled today.

For accounts that patrol (grid managers) today's grid cells without a patrol each link to ``/patrol?cell=CODE``.
The hazards are built by :mod:`dashboard.hazard` from :mod:`geo.todo`; the header's badge counts the same.
Whether the patrol list shows is the server's decision from the role (capability ``patrol``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from dashboard.hazard.access import todo_ask, todo_counts
from dashboard.hazard.layout import todo_page
from dashboard.pages import Page
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account
from domain import clock
from geo.todo import TODO_LIST_LIMIT, PatrolDue, patrols_due, todo_items


def patrol_section(cells: list[PatrolDue], due: int, total: int) -> html.Section:
    """Render 今日巡查: the cells not patrolled today, each linking to the patrol form."""
    if not total:
        return html.Section(id="todo-patrols")
    if not due:
        body: Any = html.P(f"今日 {total} 个网格均已巡查。", className="sg-note", id="todo-patrols-done")
    else:
        items = [html.Li([
            dcc.Link(f"巡查 {c.name}", href="/patrol?" + urlencode({"cell": c.code}), className="todo-link",
                     id={"type": "todo-patrol", "cell": c.code}),
            html.Span(f" · {c.village or ''} · "
                      + (f"最近巡查 {c.last_patrol:%Y-%m-%d}" if c.last_patrol else "尚无巡查记录"),
                      className="sg-note"),
        ], className="todo-patrol") for c in cells]
        more = [html.P(f"仅显示前 {len(cells)} 个。", className="sg-note")] if due > len(cells) else []
        body = html.Div([html.Ul(items, className="todo-patrol-list"), *more])
    return html.Section([
        html.H3(["今日巡查 ", html.Span(f"未巡查 {due} / 共 {total} 个网格", className="hz-badge",
                                    id="todo-patrols-count")]),
        body,
    ], className="todo-patrols", id="todo-patrols")


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the 待办 list of ``account`` (its scope, its role's part of the loop, today's patrols); ``?page=N``."""
    ask = todo_ask(account)
    patrols = account.can(Capability.PATROL)
    count = todo_counts(account)
    items, due = run_read(lambda conn: (
        todo_items(conn, ask, limit=TODO_LIST_LIMIT),
        patrols_due(conn, scope=account.scope, today=clock.today()) if patrols else None))
    number = query.get("page", "1")
    page = todo_page(items, count.reports if ask.public_queue else None, account,
                     page=int(number) if number.isascii() and number.isdigit() and len(number) < 6 else 1,
                     listed_max=TODO_LIST_LIMIT)
    if due is None:
        return page
    return html.Div([page, patrol_section(*due)], className="todo-wrap")


PAGE = Page(path="/todo", title="待办", layout=layout, capability=Capability.HAZARD_WORK, in_menu=False, order=35)
