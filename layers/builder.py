"""The one generic builder: a :class:`LayerSpec` → dash-leaflet components, and its legend."""

from __future__ import annotations

from typing import Any

import dash_leaflet as dl
from dash import html

from layers.spec import LayerSpec


def layer_id(spec: LayerSpec, prefix: str) -> str:
    """Component id of the GeoJSON layer built from ``spec``."""
    return f"{prefix}{spec.id}"


def build_geojson(spec: LayerSpec, *, prefix: str, url: str | None = None, **hideout: Any) -> dl.GeoJSON:
    """Build a ``dl.GeoJSON`` fed from the spec's Flask route, styled by the spec's namespaced JS functions."""
    kwargs: dict[str, Any] = {
        "id": layer_id(spec, prefix),
        "hideout": spec.hideout(**hideout),
        "bubblingMouseEvents": False,
        # No default handlers: nothing reads clickData or hoverData, and each click and hover would be a store
        # update of Dash's (every mounted component asked whether its props changed).
        "disableDefaultEventHandlers": True,
    }
    if spec.hover:
        kwargs["eventHandlers"] = {"mouseover": spec.js(spec.hover)}
    if url:  # never ``data`` as a placeholder: dash-leaflet ignores a later ``url`` while ``data`` is set
        kwargs["url"] = url
    for prop, name in (("style", spec.style), ("pointToLayer", spec.point_to_layer),
                       ("onEachFeature", spec.on_each_feature)):
        ref = spec.js(name)
        if ref:
            kwargs[prop] = ref
    return dl.GeoJSON(**kwargs)


def build_overlay(spec: LayerSpec, *, prefix: str, url: str | None = None, **hideout: Any) -> dl.Overlay:
    """Wrap the layer as an entry of ``dl.LayersControl`` (Chinese title, initially checked or not)."""
    return dl.Overlay(build_geojson(spec, prefix=prefix, url=url, **hideout), name=spec.title,
                      checked=spec.checked, id=f"{layer_id(spec, prefix)}-overlay")


def build_legend(spec: LayerSpec, *, prefix: str) -> html.Div:
    """Build a legend block: title, one swatch per class (shape by geometry kind), an optional note."""
    classes = list(spec.classes) + ([spec.no_class] if spec.no_class else [])
    items = [
        html.Li([
            html.Span(className=f"sg-swatch sg-swatch-{spec.marker}", style={"--swatch": c.colour}),
            html.Span(c.label),
        ], className=f"sg-legend-item sg-legend-{c.key}", title=c.label)
        for c in classes
    ]
    children: list[Any] = [html.Div(spec.title, className="sg-legend-title"), html.Ul(items)]
    if spec.note:
        children.append(html.Div(spec.note, className="sg-legend-note"))
    if spec.min_zoom:
        children.append(html.Div(f"地图放大到 {spec.min_zoom} 级及以上时显示", className="sg-legend-note"))
    return html.Div(children, className="sg-legend", id=f"{layer_id(spec, prefix)}-legend")
