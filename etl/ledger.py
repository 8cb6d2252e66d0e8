"""Load one ledger file of a registered kind (``geo.ledger_kinds``) inside a transaction."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
from sqlalchemy import Connection

from domain.crs import InputCrs
from etl.geometry import Repair
from etl.h3cells import point_cells
from etl.mapping import Choice
from etl.read import Table, open_table
from etl.settings import EtlSettings
from etl.validate import Locator, RowValidator, row_key
from geo import etl_sql
from geo.departments import assign_departments, unnamed_note
from geo.ledger_kinds import LedgerKind, ledger_kind
from geo.models import H3_CELL_COLUMNS
from geo.rule_settings import department_catalogue, industry_catalogue
from geo.timing import timed

Progress = Callable[[int], None]


APP_OWNED_MESSAGE = "该记录已在系统中办理（整改、验收或督办等），以系统记录为准，台账中的变更未导入"


@dataclass
class Outcome:
    """What a load did inside its transaction (before the run log is written)."""

    rows_in: int = 0
    rows_loaded: int = 0
    rejects: list[tuple[int, dict[str, Any], list[str]]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    findings: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase (LoadResult.timings)
    mapping: list[Choice] = field(default_factory=list)  # which column fed which field (etl.mapping)
    repairs: list[Repair] = field(default_factory=list)  # boundary geometries repaired (etl.geometry)
    encoding: str = ""  # how the file's encoding was decided, when it was a question

    def add_time(self, phase: str, seconds: float) -> None:
        """Add ``seconds`` to ``phase``."""
        self.timings[phase] = self.timings.get(phase, 0.0) + seconds


def _chunks(rows: Iterator[tuple[int, list[Any]]], size: int) -> Iterator[list[tuple[int, list[Any]]]]:
    while True:
        chunk = list(islice(rows, size))
        if not chunk:
            return
        yield chunk


class References:
    """Checks codes against the database (units, enterprises), one query per chunk, cached."""

    def __init__(self, conn: Connection, kind: str) -> None:
        self.conn = conn
        self.kind = kind
        # A ledger keyed by credit code (enterprises) defines credit codes, it does not refer to them.
        self.credit_refs = "credit_code" not in ledger_kind(kind).key
        self.unit_level: dict[str, int | None] = {}
        self.enterprise: dict[str, bool] = {}

    def prime(self, rows: list[tuple[dict[str, Any], list[str]]]) -> None:
        """Look up every code of the chunk not seen before."""
        units = {v[k] for v, _ in rows for k in ("unit_code", "grid_code") if v.get(k)} - self.unit_level.keys()
        if units:
            found = etl_sql.units_by_code(self.conn, codes=sorted(units))
            self.unit_level.update({c: found.get(c) for c in units})
        if not self.credit_refs:
            return
        credits = {v["credit_code"] for v, _ in rows if v.get("credit_code")} - self.enterprise.keys()
        if credits:
            found_credit = etl_sql.enterprises_by_credit_code(self.conn, codes=sorted(credits))
            self.enterprise.update({c: c in found_credit for c in credits})

    def needed(self, positions: dict[str, int]) -> bool:
        """Tell whether a file with these columns refers to anything (else ``prime``/``check`` are no-ops)."""
        return "unit_code" in positions or "grid_code" in positions or (
            self.credit_refs and "credit_code" in positions)

    def check(self, values: dict[str, Any], errors: list[str]) -> None:
        """Append a reason for every code that points at nothing."""
        unit = values.get("unit_code")
        if unit and self.unit_level.get(unit) is None:
            errors.append(f"单位代码“{unit}”在区划中不存在 (请先导入该级边界)")
        grid = values.get("grid_code")
        if grid:
            level = self.unit_level.get(grid)
            if level is None:
                errors.append(f"网格代码“{grid}”不存在 (请先导入网格边界)")
            elif level != 5:
                errors.append(f"“{grid}”是第 {level} 级单位的代码，不是网格代码 (14 位)")
        credit = values.get("credit_code")
        if credit and self.credit_refs and not self.enterprise.get(credit):
            errors.append(f"统一社会信用代码“{credit}”对应的企业不存在 (请先导入企业台账)")


def load_ledger(conn: Connection, kind: str, path: Path, *, crs: InputCrs, run_id: int, settings: EtlSettings,
                progress: Progress | None = None, fields: dict[str, str | None] | None = None) -> Outcome:
    """Validate, stage and upsert one ledger; rejected rows are returned, not written here."""
    record = ledger_kind(kind)
    table: Table = open_table(path, record.columns, max_cell_chars=settings.max_cell_chars,
                              max_field_mb=settings.max_field_mb, max_xlsx_mb=settings.max_xlsx_uncompressed_mb,
                              fields=fields)
    out = Outcome(mapping=table.mapping, encoding=table.encoding or "")
    if table.ignored:
        out.notes.append("忽略了无法识别的列：" + "、".join(table.ignored[:10]))
    if table.encoding and table.encoding not in ("utf-8", "utf-8-sig"):
        out.notes.append(f"文件编码识别为 {table.encoding.upper()}")
    validator = RowValidator(kind, table.positions, max_cell_chars=settings.max_cell_chars,
                             catalogue=industry_catalogue(conn))  # 危化品 → 危险化学品 (app_config industries)
    has_location = "lon" in table.positions or "lat" in table.positions
    locator = Locator(crs, *etl_sql.city_boundary(conn)) if has_location else None
    if locator is not None and locator.city is None:
        out.notes.append("尚未导入市级边界：坐标只做了全国范围检查")
    refs = References(conn, kind)
    check_refs = refs.needed(table.positions)
    seen: dict[tuple[Any, ...], int] = {}
    etl_sql.lock_loads(conn, kind=kind)
    etl_sql.create_stage(conn, kind=kind)
    with _gc_paused():
        _stage_rows(conn, kind, table, validator, locator, refs if check_refs else None, seen, out, settings, progress)
    if out.rows_in == 0:
        from etl.read import InputError

        raise InputError("文件只有表头，没有数据行")
    present = set(table.positions) | _derived(record, table.positions)
    located: dict[str, int] = {}
    if record.located:
        with timed(out.timings, "locate"):
            cells = etl_sql.grid_cell_count(conn)
            located = etl_sql.locate_stage(conn, kind=kind, run_id=run_id, cells=cells)
        out.findings += located.pop("findings")  # new ones: a finding already recorded is not repeated
        if not cells:
            out.notes.append("尚未导入网格边界：未做落格")
    kept: list[int] = []
    out.counts = etl_sql.upsert_ledger(conn, kind=kind, present=present, run_id=run_id, timings=out.timings,
                                       kept=kept)
    out.counts.update({f"grid_{k}": v for k, v in located.items()})
    if kind == "enterprises":  # 行业主管部门 → the department catalogue's code (geo/departments.py)
        note = unnamed_note(assign_departments(conn, department_catalogue(conn), loaded=True)[1])
        if note:
            out.notes.append(note)
    if kept:  # the app's record wins (LedgerKind.app_owned): listed with the run's rejected rows
        header = next(c.header for c in record.columns if c.key == record.key[0])
        for row_number, key in etl_sql.staged_keys_of(conn, kind=kind, row_numbers=kept):
            out.rejects.append((row_number, {header: key}, [APP_OWNED_MESSAGE]))
        out.rows_loaded -= len(kept)
        out.notes.append(f"{len(kept)} 行对应的记录已在系统中办理，以系统为准，台账中的变更未导入")
    return out


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while rows are parsed.

    Hundreds of thousands of short-lived lists and dicts, none in a cycle, otherwise trigger
    repeated full collections that walk every live row (a third of the parse time).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _stage_rows(conn: Connection, kind: str, table: Table, validator: RowValidator, locator: Locator | None,
                refs: References | None, seen: dict[tuple[Any, ...], int], out: Outcome, settings: EtlSettings,
                progress: Progress | None) -> None:
    """Validate the rows chunk by chunk and COPY the good ones into the stage; collect the rejects."""
    columns = set(table.positions) | _derived(ledger_kind(kind), table.positions)
    start = perf_counter()
    for chunk in _chunks(table.rows, settings.chunk_rows):
        parsed = validator.chunk([cells for _, cells in chunk])
        if locator is not None:
            locator.check(parsed)
        out.add_time("parse", perf_counter() - start)  # reading + validating (+ locating) the chunk
        start = perf_counter()
        if refs is not None:
            refs.prime(parsed)
        good: list[tuple[int, dict[str, Any]]] = []
        for (number, cells), (values, errors) in zip(chunk, parsed, strict=True):
            if refs is not None:
                refs.check(values, errors)
            key = row_key(kind, values)
            if key is not None:
                first = seen.setdefault(key, number)
                if first != number:
                    label = "、".join(str(k) for k in key)
                    errors.append(f"与第 {first} 行重复 (键 {label})：保留第 {first} 行")
            if errors:
                out.rejects.append((number, table.raw(cells), errors))
            else:
                good.append((number, values))
        out.add_time("rows", perf_counter() - start)  # references, duplicates, rejects
        start = perf_counter()
        if locator is not None:
            _add_cells(good)
            out.add_time("cells", perf_counter() - start)
            start = perf_counter()
        etl_sql.copy_stage(conn, kind=kind, rows=good, columns=columns)
        out.add_time("copy", perf_counter() - start)
        out.rows_in += len(chunk)
        out.rows_loaded += len(good)
        if progress:
            progress(out.rows_in)
        start = perf_counter()
    out.add_time("parse", perf_counter() - start)


def _add_cells(rows: list[tuple[int, dict[str, Any]]]) -> None:
    """Give every row with (checked, WGS84) coordinates its H3 cells ``h3_r6``..``h3_r9``."""
    located = [values for _, values in rows if values.get("lon") is not None and values.get("lat") is not None]
    if not located:
        return
    cells = point_cells(np.fromiter((v["lon"] for v in located), float, len(located)),
                        np.fromiter((v["lat"] for v in located), float, len(located)))
    for values, row in zip(located, cells.tolist(), strict=True):
        values.update(zip(H3_CELL_COLUMNS, row, strict=True))


def _derived(record: LedgerKind, positions: dict[str, int]) -> set[str]:
    """Columns the validator (or the loader) fills in even when the file lacks them."""
    out = record.filled(positions)
    if "lon" in positions and record.located:
        out |= set(H3_CELL_COLUMNS)  # _add_cells
    return out
