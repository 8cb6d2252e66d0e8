"""/ogc/ against a real gunicorn server with real clients: OWSLib's ``Features`` with a grid manager's token (landing,
collections, items paged through ``next`` links, bbox, only the manager's subtree, a revoked token refused), and
the requirements of OGC API – Features – Part 1: Core 1.0 (OGC 17-069r4) and of its GeoJSON and OpenAPI 3.0
classes checked one by one, each row naming the requirement it verifies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import owslib.ogcapi
import pytest
import requests
from openapi_spec_validator import validate
from owslib.ogcapi.features import Features
from sqlalchemy import Engine, text

from dashboard.ogc import CONFORMANCE, GEOJSON, MAX_LIMIT, OPENAPI
from domain import clock
from geo.tokens import create_token, token_hash
from tests.browser import make_user
from tests.demo_server import gunicorn_app
from tests.fixtures_map import ENTERPRISES, FOREIGN_GRID, OWN_GRID, ensure_map_data, map_data  # noqa: F401

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("map_data")]
TOWNSHIP = "419002001"  # 甲一街道: the grid manager's township; 甲二街道 and 乙区 are outside
OWN_NAMES = {name for _, name, _, grid, _, _ in ENTERPRISES if grid == OWN_GRID}
CITY_BBOX = (99.9, 25.7, 101.1, 26.5)


def token_of(engine: Engine, role: str, scope: str) -> str:
    username, _ = make_user(engine, role=role, scope=scope, prefix=f"ogc_{role}")
    with engine.begin() as conn:
        user_id = conn.execute(text("SELECT id FROM users WHERE username = :u"), {"u": username}).scalar_one()
        return create_token(conn, user_id=user_id, name="OWSLib", days=7)[1]


@pytest.fixture(scope="module")
def server(db_url: str, engine: Engine) -> Iterator[str]:
    ensure_map_data(engine)
    with gunicorn_app(db_url) as base:
        yield base


@pytest.fixture(scope="module")
def manager_token(engine: Engine) -> str:
    return token_of(engine, "grid_manager", TOWNSHIP)


def owslib_client(monkeypatch: pytest.MonkeyPatch, base: str, token: str) -> Features:
    """OWSLib with the token as a Bearer header (OWSLib keeps headers in a module-level dict: one per test)."""
    monkeypatch.setattr(owslib.ogcapi, "REQUEST_HEADERS", dict(owslib.ogcapi.REQUEST_HEADERS))
    return Features(f"{base}/ogc/", headers={"Authorization": f"Bearer {token}"})


# --- OWSLib --------------------------------------------------------------------------------------


def test_owslib_landing_conformance_and_api(monkeypatch: pytest.MonkeyPatch, server: str, manager_token: str) -> None:
    w = owslib_client(monkeypatch, server, manager_token)
    assert {link["rel"] for link in w.links} >= {"self", "service-desc", "conformance", "data"}
    assert "甲一街道" in w.response["description"]
    assert set(CONFORMANCE) <= set(w.conformance()["conformsTo"])
    assert w.api()["openapi"].startswith("3.0")


def test_owslib_sees_only_the_grid_managers_subtree(monkeypatch: pytest.MonkeyPatch, server: str,
                                                    manager_token: str) -> None:
    w = owslib_client(monkeypatch, server, manager_token)
    assert w.feature_collections() == ["units-3", "units-4", "units-5", "enterprises", "hazard-sources",
                                       "open-hazards", "cadence",
                                       "inspection-due", "accidents"]
    units = w.collection_items("units-5", bbox=list(CITY_BBOX), limit=MAX_LIMIT)
    assert {f["properties"]["code"] for f in units["features"]} == {OWN_GRID}
    ents = w.collection_items("enterprises", bbox=list(CITY_BBOX))
    assert {f["properties"]["name"] for f in ents["features"]} == OWN_NAMES and ents["numberMatched"] == 3
    assert w.collection("enterprises")["extent"]["spatial"]["bbox"][0][2] <= 100.5  # not 乙区's 100.7
    with pytest.raises(RuntimeError, match="未找到"):
        w.collection_item("units-5", FOREIGN_GRID)
    with pytest.raises(RuntimeError, match="没有名为“units-2”的要素集合"):
        w.collection("units-2")  # above the township


def test_owslib_pages_through_next_links(monkeypatch: pytest.MonkeyPatch, server: str, manager_token: str) -> None:
    w = owslib_client(monkeypatch, server, manager_token)
    seen, params, pages = [], {"limit": 1}, 0
    while True:
        page = w.collection_items("enterprises", **params)
        pages += 1
        assert page["numberReturned"] == len(page["features"]) == 1
        seen += [f["id"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            break
        params = {k: v[0] for k, v in parse_qs(urlparse(nxt[0]).query).items()}
    assert pages == 3 and len(set(seen)) == 3 and seen == sorted(seen)


def test_owslib_bbox(monkeypatch: pytest.MonkeyPatch, server: str, manager_token: str) -> None:
    w = owslib_client(monkeypatch, server, manager_token)
    page = w.collection_items("enterprises", bbox=[100.15, 25.8, 100.5, 26.4])
    assert {f["properties"]["name"] for f in page["features"]} == OWN_NAMES - {"金地化工有限公司"}
    assert w.collection_items("enterprises", bbox=[100.6, 25.8, 101.0, 26.4])["features"] == []  # 乙区: none of mine


def test_owslib_with_the_token_in_the_url_as_qgis_sends_it(server: str, manager_token: str) -> None:
    # OWSLib carries a query string of the landing URL into every request, like QGIS does.
    w = Features(f"{server}/ogc/?token={manager_token}", json_="{}")
    assert "enterprises" in w.feature_collections()


def test_owslib_revoked_token_refused(monkeypatch: pytest.MonkeyPatch, server: str, engine: Engine) -> None:
    token = token_of(engine, "grid_manager", TOWNSHIP)
    w = owslib_client(monkeypatch, server, token)
    assert w.feature_collections()
    with engine.begin() as conn:
        conn.execute(text("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = :h"), {"h": token_hash(token)})
    with pytest.raises(RuntimeError, match="已被吊销"):
        w.collection_items("enterprises")


# --- the Core requirements, one by one --------------------------------------------------------------


@dataclass
class Api:
    """A signed-in (token) HTTP view of the service for the conformance rows, with the documents cached."""

    base: str
    session: requests.Session
    cache: dict[str, Any] = field(default_factory=dict)

    def get(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        url = path_or_url if path_or_url.startswith("http") else f"{self.base}/ogc{path_or_url}"
        return self.session.get(url, timeout=20, **kwargs)

    def doc(self, path: str) -> Any:
        if path not in self.cache:
            r = self.get(path)
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
            self.cache[path] = r.json()
        return self.cache[path]

    def all_items(self, cid: str, **params: Any) -> list[dict[str, Any]]:
        return list(self.get(f"/collections/{cid}/items", params={"limit": MAX_LIMIT, **params}).json()["features"])

    @property
    def ids(self) -> list[str]:
        return [c["id"] for c in self.doc("/collections")["collections"]]


def links_complete(links: list[dict[str, Any]]) -> bool:
    return all(link.get("rel") and link.get("type") and link.get("href") for link in links)


def rel(links: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [link for link in links if link["rel"] == name]


def positions(geometry: dict[str, Any] | None) -> list[list[float]]:
    out: list[list[float]] = []
    stack = [geometry["coordinates"]] if geometry else []
    while stack:
        c = stack.pop()
        if c and isinstance(c[0], int | float):
            out.append(c)
        else:
            stack.extend(c)
    return out


def inside(pos: list[float], box: list[float]) -> bool:
    return box[0] - 1e-9 <= pos[0] <= box[2] + 1e-9 and box[1] - 1e-9 <= pos[1] <= box[3] + 1e-9


def _http(a: Api) -> None:
    assert a.get("/").raw.version == 11


def _root_op(a: Api) -> None:
    assert a.get("/").status_code == 200


def _root_success(a: Api) -> None:
    links = a.doc("/")["links"]
    assert rel(links, "service-desc") and rel(links, "conformance") and rel(links, "data") and links_complete(links)


def _api_definition_op(a: Api) -> None:
    for link in rel(a.doc("/")["links"], "service-desc") + rel(a.doc("/")["links"], "service-doc"):
        assert a.get(link["href"]).status_code == 200


def _api_definition_success(a: Api) -> None:
    link = rel(a.doc("/")["links"], "service-desc")[0]
    r = a.get(link["href"], headers={"Accept": link["type"]})
    assert r.headers["Content-Type"].startswith(OPENAPI.split(";")[0]) and link["type"] == OPENAPI
    validate(r.json())  # a valid OpenAPI 3.0 document (openapi-spec-validator)


def _conformance_op(a: Api) -> None:
    for link in [*rel(a.doc("/")["links"], "conformance"), {"href": f"{a.base}/ogc/conformance"}]:
        assert a.get(link["href"]).status_code == 200


def _conformance_success(a: Api) -> None:
    conforms = a.doc("/conformance")["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conforms and set(conforms) == set(
        CONFORMANCE)


def _crs84(a: Api) -> None:
    for cid in a.ids:
        for f in a.all_items(cid):
            assert all(100.0 <= x <= 101.0 and 25.8 <= y <= 26.4 for x, y in positions(f["geometry"])), cid
    crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert all(c["crs"][0] == crs84 for c in a.doc("/collections")["collections"])


def _fc_md_op(a: Api) -> None:
    assert a.get("/collections").status_code == 200


def _fc_md_success(a: Api) -> None:
    doc = a.doc("/collections")
    assert isinstance(doc["links"], list) and isinstance(doc["collections"], list) and doc["collections"]


def _fc_md_links(a: Api) -> None:
    links = a.doc("/collections")["links"]
    assert rel(links, "self") and links_complete(links)  # JSON is the only media type: no alternate


def _fc_md_items(a: Api) -> None:
    assert a.ids == ["units-3", "units-4", "units-5", "enterprises", "hazard-sources", "open-hazards", "cadence",
                     "inspection-due", "accidents"]
    assert all(c["id"] and c["links"] for c in a.doc("/collections")["collections"])


def _fc_md_items_links(a: Api) -> None:
    for c in a.doc("/collections")["collections"]:
        items = rel(c["links"], "items")
        assert [link["type"] for link in items] == [GEOJSON] and links_complete(c["links"])


def _fc_md_extent(a: Api) -> None:
    for c in a.doc("/collections")["collections"]:
        features = a.all_items(c["id"])
        if "extent" not in c:
            assert not any(f["geometry"] for f in features)
            continue
        box = c["extent"]["spatial"]["bbox"][0]
        assert all(inside(p, box) for f in features for p in positions(f["geometry"])), c["id"]
        temporal = c["extent"].get("temporal")
        if temporal:
            start, end = (datetime.fromisoformat(v).date() for v in temporal["interval"][0])
            assert all(start <= date.fromisoformat(f["properties"]["found_at"]) <= end for f in features)


def _fc_md_extent_multi(a: Api) -> None:
    assert all(len(c["extent"]["spatial"]["bbox"]) == 1 for c in a.doc("/collections")["collections"] if "extent" in c)


def _sfc_md_op(a: Api) -> None:
    assert all(a.get(f"/collections/{cid}").status_code == 200 for cid in a.ids)


def _sfc_md_success(a: Api) -> None:
    for c in a.doc("/collections")["collections"]:
        one = a.doc(f"/collections/{c['id']}")
        assert {k: one.get(k) for k in ("id", "title", "description", "extent", "itemType")} == {
            k: c.get(k) for k in ("id", "title", "description", "extent", "itemType")}
        assert all(link in one["links"] for link in c["links"])


def _fc_op(a: Api) -> None:
    assert all(a.get(f"/collections/{cid}/items").status_code == 200 for cid in a.ids)


def _param(a: Api, name: str) -> list[dict[str, Any]]:
    spec = a.doc("/api")
    out = []
    for cid in a.ids:
        for p in spec["paths"][f"/collections/{cid}/items"]["get"]["parameters"]:
            if "$ref" in p:
                p = spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
            if p["name"] == name:
                out.append(p)
    assert len(out) == len(a.ids)
    return out


def _fc_bbox_definition(a: Api) -> None:
    for p in _param(a, "bbox"):
        assert p["in"] == "query" and p["required"] is False and p["style"] == "form" and p["explode"] is False
        assert p["schema"]["type"] == "array" and p["schema"]["items"] == {"type": "number"}
        assert p["schema"]["oneOf"] == [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}]


def _fc_bbox_response(a: Api) -> None:
    box = [100.15, 25.8, 100.5, 26.4]
    for cid in a.ids:
        for f in a.all_items(cid, bbox=",".join(map(str, box))):
            pts = positions(f["geometry"])
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            assert min(xs) <= box[2] and max(xs) >= box[0] and min(ys) <= box[3] and max(ys) >= box[1], cid
    assert len(a.all_items("enterprises", bbox=",".join(map(str, box)))) == 2


def _fc_limit_definition(a: Api) -> None:
    for p in _param(a, "limit"):
        assert p["schema"]["type"] == "integer" and p["style"] == "form" and p["explode"] is False
        assert p["schema"]["minimum"] == 1 and p["schema"]["maximum"] == MAX_LIMIT and p["required"] is False


def _fc_limit_response(a: Api) -> None:
    assert len(a.get("/collections/enterprises/items", params={"limit": 2}).json()["features"]) == 2
    r = a.get("/collections/enterprises/items", params={"limit": MAX_LIMIT * 10})
    assert r.status_code == 200 and len(r.json()["features"]) <= MAX_LIMIT


def _fc_time_definition(a: Api) -> None:
    for p in _param(a, "datetime"):
        assert p["schema"] == {"type": "string"} and p["style"] == "form" and p["explode"] is False


def _fc_time_response(a: Api) -> None:
    found = clock.today() - timedelta(days=30)  # fixtures_map: every hazard was found 30 days ago
    hit = a.all_items("open-hazards", datetime=f"{found}T00:00:00+08:00/{found}T23:59:59+08:00")
    assert hit and all(f["properties"]["found_at"] == found.isoformat() for f in hit)
    assert a.all_items("open-hazards", datetime=f"../{found - timedelta(days=2)}T00:00:00Z") == []
    assert len(a.all_items("open-hazards", datetime=f"{found}T00:00:00+08:00/..")) == len(hit)
    both = a.all_items("open-hazards", datetime=f"{found}T12:00:00Z", bbox="100.0,25.8,100.15,26.4")
    assert [f["properties"]["name"] for f in both] == ["储罐区可燃气体报警器失效"]  # bbox and datetime together


def _query_param_unknown(a: Api) -> None:
    assert a.get("/collections/enterprises/items", params={"colour": "red"}).status_code == 400
    assert a.get("/collections", params={"limit": 1}).status_code == 400


def _query_param_invalid(a: Api) -> None:
    for params in ({"limit": "ten"}, {"bbox": "1,2,3"}, {"datetime": "tomorrow"}, {"offset": "-1"}):
        assert a.get("/collections/enterprises/items", params=params).status_code == 400, params


def _fc_response(a: Api) -> None:
    for cid in a.ids:
        body = a.get(f"/collections/{cid}/items").json()
        assert body["type"] == "FeatureCollection" and isinstance(body["features"], list)
        assert all(f["type"] == "Feature" and "geometry" in f and "properties" in f for f in body["features"])
    red = a.all_items("enterprises", risk_level="red")
    assert [f["properties"]["risk_level"] for f in red] == ["red"]  # only the selected features


def _fc_links(a: Api) -> None:
    links = a.get("/collections/enterprises/items").json()["links"]
    assert rel(links, "self") and links_complete(links)


def _fc_rel_type(a: Api) -> None:
    assert links_complete(a.get("/collections/enterprises/items", params={"limit": 1, "offset": 1}).json()["links"])


def _fc_timestamp(a: Api) -> None:
    before = datetime.now().astimezone() - timedelta(seconds=2)
    stamp = datetime.fromisoformat(a.get("/collections/enterprises/items").json()["timeStamp"])
    assert before <= stamp <= datetime.now().astimezone() + timedelta(seconds=2)


def _fc_number_matched(a: Api) -> None:
    first = a.get("/collections/units-5/items", params={"limit": 1}).json()
    assert first["numberMatched"] == len(a.all_items("units-5")) == 1
    filtered = a.get("/collections/enterprises/items", params={"bbox": "100.15,25.8,100.5,26.4", "limit": 1}).json()
    assert filtered["numberMatched"] == 2


def _fc_number_returned(a: Api) -> None:
    for params in ({}, {"limit": 2}, {"limit": 2, "offset": 2}, {"offset": 99}):
        body = a.get("/collections/enterprises/items", params=params).json()
        assert body["numberReturned"] == len(body["features"])


def _f_op(a: Api) -> None:
    for cid in a.ids:
        for f in a.all_items(cid):
            assert a.get(f"/collections/{cid}/items/{f['id']}").status_code == 200


def _f_success(a: Api) -> None:
    f = a.all_items("enterprises")[0]
    r = a.get(f"/collections/enterprises/items/{f['id']}")
    one = r.json()
    assert r.status_code == 200 and one["type"] == "Feature" and one["id"] == f["id"] and one["geometry"]


def _f_links(a: Api) -> None:
    f = a.all_items("units-5")[0]
    links = a.get(f"/collections/units-5/items/{f['id']}").json()["links"]
    assert rel(links, "self") and rel(links, "collection") and links_complete(links)


def _geojson_definition(a: Api) -> None:
    assert a.get("/collections/enterprises/items").headers["Content-Type"].startswith(GEOJSON)
    collections = a.doc("/collections")["collections"]
    assert all(link["type"] == GEOJSON for c in collections for link in rel(c["links"], "items"))


def _geojson_content(a: Api) -> None:
    body = a.get("/collections/units-3/items").json()
    assert body["features"][0]["geometry"]["type"] == "MultiPolygon"
    assert all(isinstance(f["properties"], dict) for f in body["features"])


def _oas30_oas_impl(a: Api) -> None:
    # every path of the definition answers (path parameters filled with real ids)
    spec = a.doc("/api")
    for path in spec["paths"]:
        if "{featureId}" in path:
            cid = path.split("/")[2]
            path = path.replace("{featureId}", str(a.all_items(cid)[0]["id"])) if a.all_items(cid) else ""
        if path:
            assert a.get(path).status_code == 200, path


def _oas30_completeness(a: Api) -> None:
    paths = set(a.doc("/api")["paths"])
    assert {"/", "/conformance", "/api", "/collections"} <= paths
    assert all({f"/collections/{cid}", f"/collections/{cid}/items", f"/collections/{cid}/items/{{featureId}}"} <= paths
               for cid in a.ids)


def _oas30_exceptions_codes(a: Api) -> None:
    for path in a.doc("/api")["paths"].values():
        assert {"400", "404", "500"} <= set(path["get"]["responses"])


def _oas30_security(a: Api) -> None:
    schemes = a.doc("/api")["components"]["securitySchemes"]
    assert schemes["bearerToken"]["scheme"] == "bearer" and schemes["queryToken"]["in"] == "query"


REQUIREMENTS: list[tuple[str, Callable[[Api], None]]] = [
    ("/req/core/http", _http),
    ("/req/core/root-op", _root_op),
    ("/req/core/root-success", _root_success),
    ("/req/core/api-definition-op", _api_definition_op),
    ("/req/core/api-definition-success", _api_definition_success),
    ("/req/core/conformance-op", _conformance_op),
    ("/req/core/conformance-success", _conformance_success),
    ("/req/core/crs84", _crs84),
    ("/req/core/fc-md-op", _fc_md_op),
    ("/req/core/fc-md-success", _fc_md_success),
    ("/req/core/fc-md-links", _fc_md_links),
    ("/req/core/fc-md-items", _fc_md_items),
    ("/req/core/fc-md-items-links", _fc_md_items_links),
    ("/req/core/fc-md-extent", _fc_md_extent),
    ("/req/core/fc-md-extent-multi", _fc_md_extent_multi),
    ("/req/core/sfc-md-op", _sfc_md_op),
    ("/req/core/sfc-md-success", _sfc_md_success),
    ("/req/core/fc-op", _fc_op),
    ("/req/core/fc-bbox-definition", _fc_bbox_definition),
    ("/req/core/fc-bbox-response", _fc_bbox_response),
    ("/req/core/fc-limit-definition", _fc_limit_definition),
    ("/req/core/fc-limit-response-1", _fc_limit_response),
    ("/req/core/fc-time-definition", _fc_time_definition),
    ("/req/core/fc-time-response", _fc_time_response),
    ("/req/core/query-param-unknown", _query_param_unknown),
    ("/req/core/query-param-invalid", _query_param_invalid),
    ("/req/core/fc-response", _fc_response),
    ("/req/core/fc-links", _fc_links),
    ("/req/core/fc-rel-type", _fc_rel_type),
    ("/req/core/fc-timeStamp", _fc_timestamp),
    ("/req/core/fc-numberMatched", _fc_number_matched),
    ("/req/core/fc-numberReturned", _fc_number_returned),
    ("/req/core/f-op", _f_op),
    ("/req/core/f-success", _f_success),
    ("/req/core/f-links", _f_links),
    ("/req/geojson/definition", _geojson_definition),
    ("/req/geojson/content", _geojson_content),
    ("/req/oas30/oas-impl", _oas30_oas_impl),
    ("/req/oas30/completeness", _oas30_completeness),
    ("/req/oas30/exceptions-codes", _oas30_exceptions_codes),
    ("/req/oas30/security", _oas30_security),
]


@pytest.fixture(scope="module")
def api(server: str, manager_token: str) -> Api:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {manager_token}"
    return Api(server, s)


@pytest.mark.parametrize(("requirement", "check"), REQUIREMENTS, ids=[r for r, _ in REQUIREMENTS])
def test_requirement(api: Api, requirement: str, check: Callable[[Api], None]) -> None:
    check(api)


def test_every_core_requirement_is_checked() -> None:
    # Core 1.0's requirements (core/standard/requirements/core/REQ_*.adoc of the 1.0.1 tag of the standard)
    core = {"api-definition-op", "api-definition-success", "conformance-op", "conformance-success", "crs84",
            "f-links", "f-op", "f-success", "fc-bbox-definition", "fc-bbox-response", "fc-limit-definition",
            "fc-limit-response-1", "fc-links", "fc-md-extent-multi", "fc-md-extent", "fc-md-items-links",
            "fc-md-items", "fc-md-links", "fc-md-op", "fc-md-success", "fc-numberMatched", "fc-numberReturned",
            "fc-op", "fc-rel-type", "fc-response", "fc-time-definition", "fc-time-response", "fc-timeStamp", "http",
            "query-param-invalid", "query-param-unknown", "root-op", "root-success", "sfc-md-op", "sfc-md-success"}
    assert {r.removeprefix("/req/core/") for r, _ in REQUIREMENTS if r.startswith("/req/core/")} == core
