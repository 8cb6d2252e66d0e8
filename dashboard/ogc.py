"""OGC API – Features (Part 1: Core, GeoJSON, OpenAPI 3.0) under ``/ogc/`` for desktop GIS (QGIS, ArcGIS, OWSLib).

Small Flask routes over :mod:`geo.ogc_queries` (why not pygeoapi: ``docs/gis.md``). Collections: the five unit
levels at or below the account's scope level (``units-1`` … ``units-5``) and one per registered point layer of
the command map (:mod:`layers.registry`; ``enterprises``, ``hazard-sources``, ``open-hazards``), so a new layer
record becomes a collection. Every answer is limited to the caller's scope in SQL.

Who is asking: a personal access token (:mod:`geo.tokens`) as ``Authorization: Bearer sgp_…`` or ``?token=sgp_…``
(what QGIS can carry in a URL), else the browser session. The app's sign-in guard lets ``/ogc/`` through
(``dashboard.auth.PUBLIC_PREFIXES``) and :func:`authenticate` decides here: 401 JSON in Chinese for a missing,
unknown, revoked or expired token or a disabled account, 403 for an account without the map.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import re
from contextlib import ExitStack
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, g, request
from flask_login import current_user
from sqlalchemy.engine import Connection
from werkzeug.exceptions import HTTPException

from dashboard.cache import COMPRESS_MIN_BYTES, CachedBody, chosen_encoding, send
from dashboard.errors import to_app_error
from dashboard.roles import Capability
from dashboard.scope import Account, client_ip, current_account
from domain import clock
from geo.db import connect
from geo.ogc_queries import UNIT_COLLECTIONS, ItemsQuery, OgcCollection, OgcProperty, item, items, point_collection
from geo.ogc_queries import extents as collection_extents
from geo.tokens import resolve_token
from geo.users import audit
from layers.registry import point_layers

log = logging.getLogger(__name__)

PREFIX = "/ogc"
JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000
TOKEN_PARAM = "token"
GZIP_LEVEL = 3  # of an items page (see _encoded)
FORMATS = {None: GEOJSON, "json": GEOJSON, "geojson": GEOJSON}  # ?f= values accepted (HTML is not offered)
COMMON_PARAMS = frozenset({"f", TOKEN_PARAM})
ITEMS_PARAMS = frozenset({"bbox", "limit", "offset", "datetime"}) | COMMON_PARAMS
# Collection ids of the built-in point layers; any other registered point layer is served under its layer id.
LAYER_COLLECTION_IDS = {"sources": "hazard-sources", "hazards": "open-hazards"}

REFUSALS = {
    "missing": "需要访问令牌：请在“访问令牌”页面创建令牌，以 Authorization: Bearer 请求头或 token 参数提供；或先登录。",
    "unknown": "访问令牌无效，已拒绝。",
    "revoked": "访问令牌已被吊销，已拒绝。",
    "expired": "访问令牌已过期，请重新创建。",
    "disabled": "该令牌所属账户已停用，已拒绝。",
}

bp = Blueprint("ogc", __name__, url_prefix=PREFIX)


class OgcError(Exception):
    """An OGC API error answered as the exception document (``code``, ``description``) with a Chinese text."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


def _json(body: Any, status: int = 200, mimetype: str = JSON) -> Response:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, default=_plain)
    return Response(text, status=status, mimetype=mimetype)


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _error(status: int, code: str, description: str) -> Response:
    resp = _json({"code": code, "description": description, "error": description}, status)
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="SafeGrid OGC API"'
    return resp


# --- who is asking -------------------------------------------------------------------------------


def presented_token() -> str | None:
    """Return the token of the request: ``Authorization: Bearer …`` first, else ``?token=`` (None without)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.args.get(TOKEN_PARAM) or None


def request_connection() -> Connection:
    """Return this request's connection (one transaction per request, committed or rolled back at its end).

    The token check and the page share it: one pool checkout, ping and commit fewer on every request (~2 ms of
    the ~10 ms a 1,000-feature page costs above its bare SQL, docs/benchmarks.md).
    """
    conn = g.get("ogc_conn")
    if conn is None:
        stack = ExitStack()
        conn = stack.enter_context(connect())
        g.ogc_stack, g.ogc_conn = stack, conn
    return conn


@bp.teardown_request
def _end_transaction(exc: BaseException | None) -> None:
    stack = g.pop("ogc_stack", None)
    g.pop("ogc_conn", None)
    if stack is not None:
        if exc is None:
            stack.close()
        else:
            stack.__exit__(type(exc), exc, exc.__traceback__)


@bp.before_request
def authenticate() -> Response | None:
    """Resolve the token (or the session) to the account whose scope limits every answer; refuse otherwise."""
    token = presented_token()
    if token is not None:
        conn = request_connection()
        check = resolve_token(conn, token=token)
        if check.user is None and check.username is not None:  # a real token, refused: whose and why
            audit(conn, username=check.username, action="token_refused", ip=client_ip(),
                  detail={"reason": check.refusal, "token_id": check.token_id, "path": request.path})
        if check.user is None:
            log.warning("OGC API: token refused (%s)", check.refusal)
            return _error(401, "Unauthorized", REFUSALS[check.refusal or "unknown"])
        g._login_user = Account(check.user)  # flask-login's current user for this request; no session is made
        g.ogc_token = token if request.args.get(TOKEN_PARAM) == token else None
    elif not current_user.is_authenticated:
        return _error(401, "Unauthorized", REFUSALS["missing"])
    if not current_account().can(Capability.MAP):
        return _error(403, "Forbidden", "当前账户无权使用地图数据服务。")
    return None


@bp.errorhandler(OgcError)
def _ogc_error(exc: OgcError) -> Response:
    return _error(exc.status, exc.code, exc.description)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    messages = {404: "未找到请求的资源。", 405: "只支持 GET 请求。"}
    return _error(status, exc.name.replace(" ", ""), messages.get(status, "请求无法处理。"))


@bp.errorhandler(Exception)
def _any_error(exc: Exception) -> Response:
    error = to_app_error(exc)
    if error.status >= 500:
        log.exception("OGC API request failed")
    return _error(error.status, "ServerError" if error.status >= 500 else "Error", error.message)


# --- collections and links -----------------------------------------------------------------------


def collections_for(account: Account) -> list[OgcCollection]:
    """Return the collections ``account`` sees: unit levels from its scope's level down, then the point layers."""
    units = [c for level, c in enumerate(UNIT_COLLECTIONS, start=1) if level >= account.record.scope_level]
    points = [point_collection(LAYER_COLLECTION_IDS.get(spec.id, spec.id), spec.title, spec.points,
                               class_labels=spec.labels())
              for spec in point_layers().values()]
    return units + points


def _collection(collection_id: str) -> OgcCollection:
    for c in collections_for(current_account()):
        if c.id == collection_id:
            return c
    raise OgcError(404, "NotFound", f"没有名为“{collection_id}”的要素集合。")


def _href(path: str, params: dict[str, Any] | None = None) -> str:
    """Absolute URL of ``path`` under /ogc; keeps a ``?token=`` the client sent so that links it follows work."""
    query = dict(params or {})
    if g.get("ogc_token"):
        query[TOKEN_PARAM] = g.ogc_token
    url = request.host_url.rstrip("/") + PREFIX + path
    return f"{url}?{urlencode(query)}" if query else url


def _link(path: str, rel: str, mimetype: str, title: str, params: dict[str, Any] | None = None) -> dict[str, str]:
    return {"href": _href(path, params), "rel": rel, "type": mimetype, "title": title}


def _check_params(allowed: frozenset[str]) -> None:
    """400 for a parameter the API definition does not declare (/req/core/query-param-unknown) and for a bad ``f``."""
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise OgcError(400, "InvalidParameterValue", f"不支持的查询参数：{'、'.join(unknown)}")
    repeated = sorted(k for k in request.args if len(request.args.getlist(k)) > 1)
    if repeated:
        raise OgcError(400, "InvalidParameterValue", f"查询参数重复：{'、'.join(repeated)}")
    if request.args.get("f") not in FORMATS:
        raise OgcError(400, "InvalidParameterValue", "f 参数只支持 json（GeoJSON），不提供 HTML。")


def _collection_doc(c: OgcCollection, extent: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": c.id, "title": c.title, "description": c.description, "itemType": c.item_type, "crs": [CRS84],
        "links": [
            _link(f"/collections/{c.id}", "self", JSON, c.title),
            _link(f"/collections/{c.id}/items", "items", GEOJSON, f"{c.title}（GeoJSON 要素）"),
        ],
    }
    if extent is not None and extent.bbox is not None:
        doc["extent"] = {"spatial": {"bbox": [[round(v, 7) for v in extent.bbox]], "crs": CRS84}}
        if extent.interval is not None:
            doc["extent"]["temporal"] = {"interval": [[_instant(extent.interval[0]), _instant(extent.interval[1])]],
                                         "trs": GREGORIAN}
    return doc


def _instant(day: date | None) -> str | None:
    """Return a date as an RFC 3339 instant at the start of its business day (temporal extent bounds)."""
    if day is None:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=clock.zone()).isoformat()


# --- resources -----------------------------------------------------------------------------------


@bp.route("/")
def landing() -> Response:
    """Landing page: links to the API definition, conformance and collections (/req/core/root-success)."""
    _check_params(COMMON_PARAMS)
    record = current_account().record
    return _json({
        "title": "SafeGrid 安全生产网格化监管 · OGC API – Features",
        "description": (f"{record.scope_name}（{record.scope_code}）辖区的网格单位、生产经营单位、"
                        "重大危险源和未销号隐患。"),
        "links": [
            _link("/", "self", JSON, "本页"),
            _link("/api", "service-desc", OPENAPI, "API 定义（OpenAPI 3.0）"),
            _link("/conformance", "conformance", JSON, "符合的标准（conformance）"),
            _link("/collections", "data", JSON, "要素集合"),
        ],
    })


@bp.route("/conformance")
def conformance() -> Response:
    """Return the conformance classes implemented (/req/core/conformance-success)."""
    _check_params(COMMON_PARAMS)
    return _json({"conformsTo": list(CONFORMANCE)})


@bp.route("/api")
def api_definition() -> Response:
    """Return the OpenAPI 3.0 definition as the caller sees it (its collections and their filters)."""
    _check_params(COMMON_PARAMS)
    return _json(openapi_document(collections_for(current_account())), mimetype=OPENAPI)


@bp.route("/collections")
def collections() -> Response:
    """Every collection with its extent in the caller's scope (/req/core/fc-md-success)."""
    _check_params(COMMON_PARAMS)
    cols = collections_for(current_account())
    with connect() as conn:
        found = collection_extents(conn, scope=current_account().scope, collections=cols)
    return _json({
        "links": [_link("/collections", "self", JSON, "要素集合")],
        "collections": [_collection_doc(c, found.get(c.id)) for c in cols],
    })


@bp.route("/collections/<collection_id>")
def collection(collection_id: str) -> Response:
    """One collection, as in /collections (/req/core/sfc-md-success)."""
    _check_params(COMMON_PARAMS)
    c = _collection(collection_id)
    with connect() as conn:
        found = collection_extents(conn, scope=current_account().scope, collections=[c])
    return _json(_collection_doc(c, found.get(c.id)))


@bp.route("/collections/<collection_id>/items")
def collection_items(collection_id: str) -> Response:
    """Return a page of features: bbox, datetime and property filters, limit/offset, next/prev links, counts."""
    c = _collection(collection_id)
    filterable = {p.name: p for p in c.properties}
    _check_params(ITEMS_PARAMS | frozenset(filterable))
    query = ItemsQuery(
        limit=min(_int_param("limit", DEFAULT_LIMIT, 1), MAX_LIMIT),  # above the maximum: the maximum, no error
        offset=_int_param("offset", 0, 0, MAX_OFFSET),
        boxes=parse_bbox(request.args["bbox"]) if "bbox" in request.args else (),
        filters=tuple((name, parse_value(filterable[name], request.args[name]))
                      for name in request.args if name in filterable),
        interval=parse_datetime(request.args["datetime"]) if "datetime" in request.args else None,
    )
    matched, returned, features, more = items(request_connection(), scope=current_account().scope, collection=c,
                                              query=query)
    params = {k: v for k, v in request.args.items() if k not in ("offset", "limit", TOKEN_PARAM)}
    path = f"/collections/{c.id}/items"
    links = [_link(path, "self", GEOJSON, "本页", {**params, "limit": query.limit, "offset": query.offset})]
    if more:
        links.append(_link(path, "next", GEOJSON, "下一页",
                           {**params, "limit": query.limit, "offset": query.offset + query.limit}))
    if query.offset > 0:
        links.append(_link(path, "prev", GEOJSON, "上一页",
                           {**params, "limit": query.limit, "offset": max(0, query.offset - query.limit)}))
    links.append(_link(f"/collections/{c.id}", "collection", JSON, c.title))
    tail = {**({"numberMatched": matched} if matched is not None else {}), "numberReturned": returned,
            "timeStamp": datetime.now(clock.zone()).isoformat(timespec="seconds"), "links": links}
    body = '{"type": "FeatureCollection", "features": ' + features + ", " + json.dumps(tail, ensure_ascii=False)[1:]
    return send(_encoded(body), mimetype=GEOJSON)


def _encoded(body: str) -> CachedBody:
    """Encode a page: ~450 KB of GeoJSON for 1,000 features, ~43 KB as zstd (level 3) or gzip when accepted.

    gzip (what QGIS asks for) at level :data:`GZIP_LEVEL`, not the map routes' 5: 5 cost 4-8 ms of a ~45 ms page for
    ~15 % fewer bytes (docs/benchmarks.md, issue 21).
    """
    encoding = chosen_encoding()
    raw = body.encode("utf-8")
    if encoding != "gzip" or len(raw) < COMPRESS_MIN_BYTES:
        return CachedBody.from_text(body, encoding)
    etag = hashlib.blake2b(raw, digest_size=16).hexdigest()
    return CachedBody(gzip.compress(raw, GZIP_LEVEL, mtime=0), f"{etag}-gzip", "gzip")


@bp.route("/collections/<collection_id>/items/<feature_id>")
def collection_item(collection_id: str, feature_id: str) -> Response:
    """One feature with its self and collection links (/req/core/f-success, f-links); 404 outside the scope."""
    _check_params(COMMON_PARAMS)
    c = _collection(collection_id)
    if c.id_type == "integer" and not (feature_id.isascii() and feature_id.isdigit() and len(feature_id) < 10):
        raise OgcError(404, "NotFound", "未找到该要素。")
    with connect() as conn:
        feature = item(conn, scope=current_account().scope, collection=c,
                       feature_id=int(feature_id) if c.id_type == "integer" else feature_id)
    if feature is None:  # unknown, or outside the scope: the same answer
        raise OgcError(404, "NotFound", "未找到该要素。")
    links = [_link(f"/collections/{c.id}/items/{feature_id}", "self", GEOJSON, "本要素"),
             _link(f"/collections/{c.id}", "collection", JSON, c.title)]
    return _json(feature[:-1] + ', "links": ' + json.dumps(links, ensure_ascii=False) + "}", mimetype=GEOJSON)


@bp.route("/<path:rest>")
def unknown(rest: str) -> Response:
    """Anything else under /ogc/: 404 in the API's JSON (not the app's HTML page)."""
    raise OgcError(404, "NotFound", "未找到请求的资源。")


# --- parameters ----------------------------------------------------------------------------------


def _int_param(name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or int(raw) < minimum:
        raise OgcError(400, "InvalidParameterValue", f"{name} 参数应为不小于 {minimum} 的整数。")
    value = int(raw)
    if maximum is not None and value > maximum:
        raise OgcError(400, "InvalidParameterValue", f"{name} 参数不能大于 {maximum}。")
    return value


def parse_bbox(raw: str) -> tuple[tuple[float, float, float, float], ...]:
    """Parse ``bbox`` (4 or 6 numbers, CRS84; heights ignored); a box across the antimeridian becomes two."""
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        values = []
    if len(values) not in (4, 6) or not all(math.isfinite(v) for v in values):
        raise OgcError(400, "InvalidParameterValue", "bbox 参数应为“西,南,东,北”四个（或含高度的六个）经纬度数值。")
    w, s, e, n = (values[0], values[1], values[2], values[3]) if len(values) == 4 else (
        values[0], values[1], values[3], values[4])
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= n <= 90):
        raise OgcError(400, "InvalidParameterValue", "bbox 参数超出经纬度范围，或南边界大于北边界。")
    if w > e:  # across the antimeridian (allowed by the standard)
        return ((w, s, 180.0, n), (-180.0, s, e, n))
    return ((w, s, e, n),)


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _instant_date(raw: str) -> date:
    """Return the business day an RFC 3339 date-time (or a full date) falls on."""
    try:
        if _DATE.match(raw):
            return date.fromisoformat(raw)
        moment = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError as exc:
        raise OgcError(400, "InvalidParameterValue", f"datetime 参数中的时间“{raw}”不是 RFC 3339 格式。") from exc
    if moment.tzinfo is None:
        raise OgcError(400, "InvalidParameterValue", f"datetime 参数中的时间“{raw}”缺少时区（如 Z 或 +08:00）。")
    return moment.astimezone(clock.zone()).date()


def parse_datetime(raw: str) -> tuple[date | None, date | None]:
    """Parse ``datetime``: an instant, ``a/b``, ``../b``, ``a/..`` or with empty ends; inclusive business days."""
    if "/" not in raw:
        day = _instant_date(raw)
        return day, day
    start_raw, _, end_raw = raw.partition("/")
    start = None if start_raw in ("", "..") else _instant_date(start_raw)
    end = None if end_raw in ("", "..") else _instant_date(end_raw)
    if start is None and end is None:
        raise OgcError(400, "InvalidParameterValue", "datetime 参数的区间不能两端都开放。")
    if start is not None and end is not None and start > end:
        raise OgcError(400, "InvalidParameterValue", "datetime 参数的区间起点晚于终点。")
    return start, end


def parse_value(prop: OgcProperty, raw: str) -> Any:
    """Turn a property filter's text into the property's type; 400 when it cannot be one."""
    try:
        if prop.type == "integer":
            if not re.fullmatch(r"-?\d{1,9}", raw):
                raise ValueError(raw)
            return int(raw)
        if prop.type == "number":
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError(raw)
            return value
        if prop.type == "date":
            return date.fromisoformat(raw)
        if prop.type == "boolean":
            return {"true": True, "false": False}[raw.lower()]
    except (ValueError, KeyError) as exc:
        raise OgcError(400, "InvalidParameterValue", f"{prop.name} 参数的值“{raw}”无效。") from exc
    if prop.enum and raw not in prop.enum:
        raise OgcError(400, "InvalidParameterValue", f"{prop.name} 参数只能取：{'、'.join(prop.enum)}")
    if len(raw) > 200:
        raise OgcError(400, "InvalidParameterValue", f"{prop.name} 参数过长。")
    return raw


# --- the API definition --------------------------------------------------------------------------

_OAS_TYPES = {"string": {"type": "string"}, "integer": {"type": "integer"}, "number": {"type": "number"},
              "date": {"type": "string", "format": "date"}, "boolean": {"type": "boolean"}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{name}"}


def _response(description: str, mimetype: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {mimetype: {"schema": _ref(f"schemas/{schema}")}}}


def openapi_document(cols: list[OgcCollection]) -> dict[str, Any]:
    """Return the OpenAPI 3.0 definition: every path, parameter (property filters included) and security scheme."""
    errors = {"400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
              "404": {"$ref": "#/components/responses/Error"}, "500": {"$ref": "#/components/responses/Error"}}
    common = [_ref("parameters/f")]
    paths: dict[str, Any] = {
        "/": {"get": {"summary": "入口页", "operationId": "getLandingPage", "tags": ["Capabilities"],
                      "parameters": common, "responses": {"200": _response("入口页", JSON, "landingPage"), **errors}}},
        "/conformance": {"get": {"summary": "符合的一致性类", "operationId": "getConformanceDeclaration",
                                 "tags": ["Capabilities"], "parameters": common,
                                 "responses": {"200": _response("一致性类", JSON, "confClasses"), **errors}}},
        "/api": {"get": {"summary": "本 API 定义", "operationId": "getAPIDefinition", "tags": ["Capabilities"],
                         "parameters": common, "responses": {"200": {"description": "OpenAPI 3.0 定义",
                                                                     "content": {OPENAPI: {}}}, **errors}}},
        "/collections": {"get": {"summary": "要素集合", "operationId": "getCollections", "tags": ["Capabilities"],
                                 "parameters": common,
                                 "responses": {"200": _response("要素集合", JSON, "collections"), **errors}}},
    }
    for c in cols:
        filters = [{"name": p.name, "in": "query", "required": False, "style": "form", "explode": False,
                    "description": f"{p.title or p.name}：等于该值的要素",
                    "schema": {**_OAS_TYPES[p.type], **({"enum": list(p.enum)} if p.enum else {})}}
                   for p in c.properties]
        feature_id = {"name": "featureId", "in": "path", "required": True, "description": "要素标识",
                      "schema": {"type": c.id_type}}
        paths[f"/collections/{c.id}"] = {"get": {
            "summary": f"{c.title}：集合信息", "operationId": f"describe-{c.id}", "tags": ["Data"],
            "parameters": common, "responses": {"200": _response(c.title, JSON, "collection"), **errors}}}
        paths[f"/collections/{c.id}/items"] = {"get": {
            "summary": f"{c.title}：要素", "operationId": f"getFeatures-{c.id}", "tags": ["Data"],
            "description": c.description + (f"；datetime 按“{c.prop(c.datetime).title}”筛选" if c.datetime else ""),
            "parameters": [_ref("parameters/limit"), _ref("parameters/offset"), _ref("parameters/bbox"),
                           _ref("parameters/datetime"), *common, *filters],
            "responses": {"200": _response(f"{c.title}要素集", GEOJSON, "featureCollectionGeoJSON"), **errors}}}
        paths[f"/collections/{c.id}/items/{{featureId}}"] = {"get": {
            "summary": f"{c.title}：单个要素", "operationId": f"getFeature-{c.id}", "tags": ["Data"],
            "parameters": [feature_id, *common],
            "responses": {"200": _response("要素", GEOJSON, "featureGeoJSON"), **errors}}}
    link = {"type": "object", "required": ["href", "rel"],
            "properties": {k: {"type": "string"} for k in ("href", "rel", "type", "title")}}
    links = {"type": "array", "items": _ref("schemas/link")}
    return {
        "openapi": "3.0.3",
        "info": {"title": "SafeGrid OGC API – Features", "version": "1.0.0",
                 "description": "安全生产网格化监管“一张图”的要素服务（OGC API – Features 第 1 部分：Core、GeoJSON、"
                                "OpenAPI 3.0）。所有结果限于访问令牌（或登录会话）所属账户的数据范围。"},
        "servers": [{"url": request.host_url.rstrip("/") + PREFIX}],
        "tags": [{"name": "Capabilities"}, {"name": "Data"}],
        "security": [{"bearerToken": []}, {"queryToken": []}, {"sessionCookie": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer", "description": "个人访问令牌 sgp_…"},
                "queryToken": {"type": "apiKey", "in": "query", "name": TOKEN_PARAM,
                               "description": "个人访问令牌作为查询参数（QGIS 可在 URL 中携带；会出现在代理日志中）"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session", "description": "浏览器登录会话"},
            },
            "parameters": {
                "f": {"name": "f", "in": "query", "required": False, "style": "form", "explode": False,
                      "description": "格式：json（GeoJSON）",
                      "schema": {"type": "string", "enum": ["json", "geojson"]}},
                "limit": {"name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
                          "description": f"每页要素数（默认 {DEFAULT_LIMIT}，最大 {MAX_LIMIT}；更大的值按最大值处理）",
                          "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
                "offset": {"name": "offset", "in": "query", "required": False, "style": "form", "explode": False,
                           "description": "跳过的要素数（按要素标识排序）",
                           "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}},
                "bbox": {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
                         "description": "经纬度范围（CRS84）：西,南,东,北",
                         "schema": {"type": "array", "oneOf": [{"minItems": 4, "maxItems": 4},
                                                               {"minItems": 6, "maxItems": 6}],
                                    "items": {"type": "number"}}},
                "datetime": {"name": "datetime", "in": "query", "required": False, "style": "form", "explode": False,
                             "description": "时间点或区间（RFC 3339，如 2026-01-01T00:00:00Z/..）",
                             "schema": {"type": "string"}},
            },
            "schemas": {
                "link": link,
                "exception": {"type": "object", "required": ["code"],
                              "properties": {"code": {"type": "string"}, "description": {"type": "string"}}},
                "landingPage": {"type": "object", "required": ["links"], "properties": {
                    "title": {"type": "string"}, "description": {"type": "string"}, "links": links}},
                "confClasses": {"type": "object", "required": ["conformsTo"], "properties": {
                    "conformsTo": {"type": "array", "items": {"type": "string"}}}},
                "collection": {"type": "object", "required": ["id", "links"], "properties": {
                    "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
                    "links": links, "extent": {"type": "object"}, "itemType": {"type": "string"},
                    "crs": {"type": "array", "items": {"type": "string"}}}},
                "collections": {"type": "object", "required": ["links", "collections"], "properties": {
                    "links": links, "collections": {"type": "array", "items": _ref("schemas/collection")}}},
                "featureGeoJSON": {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
                    "type": {"type": "string", "enum": ["Feature"]}, "geometry": {"type": "object", "nullable": True},
                    "properties": {"type": "object", "nullable": True},
                    "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]}, "links": links}},
                "featureCollectionGeoJSON": {"type": "object", "required": ["type", "features"], "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array", "items": _ref("schemas/featureGeoJSON")}, "links": links,
                    "timeStamp": {"type": "string", "format": "date-time"},
                    "numberMatched": {"type": "integer", "minimum": 0},
                    "numberReturned": {"type": "integer", "minimum": 0}}},
            },
            "responses": {"Error": _response("错误（中文说明）", JSON, "exception")},
        },
    }


def init_app(server: Flask) -> None:
    """Register the blueprint (its own authentication runs after the app's guard has let /ogc/ through)."""
    server.register_blueprint(bp)
