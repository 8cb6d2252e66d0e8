"""四查 ``/inspection`` (units behind, enterprises due, my 双随机 tasks) and the form ``/inspection/new``.

The form (``?enterprise=CODE``) lives in :mod:`dashboard.inspections.form`. Units behind on 四查
(市季查、县月查、乡周查、村日查) come from the last refresh.

A unit is behind when neither the current period of its level's cadence nor the last closed one has an
inspection by its own level's people or, for villages and grid cells, a patrol (``domain.cadence``; the
refresh writes ``unit_cadence``). The same units are the command map's layer 四查落后单位 and the big
screen's count. Enterprises due (or overdue) for inspection follow the risk-based frequency
(``domain.inspection_rules``: 红 monthly, 橙 quarterly, 黄 half-yearly, 蓝 yearly, 两重点一重大 at least quarterly;
``app_config`` ``inspection_frequency``), read live. Ids are prefixed ``insp-``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from dash import dcc, html
from sqlalchemy import Connection

from dashboard.components.enterprise_file import file_href, risk_badge
from dashboard.inspections.form import layout as form_layout
from dashboard.inspections.form import register as register_form
from dashboard.pages import Page
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account
from domain import clock
from domain.cadence import CADENCE_LABEL, Cadence, period_label
from domain.inspection_rules import DUE_STATE, FrequencyRule, due_state
from domain.labels import LEVEL
from geo.draws import OpenItem, open_items_of
from geo.inspections_app import DUE_STATES, BehindUnit, DueEnterprise, due_list, inspection_settings, units_behind

DUE_LIMIT = 500  # enterprises listed at most (the count says how many there are)


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


def inspect_href(credit_code: str, draw_id: int | None = None) -> str:
    """URL of the inspection form of an enterprise (with a draw item preselected)."""
    query = {"enterprise": credit_code} | ({"draw": str(draw_id)} if draw_id is not None else {})
    return "/inspection/new?" + urlencode(query)


def my_draw_items(items: list[OpenItem]) -> html.Div:
    """Render the 双随机 items the inspector was drawn for and has not recorded yet."""
    if not items:
        return html.Div(html.P("没有待完成的双随机抽查任务。", className="sg-note"), id="insp-my-draws")
    rows = [html.Tr([html.Td(f"{i.draw_code} {i.title}"), html.Td(i.enterprise_name), html.Td(i.partner),
                     html.Td(dcc.Link("记录检查", href=inspect_href(i.credit_code, i.draw_id)))],
                    className="insp-draw-row") for i in items]
    return html.Div([html.P(f"待完成的双随机抽查任务 {len(items)} 项。", className="insp-count"),
                     html.Table([html.Thead(html.Tr([html.Th(h) for h in ("抽查", "企业", "同组人员", "")])),
                                 html.Tbody(rows)], className="sg-table")], id="insp-my-draws")


DUE_FILTERS = {"": "全部", "overdue": "已逾期", "never": "从未检查", "due_soon": "临期"}


def due_filter(state: str) -> html.Div:
    """Links narrowing the due list to one state (``/inspection?due=``), the current one marked."""
    links: list[Any] = []
    for key, label in DUE_FILTERS.items():
        href = "/inspection" + (f"?{urlencode({'due': key})}" if key else "")
        link_id = f"insp-due-filter-{key or 'all'}"
        links.append(html.B(label, id=link_id) if key == state else dcc.Link(label, href=href, id=link_id))
        links.append(" · ")
    return html.Div(["显示：", *links[:-1], "（地图图层“检查到期/逾期企业”显示同一名单）"], className="sg-note",
                    id="insp-due-filter")


def due_table(rows: list[DueEnterprise], total: int, overdue: int, rule: FrequencyRule, *,
              can_inspect: bool, state: str = "") -> html.Div:
    """Render the enterprises due or overdue for inspection by the risk-based frequency."""
    if not total:
        return html.Div(html.P("辖区内没有临期或逾期未检查的企业。", className="sg-note"), id="insp-due")
    if not rows:
        return html.Div([due_filter(state), html.P(f"没有{DUE_FILTERS[state]}的企业。", className="sg-note")],
                        id="insp-due")
    today = clock.today()
    body = []
    for r in rows:
        state = due_state(r.due, today, rule)
        go = dcc.Link("记录检查", href=inspect_href(r.credit_code)) if can_inspect else ""
        body.append(html.Tr([
            html.Td(dcc.Link(r.name, href=file_href(r.credit_code))), html.Td(r.unit_name or ""),
            html.Td(risk_badge(r.risk_level)),
            html.Td("是" if r.key_flags else ""), html.Td(f"每 {r.months} 个月"),
            html.Td(f"{r.last_at:%Y-%m-%d}" if r.last_at else "从未检查"),
            html.Td(f"{r.due:%Y-%m-%d}"), html.Td(DUE_STATE[state], className=f"insp-due-{state}"), html.Td(go),
        ], className="insp-due-row"))
    head = ["企业", "所在网格", "风险", "重点（两重点一重大/重点监管）", "频次", "最近检查", "应检日期", "状态", ""]
    more = [html.P(f"仅显示前 {len(rows)} 家。", className="sg-note")] if len(rows) >= DUE_LIMIT else []
    return html.Div([
        html.P(f"应检企业 {total} 家，其中逾期 {overdue} 家。", className="insp-count", id="insp-due-count"),
        due_filter(state),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)], className="sg-table"),
        *more,
    ], id="insp-due")


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the lists: units behind on 四查, an inspector's draw tasks, enterprises due (``?due=`` narrows them)."""
    state = query.get("due") or ""
    state = state if state in DUE_STATES else ""
    today = clock.today()
    can_inspect = account.can(Capability.INSPECT)

    def read(conn: Connection) -> tuple[Any, ...]:
        _, rule = inspection_settings(conn)
        mine = open_items_of(conn, scope=account.scope, username=account.username) if can_inspect else []
        return (units_behind(conn, scope=account.scope), mine,
                due_list(conn, scope=account.scope, rule=rule, today=today, limit=DUE_LIMIT, state=state or None),
                rule)

    (units, total), mine, (due, due_total, overdue), rule = run_read(read)
    return html.Div([
        html.H2("四查落实情况"),
        html.P("市级每季、县级每月、乡级每周、村级每日（周期可在规则设置中调整）；网格巡查计入村级和网格。"
               "依据最近一次统计刷新。", className="sg-note"),
        behind_table(units, total),
        html.P(dcc.Link("双随机抽查：抽取检查对象和执法人员，查看完成情况 →", href="/draws", id="insp-draws-link"))
        if account.can(Capability.DRAW) else None,
        html.Section([html.H3("我的双随机抽查任务"), my_draw_items(mine)]) if can_inspect else None,
        html.Section([
            html.H3("企业检查到期"),
            html.P("按风险等级确定检查频次：红色每月、橙色每季、黄色每半年、蓝色和未评估每年；"
                   "涉及两重点一重大的企业和网格明确的重点监管单位至少每季一次。", className="sg-note"),
            due_table(due, due_total, overdue, rule, can_inspect=can_inspect, state=state),
        ]),
    ], className="insp-page")


PAGE = Page(path="/inspection", title="四查", layout=layout, capability=Capability.MAP, order=37)
NEW_PAGE = Page(path="/inspection/new", title="检查记录", layout=form_layout, register=register_form,
                capability=Capability.INSPECT, in_menu=False, order=38)
