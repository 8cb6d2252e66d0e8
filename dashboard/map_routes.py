"""Flask routes for map data under ``/api/map/``: scoped GeoJSON, compressed (zstd/gzip), cache-validated by ETag.

* ``/api/map/units/<code>/children.geojson`` — the units drawn for ``code`` (403 outside the scope).
* ``/api/map/points/<kind>.geojson?bbox=w,s,e,n&zoom=z`` — a registered point layer (enterprises,
  sources, open hazards, … — :func:`layers.registry.point_layers`) in the viewport; raw up to
  ``SAFEGRID_MAP_RAW_POINT_LIMIT`` points, else aggregated per unit (the refreshed ``unit_stats``
  roll-ups at a level fitting the zoom, when the layer has them) or, failing that, on a snap grid.
  A bbox reaching outside the scope is not refused (the viewport always does); only in-scope
  features come back. Below the layer's ``min_zoom``: an empty collection, no query.
* ``/api/map/points.json?kinds=enterprises,sources,hazards&bbox=…&zoom=…`` — the same collections for
  several layers in one request, as ``{"<kind>": FeatureCollection, …}`` (what the command map asks:
  one request per view instead of one per layer).

``?crs=gcj02`` shifts coordinates for the 高德 basemap (display only; the bbox is read in GCJ-02 too).
Every response carries ``ETag`` and ``Cache-Control: private, no-cache``; a matching
``If-None-Match`` gets 304 without a body. Bodies are kept compressed in the server-side cache of
:mod:`dashboard.cache` (keyed by scope and data version); the account and scope are checked first.
"""

from __future__ import annotations

import json
import re

from flask import Blueprint, Flask, Response, request
from sqlalchemy.engine import Connection

from dashboard.basemaps import get_map_settings
from dashboard.cache import JSON_MIME, CachedBody, cached_text, chosen_encoding, send
from dashboard.errors import BadRequestError, NotFoundError
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import current_scope, refuse_out_of_scope, scoped_route
from domain.crs import BBox, bbox_from_gcj02, shift_to_gcj02
from geo import map_queries as mq
from layers.registry import point_layers
from layers.spec import PointLayerSpec

EMPTY = '{"type":"FeatureCollection","features":[]}'
_CODE_RE = re.compile(r"^\d{6,14}$")

bp = Blueprint("map_api", __name__, url_prefix="/api/map")
POINTS_BUNDLE_URL = "/api/map/points.json"


def geojson_response(body: str) -> Response:
    """Send GeoJSON text that is not cached: strong ETag of the body, 304 on a match, compressed when accepted."""
    return send(CachedBody.from_text(body, chosen_encoding()))


def _shifted(body: str, crs: str) -> str:
    """Return GeoJSON text as drawn on the basemap: coordinates shifted to GCJ-02 for ``crs=gcj02``."""
    if crs != "gcj02":
        return body
    return json.dumps(shift_to_gcj02(json.loads(body)), ensure_ascii=False, separators=(",", ":"))


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

    def build() -> str | None:
        found = run_read(lambda conn: mq.children_geojson(conn, scope=scope, code=unit))
        return None if found is None else _shifted(found, crs)

    body = cached_text("units", {"code": unit, "crs": crs}, build)
    if body is None:
        raise refuse_out_of_scope(unit)
    return send(body)


def _viewport() -> tuple[str, BBox, float]:
    """Read ``crs``, ``bbox`` (in WGS84: a GCJ-02 bbox is shifted back) and ``zoom`` of a point request."""
    crs = _crs()
    try:
        bbox = BBox.parse(request.args.get("bbox", ""))
        zoom = float(request.args.get("zoom", "0"))
        if not 0 <= zoom <= 24:  # also refuses nan
            raise ValueError("zoom")
    except ValueError as exc:
        raise BadRequestError(str(exc) if "bbox" in str(exc) else "zoom 参数应为 0-24 的数字。") from exc
    return crs, (bbox_from_gcj02(bbox) if crs == "gcj02" else bbox), zoom


def _point_bodies(layers: list[PointLayerSpec], *, crs: str, bbox: BBox, zoom: float) -> dict[str, str]:
    """Return each layer's FeatureCollection text in the viewport, in the caller's scope (one connection).

    A layer below its ``min_zoom`` gets an empty collection without a query.
    """
    limit = get_map_settings().raw_point_limit
    scope = current_scope()
    shown = [s for s in layers if zoom >= s.min_zoom]

    def read(conn: Connection) -> dict[str, str]:
        return {s.id: mq.points_geojson(conn, scope=scope, kind=s.points, bbox=bbox, zoom=zoom, limit=limit)
                for s in shown}

    found = run_read(read) if shown else {}
    return {s.id: _shifted(found[s.id], crs) if s.id in found else EMPTY for s in layers}


def _cache_params(crs: str, bbox: BBox, zoom: float) -> dict[str, object]:
    return {"crs": crs, "zoom": zoom, "limit": get_map_settings().raw_point_limit, **bbox.params()}


@scoped_route(Capability.MAP)
def points(kind: str) -> Response:
    """Serve point layer ``kind`` in the viewport: raw when few, aggregated (per unit, else per grid cell) when many."""
    layer = point_layers().get(kind)
    if layer is None:
        raise NotFoundError("没有这个图层。")
    crs, bbox, zoom = _viewport()
    if zoom < layer.min_zoom:
        return geojson_response(EMPTY)
    body = cached_text("points", {"kind": kind, **_cache_params(crs, bbox, zoom)},
                       lambda: _point_bodies([layer], crs=crs, bbox=bbox, zoom=zoom)[kind])
    assert body is not None  # points_geojson always returns a collection
    return send(body)


@scoped_route(Capability.MAP)
def points_bundle() -> Response:
    """Serve several point layers of one viewport in one response: ``{"<kind>": FeatureCollection}``."""
    names = request.args.get("kinds", "").split(",")
    known = point_layers()
    if len(set(names)) != len(names) or not set(names) <= set(known):
        raise BadRequestError(f"kinds 参数应为 {'、'.join(known)} 中的一个或几个，以逗号分隔。")
    layers = [s for k, s in known.items() if k in names]  # registry order: one cache key per set of kinds
    kinds = ",".join(s.id for s in layers)
    crs, bbox, zoom = _viewport()

    def build() -> str:
        bodies = _point_bodies(layers, crs=crs, bbox=bbox, zoom=zoom)
        return "{" + ",".join(f'"{k}":{bodies[k]}' for k in bodies) + "}"

    body = cached_text("points_bundle", {"kinds": kinds, **_cache_params(crs, bbox, zoom)}, build)
    assert body is not None
    return send(body, mimetype=JSON_MIME)


bp.add_url_rule("/units/<unit>/children.geojson", "unit_children", unit_children)
bp.add_url_rule("/points/<kind>.geojson", "points", points)
bp.add_url_rule("/points.json", "points_bundle", points_bundle)


def init_app(server: Flask) -> None:
    """Register the map data routes."""
    server.register_blueprint(bp)
