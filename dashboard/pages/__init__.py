"""The page registry: every page is a :class:`Page` value; the shell routes to it and hides what a role may not use.

To add a page, write a module here with a ``PAGE = Page(...)`` and add it to :func:`registered_pages`.
Its ``layout(account, query)`` builds the component tree (called per request, may read the DB through
``geo`` with ``account.scope``); its ``register(app)`` adds the callbacks with ``app.callback`` (not
``dash.callback``: tests build several apps in one process). Prefix component ids with the feature
name (``home-…``, ``map-…``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dashboard.roles import Capability

if TYPE_CHECKING:
    from dash import Dash

    from dashboard.scope import Account


@dataclass(frozen=True)
class Page:
    """A routable page: URL path, Chinese title, the capability it needs, its layout and callbacks."""

    path: str
    title: str
    layout: Callable[[Account, dict[str, str]], Any]
    capability: Capability | None = None
    register: Callable[[Dash], None] | None = None
    in_menu: bool = True
    order: int = 100
    # The page reads ``?query`` changes itself (own dcc.Location): the shell does not rebuild it for them.
    own_query: bool = False


def registered_pages() -> list[Page]:
    """Return every page of the app, in menu order."""
    from dashboard.pages import (
        accident,
        admin_rules,
        admin_users,
        bigscreen,
        command_map,
        coverage,
        draws,
        enterprise,
        hazard,
        hazards,
        home,
        inspection,
        inspections,
        patrol,
        reports,
        risk,
        scorecards,
        targets,
        todo,
        tokens,
    )

    return sorted([command_map.PAGE, home.PAGE, admin_users.PAGE, enterprise.PAGE, hazards.PAGE,
                   risk.PAGE, bigscreen.PAGE, reports.PAGE, hazard.PAGE, hazard.NEW_PAGE, todo.PAGE,
                   tokens.PAGE, patrol.PAGE, inspection.PAGE, inspection.NEW_PAGE, draws.PAGE, draws.PUBLIC_PAGE,
                   admin_rules.PAGE, coverage.PAGE, inspections.PAGE, accident.PAGE,
                   targets.PAGE, scorecards.PAGE],
                  key=lambda p: p.order)


def page_for_path(pages: list[Page], path: str) -> Page | None:
    """Return the page served at ``path`` (trailing slash ignored)."""
    path = path.rstrip("/") or "/"
    return next((p for p in pages if p.path == path), None)
