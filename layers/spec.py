"""A map layer is data: a validated :class:`LayerSpec` (source route, geometry, zoom range, classes, legend).

A point layer's record, :class:`PointLayerSpec`, also carries where its rows come from: a
:class:`geo.map_queries.PointSource` (table, class expression, properties, filter, roll-up columns),
from which geo derives every SQL query of the layer. Nothing else describes a point layer.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, InstanceOf, field_validator, model_validator

from geo.map_queries import PointSource

_JS_NAME = re.compile(r"^[A-Za-z_$][\w$]*$")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
JS_NAMESPACE = "safegrid.map"  # window.safegrid.map, defined in assets/map.js


class LayerClass(BaseModel):
    """One class of a layer (a risk colour, a grade…): key as in the data, Chinese label, colour."""

    model_config = ConfigDict(frozen=True)

    key: str
    label: str
    colour: str

    @field_validator("colour")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _HEX.match(value):
            raise ValueError(f"colour must be #rrggbb, got {value!r}")
        return value


class LayerSpec(BaseModel):
    """Everything the builder needs to put a layer on the map and explain it in a legend."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: str  # Chinese, shown in the layers control and the legend
    source: str  # Flask route; ``{code}`` is replaced by the current unit code
    geometry: Literal["polygon", "point"]
    properties: tuple[str, ...]  # feature properties the style functions read
    class_property: str  # the property whose value selects a class
    classes: tuple[LayerClass, ...]
    no_class: LayerClass | None = None  # features whose class is missing (e.g. not yet refreshed)
    min_zoom: int = Field(default=0, ge=0, le=22)
    max_zoom: int = Field(default=22, ge=0, le=22)
    style: str | None = None  # JS function names in the namespace
    point_to_layer: str | None = None
    on_each_feature: str | None = None
    hover: str | None = None  # called on a mouseover of any feature (one listener on the layer, not one per feature)
    checked: bool = True  # shown when the page opens
    viewport_driven: bool = False  # the URL carries the map's bbox and zoom (point layers)
    marker: Literal["fill", "circle", "diamond", "triangle", "square"] = "circle"  # marker and legend swatch shape
    note: str | None = None  # one line under the legend (Chinese)

    @field_validator("style", "point_to_layer", "on_each_feature", "hover")
    @classmethod
    def _js_name(cls, value: str | None) -> str | None:
        if value is not None and not _JS_NAME.match(value):
            raise ValueError(f"not a JS function name: {value!r}")
        return value

    def colours(self) -> dict[str, str]:
        """Class key → colour."""
        return {c.key: c.colour for c in self.classes}

    def labels(self) -> dict[str, str]:
        """Class key → Chinese label."""
        return {c.key: c.label for c in self.classes}

    def hideout(self, **extra: Any) -> dict[str, Any]:
        """Return the ``hideout`` the JS functions read: colours, labels, order of severity, zoom range."""
        return {
            "layer": self.id,
            "prop": self.class_property,
            "colours": self.colours(),
            "labels": self.labels(),
            "order": [c.key for c in self.classes],
            "noColour": self.no_class.colour if self.no_class else "#cccccc",
            "noLabel": self.no_class.label if self.no_class else "",
            "minZoom": self.min_zoom,
            "maxZoom": self.max_zoom,
            "marker": self.marker,
            **extra,
        }

    def js(self, name: str | None) -> dict[str, str] | None:
        """Return a reference to a function in the JS namespace, as dash-leaflet resolves it (``{"variable": …}``)."""
        return {"variable": f"{JS_NAMESPACE}.{name}"} if name else None

    def url(self, **params: str) -> str:
        """Return the source route with ``{placeholders}`` filled in."""
        return self.source.format(**params)


class PointLayerSpec(LayerSpec):
    """The one record of a point layer: its spec plus its rows (``points``) and its tooltip lines.

    Routes serve it under its ``id`` (``/api/map/points/<id>.geojson``, ``points.json?kinds=<id>``),
    the page builds its overlay and legend from it, and the browser styles it from its ``hideout``.
    """

    geometry: Literal["point"] = "point"
    points: InstanceOf[PointSource]
    # Tooltip lines under a raw point's name and class: (property, Chinese prefix), shown when set.
    details: tuple[tuple[str, str], ...] = ()

    @model_validator(mode="after")
    def _agrees_with_points(self) -> PointLayerSpec:
        keys = tuple(c.key for c in self.classes)
        if keys != self.points.classes:
            raise ValueError(f"classes {keys} differ from the point source's {self.points.classes}")
        missing = [p for p, _ in self.details if p not in self.points.prop_names]
        if missing:
            raise ValueError(f"tooltip properties the point source does not serve: {missing}")
        return self

    def hideout(self, **extra: Any) -> dict[str, Any]:
        """Return the spec's ``hideout`` plus the tooltip lines (``details``)."""
        return super().hideout(details=[list(d) for d in self.details], **extra)
