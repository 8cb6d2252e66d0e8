"""The command map's callbacks: the URL (``?unit=``, ``?focus=``) → side panel, breadcrumb, view and target.

Server side: the panel of a unit (cached, :func:`unit_panel`), the child table's sort order and locating a
hazard; clientside (``assets/map.js``, ``safegrid_cm``): the step's fit and unit polygons, point data, legends,
the target ring (the drill itself is the unit layer's click handler, ``safegrid.map.unitSpot``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from dash import ClientsideFunction, Dash, Input, Output, State, no_update
from dash.exceptions import PreventUpdate
from sqlalchemy.engine import Connection

from dashboard.cache import cached_value
from dashboard.command_map.layout import PREFIX
from dashboard.command_map.panel import (
    HAZARD_PAGE,
    breadcrumb,
    children_section,
    hazard_pages,
    hazards_content,
    message,
    panel,
)
from dashboard.dry import to_html
from dashboard.errors import to_app_error
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import callback_scope, current_account, refuse_out_of_scope
from domain.codes import looks_like_unit_code
from domain.crs import latlng_for_display
from geo import map_queries as mq
from geo.enterprise_file import enterprise_basic
from geo.hazard_ledger import hazard_location as hazard_by_code
from layers.builder import layer_id
from layers.registry import ENTERPRISES, HAZARDS, LAYERS, POINT_LAYERS, UNITS

PAGE_PATH = "/"
FOCUS_ZOOM = 16  # a focused enterprise or hazard: raw points, a few streets around it


def code_from_search(search: str | None) -> str | None:
    """Return the ``unit`` parameter of a query string, when it looks like a unit code."""
    code = dict(parse_qsl((search or "").lstrip("?"))).get("unit", "")
    return code if looks_like_unit_code(code) else None


def focus_from_search(search: str | None) -> tuple[str, str] | None:
    """Return ``(kind, code)`` of the ``focus`` parameter (``enterprise:<信用代码>`` or ``hazard:<编号>``)."""
    kind, _, code = dict(parse_qsl((search or "").lstrip("?"))).get("focus", "").partition(":")
    code = code.strip()
    return (kind, code) if kind in ("enterprise", "hazard") and 0 < len(code) <= 64 else None


def focus_target(conn: Connection, *, scope: str, kind: str, code: str, crs: str) -> dict[str, Any] | None:
    """Return the :func:`target` of a ``?focus=``, or None when it is unknown, unplaced or outside ``scope``."""
    if kind == "enterprise":
        e = enterprise_basic(conn, scope=scope, credit_code=code)
        if e is None or e["lat"] is None:
            return None
        lat, lon, label, key, layer = e["lat"], e["lon"], e["name"], f"enterprise:{e['credit_code']}", ENTERPRISES
    else:
        h = hazard_by_code(conn, scope=scope, code=code)
        if h is None or h["lat"] is None:
            return None
        lat, lon, label, key, layer = h["lat"], h["lon"], f"隐患 {h['code']}", f"hazard:{h['code']}", HAZARDS
    return target(lat, lon, label=label, key=key, overlay=layer.title, crs=crs)


def target(lat: float, lon: float, *, label: str, key: str, overlay: str, crs: str) -> dict[str, Any]:
    """Build the ``cm-target`` store: a display point to fly to and ring (``safegrid_cm.showTarget``)."""
    display = latlng_for_display(float(lat), float(lon), crs)
    return {"lat": display[0], "lon": display[1], "zoom": FOCUS_ZOOM, "label": label, "key": key,
            "overlay": overlay}



def panel_data(conn: Connection, *, scope: str, search: str | None, focus: tuple[str, str] | None,
               crs: str) -> dict[str, Any]:
    """Read everything the panel shows for ``?unit=`` (default: the scope's root); ``view`` None outside ``scope``.

    Read-only, so :func:`dashboard.readdb.run_read` may run it again on a fresh connection.
    """
    code = code_from_search(search) or mq.scope_root(conn, scope=scope) or ""
    view = mq.unit_view(conn, scope=scope, code=code)
    if view is None:
        return {"code": code, "view": None}
    return {
        "code": code, "view": view,
        "crumbs": mq.breadcrumb(conn, scope=scope, code=code),
        "roster": mq.duty_roster(conn, scope=scope, code=code),
        "hazards": mq.open_hazards(conn, scope=scope, code=code, limit=HAZARD_PAGE),
        "children": mq.child_units(conn, scope=scope, code=code) if view["child_count"] else [],
        "spot": focus and focus_target(conn, scope=scope, kind=focus[0], code=focus[1], crs=crs),
    }


def unit_panel(*, scope: str, search: str | None, focus: tuple[str, str] | None, crs: str) -> dict[str, Any]:
    """Return the side panel, breadcrumb, ``cm-state`` and focus target of ``?unit=`` for the caller.

    Outside the scope: :class:`~dashboard.errors.OutOfScopeError` (audited). Without a focus the result is
    kept in the response cache of :mod:`dashboard.cache` like the map routes' bodies — keyed by the
    caller's scope path, whether its role may patrol (巡查此网格), the data version read with the account on
    this request and today, and stored only after it was built inside that scope — so walking back to a
    unit does not query it again.
    """
    can_patrol = current_account().can(Capability.PATROL)  # the role decides; the cache key names it

    def build() -> dict[str, Any]:
        data = run_read(lambda conn: panel_data(conn, scope=scope, search=search, focus=focus, crs=crs))
        view = data["view"]
        if view is None:
            raise refuse_out_of_scope(data["code"])
        bounds = view["bounds"] and [latlng_for_display(lat, lon, crs) for lat, lon in view["bounds"]]
        return {"panel": panel(view, data["roster"], data["hazards"], data["children"], can_patrol=can_patrol),
                "crumbs": breadcrumb(data["crumbs"]),
                "state": {"code": view["code"], "level": view["level"], "bounds": bounds},
                "spot": data["spot"] or None}

    if focus:
        return build()
    return cached_value("panel", {"unit": code_from_search(search) or "", "crs": crs, "patrol": can_patrol}, build)


def register(app: Dash) -> None:
    """Add the command map callbacks (server side: panel, children, locate; clientside: URLs, legends)."""

    @app.callback(
        Output("cm-panel", "children"), Output("cm-breadcrumb", "children"), Output("cm-state", "data"),
        Output("cm-target", "data"), Output("search-open", "data"),
        Input("cm-url", "search"), State("cm-crs", "data"), State("map-focus", "data"),
        State("search-drawer", "hidden"), State("cm-url", "pathname"), State("cm-target", "data"),
    )
    def show_unit(search: str | None, crs: str | None, picked: dict[str, Any] | None,
                  drawer_hidden: bool | None, pathname: str | None, shown_target: Any) -> tuple[Any, ...]:
        if pathname not in (None, PAGE_PATH):
            # Leaving the map for another page: no panel, and above all no fitBounds animation that the
            # unmounted map would finish on a removed pane (Leaflet "_leaflet_pos" errors).
            raise PreventUpdate
        focus = focus_from_search(search)
        try:
            scope = callback_scope(Capability.MAP)
            shown_unit = unit_panel(scope=scope, search=search, focus=focus, crs=crs or "wgs84")
        except Exception as exc:
            return message(to_app_error(exc)), [], None, None, no_update
        state, spot = shown_unit["state"], shown_unit["spot"]
        # No target, none shown: cm-target left alone (written, it would run showTarget for nothing each step).
        target_out = spot if spot or shown_target else no_update
        # The map fits the unit in the browser (safegrid_cm.unitsData, from cm-state), unless it already shows it.
        # A deep link (or back/forward) to an enterprise opens its file in the header drawer, unless the drawer
        # already shows it (the header search picked it: map-focus names the same enterprise).
        shown = not drawer_hidden and (picked or {}).get("highlight") == (spot or {}).get("key")
        open_file = spot["key"].partition(":")[2] if spot and spot["key"].startswith("enterprise:") and not shown \
            and current_account().can(Capability.ENTERPRISE_FILE) else no_update
        return shown_unit["panel"], shown_unit["crumbs"], state, target_out, open_file

    # The panel arrives with its child table sorted by risk; only a change of the sort order asks again: the
    # panel's radio buttons (HTML) write {how, n} to cm-sort-by through a delegated listener (assets/map.js).
    @app.callback(Output("cm-children-html", "html"), Input("cm-sort-by", "data"), State("cm-state", "data"),
                  prevent_initial_call=True)
    def sort_children(chosen: Any, state: dict[str, Any] | None) -> Any:
        if not state or not isinstance(state.get("code"), str) or not isinstance(chosen, dict):
            raise PreventUpdate
        how = chosen.get("how") if isinstance(chosen.get("how"), str) else None
        scope = callback_scope(Capability.MAP)
        code = state["code"]
        children = run_read(lambda conn: mq.child_units(conn, scope=scope, code=code))
        return to_html(children_section(children, how or "risk"))

    # 上一页/下一页 of the open-hazard list (HTML buttons: their page, {page, n}, reaches cm-hz-want through a
    # delegated listener in assets/map.js): the page read again for the caller's scope. Past the last page
    # (hazards closed meanwhile): the last.
    @app.callback(Output("cm-hazards-html", "html"), Input("cm-hz-want", "data"), State("cm-state", "data"),
                  prevent_initial_call=True)
    def page_hazards(want: Any, state: dict[str, Any] | None) -> Any:
        page = want.get("page") if isinstance(want, dict) else None
        if not state or not isinstance(state.get("code"), str) or not isinstance(page, int) or isinstance(page, bool):
            raise PreventUpdate
        scope = callback_scope(Capability.MAP)
        code = state["code"]
        wanted = max(0, page)

        def read(conn: Connection) -> Any:
            hazards = mq.open_hazards(conn, scope=scope, code=code, limit=HAZARD_PAGE, offset=wanted * HAZARD_PAGE)
            if hazards is None or hazards["items"] or not hazards["total"]:
                return hazards, wanted
            last = hazard_pages(hazards["total"]) - 1
            return mq.open_hazards(conn, scope=scope, code=code, limit=HAZARD_PAGE, offset=last * HAZARD_PAGE), last

        hazards, shown = run_read(read)
        if hazards is None:
            raise refuse_out_of_scope(code)
        return to_html(hazards_content(hazards, shown))

    # A click on a hazard of the list (HTML in the panel, dashboard.dry.html_block) reaches cm-hz-click through
    # a delegated listener (safegrid.map's panel clicks in assets/map.js): {id, n}, n counting the clicks.
    @app.callback(
        Output("cm-target", "data", allow_duplicate=True),
        Input("cm-hz-click", "data"), State("cm-crs", "data"), prevent_initial_call=True,
    )
    def locate_hazard(clicked: Any, crs: str | None) -> Any:
        if not isinstance(clicked, dict) or not isinstance(clicked.get("id"), int) or isinstance(clicked["id"], bool):
            raise PreventUpdate
        scope = callback_scope(Capability.MAP)
        hazard_id = clicked["id"]
        where = run_read(lambda conn: mq.hazard_location(conn, scope=scope, hazard_id=hazard_id))
        if where is None or where["lon"] is None:
            return None
        return target(where["lat"], where["lon"], label=where["title"], key=f"hazard:{where['code']}",
                      overlay=HAZARDS.title, crs=crs or "wgs84")

    # Fly to the target and ring it (pure UI); the ring lives in its own layer group, so layer refreshes keep it.
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "showTarget"),
        Output("cm-map", "viewport", allow_duplicate=True), Output("cm-focus", "children"),
        Input("cm-target", "data"), prevent_initial_call=True,
    )
    # The header search picked an enterprise: go to its grid cell with ?focus= (show_unit does the rest).
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "focusUrl"), Output("cm-url", "search", allow_duplicate=True),
        Input("map-focus", "data"), State("cm-url", "search"), prevent_initial_call=True,
    )
    # A click on a free spot or on the leaf unit (cm-spot) → the around-a-point drawer (dashboard/components/search.py).
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "spot"), Output("map-click", "data"),
        Input("cm-spot", "data"), State("cm-crs", "data"), prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "aroundCircle"), Output("cm-around", "children"),
        Input("search-around-point", "data"), Input("search-around-radius", "value"),
        Input("search-around", "hidden"), State("cm-crs", "data"), prevent_initial_call=True,
    )

    units_id = layer_id(UNITS, PREFIX)
    # A click on a unit polygon drills by setting cm-url's search from the layer's click handler
    # (safegrid.map.unitSpot in assets/map.js), which starts the step's requests at the same moment.
    # A step starts at the URL: the fit (made on the map itself), the unit polygons (and, through the fit's new
    # bounds, the points) of a unit the page knows are asked at once, beside show_unit. It does not wait on
    # cm-state: Dash holds a callback back while another one writing any of its inputs or states is under way
    # (docs/command_map_speed.md). One callback a wave: each costs ~10 store updates of the whole page.
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "unitsNow"), Output(units_id, "data"), Output(units_id, "hideout"),
        Input("cm-url", "search"), Input("cm-crs", "data"), State("cm-start", "data"), State(units_id, "hideout"),
    )
    app.clientside_callback(  # the unit show_unit answered: fitted if not yet, its polygons if the page did not know it
        ClientsideFunction("safegrid_cm", "unitsData"),
        Output(units_id, "data", allow_duplicate=True), Output(units_id, "hideout", allow_duplicate=True),
        Input("cm-state", "data"), State("cm-url", "search"), State("cm-crs", "data"), State(units_id, "hideout"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "crs"), Output("cm-crs", "data"),
        Input("cm-layers", "baseLayer"), State("cm-crs-table", "data"), prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "pointData"),
        [Output(layer_id(s, PREFIX), "data") for s in POINT_LAYERS], Output("cm-points-status", "children"),
        Input("cm-map", "bounds"), Input("cm-map", "zoom"), Input("cm-crs", "data"), Input("cm-layers", "overlays"),
        State("cm-point-meta", "data"),
        [State(layer_id(s, PREFIX), "data") for s in POINT_LAYERS],
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "legends"),
        [Output(f"{layer_id(s, PREFIX)}-legend", "style") for s in LAYERS.values()],
        Input("cm-layers", "overlays"), State("cm-legend-titles", "data"),
    )

