"""事故登记 ``/accident/new[?enterprise=CODE]``: leaders, administrators and inspectors record an accident.

Only accidents of their scope: the enterprise or the place must lie in it.

Name, date, the accident unit (统一社会信用代码) or the place (经纬度), industry, GB 6441 type, 道路交通事故,
deaths, serious injuries, direct loss (万元), grade (empty: derived from the toll; a contradicting grade is
refused, 《生产安全事故报告和调查处理条例》第三条), investigation status and report. One request key per form
render; stored and audited by ``geo.accidents.record_accident``. The scope's accidents of the last 12 months
are listed below. Ids are prefixed ``acc-``.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.pages import Page
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope, client_ip, current_account
from domain import clock
from domain.labels import ACCIDENT_GRADE, ACCIDENT_TYPE, INDUSTRIES, INVESTIGATION_STATUS
from geo.accidents import (
    AccidentInputError,
    AccidentNotFoundError,
    AccidentRow,
    NewAccident,
    accidents_in_scope,
    record_accident,
)
from geo.db import connect

_NOT_YOURS = "该企业或事故地点不在您的负责范围内"


def _key() -> str:
    return secrets.token_urlsafe(24)


def _field(label: str, control: Any, for_id: str | None = None) -> html.Div:
    return html.Div([html.Label(label, htmlFor=for_id, className="sg-label"), control], className="hz-field")


def recent_table(rows: list[AccidentRow]) -> html.Div:
    """Render the scope's accidents of the last 12 months."""
    if not rows:
        return html.Div(html.P("近 12 个月辖区内没有登记事故。", className="sg-note"), id="acc-recent")
    head = ["发生日期", "事故名称", "类型", "死亡", "重伤", "损失(万元)", "等级", "调查", "单位"]
    body = [html.Tr([
        html.Td(f"{r.occurred_on:%Y-%m-%d}"), html.Td(r.title), html.Td(ACCIDENT_TYPE.get(r.accident_type or "", "")),
        html.Td(r.deaths), html.Td(r.injuries), html.Td("" if r.direct_loss_wan is None else f"{r.direct_loss_wan}"),
        html.Td(ACCIDENT_GRADE[r.grade]), html.Td(INVESTIGATION_STATUS.get(r.investigation or "", "")),
        html.Td(r.enterprise_name or r.unit_name or ""),
    ], className="acc-row") for r in rows]
    return html.Div(html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
                               className="sg-table"), id="acc-recent")


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the form (``?enterprise=`` prefills the accident unit) and the scope's recent accidents."""
    code = (query.get("enterprise") or "").strip().upper()[:18]
    today = clock.today()
    recent = run_read(lambda conn: accidents_in_scope(conn, scope=account.scope, start=today - timedelta(days=365),
                                                      end=today + timedelta(days=1), limit=20))
    grades = [{"label": "按伤亡和损失自动确定", "value": ""}] + [
        {"label": v, "value": k} for k, v in ACCIDENT_GRADE.items()]
    return html.Div([
        html.H2("事故登记"),
        html.P("事故等级按《生产安全事故报告和调查处理条例》第三条由死亡、重伤（含急性工业中毒）人数和直接经济损失确定；"
               "事故类型按 GB 6441《企业职工伤亡事故分类》。", className="sg-note"),
        dcc.Store(id="acc-key", data=_key()),
        html.Div([
            _field("事故名称", dcc.Input(id="acc-title", type="text", maxLength=200, className="hz-input",
                                       placeholder="如：某机械厂“9·1”机械伤害事故"), "acc-title"),
            _field("发生日期", dcc.DatePickerSingle(id="acc-date", date=today.isoformat(), display_format="YYYY-MM-DD",
                                                 max_date_allowed=today.isoformat(), className="hz-date"), "acc-date"),
            _field("事故单位统一社会信用代码（无单位时填经纬度）",
                   dcc.Input(id="acc-credit", type="text", maxLength=18, value=code, className="hz-input"),
                   "acc-credit"),
            html.Div([
                _field("经度", dcc.Input(id="acc-lon", type="number", className="hz-input"), "acc-lon"),
                _field("纬度", dcc.Input(id="acc-lat", type="number", className="hz-input"), "acc-lat"),
            ], className="acc-point"),
            _field("行业（为空时取企业的行业）", dcc.Dropdown(
                id="acc-industry", options=[{"label": i, "value": i} for i in INDUSTRIES], placeholder="选择行业"),
                "acc-industry"),
            _field("事故类型 (GB 6441)", dcc.Dropdown(
                id="acc-type", options=[{"label": v, "value": k} for k, v in ACCIDENT_TYPE.items()],
                placeholder="选择事故类型"), "acc-type"),
            dcc.Checklist(id="acc-road", value=[], className="hz-radio",
                          options=[{"label": "道路交通事故（计入万车死亡率）", "value": "road"}]),
            _field("死亡人数", dcc.Input(id="acc-deaths", type="text", inputMode="numeric", value="0", maxLength=6,
                                       className="hz-input"), "acc-deaths"),
            _field("重伤人数（含急性工业中毒）", dcc.Input(
                id="acc-injuries", type="text", inputMode="numeric", value="0", maxLength=6, className="hz-input"),
                "acc-injuries"),
            _field("直接经济损失（万元）", dcc.Input(
                id="acc-loss", type="text", inputMode="numeric", maxLength=14, className="hz-input"), "acc-loss"),
            _field("事故等级", dcc.Dropdown(id="acc-grade", options=grades, value="", clearable=False), "acc-grade"),
            html.Div([html.Label("调查处理状态", className="sg-label"),
                      dcc.RadioItems(id="acc-investigation", value="reported", inline=True, className="hz-radio",
                                     options=[{"label": v, "value": k} for k, v in INVESTIGATION_STATUS.items()])],
                     className="hz-field"),
            _field("事故经过及调查报告", dcc.Textarea(id="acc-report", maxLength=5000, className="hz-textarea"),
                   "acc-report"),
            html.Button("提交事故登记", id="acc-submit", n_clicks=0, className="hz-go hz-primary"),
        ], className="hz-actions acc-form"),
        html.Div(id="acc-message", role="status"),
        html.H3("近 12 个月辖区事故"),
        recent_table(recent),
    ], className="acc-page")


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def register(app: Dash) -> None:
    """Add the submit callback."""

    @app.callback(
        Output("acc-message", "children"), Output("acc-key", "data"),
        Input("acc-submit", "n_clicks"),
        State("acc-title", "value"), State("acc-date", "date"), State("acc-credit", "value"),
        State("acc-lon", "value"), State("acc-lat", "value"), State("acc-industry", "value"),
        State("acc-type", "value"), State("acc-road", "value"), State("acc-deaths", "value"),
        State("acc-injuries", "value"), State("acc-loss", "value"), State("acc-grade", "value"),
        State("acc-investigation", "value"), State("acc-report", "value"), State("acc-key", "data"),
        prevent_initial_call=True,
    )
    def submit(n: int | None, title: Any, day: Any, credit: Any, lon: Any, lat: Any, industry: Any, atype: Any,
               road: Any, deaths: Any, injuries: Any, loss: Any, grade: Any, inv: Any, report: Any,
               key: Any) -> tuple[Any, Any]:
        scope = callback_scope(Capability.ACCIDENT)
        account = current_account()
        if not n:
            raise PreventUpdate
        try:
            occurred = date.fromisoformat(str(day or ""))
        except ValueError:
            return html.P("请填写发生日期", className="sg-alert"), no_update
        new = NewAccident(
            title=str(title or ""), occurred_on=occurred, request_key=str(key or ""), credit_code=str(credit or ""),
            lon=_number(lon), lat=_number(lat), industry=str(industry or ""), accident_type=str(atype or ""),
            road_traffic=isinstance(road, list) and "road" in road, deaths=str(deaths or ""),
            injuries=str(injuries or ""), direct_loss_wan=str(loss or ""), grade=str(grade or ""),
            investigation=str(inv or ""), report=str(report or ""))
        try:
            with connect() as conn:
                stored, created = record_accident(conn, scope=scope, username=account.username, new=new,
                                                  today=clock.today(), ip=client_ip())
        except AccidentNotFoundError:
            return html.P(_NOT_YOURS, className="sg-alert"), no_update
        except AccidentInputError as exc:
            return html.P(str(exc), className="sg-alert"), no_update
        if not created:
            return html.P("该事故已登记过。", className="sg-ok", id="acc-done"), no_update
        return html.P(f"已登记事故 {stored.code}：{ACCIDENT_GRADE[stored.grade]}，死亡 {stored.deaths} 人、"
                      f"重伤 {stored.injuries} 人。", className="sg-ok", id="acc-done"), _key()


PAGE = Page(path="/accident/new", title="事故登记", layout=layout, register=register,
            capability=Capability.ACCIDENT, order=39)
