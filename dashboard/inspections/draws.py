"""双随机一公开: ``/draws`` for leaders, the published list ``/draws/public?id=N`` and its xlsx.

``/draws``: filter, N, draw, see the result, redraw with a reason. The published list (一公开) is a page and
``/export/draws/<id>.xlsx``. Ids are prefixed ``draw-``.

The rule is ``domain.draws``, storage ``geo.draws``. An item is done when one of its two inspectors records a
双随机 inspection of it on ``/inspection/new`` (``inspections.draw_id``); the list shows the completion.
"""

from __future__ import annotations

import io
import secrets
from typing import Any
from urllib.parse import urlencode

from dash import Dash, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate
from flask import Response, send_file
from openpyxl import Workbook
from sqlalchemy import Connection

from dashboard.components.enterprise_file import file_href, risk_badge
from dashboard.components.xlsx import XLSX_MIME, fill_sheet, workbook_bytes
from dashboard.errors import NotFoundError
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope, client_ip, current_account, scoped_route
from domain import clock
from domain.draws import DrawError, DrawOptions
from domain.labels import INDUSTRIES, INSPECTION_RESULT, LEVEL, RISK_LEVEL
from geo.db import connect
from geo.draws import (
    UNASSESSED,
    DrawInputError,
    DrawItemRow,
    DrawNotFoundError,
    DrawSummary,
    PoolFilter,
    area_choices,
    draw_detail,
    draws_in_scope,
    inspector_accounts,
    make_draw,
    redraw,
)
from geo.users import audit

COLOUR_OPTIONS = [{"label": v, "value": k} for k, v in RISK_LEVEL.items()] + [{"label": "未评估", "value": UNASSESSED}]
WEIGHTING = {"none": "不加权（等概率）", "risk": "按风险加权（红4·橙3·黄2·蓝1）"}
_MISSING = "未找到该抽查，或不在您的数据范围内。"
PUBLIC_HEADER = ("序号", "企业名称", "统一社会信用代码", "所在网格", "行业", "执法检查人员", "检查日期", "检查结果")


def _data(**values: Any) -> dict[str, Any]:
    return {f"data-{k}": v for k, v in values.items()}


def _key() -> str:
    return secrets.token_urlsafe(24)


def public_href(draw_id: int) -> str:
    """URL of a draw's published list (一公开)."""
    return "/draws/public?" + urlencode({"id": draw_id})


def xlsx_href(draw_id: int) -> str:
    """URL of a draw's published list as xlsx."""
    return f"/export/draws/{draw_id}.xlsx"


def _status(d: DrawSummary) -> str:
    if d.superseded:
        return "已重新抽取（作废）"
    if d.items and d.done == d.items:
        return "已完成"
    return "进行中"


def draw_list(draws: list[DrawSummary]) -> html.Div:
    """Render the draws of the scope, newest first, with their completion."""
    if not draws:
        return html.Div(html.P("尚无抽查记录。", className="sg-note"), id="draw-list")
    head = ["编号", "名称", "区域", "抽取时间", "完成", "状态"]
    rows = [html.Tr([
        html.Td(dcc.Link(d.code, href="/draws?" + urlencode({"id": d.id}))), html.Td(d.title), html.Td(d.area_name),
        html.Td(f"{d.created_at.astimezone(clock.zone()):%Y-%m-%d %H:%M}"), html.Td(f"{d.done}/{d.items}"),
        html.Td(_status(d)),
    ], className="draw-row" + (" draw-superseded" if d.superseded else ""), **_data(code=d.code)) for d in draws]
    return html.Div([html.H3("抽查记录"), html.Table([html.Thead(html.Tr([html.Th(h) for h in head])),
                                                  html.Tbody(rows)], className="sg-table")], id="draw-list")


def _inspectors(r: DrawItemRow) -> str:
    return f"{r.inspector1_name}、{r.inspector2_name}"


def _filters_text(d: DrawSummary) -> str:
    f, o = d.filters, d.options
    parts = [f"区域 {d.area_name}",
             "行业 " + ("、".join(f.get("industries") or []) or "全部"),
             "风险 " + ("、".join(RISK_LEVEL.get(c, "未评估") for c in f.get("colours") or []) or "全部"),
             f"抽取 {o.get('n')} 家", WEIGHTING.get(str(o.get("weighting")), "")]
    if o.get("min_high_share"):
        parts.append(f"红橙不少于 {float(o['min_high_share']) * 100:.0f}%")
    if f.get("avoid"):
        parts.append("回避 " + "、".join(f["avoid"]))
    return " · ".join(parts)


def draw_view(d: DrawSummary, items: list[DrawItemRow], *, can_redraw: bool) -> html.Div:
    """Render one draw: what was drawn from, the seed, the items with their completion, redraw and the 一公开 links."""
    rows = [html.Tr([
        html.Td(r.seq), html.Td(dcc.Link(r.enterprise_name, href=file_href(r.credit_code))),
        html.Td(risk_badge(r.risk_level)), html.Td(r.industry or "—"), html.Td(r.unit_name or "—"),
        html.Td(_inspectors(r)),
        html.Td(f"{r.inspected_at:%Y-%m-%d} {INSPECTION_RESULT.get(r.result or '', '')}" if r.inspected_at
                else "未检查", className="draw-done" if r.inspected_at else "draw-open"),
    ], className="draw-item", **_data(code=r.credit_code)) for r in items]
    unstaffed = d.options.get("unstaffed") or 0
    facts = [
        html.P(_filters_text(d), className="sg-note"),
        html.P(f"可抽企业 {d.pool_size} 家"
               + (f"（另有 {unstaffed} 家可抽调执法人员不足两人，未纳入）" if unstaffed else "")
               + f" · 执法人员 {d.inspector_pool} 人 · 随机种子 {d.seed} · 校验码 {d.options.get('pool_digest', '—')}"
               + f" · {d.created_by} 抽取于 {d.created_at.astimezone(clock.zone()):%Y-%m-%d %H:%M}",
               className="sg-note"),
    ]
    if d.replaces_code:
        facts.append(html.P(f"重新抽取，替代 {d.replaces_code}；理由：{d.reason}", className="sg-note draw-reason"))
    if d.superseded:
        facts.append(html.P("本次抽查已被重新抽取，作废（记录保留）。", className="sg-alert"))
    redraw_form = None
    if can_redraw and not d.superseded:
        redraw_form = html.Details([
            html.Summary("重新抽取"),
            html.P("重新抽取将按相同条件以新的随机种子生成新的抽查记录，本次记录保留并标注作废。", className="sg-note"),
            dcc.Textarea(id="draw-redraw-reason", maxLength=500, placeholder="重新抽取的理由（必填）",
                         className="hz-textarea"),
            html.Button("确认重新抽取", id="draw-redraw", n_clicks=0, className="hz-go"),
            html.Div(id="draw-redraw-message", role="status"),
            dcc.Store(id="draw-redraw-key", data=_key()), dcc.Store(id="draw-id", data=d.id),
        ], className="draw-redraw")
    return html.Div([
        html.H3([f"{d.code} {d.title} ", html.Small(f"完成 {d.done}/{d.items}", className="draw-progress",
                                                    id="draw-progress")]),
        *facts,
        html.Div([dcc.Link("公开名单（一公开）", href=public_href(d.id), id="draw-public-link"), " · ",
                  html.A("导出 xlsx", href=xlsx_href(d.id), id="draw-xlsx-link")], className="sg-note"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in
                                        ("序号", "企业", "风险", "行业", "网格", "执法检查人员", "检查情况")])),
                    html.Tbody(rows)], className="sg-table", id="draw-items"),
        redraw_form,
    ], className="draw-view", id="draw-view", **_data(id=d.id))


def _form(account: Account, area: str | None) -> html.Div:
    areas, people = run_read(lambda conn: (area_choices(conn, scope=account.scope), _inspector_names(conn, account)))
    chosen = area if area in {a[0] for a in areas} else (areas[0][0] if areas else None)
    return html.Div([
        html.Div([html.Label("抽查任务名称", htmlFor="draw-title", className="sg-label"),
                  dcc.Input(id="draw-title", type="text", maxLength=100, className="hz-input",
                            value=f"{clock.today():%Y年%m月}双随机抽查")], className="hz-field"),
        html.Div([html.Label("区域", htmlFor="draw-area", className="sg-label"),
                  dcc.Dropdown(id="draw-area", clearable=False, value=chosen,
                               options=[{"label": "　" * (lvl - areas[0][2]) + f"{name}（{LEVEL.get(lvl, '')}）",
                                         "value": code} for code, name, lvl in areas])], className="hz-field"),
        html.Div([html.Label("行业（不选为全部）", htmlFor="draw-industries", className="sg-label"),
                  dcc.Dropdown(id="draw-industries", multi=True, options=list(INDUSTRIES))], className="hz-field"),
        html.Div([html.Label("风险等级（不选为全部）", className="sg-label"),
                  dcc.Checklist(id="draw-colours", options=COLOUR_OPTIONS, value=[], inline=True,
                                className="hz-radio")], className="hz-field"),
        html.Div([html.Label("抽取数量", htmlFor="draw-n", className="sg-label"),
                  dcc.Input(id="draw-n", type="number", min=1, max=1000, step=1, value=10, className="hz-input")],
                 className="hz-field"),
        html.Div([html.Label("抽取方式", className="sg-label"),
                  dcc.RadioItems(id="draw-weighting", value="none", className="hz-radio",
                                 options=[{"label": v, "value": k} for k, v in WEIGHTING.items()])],
                 className="hz-field"),
        html.Div([html.Label("红、橙企业最低占比（%）", htmlFor="draw-share", className="sg-label"),
                  dcc.Input(id="draw-share", type="number", min=0, max=100, step=5, value=0, className="hz-input")],
                 className="hz-field"),
        html.Div([html.Label("回避人员（不参与本次抽取）", htmlFor="draw-avoid", className="sg-label"),
                  dcc.Dropdown(id="draw-avoid", multi=True, options=people)], className="hz-field"),
        html.P("执法人员从辖区覆盖该企业的执法检查人员中随机抽取两名，同一次抽取中尽量不重复；"
               "企业所在网格及村（社区）的网格责任人不参与该企业的抽取。", className="sg-note"),
        html.Button("抽取", id="draw-submit", n_clicks=0, className="hz-go hz-primary"),
        dcc.Store(id="draw-key", data=_key()),
    ], className="draw-form hz-actions")


def _inspector_names(conn: Connection, account: Account) -> list[dict[str, str]]:
    return [{"label": f"{name}（{user}）", "value": user}
            for user, name in inspector_accounts(conn, scope=account.scope)]


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build /draws: the form (``?area=CODE`` preselects the area) and the list, or one draw (``?id=``)."""
    raw = (query.get("id") or "").strip()
    if raw.isascii() and raw.isdigit() and int(raw) < 2**31:
        found = run_read(lambda conn: draw_detail(conn, scope=account.scope, draw_id=int(raw)))
        if found is None:
            return html.Div([html.H2("双随机抽查"), html.P(_MISSING, className="sg-alert"),
                             dcc.Link("返回", href="/draws")])
        return html.Div([html.H2("双随机抽查"), dcc.Link("← 全部抽查", href="/draws"),
                         draw_view(*found, can_redraw=account.can(Capability.DRAW))], className="draw-page")
    draws = run_read(lambda conn: draws_in_scope(conn, scope=account.scope))
    return html.Div([
        html.H2("双随机抽查"),
        html.P("随机抽取检查对象、随机选派执法检查人员，抽查结果公开。每次抽取都留存条件、随机种子和结果，可复核。",
               className="sg-note"),
        _form(account, query.get("area")),
        html.Div(id="draw-message", role="status"),
        draw_list(draws),
    ], className="draw-page")


def public_layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the published list (一公开) of ``?id=``: the enterprises, inspectors and results in the scope."""
    raw = (query.get("id") or "").strip()
    found = None
    if raw.isascii() and raw.isdigit() and int(raw) < 2**31:
        found = run_read(lambda conn: draw_detail(conn, scope=account.scope, draw_id=int(raw)))
    if found is None:
        return html.Div([html.H2("双随机抽查公开名单"), html.P(_MISSING, className="sg-alert")])
    d, items = found
    rows = [html.Tr([html.Td(c) for c in _public_row(r)]) for r in items]
    return html.Div([
        html.H2(f"双随机抽查公开名单 · {d.title}"),
        html.P(f"{d.code} · {d.area_name} · 抽取于 {d.created_at.astimezone(clock.zone()):%Y-%m-%d} · "
               f"完成 {d.done}/{d.items}" + (" · 本次抽查已重新抽取，作废" if d.superseded else ""),
               className="sg-note"),
        html.A("导出 xlsx", href=xlsx_href(d.id), id="draw-public-xlsx", className="hz-go"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in PUBLIC_HEADER])), html.Tbody(rows)],
                   className="sg-table", id="draw-public"),
    ], className="draw-page")


def _public_row(r: DrawItemRow) -> list[Any]:
    return [r.seq, r.enterprise_name, r.credit_code, r.unit_name or "", r.industry or "", _inspectors(r),
            f"{r.inspected_at:%Y-%m-%d}" if r.inspected_at else "", INSPECTION_RESULT.get(r.result or "", "未检查")]


def export_draw(draw_id: int) -> Response:
    """Send the published list of a draw as xlsx (items in the caller's scope); audited."""
    account = current_account()
    with connect() as conn:
        found = draw_detail(conn, scope=account.scope, draw_id=draw_id)
        if found is None:
            raise NotFoundError(_MISSING)
        d, items = found
        audit(conn, username=account.username, action="export_draw", ip=client_ip(),
              detail={"draw_id": d.id, "code": d.code, "rows": len(items), "scope": account.record.scope_code})
    wb = Workbook()
    ws = wb.active
    ws.title = "双随机抽查公开名单"
    fill_sheet(ws, PUBLIC_HEADER, (_public_row(r) for r in items))
    name = f"双随机抽查公开名单_{d.code}.xlsx"
    wb.properties.title = f"{d.title}（{d.code}）"
    return send_file(io.BytesIO(workbook_bytes(wb)), as_attachment=True, download_name=name, mimetype=XLSX_MIME)


def _share(value: Any) -> float:
    try:
        return float(value or 0) / 100
    except (TypeError, ValueError):
        return -1.0


def register(app: Dash) -> None:
    """Add the draw and redraw callbacks and the xlsx route."""
    app.server.add_url_rule("/export/draws/<int:draw_id>.xlsx", "export_draw", scoped_route()(export_draw))

    @app.callback(Output("draw-message", "children"), Output("draw-key", "data"), Output("draw-list", "children"),
                  Input("draw-submit", "n_clicks"),
                  State("draw-title", "value"), State("draw-area", "value"), State("draw-industries", "value"),
                  State("draw-colours", "value"), State("draw-n", "value"), State("draw-weighting", "value"),
                  State("draw-share", "value"), State("draw-avoid", "value"), State("draw-key", "data"),
                  prevent_initial_call=True)
    def submit(n: int | None, title: Any, area: Any, industries: Any, colours: Any, count: Any, weighting: Any,
               share: Any, avoid: Any, key: Any) -> tuple[Any, Any, Any]:
        scope = callback_scope(Capability.DRAW)
        account = current_account()
        if not n:
            raise PreventUpdate
        try:
            filters = PoolFilter(str(area or ""), tuple(str(i) for i in industries or ()),
                                 tuple(str(c) for c in colours or ()), tuple(str(a) for a in avoid or ()))
            options = DrawOptions(n=int(count or 0), weighting=str(weighting or ""), min_high_share=_share(share))
            with connect() as conn:
                draw_id, _ = make_draw(conn, scope=scope, username=account.username, title=str(title or ""),
                                       filters=filters, options=options, request_key=str(key or ""), ip=client_ip())
                found = draw_detail(conn, scope=scope, draw_id=draw_id)
                draws = draws_in_scope(conn, scope=scope)
        except DrawNotFoundError:
            return html.P("所选区域不在您的数据范围内", className="sg-alert"), no_update, no_update
        except (DrawError, DrawInputError, ValueError) as exc:
            return html.P(str(exc) if isinstance(exc, DrawError | DrawInputError) else "抽取数量应为整数",
                          className="sg-alert"), no_update, no_update
        if found is None:  # pragma: no cover - just stored in scope
            raise PreventUpdate
        d, items = found
        done = html.Div([html.P(f"已抽取 {d.items} 家企业（{d.code}）。", className="sg-ok"),
                         draw_view(d, items, can_redraw=False)])
        return done, _key(), draw_list(draws).children

    @app.callback(Output("draw-redraw-message", "children"), Output("draw-redraw-key", "data"),
                  Input("draw-redraw", "n_clicks"), State("draw-id", "data"), State("draw-redraw-reason", "value"),
                  State("draw-redraw-key", "data"), prevent_initial_call=True)
    def resample(n: int | None, draw_id: Any, reason: Any, key: Any) -> tuple[Any, Any]:
        scope = callback_scope(Capability.DRAW)
        account = current_account()
        if not n or not isinstance(draw_id, int):
            raise PreventUpdate
        try:
            with connect() as conn:
                new_id, _ = redraw(conn, scope=scope, username=account.username, draw_id=draw_id,
                                   reason=str(reason or ""), request_key=str(key or ""), ip=client_ip())
        except DrawNotFoundError:
            return html.P("该抽查不在您的数据范围内", className="sg-alert"), no_update
        except (DrawError, DrawInputError) as exc:
            return html.P(str(exc), className="sg-alert"), no_update
        return html.P(["已重新抽取：", dcc.Link("查看新的抽查 →", href="/draws?" + urlencode({"id": new_id}),
                                          id="draw-redraw-link")], className="sg-ok"), _key()
