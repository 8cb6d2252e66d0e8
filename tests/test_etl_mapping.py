"""Boundary and ledger files as they arrive, loaded into a real PostGIS.

Real-style files made here: a land-survey (三调) shapefile with a GBK .dbf and no .cpg, a county
GeoPackage with a department's own field names (loaded with --field and with a saved mapping), a
GeoJSON in GCJ-02 with foreign names, villages with a parent column, a self-intersecting polygon;
ambiguous or unknown fields are refused with nothing written, and the dry run writes nothing.
The module has its own database (``<SAFEGRID_TEST_DB>_etl_map``): it adds units freely.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from openpyxl import load_workbook
from pyogrio.raw import write
from shapely.geometry import mapping

from domain.crs import wgs84_to_gcj02
from etl.load import load_file
from etl.mapping import MAPPING_SHEET
from etl.schedule import run_once
from etl.template import write_template
from tests.etl_support import (
    COUNTIES,
    ETL_DB,
    county_geometry,
    credit,
    fresh_database,
    query,
    strips,
    weidu_tree,
    write_csv,
    write_geojson,
)

ROOT = Path(__file__).resolve().parent.parent
MAP_DB = f"{ETL_DB}_map"


@pytest.fixture(scope="module", name="url")
def url_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this module with the real city + counties and the generated townships of 魏都区."""
    url = fresh_database(MAP_DB)
    assert load_file("boundaries", COUNTIES, url=url).status == "ok"
    towns = write_geojson(tmp_path_factory.mktemp("towns") / "towns.geojson", weidu_tree()[3])
    assert load_file("boundaries", towns, url=url).status == "ok"
    yield url


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SAFEGRID_PG_DATABASE=MAP_DB, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "safegrid", "etl", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)


def _state(url: str) -> tuple[Any, ...]:
    """Everything a load could write: units (with row versions), findings, runs."""
    return (tuple(query(url, "SELECT code, name, xmin::text FROM units ORDER BY code")),
            query(url, "SELECT count(*) FROM dq_findings")[0][0], query(url, "SELECT count(*) FROM etl_runs")[0][0],
            query(url, "SELECT count(*) FROM enterprises")[0][0])


def _geoms(features: list[dict[str, Any]]) -> list[Any]:
    return [shapely.geometry.shape(f["geometry"]) for f in features]


def test_land_survey_shapefile_with_gbk_dbf_and_no_cpg(url: str, tmp_path: Path) -> None:
    towns = weidu_tree()[3]
    shp = tmp_path / "XZQ.shp"
    codes = ["411002001000", "411002002", "411002003", "411002004"]  # the first in the NBS 12-digit form
    names = ["西大街道", "东大街道", "南关街道", "北大街道"]
    write(shp, np.array([shapely.to_wkb(g) for g in _geoms(towns)], dtype=object),
          [np.array(["1", "2", "3", "4"]), np.array(["1000600100"] * 4), np.array(codes), np.array(names),
           np.array([10.5, 20.25, 30.0, 40.75])],
          fields=["BSM", "YSDM", "XZQDM", "XZQMC", "DCMJ"], driver="ESRI Shapefile", geometry_type="Polygon",
          crs="EPSG:4490", encoding="GBK")
    shp.with_suffix(".cpg").unlink()
    dbf = bytearray(shp.with_suffix(".dbf").read_bytes())
    dbf[29] = 0x4D  # the language driver byte ArcGIS writes for code page 936
    shp.with_suffix(".dbf").write_bytes(bytes(dbf))
    assert "西大街道".encode("gbk") in dbf

    result = load_file("boundaries", shp, url=url)
    assert result.status == "ok", (result.message, result.rejects)
    assert result.counts == {"inserted": 0, "updated": 4}
    assert "GBK" in result.encoding and "0x4D" in result.encoding
    chosen = {c.key: (c.column, c.how) for c in result.mapping}
    assert chosen["code"][0] == "XZQDM" and "国土调查" in chosen["code"][1] and chosen["name"][0] == "XZQMC"
    assert any("按代码前缀推断" in n for n in result.notes) and any("BSM" in n for n in result.notes)
    stored = dict(query(url, "SELECT code, name FROM units WHERE level = 3"))
    assert stored == dict(zip(["411002001", "411002002", "411002003", "411002004"], names, strict=True))
    parents = {r[0] for r in query(url, "SELECT p.code FROM units u JOIN units p ON p.id = u.parent_id "
                                        "WHERE u.level = 3")}
    assert parents == {"411002"}


def test_county_file_with_foreign_fields_loads_with_field_and_with_a_saved_mapping(url: str,
                                                                                   tmp_path: Path) -> None:
    data = json.loads(COUNTIES.read_text(encoding="utf-8"))["features"]
    gpkg = tmp_path / "区县界.gpkg"
    write(gpkg, np.array([shapely.to_wkb(shapely.geometry.shape(f["geometry"])) for f in data], dtype=object),
          [np.array([f["properties"]["code"] for f in data]),
           np.array([f["properties"]["name"] + "(民政)" for f in data]), np.array(["2024"] * len(data))],
          fields=["QXBM", "QXMC", "NF"], driver="GPKG", geometry_type="MultiPolygon", crs="EPSG:4490")
    before = _state(url)

    refused = _cli("load", "boundaries", str(gpkg))
    assert refused.returncode == 1
    assert "边界文件缺少属性" in refused.stdout and "QXBM、QXMC、NF" in refused.stdout
    assert "--field code=列名" in refused.stdout and "列“QXBM”的值像区划代码：可用 --field code=QXBM" in refused.stdout
    assert _state(url)[0] == before[0]  # nothing written (the refused run is logged)

    mapping_file = tmp_path / "民政区县.json"
    before = _state(url)
    dry = _cli("load", "boundaries", str(gpkg), "--field", "code=QXBM", "--field", "名称=QXMC", "--dry-run",
               "--save-mapping", str(mapping_file))
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "QXBM" in dry.stdout and "指定" in dry.stdout and "411000" in dry.stdout and "许昌市(民政)" in dry.stdout
    assert "试运行" in dry.stdout and "NF" in dry.stdout
    assert _state(url) == before  # not even a run
    assert json.loads(mapping_file.read_text(encoding="utf-8"))["fields"] == {"code": "QXBM", "name": "QXMC"}

    loaded = _cli("load", "boundaries", str(gpkg), "--mapping", str(mapping_file))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    names = dict(query(url, "SELECT code, name FROM units WHERE level <= 2"))
    assert names["411002"] == "魏都区(民政)" and len(names) == 7

    back = load_file("boundaries", COUNTIES, url=url)  # and with --field from Python, the original names
    assert back.status == "ok" and back.counts["updated"] == 7
    again = load_file("boundaries", gpkg, url=url, fields={"code": "QXBM", "name": "QXMC"})
    assert again.status == "ok" and again.counts["updated"] == 7
    assert load_file("boundaries", COUNTIES, url=url).status == "ok"


def test_ambiguous_fields_are_refused_and_nothing_is_written(url: str, tmp_path: Path) -> None:
    county = county_geometry("411002")
    zones = strips(county, 9)[-2:]
    feats = [{"type": "Feature", "geometry": mapping(g),
              "properties": {"XZQDM": code, "PAC": code, "NAME": name}}
             for g, code, name in zip(zones, ["411002401", "411002402"], ["测试园区甲", "测试园区乙"], strict=True)]
    path = write_geojson(tmp_path / "zones.geojson", feats)
    before = _state(url)
    result = load_file("boundaries", path, url=url)
    assert result.status == "rejected"
    assert "无法确定“代码” (code) 对应哪一列" in result.message
    assert "“XZQDM” (第 1 列)、“PAC” (第 2 列)" in result.message
    assert "--field code=XZQDM" in result.message
    assert _state(url)[0] == before[0]
    cli = _cli("load", "boundaries", str(path))
    assert cli.returncode == 1 and "无法确定" in cli.stdout
    unknown = _cli("load", "boundaries", str(path), "--field", "区划=PAC")
    assert unknown.returncode == 2 and "字段“区划”不存在" in unknown.stderr
    missing_column = _cli("load", "boundaries", str(path), "--field", "code=QHDM", "--dry-run")
    assert missing_column.returncode == 1 and "指定的列“QHDM” (code) 在文件中不存在" in missing_column.stderr
    assert _state(url)[0] == before[0]

    chosen = load_file("boundaries", path, url=url, fields={"code": "PAC"})
    assert chosen.status == "ok" and chosen.counts["inserted"] == 2
    assert query(url, "SELECT kind, is_statutory FROM units WHERE code = '411002401'")[0] == ("dev_zone", False)


def test_villages_in_a_geopackage_with_a_parent_column(url: str, tmp_path: Path) -> None:
    villages = [f for f in weidu_tree()[4] if f["properties"]["code"].startswith("411002001")]
    parents = ["411002001000", "411002002000"]  # the second disagrees with its code's prefix
    gpkg = tmp_path / "村界.gpkg"
    write(gpkg, np.array([shapely.to_wkb(g) for g in _geoms(villages)], dtype=object),
          [np.array([f["properties"]["code"] for f in villages]), np.array(["金地社区", "新兴社区"]),
           np.array(parents)],
          fields=["行政区划代码", "行政区划名称", "上级行政区划代码"], driver="GPKG", geometry_type="Polygon",
          crs="EPSG:4490")
    result = load_file("boundaries", gpkg, url=url)
    assert result.status == "partial" and result.rows_loaded == 1
    assert result.rejects[0][0] == 2
    assert "与代码“411002001002”的前缀所示上级“411002001”不一致" in result.rejects[0][1][0]
    assert not any("按代码前缀推断" in n for n in result.notes)
    row = query(url, "SELECT u.name, p.code FROM units u JOIN units p ON p.id = u.parent_id "
                     "WHERE u.code = '411002001001'")[0]
    assert tuple(row) == ("金地社区", "411002001")


def test_gcj02_geojson_with_foreign_field_names_loads_with_the_mapping(url: str, tmp_path: Path) -> None:
    town = weidu_tree()[3][2]
    geom = shapely.geometry.shape(town["geometry"])
    shifted = shapely.transform(geom, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    props = {"JDBM": "411002003", "JDMC": "南关街道(高德)", "parent": {"adcode": 411002}, "level": "street",
             "childrenNum": 0}
    path = write_geojson(tmp_path / "高德街道.geojson", [{"type": "Feature", "properties": props,
                                                         "geometry": mapping(shifted)}])
    mapping_file = tmp_path / "gaode.json"
    mapping_file.write_text(json.dumps({"kind": "boundaries", "fields": {"code": "JDBM", "name": "JDMC"}}),
                            encoding="utf-8")
    res = _cli("load", "boundaries", str(path), "--crs", "gcj02", "--mapping", str(mapping_file))
    assert res.returncode == 0, res.stdout + res.stderr
    stored = query(url, "SELECT name, ST_AsText(geom) FROM units WHERE code = '411002003'")[0]
    assert stored[0] == "南关街道(高德)"
    assert shapely.hausdorff_distance(shapely.from_wkt(stored[1]), geom) < 1e-8


def test_self_intersecting_polygon_is_repaired_and_reported(url: str, tmp_path: Path) -> None:
    county = county_geometry("411002")
    zone = strips(county, 9)[4].representative_point()
    x, y = zone.x, zone.y
    bowtie = shapely.Polygon([(x - 0.01, y - 0.01), (x + 0.01, y + 0.01), (x + 0.01, y - 0.01),
                              (x - 0.01, y + 0.01)])
    flat = shapely.Polygon([(x, y), (x + 0.01, y), (x + 0.02, y), (x, y)])
    feats = [{"type": "Feature", "properties": {"区划代码": code, "区划名称": name}, "geometry": mapping(g)}
             for code, name, g in (("411002410", "蝴蝶园区", bowtie), ("411002411", "一条线园区", flat))]
    path = write_geojson(tmp_path / "bad.geojson", feats)

    dry = _cli("load", "boundaries", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "几何修复" in dry.stdout and "Self-intersection" in dry.stdout and "1 → 2" in dry.stdout
    assert "退化" in dry.stdout
    assert not query(url, "SELECT 1 FROM units WHERE code IN ('411002410', '411002411')")

    result = load_file("boundaries", path, url=url)
    assert result.status == "partial" and result.rows_loaded == 1
    assert [n for n, _errors in result.rejects] == [2] and "退化" in result.rejects[0][1][0]
    repair = result.repairs[0]
    assert (repair.code, repair.parts_before, repair.parts_after) == ("411002410", 1, 2)
    assert repair.area_before_km2 < 1e-6 and repair.area_after_km2 > 1
    detail = query(url, "SELECT detail FROM dq_findings WHERE run_id = :r AND kind = 'geometry_repaired'",
                   r=result.run_id)[0][0]
    assert "Self-intersection" in detail and "部件 1 → 2" in detail and "km²" in detail
    stored = query(url, "SELECT ST_IsValid(geom), ST_NumGeometries(geom), area_km2 FROM units "
                        "WHERE code = '411002410'")[0]
    assert stored[0] is True and stored[1] == 2
    assert float(stored[2]) == pytest.approx(repair.area_after_km2, rel=1e-3)


def test_ledger_with_foreign_columns_loads_with_field_and_the_template_mapping_sheet(url: str,
                                                                                   tmp_path: Path) -> None:
    point = county_geometry("411002").representative_point()
    header = ["TYSHXYDM", "QYMC", "JD", "WD", "HYLB"]
    rows = [[credit(i), f"映射企业{i}", round(point.x, 6), round(point.y, 6), "机械"] for i in range(3)]
    path = write_csv(tmp_path / "企业.csv", header, rows)
    before = _state(url)
    refused = load_file("enterprises", path, url=url)
    assert refused.status == "rejected" and "缺少必填列：“企业名称”" in refused.message
    assert "QYMC" in refused.message and "--field name=列名" in refused.message

    dry = _cli("load", "enterprises", str(path), "--field", "name=QYMC", "--field", "industry=HYLB", "--dry-run",
               "--rows", "2")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert credit(0) in dry.stdout and "映射企业1" in dry.stdout and "映射企业2" not in dry.stdout
    assert "TYSHXYDM" in dry.stdout and "识别" in dry.stdout
    assert _state(url)[2] == before[2] + 1 and _state(url)[3] == 0  # the refused run only; the dry run: nothing

    template = write_template("enterprises", tmp_path / "企业台账模板.xlsx")
    wb = load_workbook(template)
    sheet = wb[MAPPING_SHEET]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value in ("name", "industry"):
            row[2].value = {"name": "QYMC", "industry": "HYLB"}[row[0].value]
    wb.save(template)
    loaded = _cli("load", "enterprises", str(path), "--mapping", str(template))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    stored = query(url, "SELECT name, industry FROM enterprises ORDER BY name")
    assert [tuple(r) for r in stored] == [(f"映射企业{i}", "机械") for i in range(3)]


def test_the_inbox_uses_a_mapping_saved_beside_the_file(url: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = json.loads(COUNTIES.read_text(encoding="utf-8"))["features"][1:3]
    gpkg = inbox / "boundaries_level2_民政.gpkg"
    write(gpkg, np.array([shapely.to_wkb(shapely.geometry.shape(f["geometry"])) for f in data], dtype=object),
          [np.array([f["properties"]["code"] for f in data]), np.array([f["properties"]["name"] for f in data])],
          fields=["QXBM", "QXMC"], driver="GPKG", geometry_type="MultiPolygon", crs="EPSG:4490")
    (inbox / "boundaries_level2_民政.mapping.json").write_text(
        json.dumps({"kind": "boundaries", "fields": {"code": "QXBM", "name": "QXMC"}}), encoding="utf-8")
    results = run_once(inbox, url=url, refresh=False)
    assert [r.status for r in results] == ["ok"], [r.message for r in results]
    assert sorted(p.name.split("_", 1)[1] for p in (inbox / "done").iterdir()) == [
        "boundaries_level2_民政.gpkg", "boundaries_level2_民政.gpkg.result.txt", "boundaries_level2_民政.mapping.json"]


@pytest.mark.parametrize("driver", ["GPKG", "ESRI Shapefile"])
def test_safegrid_own_gis_export_loads_back_without_flags(url: str, tmp_path: Path, driver: str) -> None:
    from sqlalchemy import create_engine

    from dashboard.gis_export import dbf_names, write_layer
    from geo.ogc_queries import export_rows, unit_collection

    collection = unit_collection(3)
    eng = create_engine(url)
    with eng.connect() as conn:
        rows = export_rows(conn, scope="411000.", collection=collection, boxes=((112.0, 33.0, 115.0, 35.0),),
                           limit=1000)
    eng.dispose()
    assert len(rows) >= 4
    path = tmp_path / ("units-3.gpkg" if driver == "GPKG" else "units-3.shp")
    names = dbf_names(collection) if driver != "GPKG" else {p.name: p.title or p.name for p in collection.properties}
    write_layer(path, collection, rows, driver=driver, names=names)
    path.with_suffix(".cpg").unlink(missing_ok=True)  # sent on without its .cpg
    result = load_file("boundaries", path, url=url)
    assert result.status == "ok", (result.message, result.rejects)
    chosen = {c.key: c.column for c in result.mapping}
    assert chosen["code"] in ("单位代码", "代码") and chosen["level"] == "层级" and chosen["parent_code"]
    assert chosen["is_demo_geometry"] == "示意边界"
