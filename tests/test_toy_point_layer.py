"""A point layer added through one record (tests/toy_layer.py: open 挂牌督办 hazards by supervision level) is
served by the point routes and drawn by the command map, with no other file naming it; a record whose
classes or tooltip lines disagree with its point source is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from dash import Dash
from flask.testing import FlaskClient
from pydantic import ValidationError
from sqlalchemy import Engine

from dashboard.app import create_app
from dashboard.basemaps import get_map_settings
from geo.map_queries import PointSource
from layers import registry
from layers.spec import LayerClass
from tests.browser import app_settings, login, make_user, screenshot_dir
from tests.demo_server import gunicorn_app
from tests.fixtures_map import HAZARDS, OWN_GRID, map_data  # noqa: F401
from tests.test_cache import login as client_login
from tests.toy_layer import TOY, TOY_COLOURS

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("map_data")]
BBOX = "99.9,25.7,101.1,26.5"
TITLE = {code: title for code, title, *_ in HAZARDS}  # MAPT-H1: own 甲区, 县级督办; MAPT-H4: 乙区, 市级督办


@pytest.fixture
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toy record in the registry for this test only (the point routes look layers up per request)."""
    monkeypatch.setitem(registry.LAYERS, TOY.id, TOY)


@pytest.fixture(scope="module")
def app() -> Dash:
    return create_app(app_settings())


def bundle(client: FlaskClient, kinds: str, zoom: int = 14) -> Any:
    r = client.get(f"/api/map/points.json?kinds={kinds}&bbox={BBOX}&zoom={zoom}")
    assert r.status_code == 200, r.get_data(as_text=True)
    return json.loads(r.get_data(as_text=True))


def test_the_bundle_serves_the_toy_layer_in_scope(toy_registered: None, app: Dash, engine: Engine) -> None:
    weidu = client_login(app, engine, role="grid_manager", scope="419002")
    body = bundle(weidu, "supervised,enterprises")
    assert list(body) == ["enterprises", "supervised"]  # registry order
    mine = {f["properties"]["name"]: f["properties"] for f in body["supervised"]["features"]}
    assert TITLE["MAPT-H1"] in mine and TITLE["MAPT-H4"] not in mine  # the foreign district stays out
    assert mine[TITLE["MAPT-H1"]]["cls"] == "s2" and mine[TITLE["MAPT-H1"]]["enterprise"] == "金地化工有限公司"
    assert TITLE["MAPT-H2"] not in mine  # open but not 挂牌督办: the toy's own filter
    city = bundle(client_login(app, engine, role="leader", scope="419000"), "supervised")
    theirs = {f["properties"]["name"]: f["properties"]["cls"] for f in city["supervised"]["features"]}
    assert theirs[TITLE["MAPT-H4"]] == "s1" and theirs[TITLE["MAPT-H1"]] == "s2"
    single = weidu.get(f"/api/map/points/supervised.geojson?bbox={BBOX}&zoom=14")
    assert json.loads(single.get_data(as_text=True)) == body["supervised"]
    assert bundle(weidu, "supervised", zoom=9)["supervised"]["features"] == []  # below its min_zoom


def test_above_the_raw_limit_the_toy_layer_aggregates_on_the_grid(
    toy_registered: None, app: Dash, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEGRID_MAP_RAW_POINT_LIMIT", "0")
    get_map_settings.cache_clear()
    try:
        body = bundle(client_login(app, engine, role="grid_manager", scope="419002"), "supervised")
    finally:
        monkeypatch.delenv("SAFEGRID_MAP_RAW_POINT_LIMIT")
        get_map_settings.cache_clear()
    cells = [f["properties"] for f in body["supervised"]["features"]]
    assert cells and all(set(c) == {"n", "classes"} for c in cells)  # no roll-up columns: grid squares
    assert sum(c["n"] for c in cells) == sum(sum(c["classes"].values()) for c in cells) >= 1
    assert all(set(c["classes"]) <= {"s1", "s2", "s3"} for c in cells)


def test_without_its_record_the_layer_does_not_exist(app: Dash, engine: Engine) -> None:
    client = client_login(app, engine, role="leader", scope="419000")
    assert client.get(f"/api/map/points.json?kinds=supervised&bbox={BBOX}&zoom=14").status_code == 400
    assert client.get(f"/api/map/points/supervised.geojson?bbox={BBOX}&zoom=14").status_code == 404


def test_a_record_must_agree_with_its_point_source() -> None:
    points = TOY.points
    with pytest.raises(ValidationError, match="differ from the point source"):
        registry.point_layer("bad", "坏", TOY.classes[:2], "circle", points=points)
    with pytest.raises(ValidationError, match="does not serve"):
        registry.point_layer("bad", "坏", TOY.classes, "circle", points=points, details=(("deadline", ""),))
    with pytest.raises(ValueError, match="plain lower-case name"):
        PointSource(table='hazards" t; --', cls="1", classes=("a",), props=())
    with pytest.raises(ValueError, match="not classes"):
        PointSource(table="t", cls="1", classes=("a",), props=(), rollup=registry.POINT_SOURCES["hazards"].rollup)
    with pytest.raises(ValueError, match="registered already"):
        registry.register(registry.ENTERPRISES)
    assert [c.key for c in TOY.classes] == list(points.classes)
    assert LayerClass(key="s1", label="x", colour=TOY_COLOURS[1]).colour == TOY.colours()["s1"]


# --- in Chromium ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy_server(db_url: str) -> Iterator[str]:
    """gunicorn serving the app with the toy layer registered (its on_starting hook) on the test database."""
    with gunicorn_app(db_url, GUNICORN_CMD_ARGS="--config python:tests.toy_layer") as base:
        yield base


@pytest.mark.browser
def test_the_command_map_draws_the_toy_layer_and_its_legend(
    toy_server: str, engine: Engine, browser_page: Any
) -> None:
    page = browser_page
    user, password = make_user(engine, role="grid_manager", scope="419002")
    # focus=hazard flies to MAPT-H1 at zoom 16: the toy layer shows it raw, as its own record says.
    login(page, toy_server, user, password, expect_path=f"/?unit={OWN_GRID}&focus=hazard:MAPT-H1")
    page.wait_for_selector(".cm-pt-supervised", timeout=20_000)
    marker = page.locator(".cm-pt-supervised").first
    assert "cm-shape-diamond" in (marker.get_attribute("class") or "")  # the shape from the record, not from JS
    assert "cm-cls-s2" in (marker.get_attribute("class") or "")
    assert marker.get_attribute("fill") == TOY_COLOURS[2]  # the served colour (a raw point is an SVG path)
    marker.hover()
    tip = page.locator(".cm-tip").last
    tip.wait_for()
    assert TITLE["MAPT-H1"] in tip.inner_text() and "所属企业 金地化工有限公司" in tip.inner_text()
    legend = page.locator("#cm-layer-supervised-legend")
    assert legend.is_visible()
    assert all(label in legend.inner_text() for label in ("挂牌督办隐患", "市级挂牌督办", "县级挂牌督办"))
    page.screenshot(path=str(screenshot_dir() / "toy_point_layer.png"))
    overlay = page.locator(".leaflet-control-layers-overlays label", has_text="挂牌督办隐患")
    overlay.locator("input").click()  # untick: the markers and the legend go
    page.wait_for_function("document.querySelectorAll('.cm-pt-supervised').length === 0")
    assert not legend.is_visible()
    assert page.console_errors == []
