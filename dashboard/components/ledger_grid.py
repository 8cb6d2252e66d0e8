"""What the ledgers (隐患台账, 检查台账) share: filter-value parsing, sort parsing, the export URL, and the AG Grid.

Each ledger folds its filter controls into one store whose value has the shape of its export URL's query string,
so the grid's rows callback and the xlsx route parse the same mapping with the same helpers and cannot disagree.
The grid uses AG Grid's infinite row model: the server sorts and pages (:func:`page_window`), and a clientside
callback (:func:`register_purge`) drops the cached blocks when the filters change.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any
from urllib.parse import urlencode

import dash_ag_grid as dag
from dash import Dash, Input, Output, dcc, html

from dashboard.errors import BadRequestError

# dcc.Dropdown's own texts in Chinese (its defaults are English, e.g. "2 selected").
DROPDOWN_LABELS: Any = {"select_all": "全选", "deselect_all": "全不选", "selected_count": "已选 {num_selected} 项",
                        "search": "搜索", "clear_search": "清除搜索", "clear_selection": "清除选择",
                        "no_options_found": "无匹配项"}
# (field, header, sort column or None, width) of one grid column.
Column = tuple[str, str, str | None, int]


def first(value: Any) -> str:
    """Return a scalar filter value (the first of a list), stripped."""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return str(value or "").strip()


def many(value: Any) -> tuple[str, ...]:
    """Return a filter value (scalar, list or empty) as a tuple of non-empty strings."""
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list | tuple) else [value]
    return tuple(str(v) for v in items if v)


def day(value: Any) -> date | None:
    """Return a ``YYYY-MM-DD`` filter value as a date (None when empty); a Chinese 400 when malformed."""
    text = first(value)[:10]
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise BadRequestError(f"日期格式错误：{text}（应为 YYYY-MM-DD）") from err


def parse_sort(spec: Any, allowed: Collection[str]) -> list[tuple[str, str]]:
    """Sort pairs from AG Grid's sortModel (list of dicts) or an export's ``sort=col:dir`` values."""
    pairs = []
    for item in spec or []:
        if isinstance(item, Mapping):
            col, direction = str(item.get("colId", "")), str(item.get("sort", "asc"))
        else:
            col, _, direction = str(item).partition(":")
        if col not in allowed or direction not in ("asc", "desc"):
            raise BadRequestError(f"不能按“{col[:30]}”排序")
        pairs.append((col, direction))
    return pairs


def export_href(path: str, data: Mapping[str, Any], sort: list[tuple[str, str]]) -> str:
    """URL of the xlsx export at ``path`` of exactly what the grid shows."""
    query = [(k, v) for k, values in data.items() for v in many(values)]
    query += [("sort", f"{c}:{d}") for c, d in sort]
    return f"{path}?{urlencode(query)}"


def page_window(request: Mapping[str, Any], default: int = 100) -> tuple[int, int]:
    """Return (offset, limit) of an AG Grid infinite-model ``getRowsRequest``."""
    start = max(0, int(request.get("startRow") or 0))
    end = max(start + 1, int(request.get("endRow") or start + default))
    return start, end - start


def multi_select(id_: str, label: str, options: Mapping[str, str] | list[str] | list[dict[str, str]]) -> html.Div:
    """Return a labelled multi-select filter (options: value → label, plain values, or Dash option dicts)."""
    if isinstance(options, Mapping):
        opts: list[dict[str, str]] = [{"label": v, "value": k} for k, v in options.items()]
    else:
        opts = [o if isinstance(o, dict) else {"label": o, "value": o} for o in options]
    return html.Div([html.Label(label, htmlFor=id_, className="sg-label"),
                     dcc.Dropdown(id=id_, options=opts, multi=True, placeholder="全部", className="haz-dropdown",
                                  labels=DROPDOWN_LABELS)],
                    className="haz-filter")


def column_defs(columns: tuple[Column, ...], *, markdown: Collection[str] = ()) -> list[dict[str, Any]]:
    """AG Grid column definitions; a column sorts on the server by its sort name (its ``colId``)."""
    return [{"field": field, "headerName": header, "colId": sort or field, "sortable": sort is not None,
             "width": width, **({"cellRenderer": "markdown"} if field in markdown else {})}
            for field, header, sort, width in columns]


def infinite_grid(id_: str, columns: list[dict[str, Any]], *, row_id: str, empty: str,
                  **props: Any) -> dag.AgGrid:
    """Return an AG Grid on the infinite row model (server-side sort and paging), blocks of 100 rows."""
    return dag.AgGrid(
        id=id_, rowModelType="infinite", columnDefs=columns, getRowId=f"params.data.{row_id}",
        defaultColDef={"resizable": True, "filter": False},
        dashGridOptions={"cacheBlockSize": 100, "maxBlocksInCache": 20, "infiniteInitialRowCount": 1,
                         "localeText": {"noRowsToShow": empty, "loadingOoo": "加载中…"}, "tooltipShowDelay": 300},
        **props,
    )


def register_purge(app: Dash, *, grid_id: str, filters_id: str, output_id: str) -> None:
    """Drop the grid's cached blocks when the filters change, so it asks for rows again (clientside)."""
    app.clientside_callback(
        f"""
        function(filters) {{
            return dash_ag_grid.getApiAsync("{grid_id}").then(function(api) {{
                api.purgeInfiniteCache(); return Date.now();
            }});
        }}
        """,
        Output(output_id, "data"), Input(filters_id, "data"), prevent_initial_call=True,
    )
