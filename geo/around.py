"""Around a point: enterprises and major hazard sources within a radius, in metres, inside the scope.

Distances are geodesic (``geography``), never degrees. ``ST_DWithin(geom::geography, …)`` alone cannot
use the GiST index on the ``geometry`` column, so every query first narrows with
``geom && ST_Expand(point, dlon, dlat)``: a box in degrees that is guaranteed to contain the circle
(one degree of latitude is at least 110 574 m; a degree of longitude at least 111 320·cos φ m at the
box's pole-ward edge), and only then measures exactly on the spheroid.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Connection, text

from geo.scope import enterprise_in_scope, scope_params

MAX_RADIUS_M = 20_000
DEFAULT_ENTERPRISE_RADIUS_M = 1_000
DEFAULT_SOURCE_RADIUS_M = 3_000
_M_PER_DEG_LAT_MIN = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0
_MARGIN = 1.02


def expand_degrees(lat: float, radius_m: float) -> tuple[float, float]:
    """Half-width and half-height in degrees of a box that surely contains a circle of ``radius_m``."""
    dlat = radius_m / _M_PER_DEG_LAT_MIN * _MARGIN
    edge = min(89.0, abs(lat) + dlat)  # the narrowest longitude degree inside the box
    dlon = radius_m / (_M_PER_DEG_LON_EQUATOR * math.cos(math.radians(edge))) * _MARGIN
    return min(dlon, 180.0), dlat


def check_point(lat: float, lon: float, radius_m: float) -> None:
    """Raise ``ValueError`` (Chinese message) for an impossible point or radius."""
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError("坐标无效：纬度应在 -90～90，经度应在 -180～180 之间")
    if not (math.isfinite(radius_m) and 0 < radius_m <= MAX_RADIUS_M):
        raise ValueError(f"半径应在 1～{MAX_RADIUS_M} 米之间")


def _geo_params(lat: float, lon: float, radius_m: float) -> dict[str, Any]:
    check_point(lat, lon, radius_m)
    dlon, dlat = expand_degrees(lat, radius_m)
    return {"lat": lat, "lon": lon, "r": float(radius_m), "dlon": dlon, "dlat": dlat}


# The point is built once; the bbox condition is on the bare column so the GiST index is used.
_POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
_NEAR = (
    f'e."geom" && ST_Expand({_POINT}, :dlon, :dlat) '
    f'AND ST_DWithin(CAST(e."geom" AS geography), CAST({_POINT} AS geography), :r)'
)
_ENTERPRISES_SQL = f"""
SELECT e."credit_code", e."name", e."industry", e."risk_level", e."address",
       u."code" AS "unit_code", u."name" AS "unit_name",
       ST_Y(e."geom") AS "lat", ST_X(e."geom") AS "lon",
       round(CAST(ST_Distance(CAST(e."geom" AS geography), CAST({_POINT} AS geography)) AS numeric), 1) AS "distance_m"
FROM "enterprises" e LEFT JOIN "units" u ON u."id" = e."unit_id"
WHERE {_NEAR} AND {enterprise_in_scope("e")}
  AND (CAST(:exclude AS text) IS NULL OR e."credit_code" <> :exclude)
ORDER BY "distance_m", e."credit_code"
LIMIT :lim
"""  # noqa: S608 - constant fragments, values bound
_SOURCES_SQL = f"""
SELECT hs."code", hs."name", hs."grade", hs."r_value", e."credit_code", e."name" AS "enterprise_name",
       ST_Y(hs."geom") AS "lat", ST_X(hs."geom") AS "lon",
       round(CAST(ST_Distance(CAST(hs."geom" AS geography), CAST({_POINT} AS geography)) AS numeric), 1) AS "distance_m"
FROM "hazard_sources" hs JOIN "enterprises" e ON e."id" = hs."enterprise_id"
WHERE {_NEAR.replace('e."geom"', 'hs."geom"')} AND {enterprise_in_scope("e")}
ORDER BY "distance_m", hs."code"
LIMIT :lim
"""  # noqa: S608 - constant fragments, values bound


def _rows(conn: Connection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for r in conn.execute(text(sql), params).mappings():
        row = dict(r)
        row["distance_m"] = float(row["distance_m"])
        if row.get("r_value") is not None:
            row["r_value"] = float(row["r_value"])
        out.append(row)
    return out


def enterprises_around(
    conn: Connection, *, scope: str, lat: float, lon: float, radius_m: float = DEFAULT_ENTERPRISE_RADIUS_M,
    limit: int = 200, exclude_credit_code: str | None = None,
) -> list[dict[str, Any]]:
    """Enterprises in ``scope`` within ``radius_m`` metres of (lat, lon), nearest first."""
    params = {**_geo_params(lat, lon, radius_m), "lim": limit, "exclude": exclude_credit_code, **scope_params(scope)}
    return _rows(conn, _ENTERPRISES_SQL, params)


def hazard_sources_around(
    conn: Connection, *, scope: str, lat: float, lon: float, radius_m: float = DEFAULT_SOURCE_RADIUS_M,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Major hazard sources of enterprises in ``scope`` within ``radius_m`` metres, nearest first."""
    params = {**_geo_params(lat, lon, radius_m), "lim": limit, **scope_params(scope)}
    return _rows(conn, _SOURCES_SQL, params)


def around_point(
    conn: Connection, *, scope: str, lat: float, lon: float, radius_m: float = DEFAULT_ENTERPRISE_RADIUS_M,
    limit: int = 200,
) -> dict[str, Any]:
    """Enterprises and hazard sources within ``radius_m`` of a clicked point (both nearest first)."""
    return {
        "lat": lat, "lon": lon, "radius_m": radius_m,
        "enterprises": enterprises_around(conn, scope=scope, lat=lat, lon=lon, radius_m=radius_m, limit=limit),
        "hazard_sources": hazard_sources_around(conn, scope=scope, lat=lat, lon=lon, radius_m=radius_m, limit=limit),
    }


def around_sql() -> str:
    """Return the enterprise radius statement (for EXPLAIN in tests and benchmarks)."""
    return _ENTERPRISES_SQL
