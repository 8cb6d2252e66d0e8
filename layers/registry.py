"""The layers of the command map, as data: four-colour units, enterprises, hazard sources, open hazards."""

from __future__ import annotations

from geo.labels import (
    HAZARD_LEVEL,
    MAP_CLASS,
    RISK_COLOUR_HEX,
    RISK_LEVEL_LONG,
    SOURCE_GRADE,
)
from layers.spec import LayerClass, LayerSpec

_RISK = tuple(LayerClass(key=k, label=RISK_LEVEL_LONG[k], colour=RISK_COLOUR_HEX[k]) for k in RISK_COLOUR_HEX)

UNITS = LayerSpec(
    id="units",
    title="四色风险分区",
    source="/api/map/units/{code}/children.geojson",
    geometry="polygon",
    properties=("code", "name", "level", "risk", "enterprises", "open", "overdue", "major"),
    class_property="risk",
    classes=_RISK,
    no_class=LayerClass(key="none", label=MAP_CLASS["unrated"], colour="#c9d3df"),
    style="unitStyle",
    point_to_layer="unitLabel",
    on_each_feature="unitTooltip",
    marker="fill",
    note="点击区域或右侧列表逐级下钻；点位过密时按网格聚合显示数量",
)
ENTERPRISES = LayerSpec(
    id="enterprises",
    title="生产经营单位",
    source="/api/map/points/enterprises.geojson",
    geometry="point",
    properties=("name", "industry", "cls", "n", "classes"),
    class_property="cls",
    classes=(*_RISK, LayerClass(key="none", label=MAP_CLASS["unassessed"], colour="#8a97a8")),
    min_zoom=11,
    point_to_layer="pointMarker",
    on_each_feature="pointTooltip",
    viewport_driven=True,
    marker="circle",
)
SOURCES = LayerSpec(
    id="sources",
    title="重大危险源",
    source="/api/map/points/sources.geojson",
    geometry="point",
    properties=("name", "enterprise", "cls", "n", "classes"),
    class_property="cls",
    classes=(
        LayerClass(key="g1", label=SOURCE_GRADE[1], colour="#67000d"),
        LayerClass(key="g2", label=SOURCE_GRADE[2], colour="#b2182b"),
        LayerClass(key="g3", label=SOURCE_GRADE[3], colour="#e6550d"),
        LayerClass(key="g4", label=SOURCE_GRADE[4], colour="#fdae6b"),
    ),
    min_zoom=11,
    point_to_layer="pointMarker",
    on_each_feature="pointTooltip",
    viewport_driven=True,
    marker="diamond",
)
HAZARDS = LayerSpec(
    id="hazards",
    title="未销号隐患",
    source="/api/map/points/hazards.geojson",
    geometry="point",
    properties=("name", "enterprise", "deadline", "cls", "n", "classes"),
    class_property="cls",
    classes=(
        LayerClass(key="overdue", label=MAP_CLASS["overdue"], colour="#7a0177"),
        LayerClass(key="major", label=HAZARD_LEVEL["major"], colour="#e0322b"),
        LayerClass(key="general", label=HAZARD_LEVEL["general"], colour="#f59f00"),
    ),
    min_zoom=11,
    point_to_layer="pointMarker",
    on_each_feature="pointTooltip",
    viewport_driven=True,
    marker="triangle",
)

LAYERS: dict[str, LayerSpec] = {spec.id: spec for spec in (UNITS, ENTERPRISES, SOURCES, HAZARDS)}
POINT_LAYERS: tuple[LayerSpec, ...] = tuple(s for s in LAYERS.values() if s.geometry == "point")


def get_layer(layer_id: str) -> LayerSpec:
    """Return the spec registered under ``layer_id`` (KeyError when unknown)."""
    return LAYERS[layer_id]
