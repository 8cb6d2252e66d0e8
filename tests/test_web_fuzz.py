"""Fuzz the web surface as a hostile signed-in user: malformed Dash callback bodies, forged values for every
callback, bad path and query values for every data route. Only 4xx answers (or a callback's refusal shown in
the shell), always in Chinese: never a 500, never 系统内部错误, never raw English exception text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Engine

from dashboard.app import create_app
from tests.browser import app_settings, make_user, with_csrf_header

pytestmark = pytest.mark.db
UPDATE = "/_dash-update-component"
CJK = re.compile(r"[\u3400-\u9fff]")
ENGLISH_ERRORS = re.compile(r"Traceback|could not convert|invalid literal|object has no attribute|KeyError|"
                            r"TypeError|ValueError|NUL \(0x00\)|psycopg2|sqlalchemy", re.IGNORECASE)
BAD_VALUES: list[Any] = [
    None, "", "\x00", "abc\x00def", "abc", -1, 10**30, 1e308, True, [], {}, [1, "a", None],
    {"startRow": "x", "endRow": "y"}, {"startRow": 10**30, "endRow": -5, "sortModel": "x", "filterModel": [1]},
    {"lat": "x", "lon": None, "crs": 5}, {"code": ["411000"]}, {"a": {"b": {"c": [{"d": "e"}]}}},
    "x" * 5000, "' OR 1=1 --", "../../etc/passwd", "%", "_", "411000.%", "\u202e中文", "NaN", "Infinity",
]
BAD_PATH_VALUES = ["abc", "%00", "411000%00", "999999", "-1", "x" * 300, "%E4%B8%AD", "..%2F..", "%25", "%0A"]
QUERY_NAMES = ["q", "limit", "lat", "lon", "r", "bbox", "zoom", "crs", "kinds", "metric", "level", "units", "unit",
               "code", "sort", "status", "channel", "industry", "flag", "from", "to", "res", "a", "b", "kind"]
BAD_QUERY_VALUES = ["\x00", "abc", "nan", "inf", "-inf", "1e309", "-1", "x" * 3000, "%", "1,2,3", "1,2,nan,4",
                    "181,91,-181,-91", "2026-13-45", "中文", "status:sideways", "", "0x10"]


@pytest.fixture(scope="module")
def app_and_client(engine: Engine, unit_tree: dict[str, str]) -> Iterator[tuple[Any, Any]]:
    """An app and a test client signed in as an admin of the whole city (every capability)."""
    app = create_app(app_settings())
    client = app.server.test_client()
    user, password = make_user(engine, role="admin", scope="411000")
    html = client.get("/login").get_data(as_text=True)
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/login", data={"username": user, "password": password, "csrf_token": token}).status_code == 302
    yield app, with_csrf_header(client)


def _assert_refusal(r: Any, what: Any) -> None:
    """4xx with a Chinese message, or a handled callback answer without an internal error or English text."""
    if r.status_code < 400 and r.mimetype not in ("application/json", "text/html", "text/plain"):
        return  # an xlsx or png the route chose to send (bad values ignored or clamped)
    body = r.get_data(as_text=True)
    try:
        shown = json.dumps(json.loads(body), ensure_ascii=False)
    except ValueError:
        shown = body
    assert r.status_code < 500, (what, r.status_code, shown[:400])
    assert "系统内部错误" not in shown, (what, shown[:400])
    assert not ENGLISH_ERRORS.search(shown), (what, shown[:400])
    if 400 <= r.status_code < 500:
        assert CJK.search(shown), (what, r.status_code, shown[:400])


def _valid_body() -> dict[str, Any]:
    return {"output": "home-summary.children", "outputs": {"id": "home-summary", "property": "children"},
            "inputs": [{"id": "home-unit", "property": "value", "value": "411000"}],
            "changedPropIds": ["home-unit.value"]}


def _deep(depth: int) -> Any:
    node: Any = "x"
    for _ in range(depth):
        node = [node]
    return node


MALFORMED_BODIES: list[tuple[str, Any]] = [
    ("array", []), ("string", "x"), ("number", 1), ("null", None), ("empty object", {}),
    ("no output", {k: v for k, v in _valid_body().items() if k != "output"}),
    ("unknown output", {**_valid_body(), "output": "no-such.children"}),
    ("output not a string", {**_valid_body(), "output": ["home-summary.children"]}),
    ("no outputs", {k: v for k, v in _valid_body().items() if k != "outputs"}),
    ("outputs a string", {**_valid_body(), "outputs": "home-summary.children"}),
    ("outputs without property", {**_valid_body(), "outputs": {"id": "home-summary"}}),
    ("no inputs", {k: v for k, v in _valid_body().items() if k != "inputs"}),
    ("inputs an object", {**_valid_body(), "inputs": {"id": "home-unit", "property": "value"}}),
    ("inputs of strings", {**_valid_body(), "inputs": ["home-unit.value"]}),
    ("too many inputs", {**_valid_body(), "inputs": _valid_body()["inputs"] * 2}),
    ("too few inputs", {**_valid_body(), "inputs": []}),
    ("another component's input", {**_valid_body(), "inputs": [{"id": "x", "property": "value", "value": 1}]}),
    ("input id a number", {**_valid_body(), "inputs": [{"id": 5, "property": "value", "value": 1}]}),
    ("state a string", {**_valid_body(), "state": "x"}),
    ("undeclared state", {**_valid_body(), "state": [{"id": "a", "property": "b"}]}),
    ("changedPropIds not a list", {**_valid_body(), "changedPropIds": "home-unit.value"}),
    ("changedPropIds of numbers", {**_valid_body(), "changedPropIds": [1, 2]}),
    ("NUL in a value", {**_valid_body(), "inputs": [{"id": "home-unit", "property": "value", "value": "41\x00"}]}),
    ("NUL in a key", {**_valid_body(), "x\x00": 1}),
    ("nested 40 deep", {**_valid_body(), "inputs": [{"id": "home-unit", "property": "value", "value": _deep(40)}]}),
]


@pytest.mark.parametrize(("name", "body"), MALFORMED_BODIES, ids=[n for n, _ in MALFORMED_BODIES])
def test_malformed_callback_bodies_answer_400(app_and_client: tuple[Any, Any], name: str, body: Any) -> None:
    _, client = app_and_client
    r = client.post(UPDATE, data=json.dumps(body), content_type="application/json")
    assert r.status_code == 400, (name, r.status_code, r.get_data(as_text=True)[:300])
    _assert_refusal(r, name)


@pytest.mark.parametrize(("name", "data", "content_type"), [
    ("not JSON", b"{not json", "application/json"),
    ("truncated JSON", json.dumps(_valid_body())[:-5].encode(), "application/json"),
    ("deeper than the parser", b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ("a form", b"output=home-summary.children", "application/x-www-form-urlencoded"),
    ("plain text", json.dumps(_valid_body()).encode(), "text/plain"),
    ("invalid UTF-8", b'{"output": "\xff\xfe"}', "application/json"),
])
def test_unreadable_callback_bodies_answer_4xx(
    app_and_client: tuple[Any, Any], name: str, data: bytes, content_type: str
) -> None:
    _, client = app_and_client
    r = client.post(UPDATE, data=data, content_type=content_type)
    assert r.status_code in (400, 415), (name, r.status_code, r.get_data(as_text=True)[:300])
    _assert_refusal(r, name)


def test_body_size_limit_answers_413_in_chinese(app_and_client: tuple[Any, Any]) -> None:
    app, client = app_and_client
    limit = app.server.config["MAX_CONTENT_LENGTH"]
    assert limit == 2 * 1024 * 1024
    body = {**_valid_body(), "padding": "x" * limit}
    r = client.post(UPDATE, data=json.dumps(body), content_type="application/json")
    assert r.status_code == 413 and "请求内容过大" in r.get_json()["error"]
    r = client.post("/login", data={"username": "x" * limit})
    assert r.status_code == 413 and "请求内容过大" in r.get_data(as_text=True)


def _pattern_id(declared: str, value: Any) -> dict[str, Any]:
    """A concrete id for a pattern-matching declared id, the wildcards replaced by ``value``."""
    return {k: (value if isinstance(v, list) else v) for k, v in json.loads(declared).items()}


def _dependency(spec: dict[str, Any], value: Any, wildcard: Any) -> Any:
    declared = str(spec["id"])
    if declared.startswith("{"):
        item = {"id": _pattern_id(declared, wildcard), "property": spec["property"], "value": value}
        return [item] if '["ALL"]' in declared or '["ALLSMALLER"]' in declared else item
    return {"id": declared, "property": spec["property"], "value": value}


def _outputs(key: str) -> Any:
    parts = key[2:-2].split("...") if key.startswith("..") else [key]
    outs = []
    for part in parts:
        out_id, _, prop = part.rpartition(".")
        outs.append({"id": _pattern_id(out_id, "x") if out_id.startswith("{") else out_id, "property": prop})
    return outs if key.startswith("..") else outs[0]


def _changed(dep: Any) -> str:
    item = dep[0] if isinstance(dep, list) else dep
    ident = item["id"]
    ident = json.dumps(ident, separators=(",", ":"), sort_keys=True) if isinstance(ident, dict) else ident
    return f"{ident}.{item['property']}"


def test_every_callback_survives_forged_values(app_and_client: tuple[Any, Any]) -> None:
    """Each server callback gets every bad value in every input and state: handled, never an internal error."""
    app, client = app_and_client
    callbacks = dict(app.callback_map)
    assert len(callbacks) >= 20
    for key, cb in callbacks.items():
        for value in BAD_VALUES:
            wildcard = value if isinstance(value, str | int) and not isinstance(value, bool) else "x"
            inputs = [_dependency(s, value, wildcard) for s in cb["inputs"]]
            body = {"output": key, "outputs": _outputs(key), "inputs": inputs,
                    "state": [_dependency(s, value, wildcard) for s in cb["state"]],
                    "changedPropIds": [_changed(inputs[0])] if inputs else []}
            r = client.post(UPDATE, data=json.dumps(body), content_type="application/json")
            _assert_refusal(r, (key, value if not isinstance(value, str) else value[:40]))


# The export routes build a workbook or an image per request: fuzz only the names they read.
_QUERY_NAMES_READ = {
    "export_hazards": ["q", "sort", "status", "level", "channel", "industry", "flag", "from", "to"],
    "risk_api.export_tables": ["metric", "bbox", "zoom", "level", "unit", "units"],
    "risk_api.export_png": ["metric", "bbox", "zoom", "level", "unit", "units"],
}


def _data_rules(app: Any) -> list[Any]:
    """Every Flask data route (not Dash's own, assets, the sign-in pages or the page catch-all)."""
    skip = ("/_dash", "/_reload", "/_favicon", "/assets", "/login", "/logout", "/healthz")
    rules = [r for r in app.server.url_map.iter_rules()
             if not r.rule.startswith(skip) and r.endpoint != "static" and "GET" in (r.methods or ())
             and r.rule != "/" and "<path:" not in r.rule]
    return rules


def test_every_data_route_refuses_bad_values(app_and_client: tuple[Any, Any]) -> None:
    app, client = app_and_client
    rules = _data_rules(app)
    endpoints = {r.rule for r in rules}
    assert {"/api/search", "/api/units/<code>", "/api/enterprise/<credit_code>", "/api/around",
            "/export/hazards.xlsx", "/api/risk/h3"} <= endpoints, endpoints
    everything = "&".join(f"{n}={quote(BAD_QUERY_VALUES[i % len(BAD_QUERY_VALUES)])}"
                          for i, n in enumerate(QUERY_NAMES))
    for rule in rules:
        for bad in BAD_PATH_VALUES if rule.arguments else []:
            path = re.sub(r"<[^>]+>", bad, rule.rule)
            _assert_refusal(client.get(path), path)
            _assert_refusal(client.get(f"{path}?{everything}"), (path, "all"))
        path = re.sub(r"<[^>]+>", "411000", rule.rule)  # a well-formed path argument, bad query values
        names = [n for n in QUERY_NAMES if n in _QUERY_NAMES_READ.get(rule.endpoint, QUERY_NAMES)]
        for name in names:
            for bad in BAD_QUERY_VALUES:
                _assert_refusal(client.get(f"{path}?{name}={quote(bad)}"), (path, name, bad[:40]))


def test_search_with_nul_and_control_characters(app_and_client: tuple[Any, Any]) -> None:
    _, client = app_and_client
    for q in ("化工\x00", "\x00", "a\x01b", "\x7f"):
        r = client.get(f"/api/search?q={quote(q)}")
        assert r.status_code == 400 and "控制字符" in r.get_json()["error"], q
    assert client.get(f"/api/search?q={quote('化工 厂')}").status_code == 200


def test_malformed_requests_elsewhere(app_and_client: tuple[Any, Any]) -> None:
    _, client = app_and_client
    r = client.get("/login?next=%00")
    assert r.status_code == 400 and "控制字符" in r.get_data(as_text=True)
    r = client.delete("/api/search")
    assert r.status_code == 405 and "不支持该请求方式" in r.get_json()["error"]
    r = client.post("/logout", data={"csrf_token": "x\x00"})
    assert r.status_code == 400
