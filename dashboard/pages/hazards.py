"""隐患台账 ``/hazards``: AG Grid with filters, server-side sort and paging, xlsx export, locate-on-map.

The grid uses the infinite row model; the export is ``/export/hazards.xlsx`` (:mod:`dashboard.inspector_routes`).
Filters, sort and rows come from :mod:`dashboard.components.hazard_ledger`, shared with the export.

Ids are prefixed ``haz-``. The filter controls are folded into the ``haz-filters`` store, whose value has
the same shape as the export URL's query string (:func:`~dashboard.components.hazard_ledger.ledger_filters`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import dash_ag_grid as dag
from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.components.hazard_ledger import display_row, export_href, ledger_filters, ledger_sort, many
from dashboard.components.industries import industry_choices
from dashboard.pages import Page
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope
from domain.labels import HAZARD_CHANNEL, HAZARD_LEVEL, HAZARD_STATUS
from geo.db import connect
from geo.hazard_ledger import hazard_location, hazard_page
from geo.paging import COUNT_CAP

FLAG_LABELS = {"open": "仅未销号", "overdue": "逾期", "supervised": "挂牌督办", "five": "五到位不全"}
# (field, header, sort column or None, width)
COLUMNS: tuple[tuple[str, str, str | None, int], ...] = (
    ("code_link", "隐患编号", "code", 150),  # markdown: a link to the hazard page
    ("title", "隐患描述", "title", 260),
    ("level_label", "等级", "level", 100),
    ("status_label", "状态", "status", 90),
    ("channel_label", "来源渠道", "channel", 100),
    ("supervision_label", "挂牌督办", "supervision_level", 120),
    ("found_at", "发现日期", "found_at", 110),
    ("deadline", "整改期限", "deadline", 110),
    ("closed_at", "销号日期", "closed_at", 110),
    ("overdue_days", "逾期天数", "overdue_days", 100),
    ("enterprise_name", "企业名称", "enterprise_name", 220),
    ("industry", "行业", "industry", 110),
    ("unit_name", "所在网格", "unit_name", 160),
    ("resp_person", "整改责任人", None, 110),
    ("five_label", "五到位", None, 150),  # 齐全, or which of 责任人/措施/时限/资金/预案 are missing
)


def _multi(id_: str, label: str, options: Mapping[str, str] | list[str]) -> html.Div:
    opts = ([{"label": v, "value": k} for k, v in options.items()] if isinstance(options, Mapping)
            else [{"label": v, "value": v} for v in options])
    return html.Div([html.Label(label, htmlFor=id_, className="sg-label"),
                     dcc.Dropdown(id=id_, options=opts, multi=True, placeholder="全部", className="haz-dropdown")],
                    className="haz-filter")


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the ledger page of ``account``'s scope (``?flag=overdue`` etc. preset the filters)."""
    industries = industry_choices(account)
    initial = {k: v for k, v in {"flag": many(query.get("flag")), "level": many(query.get("level"))}.items() if v}
    columns = [{"field": field, "headerName": header, "colId": sort or field, "sortable": sort is not None,
                "width": width, **({"cellRenderer": "markdown"} if field == "code_link" else {})}
               for field, header, sort, width in COLUMNS]
    # Pinned, so it is always rendered (AG Grid virtualises columns outside the horizontal viewport).
    columns.insert(0, {"field": "locate", "headerName": "定位", "colId": "locate", "sortable": False, "width": 90,
                       "pinned": "left", "valueGetter": {"function": "params.data ? '地图定位' : ''"},
                       "cellClass": "haz-locate"})
    can_export = account.can(Capability.EXPORT)
    return html.Div([
        html.H2(f"{account.record.scope_name} · 隐患台账", id="haz-title"),
        html.Div([
            _multi("haz-status", "状态", HAZARD_STATUS),
            _multi("haz-level", "等级", HAZARD_LEVEL),
            _multi("haz-channel", "来源渠道", HAZARD_CHANNEL),
            _multi("haz-industry", "行业", industries),
            html.Div([html.Label("发现日期", className="sg-label"),
                      dcc.DatePickerRange(id="haz-period", display_format="YYYY-MM-DD", clearable=True,
                                          start_date_placeholder_text="起", end_date_placeholder_text="止")],
                     className="haz-filter"),
            html.Div([html.Label("关键字", htmlFor="haz-text", className="sg-label"),
                      dcc.Input(id="haz-text", type="search", placeholder="编号 / 隐患 / 企业", debounce=0.4,
                                className="haz-text")], className="haz-filter"),
            dcc.Checklist(id="haz-flags", options=[{"label": v, "value": k} for k, v in FLAG_LABELS.items()],
                          value=list(initial.get("flag", ())), inline=True, className="haz-flags"),
        ], className="haz-filters"),
        html.Div([
            html.Span(id="haz-count", className="haz-count"),
            html.A("导出 Excel", id="haz-export", href=export_href(initial, []), className="haz-export",
                   hidden=not can_export),
        ], className="haz-toolbar"),
        dcc.Store(id="haz-filters", data=initial),
        dcc.Store(id="haz-purged"),
        dcc.Location(id="haz-nav", refresh=True),
        dag.AgGrid(
            id="haz-grid", rowModelType="infinite", columnDefs=columns, getRowId="params.data.code",
            defaultColDef={"resizable": True, "filter": False},
            dashGridOptions={"cacheBlockSize": 100, "maxBlocksInCache": 20, "infiniteInitialRowCount": 1,
                             "localeText": {"noRowsToShow": "没有符合条件的隐患", "loadingOoo": "加载中…"},
                             "tooltipShowDelay": 300},
            rowClassRules={"haz-overdue": "params.data && params.data.overdue"},
            className="haz-grid", style={"height": "620px"},
        ),
    ], className="haz-page")


def register(app: Dash) -> None:
    """Add the filter, rows, purge and locate callbacks."""

    @app.callback(
        Output("haz-filters", "data"),
        Input("haz-status", "value"), Input("haz-level", "value"), Input("haz-channel", "value"),
        Input("haz-industry", "value"), Input("haz-period", "start_date"), Input("haz-period", "end_date"),
        Input("haz-text", "value"), Input("haz-flags", "value"), prevent_initial_call=True,
    )
    def collect(status: Any, level: Any, channel: Any, industry: Any, start: Any, end: Any, q: Any,
                flags: Any) -> dict[str, Any]:
        data = {"status": status, "level": level, "channel": channel, "industry": industry, "from": start,
                "to": end, "q": q, "flag": flags}
        data = {k: v for k, v in data.items() if v}
        ledger_filters(data)  # reject bad values here, with the Chinese message
        return data

    # New filters → drop the grid's cached blocks so it asks for rows again (pure UI).
    app.clientside_callback(
        """
        function(filters) {
            return dash_ag_grid.getApiAsync("haz-grid").then(function(api) {
                api.purgeInfiniteCache(); return Date.now();
            });
        }
        """,
        Output("haz-purged", "data"), Input("haz-filters", "data"), prevent_initial_call=True,
    )

    @app.callback(
        Output("haz-grid", "getRowsResponse"), Output("haz-count", "children"), Output("haz-export", "href"),
        Input("haz-grid", "getRowsRequest"), State("haz-filters", "data"),
    )
    def rows(request: dict[str, Any] | None, data: dict[str, Any] | None) -> tuple[Any, ...]:
        scope = callback_scope()
        if not request:
            raise PreventUpdate
        filters, sort = ledger_filters(data or {}), ledger_sort(request.get("sortModel"))
        start = max(0, int(request.get("startRow") or 0))
        end = max(start + 1, int(request.get("endRow") or start + 100))
        with connect() as conn:
            page, total = hazard_page(conn, scope=scope, filters=filters, sort=sort, offset=start, limit=end - start,
                                      count_cap=COUNT_CAP)
        counted = f"共 {total:,} 条隐患" if total >= 0 else f"超过 {end + COUNT_CAP:,} 条隐患"
        return ({"rowData": [display_row(r) for r in page], "rowCount": total}, counted, export_href(data or {}, sort))

    @app.callback(Output("haz-nav", "href"), Input("haz-grid", "cellClicked"), prevent_initial_call=True)
    def locate(cell: dict[str, Any] | None) -> str:
        scope = callback_scope()
        if not cell or cell.get("colId") != "locate" or not cell.get("rowId"):
            raise PreventUpdate
        with connect() as conn:
            where = hazard_location(conn, scope=scope, code=str(cell["rowId"]))
        if where is None or not where["unit_code"]:
            raise PreventUpdate
        return "/?" + urlencode({"unit": where["unit_code"], "focus": f"hazard:{where['code']}"})


PAGE = Page(path="/hazards", title="隐患台账", layout=layout, register=register, order=40)
