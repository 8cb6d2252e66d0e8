"""The server-side response cache of the map and risk routes: identical bytes on a hit, a committed write
invalidates (an uncommitted one does not), scope is part of the key, and the cheap read connections
survive a dead pooled connection."""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dash import Dash
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from dashboard.app import create_app
from dashboard.cache import CachedBody, MemoryCache, zstd
from dashboard.readdb import WROTE_AT_FIELD
from dashboard.settings import get_settings
from tests.browser import app_settings, dash_payload, make_user, route_payload, with_csrf_header
from tests.fixtures_map import FOREIGN_GRID, OWN_GRID, map_data  # noqa: F401

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("map_data")]
BBOX = "99.9,25.7,101.1,26.5"
POINTS = f"/api/map/points/enterprises.geojson?bbox={BBOX}&zoom=14"
GZIP = {"Accept-Encoding": "gzip"}


@pytest.fixture(scope="module")
def app() -> Dash:
    """An app of this module's own (its own cache)."""
    return create_app(app_settings())


@pytest.fixture(autouse=True)
def fresh_badge(monkeypatch: pytest.MonkeyPatch) -> None:
    """The header's 待办 count recounted after any write, as the hit counts below expect (its own test sets it)."""
    monkeypatch.setattr(get_settings(), "badge_max_stale_s", 0.0)


def login(app: Dash, engine: Engine, *, role: str, scope: str) -> FlaskClient:
    """Sign a new account in through the real form; return its test client."""
    username, password = make_user(engine, role=role, scope=scope, prefix="cache")
    client = app.server.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token.group(1),
                                    "next": "/"})
    assert r.status_code == 302
    return with_csrf_header(client)


def features(resp: Any) -> list[dict[str, Any]]:
    """Features of a (possibly gzipped) GeoJSON response."""
    data = gzip.decompress(resp.data) if resp.headers.get("Content-Encoding") == "gzip" else resp.data
    return list(json.loads(data)["features"])


def cache_of(app: Dash) -> MemoryCache:
    """The app's in-process cache."""
    cache = app.server.extensions["safegrid_cache"]
    assert isinstance(cache, MemoryCache)
    return cache


@pytest.fixture(scope="module")
def city(app: Dash, engine: Engine) -> FlaskClient:
    """A signed-in leader of 测试市."""
    return login(app, engine, role="leader", scope="419000")


@pytest.fixture(scope="module")
def jia(app: Dash, engine: Engine) -> FlaskClient:
    """A signed-in grid manager of 甲区."""
    return login(app, engine, role="grid_manager", scope="419002")


def test_hit_returns_identical_bytes_and_etag(app: Dash, city: FlaskClient) -> None:
    url = "/api/map/units/419002/children.geojson"
    first = city.get(url, headers=GZIP)
    hits = cache_of(app).hits
    second = city.get(url, headers=GZIP)
    assert first.status_code == second.status_code == 200
    assert second.data == first.data and second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Content-Encoding"] == "gzip"
    assert cache_of(app).hits == hits + 1
    plain = city.get(url)  # a client without compression gets the same document, plain, under its own ETag
    assert "Content-Encoding" not in plain.headers and json.loads(plain.data) == json.loads(gzip.decompress(first.data))
    assert plain.headers["ETag"] != first.headers["ETag"]
    assert city.get(url, headers={"If-None-Match": first.headers["ETag"], **GZIP}).status_code == 304


def test_browsers_get_zstd_from_an_entry_of_their_own(app: Dash, city: FlaskClient) -> None:
    """What Chromium sends: zstd is chosen (a quarter of gzip's CPU, same bytes); each coding is cached apart."""
    browser = {"Accept-Encoding": "gzip, deflate, br, zstd"}
    url = "/api/map/units/419000/children.geojson"
    first = city.get(url, headers=browser)
    assert first.status_code == 200 and first.headers["Content-Encoding"] == "zstd"
    assert first.headers["ETag"].endswith('-zstd"') and "Accept-Encoding" in first.headers["Vary"]
    hits = cache_of(app).hits
    again = city.get(url, headers=browser)
    assert again.data == first.data and cache_of(app).hits == hits + 1
    gzipped = city.get(url, headers=GZIP)
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert json.loads(zstd.decompress(first.data)) == json.loads(gzip.decompress(gzipped.data))
    assert city.get(url, headers={"If-None-Match": first.headers["ETag"], **browser}).status_code == 304
    assert city.get(url, headers={"If-None-Match": first.headers["ETag"], **GZIP}).status_code == 200


def test_committed_write_invalidates_uncommitted_does_not(city: FlaskClient, engine: Engine) -> None:
    url = "/api/map/units/419002/children.geojson"
    risk = {f["properties"]["code"]: f["properties"]["risk"] for f in features(city.get(url, headers=GZIP))
            if f["properties"]["kind"] == "unit"}
    assert risk["419002001"] == "orange"
    set_red = text("UPDATE unit_stats SET risk_class = :c WHERE unit_id = (SELECT id FROM units WHERE code = :u)")
    with engine.connect() as open_tx:  # a refresh still running: its rows are not visible, nor is its version
        open_tx.execute(set_red, {"c": "red", "u": "419002001"})
        unchanged = features(city.get(url, headers=GZIP))
        assert {f["properties"]["code"]: f["properties"]["risk"] for f in unchanged
                if f["properties"]["kind"] == "unit"}["419002001"] == "orange"
        open_tx.rollback()
    try:
        with engine.begin() as conn:
            conn.execute(set_red, {"c": "red", "u": "419002001"})
        after = features(city.get(url, headers=GZIP))
        assert {f["properties"]["code"]: f["properties"]["risk"] for f in after
                if f["properties"]["kind"] == "unit"}["419002001"] == "red"
    finally:
        with engine.begin() as conn:
            conn.execute(set_red, {"c": "orange", "u": "419002001"})


@pytest.fixture
def new_enterprise(engine: Engine) -> Iterator[str]:
    """Name of a red enterprise inserted (committed) in 甲区 for one test, deleted afterwards."""
    name = "缓存测试新企业"
    yield name
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM enterprises WHERE credit_code = '91419000MAPT000099'"))


def test_loaded_enterprise_appears_in_points_and_heatmap(
    app: Dash, engine: Engine, city: FlaskClient, new_enterprise: str
) -> None:
    planner = login(app, engine, role="planner", scope="419000")
    heat_url = f"/api/risk/h3?bbox={BBOX}&zoom=9&metric=enterprises&risk=red"
    heat_before = sum(f["properties"]["v"] for f in features(planner.get(heat_url, headers=GZIP)))
    names = {f["properties"]["name"] for f in features(city.get(POINTS, headers=GZIP))}
    assert new_enterprise not in names
    with engine.begin() as conn:  # what a load commits
        conn.execute(text(
            "INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id, geom) "
            "SELECT '91419000MAPT000099', :n, '机械', 'red', id, ST_SetSRID(ST_MakePoint(100.15, 25.92), 4326) "
            "FROM units WHERE code = :g"), {"n": new_enterprise, "g": OWN_GRID})
    assert new_enterprise in {f["properties"]["name"] for f in features(city.get(POINTS, headers=GZIP))}
    heat_after = sum(f["properties"]["v"] for f in features(planner.get(heat_url, headers=GZIP)))
    assert heat_after == heat_before + 1


def _route(client: FlaskClient, path: str) -> Any:
    """The shell's route callback for ``path``, as the browser asks it; return the page's layout."""
    r = client.post("/_dash-update-component", json=route_payload(path))
    assert r.status_code == 200
    return r.get_json()["response"]["shell-content"]["children"]


def _industry_choices(client: FlaskClient) -> list[str]:
    """The 行业 filter's choices on the /hazards page."""

    def find(node: Any) -> Any:
        if isinstance(node, list):
            return next((hit for n in node if (hit := find(n)) is not None), None)
        if isinstance(node, dict):
            props = node.get("props", {})
            return props if props.get("id") == "haz-industry" else find(props.get("children"))
        return None

    dropdown = find(_route(client, "/hazards"))
    assert dropdown is not None
    return [o["value"] for o in dropdown["options"]]


def test_a_value_keyed_by_its_tables_outlives_other_writes(
    app: Dash, engine: Engine, city: FlaskClient, new_enterprise: str
) -> None:
    """The ledger's industries: kept while hazards are written, rebuilt when an enterprise is loaded."""
    before = _industry_choices(city)
    assert "机械" not in before
    with engine.begin() as conn:  # the hazard loop writes hazards all day
        conn.execute(text("DELETE FROM hazards WHERE code = 'no-such-hazard'"))
    hits = cache_of(app).hits
    assert _industry_choices(city) == before
    assert cache_of(app).hits == hits + 1
    with engine.begin() as conn:  # what a load commits
        conn.execute(text(
            "INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id, geom) "
            "SELECT '91419000MAPT000099', :n, '机械', 'blue', id, ST_SetSRID(ST_MakePoint(100.15, 25.92), 4326) "
            "FROM units WHERE code = :g"), {"n": new_enterprise, "g": OWN_GRID})
    assert "机械" in _industry_choices(city)


def test_the_todo_route_counts_once(app: Dash, city: FlaskClient) -> None:
    """The header's badge and the /todo page share one count (0.7 s each city-wide at 3M hazards)."""
    hits = cache_of(app).hits
    assert "待办" in json.dumps(_route(city, "/todo"), ensure_ascii=False)
    assert cache_of(app).hits == hits + 1


def test_version_of_tables() -> None:
    """An account's version of a few tables: the day and their counters (absent: 0); none known: the whole."""
    from dashboard.scope import Account

    record: Any = None
    account = Account(record, "2026-12-03:917", "enterprises=5,hazards=906,units=6")
    assert account.version_of(("enterprises", "units")) == "2026-12-03:enterprises=5,units=6"
    assert account.version_of(("persons",)) == "2026-12-03:persons=0"
    assert account.version_of(()) == "2026-12-03:917"
    assert Account(record, "2026-12-03:917").version_of(("enterprises",)) == "2026-12-03:917"


def test_scope_is_part_of_the_key(app: Dash, city: FlaskClient, jia: FlaskClient) -> None:
    everything = city.get(POINTS, headers=GZIP)
    city.get(POINTS, headers=GZIP)  # now certainly cached for the city scope
    mine = jia.get(POINTS, headers=GZIP)
    assert mine.status_code == 200 and mine.data != everything.data
    assert len(features(mine)) < len(features(everything))
    assert all(f["properties"]["name"] != "乙区烟花厂" for f in features(mine))
    for url in ("/api/map/units/419000/children.geojson", f"/api/map/units/{FOREIGN_GRID}/children.geojson"):
        assert city.get(url, headers=GZIP).status_code == 200
        assert city.get(url, headers=GZIP).status_code == 200
        assert jia.get(url, headers=GZIP).status_code == 403  # refused although another scope has it cached


def test_disabled_account_is_refused_even_on_a_cached_url(app: Dash, engine: Engine) -> None:
    client = login(app, engine, role="leader", scope="419000")
    url = "/api/map/units/419002/children.geojson"
    assert client.get(url, headers=GZIP).status_code == 200
    username = client.get("/api/me").get_json()["username"]
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET active = false WHERE username = :u"), {"u": username})
    assert client.get(url, headers=GZIP).status_code == 401


def test_dead_pooled_read_connection_is_retried(city: FlaskClient, engine: Engine) -> None:
    assert city.get("/api/me").status_code == 200
    with engine.begin() as conn:
        killed = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'safegrid-read'")).scalar_one()
    assert killed >= 1
    assert city.get("/api/me").status_code == 200


def test_version_bumps_on_commit_only(engine: Engine) -> None:
    version = text("SELECT coalesce(sum(version), 0) FROM data_versions")
    with engine.connect() as reader:
        before = reader.execute(version).scalar_one()
        reader.rollback()
        with engine.connect() as writer:
            writer.execute(text("DELETE FROM hazards WHERE code = 'no-such-hazard'"))  # a statement, zero rows
            assert reader.execute(version).scalar_one() == before
            reader.rollback()
            writer.commit()
        assert reader.execute(version).scalar_one() > before


def test_memory_cache_evicts_least_recently_used_by_bytes() -> None:
    cache = MemoryCache(max_bytes=300, max_entry_bytes=200)
    body = CachedBody(b"x" * 90, "e", None)
    for key in ("a", "b", "c"):
        cache.put(key, body)
    assert cache.get("a") is body  # a is now the most recently used
    cache.put("d", body)  # over 300 bytes: b goes
    assert cache.get("b") is None and cache.get("a") is body and cache.get("d") is body
    cache.put("big", CachedBody(b"y" * 250, "f", None))  # larger than one entry may be
    assert cache.get("big") is None and len(cache) == 3


def _risk_trend_title(client: FlaskClient) -> str:
    """/risk's charts callback without filters, as the browser asks it; return the trend chart's title."""
    charts = ("trend", "industry", "area", "ageing", "closure")
    payload = dash_payload(output=".." + "...".join(f"risk-chart-{k}.figure" for k in charts) + "..", inputs=[
        {"id": i, "property": p, "value": None} for i, p in (
            ("risk-industry", "value"), ("risk-colour", "value"), ("risk-hlevel", "value"),
            ("risk-channel", "value"), ("risk-period", "start_date"), ("risk-period", "end_date"))])
    payload["outputs"] = [{"id": f"risk-chart-{k}", "property": "figure"} for k in charts]
    r = client.post("/_dash-update-component", json=payload)
    assert r.status_code == 200, r.text
    title: str = r.get_json()["response"]["risk-chart-trend"]["figure"]["layout"]["title"]["text"]
    assert "统计于" in title
    return title


def test_risk_charts_outlive_others_writes_for_a_while(
    app: Dash, engine: Engine, city: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/risk's charts (seconds city-wide): kept for analytics_max_stale_s after others' writes, not the writer's."""
    first = _risk_trend_title(city)
    with engine.begin() as conn:  # somebody else's write moves the data version on
        conn.execute(text("DELETE FROM hazards WHERE code = 'no-such-hazard'"))
    hits = cache_of(app).hits
    assert _risk_trend_title(city) == first  # the charts of a moment ago, with their time
    assert cache_of(app).hits == hits + 1  # the versioned key missed, the lasting one answered
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM hazards WHERE code = 'no-such-hazard'"))
    with city.session_transaction() as session:  # this session has just written: it sees its own change
        session[WROTE_AT_FIELD] = time.time()
    hits = cache_of(app).hits
    _risk_trend_title(city)
    assert cache_of(app).hits == hits  # built again: the lasting entry was not asked
    with city.session_transaction() as session:
        session.pop(WROTE_AT_FIELD)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM hazards WHERE code = 'no-such-hazard'"))
    monkeypatch.setattr(get_settings(), "analytics_max_stale_s", 0.0)  # 0: always fresh
    hits = cache_of(app).hits
    _risk_trend_title(city)
    assert cache_of(app).hits == hits


def _badge(client: FlaskClient) -> str:
    """The header's 待办 number, as the page layout sends it."""
    def find(node: Any) -> str | None:
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == "shell-todo-count":
                return str(node["props"]["children"])
            return next((v for v in map(find, node.values()) if v is not None), None)
        if isinstance(node, list):
            return next((v for v in map(find, node) if v is not None), None)
        return None

    r = client.get("/_dash-layout")
    assert r.status_code == 200
    found = find(r.get_json())
    assert found is not None
    return found


def test_the_todo_badge_outlives_others_writes_for_a_while(
    engine: Engine, city: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header's 待办 number: kept for badge_max_stale_s after others' writes, fresh after the account's own."""
    monkeypatch.setattr(get_settings(), "badge_max_stale_s", 30.0)
    before = int(_badge(city))
    add = ("INSERT INTO hazards (code, unit_id, title, level, status, found_at, deadline) SELECT :code, id, "
           "'角标测试', 'general', 'reported', current_date - 30, current_date - 1 FROM units WHERE code = :g")
    try:
        with engine.begin() as conn:  # somebody else reports an overdue hazard in the leader's city
            conn.execute(text(add), {"code": "CACHE-BADGE-1", "g": OWN_GRID})
        assert int(_badge(city)) == before  # the count of a moment ago
        with city.session_transaction() as session:  # this session has just written: it sees the change
            session[WROTE_AT_FIELD] = time.time()
        assert int(_badge(city)) == before + 1
        with city.session_transaction() as session:
            session.pop(WROTE_AT_FIELD)
        with engine.begin() as conn:
            conn.execute(text(add), {"code": "CACHE-BADGE-2", "g": OWN_GRID})
        assert int(_badge(city)) == before + 1
        monkeypatch.setattr(get_settings(), "badge_max_stale_s", 0.0)  # 0: always fresh
        assert int(_badge(city)) == before + 2
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM hazards WHERE code LIKE 'CACHE-BADGE-%'"))
