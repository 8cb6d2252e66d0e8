"""待办 ``/todo``: the hazards awaiting the account's action and the public reports waiting for 核实.

Built by :mod:`dashboard.hazard` from :mod:`geo.todo`; the header's badge counts the same.
"""

from __future__ import annotations

from dash import html

from dashboard.hazard.access import todo_ask
from dashboard.hazard.layout import todo_page
from dashboard.pages import Page
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account
from geo.todo import todo_count, todo_items


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the 待办 list of ``account`` (its scope, its role's part of the loop)."""
    del query
    ask = todo_ask(account)
    items, count = run_read(lambda conn: (todo_items(conn, ask), todo_count(conn, ask)))
    return todo_page(items, count.reports if ask.public_queue else None, account)


PAGE = Page(path="/todo", title="待办", layout=layout, capability=Capability.HAZARD_WORK, in_menu=False, order=35)
