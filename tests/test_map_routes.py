"""The /api/map routes and the command map callbacks over HTTP: scope (401/403, bbox clipping),
gzip, ETag/304, GCJ-02 shift, server-side aggregation, and forged callbacks for foreign units."""

from __future__ import annotations

import gzip
import json
from html.parser import HTMLParser
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, text

from dashboard.basemaps import get_map_settings
from domain.crs import wgs84_to_gcj02
from tests.browser import http_login, make_user
from tests.fixtures_map import ENTERPRISES, FOREIGN_GRID, OWN_GRID, STAT_ENTERPRISES, map_data  # noqa: F401

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("map_data")]
BBOX = "99.9,25.7,101.1,26.5"
GZIP = {"Accept-Encoding": "gzip"}
FOREIGN_NAMES = {name for _, name, _, grid, _, _ in ENTERPRISES if grid == FOREIGN_GRID}


@pytest.fixture(scope="module")
def weidu(live_server: str, engine: Engine) -> requests.Session:
    """A signed-in grid manager of 甲区."""
    return http_login(live_server, *make_user(engine, role="grid_manager", scope="419002"))


@pytest.fixture(scope="module")
def city(live_server: str, engine: Engine) -> requests.Session:
    """A signed-in leader of 许昌市."""
    return http_login(live_server, *make_user(engine, role="leader", scope="419000"))


def test_unauthenticated_gets_401(live_server: str) -> None:
    r = requests.get(f"{live_server}/api/map/units/419000/children.geojson", timeout=10)
    assert r.status_code == 401
    r = requests.get(f"{live_server}/api/map/points/enterprises.geojson?bbox={BBOX}&zoom=12", timeout=10)
    assert r.status_code == 401


def test_children_gzip_etag_and_304(live_server: str, weidu: requests.Session) -> None:
    url = f"{live_server}/api/map/units/419002/children.geojson"
    r = weidu.get(url, headers=GZIP, timeout=10, stream=True)
    assert r.status_code == 200
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Cache-Control"] == "private, no-cache"
    assert r.headers["Content-Type"].startswith("application/geo+json")
    body = json.loads(gzip.decompress(r.raw.read()))
    assert {f["properties"]["code"] for f in body["features"]} == {"419002001", "419002002"}
    etag = r.headers["ETag"]
    again = weidu.get(url, headers={"If-None-Match": etag, **GZIP}, timeout=10)
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    plain = weidu.get(url, headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "Content-Encoding" not in plain.headers and plain.json() == body


@pytest.mark.parametrize("code", ["419000", "419003", FOREIGN_GRID, "999999"])
def test_foreign_unit_is_403(live_server: str, weidu: requests.Session, code: str) -> None:
    r = weidu.get(f"{live_server}/api/map/units/{code}/children.geojson", timeout=10)
    assert r.status_code == 403
    assert "数据范围" in r.json()["error"]


def test_malformed_code_is_400(live_server: str, weidu: requests.Session) -> None:
    r = weidu.get(f"{live_server}/api/map/units/41900x/children.geojson", timeout=10)
    assert r.status_code == 400


@pytest.mark.parametrize("kind", ["enterprises", "sources", "hazards"])
def test_bbox_outside_scope_returns_only_in_scope_features(
    live_server: str, weidu: requests.Session, city: requests.Session, kind: str
) -> None:
    url = f"{live_server}/api/map/points/{kind}.geojson?bbox={BBOX}&zoom=14"
    mine = weidu.get(url, timeout=10).json()["features"]
    everything = city.get(url, timeout=10).json()["features"]
    assert 0 < len(mine) < len(everything)
    assert all(f["geometry"]["coordinates"][0] < 100.5 for f in mine)  # 乙区 is east of 100.5
    text_of_mine = json.dumps(mine, ensure_ascii=False)
    assert not any(name in text_of_mine for name in FOREIGN_NAMES)
    only_foreign = weidu.get(f"{live_server}/api/map/points/{kind}.geojson?bbox=100.6,25.9,100.9,26.3&zoom=14",
                             timeout=10)
    assert only_foreign.status_code == 200 and only_foreign.json()["features"] == []


def test_points_bundle_equals_the_layers_it_bundles(live_server: str, weidu: requests.Session) -> None:
    """One request for several layers: each collection is exactly what the layer's own route serves (scoped)."""
    query = f"bbox={BBOX}&zoom=14"
    r = weidu.get(f"{live_server}/api/map/points.json?kinds=hazards,enterprises&{query}", timeout=10,
                  headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Content-Encoding"] == "zstd" and r.headers["ETag"]  # as Chromium over HTTPS asks
    bundle = r.json()
    assert list(bundle) == ["enterprises", "hazards"]  # canonical order, whatever order was asked
    for kind, collection in bundle.items():
        alone = weidu.get(f"{live_server}/api/map/points/{kind}.geojson?{query}", timeout=10).json()
        assert collection == alone and collection["features"]
    assert not any(name in json.dumps(bundle, ensure_ascii=False) for name in FOREIGN_NAMES)
    again = weidu.get(f"{live_server}/api/map/points.json?kinds=enterprises,hazards&{query}",
                      headers={"If-None-Match": r.headers["ETag"]}, timeout=10)
    assert again.status_code == 304
    low = weidu.get(f"{live_server}/api/map/points.json?kinds=sources&bbox={BBOX}&zoom=5", timeout=10).json()
    assert low == {"sources": {"type": "FeatureCollection", "features": []}}  # below min_zoom: empty


@pytest.mark.parametrize("kinds", ["", "secrets", "enterprises,enterprises", "enterprises,,"])
def test_points_bundle_refuses_bad_kinds_in_chinese(live_server: str, city: requests.Session, kinds: str) -> None:
    r = city.get(f"{live_server}/api/map/points.json?kinds={kinds}&bbox={BBOX}&zoom=14", timeout=10)
    assert r.status_code == 400 and "kinds" in r.json()["error"]


def test_points_bundle_needs_a_session(live_server: str) -> None:
    r = requests.get(f"{live_server}/api/map/points.json?kinds=enterprises&bbox={BBOX}&zoom=14", timeout=10)
    assert r.status_code == 401


def test_point_layer_below_min_zoom_is_empty(live_server: str, city: requests.Session) -> None:
    r = city.get(f"{live_server}/api/map/points/enterprises.geojson?bbox={BBOX}&zoom=5", timeout=10)
    assert r.status_code == 200 and r.json()["features"] == []


@pytest.mark.parametrize("query", ["bbox=1,2,3&zoom=12", "bbox=114,34,113,35&zoom=12", f"bbox={BBOX}&zoom=x",
                                   f"bbox={BBOX}&zoom=nan", f"bbox={BBOX}&zoom=99",
                                   f"bbox={BBOX}&zoom=12&crs=bd09"])
def test_bad_parameters_are_400_in_chinese(live_server: str, city: requests.Session, query: str) -> None:
    r = city.get(f"{live_server}/api/map/points/enterprises.geojson?{query}", timeout=10)
    assert r.status_code == 400
    assert any("\u4e00" <= ch <= "\u9fff" for ch in r.json()["error"])


def test_unknown_layer_is_404(live_server: str, city: requests.Session) -> None:
    assert city.get(f"{live_server}/api/map/points/secrets.geojson?bbox={BBOX}&zoom=12", timeout=10).status_code == 404


def test_gcj02_shifts_display_coordinates(live_server: str, city: requests.Session) -> None:
    wgs = city.get(f"{live_server}/api/map/points/enterprises.geojson?bbox={BBOX}&zoom=14", timeout=10).json()
    gcj = city.get(f"{live_server}/api/map/points/enterprises.geojson?bbox={BBOX}&zoom=14&crs=gcj02",
                   timeout=10).json()
    a = {f["id"]: f["geometry"]["coordinates"] for f in wgs["features"]}
    b = {f["id"]: f["geometry"]["coordinates"] for f in gcj["features"]}
    assert a.keys() == b.keys() and a
    for fid, (lon, lat) in a.items():
        x, y = wgs84_to_gcj02([lon], [lat])
        assert b[fid] == pytest.approx([x[0], y[0]], abs=2e-6)
        assert abs(b[fid][0] - lon) + abs(b[fid][1] - lat) > 0.001  # really moved (hundreds of metres)
    units = city.get(f"{live_server}/api/map/units/419000/children.geojson?crs=gcj02", timeout=10).json()
    first = units["features"][0]["geometry"]["coordinates"][0][0][0]
    assert first[0] != round(first[0], 1)  # the box corners (multiples of 0.1°) moved


def test_many_points_are_aggregated(live_server: str, city: requests.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEGRID_MAP_RAW_POINT_LIMIT", "2")
    get_map_settings.cache_clear()
    try:
        r = city.get(f"{live_server}/api/map/points/enterprises.geojson?bbox={BBOX}&zoom=11", timeout=10)
    finally:
        monkeypatch.delenv("SAFEGRID_MAP_RAW_POINT_LIMIT")
        get_map_settings.cache_clear()
    features = r.json()["features"]
    assert features and all("n" in f["properties"] and "name" not in f["properties"] for f in features)
    # zoom 11 → township roll-ups from unit_stats: one bubble per township labelled in view
    by_unit = {f["id"]: f["properties"]["n"] for f in features}
    assert by_unit == {f"u{c}": STAT_ENTERPRISES[c] for c in ("419002001", "419002002", "419003100")}
    assert all(f["properties"]["classes"]["red"] == 3 for f in features)


# --- forged Dash callbacks ----------------------------------------------------------------------------


def _forge(session: requests.Session, base: str, outputs: list[tuple[str, str]], inputs: list[dict[str, Any]],
           state: list[dict[str, Any]] | None = None) -> requests.Response:
    if len(outputs) == 1:
        output: Any = f"{outputs[0][0]}.{outputs[0][1]}"
        outs: Any = {"id": outputs[0][0], "property": outputs[0][1]}
    else:
        output = ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."
        outs = [{"id": i, "property": p} for i, p in outputs]
    payload = {"output": output, "outputs": outs, "inputs": inputs, "state": state or [],
               "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs]}
    return session.post(f"{base}/_dash-update-component", json=payload, timeout=20)


PANEL_OUTPUTS = [("cm-panel", "children"), ("cm-breadcrumb", "children"), ("cm-state", "data"),
                 ("cm-target", "data"), ("search-open", "data")]
CRS_STATE = [{"id": "cm-crs", "property": "data", "value": "wgs84"}, {"id": "map-focus", "property": "data"},
             {"id": "search-drawer", "property": "hidden", "value": True},
             {"id": "cm-url", "property": "pathname", "value": "/"}, {"id": "cm-target", "property": "data"}]


def test_forged_panel_callback_answers_in_scope(live_server: str, weidu: requests.Session) -> None:
    r = _forge(weidu, live_server, PANEL_OUTPUTS,
               [{"id": "cm-url", "property": "search", "value": f"?unit={OWN_GRID}"}], CRS_STATE)
    assert r.status_code == 200
    body = json.dumps(r.json(), ensure_ascii=False)
    assert "孙丽" in body and "储罐区可燃气体报警器失效" in body


@pytest.mark.parametrize("code", ["419003", FOREIGN_GRID, "419000"])
def test_forged_panel_callback_with_foreign_unit_returns_nothing(
    live_server: str, weidu: requests.Session, engine: Engine, code: str
) -> None:
    r = _forge(weidu, live_server, PANEL_OUTPUTS, [{"id": "cm-url", "property": "search", "value": f"?unit={code}"}],
               CRS_STATE)
    assert r.status_code == 200
    body = r.json()["response"]
    assert body["cm-state"]["data"] is None
    text_ = json.dumps(body, ensure_ascii=False)
    assert "无权查看" in text_
    assert "陈外人" not in text_ and "仓库超量储存" not in text_ and "乙区" not in text_
    assert str(STAT_ENTERPRISES[code]) not in text_
    with engine.connect() as conn:
        refused = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'forbidden' "
                                    "AND detail->>'target' = :c"), {"c": code}).scalar()
    assert refused and refused > 0


def test_forged_focus_on_a_foreign_hazard_rings_nothing(live_server: str, weidu: requests.Session) -> None:
    r = _forge(weidu, live_server, PANEL_OUTPUTS,
               [{"id": "cm-url", "property": "search", "value": f"?unit={OWN_GRID}&focus=hazard%3AMAPT-H4"}], CRS_STATE)
    assert r.status_code == 200
    body = r.json()["response"]
    assert body["cm-state"]["data"]["code"] == OWN_GRID and "cm-target" not in body  # no ring
    own = _forge(weidu, live_server, PANEL_OUTPUTS,
                 [{"id": "cm-url", "property": "search", "value": f"?unit={OWN_GRID}&focus=hazard%3AMAPT-H1"}],
                 CRS_STATE).json()["response"]
    assert own["cm-target"]["data"]["key"] == "hazard:MAPT-H1" and "viewport" not in own.get("cm-map", {})


class _DrillLinks(HTMLParser):
    """Collects the texts of ``a.cm-drill`` links of an HTML text."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._in = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in = tag == "a" and "cm-drill" in (dict(attrs).get("class") or "")
        if self._in:
            self.texts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in = self._in and tag != "a"

    def handle_data(self, data: str) -> None:
        if self._in:
            self.texts[-1] += data


def _drill_links(node: Any) -> list[str]:
    """The children-table link texts (``cm-drill``) of a dry component tree or HTML text, in order."""
    if isinstance(node, str):  # an HTML block's text (a callback writing its ``html``)
        parser = _DrillLinks()
        parser.feed(node)
        return parser.texts
    if isinstance(node, list):
        return [t for n in node for t in _drill_links(n)]
    if not isinstance(node, dict):
        return []
    props = node.get("props", {})
    if isinstance(props.get("html"), str):  # dashboard.dry.html_block
        return _drill_links(props["html"])
    return _drill_links(props.get("children"))


def test_panel_callback_carries_the_child_table_in_scope(live_server: str, weidu: requests.Session,
                                                         city: requests.Session) -> None:
    # One request per drill-down step: the panel holds the child table (sorted by risk), no second callback.
    own = _forge(weidu, live_server, PANEL_OUTPUTS, [{"id": "cm-url", "property": "search", "value": "?unit=419002"}],
                 CRS_STATE).json()["response"]["cm-panel"]["children"]
    assert _drill_links(own) == ["甲一街道", "甲二街道"]
    top = _forge(city, live_server, PANEL_OUTPUTS, [{"id": "cm-url", "property": "search", "value": "?unit=419000"}],
                 CRS_STATE).json()["response"]["cm-panel"]["children"]
    assert _drill_links(top) == ["甲区", "乙区"]  # 甲区 red before 乙区 orange
    by_code = _forge(city, live_server, [("cm-children-html", "html")],
                     [{"id": "cm-sort-by", "property": "data", "value": {"how": "code", "n": 1}}],
                     [{"id": "cm-state", "property": "data", "value": {"code": "419000"}}]).json()
    assert _drill_links(by_code["response"]["cm-children-html"]["html"]) == ["甲区", "乙区"]
    # the 甲区 account's panel for the city is refused, and the sort callback lists none of the city's children
    refused = _forge(weidu, live_server, PANEL_OUTPUTS,
                     [{"id": "cm-url", "property": "search", "value": "?unit=419000"}], CRS_STATE).json()
    assert _drill_links(refused["response"]["cm-panel"]["children"]) == []


def test_forged_children_callback_with_foreign_unit_returns_nothing(live_server: str, weidu: requests.Session) -> None:
    r = _forge(weidu, live_server, [("cm-children-html", "html")],
               [{"id": "cm-sort-by", "property": "data", "value": {"how": "risk", "n": 1}}],
               [{"id": "cm-state", "property": "data", "value": {"code": "419000"}}])
    assert r.status_code == 200
    body = json.dumps(r.json(), ensure_ascii=False)
    assert "乙区" not in body and "甲区" not in body and "没有可查看的下级单位" in body


def _page(session: requests.Session, base: str, code: str, page: int = 0) -> requests.Response:
    return _forge(session, base, [("cm-hazards-html", "html")],
                  [{"id": "cm-hz-want", "property": "data", "value": {"page": page, "n": 1}}],
                  [{"id": "cm-state", "property": "data", "value": {"code": code}}])


def test_forged_hazard_page_callback(live_server: str, weidu: requests.Session, engine: Engine) -> None:
    """下一页 answers in scope (past the last page: the last page); a foreign unit gets nothing, audited."""
    ok = _page(weidu, live_server, OWN_GRID, page=5)
    assert ok.status_code == 200, ok.text[:300]
    assert "储罐区可燃气体报警器失效" in json.dumps(ok.json(), ensure_ascii=False)  # the only page, shown again
    for code in ("419000", FOREIGN_GRID):
        r = _page(weidu, live_server, code)
        assert r.status_code == 200
        text_ = json.dumps(r.json(), ensure_ascii=False)
        assert "仓库超量储存" not in text_ and "cm-hazards-html" not in json.dumps(r.json().get("response", {}))
        assert "无权查看" in text_
        with engine.connect() as conn:
            refused = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'forbidden' "
                                        "AND detail->>'target' = :c AND detail->>'path' = '/_dash-update-component'"),
                                   {"c": code}).scalar()
        assert refused


def test_forged_locate_callback_with_foreign_hazard_returns_nothing(
    live_server: str, weidu: requests.Session, engine: Engine
) -> None:
    with engine.connect() as conn:
        foreign = conn.execute(text("SELECT id FROM hazards WHERE code = 'MAPT-H4'")).scalar_one()
        own = conn.execute(text("SELECT id FROM hazards WHERE code = 'MAPT-H1'")).scalar_one()
    def locate(hazard_id: Any, crs: str = "wgs84") -> requests.Response:
        r = weidu.post(f"{live_server}/_dash-update-component", json={
            "output": "cm-target.data@" + _dup_hash(),
            "outputs": {"id": "cm-target", "property": "data@" + _dup_hash()},
            "inputs": [{"id": "cm-hz-click", "property": "data", "value": {"id": hazard_id, "n": 1}}],
            "state": [{"id": "cm-crs", "property": "data", "value": crs}], "changedPropIds": ["cm-hz-click.data"],
        }, timeout=20)
        return r

    ok = locate(own)
    assert ok.status_code == 200, ok.text[:300]
    assert "储罐区可燃气体报警器失效" in json.dumps(ok.json(), ensure_ascii=False)
    wgs = [ok.json()["response"]["cm-target"]["data"][k] for k in ("lat", "lon")]
    gcj = [locate(own, "gcj02").json()["response"]["cm-target"]["data"][k] for k in ("lat", "lon")]
    x, y = wgs84_to_gcj02([wgs[1]], [wgs[0]])
    assert gcj == pytest.approx([y[0], x[0]], abs=1e-9)  # drawn on 高德 tiles: shifted for display
    bad = locate(foreign)
    assert "仓库超量储存" not in json.dumps(bad.json(), ensure_ascii=False)
    assert bad.status_code == 200 and bad.json()["response"]["cm-target"]["data"] is None
    for forged in ("1", True, None, [own]):  # not a hazard id: nothing happens
        r = locate(forged)
        assert r.status_code == 204, (forged, r.status_code, r.text[:200])


def _dup_hash() -> str:
    """The suffix Dash gives an ``allow_duplicate`` output (read from the app's dependency list)."""
    return _DUP["hash"]


_DUP: dict[str, str] = {}


@pytest.fixture(autouse=True, scope="module")
def _duplicate_output_suffix(live_server: str, city: requests.Session) -> None:
    deps = city.get(f"{live_server}/_dash-dependencies", timeout=10).json()
    for dep in deps:
        if dep["output"].startswith("cm-target.data@"):
            _DUP["hash"] = dep["output"].split("cm-target.data@")[1]
