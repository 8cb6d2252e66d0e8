"""Search and around-a-point on the command map, in real Chromium on the small 许昌 demo (gunicorn).

The header search on ``/`` picks an enterprise → the URL names its grid cell and ``focus=``, the map flies
there (centre and zoom read from the dash-leaflet component), a ring with the name marks it and the file
drawer is open; the same by deep link, for a hazard (the ledger's link) and from another page through the
drawer's "在地图上查看". A click on a free spot lists what ``geo.around`` finds there. Zero console errors.
Writes command_map_search.png to screenshot_dir() (docs/screenshots under `make screenshots`).
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine, text

from geo.around import enterprises_around
from tests.browser import login, make_user, screenshot_dir
from tests.demo_fixture import demo_db
from tests.test_command_map_browser import demo_engine, demo_server, wait_unit

__all__ = ["demo_db", "demo_engine", "demo_server"]
pytestmark = [pytest.mark.browser, pytest.mark.db]
SHOTS = screenshot_dir()  # tests/artifacts/screenshots unless SAFEGRID_SCREENSHOT_DIR (make screenshots)
CITY, COUNTY = "411000", "411002"
RADIUS_M = 1000  # the drawer's default radius

# Centre and zoom of the command map as dash-leaflet last reported them (trackViewport), and the store values.
VIEW_JS = """() => {
  const p = window.dash_component_api.getLayout("cm-map").props;
  const c = p.center;
  return {lat: Array.isArray(c) ? c[0] : c.lat, lon: Array.isArray(c) ? c[1] : c.lng, zoom: p.zoom};
}"""
# A pixel of the map (inside its left half, clear of the controls) where no polygon or marker lies.
FREE_SPOT_JS = """() => {
  const b = document.querySelector("#cm-map").getBoundingClientRect();
  for (let y = b.top + 120; y < b.bottom - 60; y += 20) {
    for (let x = b.left + 80; x < b.left + b.width / 2; x += 20) {
      const el = document.elementFromPoint(x, y);
      if (el && !el.closest(".leaflet-interactive, .leaflet-marker-icon, .leaflet-control, .leaflet-tooltip")
          && el.closest("#cm-map")) { return [x, y]; }
    }
  }
  return null;
}"""
STORE_JS = "(id) => (window.dash_component_api.getLayout(id).props || {}).data || null"


def enterprises(engine: Engine, n: int = 2) -> list[dict[str, Any]]:
    """``n`` located enterprises of 魏都区 with a grid cell, in different grid cells."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            """
            SELECT DISTINCT ON (u.code) e.credit_code, e.name, ST_Y(e.geom) AS lat, ST_X(e.geom) AS lon,
                   u.code AS unit
            FROM enterprises e JOIN units u ON u.id = e.unit_id
            WHERE u.path LIKE :p AND e.geom IS NOT NULL ORDER BY u.code, e.credit_code LIMIT :n
            """
        ), {"p": f"{CITY}.{COUNTY}.%", "n": n}).mappings().all()
    return [dict(r) for r in rows]


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Rough distance in metres between two (lat, lon) points a few kilometres apart."""
    dy = (a[0] - b[0]) * 111_320
    dx = (a[1] - b[1]) * 111_320 * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


def wait_focus(page: Any, *, unit: str, lat: float, lon: float, label: str) -> dict[str, Any]:
    """Wait until the map shows ``unit``, sits at zoom 16 on (lat, lon) and rings the point with ``label``."""
    wait_unit(page, unit)
    page.wait_for_selector("path.cm-focus-ring")
    page.wait_for_function(
        f"() => {{ const v = ({VIEW_JS})(); return v.zoom === 16 && Math.abs(v.lat - {lat}) < 2e-4 "
        f"&& Math.abs(v.lon - {lon}) < 2e-4; }}", timeout=15_000)
    assert page.locator(".cm-focus-tip").inner_text() == label
    view = page.evaluate(VIEW_JS)
    assert metres((view["lat"], view["lon"]), (lat, lon)) < 15
    # The ring is drawn at the centre of the map on screen.
    ring = page.locator("path.cm-focus-ring").bounding_box()
    box = page.locator("#cm-map").bounding_box()
    assert abs(ring["x"] + ring["width"] / 2 - (box["x"] + box["width"] / 2)) < 3
    assert abs(ring["y"] + ring["height"] / 2 - (box["y"] + box["height"] / 2)) < 3
    return view


def pick(page: Any, name: str) -> None:
    """Type part of ``name`` (all but its first two characters) in the header search and click its hit."""
    page.fill("#search-input", "")  # a fresh query, so the same text typed again lists its hits again
    page.wait_for_function("document.querySelectorAll('#search-results .search-hit').length === 0")
    page.fill("#search-input", name[2:])
    page.locator("#search-results .search-hit", has_text=name).first.click()


def test_search_flies_to_the_enterprise_and_around_a_free_spot(
    demo_server: str, demo_engine: Engine, browser_page: Any
) -> None:
    page = browser_page
    first, second = enterprises(demo_engine)
    user, password = make_user(demo_engine, role="grid_manager", scope=CITY)
    login(page, demo_server, user, password)
    wait_unit(page, CITY)

    # Part of the name in the header search; pick the hit: to its grid cell with ?focus=, ring, drawer.
    pick(page, first["name"])
    page.wait_for_url(f"**/?{urlencode({'unit': first['unit'], 'focus': 'enterprise:' + first['credit_code']})}")
    wait_focus(page, unit=first["unit"], lat=first["lat"], lon=first["lon"], label=first["name"])
    page.wait_for_selector("#search-drawer:not([hidden]) #search-ent-name")
    assert first["name"] in page.locator("#search-ent-name").inner_text()
    assert page.locator("#cm-breadcrumb .cm-crumb-current").inner_text()  # the grid cell, in the breadcrumb
    # The enterprise layer shows raw points at zoom 16, the focused one among them.
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises').length > 0")
    page.wait_for_load_state("networkidle")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "command_map_search.png"))

    # The ring survives point-layer refreshes (a pan refetches the layer) and a re-pick flies back.
    page.mouse.move(500, 500)
    page.mouse.down()
    page.mouse.move(300, 380, steps=5)
    page.mouse.up()
    page.wait_for_load_state("networkidle")
    assert page.locator("path.cm-focus-ring").count() == 1
    pick(page, first["name"])
    wait_focus(page, unit=first["unit"], lat=first["lat"], lon=first["lon"], label=first["name"])

    # A free spot: 120 px left of the enterprise (not on a marker) → the around drawer, equal to geo.around.
    box = page.locator("#cm-map").bounding_box()
    x, y = box["x"] + box["width"] / 2 - 120, box["y"] + box["height"] / 2
    hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y).getAttribute('class') || ''", [x, y])
    assert "cm-pt" not in hit and "cm-agg" not in hit
    page.mouse.click(x, y)
    page.wait_for_selector("#search-around:not([hidden]) #search-around-summary")
    point = page.evaluate(STORE_JS, "map-click")
    assert metres((point["lat"], point["lon"]), (first["lat"], first["lon"])) < 400
    with demo_engine.connect() as conn:
        expected = enterprises_around(conn, scope=f"{CITY}.", lat=point["lat"], lon=point["lon"], radius_m=RADIUS_M)
    shown = page.locator("#search-around .search-hit-name").all_inner_texts()
    assert shown == [e["name"] for e in expected] and first["name"] in shown
    assert f"企业 {len(expected)} 家" in page.locator("#search-around-summary").inner_text()
    assert page.locator("#search-drawer-title").inner_text() == "周边查询"
    page.wait_for_selector("path.cm-around-circle")
    page.mouse.move(box["x"] + 5, box["y"] + box["height"] - 5)  # no hover tooltip in the picture
    page.screenshot(path=str(SHOTS / "command_map_around.png"))
    page.click("#search-drawer-close")
    page.wait_for_selector("path.cm-around-circle", state="detached")

    # A spot beside the grid cell (no polygon there: the map's own click) lists its surroundings too.
    free = page.evaluate(FREE_SPOT_JS)
    assert free, "no spot of the map outside every polygon and marker"
    page.mouse.click(*free)
    page.wait_for_selector("#search-around:not([hidden]) #search-around-summary")
    other = page.evaluate(STORE_JS, "map-click")
    assert other != point
    with demo_engine.connect() as conn:
        expected = enterprises_around(conn, scope=f"{CITY}.", lat=other["lat"], lon=other["lon"], radius_m=RADIUS_M)
    page.wait_for_function(f"document.querySelector('#search-around-summary').innerText.includes("
                           f"'{other['lat']:.5f}, {other['lon']:.5f}')")
    assert page.locator("#search-around .search-hit-name").all_inner_texts() == [e["name"] for e in expected]
    page.click("#search-drawer-close")

    # Deep link to another enterprise: same fly, ring and drawer (opened from the URL).
    page.goto(f"{demo_server}/?{urlencode({'unit': second['unit'], 'focus': 'enterprise:' + second['credit_code']})}")
    wait_focus(page, unit=second["unit"], lat=second["lat"], lon=second["lon"], label=second["name"])
    page.wait_for_selector("#search-drawer:not([hidden]) #search-ent-name")
    assert second["name"] in page.locator("#search-ent-name").inner_text()
    assert page.console_errors == []


def test_focus_links_from_other_pages(demo_server: str, demo_engine: Engine, browser_page: Any) -> None:
    page = browser_page
    first = enterprises(demo_engine, 1)[0]
    with demo_engine.connect() as conn:
        hazard = conn.execute(text(
            """
            SELECT h.code, u.code AS unit, ST_Y(coalesce(h.geom, e.geom)) AS lat, ST_X(coalesce(h.geom, e.geom)) AS lon
            FROM hazards h JOIN units u ON u.id = h.unit_id LEFT JOIN enterprises e ON e.id = h.enterprise_id
            WHERE h.status <> 'closed' AND u.path LIKE :p AND coalesce(h.geom, e.geom) IS NOT NULL
            ORDER BY h.code LIMIT 1
            """
        ), {"p": f"{CITY}.{COUNTY}.%"}).mappings().one()
    user, password = make_user(demo_engine, role="inspector", scope=COUNTY)
    login(page, demo_server, user, password, expect_path="/hazards")

    # The hazard ledger's link (/?unit=…&focus=hazard:…) rings the hazard, and no file drawer opens.
    page.goto(f"{demo_server}/?{urlencode({'unit': hazard['unit'], 'focus': 'hazard:' + hazard['code']})}")
    wait_focus(page, unit=hazard["unit"], lat=hazard["lat"], lon=hazard["lon"], label=f"隐患 {hazard['code']}")
    assert page.locator("#search-drawer").get_attribute("hidden") is not None

    # A search on another page opens the drawer there; its "在地图上查看" opens the map on the enterprise.
    page.click("#shell-nav-hazards")
    page.wait_for_selector("#haz-grid")
    pick(page, first["name"])
    page.wait_for_selector("#search-drawer:not([hidden]) #search-ent-map-link")
    assert page.url.endswith("/hazards")
    page.click("#search-ent-map-link")
    wait_focus(page, unit=first["unit"], lat=first["lat"], lon=first["lon"], label=first["name"])
    # The page change closed the drawer, and the link (a deep link to the enterprise) opens its file again on the
    # map: wait for it, then close it (the test clicked the layers control under it while it was still opening).
    page.wait_for_selector("#search-drawer:not([hidden]) #search-ent-name")
    assert first["name"] in page.locator("#search-ent-name").inner_text()
    page.click("#search-drawer-close")
    page.wait_for_selector("#search-drawer", state="hidden")

    # An unticked enterprise layer is ticked again when the search picks an enterprise.
    overlay = page.locator(".leaflet-control-layers-overlays label", has_text="生产经营单位").locator("input")
    overlay.uncheck()
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises').length === 0")
    pick(page, first["name"])
    page.wait_for_function("document.querySelectorAll('.cm-pt-enterprises').length > 0")
    assert overlay.is_checked()

    # A focus outside the scope (another county's enterprise) flies nowhere and rings nothing.
    with demo_engine.connect() as conn:
        foreign = conn.execute(text(
            "SELECT e.credit_code FROM enterprises e JOIN units u ON u.id = e.unit_id "
            "WHERE u.path NOT LIKE :p ORDER BY e.credit_code LIMIT 1"), {"p": f"{CITY}.{COUNTY}.%"}).scalar_one()
    page.goto(f"{demo_server}/?{urlencode({'unit': first['unit'], 'focus': 'enterprise:' + foreign})}")
    wait_unit(page, first["unit"])
    assert page.locator("path.cm-focus-ring").count() == 0
    assert page.locator("#search-drawer").get_attribute("hidden") is not None
    assert page.console_errors == []
