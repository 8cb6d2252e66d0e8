"""The OGC API – Features service under /ogc/ through Flask's test client on PostGIS: who may ask (token as header
or query parameter, session cookie; revoked, expired, unknown, disabled refused with 401 in Chinese), the scope
in every answer, the parameters (bbox, limit, offset, datetime, property filters, unknown and invalid ones) and
a point layer added through one record becoming a collection. The Core requirements one by one and OWSLib
against gunicorn: tests/test_ogc_owslib.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from dash import Dash
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from dashboard import ogc
from dashboard.app import create_app
from domain import clock
from geo.tokens import create_token, token_hash
from geo.users import set_active
from layers import registry
from tests.browser import app_settings, make_user
from tests.fixtures_map import ENTERPRISES, FOREIGN_GRID, HAZARDS, OWN_GRID, map_data  # noqa: F401
from tests.test_cache import login as client_login
from tests.toy_layer import TOY

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("map_data")]
OWN_NAMES = {name for _, name, _, grid, _, _ in ENTERPRISES if grid == OWN_GRID}
FOREIGN_NAMES = {name for _, name, _, grid, _, _ in ENTERPRISES if grid == FOREIGN_GRID}
OPEN_TITLES = {title for _, title, _, _, status, _, _ in HAZARDS if status != "closed"}


@pytest.fixture(scope="module")
def app() -> Dash:
    return create_app(app_settings())


def new_token(engine: Engine, *, role: str = "grid_manager", scope: str = "419002", days: int = 30) -> tuple[str, str]:
    """Create an account and a token of it; return (username, token)."""
    username, _ = make_user(engine, role=role, scope=scope)
    with engine.begin() as conn:
        user_id = conn.execute(text("SELECT id FROM users WHERE username = :u"), {"u": username}).scalar_one()
        _, token = create_token(conn, user_id=user_id, name="QGIS 测试", days=days)
    return username, token


@pytest.fixture(scope="module")
def weidu_token(engine: Engine) -> str:
    """A token of a grid manager of 甲区 (419002)."""
    return new_token(engine)[1]


@pytest.fixture
def client(app: Dash, weidu_token: str) -> Iterator[FlaskClient]:
    """A test client without a session that sends the 甲区 token as a Bearer header."""
    c = app.server.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {weidu_token}"
    yield c


def get(client: FlaskClient, url: str, status: int = 200) -> Any:
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code, r.get_data(as_text=True)[:500])
    return json.loads(r.get_data(as_text=True))


def names(body: dict[str, Any], prop: str = "name") -> set[str]:
    return {f["properties"][prop] for f in body["features"]}


# --- who may ask ---------------------------------------------------------------------------------


def test_without_token_or_session_401_in_chinese(app: Dash) -> None:
    r = app.server.test_client().get("/ogc/collections")
    assert r.status_code == 401 and r.mimetype == "application/json"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    body = r.get_json()
    assert body["code"] == "Unauthorized" and "访问令牌" in body["description"]


def test_token_as_query_parameter_and_links_keep_it(app: Dash, weidu_token: str) -> None:
    c = app.server.test_client()
    body = get(c, f"/ogc/collections/enterprises/items?limit=1&token={weidu_token}")
    assert body["numberMatched"] == len(OWN_NAMES)
    nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
    assert f"token={weidu_token}" in nxt  # QGIS follows the links as given
    header = app.server.test_client()
    header.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {weidu_token}"
    links = get(header, "/ogc/collections/enterprises/items?limit=1")["links"]
    assert all("token=" not in link["href"] for link in links)  # a header token never lands in a URL


def test_session_cookie_works_for_a_signed_in_user(app: Dash, engine: Engine) -> None:
    c = client_login(app, engine, role="grid_manager", scope="419002")
    assert names(get(c, "/ogc/collections/enterprises/items")) == OWN_NAMES


@pytest.mark.parametrize("case", ["unknown", "malformed", "revoked", "expired", "disabled"])
def test_refused_tokens(app: Dash, engine: Engine, case: str) -> None:
    username, token = new_token(engine)
    with engine.begin() as conn:
        if case == "revoked":
            conn.execute(text("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = :h"),
                         {"h": token_hash(token)})
        elif case == "expired":
            conn.execute(text("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = :h"),
                         {"h": token_hash(token)})
        elif case == "disabled":
            set_active(conn, username=username, active=False)
    sent = {"unknown": token[:-4] + "AAAA", "malformed": "sgp_'; DROP TABLE users;--"}.get(case, token)
    c = app.server.test_client()
    r = c.get("/ogc/", headers={"Authorization": f"Bearer {sent}"})
    assert r.status_code == 401, r.get_data(as_text=True)
    assert r.get_json()["description"] == ogc.REFUSALS["unknown" if case == "malformed" else case]
    with engine.begin() as conn:
        audited = conn.execute(text(
            "SELECT detail->>'reason' FROM audit_log WHERE username = :u AND action = 'token_refused'"
        ), {"u": username}).scalars().all()
    assert audited == ([case] if case in ("revoked", "expired", "disabled") else [])


def test_use_is_noted_at_most_once_a_minute(client: FlaskClient, engine: Engine, weidu_token: str) -> None:
    get(client, "/ogc/")
    with engine.begin() as conn:
        first = conn.execute(text("SELECT last_used_at FROM api_tokens WHERE token_hash = :h"),
                             {"h": token_hash(weidu_token)}).scalar_one()
    get(client, "/ogc/conformance")
    with engine.begin() as conn:
        again = conn.execute(text("SELECT last_used_at FROM api_tokens WHERE token_hash = :h"),
                             {"h": token_hash(weidu_token)}).scalar_one()
    assert first is not None and again == first


def test_no_session_cookie_is_made_for_a_token(client: FlaskClient) -> None:
    r = client.get("/ogc/collections/enterprises/items")
    assert r.status_code == 200 and "Set-Cookie" not in r.headers


def test_an_account_without_the_map_is_refused(app: Dash, engine: Engine) -> None:
    # An enterprise account reads its own file only (docs/security.md); tokens give it nothing more.
    with engine.begin() as conn:
        credit = conn.execute(text("SELECT credit_code FROM enterprises WHERE name = '金地机械厂'")).scalar_one()
        conn.execute(text("""
            INSERT INTO users (username, password_hash, role, scope_unit_id, enterprise_id)
            SELECT 'ogc_ent_' || substr(md5(random()::text), 1, 8), 'x', 'enterprise', e.unit_id, e.id
            FROM enterprises e WHERE e.credit_code = :c RETURNING id"""), {"c": credit})
        user_id = conn.execute(text("SELECT max(id) FROM users WHERE role = 'enterprise'")).scalar_one()
        _, token = create_token(conn, user_id=user_id, name="x", days=1)
    r = app.server.test_client().get("/ogc/collections", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and "无权" in r.get_json()["description"]


# --- scope ---------------------------------------------------------------------------------------


def test_collections_of_a_district_manager(client: FlaskClient) -> None:
    body = get(client, "/ogc/collections")
    ids = [c["id"] for c in body["collections"]]
    assert ids == ["units-2", "units-3", "units-4", "units-5", "enterprises", "hazard-sources", "open-hazards",
                   "cadence", "inspection-due", "accidents"]
    by_id = {c["id"]: c for c in body["collections"]}
    assert by_id["units-2"]["extent"]["spatial"]["bbox"] == [[100.0, 25.8, 100.5, 26.4]]  # 甲区 only
    w, s, e, n = by_id["enterprises"]["extent"]["spatial"]["bbox"][0]
    assert (w, s, e, n) == (100.1, 25.9, 100.3, 26.0)  # the foreign 100.7 stays out of the extent
    assert "temporal" in by_id["open-hazards"]["extent"]


def test_every_collection_holds_only_the_subtree(client: FlaskClient) -> None:
    assert names(get(client, "/ogc/collections/enterprises/items")) == OWN_NAMES
    assert names(get(client, "/ogc/collections/units-2/items"), "code") == {"419002"}
    assert names(get(client, "/ogc/collections/units-5/items"), "code") == {OWN_GRID, "41900200200101"}
    assert names(get(client, "/ogc/collections/hazard-sources/items")) == {"金地化工有限公司储罐区"}
    hazards = names(get(client, "/ogc/collections/open-hazards/items"))
    assert hazards == {"储罐区可燃气体报警器失效", "车间安全出口堵塞"}  # open and in 甲区; 配电箱无防护 is closed
    get(client, "/ogc/collections/units-1/items", 404)  # the city level is above the scope


def test_a_foreign_feature_is_404_like_an_unknown_one(client: FlaskClient, engine: Engine) -> None:
    with engine.begin() as conn:
        foreign = conn.execute(text(
            "SELECT id FROM enterprises WHERE unit_id = (SELECT id FROM units WHERE code = :g)"
        ), {"g": FOREIGN_GRID}).scalar_one()
        own = conn.execute(text("SELECT id FROM enterprises WHERE name = '金地机械厂'")).scalar_one()
    unknown = get(client, "/ogc/collections/enterprises/items/999999999", 404)
    assert get(client, f"/ogc/collections/enterprises/items/{foreign}", 404) == unknown
    get(client, f"/ogc/collections/units-5/items/{FOREIGN_GRID}", 404)
    feature = get(client, f"/ogc/collections/enterprises/items/{own}")
    assert feature["id"] == own and feature["properties"]["name"] == "金地机械厂"
    assert feature["geometry"] == {"type": "Point", "coordinates": [100.2, 25.95]}
    assert feature["properties"]["grid_code"] == OWN_GRID and feature["properties"]["class_label"]
    get(client, "/ogc/collections/enterprises/items/abc", 404)


def test_the_whole_city_for_a_leader(app: Dash, engine: Engine) -> None:
    c = app.server.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_token(engine, role='leader', scope='419000')[1]}"
    assert names(get(c, "/ogc/collections/enterprises/items?bbox=99.9,25.7,101.1,26.5")) == OWN_NAMES | FOREIGN_NAMES
    assert next(x["id"] for x in get(c, "/ogc/collections")["collections"]) == "units-1"


# --- parameters ----------------------------------------------------------------------------------


def test_bbox_limit_offset_and_links(client: FlaskClient) -> None:
    west = get(client, "/ogc/collections/enterprises/items?bbox=100.15,25.8,100.5,26.4")
    assert names(west) == OWN_NAMES - {"金地化工有限公司"}  # at 100.10, outside the box
    assert get(client, "/ogc/collections/enterprises/items?bbox=100.15,25.8,0,100.5,26.4,0")["numberMatched"] == 2
    seen: list[str] = []
    url = "/ogc/collections/enterprises/items?limit=2"
    pages = 0
    while url:
        page = get(client, url)
        pages += 1
        assert page["numberReturned"] == len(page["features"]) <= 2 and page["numberMatched"] == 3
        seen += [f["properties"]["name"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = nxt[0].split("localhost", 1)[1] if nxt else ""
    assert pages == 2 and sorted(seen) == sorted(OWN_NAMES)
    second = get(client, "/ogc/collections/enterprises/items?limit=2&offset=2")
    prev = next(link["href"] for link in second["links"] if link["rel"] == "prev")
    assert "offset=0" in prev and "limit=2" in prev


def test_limit_above_the_maximum_is_the_maximum(client: FlaskClient) -> None:
    body = get(client, "/ogc/collections/enterprises/items?limit=5000")
    self_link = next(link["href"] for link in body["links"] if link["rel"] == "self")
    assert f"limit={ogc.MAX_LIMIT}" in self_link and body["numberReturned"] == 3


@pytest.mark.parametrize("query", [
    "limit=0", "limit=-1", "limit=abc", "offset=-5", "bbox=1,2,3", "bbox=a,b,c,d", "bbox=100,30,101,20",
    "bbox=100,25,200,26", "datetime=yesterday", "datetime=../..", "datetime=2026-02-01T00:00:00Z/2026-01-01T00:00:00Z",
    "risk_level=purple", "class=nope", "has_major_hazard_source=maybe", "f=html", "limit=1&limit=2",
])
def test_invalid_values_400(client: FlaskClient, query: str) -> None:
    body = get(client, f"/ogc/collections/enterprises/items?{query}", 400)
    assert body["code"] == "InvalidParameterValue" and body["description"]


@pytest.mark.parametrize("url", ["/ogc/collections/enterprises/items?colour=red", "/ogc/collections?bbox=1,2,3,4",
                                 "/ogc/?limit=3", "/ogc/collections/units-2/items?industry=x"])
def test_unknown_parameters_400(client: FlaskClient, url: str) -> None:
    assert "不支持的查询参数" in get(client, url, 400)["description"]


def test_property_filters(client: FlaskClient) -> None:
    assert names(get(client, "/ogc/collections/enterprises/items?risk_level=red")) == {"金地化工有限公司"}
    assert names(get(client, "/ogc/collections/enterprises/items?class=none")) == {"金地纺织公司"}
    assert names(get(client, "/ogc/collections/enterprises/items?industry=危险化学品")) == OWN_NAMES
    assert get(client, "/ogc/collections/enterprises/items?industry=烟花爆竹")["features"] == []
    assert names(get(client, "/ogc/collections/open-hazards/items?level=major")) == {"储罐区可燃气体报警器失效"}
    assert names(get(client, "/ogc/collections/units-3/items?risk_class=orange"), "code") == {"419002001", "419002002"}
    assert names(get(client, "/ogc/collections/hazard-sources/items?grade=2")) == {"金地化工有限公司储罐区"}
    # the grade-1 source is foreign
    assert get(client, "/ogc/collections/hazard-sources/items?grade=1")["numberMatched"] == 0


def test_datetime_on_found_at(client: FlaskClient) -> None:
    found = clock.today() - timedelta(days=30)  # fixtures_map: found 30 days ago
    day = found.isoformat()
    hit = get(client, f"/ogc/collections/open-hazards/items?datetime={day}T12:00:00%2B08:00")
    assert hit["numberMatched"] == 2
    assert get(client, f"/ogc/collections/open-hazards/items?datetime=../{found - timedelta(days=1)}T00:00:00Z")[
        "numberMatched"] == 0
    assert get(client, f"/ogc/collections/open-hazards/items?datetime={day}T00:00:00Z/..")["numberMatched"] == 2
    # a collection without a date: datetime matches every feature (/req/core/fc-time-response C)
    assert get(client, "/ogc/collections/enterprises/items?datetime=2020-01-01T00:00:00Z")["numberMatched"] == 3


def test_f_json_and_content_types(client: FlaskClient) -> None:
    assert client.get("/ogc/collections/enterprises/items?f=json").mimetype == "application/geo+json"
    assert client.get("/ogc/collections?f=json").mimetype == "application/json"
    assert client.get("/ogc/api").mimetype == "application/vnd.oai.openapi+json"
    r = client.get("/ogc/nothing/here")
    assert r.status_code == 404 and r.get_json()["code"] == "NotFound"


def test_a_new_point_layer_becomes_a_collection(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.LAYERS, TOY.id, TOY)
    by_id = {c["id"]: c for c in get(client, "/ogc/collections")["collections"]}
    assert by_id["supervised"]["title"] == "挂牌督办隐患"
    body = get(client, "/ogc/collections/supervised/items")
    assert names(body) == {"储罐区可燃气体报警器失效"}  # 县级督办, in 甲区; the 市级 one is foreign
    props = body["features"][0]["properties"]
    assert props["class"] == "s2" and props["found_at"] and props["code"] == "MAPT-H1"  # the hazards table's extras
    assert "/collections/supervised/items" in get(client, "/ogc/api")["paths"]
