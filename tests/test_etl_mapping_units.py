"""Column mapping, parents by prefix, geometry repairs and .dbf encodings as tables of cases (no database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from openpyxl import load_workbook
from pyogrio.raw import write
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Polygon, box

from domain.codes import ancestors_by_prefix, declared_parent_error, nbs12, parent_by_prefix, parse_admin_code
from etl.boundaries import BOUNDARY_COLUMNS, dbf_encoding
from etl.geometry import prepare
from etl.load import UsageError, check_args
from etl.mapping import (
    BOUNDARY_RECOGNISED,
    MAPPING_SHEET,
    MappingError,
    read_mapping,
    resolve,
    truncations,
    write_mapping,
)
from etl.template import write_template
from geo.ledger_kinds import ledger_kind


@pytest.mark.parametrize(("code", "parent", "chain", "padded"), [
    ("411000", None, (), "411000000000"),
    ("411002", "411000", ("411000",), "411002000000"),
    ("411002001", "411002", ("411000", "411002"), "411002001000"),
    ("411002001000", "411002", ("411000", "411002"), "411002001000"),  # NBS padding read as the township
    ("411002001201", "411002001", ("411000", "411002", "411002001"), "411002001201"),
    ("41100200120103", "411002001201", ("411000", "411002", "411002001", "411002001201"), "41100200120103"),
])
def test_parents_and_ancestors_by_code_prefix(code: str, parent: str | None, chain: tuple[str, ...],
                                             padded: str) -> None:
    assert parent_by_prefix(code) == parent
    assert ancestors_by_prefix(code) == chain
    assert nbs12(code) == padded


@pytest.mark.parametrize(("code", "declared", "problem"), [
    ("411002001", "411002", None),
    ("411002001", "411002000000", None),  # 12-digit NBS form of the county
    ("411002001", "411002.0", None),  # a .dbf numeric field
    ("411002", "410000", None),  # the province is above the five levels
    ("411000", "410000", None),
    ("411002001", "411003", "前缀所示上级“411002”"),
    ("411002001201", "411002002", "不一致"),
    ("411002001", "魏都区", "不是数字代码"),
])
def test_a_declared_parent_must_agree_with_the_prefix(code: str, declared: str, problem: str | None) -> None:
    error = declared_parent_error(parse_admin_code(code), declared)
    if problem is None:
        assert error is None
    else:
        assert error is not None and problem in error


def _boundary(headers: list[str], fields: dict[str, str | None] | None = None) -> Any:
    return resolve(headers, BOUNDARY_COLUMNS, fields, recognised=BOUNDARY_RECOGNISED)


@pytest.mark.parametrize(("headers", "fields", "expected"), [
    (["BSM", "YSDM", "XZQDM", "XZQMC", "DCMJ"], None, {"code": "XZQDM", "name": "XZQMC"}),  # 三调 XZQ
    (["统计用区划代码", "名称", "城乡分类代码"], None, {"code": "统计用区划代码", "name": "名称"}),
    (["PAC", "NAME"], None, {"code": "PAC", "name": "NAME"}),  # national base map BOUA
    (["adcode", "name", "parent", "level", "childrenNum"], None,  # DataV GeoAtlas
     {"code": "adcode", "name": "name", "parent_code": "parent", "level": "level"}),
    (["qhdm", "qhmc", "sjdm"], None, {"code": "qhdm", "name": "qhmc", "parent_code": "sjdm"}),  # case-insensitive
    (["行政区划代", "行政区划名"], None, {"code": "行政区划代", "name": "行政区划名"}),  # GBK 10-byte truncation
    (["上级行政区", "XZQDM", "XZQMC"], None, {"code": "XZQDM", "name": "XZQMC", "parent_code": "上级行政区"}),
    (["BH", "DWMC"], {"code": "BH", "name": "DWMC"}, {"code": "BH", "name": "DWMC"}),
    (["XZQDM", "PAC", "NAME"], {"code": "PAC"}, {"code": "PAC", "name": "NAME"}),  # --field settles it
    (["code", "XZQDM", "name"], None, {"code": "code", "name": "name"}),  # SafeGrid's own name wins
])
def test_field_names_are_recognised(headers: list[str], fields: dict[str, str | None] | None,
                                    expected: dict[str, str]) -> None:
    resolution = _boundary(headers, fields)
    assert resolution.problems == []
    assert resolution.fields() == expected


@pytest.mark.parametrize(("headers", "fields", "messages"), [
    (["XZQDM", "PAC", "NAME"], None, ["无法确定“代码” (code)", "“XZQDM” (第 1 列)", "“PAC” (第 2 列)",
                                      "--field code=XZQDM"]),
    (["code", "CODE", "name"], None, ["列“代码”出现了两次", "--field code="]),
    (["XZQDM", "XZQMC"], {"code": "QHDM"}, ["指定的列“QHDM” (code) 在文件中不存在", "XZQDM、XZQMC"]),
])
def test_ambiguous_or_unknown_columns_are_refused_naming_candidates(headers: list[str],
                                                                    fields: dict[str, str | None] | None,
                                                                    messages: list[str]) -> None:
    problems = "；".join(_boundary(headers, fields).problems)
    for message in messages:
        assert message in problems, problems


def test_truncated_names_shared_by_two_fields_are_not_guessed() -> None:
    assert "行政区划代" in truncations("行政区划代码") and "行政区" in truncations("行政区划代码")
    resolution = _boundary(["行政区", "XZQMC"])  # UTF-8 cut of both 行政区划代码 and 行政区划名称
    assert "code" not in resolution.positions and resolution.ignored == ["行政区"]


def test_unknown_field_in_field_option_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="字段“区划”不存在"):
        check_args("boundaries", level=None, crs=None, fields={"区划": "XZQDM"})
    assert check_args("enterprises", level=None, crs=None, fields={"企业名称": "QYMC"}) == {"name": "QYMC"}


def test_saved_mappings_round_trip_as_json_and_workbook(tmp_path: Path) -> None:
    choices = _boundary(["XZQDM", "XZQMC"]).choices
    saved = write_mapping(tmp_path / "m.json", kind="boundaries", choices=choices)
    assert json.loads(saved.read_text(encoding="utf-8"))["fields"] == {"code": "XZQDM", "name": "XZQMC"}
    assert read_mapping(saved, kind="boundaries") == {"code": "XZQDM", "name": "XZQMC"}
    with pytest.raises(MappingError, match="不能用于"):
        read_mapping(saved, kind="enterprises")
    book = write_mapping(tmp_path / "m.xlsx", kind="boundaries", choices=choices)
    assert read_mapping(book, kind="boundaries") == {"code": "XZQDM", "name": "XZQMC"}


def test_templates_carry_a_mapping_sheet_that_loads_as_a_mapping(tmp_path: Path) -> None:
    path = write_template("enterprises", tmp_path / "t.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames[0] == "enterprises" and MAPPING_SHEET in wb.sheetnames
    sheet = wb[MAPPING_SHEET]
    keys = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert keys == [c.key for c in ledger_kind("enterprises").columns]
    assert read_mapping(path, kind="enterprises") == {}  # nothing filled in yet
    sheet.cell(keys.index("name") + 2, 3, "QYMC")
    wb.save(path)
    assert read_mapping(path, kind="enterprises") == {"name": "QYMC"}


BOWTIE = Polygon([(113.80, 34.00), (113.82, 34.02), (113.82, 34.00), (113.80, 34.02)])


def test_a_self_intersecting_polygon_is_repaired_keeping_both_lobes() -> None:
    geom, repair, refusal = prepare(BOWTIE, row_number=3, code="411002401")
    assert refusal is None and repair is not None
    assert geom.is_valid and geom.geom_type == "MultiPolygon" and len(geom.geoms) == 2
    assert "Self-intersection" in repair.problem and (repair.parts_before, repair.parts_after) == (1, 2)
    assert repair.area_before_km2 == pytest.approx(0, abs=1e-6) and repair.area_after_km2 > 1
    assert "部件 1 → 2" in repair.describe() and "km²" in repair.describe()


@pytest.mark.parametrize(("geom", "refusal"), [
    (None, "几何为空"),
    (Polygon(), "几何为空"),
    (Polygon([(113.8, 34.0), (113.9, 34.0), (114.0, 34.0), (113.8, 34.0)]), "退化"),  # no area
    (LineString([(113.8, 34.0), (113.9, 34.1)]), "应为面"),
    (GeometryCollection([LineString([(113.8, 34.0), (113.9, 34.1)])]), "没有面"),
])
def test_empty_or_degenerate_geometry_is_refused(geom: Any, refusal: str) -> None:
    fixed, repair, reason = prepare(geom, row_number=1, code=None)
    assert fixed is None and repair is None and reason is not None and refusal in reason


def test_valid_multipolygons_are_kept_and_collections_give_their_polygons() -> None:
    two = MultiPolygon([box(113.80, 34.00, 113.81, 34.01), box(113.83, 34.00, 113.84, 34.01)])
    geom, repair, refusal = prepare(two, row_number=1, code="411002401")
    assert geom is two and repair is None and refusal is None
    mixed = GeometryCollection([box(113.80, 34.00, 113.81, 34.01), LineString([(113.8, 34.0), (113.9, 34.1)])])
    geom, repair, refusal = prepare(mixed, row_number=2, code=None)
    assert refusal is None and repair is not None and repair.dropped == 1 and geom.geom_type == "MultiPolygon"
    z = shapely.force_3d(box(113.80, 34.00, 113.81, 34.01), 50.0)
    geom, repair, refusal = prepare(z, row_number=3, code=None)
    assert not shapely.has_z(geom) and repair is None


def _shapefile(folder: Path, names: list[str], encoding: str, *, ldid: int | None, cpg: bool) -> Path:
    folder.mkdir()
    shp = folder / "xzq.shp"
    write(shp, np.array([shapely.to_wkb(box(113.80, 34.00, 113.81, 34.01))] * len(names), dtype=object),
          [np.array([f"41100200{i + 1}" for i in range(len(names))]), np.array(names)],
          fields=["XZQDM", "XZQMC"], driver="ESRI Shapefile", geometry_type="Polygon", crs="EPSG:4490",
          encoding=encoding)
    if not cpg:
        shp.with_suffix(".cpg").unlink(missing_ok=True)
    if ldid is not None:
        dbf = bytearray(shp.with_suffix(".dbf").read_bytes())
        dbf[29] = ldid
        shp.with_suffix(".dbf").write_bytes(bytes(dbf))
    return shp


@pytest.mark.parametrize(("encoding", "ldid", "cpg", "chosen", "said"), [
    ("GBK", 0x4D, False, "GB18030", "0x4D 表示 GBK"),
    ("GBK", 0x7A, False, "GB18030", "0x7A 表示 GBK"),
    ("GBK", 0x57, False, "GB18030", "不是 UTF-8"),  # ESRI's "ANSI": GDAL alone would read ISO-8859-1
    ("UTF-8", 0x57, False, "UTF-8", "UTF-8 严格解码成功"),
    ("UTF-8", 0x4D, False, "UTF-8", "与语言驱动字节不符"),
    ("GBK", None, True, None, "按 .cpg 声明的编码"),
])
def test_dbf_encoding_without_cpg(tmp_path: Path, encoding: str, ldid: int | None, cpg: bool, chosen: str | None,
                                  said: str) -> None:
    shp = _shapefile(tmp_path / "s", ["东大街道", "西大街道"], encoding, ldid=ldid, cpg=cpg)
    got, note = dbf_encoding(shp)
    assert got == chosen and said in note, note
