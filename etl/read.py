"""Read ledger files (CSV in any Chinese encoding, XLSX) into numbered rows keyed by column.

Row numbers are the ones a person sees in the spreadsheet: the header is row 1 (or the row where
it was found), the first data row is row 2. A template note row (first cell starting with
``说明``) right under the header is skipped, and so are blank rows.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import charset_normalizer

from etl.columns import Column
from etl.mapping import Choice, Resolution, missing_message, resolve
from etl.parse import Formula, TooLong, is_blank
from etl.xlsx import UnsupportedWorkbook, open_first_sheet

NOTE_MARKER = "说明"
HEADER_SCAN_ROWS = 10
SAMPLE_BYTES = 256 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"


class InputError(Exception):
    """The whole file is refused; the message (Chinese) says why and what to do."""


@dataclass
class Table:
    """A ledger file opened for reading: its column mapping and an iterator over data rows."""

    kind_columns: tuple[Column, ...]
    headers: list[str]  # as written in the file
    positions: dict[str, int]  # column key → cell index
    header_row: int
    rows: Iterator[tuple[int, list[Any]]]
    encoding: str | None = None
    ignored: list[str] = field(default_factory=list)
    mapping: list[Choice] = field(default_factory=list)  # which column feeds which field, and why

    def raw(self, cells: Sequence[Any]) -> dict[str, Any]:
        """Return the row as {header as written: cell}, for ``etl_rejects.raw``."""
        from etl.parse import raw_json

        return {
            (self.headers[i] or f"列{i + 1}"): raw_json(cells[i])
            for i in range(min(len(cells), len(self.headers)))
            if not is_blank(cells[i])
        }


def _locate_header(
    rows: Iterator[tuple[int, list[Any]]], columns: Sequence[Column], fields: dict[str, str | None] | None,
) -> tuple[int, list[Any], Resolution, list[tuple[int, list[Any]]]]:
    """Find the header among the first rows (title rows above it are allowed)."""
    scanned: list[tuple[int, list[Any]]] = []
    wanted = min(2, len(columns))
    for number, cells in rows:
        resolution = resolve(cells, columns, fields)
        if resolution.matched >= wanted:
            return number, cells, resolution, scanned
        scanned.append((number, cells))
        if len(scanned) >= HEADER_SCAN_ROWS:
            break
    if not any(not is_blank(c) for _n, cells in scanned for c in cells):
        raise InputError("文件为空：没有表头，也没有数据行")
    expected = "、".join(c.header for c in columns if c.required) or "、".join(c.header for c in columns[:3])
    first = "，".join(str(c) for c in scanned[0][1] if not is_blank(c))[:120]
    problems = resolve(scanned[0][1], columns, fields).problems if fields else []
    advice = "；".join(problems) or "若列名不同，请用 --field 字段=列名 指定 (或 --mapping 映射文件)"
    raise InputError(f"未找到表头：第 1 行应为列名 (如 {expected})，实际为“{first}”。{advice}")


def open_table(path: Path, columns: tuple[Column, ...], *, max_cell_chars: int, max_field_mb: int,
               max_xlsx_mb: int, fields: dict[str, str | None] | None = None) -> Table:
    """Open a CSV or XLSX ledger (decided by content, not by the file name) and map its header."""
    if not path.exists():
        raise InputError(f"文件不存在：{path}")
    with path.open("rb") as fh:
        head = fh.read(8)
    if path.stat().st_size == 0:
        raise InputError("文件为空 (0 字节)")
    if head.startswith(PNG_MAGIC):
        raise InputError("文件不是表格：内容是 PNG 图片 (可能是改了扩展名)。请上传 .xlsx 或 .csv 台账")
    if head[:3] == b"\xff\xd8\xff":
        raise InputError("文件不是表格：内容是 JPEG 图片。请上传 .xlsx 或 .csv 台账")
    if head.startswith(b"%PDF"):
        raise InputError("文件不是表格：内容是 PDF。请上传 .xlsx 或 .csv 台账")
    if head.startswith(OLE_MAGIC):
        raise InputError("不支持旧版 Excel (.xls) 或加密的工作簿：请在 Excel 中“另存为”.xlsx 后再导入")
    if head.startswith(ZIP_MAGIC):
        rows, encoding = _xlsx_rows(path, max_cell_chars=max_cell_chars, max_mb=max_xlsx_mb), None
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        raise InputError("文件扩展名是 .xlsx，但内容不是 Excel 工作簿 (可能已损坏或改了扩展名)")
    else:
        rows, encoding = _csv_rows(path, max_cell_chars=max_cell_chars, max_field_mb=max_field_mb)
    number, cells, resolution, _above = _locate_header(rows, columns, fields)
    if resolution.problems:
        raise InputError("；".join(resolution.problems))
    missing = missing_message(resolution, columns)
    if missing:
        raise InputError(missing)
    headers = [str(c).strip() if c is not None else "" for c in cells]
    return Table(columns, headers, resolution.positions, number, _data_rows(rows), encoding, resolution.ignored,
                 resolution.choices)


def _data_rows(rows: Iterator[tuple[int, list[Any]]]) -> Iterator[tuple[int, list[Any]]]:
    """Skip the template note row right under the header and every blank row."""
    first = True
    for number, cells in rows:
        if first:
            first = False
            lead = next((c for c in cells if not is_blank(c)), None)
            if isinstance(lead, str) and lead.strip().startswith(NOTE_MARKER):
                continue
        head = cells[0] if cells else None
        if type(head) is str and head and not is_blank(head):  # the usual row: skip the scan below
            yield number, cells
            continue
        if all(is_blank(c) for c in cells):
            continue
        yield number, cells


# --- CSV --------------------------------------------------------------------------------------

def detect_encoding(sample: bytes, complete: bool) -> str:
    """Pick the encoding of a CSV from its first bytes: BOMs, strict UTF-8, GB18030, then a guess."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
            return encoding
        except UnicodeDecodeError:
            continue
    best = charset_normalizer.from_bytes(sample).best()
    if best is not None and best.encoding not in ("utf_8", "gb18030"):
        return str(best.encoding)
    raise InputError("无法识别文件编码：既不是 UTF-8 也不是 GBK/GB18030。请在 Excel 中另存为“CSV UTF-8”")


def _csv_rows(path: Path, *, max_cell_chars: int, max_field_mb: int) -> tuple[Iterator[tuple[int, list[Any]]], str]:
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
        complete = not fh.read(1)
    encoding = detect_encoding(sample, complete)
    text_sample = sample.decode(encoding, errors="ignore")
    first_line = text_sample.split("\n", 1)[0]
    delimiter = max((",", "\t", ";", "|"), key=first_line.count) if first_line else ","
    if first_line.count(delimiter) == 0:
        delimiter = ","
    return _iter_csv(path, encoding, delimiter, max_cell_chars, max_field_mb), encoding


def _iter_csv(path: Path, encoding: str, delimiter: str, max_cell_chars: int,
              max_field_mb: int) -> Iterator[tuple[int, list[Any]]]:
    limit = max_field_mb * 1024 * 1024
    previous = csv.field_size_limit()
    csv.field_size_limit(limit)
    number = 0
    try:
        with path.open("r", encoding=encoding, errors="strict", newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            try:
                for number, row in enumerate(reader, start=1):
                    if row and max(map(len, row)) > max_cell_chars:
                        row = [_cap(c, max_cell_chars) for c in row]
                    yield number, row
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"第 {number + 1} 行附近有无法按 {encoding} 解码的字节：文件混用了多种编码。"
                    "请在 Excel 中另存为“CSV UTF-8”后重试"
                ) from exc
            except csv.Error as exc:
                if "field larger" in str(exc):
                    raise InputError(f"第 {number + 1} 行有超过 {max_field_mb} MB 的单元格：文件被拒绝") from exc
                raise InputError(f"第 {number + 1} 行 CSV 格式错误：{exc}") from exc
    finally:
        csv.field_size_limit(previous)


def _cap(value: Any, max_chars: int) -> Any:
    if isinstance(value, str) and len(value) > max_chars:
        return TooLong(len(value), value[:30])
    return value


# --- XLSX -------------------------------------------------------------------------------------

def _xlsx_rows(path: Path, *, max_cell_chars: int, max_mb: int) -> Iterator[tuple[int, list[Any]]]:
    import openpyxl

    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(info.file_size for info in zf.infolist())
            names = set(zf.namelist())
    except zipfile.BadZipFile as exc:
        raise InputError("Excel 文件已损坏，无法打开 (不是有效的 zip 容器)") from exc
    if "xl/workbook.xml" not in names:
        raise InputError("文件是 zip 压缩包，但不是 Excel 工作簿 (.xlsx)")
    if total > max_mb * 1024 * 1024:
        raise InputError(f"Excel 文件解压后超过 {max_mb} MB：请拆分后再导入")
    try:
        return _fast_rows(zipfile.ZipFile(path), max_cell_chars)
    except UnsupportedWorkbook:
        pass  # an unusual layout: openpyxl reads it (slower)
    except (KeyError, ValueError, ParseError) as exc:
        raise InputError(f"无法读取 Excel 文件：{exc}") from exc
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:
        raise InputError(f"无法读取 Excel 文件：{exc}") from exc
    sheet = workbook.worksheets[0]
    return _iter_sheet(workbook, sheet, max_cell_chars)


def _fast_rows(zf: zipfile.ZipFile, max_cell_chars: int) -> Iterator[tuple[int, list[Any]]]:
    rows = open_first_sheet(zf, max_cell_chars)

    def guarded() -> Iterator[tuple[int, list[Any]]]:
        try:
            yield from rows
        except (ParseError, KeyError, ValueError, IndexError) as exc:
            raise InputError(f"Excel 工作表内容损坏，无法读取：{exc}") from exc
        finally:
            zf.close()

    return guarded()


def _iter_sheet(workbook: Any, sheet: Any, max_cell_chars: int) -> Iterator[tuple[int, list[Any]]]:
    try:
        sheet.reset_dimensions()
        for number, row in enumerate(sheet.iter_rows(min_row=1), start=1):
            cells: list[Any] = []
            for cell in row:
                value = getattr(cell, "value", None)
                if getattr(cell, "data_type", None) == "f":
                    value = Formula(str(value))
                elif isinstance(value, str) and len(value) > max_cell_chars:
                    value = TooLong(len(value), value[:30])
                cells.append(value)
            yield number, cells
    finally:
        workbook.close()

