"""The grouped header menu (dashboard/shell.py nav_menu, dashboard/pages MENU, assets/nav.js, nav.css, phone.css).

Each role sees exactly the groups and pages its capabilities allow (a table of cases, checked against the
registry and in real Chromium), a group with one page is a plain link, the dropdowns open and close with
the keyboard, the mouse and touch, the current page's group is highlighted, the menu is one row at 1280
and 1440 px, and a phone shows the groups as sections of the ☰ fold-out. Screenshots: nav_*.png.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from dashboard.pages import MENU, registered_pages
from dashboard.roles import ROLE_CAPABILITIES, can
from dashboard.scope import Account
from dashboard.shell import nav_id, nav_menu
from geo.users import UserRecord
from tests.browser import click_nav, login, make_user, screenshot_dir, watched_page

pytestmark = [pytest.mark.browser, pytest.mark.db]
SHOTS = screenshot_dir()
TOWNSHIP = "411002001"  # 西大街道 of tests/fixtures_units.py
CITY = "411000"

MAP, OVERVIEW, RISK, BIG = "/", "/overview", "/risk", "/bigscreen"
HAZARDS, REPORT, REPORTS = "/hazards", "/hazard/new", "/reports"
FOUR, PATROL, DRAWS, LEDGER, COVERAGE = "/inspection", "/patrol", "/draws", "/inspections", "/coverage"
TARGETS, SCORES, ACCIDENT = "/targets", "/scorecards", "/accident/new"
USERS, RULES, TOKENS = "/admin/users", "/admin/rules", "/tokens"

# role → the menu it sees: (group key, the group's pages in menu order); one page = a plain link.
EXPECTED: dict[str, list[tuple[str, list[str]]]] = {
    "admin": [("map", [MAP, OVERVIEW, RISK, BIG]), ("hazard", [HAZARDS, REPORTS]),
              ("check", [FOUR, PATROL, DRAWS, LEDGER, COVERAGE]), ("assess", [TARGETS, SCORES, ACCIDENT]),
              ("admin", [USERS, RULES, TOKENS])],
    "leader": [("map", [MAP, OVERVIEW, RISK, BIG]), ("hazard", [HAZARDS]), ("check", [FOUR, DRAWS, LEDGER, COVERAGE]),
               ("assess", [TARGETS, SCORES, ACCIDENT]), ("admin", [TOKENS])],
    "grid_manager": [("map", [MAP, OVERVIEW]), ("hazard", [HAZARDS, REPORT, REPORTS]),
                     ("check", [FOUR, PATROL, LEDGER, COVERAGE]), ("admin", [TOKENS])],
    "planner": [("map", [MAP, OVERVIEW, RISK]), ("hazard", [HAZARDS]), ("check", [FOUR, LEDGER, COVERAGE]),
                ("assess", [TARGETS, SCORES]), ("admin", [TOKENS])],
    "inspector": [("map", [MAP, OVERVIEW]), ("hazard", [HAZARDS, REPORT]), ("check", [FOUR, LEDGER, COVERAGE]),
                  ("assess", [ACCIDENT]), ("admin", [TOKENS])],
    "enterprise": [("hazard", [REPORT])],  # 自查自报; its file is its landing page, 待办 the header badge
}
BROWSER_ROLES = ["admin", "leader", "grid_manager", "planner", "inspector"]
PAGES = {p.path: p for p in registered_pages()}
TITLES = {g.key: g.title for g in MENU}


def _account(role: str) -> Account:
    """An account of ``role`` that never touches the database (nav_menu asks only what it may use)."""
    return Account(UserRecord(id=1, username="nav", display_name=None, password_hash="x", role=role, active=True,
                              session_version=1, failed_logins=0, locked_until=None, is_locked=False,
                              last_login_at=datetime(2026, 1, 1), scope_unit_id=1, scope_code=CITY, scope_name="许昌市",
                              scope_level=1, scope_path="411000", enterprise_id=1 if role == "enterprise" else None))


def _rendered(items: list[Any]) -> list[tuple[str, list[str]]]:
    """(group key, link hrefs) of nav_menu's components."""
    out = []
    for item in items:
        links = [c for c in _walk(item) if getattr(c, "className", "") == "sg-nav-link"]
        out.append((item.to_plotly_json()["props"]["data-group"], [link.href for link in links]))
    return out


def _walk(node: Any) -> list[Any]:
    children = getattr(node, "children", None)
    kids = children if isinstance(children, list) else [children] if children is not None else []
    return [node] + [d for k in kids if not isinstance(k, str) for d in _walk(k)]


def test_registry_groups_every_menu_page() -> None:
    grouped = [path for g in MENU for path in g.listed + g.also]
    assert len(grouped) == len(set(grouped)), "a page in two groups"
    assert set(grouped) <= PAGES.keys(), set(grouped) - PAGES.keys()
    for page in PAGES.values():
        if page.in_menu:
            assert page.group is not None, f"{page.path}: put it in a group of dashboard.pages.MENU"
        if page.group is not None:
            assert page.in_menu == (page.path in next(g.listed for g in MENU if g.key == page.group)), page.path


@pytest.mark.parametrize("role", sorted(ROLE_CAPABILITIES))
def test_each_role_sees_what_its_capabilities_allow(role: str) -> None:
    assert role in EXPECTED, f"add the menu of role {role} to EXPECTED"
    allowed = [(g.key, [p for p in g.listed if can(role, PAGES[p].capability)]) for g in MENU]
    if role == "enterprise":  # confined: no page open to every signed-in user (dashboard/scope.py)
        allowed = [(k, [p for p in paths if PAGES[p].capability is not None]) for k, paths in allowed]
    assert [(k, paths) for k, paths in allowed if paths] == EXPECTED[role]
    assert _rendered(nav_menu(_account(role), list(PAGES.values()))) == EXPECTED[role]


def _menu_in_dom(page: Any) -> list[dict[str, Any]]:
    """The menu as the browser shows it: per group its key, button (text, aria-expanded) and links."""
    result: list[dict[str, Any]] = page.evaluate("""() => [...document.querySelectorAll('#shell-nav > .sg-nav-group')]
        .map(g => {
            const b = g.querySelector(':scope > .sg-nav-toggle');
            return {key: g.dataset.group, button: b && b.textContent, expanded: b && b.getAttribute('aria-expanded'),
                    controls: b && b.getAttribute('aria-controls'),
                    links: [...g.querySelectorAll('a.sg-nav-link')].map(a => ({id: a.id, href: a.getAttribute('href'),
                                                                               text: a.textContent}))};
        })""")
    return result


def _one_row(page: Any) -> dict[str, Any]:
    """Geometry of the header: the groups' tops, header height, overflow and the right edge of the user box."""
    found: dict[str, Any] = page.evaluate("""() => {
        const nav = document.querySelector('#shell-nav'), header = document.querySelector('#shell-header');
        const items = [...nav.children].map(c => c.getBoundingClientRect());
        const search = document.querySelector('.search-box').getBoundingClientRect();
        return {tops: [...new Set(items.map(r => Math.round(r.top + r.height / 2)))], header: header.offsetHeight,
                navRight: Math.max(...items.map(r => r.right)), searchLeft: search.left,
                userRight: document.querySelector('.sg-userbox').getBoundingClientRect().right,
                overflow: nav.scrollWidth - nav.clientWidth, width: window.innerWidth};
    }""")
    return found


@pytest.mark.parametrize("role", BROWSER_ROLES)
def test_menu_in_chromium(live_server: str, browser_page: Any, engine: Engine, role: str) -> None:
    page = browser_page
    user, password = make_user(engine, role=role, scope=CITY if role in ("admin", "leader") else TOWNSHIP)
    login(page, live_server, user, password, expect_path=OVERVIEW)
    shown = _menu_in_dom(page)
    assert [(g["key"], [link["href"] for link in g["links"]]) for g in shown] == EXPECTED[role]
    for group, (key, paths) in zip(shown, EXPECTED[role], strict=True):
        assert [link["id"] for link in group["links"]] == [nav_id(PAGES[p]) for p in paths]
        assert [link["text"] for link in group["links"]] == [PAGES[p].title for p in paths]
        if len(paths) == 1:
            assert group["button"] is None  # a plain link (its group's name shows on phones only)
            assert not page.is_visible(f".sg-nav-group[data-group='{key}'] .sg-nav-heading")
        else:
            assert (group["button"], group["expanded"], group["controls"]) == (TITLES[key], "false",
                                                                                f"shell-navmenu-{key}")
            assert not page.is_visible(f"#{group['links'][0]['id']}")  # closed until asked
    page.wait_for_selector(".sg-nav-group.sg-nav-current[data-group='map']")  # /overview is in 一张图
    assert page.locator("#shell-nav").get_attribute("data-current") == "map"
    for width in (1920, 1440, 1280, 1024):
        page.set_viewport_size({"width": width, "height": 900})
        if width == 1280:  # the tightest of the two the menu must fit
            page.locator("#shell-header").screenshot(path=str(SHOTS / f"nav_header_{role}_1280.png"))
        geometry = _one_row(page)
        assert len(geometry["tops"]) == 1 and geometry["header"] == 56 and geometry["overflow"] <= 0, geometry
        assert geometry["navRight"] <= geometry["searchLeft"] and geometry["userRight"] <= width, geometry
    page.set_viewport_size({"width": 1440, "height": 900})
    if role in ("admin", "leader", "grid_manager"):
        page.click("#shell-navgroup-check")
        page.wait_for_selector("#shell-navmenu-check", state="visible")
        page.screenshot(path=str(SHOTS / f"nav_{role}_1440.png"))
    assert page.console_errors == []


def test_keyboard_mouse_and_current_group(live_server: str, browser_page: Any, engine: Engine) -> None:
    page = browser_page
    user, password = make_user(engine, role="admin", scope=CITY)
    login(page, live_server, user, password, expect_path=OVERVIEW)
    check, assess = page.locator("#shell-navgroup-check"), page.locator("#shell-navgroup-assess")
    focused = "() => document.activeElement.id"

    check.focus()
    page.keyboard.press("Enter")  # opens
    assert check.get_attribute("aria-expanded") == "true" and page.is_visible("#shell-navmenu-check")
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == "shell-nav-inspection"
    page.keyboard.press("ArrowUp")  # wraps to the last
    assert page.evaluate(focused) == "shell-nav-coverage"
    page.keyboard.press("Home")
    assert page.evaluate(focused) == "shell-nav-inspection"
    page.keyboard.press("Escape")  # closes, focus back on the button
    assert check.get_attribute("aria-expanded") == "false" and not page.is_visible("#shell-navmenu-check")
    assert page.evaluate(focused) == "shell-navgroup-check"
    page.keyboard.press(" ")  # Space opens too
    assert check.get_attribute("aria-expanded") == "true"
    page.keyboard.press("Space")
    assert check.get_attribute("aria-expanded") == "false"

    page.keyboard.press("ArrowDown")  # ↓ on the button opens and enters the list
    assert check.get_attribute("aria-expanded") == "true" and page.evaluate(focused) == "shell-nav-inspection"
    page.keyboard.press("End")
    page.keyboard.press("Tab")  # out of the group: it closes
    assert page.evaluate(focused) == "shell-navgroup-assess"
    assert check.get_attribute("aria-expanded") == "false"

    check.click()  # mouse: one group open at a time, a click elsewhere closes
    assess.click()
    assert (check.get_attribute("aria-expanded"), assess.get_attribute("aria-expanded")) == ("false", "true")
    page.mouse.click(700, 500)
    assert assess.get_attribute("aria-expanded") == "false"

    page.keyboard.press("Escape")  # nothing open: Esc does nothing here
    check.click()
    page.click("#shell-nav-coverage")  # follow a link: the page changes, the menu closes, the group is current
    page.wait_for_url(f"{live_server}/coverage")
    page.wait_for_selector(".sg-nav-group.sg-nav-current[data-group='check']")
    assert check.get_attribute("aria-expanded") == "false"
    assert page.locator("#shell-nav-coverage").get_attribute("aria-current") == "page"
    assert page.locator(".sg-nav-current").count() == 1 and page.locator("[aria-current=page]").count() == 1

    click_nav(page, "#shell-nav-admin-users")  # the tests' helper opens the closed group first
    page.wait_for_url(f"{live_server}/admin/users")
    page.wait_for_selector(".sg-nav-group.sg-nav-current[data-group='admin']")
    page.go_back()  # history: the highlight follows
    page.wait_for_selector(".sg-nav-group.sg-nav-current[data-group='check']")
    page.goto(f"{live_server}/hazards")  # a full load marks the current group too
    page.wait_for_selector(".sg-nav-group.sg-nav-current[data-group='hazard']")

    page.goto(f"{live_server}/")  # over the command map: the open list is on top of Leaflet's panes and controls
    page.wait_for_selector(".leaflet-container .leaflet-control-zoom")
    page.click("#shell-navgroup-map")
    for link in page.locator("#shell-navmenu-map a").all():
        r = link.bounding_box()
        top = page.evaluate("([x, y]) => document.elementFromPoint(x, y).id", [r["x"] + 8, r["y"] + r["height"] / 2])
        assert top == link.get_attribute("id"), top
    page.screenshot(path=str(SHOTS / "nav_admin_map_open.png"))
    assert page.console_errors == []


def test_touch_tablet(live_server: str, chromium: Any, engine: Engine) -> None:
    user, password = make_user(engine, role="leader", scope=CITY)
    with watched_page(chromium, viewport={"width": 1280, "height": 800}, has_touch=True) as page:
        login(page, live_server, user, password, expect_path=OVERVIEW)
        page.locator("#shell-navgroup-assess").tap()
        assert page.locator("#shell-navgroup-assess").get_attribute("aria-expanded") == "true"
        page.locator("#shell-nav-targets").tap()
        page.wait_for_url(f"{live_server}/targets")
        page.wait_for_selector(".sg-nav-group.sg-nav-current[data-group='assess']")
        assert not page.is_visible("#shell-navmenu-assess")
        assert page.console_errors == []


def test_phone_shows_groups_as_sections(live_server: str, chromium: Any, engine: Engine) -> None:
    user, password = make_user(engine, role="grid_manager", scope=TOWNSHIP)
    with watched_page(chromium, viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                      has_touch=True) as page:
        page.goto(f"{live_server}/login?next={OVERVIEW}")
        page.fill("#username", user)
        page.fill("#password", password)
        page.locator("button[type=submit]").tap()
        page.wait_for_selector("#shell-menu")
        assert not page.is_visible("#shell-nav")
        page.locator("#shell-menu").tap()
        page.wait_for_selector("#shell-header.sg-menu-open")
        for key, paths in EXPECTED["grid_manager"]:
            toggle = f"#shell-navgroup-{key}"
            if len(paths) > 1:  # a section: the group's name over its links
                assert page.locator(toggle).inner_text() == TITLES[key] and page.is_visible(toggle)
                assert page.locator(toggle).get_attribute("aria-expanded") == "true"
                page.locator(toggle).tap()  # a heading here: nothing folds
                assert page.locator(toggle).get_attribute("aria-expanded") == "true"
            else:  # one page: the group's name is a heading too (on phones only)
                heading = page.locator(f".sg-nav-group[data-group='{key}'] .sg-nav-heading")
                assert heading.inner_text() == TITLES[key] and heading.is_visible()
            for path in paths:
                link = page.locator(f"#{nav_id(PAGES[path])}")
                assert link.is_visible(), path
                r = link.bounding_box()
                assert r is not None and r["x"] >= 0 and r["x"] + r["width"] <= 360 and r["height"] >= 36, (path, r)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(SHOTS / "nav_phone_360.png"), full_page=True)
        page.locator("#shell-nav-patrol").tap()
        page.wait_for_url(f"{live_server}/patrol")
        page.wait_for_function("!document.querySelector('#shell-header').classList.contains('sg-menu-open')")
        page.locator("#shell-menu").tap()
        page.wait_for_selector(".sg-nav-group.sg-nav-current[data-group='check']")
        assert page.locator("#shell-nav-patrol").get_attribute("aria-current") == "page"
        page.screenshot(path=str(SHOTS / "nav_phone_360_patrol.png"))
        assert page.console_errors == []
