"""The layers of the command map, as data: four-colour units, enterprises, hazard sources, open hazards."""

from __future__ import annotations

from typing import Literal

from domain.labels import (
    HAZARD_LEVEL,
    MAP_CLASS,
    RISK_COLOUR_HEX,
    RISK_LEVEL_LONG,
    SOURCE_GRADE,
)
from layers.spec import LayerClass, LayerSpec

# The four colours and "not rated yet" as layer classes; reusable by any four-colour layer (e.g. layers/risk.py).
RISK_CLASSES = tuple(LayerClass(key=k, label=RISK_LEVEL_LONG[k], colour=RISK_COLOUR_HEX[k]) for k in RISK_COLOUR_HEX)
UNRATED = LayerClass(key="none", label=MAP_CLASS["unrated"], colour="#c9d3df")

UNITS = LayerSpec(
    id="units",
    title="四色风险分区",
    source="/api/map/units/{code}/children.geojson",
    geometry="polygon",
    properties=("code", "name", "level", "risk", "enterprises", "open", "overdue", "major"),
    class_property="risk",
    classes=RISK_CLASSES,
    no_class=UNRATED,
    style="unitStyle",
    point_to_layer="unitLabel",
    on_each_feature="unitTooltip",
    marker="fill",
    note="点击区域或右侧列表逐级下钻；点位过密时按网格聚合显示数量",
)


def point_layer(layer_id: str, title: str, properties: tuple[str, ...], classes: tuple[LayerClass, ...],
                marker: Literal["circle", "diamond", "triangle"]) -> LayerSpec:
    """Return a viewport-driven point layer served by ``/api/map/points/<id>.geojson`` (raw or aggregated)."""
    return LayerSpec(
        id=layer_id, title=title, source=f"/api/map/points/{layer_id}.geojson", geometry="point",
        properties=(*properties, "cls", "n", "classes"), class_property="cls", classes=classes, min_zoom=11,
        point_to_layer="pointMarker", on_each_feature="pointTooltip", viewport_driven=True, marker=marker,
    )


ENTERPRISES = point_layer(
    "enterprises", "生产经营单位", ("name", "industry"),
    (*RISK_CLASSES, LayerClass(key="none", label=MAP_CLASS["unassessed"], colour="#8a97a8")), "circle",
)
SOURCES = point_layer("sources", "重大危险源", ("name", "enterprise"), (
    LayerClass(key="g1", label=SOURCE_GRADE[1], colour="#67000d"),
    LayerClass(key="g2", label=SOURCE_GRADE[2], colour="#b2182b"),
    LayerClass(key="g3", label=SOURCE_GRADE[3], colour="#e6550d"),
    LayerClass(key="g4", label=SOURCE_GRADE[4], colour="#fdae6b"),
), "diamond")
HAZARDS = point_layer("hazards", "未销号隐患", ("name", "enterprise", "deadline"), (
    LayerClass(key="overdue", label=MAP_CLASS["overdue"], colour="#7a0177"),
    LayerClass(key="major", label=HAZARD_LEVEL["major"], colour="#e0322b"),
    LayerClass(key="general", label=HAZARD_LEVEL["general"], colour="#f59f00"),
), "triangle")

LAYERS: dict[str, LayerSpec] = {spec.id: spec for spec in (UNITS, ENTERPRISES, SOURCES, HAZARDS)}
POINT_LAYERS: tuple[LayerSpec, ...] = tuple(s for s in LAYERS.values() if s.geometry == "point")


def get_layer(layer_id: str) -> LayerSpec:
    """Return the spec registered under ``layer_id`` (KeyError when unknown)."""
    return LAYERS[layer_id]
