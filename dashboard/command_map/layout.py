"""The command map's component tree: the map with its layers control, legends, stores and the side panel's slot."""

from __future__ import annotations

import dash_leaflet as dl
from dash import dcc, html
from dash_extensions import Purify

from dashboard.basemaps import available_basemaps, base_layers, crs_by_name, default_basemap, get_map_settings
from dashboard.components.map_view import centre, fit_zoom
from dashboard.dry import attrs, static_children
from dashboard.errors import to_app_error
from dashboard.gis_export import export_links
from dashboard.map_routes import POINTS_BUNDLE_URL
from dashboard.readdb import run_read
from dashboard.scope import Account
from domain.crs import latlng_for_display
from geo import map_queries as mq
from geo.risk_queries import current_rule
from layers.builder import build_legend, build_overlay
from layers.registry import LAYERS, POINT_LAYERS, UNITS, with_rule

PREFIX = "cm-layer-"
# Keep the unit clear of the zoom buttons (top left), the layers control (top right) and the legend (bottom
# right). No zoom animation: Leaflet drops a setView that arrives while one is running (a quick second click
# left the map behind). The browser fits a unit with these options (assets/map.js fitUnit).
FIT_OPTIONS = {"paddingTopLeft": [52, 24], "paddingBottomRight": [236, 24], "animate": False}
# What safegrid_cm.pointData needs: the one route serving every point layer of a view, and each layer
# (below its ``min_zoom`` it gets an empty collection without a request).
POINT_META = {"url": POINTS_BUNDLE_URL,
              "layers": [{"id": s.id, "title": s.title, "min_zoom": s.min_zoom} for s in POINT_LAYERS]}



def create_command_map(account: Account, query: dict[str, str]) -> html.Div:
    """Build the page for ``account``; ``?unit=CODE`` opens that unit (if inside the scope)."""
    settings = get_map_settings()
    maps = available_basemaps(settings)
    selected = default_basemap(maps, settings)
    code = query.get("unit") or account.record.scope_code
    try:
        view, rule = run_read(lambda conn: (mq.unit_view(conn, scope=account.scope, code=code) or mq.unit_view(
            conn, scope=account.scope, code=account.record.scope_code), current_rule(conn)))
    except Exception as exc:  # database down: a Chinese message instead of a stack trace
        return html.Div(to_app_error(exc).message, className="sg-alert cm-message", role="alert")
    bounds = (view["bounds"] if view else None) or [[33.7, 113.4], [34.4, 114.2]]
    # The unit this page opens on (checked in scope above): the browser fetches its polygons at once (unitsData).
    start = {"code": view["code"], "crs": selected.crs,
             "bounds": [latlng_for_display(lat, lon, selected.crs) for lat, lon in view["bounds"]]} \
        if view and view["bounds"] else None
    units = build_overlay(UNITS, prefix=PREFIX)
    # A click on a unit drills into it (the handler starts the step and sets the URL); on the unit shown as itself
    # (a leaf) it asks "what is around here" (cm-spot).
    units.children.eventHandlers = {"click": {"variable": "safegrid.map.unitSpot"}}
    overlays = [units] + [build_overlay(s, prefix=PREFIX) for s in POINT_LAYERS]
    the_map = dl.Map(
        [
            # ``overlays``/``baseLayer`` must start set: dash-leaflet 1.1.3 filters an undefined list on the
            # first overlayremove (TypeError) otherwise.
            dl.LayersControl(base_layers(maps, selected) + overlays, id="cm-layers", collapsed=False,
                             position="topright", baseLayer=selected.name,
                             overlays=[s.title for s in LAYERS.values() if s.checked]),
            dl.ScaleControl(position="bottomleft", imperial=False),
            dl.LayerGroup(id="cm-around"),
            dl.LayerGroup(id="cm-focus"),
        ],
        # dash-leaflet's viewport tracking needs ``center`` and ``zoom`` (``bounds`` alone breaks it).
        id="cm-map", center=centre(bounds), zoom=fit_zoom(bounds, 680), zoomSnap=0.25, attributionControl=True,
        eventHandlers={"click": {"variable": "safegrid.map.mapSpot"}},
        className=f"cm-map cm-basemap-{selected.id}",
    )
    # The unit layer's legend names the four-colour reading in force per level (就高 / 风险指数) and the ▲ mark.
    # Each legend's contents are one HTML block (~20 components each: mounted with the page, and on every store
    # update of a drill-down step each component's wrapper was asked again); safegrid_cm.legends hides its div.
    legends = [static_children(build_legend(with_rule(spec, rule) if spec.id == UNITS.id else spec, prefix=PREFIX),
                               "sg-legend-body") for spec in LAYERS.values()]
    return html.Div([
        # refresh=False: a step's new ?unit= is pushed to the history without telling the shell's Location (its
        # router ignores a new query on this page anyway: one callback and its store updates less a step); it
        # reads the whole URL again at the next navigation.
        dcc.Location(id="cm-url", refresh=False),
        dcc.Store(id="cm-state"),
        dcc.Store(id="cm-target"),  # the point to fly to and ring: a ?focus= or a located hazard
        dcc.Store(id="cm-spot"),  # a click on a free spot (written by safegrid.map.mapSpot / unitSpot)
        dcc.Store(id="cm-hz-click"),  # a hazard of the panel's list clicked: {id, n} (assets/map.js panel clicks)
        dcc.Store(id="cm-sort-by"),  # the child table's sort order chosen: {how, n} (assets/map.js panel clicks)
        dcc.Store(id="cm-hz-want"),  # the hazard list's page asked by 上一页/下一页: {page, n} (assets/map.js)
        dcc.Store(id="cm-crs", data=selected.crs),
        dcc.Store(id="cm-start", data=start),
        dcc.Store(id="cm-fit", data=FIT_OPTIONS),
        dcc.Store(id="cm-crs-table", data=crs_by_name(maps)),
        dcc.Store(id="cm-point-meta", data=POINT_META),
        dcc.Store(id="cm-legend-titles", data=[s.title for s in LAYERS.values()]),
        html.Section([
            html.Nav(id="cm-breadcrumb", className="cm-breadcrumb", **attrs({"aria-label": "层级导航"})),
            export_links(account),  # GeoPackage / Shapefile of the view (dashboard/gis_export.py)
            html.Div([
                the_map,
                html.Div(id="cm-points-status", className="cm-points-status", role="status"),
                html.Details([html.Summary("图例"), *legends], open=True, className="cm-legends", id="cm-legends"),
            ], className="cm-map-wrap"),
        ], className="cm-main"),
        # No dcc.Loading around the panel: it re-rendered the whole panel on every store change of a step (a CPU
        # profile: a quarter of Dash's work). While show_unit is under way the panel is dimmed by CSS instead
        # (Dash marks it data-dash-is-loading; assets/command_map_loading.css), after a moment, so a quick step
        # does not flash.
        # The empty HTML block loads dash-extensions' lazily loaded Purify code with the page, not after the panel.
        html.Aside(html.Div(Purify(html="", className="cm-html"), id="cm-panel"),
                   className="cm-side", **attrs({"aria-label": "单位详情"})),
    ], className="cm-page", id="cm-page")
