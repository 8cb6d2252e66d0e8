"""Load unit boundaries (GeoJSON, Shapefile, GeoPackage) top-down: parents by code, geometry repaired."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyogrio import raw as ogr_raw
from sqlalchemy import Connection

from domain.codes import parse_admin_code
from domain.crs import CrsError, InputCrs, parse_crs
from etl.columns import BOUNDARY_PROPERTIES, Column
from etl.ledger import Outcome, Progress
from etl.parse import CellError, is_blank, parse_bool, raw_json
from etl.read import InputError, map_headers
from etl.settings import EtlSettings
from etl.validate import CHINA_LAT, CHINA_LON
from geo import etl_sql

NON_STATUTORY = {"county_other", "dev_zone", "township_other", "village_other"}
_PROPERTIES = (*BOUNDARY_PROPERTIES, Column("level", "级别", "int", aliases=("LEVEL",)))


def _shapefile_encoding(path: Path) -> str | None:
    """GBK .dbf files often come without a .cpg: pick UTF-8 when it decodes, else GB18030."""
    if path.suffix.lower() != ".shp" or path.with_suffix(".cpg").exists() or path.with_suffix(".CPG").exists():
        return None
    dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None)
    if dbf is None:
        return None
    data = dbf.read_bytes()
    header_len = int.from_bytes(data[8:10], "little") if len(data) > 10 else 0
    body = data[header_len:]
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "GB18030"
    return "UTF-8"


def read_features(path: Path, crs_option: str | None) -> tuple[list[dict[str, Any]], np.ndarray, InputCrs]:
    """Read properties and geometries (as WGS84 shapely objects) of the first layer."""
    if not path.exists():
        raise InputError(f"文件不存在：{path}")
    if path.stat().st_size == 0:
        raise InputError("文件为空 (0 字节)")
    try:
        meta, _fids, wkb, fields = ogr_raw.read(path, encoding=_shapefile_encoding(path))
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
    return records, geoms, crs


def load_boundaries(conn: Connection, path: Path, *, level: int | None, crs: str | None, run_id: int,
                    settings: EtlSettings, progress: Progress | None = None) -> Outcome:
    """Validate features, stage them, repair geometry, upsert level by level, check parents."""
    records, geoms, input_crs = read_features(path, crs)
    out = Outcome(rows_in=len(records))
    if not records:
        raise InputError("边界文件没有任何要素")
    header = list(records[0])
    positions, problems, _ignored = map_headers(header, _PROPERTIES)
    if problems:
        raise InputError("；".join(problems))
    missing = [c for c in _PROPERTIES if c.required and c.key not in positions]
    if missing:
        names = "；".join(f"“{c.key}” (也可写作：{'、'.join(c.accepted)})" for c in missing)
        raise InputError(f"边界文件缺少属性：{names}")
    keys = {k: header[i] for k, i in positions.items()}
    if input_crs.name not in ("EPSG:4326", "EPSG:4490"):
        out.notes.append(f"坐标已从 {input_crs.name} 转换为 WGS84")
    staged: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, (props, geom) in enumerate(zip(records, geoms, strict=True), start=1):
        row, errors = _check_feature(props, geom, keys, level)
        code = row.get("code")
        if code:
            first = seen.setdefault(code, index)
            if first != index:
                errors.append(f"代码“{code}”与第 {first} 个要素重复：保留第 {first} 个")
        if errors:
            out.rejects.append((index, {k: v for k, v in props.items() if not is_blank(v)}, errors))
        else:
            row["row_number"] = index
            row["geom"] = shapely.to_wkb(geom, hex=True)
            staged.append(row)
    etl_sql.create_unit_stage(conn)
    etl_sql.copy_unit_stage(conn, rows=staged)
    by_row = {r["row_number"]: r for r in staged}
    raw_of = {i: records[i - 1] for i in by_row}
    bad: list[int] = []
    findings: list[tuple[str, str | None, str, str]] = []
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


def _check_feature(props: dict[str, Any], geom: Any, keys: dict[str, str],
                   level: int | None) -> tuple[dict[str, Any], list[str]]:
    """Validate one feature's code, name, level and geometry."""
    errors: list[str] = []
    row: dict[str, Any] = {}
    raw_code = props.get(keys["code"])
    if is_blank(raw_code):
        errors.append("缺少代码 (code)")
    else:
        code_text = str(int(raw_code)) if isinstance(raw_code, float) and raw_code.is_integer() else str(raw_code)
        try:
            parsed = parse_admin_code(code_text)
        except ValueError as exc:
            errors.append(str(exc))
        else:
            row.update(code=parsed.code, level=parsed.level, parent_code=parsed.parent, kind=parsed.kind,
                       is_statutory=parsed.kind not in NON_STATUTORY)
            if level is not None and parsed.level != level:
                errors.append(f"代码“{parsed.code}”属于第 {parsed.level} 级，与 --level {level} 不符")
            declared = props.get(keys["level"]) if "level" in keys else None
            if not is_blank(declared) and str(declared).strip() != str(parsed.level):
                errors.append(f"属性 level={declared} 与代码“{parsed.code}”的级别 {parsed.level} 不符")
    name = props.get(keys["name"])
    if is_blank(name):
        errors.append("缺少名称 (name)")
    else:
        row["name"] = str(name).strip()[:100]
    if "is_demo_geometry" in keys and not is_blank(props.get(keys["is_demo_geometry"])):
        try:
            row["is_demo"] = parse_bool(props[keys["is_demo_geometry"]])
        except CellError as exc:
            errors.append(f"is_demo_geometry {exc}")
    if geom is None or shapely.is_empty(geom):
        errors.append("几何为空")
    elif shapely.get_type_id(geom) not in (3, 6):
        errors.append(f"几何类型为 {geom.geom_type}，应为面 (Polygon/MultiPolygon)")
    else:
        xmin, ymin, xmax, ymax = shapely.bounds(geom)
        if not (CHINA_LON[0] <= xmin and xmax <= CHINA_LON[1] and CHINA_LAT[0] <= ymin and ymax <= CHINA_LAT[1]):
            errors.append(f"几何范围 ({xmin:.4f}, {ymin:.4f}, {xmax:.4f}, {ymax:.4f}) 不在中国境内：坐标系是否正确？")
    return row, errors
