"""Load unit boundaries (GeoJSON, Shapefile, GeoPackage) top-down: fields mapped, parents by code, geometry repaired.

``read_boundary_file`` does everything that needs no database (reading, the .dbf encoding, the column
mapping, codes, parents by prefix, geometry repairs); the dry run stops there, ``load_boundaries`` goes on
to stage and upsert.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyogrio import raw as ogr_raw
from sqlalchemy import Connection

from domain.codes import declared_parent_error, parse_admin_code
from domain.crs import CrsError, InputCrs, parse_crs
from etl.columns import BOUNDARY_PROPERTIES, Column
from etl.geometry import Repair, area_km2, prepare
from etl.ledger import Outcome, Progress
from etl.mapping import BOUNDARY_RECOGNISED, Resolution, missing_message, resolve
from etl.parse import CellError, is_blank, parse_bool, raw_json
from etl.read import InputError
from etl.settings import EtlSettings
from etl.validate import CHINA_LAT, CHINA_LON
from geo import etl_sql

NON_STATUTORY = {"county_other", "dev_zone", "township_other", "village_other"}
BOUNDARY_COLUMNS = (
    *BOUNDARY_PROPERTIES,
    Column("level", "级别", "int", aliases=("LEVEL",), note="可选；与代码所示级别核对"),
    Column("parent_code", "上级代码", "admin_code", note="可选；没有时按代码前缀推断 (2-4-6-9-12 位)"),
)
_PROPERTIES = BOUNDARY_COLUMNS
# Level words of other sources (DataV GeoAtlas ``level``, Chinese level names) → SafeGrid level.
LEVEL_WORDS = {"city": 1, "district": 2, "county": 2, "street": 3, "town": 3, "township": 3, "village": 4,
               "市": 1, "市级": 1, "县": 2, "区": 2, "县级": 2, "乡": 3, "镇": 3, "街道": 3, "乡级": 3,
               "村": 4, "社区": 4, "村级": 4, "网格": 5}
# dBASE language driver ids (byte 29 of the .dbf header) meaning code page 936 (GBK).
GBK_LDIDS = {0x4D: "0x4D", 0x7A: "0x7A"}


def dbf_encoding(path: Path) -> tuple[str | None, str]:
    """Return the encoding to read a shapefile's .dbf with, and how it was decided (Chinese, for the report).

    A ``.cpg`` wins (GDAL reads it). Without one: strict UTF-8 when every string byte decodes so, else
    GB18030 (a superset of GBK). The language driver byte is reported: 0x4D/0x7A mean code page 936
    (GBK); GDAL would read the usual 0x57 ("ANSI") as ISO-8859-1 and garble Chinese names.
    """
    if path.suffix.lower() != ".shp":
        return None, ""
    cpg = next((p for p in (path.with_suffix(".cpg"), path.with_suffix(".CPG")) if p.exists()), None)
    if cpg is not None:
        declared = cpg.read_bytes()[:40].decode("ascii", errors="replace").strip()
        return None, f"按 .cpg 声明的编码 {declared} 读取"
    dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None)
    if dbf is None:
        return None, ""
    data = dbf.read_bytes()
    if len(data) < 32:
        return None, ""
    ldid = data[29]
    header_len = int.from_bytes(data[8:10], "little")
    names = b"".join(data[i:i + 11].split(b"\0", 1)[0] for i in range(32, max(32, header_len - 1), 32))
    strings = names + data[header_len:]
    ldid_note = (f"；dbf 语言驱动字节 {GBK_LDIDS[ldid]} 表示 GBK (代码页 936)" if ldid in GBK_LDIDS
                 else f"；dbf 语言驱动字节 0x{ldid:02X}")
    if strings.isascii():
        return "UTF-8", "无 .cpg，属性只有 ASCII 字符"
    try:
        strings.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        conflict = "，与语言驱动字节不符，以内容为准" if ldid in GBK_LDIDS else ""
        return "UTF-8", f"无 .cpg，内容按 UTF-8 严格解码成功{conflict}{ldid_note}"
    try:
        strings.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise InputError("无法识别 .dbf 的编码 (既不是 UTF-8 也不是 GBK)：请附上 .cpg 文件 (内容如 GBK 或 UTF-8)"
                         ) from exc
    return "GB18030", f"无 .cpg，内容不是 UTF-8，按 GBK/GB18030 读取{ldid_note}"


def read_features(path: Path, crs_option: str | None,
                  ) -> tuple[list[dict[str, Any]], np.ndarray, InputCrs, str]:
    """Read properties and geometries (as WGS84 shapely objects) of the first layer, and the encoding note."""
    if not path.exists():
        raise InputError(f"文件不存在：{path}")
    if path.stat().st_size == 0:
        raise InputError("文件为空 (0 字节)")
    encoding, encoding_note = dbf_encoding(path)
    try:
        meta, _fids, wkb, fields = ogr_raw.read(path, encoding=encoding)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError) as exc:
        raise InputError(f"无法读取边界文件 (支持 GeoJSON、Shapefile、GeoPackage)：{exc}") from exc
    names = [str(n) for n in meta["fields"]]
    records = [
        {name: raw_json(values[i]) for name, values in zip(names, fields, strict=True)}
        for i in range(len(wkb))
    ]
    geoms = shapely.from_wkb(wkb, on_invalid="ignore") if len(wkb) else np.array([], dtype=object)
    try:
        crs = parse_crs(crs_option) if crs_option else parse_crs(meta.get("crs"), default="")
    except CrsError as exc:
        raise InputError(str(exc)) from exc
    if not crs.name:
        # No CRS declared anywhere: only accept coordinates that can be longitude/latitude.
        bounds = shapely.total_bounds(geoms)
        lonlat = -180 <= bounds[0] <= bounds[2] <= 180 and -90 <= bounds[1] <= bounds[3] <= 90
        if np.all(np.isfinite(bounds)) and not lonlat:
            raise InputError("文件未声明坐标系，且坐标不是经纬度：请用 --crs 指定 (如 EPSG:4547)")
        crs = InputCrs("EPSG:4326")
    if not crs.is_wgs84_equal and len(geoms):
        def convert(xy: np.ndarray) -> np.ndarray:
            x, y = crs.to_wgs84(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        geoms = shapely.transform(geoms, convert)
    return records, geoms, crs, encoding_note


@dataclass
class BoundaryFile:
    """A boundary file read, mapped and checked without the database (what the dry run shows)."""

    records: list[dict[str, Any]]
    resolution: Resolution
    rows: list[dict[str, Any]]  # valid features as they would be staged (geom as a shapely geometry)
    rejects: list[tuple[int, dict[str, Any], list[str]]] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    encoding: str = ""


def read_boundary_file(path: Path, *, crs: str | None, level: int | None,
                       fields: dict[str, str | None] | None = None) -> BoundaryFile:
    """Read a boundary file, map its fields, check every feature and repair its geometry (no database)."""
    records, geoms, input_crs, encoding_note = read_features(path, crs)
    if not records:
        raise InputError("边界文件没有任何要素")
    header = list(records[0])
    resolution = resolve(header, BOUNDARY_COLUMNS, fields, recognised=BOUNDARY_RECOGNISED)
    if resolution.problems:
        raise InputError("；".join(resolution.problems))
    missing = missing_message(resolution, BOUNDARY_COLUMNS, what="属性", prefix="边界文件缺少属性")
    if missing:
        if "code" not in resolution.positions:
            likely = [c for c in resolution.ignored if _looks_like_codes([r.get(c) for r in records[:50]])]
            if likely:
                missing += f"。列“{likely[0]}”的值像区划代码：可用 --field code={likely[0]}"
        raise InputError(missing)
    keys = {k: header[i] for k, i in resolution.positions.items()}
    out = BoundaryFile(records, resolution, [], encoding=encoding_note)
    if encoding_note:
        out.notes.append(f"编码：{encoding_note}")
    if input_crs.name not in ("EPSG:4326", "EPSG:4490"):
        out.notes.append(f"坐标已从 {input_crs.name} 转换为 WGS84")
    if "parent_code" not in keys:
        out.notes.append("文件没有上级代码列：上级单位按代码前缀推断")
    if resolution.ignored:
        out.notes.append("忽略了无法识别的属性：" + "、".join(resolution.ignored[:10]))
    seen: dict[str, int] = {}
    dropped_z = 0
    for index, (props, geom) in enumerate(zip(records, geoms, strict=True), start=1):
        row, errors = _check_feature(props, keys, level)
        code = row.get("code")
        if code:
            first = seen.setdefault(code, index)
            if first != index:
                errors.append(f"代码“{code}”与第 {first} 个要素重复：保留第 {first} 个")
        if geom is not None and shapely.has_z(geom):
            dropped_z += 1
        fixed, repair, refusal = prepare(geom, row_number=index, code=code)
        if refusal:
            errors.append(refusal)
        elif fixed is not None:
            xmin, ymin, xmax, ymax = shapely.bounds(fixed)
            inside = CHINA_LON[0] <= xmin and xmax <= CHINA_LON[1] and CHINA_LAT[0] <= ymin and ymax <= CHINA_LAT[1]
            if not inside:
                box = f"({xmin:.4f}, {ymin:.4f}, {xmax:.4f}, {ymax:.4f})"
                errors.append(f"几何范围 {box} 不在中国境内：坐标系是否正确？")
        if errors:
            out.rejects.append((index, {k: v for k, v in props.items() if not is_blank(v)}, errors))
            continue
        if repair is not None:
            out.repairs.append(repair)
        row["row_number"] = index
        row["geom"] = fixed
        out.rows.append(row)
    if dropped_z:
        out.notes.append(f"{dropped_z} 个要素去掉了 Z 坐标 (只存平面)")
    if out.repairs:
        out.notes.append(f"修复了 {len(out.repairs)} 个要素的几何 (见数据质量提示 geometry_repaired)")
    return out


def describe_geometry(geom: Any) -> str:
    """Describe a stored geometry: type, parts, geodesic area."""
    parts = len(getattr(geom, "geoms", [geom]))
    return f"MultiPolygon，{parts} 个部件，{area_km2(geom):.3f} km²"


def load_boundaries(conn: Connection, path: Path, *, level: int | None, crs: str | None, run_id: int,
                    settings: EtlSettings, progress: Progress | None = None,
                    fields: dict[str, str | None] | None = None) -> Outcome:
    """Validate features, stage them, repair geometry, upsert level by level, check parents."""
    bf = read_boundary_file(path, crs=crs, level=level, fields=fields)
    records = bf.records
    out = Outcome(rows_in=len(records), rejects=bf.rejects, notes=bf.notes, mapping=bf.resolution.choices,
                  repairs=bf.repairs, encoding=bf.encoding)
    staged = [dict(r, geom=shapely.to_wkb(r["geom"], hex=True)) for r in bf.rows]
    findings: list[tuple[str, str | None, str, str]] = [
        ("units", r.code, "geometry_repaired", r.describe()) for r in bf.repairs]
    etl_sql.create_unit_stage(conn)
    etl_sql.copy_unit_stage(conn, rows=staged)
    by_row = {r["row_number"]: r for r in staged}
    raw_of = {i: records[i - 1] for i in by_row}
    bad: list[int] = []
    for fix in etl_sql.repair_unit_geometries(conn):
        if fix["empty"]:
            bad.append(fix["row_number"])
            out.rejects.append((fix["row_number"], raw_of[fix["row_number"]], [f"几何无效且无法修复：{fix['reason']}"]))
        else:
            detail = f"几何无效 ({fix['reason']})，已用 ST_MakeValid 修复"
            findings.append(("units", fix["code"], "geometry_repaired", detail))
    if bad:
        etl_sql.delete_unit_stage_rows(conn, row_numbers=bad)
    inserted = updated = 0
    for lvl in etl_sql.staged_levels(conn):
        orphans = etl_sql.orphan_units(conn, level=lvl)
        if orphans:
            for o in orphans:
                out.rejects.append((o["row_number"], raw_of[o["row_number"]],
                                    [f"上级单位“{o['parent_code']}”不存在：请先导入上一级边界 (或放在同一文件中)"]))
            etl_sql.delete_unit_stage_rows(conn, row_numbers=[o["row_number"] for o in orphans])
            bad.extend(o["row_number"] for o in orphans)
        counts = etl_sql.upsert_units(conn, level=lvl, run_id=run_id, edition=settings.code_edition)
        inserted += counts["inserted"]
        updated += counts["updated"]
        if progress:
            progress(len(staged))
    for o in etl_sql.units_outside_parent(conn, min_share=settings.parent_overlap_min):
        share = 0.0 if o["share"] is None else float(o["share"])
        findings.append(("units", o["code"], "outside_parent",
                         f"{o['name']} 只有 {share:.0%} 的面积在上级 {o['parent_name']} ({o['parent_code']}) 内"))
    out.findings += etl_sql.insert_findings(conn, run_id=run_id, findings=findings)
    out.rows_loaded = len(staged) - len(bad)
    out.counts = {"inserted": inserted, "updated": updated}
    if any(r.get("level") == 5 for r in staged) and inserted + updated:
        for table in etl_sql.LOCATED:
            assigned = etl_sql.assign_grid_cells(conn, table=table, run_id=run_id)
            out.findings += assigned["no_cell"] + assigned["on_border"]
            out.counts[f"{table}_regridded"] = assigned["changed"]
    return out


def _check_feature(props: dict[str, Any], keys: dict[str, str],
                   level: int | None) -> tuple[dict[str, Any], list[str]]:
    """Validate one feature's code, name, level and declared parent (the geometry is checked by ``prepare``)."""
    errors: list[str] = []
    row: dict[str, Any] = {}
    raw_code = props.get(keys["code"])
    if is_blank(raw_code):
        errors.append(f"缺少代码 ({keys['code']})")
    else:
        try:
            parsed = parse_admin_code(_code_text(raw_code))
        except ValueError as exc:
            errors.append(str(exc))
        else:
            row.update(code=parsed.code, level=parsed.level, parent_code=parsed.parent, kind=parsed.kind,
                       is_statutory=parsed.kind not in NON_STATUTORY)
            if level is not None and parsed.level != level:
                errors.append(f"代码“{parsed.code}”属于第 {parsed.level} 级，与 --level {level} 不符")
            declared = props.get(keys["level"]) if "level" in keys else None
            if not is_blank(declared):
                word = str(declared).strip()
                number = LEVEL_WORDS.get(word.lower(), int(word) if word.isdigit() else None)
                if number is not None and number != parsed.level:
                    errors.append(f"属性 {keys['level']}={declared} 与代码“{parsed.code}”的级别 {parsed.level} 不符")
            parent = _parent_text(props.get(keys["parent_code"])) if "parent_code" in keys else None
            if parent is not None:
                problem = declared_parent_error(parsed, parent)
                if problem:
                    errors.append(problem)
    name = props.get(keys["name"])
    if is_blank(name):
        errors.append(f"缺少名称 ({keys['name']})")
    else:
        row["name"] = str(name).strip()[:100]
    if "is_demo_geometry" in keys and not is_blank(props.get(keys["is_demo_geometry"])):
        try:
            row["is_demo"] = parse_bool(props[keys["is_demo_geometry"]])
        except CellError as exc:
            errors.append(f"is_demo_geometry {exc}")
    return row, errors


def _looks_like_codes(values: list[Any]) -> bool:
    """Tell whether every non-blank value parses as a unit code (a hint for the missing ``code`` field)."""
    present = [v for v in values if not is_blank(v)]
    if not present:
        return False
    try:
        for value in present:
            parse_admin_code(_code_text(value))
    except ValueError:
        return False
    return True


def _code_text(raw: Any) -> str:
    """Return a code cell as a string: a .dbf numeric field arrives as a float (411002001.0)."""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _parent_text(raw: Any) -> str | None:
    """Return a parent cell as a string, or None when blank; DataV's ``parent`` is an object ``{"adcode": …}``."""
    if is_blank(raw):
        return None
    if isinstance(raw, str) and raw.strip().startswith("{"):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            return raw
        value = data.get("adcode", data.get("code")) if isinstance(data, dict) else None
        return None if value is None else _code_text(value)
    return _code_text(raw)
