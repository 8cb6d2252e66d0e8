"""一企一档 page ``/enterprise?code=<统一社会信用代码>``: the file of :mod:`dashboard.components.enterprise_file`.

Ids are prefixed ``ent-``; an enterprise outside the caller's scope is refused (and audited) like a foreign unit.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.components.enterprise_file import RADIUS_CHOICES, file_view, load_file, nearby_table
from dashboard.errors import AppError
from dashboard.pages import Page
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope, refuse_out_of_scope
from geo.around import enterprises_around
from geo.db import connect
from geo.enterprise_file import enterprise_basic


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the file page for ``?code=``; a message instead when missing, unknown or outside the scope."""
    code = (query.get("code") or "").strip()
    if not code:
        return html.Div("请通过页面顶部的搜索框查找企业，或在地址中指定 ?code=统一社会信用代码。", className="sg-note",
                        id="ent-empty")
    try:
        f = load_file(account.scope, code)
    except AppError as err:
        return html.Div(err.message, className="sg-alert", role="alert", id="ent-error")
    return html.Div([dcc.Store(id="ent-code", data=f["enterprise"]["credit_code"]), file_view(f)], className="ent-page")


def register(app: Dash) -> None:
    """Add the radius callback of the nearby-enterprises section."""

    @app.callback(Output("ent-nearby", "children"), Input("ent-radius", "value"), State("ent-code", "data"),
                  prevent_initial_call=True)
    def change_radius(radius: int | None, credit_code: str | None) -> Any:
        scope = callback_scope(Capability.ENTERPRISE_FILE)
        if not credit_code or radius not in RADIUS_CHOICES:
            raise PreventUpdate
        with connect() as conn:
            e = enterprise_basic(conn, scope=scope, credit_code=credit_code)
            if e is None:
                raise refuse_out_of_scope(f"enterprise:{credit_code}")
            rows = [] if e["lat"] is None else enterprises_around(
                conn, scope=scope, lat=e["lat"], lon=e["lon"], radius_m=radius, exclude_credit_code=credit_code)
        return nearby_table(rows, radius)


PAGE = Page(path="/enterprise", title="一企一档", layout=layout, register=register,
            capability=Capability.ENTERPRISE_FILE, in_menu=False, order=60)
