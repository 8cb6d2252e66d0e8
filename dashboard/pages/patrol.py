"""网格巡查 ``/patrol`` (``?cell=CODE&enterprise=CODE``): a grid worker records a patrol of a grid cell on a phone.

Pick the cell (or 定位: the browser's location picks the cell under it), optionally one enterprise of it, the
result 无隐患 / 发现隐患 and a note, then 提交. 发现隐患 leads on to the hazard report form, prefilled with the
enterprise or the location (``/hazard/new``). The location is stored with the patrol; a patrol located far
outside its cell is flagged, not refused (:mod:`geo.patrols`). Today's patrols of the account are listed below.
Written for a 360×740 touch screen (``assets/patrol.css``). Ids are prefixed ``patrol-``.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from dash import Dash, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.pages import Page
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope, client_ip, current_account
from domain import clock
from domain.cadence import PATROL_RESULT
from domain.labels import RISK_LEVEL
from geo.db import connect
from geo.patrols import (
    NewPatrol,
    PatrolError,
    PatrolNotFoundError,
    PatrolRow,
    cell_at,
    cell_enterprises,
    cell_point,
    patrol_cells,
    patrols_of_day,
    record,
)

_GEOLOCATE = """
function(n) {
    if (!n || !navigator.geolocation) { return window.dash_clientside.no_update; }
    return new Promise(function(resolve) {
        navigator.geolocation.getCurrentPosition(
            function(p) { resolve({lat: p.coords.latitude, lon: p.coords.longitude, acc: p.coords.accuracy}); },
            function() { resolve({error: true}); },
            {enableHighAccuracy: true, timeout: 10000});
    });
}
"""


def _key() -> str:
    return secrets.token_urlsafe(24)


def hazard_link(patrol: PatrolRow, point: tuple[float, float] | None) -> str:
    """Return the prefilled hazard report URL of a patrol that found a hazard."""
    if patrol.enterprise_code:
        return "/hazard/new?" + urlencode({"enterprise": patrol.enterprise_code})
    if patrol.lon is not None and patrol.lat is not None:
        point = (patrol.lon, patrol.lat)
    if point is None:
        return "/hazard/new"
    return "/hazard/new?" + urlencode({"lon": f"{point[0]:.6f}", "lat": f"{point[1]:.6f}"})


def patrol_list(patrols: list[PatrolRow]) -> html.Div:
    """Render today's patrols of the account as touch-sized cards."""
    if not patrols:
        return html.Div(html.P("今天还没有巡查记录。", className="sg-note"), id="patrol-today")
    cards = []
    for p in patrols:
        where = p.cell_name + (f" · {p.enterprise_name}" if p.enterprise_name else "")
        flag = html.Span(f"位置在网格外 {p.outside_m:.0f} 米", className="patrol-far") if p.far and p.outside_m else ""
        cards.append(html.Li([
            html.Div([html.B(f"{p.created_at.astimezone(clock.zone()):%H:%M}"), " ", where], className="patrol-where"),
            html.Div([html.Span(PATROL_RESULT[p.result], className=f"patrol-result patrol-{p.result}"), " ",
                      p.note or "", flag], className="patrol-line"),
        ], className="patrol-card"))
    return html.Div([html.H3(f"今日巡查（{len(patrols)}）"), html.Ul(cards, className="patrol-cards")],
                    id="patrol-today")


def _enterprise_options(account: Account, cell: str | None) -> list[dict[str, str]]:
    if not cell:
        return []
    rows = run_read(lambda conn: cell_enterprises(conn, scope=account.scope, cell_code=cell))
    return [{"label": f"{e.name}（{RISK_LEVEL.get(e.risk_level or '', '未评估')}）", "value": e.credit_code}
            for e in rows]


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the patrol form and today's list (cells of the account's scope only)."""
    today = clock.today()
    cells, mine = run_read(lambda conn: (
        patrol_cells(conn, scope=account.scope, today=today),
        patrols_of_day(conn, scope=account.scope, username=account.username, day=today)))
    codes = {c.code for c in cells}
    cell = query.get("cell") if query.get("cell") in codes else None
    enterprises = _enterprise_options(account, cell)
    enterprise = query.get("enterprise") if query.get("enterprise") in {e["value"] for e in enterprises} else None
    options = [{"label": f"{c.name}" + (f"（{c.village}）" if c.village else "") + (" ✓" if c.patrols_today else ""),
                "value": c.code} for c in cells]
    return html.Div([
        html.H2("网格巡查"),
        html.P(f"{today:%Y-%m-%d} · 村级日排查：选择网格（或定位），可选企业，记录结果。", className="sg-note"),
        html.Div([
            html.Label("网格", htmlFor="patrol-cell", className="sg-label"),
            html.Div([
                dcc.Dropdown(id="patrol-cell", options=options, value=cell, placeholder="选择网格",
                             className="patrol-select", searchable=True),
                html.Button("定位", id="patrol-locate", n_clicks=0, className="patrol-locate",
                            title="用手机定位选择所在网格，并随记录保存位置"),
            ], className="patrol-row"),
            html.Div(id="patrol-where", className="sg-note", role="status"),
            html.Label("企业（可选）", htmlFor="patrol-enterprise", className="sg-label"),
            dcc.Dropdown(id="patrol-enterprise", options=enterprises, value=enterprise, placeholder="整个网格",
                         className="patrol-select"),
            html.Label("巡查结果", className="sg-label"),
            dcc.RadioItems(id="patrol-result", options=[{"label": v, "value": k} for k, v in PATROL_RESULT.items()],
                           value="clear", className="patrol-results", inputClassName="patrol-radio"),
            html.Label("备注", htmlFor="patrol-note", className="sg-label"),
            dcc.Textarea(id="patrol-note", maxLength=500, placeholder="巡查情况（可选）", className="patrol-note"),
            html.Button("提交巡查记录", id="patrol-submit", n_clicks=0, className="patrol-submit"),
        ], className="patrol-form"),
        html.Div(id="patrol-message", role="status"),
        patrol_list(mine),
        dcc.Store(id="patrol-key", data=_key()),
        dcc.Store(id="patrol-point"),
    ], className="patrol-page")


def register(app: Dash) -> None:
    """Add the geolocation, cell, enterprise and submit callbacks."""
    app.clientside_callback(_GEOLOCATE, Output("patrol-point", "data"), Input("patrol-locate", "n_clicks"),
                            prevent_initial_call=True)

    @app.callback(Output("patrol-cell", "value"), Output("patrol-where", "children"),
                  Input("patrol-point", "data"), prevent_initial_call=True)
    def locate(point: dict[str, Any] | None) -> tuple[Any, str]:
        scope = callback_scope(Capability.PATROL)
        if not point:
            raise PreventUpdate
        if point.get("error"):
            return no_update, "无法获取位置：请允许浏览器定位，或直接选择网格。"
        lon, lat = float(point["lon"]), float(point["lat"])
        code = run_read(lambda conn: cell_at(conn, scope=scope, lon=lon, lat=lat))
        where = f"当前位置 {lat:.5f}, {lon:.5f}"
        if point.get("acc"):
            where += f"（精度约 {float(point['acc']):.0f} 米）"
        if code is None:
            return no_update, where + "：不在您负责的网格内，请手动选择网格（记录会标注位置偏离）。"
        return code, where

    @app.callback(Output("patrol-enterprise", "options"), Output("patrol-enterprise", "value"),
                  Input("patrol-cell", "value"), prevent_initial_call=True)
    def enterprises(cell: str | None) -> tuple[list[dict[str, str]], None]:
        callback_scope(Capability.PATROL)
        return _enterprise_options(current_account(), cell if isinstance(cell, str) else None), None

    @app.callback(
        Output("patrol-message", "children"), Output("patrol-today", "children"), Output("patrol-key", "data"),
        Output("patrol-note", "value"),
        Input("patrol-submit", "n_clicks"),
        State("patrol-cell", "value"), State("patrol-enterprise", "value"), State("patrol-result", "value"),
        State("patrol-note", "value"), State("patrol-point", "data"), State("patrol-key", "data"),
        prevent_initial_call=True,
    )
    def submit(n: int | None, cell: Any, enterprise: Any, result: Any, note: Any, point: Any,
               key: Any) -> tuple[Any, ...]:
        scope = callback_scope(Capability.PATROL)
        account = current_account()
        if not n:
            raise PreventUpdate
        if not isinstance(cell, str) or not cell:
            return html.P("请先选择网格", className="sg-alert"), *_unchanged()
        lon = lat = acc = None
        if isinstance(point, dict) and not point.get("error") and "lon" in point:
            lon, lat = float(point["lon"]), float(point["lat"])
            acc = float(point["acc"]) if point.get("acc") else None
        new = NewPatrol(cell_code=cell, result=str(result or ""), request_key=str(key or ""),
                        enterprise_code=enterprise if isinstance(enterprise, str) and enterprise else None,
                        note=str(note or ""), lon=lon, lat=lat, accuracy_m=acc)
        today = clock.today()
        try:
            with connect() as conn:
                patrol, created = record(conn, scope=scope, username=account.username, new=new, today=today,
                                         ip=client_ip())
                point_in_cell = cell_point(conn, scope=scope, cell_code=cell)
                mine = patrols_of_day(conn, scope=scope, username=account.username, day=today)
        except PatrolNotFoundError:
            return html.P("该网格或企业不在您的负责范围内", className="sg-alert"), *_unchanged()
        except PatrolError as exc:
            return html.P(str(exc), className="sg-alert"), *_unchanged()
        parts: list[Any] = [f"已记录：{patrol.cell_name}" + (f" · {patrol.enterprise_name}" if patrol.enterprise_name
                                                           else "") + f"，{PATROL_RESULT[patrol.result]}。"]
        if not created:
            parts = ["该记录已提交过。"]
        if patrol.far:
            parts.append(f" 位置在网格外约 {patrol.outside_m:.0f} 米，已标注。")
        if patrol.result == "hazard_found":
            parts += [" ", dcc.Link("登记隐患 →", href=hazard_link(patrol, point_in_cell), id="patrol-hazard-link",
                                    className="patrol-hazard")]
        return html.P(parts, className="sg-ok patrol-done"), patrol_list(mine).children, _key(), ""


def _unchanged() -> tuple[Any, Any, Any]:
    return no_update, no_update, no_update


PAGE = Page(path="/patrol", title="网格巡查", layout=layout, register=register, capability=Capability.PATROL,
            order=38)
