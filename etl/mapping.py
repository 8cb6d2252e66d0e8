"""Which column of a file feeds which field: ``--field``, saved mappings, and field names recognised by source.

Files arrive with the field names of the department that made them: the land survey's ``XZQDM``/``XZQMC``,
the statistics bureau's 统计用区划代码, the national base map's ``PAC``/``NAME``, DataV's ``adcode``, and
ESRI exports whose dBASE field names were cut at 10 bytes. A column is chosen for a field in this order:

1. an explicit choice (``--field code=XZQDM``, or a saved mapping: JSON, or the 字段对应 sheet of a workbook);
2. SafeGrid's own names (the header, key and aliases of the column's record);
3. the names recognised from Chinese GIS sources below (``BOUNDARY_RECOGNISED``, ``LEDGER_RECOGNISED``),
   and their 10-byte truncations.

A field with two candidates on the same step is refused, naming them and the ``--field`` that settles it.
Where the names come from is written down in docs/etl.md ("Field names recognised").
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo.ledger_kinds import Column

MAPPING_SHEET = "字段对应"
MAPPING_HEADER = ("字段", "列名", "文件中的列名", "说明")
MAPPING_VERSION = 1
DBF_NAME_BYTES = 10  # dBASE field names: at most 10 bytes (ArcGIS error 000142; GDAL shapefile driver)

Recognised = dict[str, tuple[tuple[str, str], ...]]  # field key → (name, source label) pairs

# Boundary files (GeoJSON/Shapefile/GeoPackage). Sources are short labels explained in docs/etl.md.
BOUNDARY_RECOGNISED: Recognised = {
    "code": (
        ("XZQDM", "三调"), ("行政区代码", "三调"), ("XZQHDM", "GIS"), ("行政区划代码", "民政/GIS"),
        ("统计用区划代码", "统计"), ("区划代码", "统计"), ("QHDM", "GIS"), ("PAC", "基础地理"),
        ("ADCODE", "DataV/高德"), ("AD_CODE", "GIS"), ("DM", "GIS"), ("CODE", "GIS"), ("编码", "GIS"),
        ("代码", "GIS"), ("单位代码", "SafeGrid"),
    ),
    "name": (
        ("XZQMC", "三调"), ("行政区名称", "三调"), ("XZQHMC", "GIS"), ("行政区划名称", "民政/GIS"),
        ("区划名称", "统计"), ("QHMC", "GIS"), ("NAME", "基础地理"), ("MC", "GIS"), ("名称", "统计"),
        ("单位名称", "GIS"),
    ),
    "parent_code": (
        ("parent", "DataV/adcode"), ("PARENT_CODE", "GIS"), ("PARENTCODE", "GIS"), ("PCODE", "GIS"),
        ("SJDM", "GIS"), ("SJXZQDM", "GIS"), ("上级代码", "GIS"), ("上级区划代码", "GIS"),
        ("上级行政区划代码", "GIS"), ("父级代码", "GIS"), ("上级单位代码", "SafeGrid"),
    ),
    "level": (("JB", "GIS"), ("级别", "GIS"), ("rank", "adcode"), ("层级", "SafeGrid")),
}

# Ledgers: pinyin initials and English names seen in exports of enterprise and point databases.
LEDGER_RECOGNISED: Recognised = {
    "credit_code": (("TYSHXYDM", "GIS"), ("SHXYDM", "GIS"), ("XYDM", "GIS"), ("统一信用代码", "GIS")),
    "lon": (("JD", "GIS"), ("LNG", "GIS"), ("LON", "GIS"), ("X坐标", "GIS")),
    "lat": (("WD", "GIS"), ("LAT", "GIS"), ("Y坐标", "GIS")),
    "address": (("DZ", "GIS"), ("QYDZ", "GIS"), ("详细地址", "GIS")),
}

SOURCE_LABELS = {
    "三调": "第三次全国国土调查数据库 行政区 (XZQ) 图层",
    "统计": "国家统计局 统计用区划和城乡划分代码",
    "民政/GIS": "民政部 行政区划代码 / 常见 GIS 导出",
    "基础地理": "国家基础地理信息数据 (1:100 万/1:25 万 行政区 BOUA)",
    "DataV/高德": "阿里云 DataV GeoAtlas / 高德 行政区 GeoJSON",
    "DataV/adcode": "DataV GeoAtlas parent{adcode} / adcode 数据表 parent",
    "adcode": "adcode 数据表 (Vonng/adcode)",
    "GIS": "常见 GIS/台账导出的拼音首字母或英文字段名",
    "截断": "ESRI Shapefile 字段名截断为 10 字节",
    "SafeGrid": "SafeGrid 自己导出的 GeoPackage/Shapefile (/api/export/gis)",
}


class MappingError(ValueError):
    """A bad ``--field``/mapping file (unknown field, unreadable file): a usage error (exit 2)."""


def header_key(text: Any) -> str:
    """Normalise a header cell: NFKC, no whitespace, no required markers (*), lower case."""
    if text is None:
        return ""
    value = unicodedata.normalize("NFKC", str(text))
    return "".join(ch for ch in value if not ch.isspace() and ch not in "*＊:：").lower()


def truncations(name: str) -> set[str]:
    """Return the spellings a name takes as a dBASE field name: cut at 10 bytes (GBK, UTF-8), GDAL's ``_1``."""
    out: set[str] = set()
    for encoding in ("gbk", "utf-8"):
        try:
            data = name.encode(encoding)
        except UnicodeEncodeError:
            continue
        if len(data) > DBF_NAME_BYTES:
            cut = data[:DBF_NAME_BYTES].decode(encoding, errors="ignore")
            if cut:
                out.add(cut)
                if len(data) > 8:
                    out.add(data[:8].decode(encoding, errors="ignore") + "_1")
    return out


@dataclass(frozen=True)
class Choice:
    """One field's column: which file column feeds it and why (``how``: 指定, 同名, 识别：source)."""

    key: str
    header: str  # SafeGrid's header of the field
    column: str | None  # as written in the file; None: not in the file
    how: str = ""
    required: bool = False


@dataclass
class Resolution:
    """The mapping of one header row: positions by key, the choices, ignored columns, refusals."""

    positions: dict[str, int]
    choices: list[Choice]
    ignored: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ambiguous: set[str] = field(default_factory=set)  # fields with several candidate columns

    @property
    def matched(self) -> int:
        """Fields that found a column or several (how a header row is recognised among title rows)."""
        return len(self.positions.keys() | self.ambiguous)

    def fields(self) -> dict[str, str]:
        """Key → file column of every mapped field (what ``--save-mapping`` writes)."""
        return {c.key: c.column for c in self.choices if c.column}


def _names(columns: Sequence[Column], table: Recognised) -> tuple[dict[str, set[str]], dict[str, dict[str, str]]]:
    """Own names (normalised) per key, and recognised names per key with their source."""
    own = {c.key: {header_key(n) for n in c.accepted} for c in columns}
    taken = {n for names in own.values() for n in names}
    recognised: dict[str, dict[str, str]] = {c.key: {} for c in columns}
    for col in columns:
        for name, source in table.get(col.key, ()):
            key = header_key(name)
            if key not in taken:
                recognised[col.key].setdefault(key, source)
    # 10-byte truncations of every name, unless two fields would share one (then --field decides).
    cut_owner: dict[str, set[str]] = {}
    for col in columns:
        every = [*col.accepted, *(n for n, _s in table.get(col.key, ()))]
        for name in every:
            for cut in truncations(name):
                cut_owner.setdefault(header_key(cut), set()).add(col.key)
    for cut, owners in cut_owner.items():
        if len(owners) == 1 and cut not in taken:
            owner = next(iter(owners))
            recognised[owner].setdefault(cut, "截断")
    return own, recognised


def normalise_fields(fields: Mapping[str, str | None], columns: Sequence[Column]) -> dict[str, str | None]:
    """Accept a field by its key or its Chinese header; raise ``MappingError`` for an unknown one."""
    by_name = {header_key(n): c.key for c in columns for n in (c.key, c.header)}
    out: dict[str, str | None] = {}
    for name, column in fields.items():
        key = by_name.get(header_key(name))
        if key is None:
            known = "、".join(f"{c.key} ({c.header})" for c in columns)
            raise MappingError(f"--field 中的字段“{name}”不存在：可用 {known}")
        out[key] = (column or "").strip() or None
    return out


def resolve(cells: Sequence[Any], columns: Sequence[Column], fields: Mapping[str, str | None] | None = None,
            *, recognised: Recognised | None = None, hint: str = "--field") -> Resolution:
    """Map a header row to the fields of ``columns`` (explicit choices first, then own, then recognised names)."""
    fields = dict(fields or {})
    own, known = _names(columns, LEDGER_RECOGNISED if recognised is None else recognised)
    headers = [str(c).strip() if c is not None else "" for c in cells]
    keys = [header_key(c) for c in cells]
    positions: dict[str, int] = {}
    how: dict[str, str] = {}
    problems: list[str] = []
    used: set[int] = set()
    ambiguous: set[str] = set()
    by_key = {c.key: c for c in columns}
    for key, column in fields.items():
        if column is None:
            how[key] = "不导入 (指定)"
            continue
        hits = [i for i, k in enumerate(keys) if k and k == header_key(column)]
        if not hits:
            shown = "、".join(h for h in headers if h)[:200]
            problems.append(f"指定的列“{column}” ({key}) 在文件中不存在：文件中的列为 {shown}")
        elif len(hits) > 1:
            where = "、".join(str(i + 1) for i in hits)
            problems.append(f"指定的列“{column}”在文件中出现了 {len(hits)} 次 (第 {where} 列)")
        else:
            positions[key], how[key] = hits[0], "指定"
            used.add(hits[0])
    for col in columns:
        if col.key in fields:
            continue
        for step, names in (("同名", own[col.key]), ("识别", known[col.key].keys())):
            hits = [i for i, k in enumerate(keys) if k and k in names and i not in used]
            if len(hits) == 1:
                positions[col.key] = hits[0]
                used.add(hits[0])
                source = known[col.key].get(keys[hits[0]], "") if step == "识别" else ""
                how[col.key] = f"识别：{SOURCE_LABELS.get(source, source)}" if source else step
                break
            if len(hits) > 1:
                listed = "、".join(f"“{headers[i]}” (第 {i + 1} 列)" for i in hits)
                if step == "同名":
                    first, second = hits[0], hits[1]
                    problems.append(f"列“{col.header}”出现了两次 (第 {first + 1} 列和第 {second + 1} 列)：请用 "
                                    f"{hint} {col.key}=列名 指定其一")
                else:
                    problems.append(f"无法确定“{col.header}” ({col.key}) 对应哪一列：候选 {listed}。请用 "
                                    f"{hint} {col.key}={headers[hits[0]]} 指定")
                used.update(hits)
                ambiguous.add(col.key)
                break
    choices = [Choice(c.key, c.header, headers[positions[c.key]] if c.key in positions else None,
                      how.get(c.key, ""), c.required) for c in columns]
    ignored = [headers[i] for i, k in enumerate(keys) if k and i not in positions.values() and i not in used]
    for key in fields:
        if key not in by_key:
            problems.append(f"字段“{key}”不属于这种数据")
    return Resolution(positions, choices, ignored, problems, ambiguous)


def missing_message(resolution: Resolution, columns: Sequence[Column], *, what: str = "列",
                    prefix: str = "缺少必填列") -> str | None:
    """Return the refusal for required fields without a column (naming the file's columns and ``--field``)."""
    missing = [c for c in columns if c.required and c.key not in resolution.positions]
    if not missing:
        return None
    names = "；".join(f"“{c.header}” (也可写作：{'、'.join((*c.aliases, c.key))})" for c in missing)
    unused = "、".join(resolution.ignored[:12])
    advice = (f"。文件中未识别的{what}：{unused}；请用 --field {missing[0].key}=列名 指定 (或 --mapping 映射文件)"
              if unused else "")
    return f"{prefix}：{names}{advice}"


# --- saved mappings -----------------------------------------------------------------------------

def read_mapping(path: Path, *, kind: str) -> dict[str, str | None]:
    """Read a saved mapping: JSON (``--save-mapping x.json``) or the 字段对应 sheet of an .xlsx."""
    if not path.exists():
        raise MappingError(f"映射文件不存在：{path}")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_mapping_sheet(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MappingError(f"映射文件不是有效的 JSON：{exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("fields"), dict):
        raise MappingError("映射文件应为 {\"kind\": …, \"fields\": {\"字段\": \"列名\"}}")
    if data.get("kind") not in (None, kind):
        raise MappingError(f"映射文件属于“{data['kind']}”，不能用于“{kind}”")
    return {str(k): (None if v in (None, "") else str(v)) for k, v in data["fields"].items()}


def _read_mapping_sheet(path: Path) -> dict[str, str | None]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise MappingError(f"无法读取映射工作簿：{exc}") from exc
    try:
        sheet = wb[MAPPING_SHEET] if MAPPING_SHEET in wb.sheetnames else None
        if sheet is None:
            raise MappingError(f"工作簿中没有“{MAPPING_SHEET}”工作表 (用 safegrid etl template 生成的模板里有)")
        out: dict[str, str | None] = {}
        for row in sheet.iter_rows(min_row=2, values_only=True):
            key = row[0] if row else None
            column = row[2] if len(row) > 2 else None
            if key is not None and column is not None and str(column).strip():
                out[str(key).strip()] = str(column).strip()
        return out
    finally:
        wb.close()


def write_mapping(path: Path, *, kind: str, choices: Sequence[Choice]) -> Path:
    """Save the chosen columns: JSON, or an .xlsx with the 字段对应 sheet (the templates' layout)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.title = MAPPING_SHEET
        fill_mapping_sheet(ws, [(c.key, c.header, c.column or "", c.how) for c in choices])
        wb.save(path)
        return path
    data = {"kind": kind, "version": MAPPING_VERSION, "fields": {c.key: c.column for c in choices if c.column}}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def fill_mapping_sheet(ws: Any, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """Write the 字段对应 sheet: field key, SafeGrid header, the file's column (to fill in), note."""
    from openpyxl.styles import Font

    ws.append(list(MAPPING_HEADER))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(list(row))
    for letter, width in zip("ABCD", (22, 20, 24, 50), strict=True):
        ws.column_dimensions[letter].width = width
