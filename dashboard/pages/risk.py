"""Risk analysis for planners (``/risk``): H3 heatmap, explainable four-colour overlay, trends, compare, exports.

Map data comes from :mod:`dashboard.risk_routes` (``/api/risk/h3`` is fetched by the clientside
callback ``safegrid_risk.heat`` in ``assets/risk.js``, which also sets the colour bar from the same
response). The filters' query string, the four-colour layer's URL, the clicked unit and the export links
are built in the browser too, so a filter change sends the heatmap request and the chart callbacks at
once (issue 22). Server callbacks build the charts, the explanation and the comparison from
:mod:`geo.risk_queries` with the caller's scope; a unit outside it is refused and audited.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlencode

import dash_leaflet as dl
import plotly.graph_objects as go
from dash import ClientsideFunction, Dash, Input, Output, State, ctx, dcc, html, no_update

from dashboard.basemaps import available_basemaps, base_layers, default_basemap, get_map_settings
from dashboard.cache import cached_value
from dashboard.components.industries import industry_choices
from dashboard.components.ledger_grid import DROPDOWN_LABELS
from dashboard.components.map_view import centre
from dashboard.dry import attrs, static_children
from dashboard.errors import AppError, BadRequestError, to_app_error
from dashboard.pages import Page
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope, refuse_out_of_scope
from dashboard.settings import get_settings as get_dashboard_settings
from domain import clock
from domain.catalogues import Catalogue
from domain.enforcement import STATS_PERIOD, EnforcementCounts, PeriodError, parse_period, period_range, yuan_text
from domain.labels import (
    HAZARD_CHANNEL,
    HAZARD_LEVEL,
    HAZARD_STATUS,
    LEVEL,
    RISK_INPUT,
    RISK_LEVEL,
    RISK_LEVEL_LONG,
    RISK_METRIC,
)
from geo import risk_queries as rq
from geo import rule_settings
from geo.db import connect
from geo.inspection_ledger import AreaEnforcement, enforcement_by_area
from geo.map_queries import unit_view
from layers.builder import build_legend
from layers.registry import with_rule
from layers.risk import HEAT_COLOURS, RISK_UNITS, RISK_UNITS_STYLE, heat_hideout, js_ref, overlay_level_options

PREFIX = "risk-"
UNITS_ID = f"{PREFIX}{RISK_UNITS.id}"
GRAPH_CONFIG: Any = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2},
                "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
# The map jumps to a new view and the heatmap's request leaves at once: no zoom, fade or inertia animation
# for the data to wait behind (issue 22).
NO_ANIMATION: Any = {"zoomAnimation": False, "fadeAnimation": False, "markerZoomAnimation": False, "inertia": False}
_COMPARE_ROWS = (
    ("risk_class", "风险等级"), ("risk_score", "风险得分"), ("enterprises", "生产经营单位"), ("ent_red", "红色企业"),
    ("ent_orange", "橙色企业"), ("ent_yellow", "黄色企业"), ("ent_blue", "蓝色企业"), ("hazards_open", "未销号隐患"),
    ("hazards_major_open", "重大隐患"), ("hazards_overdue", "逾期隐患"), ("hazards_supervised", "挂牌督办"),
    ("hazards_stock_open", "存量未销号"), ("hazards_increment_open", "增量未销号"), ("sources_g1", "一级危险源"),
    ("sources_g2", "二级危险源"), ("sources_g3", "三级危险源"), ("sources_g4", "四级危险源"),
)


def _message(error: AppError) -> html.Div:
    return html.Div(error.message, className="sg-alert", role="alert")


def _zoom_for(bounds: list[list[float]], width_px: int = 1000) -> float:
    """Whole zoom level at which ``bounds`` ([[s, w], [n, e]]) fits a map ``width_px`` wide."""
    span = max(bounds[1][1] - bounds[0][1], (bounds[1][0] - bounds[0][0]) * 1.6, 1e-4)
    return float(max(3, min(16, math.floor(math.log2(360 * width_px / 256 / span)))))


def _select(id_: str, label: str, options: list[dict[str, Any]], *, multi: bool = True, value: Any = None,
            clearable: bool = True, placeholder: str = "全部") -> html.Div:
    return html.Div([
        html.Label(label, htmlFor=id_, className="sg-label"),
        dcc.Dropdown(id=id_, options=options, multi=multi, value=value, placeholder=placeholder, clearable=clearable,
                     className="rk-dropdown", labels=DROPDOWN_LABELS),
    ], className="rk-filter")


def _opts(labels: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"label": v, "value": k} for k, v in labels.items()]


# --- charts --------------------------------------------------------------------------------------


def _figure(title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title={"text": title, "font": {"size": 14}}, margin={"l": 48, "r": 16, "t": 44, "b": 40},
                      height=300, legend={"orientation": "h", "y": -0.18}, template="plotly_white",
                      font={"family": "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, sans-serif", "size": 12})
    return fig


def trend_figure(rows: list[dict[str, Any]], cutoff: date, title: str = "隐患发现与销号（动态清零）") -> go.Figure:
    """Monthly found vs closed (bars, stock vs increment) and the open stock / increment at month end (lines)."""
    fig = _figure(f"{title}　存量截止 {cutoff:%Y-%m-%d}")
    x = [r["month"].strftime("%Y-%m") for r in rows]
    for key, name, colour in (("found_stock", "发现·存量", "#9ecae1"), ("found_increment", "发现·增量", "#3182bd"),
                              ("closed_stock", "销号·存量", "#a1d99b"), ("closed_increment", "销号·增量", "#31a354")):
        group = "found" if key.startswith("found") else "closed"
        fig.add_bar(x=x, y=[r[key] for r in rows], name=name, marker_color=colour, offsetgroup=group)
    fig.add_scatter(x=x, y=[r["open_stock"] for r in rows], name="未销号·存量", mode="lines+markers",
                    line={"color": "#d62728", "dash": "dot"})
    fig.add_scatter(x=x, y=[r["open_increment"] for r in rows], name="未销号·增量", mode="lines+markers",
                    line={"color": "#ff7f0e"})
    fig.update_layout(barmode="relative")
    return fig


def industry_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """Open hazards per industry, overdue and major apart."""
    fig = _figure("未销号隐患·按行业")
    rows = list(reversed(rows[:15]))
    y = [r["industry"] for r in rows]
    fig.add_bar(y=y, x=[r["open"] - r["overdue"] for r in rows], name="未逾期", orientation="h",
                marker_color="#fdae6b")
    fig.add_bar(y=y, x=[r["overdue"] for r in rows], name="逾期", orientation="h", marker_color="#7a0177")
    fig.add_scatter(y=y, x=[r["major"] for r in rows], name="其中重大", mode="markers", marker={
        "symbol": "diamond", "size": 10, "color": "#e0322b"})
    fig.update_layout(barmode="stack", height=max(300, 60 + 22 * len(rows)))
    return fig


def area_figure(rows: list[dict[str, Any]], level_name: str) -> go.Figure:
    """Open hazards per child unit (overdue and major apart)."""
    fig = _figure(f"未销号隐患·按{level_name}")
    x = [r["name"] for r in rows]
    fig.add_bar(x=x, y=[r["open"] - r["overdue"] for r in rows], name="未逾期", marker_color="#fdae6b")
    fig.add_bar(x=x, y=[r["overdue"] for r in rows], name="逾期", marker_color="#7a0177")
    fig.add_scatter(x=x, y=[r["major"] for r in rows], name="其中重大", mode="markers",
                    marker={"symbol": "diamond", "size": 10, "color": "#e0322b"})
    fig.update_layout(barmode="stack")
    return fig


def ageing_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """Overdue hazards by days past the deadline."""
    fig = _figure("逾期隐患账龄")
    x = [r["bucket"] for r in rows]
    fig.add_bar(x=x, y=[r["general"] for r in rows], name=HAZARD_LEVEL["general"], marker_color="#f59f00")
    fig.add_bar(x=x, y=[r["major"] for r in rows], name=HAZARD_LEVEL["major"], marker_color="#e0322b")
    fig.update_layout(barmode="stack")
    return fig


def closure_figure(rows: list[dict[str, Any]], level_name: str) -> go.Figure:
    """Closure rate (closed / found in the period) per child unit."""
    fig = _figure(f"隐患销号率·按{level_name}")
    rated = [r for r in rows if r["closure_rate"] is not None]
    fig.add_bar(x=[r["name"] for r in rated], y=[round(100 * r["closure_rate"], 1) for r in rated],
                text=[f"{100 * r['closure_rate']:.0f}%" for r in rated], textposition="outside",
                customdata=[[r["closed"], r["found"]] for r in rated], marker_color="#2f7ed8", name="销号率",
                hovertemplate="%{x}<br>销号率 %{y}%<br>已销号 %{customdata[0]} / 发现 %{customdata[1]}<extra></extra>")
    fig.update_yaxes(range=[0, 110], ticksuffix="%")
    return fig


# --- explanation and comparison ---------------------------------------------------------------------


def _enterprise_link(e: dict[str, Any]) -> Any:
    return dcc.Link(e.get("name") or e.get("code"), href=f"/enterprise?code={e.get('code')}", className="rk-link")


GOAL_HEAD = ("区域", "存量未销号", "存量目标", "增量未销号", "增量目标")


def goal_table(rows: list[dict[str, Any]]) -> html.Details:
    """动态清零 year goals per child area: 存量 (cleared by the end of 2024) and 增量 (from 2025), marked on track."""
    def mark(m: dict[str, Any]) -> html.Span:
        return html.Span(("✓ " if m["ok"] else "✗ ") + m["label"], className="rk-goal-ok" if m["ok"] else "rk-goal-off")

    body = [html.Tr([html.Td(r["name"]), html.Td(r["stock_open"]), html.Td(mark(r["marks"]["stock"])),
                     html.Td(r["increment_open"]), html.Td(mark(r["marks"]["increment"]))],
                    className="rk-goal-row" + ("" if r["marks"]["ok"] else " rk-goal-behind")) for r in rows]
    behind = sum(1 for r in rows if not r["marks"]["ok"])
    return html.Details([
        html.Summary(f"动态清零目标（重大隐患）：{len(rows) - behind} 个区域按期，{behind} 个区域滞后"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in GOAL_HEAD])), html.Tbody(body)], className="sg-table"),
    ], className="rk-goals", id="risk-goals", open=bool(behind))


def explain_panel(found: dict[str, Any] | None, places: dict[int, dict[str, Any]]) -> html.Div:
    """Why the unit has its class: the rule, its inputs and thresholds, the top enterprises and hazards."""
    if found is None:
        return html.Div("点击地图上的四色分区查看其定级依据。", className="sg-note", id="risk-explain-body")
    doc = found.get("risk_explain")
    head = html.Div([
        html.H3(found["name"], id="risk-explain-name"),
        html.Span(LEVEL.get(found["level"], ""), className="cm-tag"),
        html.Span(found["code"], className="cm-tag cm-code"),
        dcc.Link("在一张图中查看", href=f"/?unit={found['code']}", className="rk-link", id="risk-explain-locate"),
    ], className="rk-explain-head")
    if not doc:
        return html.Div([head, html.Div("该单位尚未定级：请先执行 safegrid etl refresh。", className="sg-note")],
                        id="risk-explain-body")
    cls = doc["class"]
    thresholds = doc["thresholds"]
    rows = [
        html.Tr([html.Td(RISK_INPUT.get(c["input"], c["input"])), html.Td(f"{c['count']:g}"),
                 html.Td(f"{c['weight']:g}"), html.Td(f"{c['points']:g}"), html.Td(f"{100 * c['share']:.0f}%")],
                className="rk-input-row", **attrs({"data-input": c["input"]}))
        for c in doc.get("contributions", [])
    ]
    zero = [RISK_INPUT.get(k, k) for k, v in doc.get("inputs", {}).items() if not v]
    ents = [html.Li([_enterprise_link(e), html.Span(
        f" {RISK_LEVEL.get(e.get('risk_level') or '', '未评估')} · 未销号隐患 {e.get('open_hazards', 0)} · "
        f"{e['points']:g} 分", className="rk-meta")], className="rk-top-enterprise", **attrs({"data-code": e["code"]}))
        for e in doc.get("top_enterprises", [])]
    hazards = []
    for h in doc.get("top_hazards", []):
        place = places.get(int(h["id"]), {})
        meta = (f" {HAZARD_LEVEL.get(h.get('level', ''), '')} · {HAZARD_STATUS.get(h.get('status', ''), '')}"
                f"{' · 逾期' if h.get('overdue') else ''} · {h['points']:g} 分")
        links: list[Any] = [html.Span(h.get("name") or h["code"], className="rk-hazard-title")]
        if place.get("unit_code"):
            links.append(dcc.Link("定位", href=f"/?unit={place['unit_code']}", className="rk-link"))
        if place.get("credit_code"):
            links.append(dcc.Link("企业档案", href=f"/enterprise?code={place['credit_code']}", className="rk-link"))
        hazards.append(html.Li([*links, html.Span(meta, className="rk-meta")], className="rk-top-hazard",
                               **attrs({"data-code": h["code"]})))
    return html.Div([
        head,
        html.Div([html.Span(RISK_LEVEL_LONG[cls], className=f"sg-badge sg-{cls}", id="risk-explain-class"),
                  html.Span(f" 得分 {doc['score']:g}", id="risk-explain-score")], className="rk-explain-class"),
        html.P(doc.get("summary", ""), className="rk-summary", id="risk-explain-summary"),
        html.Div([
            html.Div(f"规则（第 {doc.get('rule_version', '1')} 版）：{doc['formula']}", className="rk-formula"),
            html.Div(f"本单位：{doc['points']:g} 分 ÷ max(企业数 {doc['enterprises']}, 最小企业数 "
                     f"{doc['min_enterprises']}) = {doc['points']:g} ÷ {doc['denominator']} = {doc['score']:g}",
                     className="rk-formula", id="risk-explain-arith"),
            html.Div("阈值：" + "，".join(f"{RISK_LEVEL[k]} ≥ {v:g}" for k, v in thresholds.items()) + "，其余为蓝",
                     className="rk-formula", id="risk-explain-thresholds"),
        ]),
        html.Table([html.Thead(html.Tr([html.Th(t) for t in ("输入项", "数量", "权重", "得分", "占比")])),
                    html.Tbody(rows)], className="sg-table rk-table", id="risk-explain-inputs"),
        html.Div("为零的输入：" + "、".join(zero), className="cm-hint") if zero else None,
        html.H4("主要贡献企业"),
        html.Ol(ents, className="rk-top", id="risk-explain-enterprises") if ents else html.Div(
            "无", className="sg-note"),
        html.H4("主要贡献隐患"),
        html.Ol(hazards, className="rk-top", id="risk-explain-hazards") if hazards else html.Div(
            "无未销号隐患", className="sg-note"),
        html.Div(f"依据数据截至 {doc.get('as_of', '')}", className="cm-hint"),
    ], id="risk-explain-body", **attrs({"data-unit": found["code"]}))


def compare_table(a: dict[str, Any], b: dict[str, Any]) -> html.Table:
    """Two units' KPIs side by side (the larger value highlighted); unit_stats, so the filters do not change it."""
    def cell(unit: dict[str, Any], key: str, other: dict[str, Any]) -> html.Td:
        v = unit.get(key)
        if key == "risk_class":
            return html.Td(html.Span(RISK_LEVEL_LONG[v], className=f"sg-badge sg-{v}") if v else "—")
        o = other.get(key)
        worse = isinstance(v, int | float) and isinstance(o, int | float) and v > o
        text = f"{v:g}" if isinstance(v, float) else ("—" if v is None else str(v))
        return html.Td(text, className="rk-worse" if worse else "")

    rows = [html.Tr([html.Th(label), cell(a, key, b), cell(b, key, a)], **attrs({"data-kpi": key}))
            for key, label in _COMPARE_ROWS]
    return html.Table([html.Thead(html.Tr([html.Th("指标"), html.Th(a["name"]), html.Th(b["name"])])),
                       html.Tbody(rows)], className="sg-table rk-table rk-compare-table", id="risk-compare-table")


def compare_figure(a: dict[str, Any], b: dict[str, Any], trends: tuple[list[dict[str, Any]], ...],
                   title: str = "每月新发现 / 销号隐患") -> go.Figure:
    """Draw the two units' monthly found (bars) and closed (lines) hazards under the filters."""
    fig = _figure(title)
    for unit, trend, colour in ((a, trends[0], "#3182bd"), (b, trends[1], "#e6550d")):
        x = [r["month"].strftime("%Y-%m") for r in trend]
        fig.add_bar(x=x, y=[r["found_stock"] + r["found_increment"] for r in trend], name=f"{unit['name']}·发现",
                    marker_color=colour)
        fig.add_scatter(x=x, y=[r["closed_stock"] + r["closed_increment"] for r in trend], mode="lines+markers",
                        name=f"{unit['name']}·销号", line={"color": colour, "dash": "dot"})
    fig.update_layout(barmode="group")
    return fig


ENFORCEMENT_HEAD = ("区域", "检查次数", "发现隐患", "责令整改", "停产整顿", "行政处罚（起）", "罚款金额（元）")


def enforcement_table(areas: list[AreaEnforcement], period_label: str) -> html.Div:
    """检查执法统计 per child area of the scope in one period, with the total; an area links to its ledger rows."""
    def cells(c: EnforcementCounts) -> list[html.Td]:
        return [html.Td(f"{v:,}") for v in (c.inspections, c.hazards_found, c.ordered_rectify, c.closed_down,
                                             c.penalties)] + [html.Td(f"{c.penalty_yuan:,.2f}",
                                                                      title=yuan_text(c.penalty_yuan))]

    total = EnforcementCounts()
    body = []
    for a in areas:
        total = total + a.counts
        name = (dcc.Link(a.name, href="/inspections?" + urlencode({"area": a.code}), className="rk-link")
                if a.code else a.name)
        body.append(html.Tr([html.Td(name), *cells(a.counts)], className="rk-enf-row",
                            **attrs({"data-code": a.code or ""})))
    body.append(html.Tr([html.Th("合计"), *cells(total)], className="rk-enf-total", id="risk-enf-total"))
    return html.Div([
        html.P(f"{period_label}：检查 {total.inspections:,} 次，发现隐患 {total.hazards_found:,} 项，责令整改 "
               f"{total.ordered_rectify:,} 次，停产整顿 {total.closed_down:,} 次，行政处罚 {total.penalties:,} 起、"
               f"罚款 {yuan_text(total.penalty_yuan)}。", className="rk-enf-summary", id="risk-enf-summary"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in ENFORCEMENT_HEAD])), html.Tbody(body)],
                   className="sg-table rk-table", id="risk-enf-table"),
    ])


def industry_options(catalogue: Catalogue) -> list[dict[str, str]]:
    """Return the four-colour map's industry choices: key-industry groups first, then the catalogue's industries."""
    groups = [{"label": f"{g}（{'、'.join(m)}）", "value": g} for g, m in catalogue.groups.items()]
    return groups + [{"label": name, "value": name} for name in catalogue.names]


def overlay_href(level: int, industry: str | None) -> str:
    """URL of the four-colour units of ``level``, recomputed over one industry or group when given (分行业)."""
    return f"{RISK_UNITS.source}?" + urlencode({"level": level} | ({"industry": industry} if industry else {}))


# --- layout -----------------------------------------------------------------------------------------


def create_risk_page(account: Account, query: dict[str, str]) -> html.Div:
    """Build the page for ``account``'s scope (``?unit=CODE`` opens that unit's explanation)."""
    try:
        industries = industry_choices(account)
        with connect() as conn:
            level = rq.scope_level(conn, scope=account.scope)
            candidates = rq.compare_candidates(conn, scope=account.scope)
            view = unit_view(conn, scope=account.scope, code=account.record.scope_code)
            rule = rq.current_rule(conn)
            catalogue = rule_settings.industry_catalogue(conn)
            goals = rule_settings.goal_rows(conn, scope=account.scope, code=account.record.scope_code,
                                            as_of=clock.today())
    except Exception as exc:  # database down: a Chinese message instead of a stack trace
        return _message(to_app_error(exc))
    settings = get_map_settings()
    maps = [m for m in available_basemaps(settings) if m.crs == "wgs84"]  # the risk routes serve WGS84 only
    selected = default_basemap(maps, settings)
    bounds = (view["bounds"] if view else None) or [[33.7, 113.4], [34.4, 114.2]]
    levels = overlay_level_options(level)
    heat = dl.GeoJSON(id="risk-hex", data={"type": "FeatureCollection", "features": []},
                      hideout=heat_hideout([], "risk_score"), style=js_ref("hexStyle"),
                      onEachFeature=js_ref("hexTooltip"), bubblingMouseEvents=False)
    the_map = dl.Map([
        dl.LayersControl([
            *base_layers(maps, selected),
            dl.Overlay(heat, name="H3 热力图", checked=True, id="risk-hex-overlay"),
            dl.Overlay(dl.GeoJSON(
                id=UNITS_ID, url=overlay_href(int(levels[0]["value"]), None), hideout=RISK_UNITS.hideout(),
                style=js_ref(RISK_UNITS_STYLE), onEachFeature=RISK_UNITS.js(RISK_UNITS.on_each_feature),
                bubblingMouseEvents=False), name=RISK_UNITS.title, checked=True, id=f"{UNITS_ID}-overlay"),
        ], id="risk-layers", collapsed=False, position="topright"),
        dl.Colorbar(id="risk-colorbar", position="bottomleft", width=260, height=14, colorscale=list(HEAT_COLOURS),
                    min=0, max=len(HEAT_COLOURS), classes=list(range(len(HEAT_COLOURS) + 1)), tooltip=False,
                    className="rk-colorbar"),
        dl.ScaleControl(position="bottomright", imperial=False),
    ], id="risk-map", center=centre(bounds), zoom=_zoom_for(bounds), className=f"rk-map cm-basemap-{selected.id}",
        attributionControl=True, **NO_ANIMATION)
    unit_options = [{"label": f"{'　' * (c['level'] - level)}{c['name']}（{LEVEL[c['level']]}）", "value": c["code"]}
                    for c in candidates]
    children = [c for c in candidates if c["level"] == level + 1]
    compare_default = [c["code"] for c in children[:2]] if len(children) >= 2 else [None, None]
    can_export = account.can(Capability.EXPORT)
    controls = html.Div([
        _select("risk-metric", "热力图指标", _opts(RISK_METRIC), multi=False, value="risk_score", clearable=False),
        _select("risk-industry", "行业", [{"label": i, "value": i} for i in industries]),
        _select("risk-colour", "企业风险等级", _opts(RISK_LEVEL_LONG)),
        _select("risk-hlevel", "隐患等级", _opts(HAZARD_LEVEL)),
        _select("risk-channel", "来源渠道", _opts(HAZARD_CHANNEL)),
        html.Div([html.Label("发现日期", className="sg-label"),
                  dcc.DatePickerRange(id="risk-period", display_format="YYYY-MM-DD", clearable=True,
                                      start_date_placeholder_text="起", end_date_placeholder_text="止")],
                 className="rk-filter"),
        html.Div([html.Label("四色分区层级", className="sg-label"),
                  dcc.RadioItems(id="risk-overlay-level", options=levels, value=levels[0]["value"], inline=True,
                                 className="rk-radio")], className="rk-filter"),
        _select("risk-overlay-industry", "四色分区按行业", industry_options(catalogue), multi=False,
                placeholder="全部行业"),
    ], className="rk-filters", id="risk-filters")
    exports = html.Div([
        html.A("导出表格 (xlsx)", id="risk-export-xlsx", href="#", className="sg-button rk-export", download=""),
        html.A("导出地图 (PNG)", id="risk-export-png", href="#", className="sg-button rk-export", download=""),
        html.Span("图表可用右上角相机按钮导出 PNG", className="cm-hint"),
    ], className="rk-exports") if can_export else None
    return html.Div([
        dcc.Store(id="risk-query"),
        dcc.Store(id="risk-unit", data=query.get("unit")),
        dcc.Store(id="risk-ramp", data=list(HEAT_COLOURS)),
        dcc.Store(id="risk-bounds", data=bounds),
        dcc.Store(id="risk-metric-labels", data=RISK_METRIC),
        html.H2(f"{account.record.scope_name} · 风险分析", id="risk-title"),
        controls,
        goal_table(goals),
        html.Div([
            html.Section([
                html.Div([the_map, html.Div(static_children(build_legend(with_rule(RISK_UNITS, rule), prefix=PREFIX),
                                                                          "sg-legend-body"),
                                            className="cm-legends rk-legends")],
                         className="rk-map-wrap"),
                html.Div([html.Span("正在加载热力图…", id="risk-hex-info", className="rk-info"), exports],
                         className="rk-statusbar"),
            ], className="rk-main"),
            html.Aside(dcc.Loading(html.Div(explain_panel(None, {}), id="risk-explain"), type="circle"),
                       className="rk-side", **attrs({"aria-label": "定级依据"})),
        ], className="rk-top-row"),
        html.H3("趋势与分布"),
        html.Div([dcc.Graph(id=f"risk-chart-{k}", config=GRAPH_CONFIG, className="rk-graph")
                  for k in ("trend", "industry", "area", "ageing", "closure")], className="rk-charts"),
        html.H3("检查执法统计", id="risk-enf-title"),
        html.P("按下级区域统计导入和系统录入的检查记录；发现隐患为检查发现的隐患项数，罚款金额为行政处罚的罚款合计。",
               className="sg-note"),
        dcc.RadioItems(id="risk-enf-period", options=_opts(STATS_PERIOD), value="month", inline=True,
                       className="rk-radio"),
        dcc.Loading(html.Div(id="risk-enf"), type="circle"),
        html.H3("单位对比"),
        html.Div([
            _select("risk-compare-a", "单位 A", unit_options, multi=False, value=compare_default[0]),
            _select("risk-compare-b", "单位 B", unit_options, multi=False, value=compare_default[1]),
        ], className="rk-filters"),
        dcc.Loading(html.Div([html.Div(id="risk-compare"), dcc.Graph(
            id="risk-compare-chart", config=GRAPH_CONFIG, className="rk-graph", style={"display": "none"})],
            className="rk-compare-body"), type="circle"),
    ], className="rk-page", id="risk-page")


# --- callbacks --------------------------------------------------------------------------------------


def _filters(industry: Any, colour: Any, hlevel: Any, channel: Any, start: Any, end: Any) -> rq.RiskFilters:
    args = {"industry": industry or [], "risk": colour or [], "level": hlevel or [], "channel": channel or [],
            "from": [start] if start else [], "to": [end] if end else []}
    try:
        return rq.RiskFilters.from_args(args)
    except rq.RiskQueryError as exc:
        raise BadRequestError(str(exc)) from exc


_FILTER_INPUTS = [Input("risk-industry", "value"), Input("risk-colour", "value"), Input("risk-hlevel", "value"),
                  Input("risk-channel", "value"), Input("risk-period", "start_date"), Input("risk-period", "end_date")]


def register(app: Dash) -> None:
    """Add the callbacks of the risk page (server: charts, explanation, compare; client: query, heatmap, links).

    An action starts every request it needs at once: the filter query string is built in the browser
    (``safegrid_risk.query``), so the heatmap's fetch leaves with the chart callbacks instead of after
    them; the four-colour layer's URL, the clicked unit and the export links are clientside too.
    """

    @app.callback(*[Output(f"risk-chart-{k}", "figure") for k in ("trend", "industry", "area", "ageing", "closure")],
                  *_FILTER_INPUTS)
    def charts(*values: Any) -> tuple[Any, ...]:
        scope = callback_scope(Capability.ANALYSIS)
        filters = _filters(*values)
        as_of = clock.today()

        def build() -> list[dict[str, Any]]:
            read_at = clock.now()  # before the reads: nothing committed later is in them
            with connect() as conn:
                cutoff = rq.stock_cutoff(conn, as_of=as_of)
                parts = rq.breakdowns(conn, scope=scope, filters=filters, as_of=as_of, cutoff=cutoff)
                trend, industries, areas, ageing = (parts[p] for p in ("trend", "industries", "areas", "ageing"))
                child_level = LEVEL.get(min(rq.scope_level(conn, scope=scope) + 1, 5), "下级单位")
            title = f"隐患发现与销号（动态清零）　统计于 {read_at:%H:%M:%S}"
            figures = (trend_figure(trend, cutoff, title), industry_figure(industries),
                       area_figure(areas, child_level), ageing_figure(ageing), closure_figure(areas, child_level))
            return [f.to_plotly_json() for f in figures]

        # Seconds of scanning city-wide at 3M hazards: after others' writes, charts built less than
        # analytics_max_stale_s ago are shown again (their title says when); the writer's own session never is.
        return tuple(cached_value("risk-charts", {"filters": repr(values)}, build,
                                  max_stale_s=get_dashboard_settings().analytics_max_stale_s))

    # The query string of the metric and filters (the one the routes read back with RiskFilters.from_args).
    app.clientside_callback(
        ClientsideFunction("safegrid_risk", "query"), Output("risk-query", "data"),
        Input("risk-metric", "value"), *_FILTER_INPUTS,
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_risk", "heat"),
        Output("risk-hex", "data"), Output("risk-hex", "hideout"), Output("risk-colorbar", "colorscale"),
        Output("risk-colorbar", "min"), Output("risk-colorbar", "max"), Output("risk-colorbar", "classes"),
        Output("risk-colorbar", "tickValues"), Output("risk-colorbar", "tickText"), Output("risk-hex-info", "children"),
        Input("risk-map", "bounds"), Input("risk-map", "zoom"), Input("risk-query", "data"),
        State("risk-hex", "hideout"), State("risk-ramp", "data"), State("risk-metric-labels", "data"),
        State("risk-colorbar", "tickText"), State("risk-colorbar", "colorscale"),
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_risk", "links"),
        Output("risk-export-png", "href"), Output("risk-export-xlsx", "href"),
        Input("risk-map", "bounds"), Input("risk-map", "zoom"), Input("risk-query", "data"),
        Input("risk-overlay-level", "value"), Input("risk-unit", "data"),
    )

    # Frame the scope exactly once the map exists; the resulting move reports ``bounds``, which the
    # heatmap callback needs (the layout's center/zoom only approximate and report nothing).
    app.clientside_callback(
        "function (b) { return b ? {bounds: b, transition: 'fitBounds'} : window.dash_clientside.no_update; }",
        Output("risk-map", "viewport"), Input("risk-bounds", "data"),
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_risk", "overlayUrl"), Output(UNITS_ID, "url"),
        Input("risk-overlay-level", "value"), Input("risk-overlay-industry", "value"), State(UNITS_ID, "url"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_risk", "pick"), Output("risk-unit", "data"), Output(UNITS_ID, "hideout"),
        Input(UNITS_ID, "clickData"), State(UNITS_ID, "hideout"), prevent_initial_call=True,
    )

    @app.callback(Output("risk-explain", "children"), Input("risk-unit", "data"))
    def show_explain(code: str | None) -> Any:
        scope = callback_scope(Capability.ANALYSIS)
        if not code:
            return explain_panel(None, {})
        try:
            with connect() as conn:
                found = rq.unit_explain(conn, scope=scope, code=str(code))
                if found is None:
                    raise refuse_out_of_scope(str(code))
                doc = found.get("risk_explain") or {}
                places = rq.hazard_places(conn, scope=scope, hazard_ids=[h["id"] for h in doc.get("top_hazards", [])])
        except AppError as exc:
            return _message(exc)
        return explain_panel(found, places)

    @app.callback(Output("risk-enf", "children"), Input("risk-enf-period", "value"))
    def enforcement(period: Any) -> Any:
        scope = callback_scope(Capability.ANALYSIS)
        try:
            chosen = period_range(parse_period(period), clock.today())
        except PeriodError as exc:
            raise BadRequestError(str(exc)) from exc
        with connect() as conn:
            areas = enforcement_by_area(conn, scope=scope, start=chosen.start, end=chosen.end)
        return enforcement_table(areas, f"{STATS_PERIOD[chosen.kind]}（{chosen.label}，{chosen.start:%m-%d} 至 "
                                        f"{chosen.end:%m-%d}）")

    # The chart stays mounted (its figure is replaced in place); the KPI table is re-sent only when a unit
    # changed, since the filters only change the monthly chart.
    @app.callback(Output("risk-compare", "children"), Output("risk-compare-chart", "figure"),
                  Output("risk-compare-chart", "style"), Input("risk-compare-a", "value"),
                  Input("risk-compare-b", "value"), *_FILTER_INPUTS)
    def compare(a: str | None, b: str | None, *values: Any) -> tuple[Any, ...]:
        scope = callback_scope(Capability.ANALYSIS)
        if not a or not b:
            return html.Div("请选择两个单位进行对比。", className="sg-note"), no_update, {"display": "none"}
        filters = _filters(*values)
        as_of = clock.today()
        with connect() as conn:
            units = [rq.unit_kpis(conn, scope=scope, code=str(c)) for c in (a, b)]
        if units[0] is None or units[1] is None:
            raise refuse_out_of_scope(str(a if units[0] is None else b))
        pair = (units[0], units[1])

        def build() -> dict[str, Any]:
            read_at = clock.now()
            with connect() as conn:
                cutoff = rq.stock_cutoff(conn, as_of=as_of)
                trends = tuple(rq.monthly_found_closed(conn, scope=u["path"], filters=filters, as_of=as_of,
                                                       cutoff=cutoff) for u in pair)
            title = f"每月新发现 / 销号隐患　统计于 {read_at:%H:%M:%S}"
            return compare_figure(*pair, trends, title).to_plotly_json()

        # Two scans of the units' hazards: kept like the charts above (analytics_max_stale_s).
        figure = cached_value("risk-compare", {"a": a, "b": b, "filters": repr(values)}, build,
                              max_stale_s=get_dashboard_settings().analytics_max_stale_s)
        table = compare_table(*pair) if ctx.triggered_id in (None, "risk-compare-a", "risk-compare-b") else no_update
        return table, figure, {}



PAGE = Page(path="/risk", title="风险分析", layout=create_risk_page, register=register, capability=Capability.ANALYSIS,
            order=30)
