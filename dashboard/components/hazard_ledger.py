"""The hazard ledger's filters, sort and rows, shared by the ledger page's grid and its xlsx export.

The page folds its filter controls into the ``haz-filters`` store, whose value has the same shape as the
export URL's query string, so the grid and the export (:mod:`dashboard.inspector_routes`) read hazards
through the same :func:`ledger_filters` and can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlencode

from dashboard.components.ledger_grid import day, first, many, parse_sort
from dashboard.components.ledger_grid import export_href as grid_export_href
from dashboard.errors import BadRequestError
from domain.hazard_flow import FIVE_IN_PLACE
from domain.labels import HAZARD_CHANNEL, HAZARD_LEVEL, HAZARD_STATUS, SUPERVISION_LEVEL
from geo.hazard_ledger import SORT_COLUMNS, LedgerError, LedgerFilters
from geo.rows import LedgerRow

EXPORT_PATH = "/export/hazards.xlsx"


def ledger_filters(data: Mapping[str, Any]) -> LedgerFilters:
    """Build :class:`LedgerFilters` from the filter store or an export query string (lists or scalars)."""
    flags = set(many(data.get("flag")))
    try:
        return LedgerFilters(
            statuses=many(data.get("status")), levels=many(data.get("level")), channels=many(data.get("channel")),
            industries=many(data.get("industry")), open_only="open" in flags, overdue="overdue" in flags,
            supervised="supervised" in flags, five_incomplete="five" in flags,
            found_from=day(data.get("from")), found_to=day(data.get("to")),
            text=first(data.get("q"))[:60],
        )
    except LedgerError as err:
        raise BadRequestError(str(err)) from err


def ledger_sort(spec: Any) -> list[tuple[str, str]]:
    """Sort pairs from AG Grid's sortModel (list of dicts) or the export's ``sort=col:dir`` values."""
    return parse_sort(spec, SORT_COLUMNS)


def export_href(data: Mapping[str, Any], sort: list[tuple[str, str]]) -> str:
    """URL of the xlsx export of exactly what the grid shows."""
    return grid_export_href(EXPORT_PATH, data, sort)


def display_row(row: LedgerRow) -> dict[str, Any]:
    """Add the Chinese labels the grid (and the export) show; dates become ISO strings."""
    out = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()}
    out["level_label"] = HAZARD_LEVEL.get(row["level"], row["level"])
    out["status_label"] = HAZARD_STATUS.get(row["status"], row["status"])
    out["channel_label"] = HAZARD_CHANNEL.get(row["channel"] or "", "")
    out["supervision_label"] = SUPERVISION_LEVEL.get(row["supervision_level"] or 0, "")
    missing = row["five_missing"] or []
    out["five_label"] = "缺" + "、".join(FIVE_IN_PLACE[k].removeprefix("整改").removeprefix("应急") for k in missing) \
        if missing else "齐全"
    out["five_missing"] = "、".join(FIVE_IN_PLACE[k] for k in missing)
    out["code_link"] = f"[{row['code']}](/hazard?{urlencode({'code': row['code']})})"  # the grid's markdown link
    return out
