"""检查台账 ``/inspections``: the scope's inspections in AG Grid, with the audited xlsx export.

Rows are imported and recorded in the app alike; filters, server-side sort and paging; a click on a row opens the
enterprise file; ``/export/inspections.xlsx`` exports exactly the filtered rows.

The filter controls are folded into the ``iled-filters`` store, whose value has the shape of the export URL's query
string; the grid's rows callback and the export both parse it with :func:`ledger_filters`. Storage is
:mod:`geo.inspection_ledger`; the grid plumbing is shared with the hazard ledger
(:mod:`dashboard.components.ledger_grid`). Ids are prefixed ``iled-``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlencode

from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate
from flask import Response, request, send_file

from dashboard.components.enterprise_file import file_href
from dashboard.components.ledger_grid import (
    DROPDOWN_LABELS,
    column_defs,
    day,
    export_href,
    first,
    infinite_grid,
    many,
    multi_select,
    page_window,
    parse_sort,
    register_purge,
)
from dashboard.components.xlsx import XLSX_MIME, table_workbook
from dashboard.errors import BadRequestError
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope, client_ip, current_account, refuse_out_of_scope, scoped_route
from domain import clock
from domain.labels import INSPECTION_KIND, INSPECTION_RESULT, INSPECTOR_LEVEL, LEVEL
from geo.db import connect
from geo.inspection_ledger import (
    MAX_EXPORT_ROWS,
    SORT_COLUMNS,
    InspectionFilters,
    InspectionLedgerError,
    InspectionRow,
    area_choices,
    inspection_export_rows,
    inspection_page,
    inspection_target,
)
from geo.paging import COUNT_CAP
from geo.scope import unit_in_scope
from geo.users import audit

EXPORT_PATH = "/export/inspections.xlsx"
SOURCE_LABEL = {"app": "系统录入", "import": "台账导入"}
# (field, header, sort column or None, width)
COLUMNS = (
    ("inspected_at", "检查日期", "inspected_at", 110),
    ("kind_label", "检查方式", "kind", 100),
    ("result_label", "检查结果", "result", 100),
    ("enterprise_name", "企业名称", "enterprise_name", 220),
    ("unit_name", "所在网格/单位", "unit_name", 160),
    ("inspectors", "检查人员", "inspectors", 140),
    ("document_no", "执法文书编号", "document_no", 180),
    ("penalty_yuan", "罚款金额(元)", "penalty_yuan", 120),
    ("hazards_found", "发现隐患", "hazards_found", 95),
    ("draw_code", "双随机抽查", "draw_code", 160),
    ("level_label", "检查层级", "inspector_level", 95),
    ("source_label", "来源", None, 95),
    ("code", "检查编号", "code", 190),
)
# (row key, header) of the export, in order.
EXPORT_COLUMNS = (
    ("code", "检查编号"), ("inspected_at", "检查日期"), ("kind_label", "检查方式"), ("result_label", "检查结果"),
    ("enterprise_name", "企业名称"), ("credit_code", "统一社会信用代码"), ("unit_name", "所在网格/单位"),
    ("unit_code", "单位代码"), ("level_label", "检查层级"), ("inspectors", "检查人员"),
    ("document_no", "执法文书编号"), ("penalty_yuan", "罚款金额(元)"), ("hazards_found", "发现隐患数"),
    ("draw_code", "双随机抽查"), ("source_label", "来源"), ("note", "备注"),
)


def ledger_filters(data: Mapping[str, Any]) -> InspectionFilters:
    """Build :class:`InspectionFilters` from the filter store or the export's query string (lists or scalars)."""
    try:
        return InspectionFilters(
            kinds=many(data.get("kind")), results=many(data.get("result")), sources=many(data.get("source")),
            area=first(data.get("area"))[:20] or None, date_from=day(data.get("from")), date_to=day(data.get("to")),
            text=first(data.get("q"))[:60],
        )
    except InspectionLedgerError as err:
        raise BadRequestError(str(err)) from err


def ledger_sort(spec: Any) -> list[tuple[str, str]]:
    """Sort pairs from AG Grid's sortModel or the export's ``sort=col:dir`` values."""
    return parse_sort(spec, SORT_COLUMNS)


def check_area(scope: str, filters: InspectionFilters) -> None:
    """Refuse (403, audited) an area filter outside the caller's scope."""
    if filters.area and not run_read(lambda conn: unit_in_scope(conn, scope_path=scope, code=filters.area or "")):
        raise refuse_out_of_scope(filters.area)


def display_row(row: InspectionRow) -> dict[str, Any]:
    """Add the Chinese labels the grid and the export show; dates become ISO strings."""
    out: dict[str, Any] = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()}
    out["kind_label"] = INSPECTION_KIND.get(row["kind"] or "", "")
    out["result_label"] = INSPECTION_RESULT.get(row["result"] or "", "")
    out["level_label"] = INSPECTOR_LEVEL.get(row["inspector_level"] or 0, "")
    out["source_label"] = SOURCE_LABEL[row["source"]]
    return out


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the ledger of ``account``'s scope (``?area=CODE`` presets the area)."""
    areas = run_read(lambda conn: area_choices(conn, scope=account.scope))
    top = areas[0][2] if areas else 1
    area_options = [{"label": "　" * (lvl - top) + f"{name}（{LEVEL.get(lvl, '')}）", "value": code}
                    for code, name, lvl in areas]
    area = query.get("area") if query.get("area") in {a[0] for a in areas} else None
    initial = {"area": area} if area else {}
    can_export = account.can(Capability.EXPORT)
    return html.Div([
        html.H2(f"{account.record.scope_name} · 检查台账", id="iled-title"),
        html.P("导入的检查台账和在系统中录入的企业检查（含双随机抽查）。点击一行打开企业档案。", className="sg-note"),
        html.Div([
            html.Div([html.Label("检查日期", className="sg-label"),
                      dcc.DatePickerRange(id="iled-period", display_format="YYYY-MM-DD", clearable=True,
                                          start_date_placeholder_text="起", end_date_placeholder_text="止")],
                     className="haz-filter"),
            multi_select("iled-kind", "检查方式", INSPECTION_KIND),
            multi_select("iled-result", "检查结果", INSPECTION_RESULT),
            html.Div([html.Label("区域", htmlFor="iled-area", className="sg-label"),
                      dcc.Dropdown(id="iled-area", options=area_options, value=area, placeholder="全部",
                                   className="haz-dropdown iled-area", labels=DROPDOWN_LABELS)],
                     className="haz-filter"),
            multi_select("iled-source", "来源", SOURCE_LABEL),
            html.Div([html.Label("关键字", htmlFor="iled-text", className="sg-label"),
                      dcc.Input(id="iled-text", type="search", placeholder="企业 / 文书编号 / 检查人员", debounce=0.4,
                                className="haz-text")], className="haz-filter"),
        ], className="haz-filters"),
        html.Div([
            html.Span(id="iled-count", className="haz-count"),
            html.A("导出 Excel", id="iled-export", href=export_href(EXPORT_PATH, initial, []), className="haz-export",
                   hidden=not can_export),
        ], className="haz-toolbar"),
        dcc.Store(id="iled-filters", data=initial),
        dcc.Store(id="iled-purged"),
        dcc.Location(id="iled-nav", refresh=True),
        infinite_grid("iled-grid", column_defs(COLUMNS), row_id="code", empty="没有符合条件的检查记录",
                      className="haz-grid iled-grid", style={"height": "620px"}),
    ], className="haz-page iled-page")


def export_inspections() -> Response:
    """Send the ledger of the caller's scope as xlsx, filtered and sorted like the grid; audited."""
    args = request.args.to_dict(flat=False)
    filters = ledger_filters(args)
    sort = ledger_sort(args.get("sort"))
    account = current_account()
    check_area(account.scope, filters)
    with connect() as conn:
        rows = [display_row(r) for r in inspection_export_rows(conn, scope=account.scope, filters=filters, sort=sort)]
        audit(conn, username=account.username, action="export_inspections", ip=client_ip(), detail={
            "rows": len(rows), "filters": filters.as_dict(), "sort": [f"{c}:{d}" for c, d in sort],
            "scope": account.record.scope_code, "truncated": len(rows) >= MAX_EXPORT_ROWS,
        })
    name = f"检查台账_{account.record.scope_name}_{clock.today():%Y%m%d}.xlsx"
    data = table_workbook("检查台账", [h for _, h in EXPORT_COLUMNS],
                          ([row.get(k) for k, _ in EXPORT_COLUMNS] for row in rows), title=name)
    return send_file(io.BytesIO(data), as_attachment=True, download_name=name, mimetype=XLSX_MIME)


def register(app: Dash) -> None:
    """Add the filter, rows, purge and open-file callbacks and the xlsx route."""
    app.server.add_url_rule(EXPORT_PATH, "export_inspections", scoped_route(Capability.EXPORT)(export_inspections))

    @app.callback(
        Output("iled-filters", "data"),
        Input("iled-period", "start_date"), Input("iled-period", "end_date"), Input("iled-kind", "value"),
        Input("iled-result", "value"), Input("iled-area", "value"), Input("iled-source", "value"),
        Input("iled-text", "value"), prevent_initial_call=True,
    )
    def collect(start: Any, end: Any, kind: Any, result: Any, area: Any, source: Any, q: Any) -> dict[str, Any]:
        callback_scope(Capability.MAP)
        data = {"from": start, "to": end, "kind": kind, "result": result, "area": area, "source": source, "q": q}
        data = {k: v for k, v in data.items() if v}
        ledger_filters(data)  # reject bad values here, with the Chinese message
        return data

    register_purge(app, grid_id="iled-grid", filters_id="iled-filters", output_id="iled-purged")

    @app.callback(
        Output("iled-grid", "getRowsResponse"), Output("iled-count", "children"), Output("iled-export", "href"),
        Input("iled-grid", "getRowsRequest"), State("iled-filters", "data"),
    )
    def rows(req: dict[str, Any] | None, data: dict[str, Any] | None) -> tuple[Any, ...]:
        scope = callback_scope(Capability.MAP)
        if not req:
            raise PreventUpdate
        filters, sort = ledger_filters(data or {}), ledger_sort(req.get("sortModel"))
        offset, limit = page_window(req)
        check_area(scope, filters)
        with connect() as conn:
            page, total = inspection_page(conn, scope=scope, filters=filters, sort=sort, offset=offset, limit=limit,
                                          count_cap=COUNT_CAP)
        counted = f"共 {total:,} 条检查记录" if total >= 0 else f"超过 {offset + limit + COUNT_CAP:,} 条检查记录"
        return ({"rowData": [display_row(r) for r in page], "rowCount": total}, counted,
                export_href(EXPORT_PATH, data or {}, sort))

    @app.callback(Output("iled-nav", "href"), Input("iled-grid", "cellClicked"), prevent_initial_call=True)
    def open_file(cell: dict[str, Any] | None) -> str:
        account = current_account()
        scope = callback_scope(Capability.MAP)
        if not cell or not cell.get("rowId"):
            raise PreventUpdate
        found = run_read(lambda conn: inspection_target(conn, scope=scope, code=str(cell["rowId"])))
        if found is None:
            raise PreventUpdate
        credit_code, unit_code = found
        if credit_code and account.can(Capability.ENTERPRISE_FILE):
            return file_href(credit_code)
        return "/?" + urlencode({"unit": unit_code})  # a unit's inspection, or a role without the file: the map
