"""The page registry: every page is a :class:`Page` value; the shell routes to it and hides what a role may not use.

To add a page, write a module here with a ``PAGE = Page(...)`` and add it to :func:`registered_pages`, and
put its path in a group of :data:`MENU` (the header's dropdowns; a page with ``in_menu`` but no group shows as a
plain link after them).
Its ``layout(account, query)`` builds the component tree (called per request, may read the DB through
``geo`` with ``account.scope``); its ``register(app)`` adds the callbacks with ``app.callback`` (not
``dash.callback``: tests build several apps in one process). Prefix component ids with the feature
name (``home-…``, ``map-…``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
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
    # Its menu group (a :data:`MENU` key), set by :func:`registered_pages` from that table.
    group: str | None = None


@dataclass(frozen=True)
class MenuGroup:
    """A header menu group: key (ids, CSS), Chinese title, the pages it lists in order, others that belong to it.

    The current page's group is highlighted; ``also`` pages (reached from the listed ones) count as the group's.
    """

    key: str
    title: str
    listed: tuple[str, ...]
    also: tuple[str, ...] = ()


# The header menu, grouped as the work is: one map, the hazard loop, inspections, targets, administration.
# A group lists only the pages the account's role may use; a group left with one page shows as a plain link.
# ``listed`` decides the menu for these pages (it lists /draws and /hazard/new, which predate the groups with
# in_menu=False because the flat menu had no room).
MENU: tuple[MenuGroup, ...] = (
    MenuGroup("map", "一张图", ("/", "/overview", "/risk", "/bigscreen"), also=("/enterprise",)),
    MenuGroup("hazard", "隐患", ("/hazards", "/hazard/new", "/reports"), also=("/hazard", "/todo")),
    MenuGroup("check", "检查", ("/inspection", "/patrol", "/draws", "/inspections", "/coverage"),
              also=("/inspection/new", "/draws/public")),
    MenuGroup("assess", "考核", ("/targets", "/scorecards", "/accident/new")),
    MenuGroup("admin", "管理", ("/admin/users", "/admin/rules", "/tokens")),
)


def _grouped(page: Page) -> Page:
    """Return ``page`` with its :data:`MENU` group (and menu listing) set; a page not in the table as it is."""
    for group in MENU:
        if page.path in group.listed or page.path in group.also:
            return replace(page, group=group.key, in_menu=page.path in group.listed)
    return page


def registered_pages() -> list[Page]:
    """Return every page of the app (by ``order``; the menu's order is :data:`MENU`'s), with its group set."""
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

    return sorted([_grouped(p) for p in [command_map.PAGE, home.PAGE, admin_users.PAGE, enterprise.PAGE, hazards.PAGE,
                   risk.PAGE, bigscreen.PAGE, reports.PAGE, hazard.PAGE, hazard.NEW_PAGE, todo.PAGE,
                   tokens.PAGE, patrol.PAGE, inspection.PAGE, inspection.NEW_PAGE, draws.PAGE, draws.PUBLIC_PAGE,
                   admin_rules.PAGE, coverage.PAGE, inspections.PAGE, accident.PAGE,
                   targets.PAGE, scorecards.PAGE]],
                  key=lambda p: p.order)


def page_for_path(pages: list[Page], path: str) -> Page | None:
    """Return the page served at ``path`` (trailing slash ignored)."""
    path = path.rstrip("/") or "/"
    return next((p for p in pages if p.path == path), None)
