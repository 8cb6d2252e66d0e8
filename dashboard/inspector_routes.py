"""Inspector Flask routes, every one scope-checked: search, enterprise file, around a point, xlsx export.

* ``GET /api/search?q=&limit=`` — enterprises in scope, best first (capability ``search``);
* ``GET /api/enterprise/<credit_code>`` — the 一企一档 as JSON; 403 (audited) outside the scope, 404 unknown;
* ``GET /api/around?lat=&lon=&r=`` — enterprises and hazard sources within ``r`` metres (capability ``map``);
* ``GET /export/hazards.xlsx?<ledger filters>`` — the hazard ledger as xlsx (capability ``export``), audited,
  text cells starting with ``=``, ``+``, ``-``, ``@`` (or tab / carriage return) prefixed with ``'``.
"""

from __future__ import annotations

import io
import math
from typing import Any

from flask import Flask, Response, jsonify, request, send_file
from openpyxl import Workbook

from dashboard.components.enterprise_file import load_file
from dashboard.components.hazard_ledger import display_row, ledger_filters, ledger_sort
from dashboard.components.xlsx import XLSX_MIME, fill_sheet, workbook_bytes
from dashboard.errors import BadRequestError
from dashboard.roles import Capability
from dashboard.routes import plain_json
from dashboard.scope import client_ip, current_account, current_scope, scoped_route
from domain import clock
from geo.around import DEFAULT_ENTERPRISE_RADIUS_M, around_point
from geo.db import connect
from geo.hazard_ledger import MAX_EXPORT_ROWS, hazard_export_rows
from geo.search import DEFAULT_LIMIT, MAX_LIMIT, search_enterprises
from geo.users import audit

# (row key, header) of the export, in order.
EXPORT_COLUMNS = (
    ("code", "隐患编号"), ("title", "隐患描述"), ("level_label", "隐患等级"), ("status_label", "状态"),
    ("channel_label", "来源渠道"), ("supervision_label", "挂牌督办"), ("found_at", "发现日期"),
    ("deadline", "整改期限"), ("closed_at", "销号日期"), ("overdue_days", "逾期天数"),
    ("enterprise_name", "企业名称"), ("credit_code", "统一社会信用代码"), ("industry", "行业"),
    ("unit_name", "所在网格"), ("unit_code", "网格代码"), ("resp_person", "整改责任人"),
    ("resp_person_phone", "联系电话"), ("measures", "整改措施"), ("funds_yuan", "整改资金(元)"),
    ("contingency_plan", "应急预案"), ("five_missing", "五到位缺项"),
)


def _number(name: str, *, default: float | None = None) -> float:
    raw = request.args.get(name)
    if raw is None or raw == "":
        if default is None:
            raise BadRequestError(f"缺少参数 {name}")
        return default
    try:
        value = float(raw)
    except ValueError as err:
        raise BadRequestError(f"参数 {name} 应为数字") from err
    if not math.isfinite(value):
        raise BadRequestError(f"参数 {name} 应为有限数字")
    return value


def hazards_workbook(rows: list[dict[str, Any]], *, title: str) -> bytes:
    """Write ledger rows (already labelled) to an xlsx workbook and return its bytes."""
    wb = Workbook()
    ws = wb.active
    ws.title = "隐患台账"
    fill_sheet(ws, [header for _, header in EXPORT_COLUMNS],
               ([row.get(key) for key, _ in EXPORT_COLUMNS] for row in rows))
    wb.properties.title = title
    return workbook_bytes(wb)


def api_search() -> Any:
    """Enterprises in the caller's scope matching ``q``."""
    limit = int(_number("limit", default=DEFAULT_LIMIT))
    with connect() as conn:
        hits = search_enterprises(conn, scope=current_scope(), q=request.args.get("q"),
                                  limit=max(1, min(limit, MAX_LIMIT)))
    return jsonify(results=[h.as_dict() for h in hits])


def api_enterprise(credit_code: str) -> Any:
    """Return the enterprise file as JSON (403 outside the scope, 404 unknown)."""
    radius = _number("r", default=DEFAULT_ENTERPRISE_RADIUS_M)
    try:
        f = load_file(current_scope(), credit_code[:40], nearby_radius_m=radius)
    except ValueError as err:  # bad radius
        raise BadRequestError(str(err)) from err
    return jsonify(plain_json(f))


def api_around() -> Any:
    """Enterprises and hazard sources around a point."""
    lat, lon = _number("lat"), _number("lon")
    radius = _number("r", default=DEFAULT_ENTERPRISE_RADIUS_M)
    try:
        with connect() as conn:
            data = around_point(conn, scope=current_scope(), lat=lat, lon=lon, radius_m=radius)
    except ValueError as err:
        raise BadRequestError(str(err)) from err
    return jsonify(plain_json(data))


def export_hazards() -> Response:
    """Send the hazard ledger of the caller's scope as xlsx, filtered like the grid; audited."""
    args = request.args.to_dict(flat=False)
    filters = ledger_filters(args)
    sort = ledger_sort(args.get("sort"))
    account = current_account()
    with connect() as conn:
        rows = [display_row(r) for r in hazard_export_rows(conn, scope=account.scope, filters=filters, sort=sort)]
        audit(conn, username=account.username, action="export_hazards", ip=client_ip(), detail={
            "rows": len(rows), "filters": filters.as_dict(), "sort": [f"{c}:{d}" for c, d in sort],
            "scope": account.record.scope_code, "truncated": len(rows) >= MAX_EXPORT_ROWS,
        })
    name = f"隐患台账_{account.record.scope_name}_{clock.today():%Y%m%d}.xlsx"
    data = hazards_workbook(rows, title=name)
    return send_file(io.BytesIO(data), as_attachment=True, download_name=name,
                     mimetype=XLSX_MIME)


def init_app(server: Flask) -> None:
    """Register the inspector routes."""
    server.add_url_rule("/api/search", "api_search", scoped_route(Capability.SEARCH)(api_search))
    server.add_url_rule("/api/enterprise/<credit_code>", "api_enterprise",
                        scoped_route(Capability.ENTERPRISE_FILE)(api_enterprise))
    server.add_url_rule("/api/around", "api_around", scoped_route(Capability.MAP)(api_around))
    server.add_url_rule("/export/hazards.xlsx", "export_hazards", scoped_route(Capability.EXPORT)(export_hazards))
