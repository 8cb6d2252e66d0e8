"""The 一企一档 (enterprise file): reading it in a scope and rendering it, for the file page and the search drawer.

Ids start with the caller's ``prefix`` (``ent-`` on the page, ``search-ent-`` in the drawer). The file is
read through :func:`geo.enterprise_file.enterprise_file` with the caller's scope; an enterprise outside
the scope is refused (and audited) exactly like a foreign unit.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from dashboard.components.photos import inspection_files
from dashboard.errors import NotFoundError
from dashboard.inspections.due import next_due_badge
from dashboard.roles import Capability
from dashboard.scope import current_account, refuse_out_of_scope
from domain.labels import (
    ACCIDENT_GRADE,
    ACCIDENT_TYPE,
    DUTY_ROLE,
    HAZARD_CHANNEL,
    HAZARD_LEVEL,
    HAZARD_STATUS,
    INSPECTION_KIND,
    INSPECTION_RESULT,
    INSPECTOR_LEVEL,
    INVESTIGATION_STATUS,
    RISK_LEVEL,
    RISK_LEVEL_LONG,
    SCALE,
    SOURCE_GRADE,
    STD_GRADE,
    SUPERVISION_LEVEL,
    SUPERVISION_TIER,
)
from geo.db import connect
from geo.enterprise_file import enterprise_exists, enterprise_file
from geo.rows import EnterpriseFacts, EnterpriseFile

RADIUS_CHOICES = (500, 1000, 2000, 5000)
_NOT_FOUND = "未找到该企业：请核对统一社会信用代码，或该企业不在本账户的数据范围内。"


def _d(value: Any) -> str:
    """Format a date/datetime/None for display."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    return str(value)


def _metres(value: float) -> str:
    if value < 1000:
        return f"{value:.0f} 米"
    return f"{value / 1000:.2f}".rstrip("0").rstrip(".") + " 公里"


def risk_badge(level: str | None) -> html.Span:
    """Coloured badge of a risk colour (grey for not assessed)."""
    if not level:
        return html.Span("未评估", className="sg-badge sg-none")
    return html.Span(RISK_LEVEL[level], className=f"sg-badge sg-{level}", title=RISK_LEVEL_LONG[level])


def _table(head: list[str], rows: list[list[Any]], empty: str, **kwargs: Any) -> Any:
    if not rows:
        return html.Div(empty, className="sg-note", **kwargs)
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])),
                       html.Tbody([html.Tr([html.Td(c) for c in r]) for r in rows])], className="sg-table", **kwargs)


def _facts(e: EnterpriseFacts) -> html.Dl:
    flags = [name for key, name in (("key_hazardous_process", "重点监管危险化工工艺"),
                                    ("key_hazardous_chemical", "重点监管危险化学品"),
                                    ("has_major_hazard_source", "重大危险源")) if e.get(key)]
    items = [
        ("统一社会信用代码", e["credit_code"]),
        ("行业", " / ".join(x for x in (e["industry"], e["industry_detail"]) if x)),
        ("规模", SCALE.get(e["scale"] or "", "—")), ("从业人数", e["employees"]),
        ("行业主管部门", e["supervising_dept"]),
        ("属地监管层级", SUPERVISION_TIER.get(e["supervision_tier"] or 0, "—")),
        ("重点监管单位", html.B("是", className="ent-key-supervision") if e.get("key_supervision") else "否"),
        ("风险等级", html.Span([risk_badge(e["risk_level"]),
                               f" {e['risk_method'] or ''} {_d(e['risk_assessed_at'])}"])),
        ("标准化等级", STD_GRADE.get(e["std_grade"] or "", "—")), ("两重点一重大", "、".join(flags) or "无"),
        ("地址", e["address"]),
        ("法定代表人", f"{e['legal_rep'] or '—'}  {e['legal_rep_phone'] or ''}"),
        ("安全负责人", f"{e['safety_manager'] or '—'}  {e['safety_manager_phone'] or ''}"),
        ("所在网格", f"{e['unit_name'] or '未落入网格'}（{e['unit_code'] or '—'}）"),
        ("坐标", f"{e['lat']:.5f}, {e['lon']:.5f}" if e["lat"] is not None else "无坐标"),
    ]
    return html.Dl([x for k, v in items for x in (html.Dt(k), html.Dd(v if v not in (None, "") else "—"))],
                   className="ent-facts")


def _persons(rows: list[dict[str, Any]], prefix: str) -> Any:
    body = []
    for p in rows:
        name = html.Span("空缺", className="ent-vacant") if p["vacant"] else p["name"]
        role = DUTY_ROLE.get(p["role"], p["role"]) + (f" {p['seq']}" if p["role"] == "supervisor" else "")
        body.append([role, name, p["phone"] or "—", " ".join(x for x in (p["org"], p["title"]) if x) or "—"])
    return _table(["职责", "姓名", "电话", "单位职务"], body, "所在网格未登记责任人。", id=f"{prefix}-persons")


def _sources(rows: list[dict[str, Any]], prefix: str) -> Any:
    return _table(
        ["编号", "名称", "等级", "R 值", "主要负责人", "技术负责人", "操作负责人"],
        [[s["code"], s["name"], SOURCE_GRADE.get(s["grade"] or 0, "—"),
          s["r_value"] if s["r_value"] is not None else "—",
          f"{s['main_person'] or '—'} {s['main_person_phone'] or ''}",
          f"{s['tech_person'] or '—'} {s['tech_person_phone'] or ''}",
          f"{s['op_person'] or '—'} {s['op_person_phone'] or ''}"] for s in rows],
        "无重大危险源。", id=f"{prefix}-sources")


def _hazard(h: dict[str, Any]) -> html.Li:
    status = HAZARD_STATUS.get(h["status"], h["status"])
    tags = [html.Span(HAZARD_LEVEL.get(h["level"], h["level"]), className=f"ent-tag ent-{h['level']}"),
            html.Span(status, className=f"ent-tag ent-status-{h['status']}")]
    if h["overdue"]:
        tags.append(html.Span("逾期", className="ent-tag ent-overdue"))
    if h["supervision_level"]:
        tags.append(html.Span(SUPERVISION_LEVEL[h["supervision_level"]], className="ent-tag ent-supervised"))
    events = [html.Li(f"{_d(ev['at'])} {HAZARD_STATUS.get(ev['from_status'] or '', '新建')} → "
                      f"{HAZARD_STATUS.get(ev['to_status'], ev['to_status'])} {ev['by'] or ''} {ev['note'] or ''}")
              for ev in h["events"]]
    return html.Li([
        html.Div([dcc.Link(html.B(h["code"]), href="/hazard?" + urlencode({"code": h["code"]})), " ", h["title"], " ",
                  *tags], className="ent-hazard-head"),
        html.Div(f"来源：{HAZARD_CHANNEL.get(h['channel'] or '', '—')} · 发现 {_d(h['found_at'])} · "
                 f"整改期限 {_d(h['deadline'])} · 销号 {_d(h['closed_at'])} · 责任人 {h['resp_person'] or '—'}",
                 className="sg-note"),
        html.Ul(events, className="ent-events") if events else None,
    ], className="ent-hazard" + (" ent-closed" if h["status"] == "closed" else ""), **{"data-code": h["code"]})


def nearby_table(rows: list[dict[str, Any]], radius_m: float, prefix: str = "ent") -> Any:
    """Table of enterprises near the file's enterprise (each links to its own file)."""
    return _table(
        ["距离", "企业名称", "行业", "风险", "所在网格"],
        [[_metres(n["distance_m"]), dcc.Link(n["name"], href=file_href(n["credit_code"])), n["industry"] or "—",
          risk_badge(n["risk_level"]), n["unit_name"] or "—"] for n in rows],
        f"{_metres(radius_m)}范围内没有其他企业。", id=f"{prefix}-nearby-table")


def _nearby_sources(rows: list[dict[str, Any]], radius_m: float, prefix: str) -> Any:
    return _table(
        ["距离", "危险源", "等级", "所属企业"],
        [[_metres(s["distance_m"]), f"{s['code']} {s['name']}", SOURCE_GRADE.get(s["grade"] or 0, "—"),
          s["enterprise_name"]] for s in rows],
        f"{_metres(radius_m)}范围内没有重大危险源。", id=f"{prefix}-nearby-sources")


def file_href(credit_code: str) -> str:
    """URL of an enterprise's file page."""
    return "/enterprise?" + urlencode({"code": credit_code})


def report_link(credit_code: str, prefix: str) -> Any:
    """Return the 登记隐患 button of a file for accounts that may report a hazard (issue 15), else None."""
    if not current_account().can(Capability.HAZARD_REPORT):
        return None
    return dcc.Link("登记隐患", href="/hazard/new?" + urlencode({"enterprise": credit_code}),
                    id=f"{prefix}-report-link", className="hz-go hz-primary ent-report-link")


def accident_link(credit_code: str, prefix: str) -> Any:
    """Return the 登记事故 link of a file for accounts that may record an accident (issue 18), else None."""
    if not current_account().can(Capability.ACCIDENT):
        return None
    return dcc.Link("登记事故", href="/accident/new?" + urlencode({"enterprise": credit_code}),
                    id=f"{prefix}-accident-link", className="hz-go ent-report-link")


def _data_attrs(code: str) -> dict[str, Any]:
    return {"data-code": code}


def file_view(f: EnterpriseFile, *, compact: bool = False, prefix: str = "ent") -> html.Div:
    """Render a whole 一企一档 (``compact``: for the search drawer, fewer inspections; ids start with ``prefix``)."""
    e = f["enterprise"]
    chain = " › ".join(u["name"] for u in f["units"])
    history = [[risk_badge(r["risk_level"]), r["risk_method"] or "—", _d(r["assessed_at"])] for r in f["risk_history"]]
    inspections = [[_d(i["inspected_at"]), INSPECTOR_LEVEL.get(i["inspector_level"] or 0, "—"),
                    INSPECTION_KIND.get(i["kind"] or "", "—"), i["inspectors"] or "—",
                    INSPECTION_RESULT.get(i["result"] or "", "—"), i["hazards_found"] if i["hazards_found"] is not None
                    else "—", inspection_files(i.get("attachments") or [])]
                   for i in f["inspections"][: 5 if compact else None]]
    open_count = sum(1 for h in f["hazards"] if h["status"] != "closed")
    map_href = "/?" + urlencode({"unit": e["unit_code"] or "", "focus": f"enterprise:{e['credit_code']}"})
    links: list[Any] = [" · ", dcc.Link("打开完整档案", href=file_href(e["credit_code"]), id=f"{prefix}-full-link")]
    if not compact:
        links = []
    own = bool(f.get("own_enterprise"))  # an enterprise account's own file: no map, nothing around it
    return html.Div([
        html.Div([
            html.H2([e["name"], " ", risk_badge(e["risk_level"])], id=f"{prefix}-name"),
            html.Div([chain] if own else
                     [chain, " · ", dcc.Link("在地图上查看", href=map_href, id=f"{prefix}-map-link"), *links],
                     className="sg-note"),
            report_link(e["credit_code"], prefix),
        ], className="ent-head"),
        html.Section([html.H3("基本信息"), _facts(e)], className="ent-section"),
        html.Section([html.H3("风险等级历史"),
                      _table(["风险", "评估方法", "评估日期"], history, "无历史评估记录。",
                             id=f"{prefix}-risk-history")],
                     className="ent-section"),
        html.Section([html.H3(f"网格责任人（{e['unit_name'] or '—'} · 1+2）"), _persons(f["grid_persons"], prefix)],
                     className="ent-section"),
        html.Section([html.H3("重大危险源及包保责任人"), _sources(f["hazard_sources"], prefix)],
                     className="ent-section"),
        html.Section([html.H3(f"隐患（未销号 {open_count} / 共 {len(f['hazards'])}）"),
                      html.Ul([_hazard(h) for h in f["hazards"]], className="ent-hazards", id=f"{prefix}-hazards")
                      if f["hazards"] else html.Div("无隐患记录。", className="sg-note")], className="ent-section"),
        html.Section([html.H3("检查记录"), next_due_badge(e, f["inspections"][0]["inspected_at"] if f["inspections"]
                                                         else None, element_id=f"{prefix}-next-due"),
                      _table(["日期", "层级", "方式", "检查人员", "结果", "发现隐患", "附件"], inspections,
                             "无检查记录。", id=f"{prefix}-inspections")], className="ent-section"),
        html.Section([html.H3("事故记录"), accident_link(e["credit_code"], prefix), _table(
            ["发生日期", "事故名称", "类型", "死亡", "重伤", "直接损失(万元)", "等级", "调查处理"],
            [[_d(a["occurred_on"]), a["title"], ACCIDENT_TYPE.get(a["accident_type"] or "", "—"), a["deaths"],
              a["injuries"], "—" if a["direct_loss_wan"] is None else f"{a['direct_loss_wan']}",
              ACCIDENT_GRADE.get(a["grade"], a["grade"]), INVESTIGATION_STATUS.get(a["investigation"] or "", "—")]
             for a in f.get("accidents", [])[: 5 if compact else None]],
            "无事故记录。", id=f"{prefix}-accidents")], className="ent-section"),
        None if own else html.Section([
            html.H3("周边企业"),
            html.Div([html.Label("半径", htmlFor="ent-radius", className="sg-label"),
                      dcc.Dropdown(id=f"{prefix}-radius", clearable=False, searchable=False, className="ent-radius",
                                   options=[{"label": _metres(r), "value": r} for r in RADIUS_CHOICES],
                                   value=int(f["nearby_radius_m"]))], className="sg-picker") if not compact else None,
            html.Div(nearby_table(f["nearby"], f["nearby_radius_m"], prefix), id=f"{prefix}-nearby"),
            html.H3(f"{_metres(f['source_radius_m'])}内重大危险源"),
            _nearby_sources(f["nearby_sources"], f["source_radius_m"], prefix),
        ], className="ent-section"),
    ], className="ent-file" + (" ent-compact" if compact else ""), **_data_attrs(e["credit_code"]))


def load_file(scope: str, credit_code: str, **kwargs: Any) -> EnterpriseFile:
    """Read a file in ``scope``; raise the 404 the user reads, the same outside the scope (audited) and unknown.

    An enterprise account (confined, :mod:`dashboard.scope`) reads only its own file, and without the
    enterprises and hazard sources around it (``own_enterprise`` tells :func:`file_view` to leave them out).
    """
    account = current_account()
    own = account.own_credit_code() if account.confined else None
    if account.confined and (own is None or credit_code.strip().upper() != own):
        refuse_out_of_scope(f"enterprise:{credit_code}")  # audited, answered like an unknown code
        raise NotFoundError(_NOT_FOUND)
    with connect() as conn:
        f = enterprise_file(conn, scope=scope, credit_code=credit_code, **kwargs)
        exists = f is not None or enterprise_exists(conn, credit_code=credit_code)
    if f is None:
        if exists:  # audited, but answered like an unknown code: no oracle of what exists outside the scope
            refuse_out_of_scope(f"enterprise:{credit_code}")
        raise NotFoundError(_NOT_FOUND)
    if account.confined:
        f["nearby"], f["nearby_sources"], f["own_enterprise"] = [], [], True
    return f
