"""Flask routes for map data under ``/api/map/``: scoped GeoJSON, gzip-compressed, cache-validated by ETag.

* ``/api/map/units/<code>/children.geojson`` — the units drawn for ``code`` (403 outside the scope).
* ``/api/map/points/<kind>.geojson?bbox=w,s,e,n&zoom=z`` — enterprises, sources or open hazards in
  the viewport; raw up to ``SAFEGRID_MAP_RAW_POINT_LIMIT`` points, else aggregated per unit (the
  refreshed ``unit_stats`` roll-ups at a level fitting the zoom) or, failing that, on a snap grid.
  A bbox reaching outside the scope is not refused (the viewport always does); only in-scope
  features come back.

``?crs=gcj02`` shifts coordinates for the 高德 basemap (display only; the bbox is read in GCJ-02 too).
Every response carries ``ETag`` and ``Cache-Control: private, no-cache``; a matching
``If-None-Match`` gets 304 without a body. Bodies are kept gzipped in the server-side cache of
:mod:`dashboard.cache` (keyed by scope and data version); the account and scope are checked first.
"""

from __future__ import annotations

import json
import re

from flask import Blueprint, Flask, Response, request

from dashboard.basemaps import get_map_settings
from dashboard.cache import CachedBody, cached_text, send
from dashboard.errors import BadRequestError, NotFoundError
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import current_scope, refuse_out_of_scope, scoped_route
from geo import map_queries as mq
from layers.registry import LAYERS

KIND_LAYER = {"enterprises": "enterprises", "sources": "sources", "hazards": "hazards"}
EMPTY = '{"type":"FeatureCollection","features":[]}'
_CODE_RE = re.compile(r"^\d{6,14}$")

bp = Blueprint("map_api", __name__, url_prefix="/api/map")


def geojson_response(body: str) -> Response:
    """Send GeoJSON text that is not cached: strong ETag of the body, 304 on a match, gzip when accepted."""
    return send(CachedBody.from_text(body, gzip_ok=bool(request.accept_encodings["gzip"])))


def _shifted(body: str | None, crs: str) -> str | None:
    if body is None or crs != "gcj02":
        return body
    return json.dumps(mq.shift_to_gcj02(json.loads(body)), ensure_ascii=False, separators=(",", ":"))


def _crs() -> str:
    crs = request.args.get("crs", "wgs84")
    if crs not in ("wgs84", "gcj02"):
        raise BadRequestError("crs 参数只能是 wgs84 或 gcj02。")
    return crs


@scoped_route(Capability.MAP)
def unit_children(unit: str) -> Response:
    """Serve the units drawn when ``unit`` is the current unit (its children, or itself when a grid cell).

    The URL variable is not called ``code`` on purpose: the scope check happens inside the one query
    (no row outside the scope → 403 and an audit entry) instead of a separate look-up per request.
    """
    if not _CODE_RE.match(unit):
        raise BadRequestError("单位代码格式错误：应为 6-14 位数字。")
    crs = _crs()
    scope = current_scope()
    # Only a body found inside this scope is stored, under this scope's key: a hit means the same
    # check passed on the same data version.
    body = cached_text("units", {"code": unit, "crs": crs}, lambda: _shifted(
        run_read(lambda conn: mq.children_geojson(conn, scope=scope, code=unit)), crs))
    if body is None:
        raise refuse_out_of_scope(unit)
    return send(body)


@scoped_route(Capability.MAP)
def points(kind: str) -> Response:
    """Serve point layer ``kind`` in the viewport: raw when few, aggregated (per unit, else per grid cell) when many."""
    if kind not in mq.POINT_KINDS:
        raise NotFoundError("没有这个图层。")
    crs = _crs()
    try:
        bbox = mq.BBox.parse(request.args.get("bbox", ""))
        zoom = float(request.args.get("zoom", "0"))
        if not 0 <= zoom <= 24:  # also refuses nan
            raise ValueError("zoom")
    except ValueError as exc:
        raise BadRequestError(str(exc) if "bbox" in str(exc) else "zoom 参数应为 0-24 的数字。") from exc
    spec = LAYERS[KIND_LAYER[kind]]
    if zoom < spec.min_zoom:
        return geojson_response(EMPTY)
    if crs == "gcj02":
        bbox = mq.bbox_from_gcj02(bbox)
    limit = get_map_settings().raw_point_limit
    scope = current_scope()
    typed_kind: mq.PointKind = kind  # checked against POINT_KINDS above
    body = cached_text("points", {"kind": kind, "crs": crs, "zoom": zoom, "limit": limit, **bbox.params()},
                       lambda: _shifted(run_read(lambda conn: mq.points_geojson(
                           conn, scope=scope, kind=typed_kind, bbox=bbox, zoom=zoom, limit=limit)), crs))
    assert body is not None  # points_geojson always returns a collection
    return send(body)


bp.add_url_rule("/units/<unit>/children.geojson", "unit_children", unit_children)
bp.add_url_rule("/points/<kind>.geojson", "points", points)


def init_app(server: Flask) -> None:
    """Register the map data routes."""
    server.register_blueprint(bp)
