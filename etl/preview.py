"""``safegrid etl load --dry-run``: the mapping chosen and the first rows as they would be written.

Nothing is written and the database is not needed: the file is read, mapped and checked exactly as a
load does (boundaries: codes, parents by prefix, geometry repairs over every feature; ledgers: the first
rows through the same validator and coordinate conversion). What a preview cannot check is what needs
the database: whether parents, units and enterprises named by the rows exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from domain.crs import parse_crs
from etl.boundaries import describe_geometry, read_boundary_file
from etl.geometry import Repair
from etl.load import check_args
from etl.mapping import Choice
from etl.read import InputError, open_table
from etl.settings import EtlSettings, get_etl_settings
from etl.validate import Locator, RowValidator
from geo.ledger_kinds import ledger_kind

BOUNDARY_LABELS = {"code": "代码", "name": "名称", "level": "级别", "kind": "类型", "parent_code": "上级代码",
                   "is_statutory": "法定区划", "is_demo": "示意边界", "geom": "几何"}


@dataclass
class PreviewRow:
    """One row of the file: its number, the values as they would be written, or why it would be rejected."""

    number: int
    values: dict[str, Any]
    errors: list[str] = field(default_factory=list)


@dataclass
class Preview:
    """What a load of the file would do, shown before anything is written."""

    kind: str
    source: str
    mapping: list[Choice]
    labels: dict[str, str]  # value key → column title
    rows: list[PreviewRow]
    rows_in: int | None = None  # every feature of a boundary file; None for a ledger (only the first rows read)
    rejected: int = 0  # rows of those read that would be rejected
    repairs: list[Repair] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def preview_file(kind: str, path: Path, *, level: int | None = None, crs: str | None = None,
                 fields: Mapping[str, str | None] | None = None, rows: int = 5,
                 settings: EtlSettings | None = None) -> Preview:
    """Read, map and check ``path`` like a load; raise ``InputError`` when the load would refuse the file."""
    by_key = check_args(kind, level=level, crs=crs, fields=fields)
    settings = settings or get_etl_settings()
    if kind == "boundaries":
        return _boundaries(path, level=level, crs=crs, fields=by_key, rows=rows)
    return _ledger(kind, path, crs=crs, fields=by_key, rows=rows, settings=settings)


def _boundaries(path: Path, *, level: int | None, crs: str | None, fields: dict[str, str | None],
                rows: int) -> Preview:
    bf = read_boundary_file(path, crs=crs, level=level, fields=fields)
    good = {r["row_number"]: r for r in bf.rows}
    bad = {n: errors for n, _raw, errors in bf.rejects}
    shown: list[PreviewRow] = []
    for number in range(1, min(rows, len(bf.records)) + 1):
        if number in good:
            values = {k: v for k, v in good[number].items() if k not in ("row_number", "geom")}
            values["geom"] = describe_geometry(good[number]["geom"])
            shown.append(PreviewRow(number, values))
        else:
            shown.append(PreviewRow(number, {}, bad.get(number, [])))
    return Preview("boundaries", str(path), bf.resolution.choices, BOUNDARY_LABELS, shown, rows_in=len(bf.records),
                   rejected=len(bf.rejects), repairs=bf.repairs,
                   notes=[*bf.notes, "预览不查数据库：上级单位是否已导入在正式导入时检查"])


def _ledger(kind: str, path: Path, *, crs: str | None, fields: dict[str, str | None], rows: int,
            settings: EtlSettings) -> Preview:
    record = ledger_kind(kind)
    table = open_table(path, record.columns, max_cell_chars=settings.max_cell_chars,
                       max_field_mb=settings.max_field_mb, max_xlsx_mb=settings.max_xlsx_uncompressed_mb,
                       fields=fields)
    first = list(islice(table.rows, rows))
    if not first:
        raise InputError("文件只有表头，没有数据行")
    validator = RowValidator(kind, table.positions, max_cell_chars=settings.max_cell_chars)
    parsed = validator.chunk([cells for _, cells in first])
    notes: list[str] = []
    if "lon" in table.positions or "lat" in table.positions:
        Locator(parse_crs(crs), None, None).check(parsed)
        notes.append("坐标已按 --crs 换算为 WGS84；预览只做全国范围检查 (市界检查在正式导入时)")
    if table.encoding:
        notes.append(f"编码：{table.encoding.upper()}")
    if table.ignored:
        notes.append("忽略了无法识别的列：" + "、".join(table.ignored[:10]))
    notes.append("预览不查数据库：单位代码、企业等引用在正式导入时检查")
    shown = [PreviewRow(number, values, errors)
             for (number, _cells), (values, errors) in zip(first, parsed, strict=True)]
    labels = {c.key: c.header for c in record.columns}
    return Preview(kind, str(path), table.mapping, labels, shown, rejected=sum(1 for r in shown if r.errors),
                   notes=notes)
