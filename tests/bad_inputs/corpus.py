"""Generate the bad-input corpus: broken ledgers and boundary files, each with the message it must produce.

Run ``python -m tests.bad_inputs.corpus OUTDIR`` to write every file for a look by hand; the tests
(tests/test_etl_bad_inputs.py) build them in a temporary directory. Big files (the 50 MB cell) are
only built at test time and never committed.
"""

from __future__ import annotations

import json
import sys
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from openpyxl import Workbook

from tests.etl_support import ENTERPRISE_HEADER, cell_points, credit, enterprise_rows, feature, write_csv, write_geojson

HAZARD_HEADER = ["隐患编号", "所在单位代码", "隐患名称", "隐患等级", "整改状态", "发现日期", "整改期限", "销号日期"]
SOURCE_HEADER = ["危险源编号", "统一社会信用代码", "危险源名称", "危险源等级", "R值"]
OK_HAZARD = ["YH9", "411002001", "消防通道堵塞", "一般隐患", "整改中", "2025-09-01", "2025-10-01", ""]


@dataclass(frozen=True)
class Case:
    """One corpus file: how to build it, what kind it is loaded as, and what the load must say."""

    name: str
    kind: str
    build: Callable[[Path], Path]
    expect: str  # a fragment of the message or of a row's reasons
    status: str = "rejected"  # rejected (file refused or every row bad), partial, ok
    options: dict[str, Any] = field(default_factory=dict)
    big: bool = False


def _bytes(data: bytes) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        path.write_bytes(data)
        return path
    return build


def _csv(header: list[str], rows: list[list[Any]], encoding: str = "utf-8") -> Callable[[Path], Path]:
    return lambda path: write_csv(path, header, rows, encoding)


def _ent(**changes: Any) -> list[list[Any]]:
    """One enterprise row with some cells changed by header name."""
    row = enterprise_rows(1, start=500)[0]
    for header, value in changes.items():
        row[ENTERPRISE_HEADER.index(header)] = value
    return [row]


def _hazard(**changes: Any) -> list[list[Any]]:
    row = list(OK_HAZARD)
    for header, value in changes.items():
        row[HAZARD_HEADER.index(header)] = value
    return [row]


def _xlsx(rows: list[list[Any]]) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        for row in rows:
            ws.append(row)
        wb.save(path)
        return path
    return build


def _mixed_encoding(path: Path) -> Path:
    """UTF-8 for the first 300 KB, then a row saved in GBK (a file pasted together from two sources)."""
    rows = enterprise_rows(4000)
    with path.open("wb") as fh:
        fh.write((",".join(ENTERPRISE_HEADER) + "\n").encode("utf-8"))
        for row in rows:
            fh.write((",".join(str(c) for c in row) + "\n").encode("utf-8"))
        fh.write((",".join(str(c) for c in _ent(企业名称="许昌市建安区某某机械厂")[0]) + "\n").encode("gbk"))
    return path


def _corrupt_xlsx(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xl/workbook.xml", "<not really a workbook")
    return path


def _big_cell_xlsx(path: Path) -> Path:
    """A 50 MB cell: openpyxl (like Excel) truncates long cells, so the sheet XML is patched afterwards."""
    draft = path.with_suffix(".draft.xlsx")
    row = _ent()[0]
    row[1] = "BIGCELL"
    _xlsx([ENTERPRISE_HEADER, row, enterprise_rows(1, start=501)[0]])(draft)
    with zipfile.ZipFile(draft) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if b"BIGCELL" in data:
                data = data.replace(b"BIGCELL", "企".encode() * (50 * 1024 * 1024 // 3))
            dst.writestr(info, data)
    draft.unlink()
    return path


def _big_cell_csv(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(ENTERPRISE_HEADER) + "\n")
        row = [str(c) for c in _ent()[0]]
        fh.write(",".join(row[:1]) + ',"' + "x" * (50 * 1024 * 1024) + '",' + ",".join(row[2:]) + "\n")
    return path


def _geojson(features: list[dict[str, Any]], crs: str | None = None) -> Callable[[Path], Path]:
    return lambda path: write_geojson(path, features, crs)


def _bowtie() -> dict[str, Any]:
    lon, lat = cell_points()[0][1:]
    d = 0.002
    ring = [(lon - d, lat - d), (lon + d, lat + d), (lon + d, lat - d), (lon - d, lat + d), (lon - d, lat - d)]
    return {"type": "Feature", "properties": {"code": "411002001", "name": "自相交街道"},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def _shapefile_projected_no_prj(path: Path) -> Path:
    import numpy as np
    from pyogrio.raw import write

    geom = shapely.box(500000, 3760000, 505000, 3765000)
    warnings.filterwarnings("ignore", message="'crs' was not provided")  # the missing .prj is the point
    write(path, np.array([shapely.to_wkb(geom)], dtype=object), [np.array(["411002001"]), np.array(["街道"])],
          fields=["code", "name"], driver="ESRI Shapefile", geometry_type="Polygon", crs=None)
    return path


CASES: list[Case] = [
    Case("empty.csv", "enterprises", _bytes(b""), "文件为空"),
    Case("header_only.csv", "enterprises", _csv(ENTERPRISE_HEADER, []), "没有数据行"),
    Case("blank_lines_only.csv", "enterprises", _bytes(b"\n\n \n"), "文件为空"),
    Case("png_renamed.xlsx", "enterprises", _bytes(b"\x89PNG\r\n\x1a\n" + bytes(200)), "PNG 图片"),
    Case("old_excel_renamed.xlsx", "enterprises", _bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)),
         "旧版 Excel"),
    Case("not_a_workbook.xlsx", "enterprises", _bytes(b"just some text, not a workbook\n"), "内容不是 Excel"),
    Case("corrupt_zip.xlsx", "enterprises", _corrupt_xlsx, "无法读取 Excel"),
    Case("binary_garbage.csv", "enterprises", _bytes(bytes(range(128, 256)) * 40 + b"\x00\x01\xff\xfe" * 50),
         "无法识别文件编码"),
    Case("mixed_encoding.csv", "enterprises", _mixed_encoding, "混用了多种编码"),
    Case("gbk_no_bom.csv", "enterprises", _csv(ENTERPRISE_HEADER, _ent(企业名称="许昌市魏都区某某化工厂"), "gbk"),
         "GB18030", status="ok"),
    Case("missing_required_column.csv", "enterprises",
         _csv(["统一社会信用代码", "经度", "纬度"], [[credit(1), 113.8, 34.0]]), "缺少必填列：“企业名称”"),
    Case("renamed_column.csv", "enterprises",
         _csv(["统一社会信用代码", "公司全称", "行业"], [[credit(1), "某公司", "机械"]]), "也可写作：单位名称"),
    Case("duplicate_column.csv", "enterprises",
         _csv(["统一社会信用代码", "企业名称", "名称"], [[credit(1), "甲", "乙"]]), "出现了两次"),
    Case("no_header.csv", "enterprises", _csv([credit(1), "某公司", "机械"], [[credit(2), "某公司2", "机械"]]),
         "未找到表头"),
    Case("credit_code_check_char.csv", "enterprises",
         _csv(ENTERPRISE_HEADER, _ent(统一社会信用代码="91411002MA40AAAA4X")), "校验位错误"),
    Case("credit_code_length.csv", "enterprises",
         _csv(ENTERPRISE_HEADER, _ent(统一社会信用代码="9141100212345")), "应为 18 位"),
    Case("credit_code_letter_o.csv", "enterprises",
         _csv(ENTERPRISE_HEADER, _ent(统一社会信用代码="91411002MA40OAAA4W")), "不允许的字符"),
    Case("swapped_coordinates.csv", "enterprises", _csv(ENTERPRISE_HEADER, _ent(经度=34.0357, 纬度=113.8526)),
         "经纬度可能填反"),
    Case("outside_city.csv", "enterprises", _csv(ENTERPRISE_HEADER, _ent(经度=113.6254, 纬度=34.7466)),
         "不在许昌市边界内"),
    Case("zero_coordinates.csv", "enterprises", _csv(ENTERPRISE_HEADER, _ent(经度=0, 纬度=0)), "坐标为 0,0"),
    Case("longitude_only.csv", "enterprises", _csv(ENTERPRISE_HEADER, _ent(纬度="")), "须同时填写"),
    Case("outside_china.csv", "enterprises", _csv(ENTERPRISE_HEADER, _ent(经度=2.35, 纬度=48.85)), "不在中国境内"),
    Case("duplicate_keys.csv", "enterprises",
         _csv(ENTERPRISE_HEADER, [enterprise_rows(1, start=7)[0], enterprise_rows(1, start=7)[0]]),
         "与第 2 行重复", status="partial"),
    Case("bad_enum.csv", "enterprises", _csv(ENTERPRISE_HEADER, _ent(风险等级="紫色")),
         "不是有效取值 (可填：红/橙/黄/蓝)"),
    Case("bad_bool.csv", "enterprises", _csv(ENTERPRISE_HEADER, _ent(重点监管危险化学品="也许")), "应为 是 或 否"),
    Case("too_long_name.csv", "enterprises", _csv(ENTERPRISE_HEADER, _ent(企业名称="长" * 300)), "上限 200 字"),
    Case("impossible_date.csv", "enterprises", _csv(ENTERPRISE_HEADER, _ent(评估日期="2025-02-30")), "不存在"),
    Case("unreadable_date.csv", "enterprises", _csv(ENTERPRISE_HEADER, _ent(评估日期="上个月")), "无法识别的日期"),
    Case("future_found_date.csv", "hazards", _csv(HAZARD_HEADER, _hazard(发现日期="2099-01-01", 整改期限="")),
         "在未来"),
    Case("closed_without_date.csv", "hazards", _csv(HAZARD_HEADER, _hazard(整改状态="已销号")), "必须填写“销号日期”"),
    Case("deadline_before_found.csv", "hazards", _csv(HAZARD_HEADER, _hazard(整改期限="2025-08-01")),
         "早于“发现日期”"),
    Case("unknown_unit.csv", "hazards", _csv(HAZARD_HEADER, _hazard(所在单位代码="411002888")), "在区划中不存在"),
    Case("unknown_enterprise.csv", "hazard-sources",
         _csv(SOURCE_HEADER, [["WX1", credit(9999), "罐区", "三级", 23.5]]),
         "对应的企业不存在"),
    Case("grade_vs_r_value.csv", "hazard-sources",
         _csv(SOURCE_HEADER, [["WX2", credit(9999), "罐区", "一级", 23.5]]),
         "对应 3 级"),
    Case("formula_cells.xlsx", "enterprises",
         _xlsx([ENTERPRISE_HEADER, [*_ent()[0][:1], '="某"&"公司"', *_ent()[0][2:]]]), "是公式"),
    Case("title_row_then_header.xlsx", "enterprises",
         _xlsx([["许昌市企业台账 (2025 年 9 月)"], ENTERPRISE_HEADER, *_ent(企业名称="标题行下的企业")]), "导入 1 行",
         status="ok"),
    Case("big_cell.xlsx", "enterprises", _big_cell_xlsx, "内容过长", status="partial", big=True),
    Case("big_cell.csv", "enterprises", _big_cell_csv, "内容过长", big=True),
    Case("self_intersecting.geojson", "boundaries", _geojson([_bowtie()]), "数据质量提示 1 条", status="ok"),
    Case("empty_polygon.geojson", "boundaries",
         _geojson([{"type": "Feature", "properties": {"code": "411002001", "name": "空"},
                    "geometry": {"type": "Polygon", "coordinates": []}}]), "几何为空"),
    Case("null_geometry.geojson", "boundaries",
         _geojson([{"type": "Feature", "properties": {"code": "411002001", "name": "空"}, "geometry": None}]),
         "几何为空"),
    Case("point_geometry.geojson", "boundaries",
         _geojson([{"type": "Feature", "properties": {"code": "411002001", "name": "点"},
                    "geometry": {"type": "Point", "coordinates": [113.85, 34.03]}}]), "应为面"),
    Case("orphan_township.geojson", "boundaries",
         _geojson([feature("411099001", "无上级街道", shapely.box(113.8, 34.0, 113.81, 34.01))]),
         "上级单位“411099”不存在"),
    Case("level_mismatch.geojson", "boundaries",
         _geojson([feature("411002001001", "社区", shapely.box(113.8, 34.0, 113.81, 34.01))]),
         "与 --level 3 不符", options={"level": 3}),
    Case("bad_code.geojson", "boundaries",
         _geojson([feature("41100A", "坏代码", shapely.box(113.8, 34.0, 113.81, 34.01))]), "格式错误"),
    Case("missing_code_property.geojson", "boundaries",
         _geojson([{"type": "Feature", "properties": {"name": "无代码"},
                    "geometry": {"type": "Polygon", "coordinates": [[[113.8, 34.0], [113.81, 34.0], [113.81, 34.01],
                                                                    [113.8, 34.0]]]}}]), "缺少属性"),
    Case("projected_as_lonlat.geojson", "boundaries",
         _geojson([feature("411002001", "投影坐标", shapely.box(500000, 3760000, 505000, 3765000))]),
         "坐标系是否正确"),
    Case("projected_no_prj.shp", "boundaries", _shapefile_projected_no_prj, "未声明坐标系"),
    Case("not_geodata.geojson", "boundaries", _bytes("这不是 GeoJSON".encode()), "无法读取边界文件"),
]


def main(out: str) -> None:
    """Write every small corpus file into ``out``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    index = []
    for case in CASES:
        if case.big:
            continue
        case.build(folder / case.name)
        index.append({"file": case.name, "kind": case.kind, "status": case.status, "expect": case.expect})
    (folder / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{len(index)} files in {folder}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bad_inputs_out")
