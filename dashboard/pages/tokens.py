"""访问令牌 ``/tokens``: a user's personal access tokens for desktop GIS (QGIS, ArcGIS) on the OGC API ``/ogc/``.

Create (name, validity up to a year; the secret is shown once, only its SHA-256 is kept), list (prefix, created,
expires, last used, state) and revoke. Every creation and revocation is audited. The tokens of the signed-in
account only: a revoke request naming someone else's token changes nothing. Ids are prefixed ``tok-``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate
from flask import request

from dashboard.pages import Page
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope, client_ip, current_account
from domain import clock
from geo.db import connect
from geo.tokens import MAX_DAYS, TokenError, TokenRow, create_token, list_tokens, revoke_token
from geo.users import audit

DAYS = (30, 90, 180, MAX_DAYS)
DEFAULT_DAYS = 90


def _when(moment: datetime | None, empty: str = "—") -> str:
    return f"{moment.astimezone(clock.zone()):%Y-%m-%d %H:%M}" if moment else empty


def _state(t: TokenRow) -> str:
    if t.revoked_at is not None:
        return f"已吊销（{_when(t.revoked_at)}）"
    return "已过期" if t.expired else "有效"


def token_table(tokens: list[TokenRow]) -> html.Div:
    """Render the account's tokens (never the secret), each active one with its revoke button."""
    if not tokens:
        return html.Div(html.P("尚未创建访问令牌。", className="sg-note"), id="tok-table")
    head = ["名称", "令牌前缀", "创建时间", "有效期至", "最近使用", "状态", ""]
    rows = [html.Tr([
        html.Td(t.name), html.Td(html.Code(f"{t.prefix}…")), html.Td(_when(t.created_at)),
        html.Td(_when(t.expires_at)), html.Td(_when(t.last_used_at, "从未使用")), html.Td(_state(t)),
        html.Td(html.Button("吊销", id={"type": "tok-revoke", "index": t.id}, n_clicks=0, className="tok-revoke",
                            title=f"吊销令牌“{t.name}”：使用它的 GIS 软件将无法再读取数据")
                if t.active else ""),
    ], className="tok-active" if t.active else "tok-inactive") for t in tokens]
    return html.Div(html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
                               className="sg-table"), id="tok-table")


def _ogc_url() -> str:
    return request.host_url.rstrip("/") + "/ogc/"


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the creation form, the place the new secret appears once, and the account's token list."""
    with connect() as conn:
        tokens = list_tokens(conn, user_id=account.record.id)
    return html.Div([
        html.H2("访问令牌（桌面 GIS）"),
        html.P([
            "在 QGIS、ArcGIS 等桌面 GIS 中以 OGC API – Features 服务添加本系统的图层：服务地址 ",
            html.Code(_ogc_url(), id="tok-ogc-url"),
            "。软件无法使用登录页，请在此创建访问令牌，作为请求头 Authorization: Bearer 令牌 提供，"
            "或附在地址后（?token=令牌，会出现在代理服务器日志中）。令牌拥有与本账户相同的数据范围"
            f"（{account.record.scope_name}），请像密码一样保管；不再使用时立即吊销。步骤见 docs/gis.md。",
        ], className="sg-note"),
        html.Div([
            html.Label("令牌名称", htmlFor="tok-name", className="sg-label"),
            dcc.Input(id="tok-name", type="text", maxLength=100, placeholder="例如：QGIS 办公电脑",
                      style={"width": "16em"}),
            html.Label("有效期", htmlFor="tok-days", className="sg-label"),
            dcc.Dropdown(id="tok-days", options=[{"label": f"{d} 天", "value": d} for d in DAYS],
                         value=DEFAULT_DAYS, clearable=False, style={"width": "9em", "display": "inline-block"}),
            html.Button("创建令牌", id="tok-create", n_clicks=0),
        ], className="tok-form", style={"display": "flex", "gap": "0.6em", "alignItems": "center"}),
        html.Div(id="tok-new", role="status"),
        html.H3("我的令牌"),
        html.Div(token_table(tokens), id="tok-list"),
    ], className="tok-page")


def _new_secret(name: str, secret: str, days: int) -> html.Div:
    return html.Div([
        html.P(f"已创建令牌“{name}”（{days} 天有效）。请立即复制保存：关闭或刷新本页后将无法再次查看。",
               className="sg-alert"),
        html.Code(secret, id="tok-secret", style={"userSelect": "all", "fontSize": "1.1em"}),
        dcc.Clipboard(target_id="tok-secret", title="复制令牌",
                      style={"display": "inline-block", "marginLeft": "0.5em"}),
    ], className="tok-new")


def register(app: Dash) -> None:
    """Add the create / revoke callback (one callback: both change the list)."""

    @app.callback(
        Output("tok-new", "children"), Output("tok-list", "children"),
        Input("tok-create", "n_clicks"), Input({"type": "tok-revoke", "index": ALL}, "n_clicks"),
        State("tok-name", "value"), State("tok-days", "value"), prevent_initial_call=True,
    )
    def change(create: int | None, revokes: list[int | None], name: str | None, days: Any) -> tuple[Any, Any]:
        callback_scope(Capability.MAP)
        account = current_account()
        user_id, username = account.record.id, account.username
        trigger = ctx.triggered_id
        if not ctx.triggered or not ctx.triggered[0].get("value"):
            raise PreventUpdate  # a list re-render brought new buttons with n_clicks 0
        message: Any = ""
        with connect() as conn:
            if trigger == "tok-create":
                try:
                    token_id, secret = create_token(conn, user_id=user_id, name=str(name or ""),
                                                    days=int(days) if str(days).isdigit() else 0)
                except TokenError as exc:
                    message = html.P(str(exc), className="sg-alert")
                else:
                    audit(conn, username=username, action="token_created", ip=client_ip(),
                          detail={"token_id": token_id, "name": str(name).strip(), "days": int(days),
                                  "prefix": secret[:12]})
                    message = _new_secret(str(name).strip(), secret, int(days))
            elif isinstance(trigger, dict) and trigger.get("type") == "tok-revoke":
                if not isinstance(trigger.get("index"), int):
                    raise PreventUpdate
                revoked = revoke_token(conn, user_id=user_id, token_id=trigger["index"])
                if revoked is not None:
                    audit(conn, username=username, action="token_revoked", ip=client_ip(),
                          detail={"token_id": revoked.id, "name": revoked.name, "prefix": revoked.prefix})
                    message = html.P(f"已吊销令牌“{revoked.name}”（{revoked.prefix}…）。", className="sg-note")
            else:
                raise PreventUpdate
            tokens = list_tokens(conn, user_id=user_id)
        return message, token_table(tokens)


PAGE = Page(path="/tokens", title="访问令牌", layout=layout, register=register, capability=Capability.MAP,
            order=95)
