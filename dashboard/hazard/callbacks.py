"""The hazard page's action callback and the report form's submit callback.

Each submit is one transaction of :mod:`geo.hazard_actions` at the version the page showed: a lost race
(:class:`~geo.hazard_actions.HazardConflictError`) shows 已被他人处理 with the current state, a refused
action (:class:`~domain.hazard_flow.FlowError`) its Chinese message, and nothing is written then. The
button's fieldset is disabled while the request is pending (``running``); a second click that still gets
through meets the version check.

Photos: the browser shrinks them into a store per action (clientside ``safegrid_hazard.shrink`` in
``assets/hazard_photos.js``: ≤ 1600 px, JPEG 0.85, so three phone photos fit the 2 MiB callback body); the
submit cleans them again (:func:`dashboard.components.photos.photos_from_upload`: sniffed, size-limited,
re-encoded without EXIF) before the transaction and stores them with the event in it. A body over the limit
is refused before any callback runs (413, in Chinese).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from dash import ALL, MATCH, ClientsideFunction, Dash, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.components.photos import CleanPhoto, PhotoError, photos_from_upload
from dashboard.errors import BadRequestError
from dashboard.hazard.access import actor_of, own_enterprise
from dashboard.hazard.layout import DEFAULT_PHOTO_KIND, NOT_FOUND, PHOTO_KINDS, hazard_body, hazard_href
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
_PHOTO_FIELDS = ("photos", "photo_kind")  # the photo picker's inputs: taken out before payload_of


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


def uploaded_photos(picked: Any) -> list[CleanPhoto]:
    """Clean the photos of a picker (JSON ``{"files": [data URL…], "names": […]}``); PhotoError refuses them."""
    if picked is None or picked == "":
        return []
    try:
        store = json.loads(picked) if isinstance(picked, str) else None
    except ValueError as err:
        raise BadRequestError() from err
    if not isinstance(store, dict) or not isinstance(store.get("files", []), list):
        raise BadRequestError()
    names = store.get("names")
    return photos_from_upload(store.get("files") or [], names if isinstance(names, list) else None)


def _coordinate(value: Any, low: float, high: float) -> float:
    try:
        number = float(_text(value, 30).strip())
    except ValueError as err:
        raise FlowError("请先定位（使用我的位置），或填写正确的纬度和经度") from err
    if not low <= number <= high:
        raise FlowError("请先定位（使用我的位置），或填写正确的纬度和经度")
    return number


def _view(account: Account, hazard_id: int) -> HazardView | None:
    return run_read(lambda conn: hazard_view(conn, scope=account.scope, hazard_id=hazard_id,
                                             enterprise_id=own_enterprise(account)))


def _alert(message: str, tone: str) -> Any:
    return html.Div(message, className=f"hz-alert hz-{tone}", role="alert")


def take_action(account: Account, hazard_id: int, version: int, action: str, payload: Payload, *,
                photos: list[CleanPhoto] | None = None, photo_kind: str = "evidence") -> HazardView:
    """Take ``action`` as ``account`` on the hazard seen at ``version`` (with its photos); return it as it is now.

    Raises HazardNotFoundError (missing, outside the scope, another enterprise's), HazardConflictError or
    FlowError; the transaction is rolled back then.
    """
    if _view(account, hazard_id) is None:
        raise HazardNotFoundError(hazard_id)
    with connect() as conn:
        transition(conn, scope=account.scope, actor=actor_of(account), hazard_id=hazard_id, version=version,
                   action=action, payload=payload, as_of=clock.today(), rule=current_risk_rule(conn),
                   photos=photos or (), photo_kind=photo_kind)
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
        picked, kind = (values.pop(f, None) for f in _PHOTO_FIELDS)
        kind = _text(kind, 20) or DEFAULT_PHOTO_KIND.get(action, "")
        if action in DEFAULT_PHOTO_KIND and kind not in PHOTO_KINDS:
            raise BadRequestError()
        try:
            photos = uploaded_photos(picked) if action in DEFAULT_PHOTO_KIND else []
            after = take_action(account, hazard_id, version, action, payload_of(action, values), photos=photos,
                                photo_kind=kind)
        except PhotoError as refused:
            return no_update, _alert(str(refused), "error"), no_update
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
        State({"type": "hzn-coord", "axis": ALL}, "value"),
        State({"type": "hz-in", "action": "report", "field": "photos"}, "value"),
        running=[(Output("hzn-fieldset", "disabled"), True, False)],
        prevent_initial_call=True,
    )
    def submit(clicks: int | None, title: Any, level: Any, deadline: Any, description: Any, place: Any,
               key: Any, _coords: Any, picked: Any) -> tuple[Any, Any]:
        callback_scope(Capability.HAZARD_REPORT)
        account = current_account()
        if not clicks or not isinstance(place, dict):
            raise PreventUpdate
        states = ctx.states_list
        point: tuple[float | None, float | None]
        try:
            enterprise = place.get("enterprise_id")
            if place.get("pick"):  # the point from 使用我的位置 or typed in
                typed = {item["id"].get("axis"): item.get("value") for item in
                         (states[6] if len(states) > 6 and isinstance(states[6], list) else [])
                         if isinstance(item, dict) and isinstance(item.get("id"), dict)}
                point = (_coordinate(typed.get("lon"), -180, 180), _coordinate(typed.get("lat"), -90, 90))
            else:
                point = (float(place["lon"]), float(place["lat"])) if enterprise is None else (None, None)
            photos = uploaded_photos(picked)
            new = NewHazard(
                title=_text(title, 301), level=_text(level, 20), deadline=_day(deadline, "整改期限"),
                request_key=_text(key, 65), description=_text(description, 4001),
                enterprise_id=int(enterprise) if enterprise is not None else None, lon=point[0], lat=point[1])
            with connect() as conn:
                created, _fresh = report(conn, scope=account.scope, actor=actor_of(account), new=new,
                                         as_of=clock.today(), rule=current_risk_rule(conn), photos=photos)
        except (FlowError, PhotoError) as refused:
            return no_update, _alert(str(refused), "error")
        except HazardNotFoundError:
            return no_update, _alert(NOT_FOUND, "error")
        return hazard_href(created.id), None

    app.clientside_callback(  # shrink picked photos in the browser (assets/hazard_photos.js)
        ClientsideFunction("safegrid_hazard", "shrink"),
        Output({"type": "hz-in", "action": MATCH, "field": "photos"}, "value"),
        Output({"type": "hz-photo-note", "action": MATCH}, "children"),
        Input({"type": "hz-upload", "action": MATCH, "src": ALL}, "contents"),
        Input({"type": "hz-photo-clear", "action": MATCH}, "n_clicks"),
        State({"type": "hz-upload", "action": MATCH, "src": ALL}, "filename"),
        State({"type": "hz-in", "action": MATCH, "field": "photos"}, "value"),
        prevent_initial_call=True,
    )
    app.clientside_callback(  # 使用我的位置: the browser's position into the report form's coordinates
        ClientsideFunction("safegrid_hazard", "locate"),
        Output({"type": "hzn-coord", "axis": "lat"}, "value"),
        Output({"type": "hzn-coord", "axis": "lon"}, "value"),
        Output("hzn-located", "children"),
        Input("hzn-locate", "n_clicks"),
        prevent_initial_call=True,
    )
