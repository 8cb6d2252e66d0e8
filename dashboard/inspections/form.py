"""检查记录 ``/inspection/new?enterprise=CODE[&draw=ID]``: an inspector records an enterprise inspection.

Kind (日常检查, 四不两直, 双随机 with the draw item the inspector was drawn for, 专项检查, 复查), date, a checklist
(those of the enterprise's industry first, ``domain.inspection_rules``), findings (the failed items, each a
reason to open the hazard report form ``/hazard/new?enterprise=CODE``), result (合格 / 责令整改 / 行政处罚 /
停产整顿) with the document number and amount, a note, 现场照片 and 签字文书 (photos, cleaned like the hazard
report's: ``dashboard.components.photos``). One request key per form render; stored and audited by
``geo.inspections_app.record_inspection``. Ids are prefixed ``insp-``.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any
from urllib.parse import urlencode

from dash import ALL, Dash, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.components.enterprise_file import file_href, risk_badge
from dashboard.components.photos import PhotoError, photo_picker, photos_from_picker
from dashboard.inspections.due import due_badge
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope, client_ip, current_account
from domain import clock
from domain.inspection_rules import ANSWER, APP_RESULTS, Checklist, InspectionRuleError, checklists_for
from domain.labels import ATTACHMENT_KIND, INSPECTION_KIND, INSPECTION_RESULT
from geo.db import connect
from geo.draws import open_items_of
from geo.inspections_app import (
    InspectionInputError,
    InspectionNotFoundError,
    NewInspection,
    inspected_enterprise,
    inspection_settings,
    record_inspection,
)

# The form's two photo pickers: attachment kind → the picker's action id (现场照片, 签字文书).
PICKERS = {"scene": "insp-scene", "document": "insp-document"}
_MISSING = "未找到该企业：请核对统一社会信用代码，或该企业不在您的数据范围内。"


def _key() -> str:
    return secrets.token_urlsafe(24)


def hazard_href(credit_code: str) -> str:
    """Return the URL of the hazard report form prefilled with an enterprise."""
    return "/hazard/new?" + urlencode({"enterprise": credit_code})


def checklist_items(checklist: Checklist | None) -> list[Any]:
    """Render the items of ``checklist`` as 符合/不符合/不涉及 choices (pattern-matching ids)."""
    if checklist is None:
        return [html.P("未选择检查表：只记录结论。", className="sg-note")]
    rows = [html.Li([
        html.Div([html.Span(i.id, className="insp-item-id"), " ", i.text,
                  "" if i.major else html.Span("（一般项）", className="insp-minor")], className="insp-item-text"),
        dcc.RadioItems(id={"type": "insp-answer", "item": i.id}, value="ok", inline=True, className="hz-radio",
                       options=[{"label": v, "value": k} for k, v in ANSWER.items()]),
    ], className="insp-item") for i in checklist.items]
    note = f"依据：{checklist.basis}。除注明“一般项”外，各项不符合即可能构成重大事故隐患。"
    return [html.P(note, className="sg-note"), html.Ol(rows, className="insp-items")]


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the form for ``?enterprise=`` in the account's scope (``?draw=`` preselects a draw item)."""
    code = (query.get("enterprise") or "").strip().upper()[:40]
    enterprise, items, (lists, frequency) = run_read(lambda conn: (
        inspected_enterprise(conn, scope=account.scope, credit_code=code) if code else None,
        open_items_of(conn, scope=account.scope, username=account.username, credit_codes=[code]) if code else [],
        inspection_settings(conn)))
    if enterprise is None:
        return html.Div([html.H2("检查记录"), html.P(_MISSING, className="sg-alert", id="insp-missing"),
                         html.P("从企业档案（一企一档）或双随机任务进入本页。", className="sg-note")])
    offered = checklists_for(enterprise.industry, lists)
    draw_options = [{"label": f"{i.draw_code} {i.title}（同组：{i.partner}）", "value": i.draw_id} for i in items]
    raw_draw = query.get("draw") or ""
    draw = int(raw_draw) if raw_draw.isdigit() and int(raw_draw) in {i.draw_id for i in items} else None
    kind = "double_random" if draw is not None else "routine"
    return html.Div([
        html.H2("检查记录"),
        html.Div([dcc.Link(html.B(enterprise.name), href=file_href(enterprise.credit_code)), " ",
                  risk_badge(enterprise.risk_level),
                  f" {enterprise.industry or '行业未登记'} · {enterprise.unit_name or ''}",
                  " · ", due_badge(enterprise.risk_level, enterprise.key_flags, enterprise.last_at, frequency,
                                   element_id="insp-next-due")], className="sg-note", id="insp-enterprise-line"),
        dcc.Store(id="insp-enterprise", data=enterprise.credit_code),
        dcc.Store(id="insp-key", data=_key()),
        html.Div([
            html.Div([html.Label("检查方式", className="sg-label"),
                      dcc.RadioItems(id="insp-kind", value=kind, inline=True, className="hz-radio",
                                     options=[{"label": v, "value": k} for k, v in INSPECTION_KIND.items()])],
                     className="hz-field"),
            html.Div([html.Label("双随机抽查任务", htmlFor="insp-draw", className="sg-label"),
                      dcc.Dropdown(id="insp-draw", options=draw_options, value=draw,
                                   placeholder="本企业没有分派给您的未完成抽查任务" if not items else "选择抽查任务")],
                     className="hz-field", id="insp-draw-field"),
            html.Div([html.Label("检查日期", htmlFor="insp-date", className="sg-label"),
                      dcc.DatePickerSingle(id="insp-date", date=clock.today().isoformat(), display_format="YYYY-MM-DD",
                                           max_date_allowed=clock.today().isoformat(), className="hz-date")],
                     className="hz-field"),
            html.Div([html.Label("检查表", htmlFor="insp-checklist", className="sg-label"),
                      dcc.Dropdown(id="insp-checklist", value=offered[0].id if offered else None,
                                   options=[{"label": c.title, "value": c.id} for c in offered],
                                   placeholder="不使用检查表")], className="hz-field"),
            html.Div(checklist_items(offered[0] if offered else None), id="insp-items"),
            html.Div([html.Label("检查结果", className="sg-label"),
                      dcc.RadioItems(id="insp-result", value="passed", inline=True, className="hz-radio",
                                     options=[{"label": INSPECTION_RESULT[r], "value": r} for r in APP_RESULTS])],
                     className="hz-field"),
            html.Div([html.Label("执法文书编号（责令整改、行政处罚、停产整顿必填）", htmlFor="insp-doc",
                                 className="sg-label"),
                      dcc.Input(id="insp-doc", type="text", maxLength=60, className="hz-input",
                                placeholder="如：（许）应急责改〔2026〕12号")], className="hz-field"),
            html.Div([html.Label("罚款金额（元，行政处罚必填）", htmlFor="insp-penalty", className="sg-label"),
                      dcc.Input(id="insp-penalty", type="text", inputMode="numeric", maxLength=14,
                                className="hz-input")], className="hz-field"),
            html.Div([html.Label("检查情况", htmlFor="insp-note", className="sg-label"),
                      dcc.Textarea(id="insp-note", maxLength=1000, className="hz-textarea")], className="hz-field"),
            *[photo_picker(action, ATTACHMENT_KIND[kind]) for kind, action in PICKERS.items()],
            html.Button("提交检查记录", id="insp-submit", n_clicks=0, className="hz-go hz-primary"),
        ], className="hz-actions insp-form"),
        html.Div(id="insp-message", role="status"),
    ], className="insp-page")


def register(app: Dash) -> None:
    """Add the checklist and submit callbacks."""

    @app.callback(Output("insp-items", "children"), Input("insp-checklist", "value"), prevent_initial_call=True)
    def show_items(list_id: Any) -> list[Any]:
        callback_scope(Capability.INSPECT)
        lists = run_read(lambda conn: inspection_settings(conn)[0])
        return checklist_items(lists.get(list_id) if isinstance(list_id, str) else None)

    @app.callback(
        Output("insp-message", "children"), Output("insp-key", "data"),
        Input("insp-submit", "n_clicks"),
        State("insp-enterprise", "data"), State("insp-kind", "value"), State("insp-draw", "value"),
        State("insp-date", "date"), State("insp-checklist", "value"),
        State({"type": "insp-answer", "item": ALL}, "value"), State({"type": "insp-answer", "item": ALL}, "id"),
        State("insp-result", "value"), State("insp-doc", "value"), State("insp-penalty", "value"),
        State("insp-note", "value"), State("insp-key", "data"),
        *[State({"type": "hz-in", "action": action, "field": "photos"}, "value") for action in PICKERS.values()],
        prevent_initial_call=True,
    )
    def submit(n: int | None, credit: Any, kind: Any, draw: Any, day: Any, list_id: Any, answers: Any, ids: Any,
               result: Any, doc: Any, penalty: Any, note: Any, key: Any, *picked: Any) -> tuple[Any, Any]:
        scope = callback_scope(Capability.INSPECT)
        account = current_account()
        if not n:
            raise PreventUpdate
        try:
            inspected_at = date.fromisoformat(str(day or ""))
        except ValueError:
            return html.P("请填写检查日期", className="sg-alert"), no_update
        given = {str(i.get("item")): str(a) for i, a in zip(ids or [], answers or [], strict=False)
                 if isinstance(i, dict)}
        new = NewInspection(
            credit_code=str(credit or ""), kind=str(kind or ""), result=str(result or ""),
            request_key=str(key or ""), inspected_at=inspected_at,
            checklist_id=list_id if isinstance(list_id, str) and list_id else None,
            answers=given if isinstance(list_id, str) and list_id else {},
            document_no=str(doc or ""), penalty_yuan=str(penalty or "").strip(), note=str(note or ""),
            draw_id=draw if isinstance(draw, int) and kind == "double_random" else None)
        try:
            files = [(kind_of, photo) for kind_of, value in zip(PICKERS, picked, strict=False)
                     for photo in photos_from_picker(value)]
        except PhotoError as refused:
            return html.P(str(refused), className="sg-alert", id="insp-photo-refused"), no_update
        try:
            with connect() as conn:
                lists = inspection_settings(conn)[0]
                stored, created = record_inspection(conn, scope=scope, username=account.username, new=new,
                                                    today=clock.today(), checklists=lists, ip=client_ip(),
                                                    attachments=files)
        except InspectionNotFoundError:
            return html.P("该企业或抽查任务不在您的负责范围内", className="sg-alert"), no_update
        except (InspectionInputError, InspectionRuleError) as exc:
            return html.P(str(exc), className="sg-alert"), no_update
        head = (f"已记录检查 {stored.code}：{INSPECTION_KIND[stored.kind]}，{INSPECTION_RESULT[stored.result]}。"
                if created else "该检查记录已提交过。")
        parts: list[Any] = [html.P(head, className="sg-ok", id="insp-done")]
        if created and files:
            counts = "、".join(f"{ATTACHMENT_KIND[k]} {n} 张" for k in PICKERS
                              if (n := sum(1 for kind_of, _ in files if kind_of == k)))
            parts.append(html.P(f"附件：{counts}。", className="sg-note", id="insp-attached"))
        if stored.findings:
            parts += [
                html.P(f"发现问题 {len(stored.findings)} 项，请逐项登记隐患：", className="sg-note"),
                html.Ul([html.Li(f"{f['item']} {f['text']}" + ("（重大事故隐患判定项）" if f.get("major") else ""))
                         for f in stored.findings], id="insp-findings"),
            ]
        parts.append(dcc.Link("登记隐患 →", href=hazard_href(stored.credit_code), id="insp-hazard-link",
                              className="hz-go"))
        return html.Div(parts), _key()
