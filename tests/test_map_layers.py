"""Layer specs, the generic builder, the JS namespace they reference, and the basemap options."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from dashboard.basemaps import MapSettings, available_basemaps, base_layers, crs_by_name, default_basemap
from domain.labels import RISK_COLOUR_HEX
from layers.builder import build_geojson, build_legend, build_overlay
from layers.registry import LAYERS, POINT_LAYERS, UNITS
from layers.spec import LayerClass, LayerSpec

ROOT = Path(__file__).resolve().parent.parent
MAP_JS = (ROOT / "assets" / "map.js").read_text()


def test_every_referenced_js_function_exists_in_the_namespace() -> None:
    defined = set(re.findall(r"^\s{4}(\w+): function", MAP_JS, re.M))
    for spec in LAYERS.values():
        for name in (spec.style, spec.point_to_layer, spec.on_each_feature, spec.hover):
            if name:
                assert name in defined, (spec.id, name)
    assert "window.safegrid" in MAP_JS and "dash_extensions" not in MAP_JS


def test_registry_is_consistent() -> None:
    assert list(LAYERS) == ["units", "enterprises", "sources", "hazards", "cadence", "inspection-due", "accidents"]
    assert UNITS.colours() == RISK_COLOUR_HEX
    for spec in POINT_LAYERS:
        assert spec.viewport_driven and spec.source.startswith("/api/map/points/")
        assert len({c.key for c in spec.classes}) == len(spec.classes)
    assert {c.key for c in LAYERS["hazards"].classes} == {"overdue", "major", "general"}


def test_spec_validation_refuses_bad_values() -> None:
    with pytest.raises(ValidationError):
        LayerClass(key="x", label="x", colour="red")
    with pytest.raises(ValidationError):
        LayerSpec(id="x", title="x", source="/x", geometry="point", properties=(), class_property="c", classes=(),
                  style="alert(1)")
    with pytest.raises(ValidationError):
        LayerSpec(id="Bad Id", title="x", source="/x", geometry="point", properties=(), class_property="c",
                  classes=())


def test_builder_makes_a_url_fed_geojson_with_namespaced_functions() -> None:
    layer = build_geojson(UNITS, prefix="cm-layer-", url="/api/map/units/411000/children.geojson")
    assert layer.id == "cm-layer-units"
    assert layer.url == "/api/map/units/411000/children.geojson"
    assert not hasattr(layer, "data") or layer.data is None
    assert layer.style == {"variable": "safegrid.map.unitStyle"}
    assert layer.hideout["colours"]["red"] == RISK_COLOUR_HEX["red"]
    overlay = build_overlay(LAYERS["hazards"], prefix="p-")
    assert overlay.name == "未销号隐患" and overlay.checked is True
    legend = build_legend(LAYERS["sources"], prefix="p-")
    text = str(legend.to_plotly_json())
    for label in ("一级", "二级", "三级", "四级", "重大危险源"):
        assert label in text


def test_without_configuration_only_the_offline_basemap_exists() -> None:
    settings = MapSettings(_env_file=None)  # type: ignore[call-arg]
    maps = available_basemaps(settings)
    assert [m.id for m in maps] == ["none"]
    assert default_basemap(maps, settings).id == "none"
    layers = base_layers(maps, maps[0])
    assert len(layers) == 1 and layers[0].checked is True


def test_configured_basemaps_and_their_crs() -> None:
    settings = MapSettings(_env_file=None, tianditu_key="k123", gaode=True, osm=True,  # type: ignore[call-arg]
                           xyz_url="http://gis.local/{z}/{x}/{y}.png", wms_url="http://gis.local/wms",
                           wms_layers="base", default_basemap="gaode")
    maps = available_basemaps(settings)
    assert [m.id for m in maps] == ["none", "tianditu", "gaode", "osm", "xyz", "wms"]
    tdt = next(m for m in maps if m.id == "tianditu")
    assert len(tdt.tiles) == 2 and all("tk=k123" in t["url"] for t in tdt.tiles)
    assert "LAYER=vec" in tdt.tiles[0]["url"] and "LAYER=cva" in tdt.tiles[1]["url"]
    assert "{z}" in tdt.tiles[0]["url"] and "{x}" in tdt.tiles[0]["url"]
    assert crs_by_name(maps)["高德地图"] == "gcj02" and crs_by_name(maps)["天地图矢量"] == "wgs84"
    assert default_basemap(maps, settings).id == "gaode"
    bare = MapSettings(_env_file=None, default_basemap="osm")  # type: ignore[call-arg]
    assert default_basemap(available_basemaps(bare), bare).id == "none"  # osm not offered: fall back


def test_env_example_documents_every_map_setting() -> None:
    documented = (ROOT / ".env.example").read_text()
    for field in MapSettings.model_fields:
        assert f"SAFEGRID_MAP_{field.upper()}" in documented, field
