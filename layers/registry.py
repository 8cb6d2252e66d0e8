"""The layers of the command map, as data: four-colour units, enterprises, hazard sources, open hazards.

One record per layer (:class:`~layers.spec.LayerSpec`; a point layer's :class:`~layers.spec.PointLayerSpec`
also names its rows' :class:`~geo.map_queries.PointSource`), registered here in order. The page, its
legends, the point routes and the browser's styles all derive from these records.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from domain.inspection_rules import DUE_STATE
from domain.labels import (
    ACCIDENT_GRADE,
    HAZARD_LEVEL,
    LEVEL,
    MAP_CLASS,
    RISK_COLOUR_HEX,
    RISK_LEVEL_LONG,
    SOURCE_GRADE,
)
from domain.risk_rule import RiskRule
from domain.rules_config import describe_modes
from geo.accidents import ACCIDENT_POINTS
from geo.inspections_app import BEHIND_POINTS, DUE_POINTS
from geo.map_queries import POINT_SOURCES, PointSource
from layers.spec import LayerClass, LayerSpec, PointLayerSpec

# The four colours and "not rated yet" as layer classes; reusable by any four-colour layer (e.g. layers/risk.py).
RISK_CLASSES = tuple(LayerClass(key=k, label=RISK_LEVEL_LONG[k], colour=RISK_COLOUR_HEX[k]) for k in RISK_COLOUR_HEX)
UNRATED = LayerClass(key="none", label=MAP_CLASS["unrated"], colour="#c9d3df")

LAYERS: dict[str, LayerSpec] = {}  # every layer of the command map, in drawing and legend order
POINT_LAYERS: list[PointLayerSpec] = []  # the point layers among them (same order)

_S = TypeVar("_S", bound=LayerSpec)


def register(spec: _S) -> _S:
    """Add a layer to the command map and return it.

    Register before the app is built: the page takes its overlays, legends and point-layer outputs from
    here when it is imported; the point routes look a layer up here on every request.
    """
    if spec.id in LAYERS:
        raise ValueError(f"layer {spec.id!r} is registered already")
    LAYERS[spec.id] = spec
    if isinstance(spec, PointLayerSpec):
        POINT_LAYERS.append(spec)
    return spec


def point_layers() -> dict[str, PointLayerSpec]:
    """Return the registered point layers by id, in registry order (what the point routes serve)."""
    return {s.id: s for s in LAYERS.values() if isinstance(s, PointLayerSpec)}


def point_layer(layer_id: str, title: str, classes: tuple[LayerClass, ...],
                marker: Literal["circle", "diamond", "triangle", "square"], *, points: PointSource | None = None,
                details: tuple[tuple[str, str], ...] = (), min_zoom: int = 11) -> PointLayerSpec:
    """Return the record of a viewport-driven point layer served by ``/api/map/points/<id>.geojson``.

    Its rows come from ``points``, by default geo's built-in source of the same kind; its feature
    properties are the source's plus the class (``cls``) and, when aggregated, ``n`` and ``classes``.
    """
    source = points or POINT_SOURCES[layer_id]
    return PointLayerSpec(
        id=layer_id, title=title, source=f"/api/map/points/{layer_id}.geojson",
        properties=(*source.prop_names, "cls", "n", "classes"), class_property="cls", classes=classes,
        min_zoom=min_zoom, point_to_layer="pointMarker", hover="pointHover", viewport_driven=True,
        marker=marker, points=source, details=details,
    )


UNITS = register(LayerSpec(
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
    note="点击区域或右侧列表逐级下钻；点位过密时按网格聚合显示数量；▲ 含红色企业或未销号重大隐患",
))


def unit_rule_note(rule: RiskRule) -> str:
    """Return the legend line naming the four-colour reading in force per level and the ▲ mark."""
    return f"着色规则（版本 {rule.version}）：{describe_modes(rule)}；▲ 含红色企业或未销号重大隐患"


def with_rule(spec: LayerSpec, rule: RiskRule) -> LayerSpec:
    """Return a four-colour unit layer's record whose legend says which rule colours it."""
    return spec.model_copy(update={"note": unit_rule_note(rule)})
ENTERPRISES = register(point_layer(
    "enterprises", "生产经营单位",
    (*RISK_CLASSES, LayerClass(key="none", label=MAP_CLASS["unassessed"], colour="#8a97a8")), "circle",
))
SOURCES = register(point_layer("sources", "重大危险源", (
    LayerClass(key="g1", label=SOURCE_GRADE[1], colour="#67000d"),
    LayerClass(key="g2", label=SOURCE_GRADE[2], colour="#b2182b"),
    LayerClass(key="g3", label=SOURCE_GRADE[3], colour="#e6550d"),
    LayerClass(key="g4", label=SOURCE_GRADE[4], colour="#fdae6b"),
), "diamond", details=(("enterprise", ""),)))
HAZARDS = register(point_layer("hazards", "未销号隐患", (
    LayerClass(key="overdue", label=MAP_CLASS["overdue"], colour="#7a0177"),
    LayerClass(key="major", label=HAZARD_LEVEL["major"], colour="#e0322b"),
    LayerClass(key="general", label=HAZARD_LEVEL["general"], colour="#f59f00"),
), "triangle", details=(("enterprise", ""), ("deadline", "整改期限 "))))

# 四查落后: units where neither the current period nor the last closed one has an own-level inspection or patrol
# (domain.cadence; refreshed into unit_cadence). Off when the map opens.
CADENCE_BEHIND = register(point_layer(
    "cadence", "四查落后单位",
    tuple(LayerClass(key=f"l{lv}", label=f"{LEVEL[lv]}级", colour=c)
          for lv, c in zip((1, 2, 3, 4, 5), ("#4a148c", "#7b1fa2", "#ab47bc", "#ce93d8", "#e1bee7"), strict=True)),
    "diamond", points=BEHIND_POINTS, details=(("last_at", "最近检查 "),), min_zoom=8,
).model_copy(update={"checked": False, "note": "本期与上一期均无本级检查或巡查记录的单位（规则见 docs/risk_rule.md）"}))

# 检查到期/逾期企业: the risk-based frequency (domain.inspection_rules.FrequencyRule, the /inspection list's rule
# written over app_config in SQL), read live. Off when the map opens. Squares: the diamonds' colours are the
# hazard sources' grades, the circles the enterprises' own colours underneath.
INSPECTION_DUE = register(point_layer(
    "inspection-due", "检查到期/逾期企业", (
        LayerClass(key="overdue", label=DUE_STATE["overdue"], colour="#e41a1c"),
        LayerClass(key="never", label="从未检查", colour="#7e57c2"),
        LayerClass(key="due_soon", label=DUE_STATE["due_soon"], colour="#ffb300"),
    ), "square", points=DUE_POINTS, details=(("due", "应检日期 "), ("last_at", "最近检查 ")), min_zoom=9,
).model_copy(update={"checked": False, "note": "按风险等级确定检查频次（红每月、橙每季、黄每半年、蓝和未评估每年，"
                                               "两重点一重大至少每季）；列表见“四查”页"}))


# 事故 (issue 18): recorded accidents by grade (《生产安全事故报告和调查处理条例》第三条), off when the map opens.
ACCIDENTS = register(point_layer(
    "accidents", "生产安全事故", tuple(
        LayerClass(key=k, label=ACCIDENT_GRADE[k], colour=c)
        for k, c in zip(tuple(reversed(ACCIDENT_GRADE.codes)), ("#000000", "#4a1486", "#a50f15", "#525252"),
                        strict=True)),
    "triangle", points=ACCIDENT_POINTS,
    details=(("occurred_on", "发生日期 "), ("deaths", "死亡 "), ("injuries", "重伤 "), ("enterprise", "")), min_zoom=8,
).model_copy(update={"checked": False, "note": "事故台账与事故登记中的全部事故，按事故等级着色"}))


def get_layer(layer_id: str) -> LayerSpec:
    """Return the spec registered under ``layer_id`` (KeyError when unknown)."""
    return LAYERS[layer_id]
