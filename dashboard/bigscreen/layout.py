"""The big screen's component tree: every figure rendered at once, for a refresh to update in place."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash_leaflet as dl
from dash import dcc, html

from dashboard.bigscreen.data import read_screen, signature
from dashboard.bigscreen.panels import (
    accident_block,
    distribution,
    freshness_text,
    grid_block,
    kpi_ribbon,
    legend,
    rank_rows,
    ticker,
    ticker_items,
    trend_figure,
    units_url,
)
from dashboard.bigscreen.settings import get_bigscreen_settings
from dashboard.components.map_view import centre, fit_zoom
from dashboard.errors import to_app_error
from dashboard.scope import Account
from domain import clock
from domain.labels import LEVEL
from layers.registry import UNITS

WEEKDAYS = "一二三四五六日"


def _js(name: str) -> dict[str, str]:
    return {"variable": f"safegrid.bigscreen.{name}"}


def fill_layers(children: list[dict[str, Any]], fresh: datetime | None) -> list[dl.GeoJSON]:
    """One four-colour layer per child unit, fed by the command map's route (its children, or itself when a leaf)."""
    return [dl.GeoJSON(id={"type": "bs-fill", "code": c["code"]}, url=units_url(c["code"], fresh),
                       hideout=UNITS.hideout(), style=_js("fillStyle"), filter=_js("unitsOnly"), interactive=False)
            for c in children]


def _panel(title: str, body: Any, *, body_id: str, extra: str = "") -> html.Section:
    return html.Section([html.H2(title, className="bs-panel-title"),
                         html.Div(body, id=body_id, className="bs-panel-body bs-fit")],
                        className=f"bs-panel {extra}".strip())


def create_bigscreen(account: Account, query: dict[str, str]) -> html.Div:
    """Build the big screen for the caller's scope (all data rendered, refreshed later by callbacks)."""
    settings = get_bigscreen_settings()
    today = clock.today()
    now = datetime.now(ZoneInfo(settings.timezone))
    try:
        data = read_screen(account.scope, today)
    except Exception as exc:  # database down: a Chinese message instead of a stack trace
        return html.Div(to_app_error(exc).message, className="sg-alert", role="alert")
    head = data["head"] or {"code": account.record.scope_code, "name": account.record.scope_name, "level": 1,
                            "bounds": None}
    bounds = head["bounds"] or [[33.7, 113.4], [34.4, 114.2]]
    child_level = head["level"] + 1 if data["children"] else None
    the_map = dl.Map(
        [dl.Pane(fill_layers(data["children"], data["fresh"]), name="bsfill", id="bs-fill-pane"),
         dl.GeoJSON(id="bs-units", url=units_url(head["code"], data["fresh"]), hideout=UNITS.hideout(current=None),
                    style=_js("outlineStyle" if data["children"] else "fillStyle"),
                    pointToLayer=UNITS.js(UNITS.point_to_layer), onEachFeature=UNITS.js(UNITS.on_each_feature),
                    bubblingMouseEvents=False)],
        id="bs-map", center=centre(bounds), zoom=fit_zoom(bounds, 900), zoomSnap=0.25, zoomControl=False,
        attributionControl=False,
        viewport={"bounds": bounds, "transition": "fitBounds", "options": {"padding": [24, 24]}},
        className="bs-map",
    )
    items = ticker_items(data["alarms"], as_of=today)
    return html.Div([
        dcc.Interval(id="bs-tick", interval=int(settings.refresh_seconds * 1000)),
        dcc.Interval(id="bs-clock-tick", interval=1000),
        dcc.Interval(id="bs-carousel-tick", interval=int(settings.carousel_seconds * 1000), disabled=True),
        dcc.Store(id="bs-children", data=data["children"]),
        dcc.Store(id="bs-scope-bounds", data=bounds),
        dcc.Store(id="bs-carousel-index", data=-1),
        dcc.Store(id="bs-fly"),
        dcc.Store(id="bs-timezone", data=settings.timezone),
        dcc.Store(id="bs-labels-hidden", data=0),
        dcc.Store(id="bs-ok", data=0),  # refresh count, set by every successful refresh
        dcc.Store(id="bs-ok-at"),  # browser time of the last successful refresh (or of the page load)
        dcc.Store(id="bs-refresh-ms", data=int(settings.refresh_seconds * 1000)),
        dcc.Store(id="bs-trend-data", data=trend_figure(data["trend"])),
        dcc.Store(id="bs-sig", data=signature(data, today, account.data_version)),
        html.Header([
            html.Div([html.Div(f"{LEVEL.get(head['level'], '')} · {head['name']}", className="bs-scope"),
                      html.Div(freshness_text(data["fresh"]), id="bs-freshness", className="bs-freshness"),
                      html.Div(id="bs-stale", className="bs-stale", style={"display": "none"}, role="alert")],
                     className="bs-header-side"),
            html.H1(f"{head['name']}安全生产网格化监管指挥大屏", id="bs-title", className="bs-title"),
            html.Div([html.Div(f"{now:%H:%M:%S}", id="bs-clock", className="bs-clock"),
                      html.Div(f"{now:%Y年%m月%d日} 星期{WEEKDAYS[now.weekday()]}", id="bs-date",
                               className="bs-date")], className="bs-header-side bs-header-right"),
        ], className="bs-header"),
        html.Section(kpi_ribbon(data["kpis"]), id="bs-kpis", className="bs-kpis"),
        html.Div([
            html.Div([
                _panel(f"风险指数排名（{LEVEL.get(child_level or 0, '下级单位')}）",
                       rank_rows(data["children"], by="risk", thresholds=data["thresholds"]), body_id="bs-rank-risk"),
                _panel("逾期隐患排名", rank_rows(data["children"], by="overdue", thresholds=data["thresholds"]),
                       body_id="bs-rank-overdue"),
                _panel("事故 · 五年目标", accident_block(data["accidents"]), body_id="bs-acc"),
            ], className="bs-col bs-col-left"),
            html.Section([
                the_map,
                html.Div(legend(data["fill"][0], data["fill"][1], child_level), id="bs-legend", className="bs-legend"),
                html.Div(id="bs-carousel-card", className="bs-carousel-card", style={"display": "none"}),
                html.Button("轮播", id="bs-carousel-toggle", className="bs-carousel-toggle", type="button",
                            title="依次飞到每个下级单位并显示其指标", disabled=not data["children"]),
                dcc.Link("退出大屏", href="/", className="bs-exit", id="bs-exit"),
            ], className="bs-col bs-centre"),
            html.Div([
                _panel("隐患发现与销号 · 近12个月", dcc.Graph(
                    id="bs-trend", figure=data_placeholder_figure(),
                    config={"displayModeBar": False, "responsive": True}, className="bs-graph"),
                    body_id="bs-trend-body", extra="bs-panel-trend"),
                _panel("企业风险分级", distribution(data["kpis"]), body_id="bs-dist"),
                _panel("网格体系 · 检查执法", grid_block(data["grid"], data["enforcement"]), body_id="bs-grid"),
            ], className="bs-col bs-col-right"),
        ], className="bs-body"),
        html.Footer([html.Div("实时预警", className="bs-ticker-label"),
                     html.Div(ticker(items, data["alarms"]["counts"]), id="bs-ticker", className="bs-ticker-body")],
                    className="bs-ticker"),
    ], className="bs-page", id="bs-page", **{"data-scope": head["code"]})


def data_placeholder_figure() -> dict[str, Any]:
    """Return an empty dark figure; the clientside callback puts the scaled trend in at once."""
    return {"data": [], "layout": {"template": "plotly_dark", "paper_bgcolor": "rgba(0,0,0,0)",
                                   "plot_bgcolor": "rgba(0,0,0,0)", "xaxis": {"visible": False},
                                   "yaxis": {"visible": False}}}
