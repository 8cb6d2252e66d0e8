"""四查 ``/inspection``: the units of the scope behind on 四查 (市季查、县月查、乡周查、村日查), from the last refresh.

A unit is behind when neither the current period of its level's cadence nor the last closed one has an
inspection by its own level's people or, for villages and grid cells, a patrol (``domain.cadence``; the
refresh writes ``unit_cadence``). The same units are the command map's layer 四查落后单位 and the big
screen's count. Ids are prefixed ``insp-``.
"""

from __future__ import annotations

from dash import dcc, html

from dashboard.pages import Page
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account
from domain import clock
from domain.cadence import CADENCE_LABEL, Cadence, period_label
from domain.labels import LEVEL
from geo.inspections_app import BehindUnit, units_behind


def behind_table(units: list[BehindUnit], total: int) -> html.Div:
    """Render the units behind with their cadence, current period and last record."""
    if not units:
        return html.Div(html.P("辖区内没有四查落后的单位（或尚未刷新统计）。", className="sg-note"), id="insp-behind")
    today = clock.today()
    head = ["单位", "层级", "上级", "要求", "本期", "最近检查/巡查"]
    rows = [html.Tr([
        html.Td(dcc.Link(u.name, href=f"/?unit={u.code}")), html.Td(LEVEL.get(u.level, str(u.level))),
        html.Td(u.parent or ""), html.Td(CADENCE_LABEL.get(u.cadence, u.cadence)),
        html.Td(period_label(u.period_start, Cadence(u.cadence))),
        html.Td(f"{u.last_at:%Y-%m-%d}（{(today - u.last_at).days} 天前）" if u.last_at else "无记录"),
    ], className="insp-behind-row") for u in units]
    more = [html.P(f"仅显示前 {len(units)} 个，共 {total} 个。", className="sg-note")] if total > len(units) else []
    return html.Div([
        html.P(f"四查落后单位 {total} 个：本期与上一期均无本级检查或巡查记录。", className="insp-count"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="sg-table"),
        *more,
    ], id="insp-behind")


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the list of the scope's units behind on 四查."""
    del query
    units, total = run_read(lambda conn: units_behind(conn, scope=account.scope))
    return html.Div([
        html.H2("四查落实情况"),
        html.P("市级每季、县级每月、乡级每周、村级每日（周期可在规则设置中调整）；网格巡查计入村级和网格。"
               "依据最近一次统计刷新。", className="sg-note"),
        behind_table(units, total),
    ], className="insp-page")


PAGE = Page(path="/inspection", title="四查", layout=layout, capability=Capability.MAP, order=37)
