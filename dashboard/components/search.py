"""The header search box (ids ``search-…``), its result list, the file drawer and around-a-point.

Shared stores (created here, in the header, so they exist on every page):

* ``map-focus`` — written here when a user picks an enterprise:
  ``{"lat": float, "lon": float, "zoom": 16, "highlight": "enterprise:<credit_code>", "unit": "<grid code>",
  "name": str}``. The command map listens to it: fly to (lat, lon) at ``zoom`` and highlight the feature.
* ``map-click`` — written by the command map on a map click: ``{"lat": float, "lon": float}`` (plus
  ``"crs": "gcj02"`` when the point was read on 高德 tiles; it is shifted back to WGS84 here). Listened to
  here: the drawer lists enterprises and hazard sources around that point (same as the "我的位置" button,
  which uses the browser's geolocation).
* ``search-open`` — a credit code; any page may write it to open that enterprise's file in the drawer
  (the command map does for a ``?focus=enterprise:…`` deep link). It does not write ``map-focus``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.components.enterprise_file import RADIUS_CHOICES, file_view, load_file, risk_badge
from dashboard.errors import BadRequestError
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope, current_account
from domain.crs import gcj02_to_wgs84
from geo.around import around_point
from geo.db import connect
from geo.search import search_enterprises

FOCUS_ZOOM = 16
DEBOUNCE_SECONDS = 0.3
RESULT_LIMIT = 12
HIT = "search-hit"


def search_box(account: Account) -> html.Div:
    """Build the search input (hidden when the role may not search), the shared stores and the drawer."""
    stores = [dcc.Store(id="map-focus"), dcc.Store(id="map-click"), dcc.Store(id="search-around-point"),
              dcc.Store(id="search-open")]
    drawer = html.Aside([
        html.Div([html.Span("企业档案", id="search-drawer-title", className="search-drawer-title"),
                  html.Button("×", id="search-drawer-close", title="关闭", className="search-close", n_clicks=0)],
                 className="search-drawer-head"),
        dcc.Loading(html.Div(id="search-drawer-body"), type="dot"),
        html.Div([
            html.Div([html.Label("周边半径", htmlFor="search-around-radius", className="sg-label"),
                      dcc.Dropdown(id="search-around-radius", clearable=False, searchable=False, value=1000,
                                   options=[{"label": f"{r} 米" if r < 1000 else f"{r // 1000} 公里", "value": r}
                                            for r in RADIUS_CHOICES], className="search-radius")],
                     className="sg-picker"),
            dcc.Loading(html.Div(id="search-around-results"), type="dot"),
        ], id="search-around", hidden=True),
    ], id="search-drawer", className="search-drawer", hidden=True)
    # Roles without search get the same components, hidden, so every callback keeps its inputs.
    hidden = None if account.can(Capability.SEARCH) else {"display": "none"}
    return html.Div([
        *stores,
        dcc.Input(id="search-input", type="search", placeholder="搜索企业名称 / 信用代码 / 地址",
                  debounce=DEBOUNCE_SECONDS, autoComplete="off", className="search-input", n_submit=0, style=hidden),
        html.Button("我的位置", id="search-locate", title="列出我当前位置周边的企业和危险源", n_clicks=0,
                    className="search-locate", style=hidden),
        html.Div(id="search-results", className="search-results", hidden=True),
        drawer,
    ], className="search-box")


def hit_button(hit: dict[str, Any], *, detail: str) -> html.Button:
    """One clickable result: name, risk colour and a detail line; opens the file when chosen."""
    return html.Button([
        html.Div([html.Span(hit["name"], className="search-hit-name"), " ", risk_badge(hit.get("risk_level"))]),
        html.Div(detail, className="search-hit-detail"),
    ], id={"type": HIT, "index": hit["credit_code"]}, className="search-hit", n_clicks=0)


def results_list(hits: list[dict[str, Any]]) -> list[Any]:
    """Render the result list (or a "nothing found" line)."""
    if not hits:
        return [html.Div("未找到匹配的企业（仅在本账户数据范围内搜索）。", className="search-none")]
    return [hit_button(h, detail=f"{h['match_label']} · {h['credit_code']} · {h['unit_name'] or '未落入网格'}")
            for h in hits]


def around_view(data: dict[str, Any], *, may_report: bool = False) -> html.Div:
    """Enterprises (clickable) and hazard sources around a point; 在此登记隐患 for accounts that may report."""
    ents, sources = data["enterprises"], data["hazard_sources"]
    r = data["radius_m"]
    return html.Div([
        html.Div(f"位置 {data['lat']:.5f}, {data['lon']:.5f} · 半径 {r:.0f} 米：企业 {len(ents)} 家，"
                 f"重大危险源 {len(sources)} 处", className="sg-note", id="search-around-summary"),
        dcc.Link("在此位置登记隐患", id="search-report-here", className="search-report-link",
                 href="/hazard/new?" + urlencode({"lon": f"{data['lon']:.6f}", "lat": f"{data['lat']:.6f}"}))
        if may_report else None,
        html.Div([hit_button(e, detail=f"{e['distance_m']:.0f} 米 · {e['industry'] or '—'} · {e['unit_name'] or '—'}")
                  for e in ents], className="search-around-list"),
        html.Ul([html.Li(f"{s['distance_m']:.0f} 米 · {s['code']} {s['name']}（{s['enterprise_name']}）")
                 for s in sources], className="search-around-sources") if sources else None,
    ])


def register(app: Dash) -> None:
    """Add the search, choose/close, around-a-point and geolocation callbacks."""

    @app.callback(Output("search-results", "children"), Output("search-results", "hidden"),
                  Input("search-input", "value"), prevent_initial_call=True)
    def suggest(q: str | None) -> tuple[Any, bool]:
        scope = callback_scope(Capability.SEARCH)
        if not q or not q.strip():
            return [], True
        with connect() as conn:
            hits = [h.as_dict() for h in search_enterprises(conn, scope=scope, q=q, limit=RESULT_LIMIT)]
        return results_list(hits), False

    @app.callback(
        Output("map-focus", "data"), Output("search-drawer", "hidden"), Output("search-drawer-body", "children"),
        Output("search-results", "hidden", allow_duplicate=True), Output("search-around", "hidden"),
        Output("search-drawer-title", "children"),
        Input({"type": HIT, "index": ALL}, "n_clicks"), Input("search-input", "n_submit"),
        Input("search-open", "data"), State("search-input", "value"), prevent_initial_call=True,
    )
    def choose(_clicks: list[int | None], _submit: int | None, opened: str | None, q: str | None) -> tuple[Any, ...]:
        trigger = ctx.triggered_id
        if not ctx.triggered or not ctx.triggered[0]["value"]:
            raise PreventUpdate  # result buttons re-rendered with n_clicks=0
        if trigger == "search-input":
            with connect() as conn:
                hits = search_enterprises(conn, scope=callback_scope(Capability.SEARCH), q=q, limit=1)
            if not hits:
                raise PreventUpdate
            code = hits[0].credit_code
        elif isinstance(trigger, dict) and trigger.get("type") == HIT:
            code = str(trigger["index"])
        elif trigger == "search-open" and isinstance(opened, str):
            code = opened
        else:
            raise PreventUpdate
        f = load_file(callback_scope(Capability.ENTERPRISE_FILE), code)
        e = f["enterprise"]
        focus = ({"lat": e["lat"], "lon": e["lon"], "zoom": FOCUS_ZOOM, "highlight": f"enterprise:{e['credit_code']}",
                  "unit": e["unit_code"], "name": e["name"]} if e["lat"] is not None and trigger != "search-open"
                 else no_update)
        return focus, False, file_view(f, compact=True, prefix="search-ent"), True, True, "企业档案"

    # The drawer closes with its ✕ and when the user goes to another page (pure UI: no server round trip; the
    # shell's Location reports its first path on every page load too).
    app.clientside_callback(
        "function() { return [true, true]; }",
        Output("search-drawer", "hidden", allow_duplicate=True),
        Output("search-around", "hidden", allow_duplicate=True),
        Input("search-drawer-close", "n_clicks"), Input("shell-url", "pathname"), prevent_initial_call=True,
    )

    # map-click → the around point (pure UI: no server round trip).
    app.clientside_callback(
        "function(click) { if (!click) { return window.dash_clientside.no_update; } return click; }",
        Output("search-around-point", "data"), Input("map-click", "data"), prevent_initial_call=True,
    )
    # Browser geolocation → the around point (Dash resolves the returned promise).
    app.clientside_callback(
        """
        function(n) {
            if (!n || !navigator.geolocation) { return window.dash_clientside.no_update; }
            return new Promise(function(resolve) {
                navigator.geolocation.getCurrentPosition(
                    function(p) { resolve({lat: p.coords.latitude, lon: p.coords.longitude}); },
                    function() { resolve(window.dash_clientside.no_update); },
                    {enableHighAccuracy: true, timeout: 10000});
            });
        }
        """,
        Output("search-around-point", "data", allow_duplicate=True), Input("search-locate", "n_clicks"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("search-around-results", "children"), Output("search-around", "hidden", allow_duplicate=True),
        Output("search-drawer", "hidden", allow_duplicate=True),
        Output("search-drawer-body", "children", allow_duplicate=True),
        Output("search-drawer-title", "children", allow_duplicate=True),
        Input("search-around-point", "data"), Input("search-around-radius", "value"), prevent_initial_call=True,
    )
    def around(point: dict[str, Any] | None, radius: int | None) -> tuple[Any, ...]:
        scope = callback_scope(Capability.MAP)
        if not point or radius not in RADIUS_CHOICES:
            raise PreventUpdate
        try:
            lat, lon = float(point["lat"]), float(point["lon"])
            if point.get("crs") == "gcj02":  # clicked on 高德 tiles: back to the stored WGS84
                x, y = gcj02_to_wgs84([lon], [lat])
                lat, lon = float(y[0]), float(x[0])
            with connect() as conn:
                data = around_point(conn, scope=scope, lat=lat, lon=lon, radius_m=float(radius))
        except (KeyError, TypeError, ValueError) as err:
            raise BadRequestError(str(err) if isinstance(err, ValueError) else None) from err
        return (around_view(data, may_report=current_account().can(Capability.HAZARD_REPORT)), False, False, None,
                "周边查询")
