"""Landing page: KPIs of the caller's scope unit and a unit picker whose summary is scope-checked.

The ``home-unit`` → ``home-summary`` callback is the one the forged-request tests post to
(tests/test_auth_forged.py): it must answer only for units inside the caller's scope.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.pages import Page
from dashboard.scope import Account, callback_scope, refuse_out_of_scope
from domain.labels import LEVEL, RISK_LEVEL, RISK_LEVEL_LONG
from geo.db import connect
from geo.units import get_unit, unit_summary, units_in_scope


def _kpi(label: str, value: Any, tone: str = "") -> html.Div:
    return html.Div([html.Div(str(value), className="sg-kpi-value"), html.Div(label, className="sg-kpi-label")],
                    className=f"sg-kpi {tone}".strip())


def kpi_cards(stats: dict[str, Any] | None) -> html.Div:
    """KPI tiles of one unit's subtree from ``unit_stats`` (or a hint when not refreshed yet)."""
    if not stats:
        return html.Div("统计数据尚未生成：请先导入台账并执行 safegrid etl refresh。", className="sg-note",
                        id="home-kpis")
    sources = sum(stats[f"sources_g{g}"] for g in (1, 2, 3, 4))
    vacancies = max(0, stats["persons_required"] - stats["persons_present"])
    last = stats["last_inspection_at"]
    return html.Div([
        _kpi("生产经营单位", stats["enterprises"]),
        _kpi("红色(重大风险)", stats["ent_red"], "sg-red"),
        _kpi("橙色(较大风险)", stats["ent_orange"], "sg-orange"),
        _kpi("黄色(一般风险)", stats["ent_yellow"], "sg-yellow"),
        _kpi("蓝色(低风险)", stats["ent_blue"], "sg-blue"),
        _kpi("未销号隐患", stats["hazards_open"]),
        _kpi("逾期隐患", stats["hazards_overdue"], "sg-red" if stats["hazards_overdue"] else ""),
        _kpi("重大隐患", stats["hazards_major_open"]),
        _kpi("挂牌督办", stats["hazards_supervised"]),
        _kpi("重大危险源", sources),
        _kpi("责任人空缺", vacancies, "sg-orange" if vacancies else ""),
        _kpi("最近检查", f"{last:%Y-%m-%d}" if last else "无记录"),
    ], className="sg-kpis", id="home-kpis")


def _risk(stats: dict[str, Any] | None) -> Any:
    cls = (stats or {}).get("risk_class")
    if not cls:
        return "—"
    return html.Span(RISK_LEVEL[cls], className=f"sg-badge sg-{cls}", title=RISK_LEVEL_LONG[cls])


def summary_view(unit: dict[str, Any], *, with_kpis: bool = True) -> html.Div:
    """Render a unit's KPIs (unless already shown above) and a table of its direct children."""
    head = ["下级单位", "代码", "生产经营单位", "红/橙", "未销号隐患", "逾期", "重大隐患", "风险"]
    rows = []
    for child in unit["children"]:
        st = child["stats"] or {}
        rows.append(html.Tr([
            html.Td(child["name"]), html.Td(child["code"]), html.Td(st.get("enterprises", "—")),
            html.Td(f"{st['ent_red']}/{st['ent_orange']}" if st else "—"), html.Td(st.get("hazards_open", "—")),
            html.Td(st.get("hazards_overdue", "—")), html.Td(st.get("hazards_major_open", "—")), html.Td(_risk(st)),
        ]))
    table = (html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="sg-table")
             if rows else html.Div("没有下级单位。", className="sg-note"))
    return html.Div([
        html.H3(f"{unit['name']}（{LEVEL.get(unit['level'], '')} · {unit['code']}）"),
        kpi_cards(unit["stats"]) if with_kpis else None,
        table,
    ], className="sg-summary", **{"data-unit": unit["code"]})


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the landing page of ``account``'s scope; ``?unit=CODE`` preselects a unit (scope-checked)."""
    record = account.record
    with connect() as conn:
        unit = get_unit(conn, scope=account.scope, code=record.scope_code)
        options = units_in_scope(conn, scope=account.scope, max_depth=2)
    return html.Div([
        html.H2(f"{record.scope_name} · 安全生产概况", id="home-title"),
        kpi_cards(unit["stats"] if unit else None),
        html.Div([
            html.Label("查看单位", htmlFor="home-unit", className="sg-label"),
            dcc.Dropdown(
                id="home-unit", clearable=False, searchable=True, className="sg-dropdown",
                options=[{"label": f"{LEVEL.get(o['level'], '')} · {o['name']}（{o['code']}）", "value": o["code"]}
                         for o in options],
                value=query.get("unit") or record.scope_code,
            ),
        ], className="sg-picker"),
        dcc.Loading(html.Div(id="home-summary")),
    ], className="sg-home")


def register(app: Dash) -> None:
    """Add the unit summary callback."""

    @app.callback(Output("home-summary", "children"), Input("home-unit", "value"))
    def show_unit(code: str | None) -> Any:
        scope = callback_scope()
        if not code or not isinstance(code, str):
            raise PreventUpdate
        with connect() as conn:
            unit = unit_summary(conn, scope=scope, code=code)
        if unit is None:
            raise refuse_out_of_scope(code)
        # The scope unit's KPIs are already at the top of the page.
        return summary_view(unit, with_kpis=unit["path"] != scope)


PAGE = Page(path="/overview", title="辖区概况", layout=layout, register=register, order=10)
