"""Per-row validation of ledgers: typed cells, cross-field rules, locations. Reasons are in Chinese."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from domain import clock
from domain.catalogues import Catalogue
from domain.codes import CREDIT_CHARSET, CREDIT_WEIGHTS
from domain.crs import InputCrs
from etl.parse import BLANK_WORDS, CellError, Formula, TooLong, is_blank, parser_for
from geo.ledger_kinds import Column, ledger_kind

# China's bounding box: anything outside is not a ledger location in this country.
CHINA_LON = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)


def today() -> date:
    """Return the business day (what "in the future" means for a bureau's ledger)."""
    return clock.today()


@dataclass(frozen=True)
class Field:
    """A column of the file bound to its parser, with a cache of the values already seen."""

    column: Column
    position: int
    parse: Callable[[Any], Any]
    max_length: int | None
    not_future: bool
    cache: dict[Any, Any] = field(default_factory=dict)


class _Reason(str):
    """A cached verdict that a cell is wrong (the Chinese reason)."""


_BLANK = object()
_MISSING = object()
CACHE_MAX = 50_000  # distinct values remembered per column (enums, dates, industries repeat a lot)


class RowValidator:
    """Turn the cells of one row into typed values plus the list of reasons it is wrong.

    Columns, limits and the row's cross-check come from the kind's record (``geo.ledger_kinds``).
    """

    def __init__(self, kind: str, positions: dict[str, int], *, as_of: date | None = None,
                 max_cell_chars: int = 32_767, catalogue: Catalogue | None = None) -> None:
        record = ledger_kind(kind)
        self.kind = kind
        self.max_cell_chars = max_cell_chars
        self.today = as_of or today()
        self.fields = [
            Field(col, positions[col.key], parser_for(col.type, catalogue), record.max_length(col.key),
                  col.not_future)
            for col in record.columns
            if col.key in positions
        ]
        self.state: dict[str, Any] = {}  # what the cross-check remembers across the rows of one file
        self.cross_check = record.cross_check
        self.width = max((f.position for f in self.fields), default=-1) + 1

    def _check(self, f: Field, raw: Any) -> Any:
        """Parse one non-empty cell: the value, ``_BLANK`` or a ``_Reason``."""
        if is_blank(raw):
            return _BLANK
        header = f.column.header
        if isinstance(raw, Formula):
            return _Reason(f"“{header}”是公式 ({raw.text[:40]})：请复制后“选择性粘贴 → 数值”再导入")
        if isinstance(raw, TooLong):
            return _Reason(f"“{header}”内容过长：{raw.length} 字符，单元格上限 {self.max_cell_chars} 字符")
        try:
            value = f.parse(raw)
        except CellError as exc:
            return _Reason(f"“{header}”{exc}")
        if f.max_length and isinstance(value, str) and len(value) > f.max_length:
            return _Reason(f"“{header}”过长 ({len(value)} 字，上限 {f.max_length} 字)")
        if f.not_future and isinstance(value, date) and value > self.today:
            return _Reason(f"“{header}” {value.isoformat()} 在未来 (今天是 {self.today.isoformat()})")
        return value

    def __call__(self, cells: Sequence[Any]) -> tuple[dict[str, Any], list[str]]:
        """Parse one row; return (values by column key, Chinese reasons)."""
        values: dict[str, Any] = {}
        errors: list[str] = []
        width = len(cells)
        for f in self.fields:
            raw = cells[f.position] if f.position < width else None
            if raw is None or raw == "":
                verdict = _BLANK
            elif type(raw) is str:
                verdict = f.cache.get(raw, _MISSING)
                if verdict is _MISSING:
                    verdict = self._check(f, raw)
                    if len(f.cache) < CACHE_MAX:
                        f.cache[raw] = verdict
            else:
                verdict = self._check(f, raw)
            if verdict is _BLANK:
                if f.column.required:
                    errors.append(f"缺少必填项“{f.column.header}”")
            elif type(verdict) is _Reason:
                errors.append(verdict)
            else:
                values[f.column.key] = verdict
        if self.cross_check is not None:
            self.cross_check(self.state, values, errors)
        return values, errors


    def chunk(self, rows: Sequence[Sequence[Any]]) -> list[tuple[dict[str, Any], list[str]]]:
        """Parse many rows column by column: the same values and reasons, in the same order, as per row.

        Each column goes through its cache in one pass; credit codes and coordinates that are
        plainly valid are recognised for the whole column at once (numpy) before the cell parsers.
        Columns without a blank or wrong cell become the rows' dicts in one ``zip``.
        """
        count = len(rows)
        full = bool(rows) and min(map(len, rows)) >= self.width
        clean_keys: list[str] = []
        clean: list[list[Any]] = []
        dirty: list[tuple[Field, list[Any]]] = []
        for f in self.fields:
            pos = f.position
            column = [r[pos] for r in rows] if full else [r[pos] if pos < len(r) else None for r in rows]
            verdicts = self._verdicts(f, column)
            if _BLANK in verdicts or _Reason in set(map(type, verdicts)):
                dirty.append((f, verdicts))
            else:
                clean_keys.append(f.column.key)
                clean.append(verdicts)
        values: list[dict[str, Any]] = [dict(zip(clean_keys, row, strict=True)) for row in zip(*clean, strict=True)]
        if not clean:
            values = [{} for _ in range(count)]
        errors: list[list[str]] = [[] for _ in range(count)]
        for f, verdicts in dirty:
            key = f.column.key
            missing = f"缺少必填项“{f.column.header}”" if f.column.required else None
            for i, verdict in enumerate(verdicts):
                if verdict is _BLANK:
                    if missing:
                        errors[i].append(missing)
                elif type(verdict) is _Reason:
                    errors[i].append(verdict)
                else:
                    values[i][key] = verdict
        cross_check = self.cross_check
        if cross_check is not None:
            for row_values, row_errors in zip(values, errors, strict=True):
                cross_check(self.state, row_values, row_errors)
        return list(zip(values, errors, strict=True))

    def _verdicts(self, f: Field, column: list[Any]) -> list[Any]:
        """Verdict per cell of one column: the value, ``_BLANK`` or a ``_Reason``."""
        get = f.cache.get
        known = _bulk(f, column)
        verdicts = known if known is not None else [get(raw, _MISSING) if type(raw) is str else _MISSING
                                                   for raw in column]
        cache = f.cache
        for i in [i for i, v in enumerate(verdicts) if v is _MISSING]:
            raw = column[i]
            if raw is None or raw == "":
                verdict = _BLANK
            elif type(raw) is str:
                verdict = get(raw, _MISSING)
                if verdict is _MISSING:
                    verdict = self._check(f, raw)
                    if len(cache) < CACHE_MAX:
                        cache[raw] = verdict
            else:
                verdict = self._check(f, raw)
            verdicts[i] = verdict
        return verdicts


_CREDIT_LUT = np.full(256, -1, dtype=np.int64)
for _i, _c in enumerate(CREDIT_CHARSET):
    _CREDIT_LUT[ord(_c)] = _i
_CREDIT_W = np.array(CREDIT_WEIGHTS, dtype=np.int64)
_CHECK_CHAR = np.array([ord(CREDIT_CHARSET[(31 - t) % 31]) for t in range(31)], dtype=np.uint8)


def _bulk(f: Field, column: list[Any]) -> list[Any] | None:
    """Verdicts known for the whole column at once (``_MISSING`` where the cell parser must decide).

    Only cells whose parser result is certain are filled in: 18-character upper-case ASCII credit
    codes that pass the GB 32100 check (returned as is by ``parse_credit_code``), and plain decimal
    coordinates that ``float`` reads as a finite number (what ``parse_degrees`` returns for them).
    """
    kind = f.column.type
    if kind == "credit_code":
        return _bulk_credit(column)
    if kind in ("lon", "lat"):
        return _bulk_float(column)
    if kind == "str":
        return _bulk_str(column, f.max_length)
    return None


def _bulk_str(column: list[Any], max_length: int | None) -> list[Any]:
    """Text cells that are not blank and not too long are their stripped selves (``parse_str``)."""
    limit = max_length or sys.maxsize
    known: list[Any] = []
    for c in column:
        if type(c) is str:
            text = c.strip()
            known.append(text if text not in BLANK_WORDS and len(text) <= limit else _MISSING)
        else:
            known.append(_MISSING)
    return known


def _bulk_credit(column: list[Any]) -> list[Any] | None:
    index = [i for i, c in enumerate(column) if type(c) is str and len(c) == 18 and c.isascii()]
    if not index:
        return None
    codes = np.frombuffer("".join([column[i] for i in index]).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
    body = _CREDIT_LUT[codes[:, :17]]
    total = (body * _CREDIT_W).sum(axis=1) % 31
    digits = codes[:, 2:8]
    ok = ((body >= 0).all(axis=1) & ((digits >= ord("0")) & (digits <= ord("9"))).all(axis=1)
          & (_CREDIT_LUT[codes[:, 17]] >= 0) & (codes[:, 17] == _CHECK_CHAR[total]))
    known: list[Any] = [_MISSING] * len(column)
    for j in np.flatnonzero(ok).tolist():
        i = index[j]
        known[i] = column[i]
    return known


def _bulk_float(column: list[Any]) -> list[Any] | None:
    if not column or not all(type(c) is str and c for c in column):
        return None
    try:
        numbers = np.array(column, dtype=np.float64)
    except ValueError:
        return None
    if not np.isfinite(numbers).all():
        return None
    return numbers.tolist()


def row_key(kind: str, values: dict[str, Any]) -> tuple[Any, ...] | None:
    """Return the natural key of a parsed row, or None when part of it is missing."""
    names = ledger_kind(kind).key
    if len(names) == 1:
        value = values.get(names[0])
        return None if value is None else (value,)
    key = tuple(values.get(k) for k in names)
    return None if any(v is None for v in key) else key


class Locator:
    """Converts ledger coordinates to WGS84 and checks them against the city boundary."""

    def __init__(self, crs: InputCrs, city_wkb: bytes | None, city_name: str | None) -> None:
        self.crs = crs
        self.city: BaseGeometry | None = shapely.from_wkb(city_wkb) if city_wkb else None
        if self.city is not None:
            shapely.prepare(self.city)
        self.city_name = city_name or "本市"

    def check(self, rows: Sequence[tuple[dict[str, Any], list[str]]]) -> None:
        """Convert lon/lat of every row in place (vectorised) and append location errors."""
        index = []
        for i, (values, errors) in enumerate(rows):
            lon, lat = values.get("lon"), values.get("lat")
            if lon is None and lat is None:
                continue
            if lon is None or lat is None:
                errors.append("“经度”和“纬度”须同时填写")
                values.pop("lon", None)
                values.pop("lat", None)
                continue
            if lon == 0 and lat == 0:
                errors.append("坐标为 0,0 (可能未填写或被填为默认值)")
                continue
            if not (CHINA_LON[0] <= lon <= CHINA_LON[1] and CHINA_LAT[0] <= lat <= CHINA_LAT[1]):
                if CHINA_LON[0] <= lat <= CHINA_LON[1] and CHINA_LAT[0] <= lon <= CHINA_LAT[1]:
                    errors.append(f"经纬度可能填反：经度 {lon}、纬度 {lat} (经度应约为 {lat}，纬度应约为 {lon})")
                else:
                    errors.append(f"坐标 ({lon}, {lat}) 不在中国境内")
                continue
            index.append(i)
        if not index:
            return
        lons = np.array([rows[i][0]["lon"] for i in index], dtype=np.float64)
        lats = np.array([rows[i][0]["lat"] for i in index], dtype=np.float64)
        x, y = self.crs.to_wgs84(lons, lats)
        inside = shapely.intersects_xy(self.city, x, y) if self.city is not None else np.ones(len(index), bool)
        swapped = (shapely.intersects_xy(self.city, lats, lons) if self.city is not None
                   else np.zeros(len(index), bool))
        for j, i in enumerate(index):
            values, errors = rows[i]
            if inside[j]:
                values["lon"], values["lat"] = float(x[j]), float(y[j])
            elif swapped[j]:
                errors.append(f"经纬度可能填反：({values['lon']}, {values['lat']}) 不在{self.city_name}内，"
                              f"交换后 ({values['lat']}, {values['lon']}) 在{self.city_name}内")
            else:
                errors.append(f"坐标 ({values['lon']}, {values['lat']}) 不在{self.city_name}边界内")
