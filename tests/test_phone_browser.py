"""The command map on a phone (360×740 and 390×844, touch) in real Chromium, on the small 许昌 demo.

The map takes at least 55 % of the height with the panel below it scrolling on its own; the header is
brand · 待办 · ☰, and the menu reveals the pages, the search box and sign-out; a tap on a unit drills down.
The screenshot goes to phone_command_map.png in screenshot_dir() (docs/screenshots under `make screenshots`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.browser import make_user, screenshot_dir, watched_page
from tests.demo_fixture import demo_db
from tests.test_command_map_browser import demo_engine, demo_server, wait_unit

__all__ = ["demo_db", "demo_engine", "demo_server"]  # fixtures shared with the desktop command-map test

pytestmark = [pytest.mark.browser, pytest.mark.db]
SHOTS = screenshot_dir()
COUNTY = "411002"  # 魏都区
PHONES = {"360x740": (360, 740), "390x844": (390, 844)}


@pytest.fixture
def phone(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a touch phone context (size from the test's ``size`` parameter, default 360×740)."""
    width, height = PHONES[getattr(request, "param", "360x740")]
    with watched_page(chromium, viewport={"width": width, "height": height}, device_scale_factor=2,
                      is_mobile=True, has_touch=True) as page:
        yield page


def sign_in(page: Any, server: str, engine: Engine, *, role: str = "grid_manager", scope: str = COUNTY) -> None:
    """Sign in on the phone's login form (no header user name to wait for: it sits behind the menu)."""
    user, password = make_user(engine, role=role, scope=scope)
    page.goto(f"{server}/login?next=/")
    page.fill("#username", user)
    page.fill("#password", password)
    page.locator("button[type=submit]").tap()
    page.wait_for_selector("#shell-menu")
    wait_unit(page, scope)


def box(page: Any, selector: str) -> dict[str, float]:
    found: dict[str, float] = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return found


def tappable_unit(page: Any) -> dict[str, Any]:
    """A child unit polygon and a point on it that a finger would hit (not under the legend or the controls)."""
    found: dict[str, Any] = page.evaluate("""() => {
        for (const path of document.querySelectorAll('path.cm-unit')) {
            const r = path.getBoundingClientRect();
            for (const [fx, fy] of [[.5, .5], [.4, .4], [.6, .6], [.4, .6], [.6, .4]]) {
                const x = r.left + r.width * fx, y = r.top + r.height * fy;
                if (document.elementFromPoint(x, y) === path) {
                    const code = [...path.classList].find(c => /^cm-unit-\\d+$/.test(c)).slice(8);
                    return {code, x, y};
                }
            }
        }
        return null;
    }""")
    assert found, "no child unit can be tapped"
    return found


def test_command_map_on_a_phone(demo_server: str, demo_engine: Engine, phone: Any) -> None:
    page = phone
    sign_in(page, demo_server, demo_engine)
    width, height = 360, 740
    # No sideways scrolling; the map is wide and at least 55 % of the height; the panel follows below it.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    the_map, side = box(page, "#cm-map"), box(page, ".cm-side")
    assert the_map["width"] >= width - 1 and the_map["height"] >= 0.55 * height, the_map
    assert side["y"] >= the_map["y"] + the_map["height"] - 1 and side["y"] + side["height"] <= height + 1
    page.wait_for_selector("path.cm-unit")
    assert page.console_errors == [], "first view"

    # Header: brand, 待办 and the menu button on one compact row; search and sign-out fold away.
    header = box(page, "#shell-header")
    assert header["height"] <= 56
    for selector in ("#shell-todo", "#shell-menu"):
        assert page.locator(selector).is_visible(), selector
        b = box(page, selector)
        assert b["x"] + b["width"] <= width and b["y"] < header["height"], selector
    assert not page.locator("#search-input").is_visible() and not page.locator("#shell-logout").is_visible()

    # A tap on a township drills down; the panel below scrolls on its own.
    target = tappable_unit(page)
    page.touchscreen.tap(target["x"], target["y"])
    wait_unit(page, target["code"])
    assert page.url.endswith(f"/?unit={target['code']}")
    page.wait_for_selector("path.cm-unit")
    assert page.evaluate("""() => { const s = document.querySelector('.cm-side');
        return getComputedStyle(s).overflowY === 'auto' && s.scrollHeight > s.clientHeight; }""")
    assert box(page, "#cm-map")["height"] >= 0.55 * height
    page.wait_for_timeout(400)  # labels placed after the fit
    page.screenshot(path=str(SHOTS / "phone_command_map.png"))
    assert page.console_errors == [], "drill"

    # The menu: pages, search and sign-out, all inside the screen.
    page.locator("#shell-menu").tap()
    page.wait_for_selector("#shell-header.sg-menu-open")
    for selector in ("#shell-nav-home", "#search-input", "#shell-logout", "#shell-todo"):
        b = box(page, selector)
        assert page.locator(selector).is_visible() and b["x"] >= 0 and b["x"] + b["width"] <= width, selector
    with demo_engine.connect() as conn:
        name = conn.execute(text(
            "SELECT e.name FROM enterprises e JOIN units u ON u.id = e.unit_id WHERE u.path LIKE :p "
            "ORDER BY e.credit_code LIMIT 1"), {"p": f"411000.{COUNTY}.%"}).scalar_one()
    page.locator("#search-input").tap()
    page.locator("#search-input").fill(name)
    hit = page.locator(".search-hit").first
    hit.wait_for(state="visible")
    assert box(page, ".search-results")["width"] <= width
    hit.tap()
    page.wait_for_selector("#search-ent-name")
    assert name in page.locator("#search-ent-name").inner_text()
    drawer = box(page, "#search-drawer")
    assert drawer["x"] >= 0 and drawer["width"] <= width
    page.locator("#search-drawer-close").tap()
    page.wait_for_selector("#search-drawer", state="hidden")
    assert page.console_errors == [], "search"

    # A page from the menu closes it; sign-out is one tap away again.
    page.locator("#shell-menu").tap() if "sg-menu-open" not in (
        page.locator("#shell-header").get_attribute("class") or "") else None
    page.locator("#shell-nav-hazards").tap()
    page.wait_for_url(f"{demo_server}/hazards")
    page.wait_for_function("!document.querySelector('#shell-header').classList.contains('sg-menu-open')")
    page.locator("#shell-menu").tap()
    page.locator("#shell-logout").tap()
    page.wait_for_url(f"{demo_server}/login")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # the login form fits too
    assert page.console_errors == []


@pytest.mark.parametrize("phone", ["390x844"], indirect=True)
def test_taller_phone_keeps_the_proportions(demo_server: str, demo_engine: Engine, phone: Any) -> None:
    page = phone
    sign_in(page, demo_server, demo_engine, role="inspector")
    the_map, side = box(page, "#cm-map"), box(page, ".cm-side")
    assert the_map["width"] >= 389 and the_map["height"] >= 0.55 * 844
    assert side["height"] >= 150  # room to read the panel
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.console_errors == []
