"""Coordinate systems of Chinese ledgers: WGS84, CGCS2000, GCJ-02 (高德/腾讯) and BD-09 (百度).

GCJ-02 and BD-09 are not datums but published obfuscation formulas (the "eviltransform" /
coordtransform constants below, krasovsky-1940 ellipsoid). WGS84 → GCJ-02 and GCJ-02 → BD-09 are
closed-form; the inverses are computed by fixed-point iteration so a round trip is exact to
~1e-9 degrees (the one-step inverse often published is only good to ~1-2 m). Outside China the
formulas are not applied (the services do not shift there either). CGCS2000 (EPSG:4490) differs
from WGS84 by centimetres and is treated as equal, as DESIGN.md §3 says.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer

FloatArray = npt.NDArray[np.float64]

_A = 6378245.0  # krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0
_ITERATIONS = 30
_TOLERANCE = 1e-10

# Names accepted by ``--crs``; EPSG:n is accepted too.
ALIASES = {
    "wgs84": "EPSG:4326", "wgs-84": "EPSG:4326", "epsg:4326": "EPSG:4326", "4326": "EPSG:4326",
    "cgcs2000": "EPSG:4490", "epsg:4490": "EPSG:4490", "4490": "EPSG:4490",
    "gcj02": "gcj02", "gcj-02": "gcj02", "gcj": "gcj02", "amap": "gcj02", "高德": "gcj02",
    "bd09": "bd09", "bd-09": "bd09", "baidu": "bd09", "百度": "bd09",
}
GEOGRAPHIC_EQUAL = {"EPSG:4326", "EPSG:4490", "OGC:CRS84"}


def out_of_china(lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
    """Tell, per point, whether it lies outside the box where GCJ-02 shifts coordinates."""
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 offset (degrees) at WGS84 ``lon``, ``lat``."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(radlat) * np.pi)
    return dlon, dlat


def _arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS84 → GCJ-02 (closed form; points outside China unchanged)."""
    x, y = _arrays(lon, lat)
    dlon, dlat = _delta(x, y)
    outside = out_of_china(x, y)
    return np.where(outside, x, x + dlon), np.where(outside, y, y + dlat)


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 → WGS84 by fixed-point iteration of the forward formula (exact to ~1e-9°)."""
    gx, gy = _arrays(lon, lat)
    return _invert(wgs84_to_gcj02, gx, gy, gx.copy(), gy.copy())


def _invert(forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]], tx: FloatArray,
            ty: FloatArray, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Solve forward(x, y) = (tx, ty) by fixed-point iteration from the guess (x, y)."""
    for _ in range(_ITERATIONS):
        fx, fy = forward(x, y)
        ex, ey = fx - tx, fy - ty
        x, y = x - ex, y - ey
        if np.all(np.abs(ex) < _TOLERANCE) and np.all(np.abs(ey) < _TOLERANCE):
            break
    return x, y


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 → BD-09 (closed form)."""
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """BD-09 → GCJ-02 (the published closed-form inverse; exact to ~1e-7°, refined by iteration)."""
    bx, by = _arrays(lon, lat)
    x0, y0 = bx - 0.0065, by - 0.006
    z = np.sqrt(x0 * x0 + y0 * y0) - 0.00002 * np.sin(y0 * _X_PI)
    theta = np.arctan2(y0, x0) - 0.000003 * np.cos(x0 * _X_PI)
    return _invert(gcj02_to_bd09, bx, by, z * np.cos(theta), z * np.sin(theta))


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """BD-09 → WGS84."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS84 → BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


class CrsError(ValueError):
    """An unknown or unusable coordinate system name (message in Chinese)."""


@dataclass(frozen=True)
class InputCrs:
    """A source coordinate system: an EPSG/authority code, or one of the Chinese shifted systems."""

    name: str  # 'gcj02', 'bd09' or an authority string such as 'EPSG:4490'

    @property
    def is_shifted(self) -> bool:
        """Tell whether this is GCJ-02 or BD-09 (converted with the formulas, not pyproj)."""
        return self.name in ("gcj02", "bd09")

    @property
    def is_wgs84_equal(self) -> bool:
        """Tell whether coordinates can be stored as they are (WGS84 or CGCS2000 lon/lat)."""
        return self.name in GEOGRAPHIC_EQUAL

    def to_wgs84(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Convert x/y (lon/lat for geographic systems) to WGS84 lon/lat."""
        if self.is_wgs84_equal:
            return _arrays(lon, lat)
        if self.name == "gcj02":
            return gcj02_to_wgs84(lon, lat)
        if self.name == "bd09":
            return bd09_to_wgs84(lon, lat)
        x, y = _arrays(lon, lat)
        out_x, out_y = _transformer(self.name).transform(x, y)
        return np.asarray(out_x, dtype=np.float64), np.asarray(out_y, dtype=np.float64)


def _transformer(name: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(name), CRS.from_epsg(4326), always_xy=True)


_EPSG_RE = re.compile(r"^(?:epsg:)?(\d{4,6})$", re.IGNORECASE)


def parse_crs(spec: str | None, default: str = "EPSG:4326") -> InputCrs:
    """Turn a ``--crs`` value (wgs84, cgcs2000, gcj02, bd09, EPSG:n) or a file's CRS into an ``InputCrs``."""
    if spec is None or not str(spec).strip():
        return InputCrs(default)
    raw = str(spec).strip()
    key = raw.lower()
    if key in ALIASES:
        return InputCrs(ALIASES[key])
    match = _EPSG_RE.match(key)
    if match:
        name = f"EPSG:{match.group(1)}"
    elif key in ("ogc:crs84", "urn:ogc:def:crs:ogc:1.3:crs84"):
        return InputCrs("OGC:CRS84")
    else:
        name = raw
    try:
        crs = CRS.from_user_input(name)
    except Exception as exc:
        raise CrsError(f"无法识别的坐标系“{raw}”：可用 wgs84、cgcs2000、gcj02、bd09 或 EPSG:代码") from exc
    epsg = crs.to_epsg()
    return InputCrs(f"EPSG:{epsg}" if epsg else crs.to_wkt())


@dataclass(frozen=True)
class BBox:
    """A lon/lat bounding box (west, south, east, north) in WGS84."""

    west: float
    south: float
    east: float
    north: float

    @classmethod
    def parse(cls, raw: str) -> BBox:
        """Parse ``"w,s,e,n"``; raise ``ValueError`` (Chinese) when malformed or not lon/lat."""
        try:
            w, s, e, n = (float(v) for v in raw.split(","))
        except (ValueError, AttributeError) as exc:
            raise ValueError("bbox 参数应为 “西,南,东,北” 四个经纬度数值") from exc
        if not all(math.isfinite(v) for v in (w, s, e, n)) or w >= e or s >= n:
            raise ValueError("bbox 参数无效：应满足 西<东、南<北")
        return cls(max(w, -180.0), max(s, -90.0), min(e, 180.0), min(n, 90.0))

    def params(self) -> dict[str, float]:
        """Bind parameters ``w, s, e, n``."""
        return {"w": self.west, "s": self.south, "e": self.east, "n": self.north}


# --- display shift for the 高德 basemap (GCJ-02) -------------------------------------------------


def _positions(coords: Any, out: list[list[float]]) -> None:
    if coords and isinstance(coords[0], int | float):
        out.append(coords)
    else:
        for c in coords:
            _positions(c, out)


def shift_to_gcj02(collection: dict[str, Any]) -> dict[str, Any]:
    """Shift every coordinate of a FeatureCollection WGS84 → GCJ-02 in place (display on 高德 tiles only)."""
    positions: list[list[float]] = []
    for feature in collection.get("features", []):
        geometry = feature.get("geometry")
        if geometry and geometry.get("coordinates") is not None:
            _positions(geometry["coordinates"], positions)
    if positions:
        xy = np.asarray([p[:2] for p in positions], dtype=np.float64)
        lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        for p, x, y in zip(positions, np.round(lon, 6).tolist(), np.round(lat, 6).tolist(), strict=True):
            p[0], p[1] = x, y
    return collection


def latlng_for_display(lat: float, lon: float, crs: str) -> list[float]:
    """Return ``[lat, lon]`` as drawn on the basemap: shifted to GCJ-02 when ``crs`` is ``gcj02``."""
    if crs != "gcj02":
        return [lat, lon]
    x, y = wgs84_to_gcj02([lon], [lat])
    return [float(y[0]), float(x[0])]


def bbox_from_gcj02(bbox: BBox) -> BBox:
    """Convert a viewport bbox read on GCJ-02 tiles back to WGS84 (corners; the shift is < 1 km)."""
    lon, lat = gcj02_to_wgs84([bbox.west, bbox.east], [bbox.south, bbox.north])
    return BBox(float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1]))
