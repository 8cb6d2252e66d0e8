"""Basemaps of the command map (env prefix ``SAFEGRID_MAP_``): "none" (offline, always there) and the configured ones.

Government networks are often offline, so "无底图" is always offered and is the default unless
another basemap is configured and named in ``SAFEGRID_MAP_DEFAULT_BASEMAP``. 高德 tiles are in
GCJ-02: when it is selected the map routes shift overlays WGS84 → GCJ-02 (display only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import dash_leaflet as dl
from pydantic_settings import BaseSettings, SettingsConfigDict

NONE_ID = "none"
TIANDITU = "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}" \
    "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
GAODE = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


class MapSettings(BaseSettings):
    """Which basemaps the command map offers; without any tile URL or key only "无底图" exists."""

    model_config = SettingsConfigDict(env_prefix="SAFEGRID_MAP_", env_file=".env", extra="ignore")

    tianditu_key: str | None = None  # 天地图 browser key (vector + annotation)
    gaode: bool = False  # offer 高德 road map (GCJ-02; internet access needed)
    osm: bool = False  # offer OpenStreetMap (internet access needed)
    xyz_url: str | None = None  # intranet XYZ tiles, e.g. http://gis.local/tiles/{z}/{x}/{y}.png
    xyz_name: str = "内网底图"
    xyz_crs: Literal["wgs84", "gcj02"] = "wgs84"
    wms_url: str | None = None  # intranet WMS endpoint
    wms_layers: str = ""
    wms_name: str = "内网WMS"
    attribution: str = ""  # attribution text for the intranet XYZ/WMS service
    default_basemap: str = NONE_ID  # id of the basemap shown first: none, tianditu, gaode, osm, xyz, wms
    raw_point_limit: int = 2500  # above this many points in view a point layer is aggregated on the server


@dataclass(frozen=True)
class Basemap:
    """One selectable basemap: id, Chinese name, its tile layers and the CRS overlays must be shown in."""

    id: str
    name: str
    crs: Literal["wgs84", "gcj02"] = "wgs84"
    tiles: tuple[dict[str, Any], ...] = field(default_factory=tuple)  # TileLayer/WMSTileLayer kwargs


def available_basemaps(settings: MapSettings) -> list[Basemap]:
    """Return "无底图" followed by every configured basemap."""
    maps = [Basemap(NONE_ID, "无底图（离线）")]
    if settings.tianditu_key:
        key = settings.tianditu_key
        attribution = "© 天地图"
        maps.append(Basemap("tianditu", "天地图矢量", tiles=(
            {"kind": "xyz", "url": TIANDITU.format(s="{s}", layer="vec", key=key), "subdomains": "01234567",
             "attribution": attribution},
            {"kind": "xyz", "url": TIANDITU.format(s="{s}", layer="cva", key=key), "subdomains": "01234567",
             "attribution": attribution},
        )))
    if settings.gaode:
        maps.append(Basemap("gaode", "高德地图", crs="gcj02", tiles=(
            {"kind": "xyz", "url": GAODE, "subdomains": "1234", "attribution": "© 高德地图"},)))
    if settings.osm:
        maps.append(Basemap("osm", "OpenStreetMap", tiles=(
            {"kind": "xyz", "url": OSM, "attribution": "© OpenStreetMap contributors"},)))
    if settings.xyz_url:
        maps.append(Basemap("xyz", settings.xyz_name, crs=settings.xyz_crs, tiles=(
            {"kind": "xyz", "url": settings.xyz_url, "attribution": settings.attribution},)))
    if settings.wms_url:
        maps.append(Basemap("wms", settings.wms_name, tiles=(
            {"kind": "wms", "url": settings.wms_url, "layers": settings.wms_layers,
             "attribution": settings.attribution},
        )))
    return maps


def default_basemap(maps: list[Basemap], settings: MapSettings) -> Basemap:
    """Return the basemap shown first: the configured default when it is available, else "无底图"."""
    return next((m for m in maps if m.id == settings.default_basemap), maps[0])


def _tile(spec: dict[str, Any]) -> Any:
    kwargs = {k: v for k, v in spec.items() if k != "kind" and v not in (None, "")}
    if spec["kind"] == "wms":
        return dl.WMSTileLayer(format="image/png", transparent=True, **kwargs)
    return dl.TileLayer(**kwargs)


def base_layers(maps: list[Basemap], selected: Basemap) -> list[dl.BaseLayer]:
    """One ``dl.BaseLayer`` per basemap ("无底图" is an empty group), the selected one checked."""
    return [
        dl.BaseLayer(dl.LayerGroup([_tile(t) for t in m.tiles]), name=m.name, checked=m.id == selected.id)
        for m in maps
    ]


def crs_by_name(maps: list[Basemap]) -> dict[str, str]:
    """Map each base layer name → CRS its overlays must be drawn in (the layers control reports names)."""
    return {m.name: m.crs for m in maps}


@lru_cache
def get_map_settings() -> MapSettings:
    """Return the cached map settings."""
    return MapSettings()
