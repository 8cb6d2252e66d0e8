"""Write demo ledgers the way a bureau supplies them: GeoJSON boundaries, xlsx and csv with Chinese headers.

Output is byte-for-byte reproducible: no timestamps in the files (xlsx zip entries and document
properties carry the build's reference date), fixed row order, fixed number formatting.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from openpyxl import Workbook
from shapely.geometry import mapping

from domain import labels
from etl.columns import LEDGERS, Column
from etl.demo.geometry import DemoUnit

CSV_ENCODING = "utf-8-sig"  # UTF-8 with BOM: what Excel-minded bureaus export and Excel opens correctly


def _round(coords: Any) -> Any:
    if isinstance(coords, tuple | list) and coords and isinstance(coords[0], float):
        return [round(c, 6) for c in coords]
    return [_round(c) for c in coords]


def write_geojson(path: Path, units: Iterable[DemoUnit]) -> int:
    """Write one boundary file (EPSG:4326, 6 decimals, one feature per line); return the feature count."""
    lines = []
    for u in units:
        geom = mapping(u.geom)
        feature = {
            "type": "Feature",
            "properties": {"code": u.code, "name": u.name, "level": u.level, "is_demo_geometry": u.is_demo_geometry},
            "geometry": {"type": geom["type"], "coordinates": _round(geom["coordinates"])},
        }
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")
    return len(lines)


def _cells(column: Column, values: np.ndarray) -> list[Any]:
    """Render one column: Chinese enum labels, 是/否, ISO dates, blanks for missing values."""
    kind = column.type
    if kind.startswith("enum:"):
        table: dict[Any, str] = getattr(labels, kind[5:])
        return [table.get(v, "") for v in values.tolist()]
    if kind == "bool":
        return ["是" if v else "否" for v in values.tolist()]
    if kind == "date":
        return ["" if np.isnat(v) else str(v) for v in values.astype("datetime64[D]")]
    if values.dtype.kind == "f":
        digits = 6 if kind in ("lon", "lat") else 2
        return ["" if np.isnan(v) else f"{v:.{digits}f}".rstrip("0").rstrip(".") for v in values.tolist()]
    if values.dtype.kind in "iu":
        return values.tolist()
    return [str(v) for v in values.tolist()]


def _rows(kind: str, table: dict[str, np.ndarray]) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    columns = [c for c in LEDGERS[kind] if c.key in table]
    rendered = [_cells(c, table[c.key]) for c in columns]
    return [c.header for c in columns], zip(*rendered, strict=True)


def write_csv(path: Path, kind: str, table: dict[str, np.ndarray]) -> None:
    """Write a ledger as CSV (UTF-8 with BOM, CRLF like Excel exports)."""
    header, rows = _rows(kind, table)
    with path.open("w", encoding=CSV_ENCODING, newline="") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        out.writerows(rows)


def write_xlsx(path: Path, kind: str, table: dict[str, np.ndarray], as_of: date) -> None:
    """Write a ledger as xlsx; zip entry times and document dates are fixed to ``as_of``."""
    header, rows = _rows(kind, table)
    wb = Workbook(write_only=True)
    stamp = datetime(as_of.year, as_of.month, as_of.day)
    wb.properties.created = wb.properties.modified = stamp
    wb.properties.creator = "SafeGrid demo"
    ws = wb.create_sheet("台账")
    ws.append(header)
    for row in rows:
        ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    # openpyxl stamps every zip entry with the wall clock: rewrite the archive with fixed times
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(max(as_of.year, 1980), as_of.month, as_of.day, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl sets "modified" to now when saving
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp.isoformat().encode() + b"Z", data)
            dst.writestr(fixed, data)


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
