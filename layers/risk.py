"""The layers of the risk analysis page (``/risk``) as data: the H3 heatmap and the four-colour unit overlay.

The heatmap's classes are not fixed (quantile breaks of the cells in view, computed with the data), so
it is described by :data:`HEAT_COLOURS` and styled by ``safegrid.risk.hexStyle`` (``assets/risk.js``);
the four-colour overlay is an ordinary :class:`LayerSpec` drawn with the command map's unit style.
"""

from __future__ import annotations

import math
from typing import Any

from domain.labels import LEVEL, RISK_COLOUR_HEX
from layers.registry import UNITS

RISK_JS_NAMESPACE = "safegrid.risk"  # window.safegrid.risk, defined in assets/risk.js
# Sequential yellow → dark red ramp (ColorBrewer YlOrRd, 7 classes); a view with fewer distinct
# values uses an evenly spread subset, so the darkest colour always marks the highest cells.
HEAT_COLOURS = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026")
HEAT_OPACITY = 0.7

# The command map's four-colour unit layer, served per level by the risk route and drawn as outlines.
RISK_UNITS = UNITS.model_copy(update={
    "source": "/api/risk/units.geojson",
    "properties": ("code", "name", "level", "risk", "score", "enterprises", "open", "overdue"),
    "style": None, "point_to_layer": None,  # the style is RISK_UNITS_STYLE; tooltips stay safegrid.map's
    "note": "点击区域查看定级依据",
})
RISK_UNITS_STYLE = "unitOutline"  # safegrid.risk: outlines in the class colour, faint fill
OVERLAY_LEVELS = (2, 3, 4)


def heat_colours(n_classes: int) -> list[str]:
    """``n_classes`` colours of the ramp, spread evenly and always ending with the darkest."""
    if n_classes <= 0:
        return []
    if n_classes == 1:
        return [HEAT_COLOURS[-1]]
    last = len(HEAT_COLOURS) - 1
    return [HEAT_COLOURS[round(i * last / (n_classes - 1))] for i in range(n_classes)]


def heat_class(value: float, breaks: list[float]) -> int:
    """Class index of ``value`` for ``breaks`` [min, …, max] (the same rule as ``hexStyle`` in risk.js)."""
    k = 0
    for i in range(1, len(breaks) - 1):
        if value >= breaks[i]:
            k = i
    return k


def heat_hideout(breaks: list[float], metric: str) -> dict[str, Any]:
    """Return the ``hideout`` read by ``safegrid.risk.hexStyle``: breaks, colours, opacity, metric."""
    return {"breaks": breaks, "colours": heat_colours(max(len(breaks) - 1, 1)), "opacity": HEAT_OPACITY,
            "metric": metric}


def overlay_level_options(scope_level: int) -> list[dict[str, Any]]:
    """Levels the four-colour overlay can show below a scope unit of ``scope_level``."""
    return [{"label": LEVEL[lv], "value": lv} for lv in OVERLAY_LEVELS if lv > scope_level] or [
        {"label": LEVEL[scope_level], "value": scope_level}]


def js_ref(name: str) -> dict[str, str]:
    """Return a reference to a function of the risk JS namespace, as dash-leaflet resolves it."""
    return {"variable": f"{RISK_JS_NAMESPACE}.{name}"}


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    """Outer rings of a GeoJSON Polygon / MultiPolygon."""
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"][0]]
    return [poly[0] for poly in geometry["coordinates"]]


def render_heat_png(collection: dict[str, Any], units: dict[str, Any] | None, *, title: str, subtitle: str,
                    metric_label: str) -> bytes:
    """Draw the hexagons of a heatmap response (and the four-colour unit outlines) into a PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import BoundaryNorm, ListedColormap

    plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei",
                                       "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    fig, ax = plt.subplots(figsize=(10, 8), dpi=110)
    try:
        breaks = list(collection.get("breaks") or [])
        features = collection.get("features") or []
        colours = heat_colours(max(len(breaks) - 1, 1))
        if features:
            polys = [_rings(f["geometry"])[0] for f in features]
            facec = [colours[min(heat_class(f["properties"]["v"], breaks), len(colours) - 1)] for f in features]
            ax.add_collection(PolyCollection(polys, facecolors=facec, edgecolors="#7a2e12", linewidths=0.2,
                                             alpha=HEAT_OPACITY))
        for f in (units or {}).get("features", []):
            colour = RISK_COLOUR_HEX.get(f["properties"].get("risk") or "", "#8a97a8")
            for ring in _rings(f["geometry"]):
                xs, ys = zip(*ring, strict=True)
                ax.plot(xs, ys, color=colour, linewidth=1.4)
        ax.autoscale_view()
        ax.set_aspect(1 / max(0.2, math.cos(math.radians(sum(ax.get_ylim()) / 2))))  # degrees → equal metres
        ax.set_title(f"{title}\n{subtitle}", fontsize=11)
        ax.set_xlabel("经度")
        ax.set_ylabel("纬度")
        if len(breaks) >= 2:
            bounds = list(range(len(breaks)))
            mappable = plt.cm.ScalarMappable(norm=BoundaryNorm(bounds, len(colours)), cmap=ListedColormap(colours))
            bar = fig.colorbar(mappable, ax=ax, ticks=bounds, shrink=0.7)
            bar.ax.set_yticklabels([f"{b:g}" for b in breaks])
            bar.set_label(metric_label)
        elif not features:
            ax.text(0.5, 0.5, "当前范围无数据", transform=ax.transAxes, ha="center", fontsize=14)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)
