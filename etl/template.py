"""``safegrid etl template KIND OUT.xlsx``: header row, note row (skipped on load), one example row."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from etl.columns import LEDGERS, Column
from etl.read import NOTE_MARKER

TYPE_HINTS = {
    "date": "日期，如 2025-01-02", "bool": "是/否", "int": "整数", "float": "数字", "credit_code": "18 位",
    "admin_code": "区划/网格代码", "lon": "经度", "lat": "纬度", "phone": "电话",
}


def _note(col: Column) -> str:
    parts = ["必填" if col.required else "选填"]
    parts.append(col.note or TYPE_HINTS.get(col.type, ""))
    return "；".join(p for p in parts if p)


def write_template(kind: str, out: Path) -> Path:
    """Write the XLSX template of a ledger kind; the loader accepts it as it is."""
    columns = LEDGERS[kind]
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = kind
    ws.append([c.header for c in columns])
    notes = [_note(c) for c in columns]
    notes[0] = f"{NOTE_MARKER}：{notes[0]}"
    ws.append(notes)
    ws.append([c.example or None for c in columns])
    bold, grey = Font(bold=True), Font(color="808080", italic=True)
    required = PatternFill("solid", fgColor="FCE4D6")
    for i, col in enumerate(columns, start=1):
        ws.cell(1, i).font = bold
        if col.required:
            ws.cell(1, i).fill = required
        ws.cell(2, i).font = grey
        ws.cell(2, i).alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[get_column_letter(i)].width = max(12, min(40, len(col.header) * 2 + 6))
        ws.cell(3, i).number_format = "@"  # keep codes and dates as typed text
    ws.freeze_panes = "A3"
    help_ws = wb.create_sheet("填写说明")
    help_ws.append(["列名", "必填", "可用的其他列名", "说明"])
    for col in columns:
        help_ws.append([col.header, "是" if col.required else "否", "、".join(col.accepted[1:]), _note(col)])
    help_ws.append([])
    help_ws.append(["第 2 行以“说明”开头，导入时自动跳过；第 3 行是示例，可直接覆盖。只读取第一个工作表。"])
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out
