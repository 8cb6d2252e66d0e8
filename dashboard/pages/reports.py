"""群众举报 ``/reports``: the grid manager's queue of public reports (随手拍) waiting in their scope.

Each report shows its code, time, description, contact, grid cell and point (a link to the map) and
its photos. **受理** registers a hazard (channel 群众举报) from it with the name, level and deadline the
manager enters and moves its photos to the hazard; **不予受理** needs a reason. Both go through
:mod:`geo.public_reports` in one transaction at the version the manager saw: when someone else acted
first, the card says 已被他人处理 and nothing is written. Capability ``public_queue``, checked again in
the callback. Ids are prefixed ``rep-``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from dash import MATCH, Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.components.photos import photo_thumbnails
from dashboard.pages import Page
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope, current_account
from domain import clock
from domain.hazard_flow import Actor, FlowError, can_report
from domain.labels import HAZARD_LEVEL
from geo.attachments import AttachmentInfo, report_attachments
from geo.db import connect
from geo.public_reports import (
    HazardFromReport,
    PendingReport,
    PublicReportError,
    ReportConflictError,
    ReportNotFoundError,
    confirm,
    dismiss,
    pending_reports,
)
from geo.risk_queries import current_rule

DEFAULT_DEADLINE_DAYS = 30  # the deadline offered when confirming; the manager may change it


def _id(kind: str, report_id: Any) -> dict[str, Any]:
    return {"type": f"rep-{kind}", "index": report_id}


def _title(description: str) -> str:
    first = description.strip().splitlines()[0] if description.strip() else ""
    return first[:40]


def _card(r: PendingReport, photos: list[AttachmentInfo], *, may_confirm: bool, today: date) -> html.Article:
    where: list[Any] = [html.Span(r.unit_name or "—", className="rep-unit")]
    if r.lat is not None and r.lon is not None:
        where.append(html.Span(f"（{r.lat:.5f}，{r.lon:.5f}）", className="rep-point"))
    if r.unit_code:
        where.append(dcc.Link("在地图上查看", href=f"/?unit={r.unit_code}", className="rep-map-link"))
    confirm_form = html.Details([
        html.Summary("受理并登记隐患"),
        html.Label("隐患名称", className="sg-label"),
        dcc.Input(id=_id("title", r.id), value=_title(r.description), maxLength=300, className="rep-input"),
        html.Label("隐患等级", className="sg-label"),
        dcc.RadioItems(id=_id("level", r.id), options=[{"label": v, "value": k} for k, v in HAZARD_LEVEL.items()],
                       value="general", inline=True, className="rep-level"),
        html.Label("整改期限", className="sg-label"),
        dcc.DatePickerSingle(id=_id("deadline", r.id), date=(today + timedelta(days=DEFAULT_DEADLINE_DAYS)).isoformat(),
                             min_date_allowed=today.isoformat(), display_format="YYYY-MM-DD"),
        html.Label("核实意见（可选）", className="sg-label"),
        dcc.Textarea(id=_id("note", r.id), maxLength=500, className="rep-textarea"),
        html.Button("确认受理", id=_id("confirm", r.id), n_clicks=0, className="rep-confirm"),
    ], className="rep-form", hidden=not may_confirm)
    dismiss_form = html.Details([
        html.Summary("不予受理"),
        html.Label("理由（必填）", className="sg-label"),
        dcc.Textarea(id=_id("reason", r.id), maxLength=500, className="rep-textarea",
                     placeholder="例如：经现场核实不存在该隐患 / 不属于安全生产监管范围"),
        html.Button("不予受理", id=_id("dismiss", r.id), n_clicks=0, className="rep-dismiss"),
    ], className="rep-form")
    return html.Article([
        html.Div([html.Strong(r.code, className="rep-code"),
                  html.Span(f"{r.created_at:%Y-%m-%d %H:%M}", className="rep-time"),
                  html.Span("待核实", className="rep-status")], className="rep-head"),
        html.P(r.description, className="rep-desc"),
        html.Div(["位置：", *where], className="rep-where"),
        html.Div(f"联系方式：{r.contact}", className="rep-contact") if r.contact else None,
        photo_thumbnails([p.id for p in photos], alt=f"举报 {r.code} 照片") if photos
        else html.Div("未附照片", className="rep-nophoto"),
        dcc.Store(id=_id("version", r.id), data=r.version),
        html.Div([confirm_form, dismiss_form], id=_id("actions", r.id), className="rep-actions"),
        html.Div(id=_id("result", r.id), className="rep-result", role="status"),
    ], className="rep-card", id=f"rep-card-{r.id}")


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Show the pending reports of ``account``'s scope, oldest first."""
    with connect() as conn:
        reports = pending_reports(conn, scope=account.scope)
        photos = report_attachments(conn, scope=account.scope, report_ids=[r.id for r in reports])
    may_confirm = can_report(_actor(account), enterprise_id=None)
    today = clock.today()
    cards = [_card(r, photos.get(r.id, []), may_confirm=may_confirm, today=today) for r in reports]
    return html.Div([
        html.H2(f"{account.record.scope_name} · 群众举报（随手拍）", id="rep-title"),
        html.P(f"待核实 {len(reports)} 条" if reports else "暂无待核实的群众举报。", id="rep-count",
               className="sg-note"),
        html.Div(cards, id="rep-list", className="rep-list"),
    ], className="rep-page")


def _actor(account: Account) -> Actor:
    r = account.record
    return Actor(r.username, r.role, r.scope_level, r.enterprise_id)


def _done(text: str, *, ok: bool) -> html.Div:
    return html.Div(text, className="rep-ok" if ok else "rep-refused")


def register(app: Dash) -> None:
    """Add the confirm / dismiss callback (one per card, pattern-matching ids)."""

    @app.callback(
        Output(_id("result", MATCH), "children"), Output(_id("actions", MATCH), "hidden"),
        Input(_id("confirm", MATCH), "n_clicks"), Input(_id("dismiss", MATCH), "n_clicks"),
        State(_id("version", MATCH), "data"), State(_id("title", MATCH), "value"),
        State(_id("level", MATCH), "value"), State(_id("deadline", MATCH), "date"),
        State(_id("note", MATCH), "value"), State(_id("reason", MATCH), "value"),
        prevent_initial_call=True,
    )
    def act(confirm_clicks: Any, dismiss_clicks: Any, version: Any, title: Any, level: Any, deadline: Any,
            note: Any, reason: Any) -> tuple[Any, bool]:
        scope = callback_scope(Capability.PUBLIC_QUEUE)
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not (confirm_clicks or dismiss_clicks):
            raise PreventUpdate
        report_id, seen = int(trigger["index"]), int(version)
        actor = _actor(current_account())
        as_of = clock.today()
        try:
            with connect() as conn:  # one transaction: everything or nothing
                if trigger["type"] == "rep-confirm":
                    wanted = HazardFromReport(title=str(title or ""), level=str(level or ""),
                                              deadline=date.fromisoformat(str(deadline)[:10]) if deadline else None,
                                              note=str(note or ""))
                    hazard = confirm(conn, scope=scope, actor=actor, report_id=report_id, version=seen,
                                     hazard=wanted, as_of=as_of, rule=current_rule(conn))
                    message = f"已受理，已登记隐患 {hazard.code}（可在隐患台账中查看）"
                elif trigger["type"] == "rep-dismiss":
                    dismiss(conn, scope=scope, actor=actor, report_id=report_id, version=seen,
                            reason=str(reason or ""))
                    message = "已标记为不予受理"
                else:
                    raise PreventUpdate
        except ReportConflictError as exc:
            return _done(exc.message, ok=False), True
        except ReportNotFoundError:
            return _done("未找到该举报，或不在您的管辖范围内", ok=False), True
        except (FlowError, PublicReportError) as exc:
            return _done(str(exc), ok=False), False
        return _done(message, ok=True), True


PAGE = Page(path="/reports", title="群众举报", layout=layout, register=register,
            capability=Capability.PUBLIC_QUEUE, order=45)
