"""Excel exports: one sheet layout (bold tinted header, frozen, sized columns) and formula neutralising.

Every exported text cell goes through :func:`neutralise`: a spreadsheet runs text starting with ``=``,
``+``, ``-``, ``@`` (or tab / carriage return) as a formula (CSV/formula injection), so it is prefixed with ``'``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralise(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with ``'`` (CSV/formula injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def fill_sheet(ws: Worksheet, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write ``header`` (bold, tinted, frozen) and the neutralised ``rows``; size each column to its header."""
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="EAF0F7")
    for row in rows:
        ws.append([neutralise(v) for v in row])
    for i, h in enumerate(header, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, len(h) * 2 + 4)
    ws.freeze_panes = "A2"


def workbook_bytes(wb: Workbook) -> bytes:
    """Return the saved ``.xlsx`` bytes of ``wb``."""
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def table_workbook(sheet: str, header: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str) -> bytes:
    """Return the ``.xlsx`` bytes of one sheet named ``sheet`` laid out by :func:`fill_sheet`, titled ``title``."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    fill_sheet(ws, header, rows)
    wb.properties.title = title
    return workbook_bytes(wb)
