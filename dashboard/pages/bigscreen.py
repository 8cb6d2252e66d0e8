"""The leaders' big screen (大屏, ``/bigscreen``): KPI ribbon, four-colour map, rankings, trend, alarm ticker.

A dark, full-window 16:9 layout without scrolling (``assets/bigscreen.css``; the shell header is hidden
on this page). The first render carries all data, so nothing is empty while callbacks run. Every
``SAFEGRID_BIGSCREEN_REFRESH_SECONDS`` one callback re-reads the figures and updates only text, figure
and store props: the map component is never re-created and its ``center``/``zoom``/``viewport`` are
never outputs of the refresh, so the view a leader panned to stays put. The unit layer's ``url``
changes only when the derived tables were refreshed (the ETag route answers 304 otherwise).

The optional carousel (button 轮播) flies to each child unit in turn, outlines it and shows its KPIs;
turning it off frames the whole scope again.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dash_leaflet as dl
import plotly.graph_objects as go
from dash import ALL, ClientsideFunction, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dashboard.errors import to_app_error
from dashboard.pages import Page
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope
from domain import clock
from domain.labels import LEVEL, RISK_COLOUR_HEX, RISK_LEVEL, RISK_LEVEL_LONG
from domain.risk_rule import rule_from_config
from geo import bigscreen_queries as bq
from geo.db import connect
from geo.refresh import app_config
from geo.settings import get_settings
from geo.units import data_freshness
from layers.registry import UNITS

RANK_LIMIT = 10
UNASSESSED_COLOUR = "#7d8ea3"
WEEKDAYS = "一二三四五六日"


class BigScreenSettings(BaseSettings):
    """Big-screen settings (env prefix ``SAFEGRID_BIGSCREEN_``)."""

    model_config = SettingsConfigDict(env_prefix="SAFEGRID_BIGSCREEN_", env_file=".env", extra="ignore")

    refresh_seconds: float = Field(default=60, ge=1)  # how often the figures are re-read
    carousel_seconds: float = Field(default=12, ge=2)  # how long the carousel stays on each child unit
    # Clock and "统计更新于" are shown in this zone, whatever the browser's; by default the business zone
    # (SAFEGRID_TIMEZONE, domain.clock), the one the counts' "today" uses.
    timezone: str = Field(default_factory=lambda: get_settings().timezone)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"未知时区：{value}") from exc
        return value


@lru_cache
def get_bigscreen_settings() -> BigScreenSettings:
    """Return the cached big-screen settings."""
    return BigScreenSettings()


# --- pieces ---------------------------------------------------------------------------------------


def fmt(value: int | None) -> str:
    """Format a count with thousands separators (— for missing)."""
    return "—" if value is None else f"{value:,}"


def fmt_rate(rate: float | None) -> str:
    """Format a rate 0..1 as a percentage with one decimal (— when undefined)."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


KPI_TILES: tuple[tuple[str, str, str], ...] = (
    # (key, Chinese label, tone)
    ("enterprises", "生产经营单位", "bs-tone-plain"),
    ("ent_red", "红色企业", "bs-tone-red"),
    ("ent_orange", "橙色企业", "bs-tone-orange"),
    ("sources", "重大危险源", "bs-tone-amber"),
    ("hazards_open", "未销号隐患", "bs-tone-plain"),
    ("hazards_overdue", "逾期隐患", "bs-tone-red"),
    ("hazards_major_open", "重大隐患", "bs-tone-orange"),
    ("hazards_supervised", "挂牌督办", "bs-tone-violet"),
    ("closure_rate", "本月销号率", "bs-tone-green"),
)


def kpi_values(kpis: dict[str, Any]) -> dict[str, str]:
    """Return the text of every KPI tile (key → value) and of the closure-rate hint (``closure_hint``)."""
    out = {key: fmt_rate(kpis[key]) if key == "closure_rate" else fmt(kpis[key]) for key, _, _ in KPI_TILES}
    out["closure_hint"] = f"{fmt(kpis['month_closed'])} / {fmt(kpis['month_open_at_start'] + kpis['month_found'])}"
    return out


def kpi_ribbon(kpis: dict[str, Any]) -> list[html.Div]:
    """Build the KPI tiles (ids ``bs-kpi-<key>``; the values ``bs-kpi-<key>-value`` are refreshed in place)."""
    values = kpi_values(kpis)
    tiles = []
    for key, label, tone in KPI_TILES:
        hint = html.Span(values["closure_hint"], className="bs-kpi-hint", id="bs-kpi-closure-hint") \
            if key == "closure_rate" else None
        tiles.append(html.Div([
            html.Div(values[key], className="bs-kpi-value", id=f"bs-kpi-{key}-value"),
            html.Div([label, hint], className="bs-kpi-label"),
        ], className=f"bs-kpi {tone}", id=f"bs-kpi-{key}",
            title="本月销号数 ÷（月初未销号 + 本月新发现）" if key == "closure_rate" else label))
    return tiles


def _risk_badge(cls: str | None) -> html.Span:
    if not cls:
        return html.Span("—", className="bs-badge bs-badge-none")
    return html.Span(RISK_LEVEL[cls], className=f"bs-badge bs-badge-{cls}", title=RISK_LEVEL_LONG[cls])


def rank_rows(children: list[dict[str, Any]], *, by: bq.RankKey, thresholds: dict[str, float]) -> Any:
    """Rows of one ranking: position, name, colour, a bar and the value.

    Risk bars are drawn against the red threshold of the four-colour rule (full bar = red), with
    ticks at the yellow and orange thresholds; overdue bars against the largest value shown.
    """
    ranked = bq.ranking(children, by=by, limit=RANK_LIMIT)
    if not ranked:
        return html.Div("没有下级单位。", className="bs-empty")
    field = "risk_score" if by == "risk" else "overdue"
    top = thresholds["red"] if by == "risk" else max((c[field] for c in ranked), default=0)
    top = top or 1
    ticks = [html.Span(className="bs-rank-tick", style={"left": f"{100 * thresholds[k] / top:.1f}%"})
             for k in ("yellow", "orange")] if by == "risk" else []
    rows = []
    for i, c in enumerate(ranked, start=1):
        value = c[field]
        share = min(100.0, max(2.0, 100.0 * value / top)) if value else 0.0
        colour = RISK_COLOUR_HEX.get(c["risk_class"] or "", UNASSESSED_COLOUR)
        extra = f"{value:.1f}" if by == "risk" else fmt(value)
        sub = (f"企业 {fmt(c['enterprises'])} · 红 {c['ent_red']} 橙 {c['ent_orange']}" if by == "risk"
               else f"未销号 {fmt(c['open'])} · 重大 {fmt(c['major'])}")
        rows.append(html.Li([
            html.Span(str(i), className=f"bs-rank-no{' bs-rank-top' if i <= 3 else ''}"),
            html.Div([
                html.Div([html.Span(c["name"], className="bs-rank-name"), _risk_badge(c["risk_class"]),
                          html.Span(sub, className="bs-rank-sub")], className="bs-rank-head"),
                html.Div([html.Div(className="bs-rank-fill", style={"width": f"{share:.1f}%", "--bar": colour}),
                          *ticks], className="bs-rank-bar"),
            ], className="bs-rank-main"),
            html.Span(extra, className="bs-rank-value"),
        ], className="bs-rank-row", **{"data-code": c["code"]}))
    return html.Ol(rows, className="bs-rank-list")


def distribution(kpis: dict[str, Any]) -> html.Div:
    """Enterprises by risk colour: one stacked bar and a labelled row per colour."""
    parts = [(k, RISK_LEVEL_LONG[k], kpis[f"ent_{k}"], RISK_COLOUR_HEX[k]) for k in RISK_COLOUR_HEX]
    parts.append(("unassessed", "未评估", kpis["ent_unassessed"], UNASSESSED_COLOUR))
    total = sum(p[2] for p in parts) or 1
    stack = html.Div([html.Div(className="bs-stack-part", style={"flexGrow": str(n), "background": colour},
                               title=f"{label} {n}")
                      for _, label, n, colour in parts if n], className="bs-stack")
    rows = [html.Div([
        html.Span(className="bs-dot", style={"background": colour}),
        html.Span(label, className="bs-dist-label"),
        html.Span(fmt(n), className="bs-dist-value"),
        html.Span(f"{100 * n / total:.1f}%", className="bs-dist-share"),
    ], className="bs-dist-row", id=f"bs-dist-{key}") for key, label, n, colour in parts]
    return html.Div([stack, html.Div(rows, className="bs-dist-rows")])


def grid_block(grid: dict[str, Any]) -> html.Div:
    """Show the grid system: units per level, duty slots filled, vacancies, units with overdue inspections."""
    levels = grid["levels"]
    present, required = grid["persons_present"], grid["persons_required"]
    rate = present / required if required else None
    overdue = grid["inspection_overdue"]
    cells = [html.Div([html.Div(fmt(levels.get(lv)), className="bs-mini-value"),
                       html.Div(LEVEL[lv], className="bs-mini-label")], className="bs-mini")
             for lv in sorted(levels) if lv > min(levels)]
    return html.Div([
        html.Div(cells, className="bs-minis"),
        html.Div([
            html.Div([html.Span("责任人在岗率", className="bs-line-label"),
                      html.Span(fmt_rate(rate), className="bs-line-value bs-good"),
                      html.Span(f"{fmt(present)} / {fmt(required)}", className="bs-line-sub")], className="bs-line"),
            html.Div([html.Span("责任人空缺", className="bs-line-label"),
                      html.Span(fmt(grid["vacancies"]), className="bs-line-value bs-warn"),
                      html.Span("个岗位", className="bs-line-sub")], className="bs-line"),
            html.Div([html.Span("检查超期单位", className="bs-line-label"),
                      html.Span(fmt(sum(overdue.values())), className="bs-line-value bs-bad"),
                      html.Span(" · ".join(f"{LEVEL[lv]} {n}" for lv, n in sorted(overdue.items()) if n) or "无",
                                className="bs-line-sub")], className="bs-line"),
        ], className="bs-lines"),
    ], id="bs-grid-body")


def trend_figure(trend: list[dict[str, Any]]) -> dict[str, Any]:
    """Found vs closed hazards per month (plotly, dark); fonts are scaled in the browser (assets/bigscreen.js)."""
    months = [f"{r['month'].month}月" for r in trend]
    top = max((max(r["found"], r["closed"]) for r in trend), default=0)
    years = [f"{r['month']:%Y}年" for r in trend]
    fig = go.Figure([
        go.Bar(x=months, y=[r["found"] for r in trend], name="新发现", marker_color="#ff9f43", customdata=years,
               hovertemplate="%{customdata}%{x} 新发现 %{y}<extra></extra>"),
        go.Bar(x=months, y=[r["closed"] for r in trend], name="已销号", marker_color="#2ee6a8", customdata=years,
               hovertemplate="%{customdata}%{x} 已销号 %{y}<extra></extra>"),
    ])
    fig.update_layout(
        template="plotly_dark", barmode="group", bargap=0.25, bargroupgap=0.08,
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        font={"family": "Noto Sans CJK SC, Microsoft YaHei, sans-serif", "size": 15, "color": "#cfe3ff"},
        margin={"l": 44, "r": 8, "t": 30, "b": 34},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.14, "font": {"size": 15}},
        xaxis={"showgrid": False, "tickfont": {"size": 13}},
        yaxis={"gridcolor": "rgba(120,170,255,0.15)", "zeroline": False, "tickfont": {"size": 13},
               "rangemode": "tozero", **({"dtick": 1} if top < 5 else {})},  # counts: no 0.2 steps
        uirevision="bs-trend",  # keep hover/zoom state across refreshes
    )
    return dict(json.loads(fig.to_json()))  # JSON-clean, so a refresh can compare it with the store


def _place(item: dict[str, Any]) -> str:
    return "·".join(p for p in (item.get("county"), item.get("township")) if p)


def ticker_items(alarms: dict[str, Any], *, as_of: date) -> list[dict[str, str]]:
    """Flatten the alarms into ticker entries ``{kind, tag, text}`` (most urgent kind first)."""
    out: list[dict[str, str]] = []
    for h in alarms["new_major"]:
        out.append({"kind": "major", "tag": "新增重大隐患",
                    "text": f"{h['found_at']:%m-%d} {_place(h)} {h['enterprise'] or ''}：{h['title']}"})
    for h in alarms["newly_overdue"]:
        days = (as_of - h["deadline"]).days
        out.append({"kind": "overdue", "tag": f"逾期{days}天",
                    "text": f"{_place(h)} {h['enterprise'] or ''}：{h['title']}（期限 {h['deadline']:%m-%d}）"})
    for u in alarms["inspection_overdue"]:
        last = u["last_inspection_at"]
        when = f"最近检查 {last:%m-%d}" if last else "无检查记录"
        out.append({"kind": "inspection", "tag": "检查超期",
                    "text": f"{u['parent'] or ''} {u['name']}（{LEVEL.get(u['level'], '')}，{when}）"})
    return out


def ticker(items: list[dict[str, str]], counts: dict[str, int]) -> list[Any]:
    """Build the ticker track: the entries twice (a seamless CSS loop), speed independent of the length."""
    summary = html.Span([
        html.Span(f"近7日新增重大隐患 {counts['new_major']}", className="bs-tick-count bs-tick-major"),
        html.Span(f"新增逾期 {counts['newly_overdue']}", className="bs-tick-count bs-tick-overdue"),
        html.Span(f"检查超期单位 {counts['inspection_overdue']}", className="bs-tick-count bs-tick-inspection"),
    ], className="bs-tick-summary")
    if not items:
        return [summary, html.Span("近7日无新增预警", className="bs-tick-quiet")]
    entries = [html.Span([html.B(i["tag"], className=f"bs-tag bs-tag-{i['kind']}"), i["text"]], className="bs-tick")
               for i in items]
    chars = sum(len(i["text"]) + len(i["tag"]) + 4 for i in items)
    duration = max(30, round(chars * 0.28))  # ~3.5 characters a second at any screen size
    return [summary, html.Div(html.Div([html.Div(entries, className="bs-tick-run"),
                                        html.Div(entries, className="bs-tick-run", **{"aria-hidden": "true"})],  # type: ignore[arg-type]
                                       className="bs-tick-track", style={"animationDuration": f"{duration}s"}),
                              className="bs-tick-window")]


def freshness_text(at: datetime | None) -> str:
    """Return the data freshness line of the header (in the screen's time zone)."""
    if at is None:
        return "统计数据尚未刷新"
    return f"统计更新于 {at.astimezone(ZoneInfo(get_bigscreen_settings().timezone)):%m-%d %H:%M}"


def _units_url(code: str, at: datetime | None) -> str:
    """Return the unit layer route; the refresh time busts the browser cache only when the tables changed."""
    return f"/api/map/units/{code}/children.geojson?v={at:%Y%m%d%H%M%S}" if at else \
        f"/api/map/units/{code}/children.geojson"


def legend(level: int | None, counts: dict[str, int], child_level: int | None) -> list[Any]:
    """Map legend: the four colours with how many filled units carry each, and what the outlines are."""
    unit = LEVEL.get(level or 0, "单位")
    items: list[Any] = [html.Div(f"四色风险分区 · {unit}", className="bs-legend-title")]
    items += [html.Div([html.Span(className="bs-legend-swatch", style={"background": RISK_COLOUR_HEX[k]}),
                        html.Span(RISK_LEVEL_LONG[k]), html.B(fmt(counts.get(k, 0)))], className="bs-legend-item",
                       id=f"bs-legend-{k}")
              for k in RISK_COLOUR_HEX]
    if child_level and child_level != level:
        items.append(html.Div([html.Span(className="bs-legend-outline"), f"{LEVEL[child_level]}边界"],
                              className="bs-legend-item"))
    return items


# --- data -----------------------------------------------------------------------------------------


def read_screen(scope: str, as_of: date) -> dict[str, Any]:
    """Read everything the screen shows for ``scope`` in one connection."""
    with connect() as conn:
        return {
            "head": bq.scope_head(conn, scope=scope),
            "kpis": bq.screen_kpis(conn, scope=scope, as_of=as_of),
            "children": bq.child_summaries(conn, scope=scope, as_of=as_of),
            "trend": bq.monthly_trend(conn, scope=scope, as_of=as_of),
            "alarms": bq.alarms(conn, scope=scope, as_of=as_of),
            "grid": bq.grid_overview(conn, scope=scope),
            "fill": bq.fill_classes(conn, scope=scope),
            "fresh": data_freshness(conn),
            "thresholds": rule_from_config(app_config(conn, "risk_rule")).thresholds,
        }


def _zoom(bounds: list[list[float]], width_px: int = 900) -> float:
    span = max(bounds[1][1] - bounds[0][1], (bounds[1][0] - bounds[0][0]) * 1.3, 1e-4)
    return max(3.0, min(18.0, math.floor(math.log2(360 * width_px / 256 / span) * 4) / 4))


def _js(name: str) -> dict[str, str]:
    return {"variable": f"safegrid.bigscreen.{name}"}


def fill_layers(children: list[dict[str, Any]], fresh: datetime | None) -> list[dl.GeoJSON]:
    """One four-colour layer per child unit, fed by the command map's route (its children, or itself when a leaf)."""
    return [dl.GeoJSON(id={"type": "bs-fill", "code": c["code"]}, url=_units_url(c["code"], fresh),
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
         dl.GeoJSON(id="bs-units", url=_units_url(head["code"], data["fresh"]), hideout=UNITS.hideout(current=None),
                    style=_js("outlineStyle" if data["children"] else "fillStyle"),
                    pointToLayer=UNITS.js(UNITS.point_to_layer), onEachFeature=UNITS.js(UNITS.on_each_feature),
                    bubblingMouseEvents=False)],
        id="bs-map", center=[(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2],
        zoom=_zoom(bounds), zoomSnap=0.25, zoomControl=False, attributionControl=False,
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
        dcc.Store(id="bs-sig", data=signature(data, today)),
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
                _panel("网格体系", grid_block(data["grid"]), body_id="bs-grid"),
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


# --- callbacks ------------------------------------------------------------------------------------


def carousel_step(children: list[dict[str, Any]], index: int) -> tuple[int, dict[str, Any] | None]:
    """Next carousel position after ``index`` (wraps; skips children without geometry)."""
    shown = [c for c in children if c.get("bounds")]
    if not shown:
        return -1, None
    nxt = (index + 1) % len(shown)
    return nxt, shown[nxt]


def carousel_card(child: dict[str, Any]) -> list[Any]:
    """Build the KPI card of the child unit the carousel shows."""
    cls = child["risk_class"]
    return [
        html.Div([html.Span(child["name"], className="bs-card-name"), _risk_badge(cls)], className="bs-card-head"),
        html.Div(RISK_LEVEL_LONG.get(cls or "", "尚未评定") + f" · 风险指数 {child['risk_score']:.1f}",
                 className="bs-card-sub"),
        html.Div([
            html.Div([html.B(fmt(child[k])), html.Span(label)], className="bs-card-kpi")
            for k, label in (("enterprises", "企业"), ("ent_red", "红色企业"), ("open", "未销号隐患"),
                             ("overdue", "逾期"), ("major", "重大"), ("supervised", "挂牌督办"))
        ], className="bs-card-kpis"),
    ]


def signature(data: dict[str, Any], today: date) -> dict[str, Any]:
    """Fingerprint each part of the screen; the refresh compares it with the one it sent last time.

    KPI texts are kept as they are (each is its own output); every other part is a short hash, so
    the store a refresh sends back and forth stays well under a kilobyte.
    """
    parts = {
        "kpis": data["kpis"], "children": data["children"], "thresholds": data["thresholds"],
        "trend": data["trend"], "grid": data["grid"], "fill": data["fill"], "fresh": data["fresh"],
        "ticker": [ticker_items(data["alarms"], as_of=today), data["alarms"]["counts"]],
    }
    out: dict[str, Any] = {k: hashlib.blake2b(json.dumps(v, sort_keys=True, default=str).encode(), digest_size=8)
                           .hexdigest() for k, v in parts.items()}
    out["values"] = kpi_values(data["kpis"])
    return out


def register(app: Dash) -> None:
    """Add the big-screen callbacks: periodic refresh, clock and trend scaling (clientside), carousel."""
    kpi_keys = [key for key, _, _ in KPI_TILES] + ["closure_hint"]
    kpi_outputs = [Output(f"bs-kpi-{k}-value" if k != "closure_hint" else "bs-kpi-closure-hint", "children")
                   for k in kpi_keys]

    @app.callback(
        *kpi_outputs, Output("bs-rank-risk", "children"), Output("bs-rank-overdue", "children"),
        Output("bs-trend-data", "data"), Output("bs-dist", "children"), Output("bs-grid", "children"),
        Output("bs-legend", "children"), Output("bs-freshness", "children"), Output("bs-children", "data"),
        Output("bs-units", "url"), Output({"type": "bs-fill", "code": ALL}, "url"), Output("bs-ticker", "children"),
        Output("bs-sig", "data"), Output("bs-ok", "data"),
        Input("bs-tick", "n_intervals"), State("bs-sig", "data"), State({"type": "bs-fill", "code": ALL}, "id"),
        prevent_initial_call=True,
    )
    def refresh(n: int, old: dict[str, Any] | None, fill_ids: list[dict[str, str]]) -> tuple[Any, ...]:
        scope = callback_scope(Capability.BIG_SCREEN)
        today = clock.today()
        data = read_screen(scope, today)
        head = data["head"]
        if head is None:
            raise PreventUpdate
        sig = signature(data, today)
        old = old or {}

        def changed(*parts: str) -> bool:
            return any(sig[p] != old.get(p) for p in parts)

        # Only what changed is sent, and KPI numbers change as text in place: no node is re-created
        # for unchanged data, so the ticker keeps scrolling and the map layers are not re-fetched.
        child_level = head["level"] + 1 if data["children"] else None
        values = kpi_values(data["kpis"])
        ranks = [rank_rows(data["children"], by=by, thresholds=data["thresholds"])
                 if changed("children", "thresholds") else no_update for by in ("risk", "overdue")]
        fresh = changed("fresh")
        return (
            *[values[k] if values[k] != (old.get("values") or {}).get(k) else no_update for k in kpi_keys],
            *ranks,
            trend_figure(data["trend"]) if changed("trend") else no_update,
            distribution(data["kpis"]) if changed("kpis") else no_update,
            grid_block(data["grid"]) if changed("grid") else no_update,
            legend(data["fill"][0], data["fill"][1], child_level) if changed("fill") else no_update,
            freshness_text(data["fresh"]) if fresh else no_update,
            data["children"] if changed("children") else no_update,
            _units_url(head["code"], data["fresh"]) if fresh else no_update,
            [_units_url(i["code"], data["fresh"]) if fresh else no_update for i in fill_ids],
            ticker(ticker_items(data["alarms"], as_of=today), data["alarms"]["counts"]) if changed("ticker")
            else no_update,
            sig, n,
        )

    app.clientside_callback(
        ClientsideFunction("safegrid_bs", "clock"), Output("bs-clock", "children"), Output("bs-date", "children"),
        Input("bs-clock-tick", "n_intervals"), State("bs-timezone", "data"),
    )
    # A wall screen must say when its figures stop updating (database, network or server down):
    # the browser notes each successful refresh and warns after three missed ones.
    app.clientside_callback(
        ClientsideFunction("safegrid_bs", "stamp"), Output("bs-ok-at", "data"), Input("bs-ok", "data"),
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_bs", "staleness"), Output("bs-stale", "children"), Output("bs-stale", "style"),
        Input("bs-clock-tick", "n_intervals"), State("bs-refresh-ms", "data"), State("bs-ok-at", "data"),
    )
    # The carousel names a target; the browser turns it into a flight that keeps clear of the KPI card.
    app.clientside_callback(
        ClientsideFunction("safegrid_bs", "fly"), Output("bs-map", "viewport"), Input("bs-fly", "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_bs", "declutter"), Output("bs-labels-hidden", "data"),
        Input("bs-clock-tick", "n_intervals"),
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_bs", "scaleFigure"), Output("bs-trend", "figure"),
        Input("bs-trend-data", "data"),
    )

    @app.callback(
        Output("bs-carousel-tick", "disabled"), Output("bs-carousel-toggle", "className"),
        Output("bs-fly", "data"), Output("bs-units", "hideout"), Output("bs-carousel-card", "children"),
        Output("bs-carousel-card", "style"), Output("bs-carousel-index", "data"),
        Input("bs-carousel-toggle", "n_clicks"), Input("bs-carousel-tick", "n_intervals"),
        State("bs-carousel-tick", "disabled"), State("bs-children", "data"), State("bs-carousel-index", "data"),
        State("bs-scope-bounds", "data"), State("bs-units", "hideout"), prevent_initial_call=True,
    )
    def carousel(_clicks: int | None, _ticks: int | None, disabled: bool, children: list[dict[str, Any]] | None,
                 index: int | None, scope_bounds: list[list[float]], hideout: dict[str, Any]) -> tuple[Any, ...]:
        callback_scope(Capability.BIG_SCREEN)
        off = "bs-carousel-toggle"
        on = "bs-carousel-toggle bs-on"
        if ctx.triggered_id == "bs-carousel-toggle" and not disabled:  # turn off: frame the whole scope again
            return (True, off, {"bounds": scope_bounds, "card": False}, {**hideout, "current": None}, [],
                    {"display": "none"}, -1)
        if ctx.triggered_id == "bs-carousel-tick" and disabled:
            raise PreventUpdate
        nxt, child = carousel_step(children or [], -1 if index is None else index)
        if child is None:
            return True, off, no_update, no_update, [], {"display": "none"}, -1
        return (False, on, {"bounds": child["bounds"], "card": True}, {**hideout, "current": child["code"]},
                carousel_card(child), {}, nxt)


PAGE = Page(path="/bigscreen", title="大屏", layout=create_bigscreen, register=register,
            capability=Capability.BIG_SCREEN, order=5)
