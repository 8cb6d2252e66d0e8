"""The hazard page, the report form and 待办, built from the reads of :mod:`geo.hazard_view` and :mod:`geo.todo`.

The hazard page shows only the actions :func:`domain.hazard_flow.allowed_actions` grants the account now,
each with the inputs it needs; its inputs are ``{"type": "hz-in", "action": …, "field": …}`` and its buttons
``{"type": "hz-go", "action": …}``, inside one fieldset that is disabled while an action is pending.
Photos (report form, 登记整改情况, 提交验收) are picked with :func:`photo_picker`: camera and album inputs
whose files the browser shrinks (``assets/hazard_photos.js``) into the hidden input ``{"type": "hz-in",
"action": …, "field": "photos"}`` (JSON), read with the action's other inputs.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from dashboard.components.photos import photo_settings, photo_thumbnails
from dashboard.hazard.access import actor_of
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account
from domain import clock
from domain.hazard_flow import ACTION, FIVE_IN_PLACE, RULES, allowed_actions, can_report
from domain.labels import (
    ATTACHMENT_KIND,
    HAZARD_CHANNEL,
    HAZARD_LEVEL,
    HAZARD_STATUS,
    SUPERVISION_LEVEL,
    USER_ROLE,
    Vocab,
)
from geo.hazard_actions import PLAN_COLUMNS
from geo.hazard_view import HazardEventRow, HazardView, ReportPlace
from geo.rule_settings import hazard_limits

# Labels of what an action may enter (event details and form fields).
FIELD_LABEL = Vocab({**dict(FIVE_IN_PLACE.items()), "resp_person_phone": "责任人电话", "new_deadline": "新整改期限",
                     "supervision_deadline": "督办期限", "channel": "来源渠道"})
TODO_REASON = Vocab({"verify": "待验收", "rectify": "待整改", "supervised": "新挂牌督办", "overdue": "已逾期"})
NOT_FOUND = "未找到该隐患，或该隐患不在本账户的数据范围内。"
_PLAN_ACTIONS = ("record", "submit")
TODO_PAGE_SIZE = 50  # rows of the 待办 list a page
TODO_COLUMNS = ("事项", "隐患编号", "隐患", "等级", "状态", "整改期限", "企业", "网格")
_TEXTAREAS = ("measures", "contingency_plan")
PHOTO_KINDS = ("before", "after")  # what 登记整改情况 / 提交验收 photos show; the default follows the action
DEFAULT_PHOTO_KIND = {"record": "before", "submit": "after"}


def _data(**values: Any) -> dict[str, Any]:
    """Return ``data-*`` attributes for a component."""
    return {f"data-{k}": v for k, v in values.items()}


def _aria_hidden() -> dict[str, Any]:
    return {"aria-hidden": "true"}


def hazard_href(hazard_id: int) -> str:
    """Return the URL of a hazard's page."""
    return f"/hazard?id={hazard_id}"


def _d(value: Any) -> str:
    if isinstance(value, datetime):  # sessions run in the business time zone (geo.settings)
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    return "—" if value is None else str(value)


def _value(key: str, value: Any) -> str:
    if key == "funds_yuan" and value is not None:
        return f"{Decimal(str(value)):,.2f} 元"
    if key == "channel":
        return HAZARD_CHANNEL.get(str(value), str(value))
    return _d(value) if not isinstance(value, str) else value


def _badges(h: HazardView, today: date) -> list[Any]:
    out = [html.Span(HAZARD_LEVEL.get(h.level, h.level), className=f"hz-badge hz-level-{h.level}"),
           html.Span(HAZARD_STATUS.get(h.status, h.status), className=f"hz-badge hz-status-{h.status}",
                     id="hz-status")]
    if h.supervision_level:
        out.append(html.Span(SUPERVISION_LEVEL[h.supervision_level], className="hz-badge hz-supervised",
                             id="hz-supervised"))
    if h.status != "closed" and h.deadline is not None and h.deadline < today:
        out.append(html.Span(f"逾期 {(today - h.deadline).days} 天", className="hz-badge hz-overdue"))
    return out


def _facts(h: HazardView, account: Account) -> html.Dl:
    enterprise: Any = h.enterprise_name or "—"
    if h.enterprise_code and account.can(Capability.ENTERPRISE_FILE):
        enterprise = dcc.Link(h.enterprise_name or h.enterprise_code, href=f"/enterprise?code={h.enterprise_code}")
    place: list[Any] = [h.unit_name]
    if account.can(Capability.MAP):
        place += [" · ", dcc.Link("在地图上查看", href="/?" + urlencode({"unit": h.unit_code,
                                                                     "focus": f"hazard:{h.code}"}))]
    supervision = "—"
    if h.supervision_level:
        supervision = f"{SUPERVISION_LEVEL[h.supervision_level]}（{_d(h.supervision_at)} 起，督办期限 " \
                      f"{_d(h.supervision_deadline)}）"
    rows = [("隐患编号", h.code), ("所属企业", enterprise), ("所在网格", place),
            ("来源渠道", HAZARD_CHANNEL.get(h.channel or "", "—")), ("登记人", h.reporter or "—"),
            ("发现日期", _d(h.found_at)), ("整改期限", f"{_d(h.deadline)}（已延期 {h.extensions} 次）"
                                               if h.extensions else _d(h.deadline)),
            ("挂牌督办", supervision), ("验收日期", _d(h.verified_at)), ("销号日期", _d(h.closed_at)),
            ("隐患描述", h.description or "—")]
    if h.photos:
        rows.append(("照片", photo_groups(h)))
    return html.Dl([part for label, value in rows for part in (html.Dt(label), html.Dd(value))],
                   className="hz-facts", id="hz-facts")


def five_in_place(h: HazardView) -> html.Ul:
    """Build the 五到位 checklist: each item present (✓) or missing (✗)."""
    values = {"resp_person": h.resp_person, "measures": h.measures, "deadline": h.deadline,
              "funds_yuan": h.funds_yuan, "contingency_plan": h.contingency_plan}
    items = []
    for key, label in FIVE_IN_PLACE.items():
        value = values.get(key)
        present = value is not None and not (isinstance(value, str) and not value.strip())
        shown = _value(key, value) if present else "缺失"
        if key == "resp_person" and present and h.resp_person_phone:
            shown += f"（{h.resp_person_phone}）"
        items.append(html.Li([html.Span("✓" if present else "✗", className="hz-mark", **_aria_hidden()),
                              html.B(label), html.Span(shown, className="hz-five-value")],
                             className="hz-five-ok" if present else "hz-five-missing",
                             title="已落实" if present else "缺失", **_data(key=key)))
    return html.Ul(items, className="hz-five", id="hz-five")


def photo_groups(h: HazardView) -> html.Div:
    """Show the hazard's photos as thumbnails grouped by kind (隐患照片, 整改前, 整改后, 整改材料), in stored order."""
    kinds = [k for k in ATTACHMENT_KIND if any(p.kind == k for p in h.photos)]
    return html.Div([html.Div([html.Span(ATTACHMENT_KIND[k], className="hz-photo-kind"),
                               photo_thumbnails([p.id for p in h.photos if p.kind == k], alt=ATTACHMENT_KIND[k])],
                              className="hz-photo-group", **_data(kind=k)) for k in kinds],
                    className="hz-photos", id="hz-photos")


def _event(ev: HazardEventRow, photo_ids: list[int]) -> html.Li:
    src = HAZARD_STATUS.get(ev.from_status or "", "新建") if ev.from_status else "新建"
    what = "登记隐患" if ev.action == "report" else ACTION.get(ev.action, ev.action) if ev.action else "台账导入"
    who = ev.by_name or ev.by or "—"
    role = USER_ROLE.get(ev.by_role or "", "")
    details = [html.Li([html.B(FIELD_LABEL.get(k, k) + "："), _value(k, v)]) for k, v in (ev.detail or {}).items()]
    return html.Li([
        html.Div([html.Span(_d(ev.at), className="hz-when"), html.B(what, className="hz-what"),
                  html.Span(f"{src} → {HAZARD_STATUS.get(ev.to_status, ev.to_status)}", className="hz-move"),
                  html.Span(f"{who}{f'（{role}）' if role else ''}", className="hz-who")], className="hz-event-head"),
        html.Div(ev.note, className="hz-note") if ev.note else None,
        html.Ul(details, className="hz-entered") if details else None,
        photo_thumbnails(photo_ids, alt=f"{what}照片") if photo_ids else None,
    ], className=f"hz-event hz-event-{ev.action or 'ledger'}", **_data(action=ev.action or ""))


def timeline(h: HazardView) -> html.Ol | html.Div:
    """Build the hazard's timeline, oldest event first."""
    if not h.events:
        return html.Div("暂无办理记录（台账导入的隐患）。", className="sg-note", id="hz-timeline")
    return html.Ol([_event(ev, h.event_photos(ev.id)) for ev in h.events], className="hz-timeline", id="hz-timeline")


def _input(action: str, field: str, label: str, *, value: Any = None, kind: str = "text", required: bool = False,
           ) -> html.Div:  # kind: text, textarea or date
    id_ = {"type": "hz-date" if kind == "date" else "hz-in", "action": action, "field": field}
    control: Any
    if kind == "date":
        control = dcc.DatePickerSingle(id=id_, date=value, display_format="YYYY-MM-DD", placeholder="选择日期",
                                       min_date_allowed=clock.today().isoformat(), className="hz-date")
    elif kind == "textarea":
        control = dcc.Textarea(id=id_, value=value or "", className="hz-textarea", maxLength=2000)
    else:
        control = dcc.Input(id=id_, value=value if value is not None else "", type="text", className="hz-input",
                            maxLength=50, debounce=False)
    return html.Div([html.Label([label, html.Span(" *", className="hz-required") if required else None],
                                className="sg-label"), control], className="hz-field")


def _action_card(action: str, h: HazardView) -> html.Div:
    rule = RULES[action]
    fields: list[Any] = []
    if action in _PLAN_ACTIONS:
        stored = {"resp_person": h.resp_person, "resp_person_phone": h.resp_person_phone, "measures": h.measures,
                  "funds_yuan": str(h.funds_yuan) if h.funds_yuan is not None else None,
                  "contingency_plan": h.contingency_plan}
        for column in PLAN_COLUMNS:
            fields.append(_input(action, column, FIELD_LABEL[column], value=stored[column],
                                 kind="textarea" if column in _TEXTAREAS else "text", required=action == "submit"
                                 and column != "resp_person_phone"))
    if action == "extend":
        fields.append(_input(action, "new_deadline", FIELD_LABEL["new_deadline"], kind="date", required=True))
    if action == "supervise":
        fields.append(_input(action, "supervision_deadline", FIELD_LABEL["supervision_deadline"], kind="date",
                             required=True))
    fields.append(_input(action, "note", rule.note_label, kind="textarea", required=rule.needs_note))
    if action in _PLAN_ACTIONS:
        fields.append(photo_picker(action, kind=DEFAULT_PHOTO_KIND[action]))
    tone = "hz-danger" if action in ("fail", "reopen") else "hz-primary" if action in ("pass", "submit") else ""
    return html.Div([
        html.H4(ACTION[action]),
        *fields,
        html.Button(ACTION[action], id={"type": "hz-go", "action": action}, type="button",
                    className=f"hz-go {tone}".strip(), n_clicks=0),
    ], className="hz-action", id=f"hz-action-{action}")


def actions_block(h: HazardView, actions: list[str]) -> html.Section:
    """Build the ``actions`` the account may take now (allowed_actions), each a small form, or a note."""
    cards = [_action_card(a, h) for a in actions] or [
        html.Div("当前没有您可以执行的操作。", className="sg-note", id="hz-no-actions")]
    return html.Section([html.H3("办理"), html.Fieldset(cards, id="hz-fieldset", className="hz-actions")],
                        className="hz-section", id="hz-actions")


def hazard_body(h: HazardView, account: Account) -> html.Div:
    """Everything of the page that changes with the hazard: title, facts, 五到位, timeline, actions."""
    today = clock.today()
    actions = allowed_actions(h.state(), actor_of(account), run_read(hazard_limits))  # 延期: /admin/rules
    return html.Div([
        html.Div([html.H2([html.Span(h.code, className="hz-code"), " ", h.title], id="hz-title"),
                  html.Div(_badges(h, today), className="hz-badges")], className="hz-head"),
        html.Div([
            html.Div([html.Section([html.H3("基本信息"), _facts(h, account)], className="hz-section"),
                      html.Section([html.H3("五到位"), five_in_place(h)], className="hz-section")],
                     className="hz-col"),
            html.Div([actions_block(h, actions),
                      html.Section([html.H3("办理记录"), timeline(h)], className="hz-section")], className="hz-col"),
        ], className="hz-grid"),
    ], className="hz-body-inner", **_data(status=h.status, version=str(h.version)))


def hazard_page(h: HazardView | None, account: Account) -> html.Div:
    """Build the whole hazard page, or the one not-found message (the same outside the scope)."""
    if h is None:
        return html.Div(NOT_FOUND, className="sg-alert", role="alert", id="hz-missing")
    return html.Div([
        dcc.Store(id="hz-key", data={"id": h.id, "version": h.version}),
        html.Div(id="hz-msg", role="status", className="hz-msg"),
        html.Div(hazard_body(h, account), id="hz-body"),
    ], className="hz-page")


def photo_picker(action: str, *, kind: str | None = None) -> html.Div:
    """Camera and album inputs for up to ``max_count`` photos of ``action`` (with a 整改前/整改后 choice when ``kind``).

    The browser shrinks each photo to at most 1600 px (JPEG 0.85, ``assets/hazard_photos.js``) into the hidden
    input ``{"type": "hz-in", "action": action, "field": "photos"}`` that the submit reads, so three phone
    photos fit in one callback request (2 MiB); the server cleans them again
    (:func:`dashboard.components.photos.photos_from_upload`).
    The camera input gets ``capture="environment"`` from the script (``dcc.Upload`` has no such property).
    """
    count = photo_settings().max_count

    def upload(src: str, label: str) -> dcc.Upload:
        return dcc.Upload(id={"type": "hz-upload", "action": action, "src": src}, accept="image/*",
                          multiple=src == "album", children=html.Span(label, className="hz-photo-btn"),
                          className=f"hz-upload hz-upload-{src}")

    choice = None
    if kind is not None:
        choice = dcc.RadioItems(id={"type": "hz-in", "action": action, "field": "photo_kind"}, value=kind,
                                inline=True, className="hz-radio hz-photo-kinds",
                                options=[{"label": ATTACHMENT_KIND[k], "value": k} for k in PHOTO_KINDS])
    return html.Div([
        html.Label(f"照片（最多 {count} 张）", className="sg-label"),
        choice,
        html.Div([upload("camera", "拍照"), upload("album", "选择照片"),
                  html.Button("清除照片", id={"type": "hz-photo-clear", "action": action}, type="button",
                              className="hz-photo-clear", n_clicks=0)], className="hz-photo-buttons"),
        html.Div(id={"type": "hz-photo-note", "action": action}, className="sg-photo-note", role="status"),
        # the shrunk photos as JSON ({"files": [data URL…], "names": […]}), read with the action's other inputs
        dcc.Input(id={"type": "hz-in", "action": action, "field": "photos"}, type="hidden", value=""),
    ], className="hz-field hz-photo-picker", id=f"hz-photo-picker-{action}")


# --- the report form ------------------------------------------------------------------------------------------

def _locator() -> html.Div:
    """Ask for a report's point without an enterprise: 使用我的位置 (the browser's position) or typed in."""
    def coordinate(axis: str, label: str) -> html.Div:
        return html.Div([html.Label(label, className="sg-label"),
                         dcc.Input(id={"type": "hzn-coord", "axis": axis}, type="number", step="any",
                                   autoComplete="off", maxLength=20, className="hz-input", placeholder="WGS-84")],
                        className="hz-field")

    return html.Div([
        html.Button("使用我的位置", id="hzn-locate", type="button", className="hz-go hz-locate", n_clicks=0),
        html.Div("请定位，或填写隐患位置的纬度和经度（须在您管辖的网格内）。", id="hzn-located", className="sg-note",
                 role="status"),
        html.Div([coordinate("lat", "纬度"), coordinate("lon", "经度")], className="hzn-coords"),
    ], className="hz-field hzn-locator")


def report_form(place: ReportPlace | None, account: Account, *, pick: bool = False) -> html.Div:
    """Build the 登记 form for a place in scope with a fresh idempotency key, or a message why not.

    ``pick``: no enterprise and no point was given, so the form asks for one (the browser's position).
    """
    if place is None and not pick:
        return html.Div("该企业或位置不在您管辖的网格内，无法登记隐患。", className="sg-alert", role="alert",
                        id="hzn-missing")
    if not can_report(actor_of(account), enterprise_id=place.enterprise_id if place else None):
        return html.Div("您不能为该企业或位置登记隐患。", className="sg-alert", role="alert", id="hzn-refused")
    where: Any
    point: dict[str, Any]
    if place is None:
        where, point = _locator(), {"pick": True}
    else:
        where = html.Div(["登记位置：", html.B(
            f"{place.enterprise_name}（{place.credit_code}）· {place.unit_name}" if place.enterprise_id
            else f"{place.unit_name} · 位置 {place.lat:.5f}, {place.lon:.5f}")], className="sg-note")
        point = {"enterprise_id": place.enterprise_id} if place.enterprise_id else {"lon": place.lon, "lat": place.lat}
    return html.Div([
        html.H2("登记隐患", id="hzn-title"),
        html.Div(where, id="hzn-where"),
        dcc.Store(id="hzn-place", data=point),
        dcc.Store(id="hzn-key", data=uuid.uuid4().hex),  # one key per form render: a double submit is one hazard
        dcc.Location(id="hzn-nav", refresh="callback-nav"),
        html.Fieldset([
            html.Div([html.Label(["隐患名称", html.Span(" *", className="hz-required")], htmlFor="hzn-name",
                                 className="sg-label"),
                      dcc.Input(id="hzn-name", type="text", maxLength=300, className="hz-input",
                                placeholder="如：配电箱未接地")], className="hz-field"),
            html.Div([html.Label("隐患等级", className="sg-label"),
                      dcc.RadioItems(id="hzn-level", value="general", inline=True, className="hz-radio",
                                     options=[{"label": v, "value": k} for k, v in HAZARD_LEVEL.items()])],
                     className="hz-field"),
            html.Div([html.Label("整改期限", className="sg-label"),
                      dcc.DatePickerSingle(id="hzn-deadline", display_format="YYYY-MM-DD", placeholder="选择日期",
                                           min_date_allowed=clock.today().isoformat(), className="hz-date")],
                     className="hz-field"),
            html.Div([html.Label("隐患描述", htmlFor="hzn-desc", className="sg-label"),
                      dcc.Textarea(id="hzn-desc", maxLength=4000, className="hz-textarea")], className="hz-field"),
            photo_picker("report"),
            html.Button("登记", id="hzn-submit", type="button", className="hz-go hz-primary", n_clicks=0),
        ], id="hzn-fieldset", className="hz-actions"),
        html.Div(id="hzn-msg", role="alert", className="hz-msg"),
    ], className="hz-page hzn-page")


# --- 待办 ----------------------------------------------------------------------------------------------------

def todo_page(items: list[dict[str, Any]], reports: int | None, account: Account, *, page: int = 1,
              listed_max: int | None = None) -> html.Div:
    """Build the 待办 list: hazards by reason (links to their pages), and the public reports waiting.

    :data:`TODO_PAGE_SIZE` rows a page (``?page=N``, clamped to the pages there are); ``listed_max``: the most
    ``items`` read (the pager says the list stops there).

    A page of 300 rows was 3,600 Dash components and 380 kB of JSON: building and encoding it was the largest
    share of the app's CPU in the load test (bench_stack_load.py, py-spy), and the browser rendered all of it.
    """
    today = clock.today()
    pages = max(1, -(-len(items) // TODO_PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = []
    for it in items[(page - 1) * TODO_PAGE_SIZE:page * TODO_PAGE_SIZE]:
        reasons = [html.Span(TODO_REASON[r], className=f"hz-badge todo-{r}") for r in TODO_REASON if it.get(r)]
        rows.append(html.Tr([
            html.Td(reasons, **_data(label=TODO_COLUMNS[0])),
            html.Td(dcc.Link(it["code"], href=hazard_href(it["id"]), className="todo-link"),
                    **_data(label=TODO_COLUMNS[1])),
            html.Td(it["title"], className="todo-title", **_data(label=TODO_COLUMNS[2])),
            html.Td(HAZARD_LEVEL.get(it["level"], it["level"]), **_data(label=TODO_COLUMNS[3])),
            html.Td(HAZARD_STATUS.get(it["status"], it["status"]), **_data(label=TODO_COLUMNS[4])),
            html.Td(_d(it["deadline"]), className="todo-late" if it["deadline"] and it["deadline"] < today else "",
                    **_data(label=TODO_COLUMNS[5])),
            html.Td(it["enterprise_name"] or "—", **_data(label=TODO_COLUMNS[6])),
            html.Td(it["unit_name"], **_data(label=TODO_COLUMNS[7])),
        ], className="todo-row", **_data(code=it["code"])))
    table: Any = html.Table([
        html.Thead(html.Tr([html.Th(t) for t in TODO_COLUMNS])),
        html.Tbody(rows)], className="sg-table todo-table", id="todo-table") if rows else html.Div(
        "暂无待办隐患。", className="sg-note", id="todo-empty")
    counts = {r: sum(1 for it in items if it.get(r)) for r in TODO_REASON}
    summary = [html.Span(f"{TODO_REASON[r]} {n}", className=f"hz-badge todo-{r}") for r, n in counts.items() if n]
    queue = None
    if reports is not None:
        queue = html.Div(["群众举报待核实：", html.B(str(reports), id="todo-reports"), " 条 · ",
                          dcc.Link("前往核实", href="/reports")], className="sg-note todo-queue")
    return html.Div([
        html.H2(f"待办 · {account.record.scope_name}", id="todo-title"),
        html.Div(summary, className="todo-summary", id="todo-summary"),
        queue, table, _todo_pager(page, pages, len(items), listed_max),
    ], className="todo-page")


def _todo_pager(page: int, pages: int, count: int, listed_max: int | None) -> html.Nav | None:
    """上一页 / 下一页 links of the 待办 list (``/todo?page=N``); None when it fits on one page."""
    if pages <= 1:
        return None

    def step(label: str, to: int) -> Any:
        if 1 <= to <= pages:
            return dcc.Link(label, href=f"/todo?page={to}", className="todo-page-link", id=f"todo-page-{label}")
        return html.Span(label, className="todo-page-link todo-page-off")

    more = f"（列出最紧急的 {listed_max} 条）" if listed_max is not None and count >= listed_max else ""
    return html.Nav([step("上一页", page - 1),
                     html.Span(f"第 {page} / {pages} 页 · 共 {count} 条{more}", id="todo-page-of"),
                     step("下一页", page + 1)], className="todo-pager", id="todo-pager")
