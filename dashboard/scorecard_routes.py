"""``GET /export/scorecards.xlsx?unit=&quarter=&rows=township|children|department``: the 晾晒 ranking as xlsx.

Capability ``targets`` (like the /scorecards page) and ``export``; the unit must lie in the caller's scope
(else 403, audited ``forbidden``); every download is audited ``export_scorecards``. The sheet is the page's
table (``domain.scorecards.TABLE_HEADER``) laid out and formula-neutralised by ``components.xlsx``.
"""

from __future__ import annotations

import io

from flask import Flask, Response, request, send_file

from dashboard.components.xlsx import XLSX_MIME, table_workbook
from dashboard.errors import BadRequestError
from dashboard.roles import Capability
from dashboard.scope import client_ip, exporting_account, refuse_out_of_scope, scoped_route, unit_arg
from domain import clock
from domain.scorecards import last_complete_quarter, parse_quarter, table_header, table_row
from geo.db import connect
from geo.scorecards import MODES, load_scorecard
from geo.users import audit


def export_scorecards() -> Response:
    """Send the ranking of ``unit`` (default: the scope) for ``quarter`` (default: the last complete one)."""
    account = exporting_account()
    code = unit_arg(request.args.get("unit"))
    raw = (request.args.get("quarter") or "").strip()
    quarter = parse_quarter(raw) if raw else last_complete_quarter(clock.today())
    if quarter is None:
        raise BadRequestError("季度格式应为 2026Q3。")
    raw_mode = request.args.get("rows") or ""
    mode = raw_mode if raw_mode in MODES else "township"
    with connect() as conn:
        card = load_scorecard(conn, scope=account.scope, code=code, quarter=quarter, mode=mode)
        if card is not None:
            audit(conn, username=account.username, action="export_scorecards", ip=client_ip(), detail={
                "unit": card.area.code, "quarter": quarter.key, "rows": mode, "count": len(card.rows),
                "scope": account.record.scope_code,
            })
    if card is None:
        raise refuse_out_of_scope(code or account.scope)
    name = f"季度考核_{card.area.name}_{quarter.key}.xlsx"
    dept = mode == "department"
    data = table_workbook("晾晒排名", table_header(dept), (table_row(r, department=dept) for r in card.rows),
                          title=f"{card.area.name} {quarter.label} 季度考核排名")
    return send_file(io.BytesIO(data), as_attachment=True, download_name=name, mimetype=XLSX_MIME)


def init_app(server: Flask) -> None:
    """Register the scorecard export."""
    server.add_url_rule("/export/scorecards.xlsx", "export_scorecards",
                        scoped_route(Capability.TARGETS)(export_scorecards))
