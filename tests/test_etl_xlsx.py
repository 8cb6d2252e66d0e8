"""The streaming XLSX reader agrees with openpyxl on what Excel writes (shared strings, rich text, gaps)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from etl.parse import Formula, TooLong, parse_date
from etl.xlsx import open_first_sheet

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

# The parts Excel writes, trimmed to what matters: shared strings (one rich-text with a phonetic hint),
# a gap column and a gap row, a number, a boolean, a date serial with a date style, a formula with cache.
PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
        'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType='
        '"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName='
        '"/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
        '<sheet name="企业" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'styles" Target="styles.xml"/></Relationships>'
    ),
    "xl/styles.xml": (
        f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{MAIN}"><cellXfs count="2">'
        '<xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>'
    ),
    "xl/sharedStrings.xml": (
        f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}" count="4" uniqueCount="4">'
        "<si><t>统一社会信用代码</t></si><si><t>企业名称</t></si>"
        '<si><r><t>许昌</t></r><r><rPr><b/></rPr><t>某某化工</t></r><rPh sb="0" eb="2"><t>xuchang</t></rPh></si>'
        "<si><t>评估日期</t></si></sst>"
    ),
    "xl/worksheets/sheet1.xml": (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>'
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="D1" t="s"><v>3</v></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><t>91411002MA40AAAA4W</t></is></c><c r="B3" t="s"><v>2</v></c>'
        '<c r="C3"><v>56</v></c><c r="D3" s="1"><v>45658</v></c><c r="E3" t="b"><v>1</v></c>'
        '<c r="F3"><f>C3*2</f><v>112</v></c><c r="G3"><v>113.8526</v></c></row>'
        "</sheetData></worksheet>"
    ),
}


def _workbook(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in PARTS.items():
            zf.writestr(name, data)
    return path


@pytest.mark.filterwarnings("ignore:Workbook contains no default style")
def test_streaming_reader_matches_openpyxl(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "excel.xlsx")
    with zipfile.ZipFile(path) as zf:
        fast = list(open_first_sheet(zf, 32_767))
    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    reference = [(cells[0].row, [c.value for c in cells]) for cells in wb.worksheets[0].iter_rows() if cells]
    wb.close()
    assert [n for n, _ in fast] == [1, 3]
    assert fast[0][1] == ["统一社会信用代码", "企业名称", None, "评估日期"]
    row = fast[1][1]
    ref = dict(reference)[3]
    assert row[:3] == ref[:3] == ["91411002MA40AAAA4W", "许昌某某化工", 56]
    assert parse_date(row[3]) == parse_date(ref[3])  # a serial number here, a datetime in openpyxl
    assert row[4] is True and ref[4] is True
    assert isinstance(row[5], Formula) and row[5].text == "=C3*2" == ref[5]
    assert row[6] == ref[6] == 113.8526


def test_long_shared_strings_are_capped(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "excel.xlsx")
    with zipfile.ZipFile(path) as zf:
        rows = list(open_first_sheet(zf, 5))
    assert isinstance(rows[0][1][0], TooLong) and rows[0][1][0].length == 8
