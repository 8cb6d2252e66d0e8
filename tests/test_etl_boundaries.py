"""Boundary loads: real county polygons, parents by code, repairs, CRS, shapefile encodings, re-gridding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyogrio.raw import write

from domain.crs import wgs84_to_gcj02
from etl.load import load_file
from tests.etl_support import (
    COUNTIES,
    ENTERPRISE_HEADER,
    clean_fixture,  # noqa: F401
    county_geometry,
    enterprise_rows,
    etl_url_fixture,  # noqa: F401
    feature,
    query,
    weidu_tree,
    write_csv,
    write_geojson,
)

# Geodesic areas (GRS80) from etl/demo_data/xuchang/README.md.
AREAS = {"411000": 4981, "411002": 91, "411003": 1001, "411024": 871, "411025": 913, "411081": 1470, "411082": 636}


def test_real_counties_are_loaded_with_paths_parents_areas_and_label_points(etl_url: str) -> None:
    rows = {r.code: r for r in query(etl_url, """
        SELECT u.code, u.level, u.kind, u.path, p.code AS parent, u.area_km2, u.is_demo_geometry,
               ST_Within(u.label_point, u.geom) AS label_inside, ST_GeometryType(u.geom) AS type,
               ST_SRID(u.geom) AS srid
        FROM units u LEFT JOIN units p ON p.id = u.parent_id WHERE u.level <= 2""")}
    assert set(rows) == set(AREAS)
    for code, area in AREAS.items():
        assert rows[code].area_km2 == pytest.approx(area, rel=0.005)
        assert rows[code].label_inside and rows[code].type == "ST_MultiPolygon" and rows[code].srid == 4326
        assert rows[code].is_demo_geometry is False
    assert rows["411000"].path == "411000." and rows["411000"].parent is None
    assert rows["411002"].path == "411000.411002." and rows["411002"].parent == "411000"
    assert (rows["411002"].kind, rows["411025"].kind, rows["411081"].kind) == ("district", "county", "county_city")
    grid = query(etl_url, "SELECT path, is_demo_geometry FROM units WHERE code = '41100200100101'")[0]
    assert grid.path == "411000.411002.411002001.411002001001.41100200100101." and grid.is_demo_geometry


def test_reloading_boundaries_changes_nothing(etl_url: str) -> None:
    before = query(etl_url, "SELECT code, xmin::text, updated_at FROM units ORDER BY code")
    result = load_file("boundaries", COUNTIES, url=etl_url)
    assert result.status == "ok" and result.counts == {"inserted": 0, "updated": 0}
    assert query(etl_url, "SELECT code, xmin::text, updated_at FROM units ORDER BY code") == before


def test_level_option_rejects_features_of_other_levels(etl_url: str) -> None:
    result = load_file("boundaries", COUNTIES, level=2, url=etl_url)
    assert result.status == "partial" and result.rows_loaded == 6
    assert result.rejects == [(1, ["代码“411000”属于第 1 级，与 --level 2 不符"])]


def test_a_whole_tree_in_one_file_loads_top_down(clean: str, tmp_path: Path) -> None:
    tree = weidu_tree()
    feats = [*tree[5][:2], *tree[4][:1], *tree[3][:1]]  # children before parents in the file
    feats = [dict(f, properties={**f["properties"], "name": f["properties"]["name"] + "·改"}) for f in feats]
    result = load_file("boundaries", write_geojson(tmp_path / "all.geojson", feats), url=clean)
    assert result.status == "ok" and result.counts["updated"] == 4
    assert query(clean, "SELECT count(*) FROM units WHERE name LIKE '%·改'")[0][0] == 4
    original = [f for level in (3, 4, 5) for f in tree[level]]
    assert load_file("boundaries", write_geojson(tmp_path / "orig.geojson", original), url=clean).status == "ok"


def test_self_intersecting_polygon_is_repaired_and_reported(clean: str, tmp_path: Path) -> None:
    town = query(clean, "SELECT ST_AsGeoJSON(geom) FROM units WHERE code = '411002004'")[0][0]
    geom = shapely.geometry.shape(json.loads(town))
    xmin, ymin, xmax, ymax = geom.bounds
    bowtie = shapely.Polygon([(xmin, ymin), (xmax, ymax), (xmax, ymin), (xmin, ymax)])
    result = load_file("boundaries", write_geojson(tmp_path / "b.geojson", [feature("411002004", "测试街道4", bowtie)]),
                       url=clean)
    try:
        assert result.status == "ok" and result.findings >= 1
        finding = query(clean, "SELECT kind, detail FROM dq_findings WHERE run_id = :r AND entity_key = '411002004'",
                        r=result.run_id)
        assert finding[0].kind == "geometry_repaired" and "Self-intersection" in finding[0].detail
        valid = query(clean, "SELECT ST_IsValid(geom), ST_NumGeometries(geom) FROM units WHERE code = '411002004'")[0]
        assert tuple(valid) == (True, 2)
    finally:
        original = [f for f in weidu_tree()[3] if f["properties"]["code"] == "411002004"]
        assert load_file("boundaries", write_geojson(tmp_path / "o.geojson", original), url=clean).status == "ok"


def test_child_mostly_outside_its_parent_is_reported(clean: str, tmp_path: Path) -> None:
    yuzhou = county_geometry("411081").representative_point()
    stray = shapely.box(yuzhou.x - 0.01, yuzhou.y - 0.01, yuzhou.x + 0.01, yuzhou.y + 0.01)
    result = load_file("boundaries", write_geojson(tmp_path / "s.geojson", [feature("411002401", "飞地园区", stray)]),
                       url=clean)
    assert result.status == "ok"
    finding = query(clean, "SELECT kind, detail FROM dq_findings WHERE run_id = :r", r=result.run_id)[0]
    assert finding.kind == "outside_parent" and "0% 的面积在上级 魏都区" in finding.detail
    assert query(clean, "SELECT kind, is_statutory FROM units WHERE code = '411002401'")[0] == ("dev_zone", False)


def test_gbk_shapefile_without_cpg_and_a_projected_geopackage(clean: str, tmp_path: Path) -> None:
    town = weidu_tree()[3][1]
    geom = shapely.geometry.shape(town["geometry"])
    shp = tmp_path / "towns.shp"
    write(shp, np.array([shapely.to_wkb(geom)], dtype=object), [np.array(["411002002"]), np.array(["东大街道"])],
          fields=["code", "name"], driver="ESRI Shapefile", geometry_type="Polygon", crs="EPSG:4490", encoding="GBK")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    assert "东大".encode("gbk") in shp.with_suffix(".dbf").read_bytes()
    result = load_file("boundaries", shp, url=clean)
    assert result.status == "ok", result.rejects
    assert query(clean, "SELECT name FROM units WHERE code = '411002002'")[0][0] == "东大街道"

    from pyproj import Transformer

    to_gk = Transformer.from_crs(4326, 4547, always_xy=True)  # CGCS2000 / 3-degree Gauss-Kruger CM 114E
    projected = shapely.transform(geom, lambda xy: np.column_stack(to_gk.transform(xy[:, 0], xy[:, 1])))
    gpkg = tmp_path / "towns.gpkg"
    write(gpkg, np.array([shapely.to_wkb(projected)], dtype=object), [np.array(["411002002"]), np.array(["测试街道2"])],
          fields=["code", "name"], driver="GPKG", geometry_type="Polygon", crs="EPSG:4547")
    result = load_file("boundaries", gpkg, url=clean)
    assert result.status == "ok" and "EPSG:4547" in result.message
    stored = shapely.from_wkt(query(clean, "SELECT ST_AsText(geom) FROM units WHERE code = '411002002'")[0][0])
    assert shapely.hausdorff_distance(stored, geom) < 1e-7


def test_gcj02_boundaries_are_converted_on_load(clean: str, tmp_path: Path) -> None:
    town = weidu_tree()[3][2]
    geom = shapely.geometry.shape(town["geometry"])
    shifted = shapely.transform(geom, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    assert shapely.hausdorff_distance(shifted, geom) > 1e-3
    path = write_geojson(tmp_path / "gcj.geojson", [feature("411002003", "测试街道3", shifted)])
    result = load_file("boundaries", path, crs="gcj02", url=clean)
    assert result.status == "ok"
    stored = shapely.from_wkt(query(clean, "SELECT ST_AsText(geom) FROM units WHERE code = '411002003'")[0][0])
    assert shapely.hausdorff_distance(stored, geom) < 1e-8


def test_changed_grid_cells_regrid_every_point(clean: str, tmp_path: Path) -> None:
    rows = enterprise_rows(16)
    assert load_file("enterprises", write_csv(tmp_path / "e.csv", ENTERPRISE_HEADER, rows), url=clean).status == "ok"
    placed = dict(query(clean, "SELECT e.credit_code, u.code FROM enterprises e JOIN units u ON u.id = e.unit_id"))
    cells = weidu_tree()[5]
    a, b = cells[0], cells[1]
    swapped = [dict(a, geometry=b["geometry"]), dict(b, geometry=a["geometry"])]
    try:
        result = load_file("boundaries", write_geojson(tmp_path / "swap.geojson", swapped), url=clean)
        assert result.status == "ok" and result.counts["enterprises_regridded"] == 2
        moved = dict(query(clean, "SELECT e.credit_code, u.code FROM enterprises e JOIN units u ON u.id = e.unit_id"))
        changed = {k for k in placed if placed[k] != moved[k]}
        assert len(changed) == 2
        assert {placed[k] for k in changed} == {a["properties"]["code"], b["properties"]["code"]}
    finally:
        assert load_file("boundaries", write_geojson(tmp_path / "back.geojson", [a, b]), url=clean).status == "ok"
