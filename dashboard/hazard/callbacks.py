"""The hazard page's action callback and the report form's submit callback.

Each submit is one transaction of :mod:`geo.hazard_actions` at the version the page showed: a lost race
(:class:`~geo.hazard_actions.HazardConflictError`) shows 已被他人处理 with the current state, a refused
action (:class:`~domain.hazard_flow.FlowError`) its Chinese message, and nothing is written then. The
button's fieldset is disabled while the request is pending (``running``); a second click that still gets
through meets the version check.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.errors import BadRequestError
from dashboard.hazard.access import actor_of, own_enterprise
from dashboard.hazard.layout import NOT_FOUND, hazard_body, hazard_href
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope, current_account
from domain import clock
from domain.hazard_flow import ACTION, RULES, FlowError, Payload
from domain.labels import HAZARD_STATUS
from geo.db import connect
from geo.hazard_actions import PLAN_COLUMNS, HazardConflictError, HazardNotFoundError, NewHazard, report, transition
from geo.hazard_view import HazardView, current_risk_rule, hazard_view

_FIELDS = frozenset({*PLAN_COLUMNS, "note", "new_deadline", "supervision_deadline"})


def _text(value: Any, limit: int = 4000) -> str:
    """Return a string value as the browser sends it; anything else was forged (400)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadRequestError()
    return str(value)[:limit]


def _day(value: Any, label: str) -> date | None:
    day = _text(value, 40)[:10]
    if not day:
        return None
    try:
        return date.fromisoformat(day)
    except ValueError as err:
        raise FlowError(f"{label}格式错误（应为 YYYY-MM-DD）") from err


def payload_of(action: str, values: dict[str, Any]) -> Payload:
    """Build what the user entered for ``action`` from the form's values (unknown fields refused)."""
    if set(values) - _FIELDS:
        raise BadRequestError()
    fields = {c: _text(values[c], 2000) for c in PLAN_COLUMNS if c in values} if action in ("record", "submit") else {}
    return Payload(note=_text(values.get("note"), 2001), fields=fields,
                   new_deadline=_day(values.get("new_deadline"), "新整改期限") if action == "extend" else None,
                   supervision_deadline=_day(values.get("supervision_deadline"), "督办期限")
                   if action == "supervise" else None)


def _view(account: Account, hazard_id: int) -> HazardView | None:
    return run_read(lambda conn: hazard_view(conn, scope=account.scope, hazard_id=hazard_id,
                                             enterprise_id=own_enterprise(account)))


def _alert(message: str, tone: str) -> Any:
    return html.Div(message, className=f"hz-alert hz-{tone}", role="alert")


def take_action(account: Account, hazard_id: int, version: int, action: str, payload: Payload) -> HazardView:
    """Take ``action`` as ``account`` on the hazard seen at ``version``; return it as it is now.

    Raises HazardNotFoundError (missing, outside the scope, another enterprise's), HazardConflictError or
    FlowError; the transaction is rolled back then.
    """
    if _view(account, hazard_id) is None:
        raise HazardNotFoundError(hazard_id)
    with connect() as conn:
        transition(conn, scope=account.scope, actor=actor_of(account), hazard_id=hazard_id, version=version,
                   action=action, payload=payload, as_of=clock.today(), rule=current_risk_rule(conn))
    after = _view(account, hazard_id)
    assert after is not None
    return after


def register(app: Dash) -> None:
    """Add the action callback of the hazard page and the submit callback of the report form."""

    @app.callback(
        Output("hz-body", "children"), Output("hz-msg", "children"), Output("hz-key", "data"),
        Input({"type": "hz-go", "action": ALL}, "n_clicks"),
        State({"type": "hz-in", "action": ALL, "field": ALL}, "value"),
        State({"type": "hz-date", "action": ALL, "field": ALL}, "date"),
        State("hz-key", "data"),
        running=[(Output("hz-fieldset", "disabled"), True, False)],
        prevent_initial_call=True,
    )
    def act(clicks: list[int | None], _values: list[Any], _dates: list[Any], key: Any) -> tuple[Any, Any, Any]:
        callback_scope(Capability.HAZARD_WORK)
        account = current_account()
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(clicks):
            raise PreventUpdate
        action = str(trigger.get("action"))
        if action not in RULES or not isinstance(key, dict):
            raise BadRequestError()
        hazard_id, version = int(key["id"]), int(key["version"])
        values: dict[str, Any] = {}
        for group in ctx.states_list[:2]:
            for item in group:
                value = item.get("value")
                if item["id"].get("action") == action and value is not None:
                    values[str(item["id"].get("field"))] = value
        try:
            after = take_action(account, hazard_id, version, action, payload_of(action, values))
        except HazardNotFoundError:
            return no_update, _alert(NOT_FOUND, "error"), no_update
        except HazardConflictError as conflict:
            now = _view(account, hazard_id)
            if now is None:
                return no_update, _alert(NOT_FOUND, "error"), no_update
            last = now.events[-1] if now.events else None
            if (last is not None and last.by == account.username and last.action == action
                    and now.version == version + 1):  # the same click arriving twice: already done
                message = f"“{ACTION[action]}”已完成（重复提交已忽略）。"
            else:
                status = HAZARD_STATUS.get(now.status, now.status)
                message = (f"已被他人处理：该隐患当前状态为“{status}”（第 {conflict.current.version} 版），"
                           "请核对后再操作。")
            return hazard_body(now, account), _alert(message, "warn"), {"id": now.id, "version": now.version}
        except FlowError as refused:
            return no_update, _alert(str(refused), "error"), no_update
        return (hazard_body(after, account), _alert(f"已完成：{ACTION[action]}。", "ok"),
                {"id": after.id, "version": after.version})

    @app.callback(
        Output("hzn-nav", "href"), Output("hzn-msg", "children"),
        Input("hzn-submit", "n_clicks"),
        State("hzn-name", "value"), State("hzn-level", "value"), State("hzn-deadline", "date"),
        State("hzn-desc", "value"), State("hzn-place", "data"), State("hzn-key", "data"),
        running=[(Output("hzn-fieldset", "disabled"), True, False)],
        prevent_initial_call=True,
    )
    def submit(clicks: int | None, title: Any, level: Any, deadline: Any, description: Any, place: Any,
               key: Any) -> tuple[Any, Any]:
        callback_scope(Capability.HAZARD_REPORT)
        account = current_account()
        if not clicks or not isinstance(place, dict):
            raise PreventUpdate
        try:
            enterprise = place.get("enterprise_id")
            new = NewHazard(
                title=_text(title, 301), level=_text(level, 20), deadline=_day(deadline, "整改期限"),
                request_key=_text(key, 65), description=_text(description, 4001),
                enterprise_id=int(enterprise) if enterprise is not None else None,
                lon=float(place["lon"]) if enterprise is None else None,
                lat=float(place["lat"]) if enterprise is None else None)
            with connect() as conn:
                created, _fresh = report(conn, scope=account.scope, actor=actor_of(account), new=new,
                                         as_of=clock.today(), rule=current_risk_rule(conn))
        except FlowError as refused:
            return no_update, _alert(str(refused), "error")
        except HazardNotFoundError:
            return no_update, _alert(NOT_FOUND, "error")
        return hazard_href(created.id), None

