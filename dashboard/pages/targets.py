"""五年目标 ``/targets?unit=CODE&year=YYYY``: each indicator of an area and year against its baseline and target.

The indicators, the defaults (the 临邑 plan's: against 2020, accidents −10 %, deaths −10 %, deaths per 亿元 GDP
−30 %, per 十万 工矿商贸 employees −19 %, road deaths per 万车 −7 %) and the on-track rule (a straight path from
the baseline to the target) are ``domain.targets``; the settings ``app_config`` ``five_year_targets``; figures
``geo.targets``. A rate without its denominator says which ("缺少分母：GDP"). The area drills down by
``?unit=``; a unit outside the scope is refused and audited. Read-only; ids are prefixed ``tg-``.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import plotly.graph_objects as go
from dash import dcc, html
from plotly.subplots import make_subplots
from sqlalchemy import Connection

from dashboard.pages import Page
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account, refuse_out_of_scope, unit_arg
from domain import clock
from domain.targets import INDICATORS, Status, TargetSettings, YearFigures, evaluate, format_value, path_value, reading
from geo.targets import Area, area_figures, area_in_scope, chain, children, children_counts, target_settings

GRAPH_CONFIG: Any = {"displaylogo": False, "responsive": True}


def targets_href(code: str, year: int | None = None) -> str:
    """URL of the page for an area (and a year)."""
    return "/targets?" + urlencode({"unit": code} | ({"year": str(year)} if year else {}))


def briefing_href(code: str, year: int) -> str:
    """URL of the printable briefing (通报, PDF) of an area for a year (this year: up to today)."""
    end = min(date(year, 12, 31), clock.today())
    return "/export/briefing.pdf?" + urlencode({"unit": code, "start": f"{year}-01-01", "end": end.isoformat()})


def _data(key: str) -> Any:
    return {"data-indicator": key}


def _status_cell(s: Status) -> html.Td:
    if s.missing:
        return html.Td(s.missing, className="tg-missing")
    if s.on_track:
        return html.Td("进度内", className="tg-ok")
    return html.Td("落后于进度", className="tg-behind")


def _change(s: Status) -> str:
    if s.change_pct is None:
        return "—"
    return f"{s.change_pct:+.1f}%"


def status_table(statuses: list[Status], settings: TargetSettings, year: int) -> html.Table:
    """Render each indicator against its baseline, path value and target."""
    b, t = settings.baseline_year, settings.target_year
    head = ["指标", "单位", f"{b}年（基准）", f"{year}年", "较基准", f"{t}年目标", f"{year}年应不高于", "状态"]
    rows = [html.Tr([
        html.Td(s.indicator.label), html.Td(s.indicator.unit), html.Td(format_value(s.indicator, s.baseline)),
        html.Td(format_value(s.indicator, s.value), className="tg-value"), html.Td(_change(s)),
        html.Td(f"{format_value(s.indicator, s.target)}（−{s.reduction:g}%）"),
        html.Td(format_value(s.indicator, s.expected)), _status_cell(s),
    ], className="tg-row", **_data(s.indicator.key)) for s in statuses]
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="sg-table",
                      id="tg-table")


def trend_figure(figures: dict[int, YearFigures], settings: TargetSettings) -> go.Figure:
    """Small multiples: each indicator per year (solid) and its path from baseline to target (dashed)."""
    years = sorted(figures)
    fig = make_subplots(rows=1, cols=len(INDICATORS), subplot_titles=[i.label for i in INDICATORS],
                        horizontal_spacing=0.04)
    for col, ind in enumerate(INDICATORS, start=1):
        values = [reading(ind, figures[y]).value for y in years]
        fig.add_trace(go.Scatter(x=years, y=values, mode="lines+markers", name="实际", line={"color": "#1f4e79"},
                                 showlegend=col == 1, connectgaps=False), row=1, col=col)
        base = reading(ind, figures.get(settings.baseline_year))
        if base.value is not None:
            target = base.value * (1 - settings.reductions.get(ind.key, 0.0) / 100)
            path_years = list(range(settings.baseline_year, settings.target_year + 1))
            fig.add_trace(go.Scatter(
                x=path_years, y=[path_value(base.value, target, settings.baseline_year, settings.target_year, y)
                                 for y in path_years], mode="lines", name="目标路径",
                line={"color": "#c0392b", "dash": "dash"}, showlegend=col == 1), row=1, col=col)
        fig.update_xaxes(dtick=1, tickformat="d", row=1, col=col)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=300, margin={"l": 30, "r": 10, "t": 50, "b": 30}, template="plotly_white",
                      legend={"orientation": "h", "y": -0.15})
    return fig


def children_table(kids: list[Area], counts: dict[tuple[str, int], Any], settings: TargetSettings,
                   year: int) -> html.Div:
    """Render the child areas' accidents and deaths of the year and the baseline, each a drill-down link."""
    if not kids:
        return html.Div(id="tg-children")
    b = settings.baseline_year

    def n(code: str, y: int, what: str) -> int:
        r = counts.get((code, y))
        return int(getattr(r, what)) if r is not None else 0

    head = ["下级单位", f"{year}年事故起数", f"{year}年死亡", f"{b}年事故起数", f"{b}年死亡"]
    rows = [html.Tr([html.Td(dcc.Link(k.name, href=targets_href(k.code, year))),
                     html.Td(n(k.code, year, "accidents")), html.Td(n(k.code, year, "deaths")),
                     html.Td(n(k.code, b, "accidents")), html.Td(n(k.code, b, "deaths"))], className="tg-child")
            for k in kids]
    return html.Div([html.H3("下级单位"), html.Table([html.Thead(html.Tr([html.Th(h) for h in head])),
                                                   html.Tbody(rows)], className="sg-table")], id="tg-children")


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the page for ``?unit=`` (default: the scope's unit) and ``?year=`` (default: this year)."""
    code = unit_arg(query.get("unit"))
    this_year = clock.today().year
    raw_year = (query.get("year") or "").strip()

    def read(conn: Connection) -> tuple[Any, ...]:
        settings = target_settings(conn)
        area = area_in_scope(conn, scope=account.scope, code=code)
        if area is None:
            return settings, None, [], {}, [], {}
        last = max(this_year, settings.baseline_year)
        figures = area_figures(conn, area=area, first_year=settings.baseline_year, last_year=last)
        kids = children(conn, area=area)
        year = int(raw_year) if raw_year.isdigit() and settings.baseline_year <= int(raw_year) <= last else this_year
        counts = children_counts(conn, area=area, years=(settings.baseline_year, year)) if kids else {}
        return settings, area, chain(conn, scope=account.scope, area=area), figures, kids, counts

    settings, area, crumbs, figures, kids, counts = run_read(read)
    if area is None:
        raise refuse_out_of_scope(code or account.scope)
    last = max(this_year, settings.baseline_year)
    year = int(raw_year) if raw_year.isdigit() and settings.baseline_year <= int(raw_year) <= last else this_year
    statuses = evaluate(settings, figures, year)
    goals = "，".join(f"{i.label}下降{settings.reductions.get(i.key, 0.0):g}%" for i in INDICATORS)
    nav: list[Any] = []
    for i, c in enumerate(crumbs):
        nav += [" › "] if i else []
        nav.append(dcc.Link(c.name, href=targets_href(c.code, year)) if c.code != area.code else html.B(c.name))
    years: list[Any] = []
    for y in range(settings.baseline_year, last + 1):
        years.append(html.B(str(y), className="tg-year-now") if y == year
                     else dcc.Link(str(y), href=targets_href(area.code, y), className="tg-year"))
        years.append(" ")
    behind = sum(1 for s in statuses if s.on_track is False)
    missing = sum(1 for s in statuses if s.missing)
    partial = "（截至今日，全年数据尚未完整）" if year == this_year else ""
    summary = (f"{year}年{partial}：{len(statuses) - behind - missing} 项在进度内，{behind} 项落后于进度"
               + (f"，{missing} 项无法计算" if missing else "") + "。")
    return html.Div([
        html.H2(f"五年目标 · {area.name}"),
        html.Nav(nav, className="sg-note", id="tg-crumbs"),
        html.P(f"与 {settings.baseline_year} 年相比，到 {settings.target_year} 年：{goals}。依据：{settings.source}。"
               "按基准值到目标值的直线路径判断当年是否在进度内；事故数据来自事故台账与事故登记。", className="sg-note"),
        html.Div(["年份：", *years], id="tg-years"),
        html.P([summary, " ", html.A("下载该年通报（PDF）", href=briefing_href(area.code, year), id="tg-briefing")],
               className="insp-count", id="tg-summary"),
        status_table(statuses, settings, year),
        dcc.Graph(figure=trend_figure(figures, settings), config=GRAPH_CONFIG, id="tg-trend"),
        children_table(kids, counts, settings, year),
    ], className="tg-page")


PAGE = Page(path="/targets", title="五年目标", layout=layout, capability=Capability.TARGETS, order=36)
