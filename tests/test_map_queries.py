"""geo/map_queries.py on a real PostGIS: drill-down GeoJSON, roster, hazards, point layers, scope."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Connection, text

from domain.crs import BBox
from geo import map_queries as mq
from tests.fixtures_map import FOREIGN_GRID, OWN_GRID, STAT_ENTERPRISES, map_data  # noqa: F401

pytestmark = pytest.mark.usefixtures("map_data")
CITY = "419000."
WEIDU = "419000.419002."
XUCHANG_BBOX = BBox(99.9, 25.7, 101.1, 26.5)


def test_children_geojson_has_polygons_and_labels(conn: Connection) -> None:
    fc = json.loads(mq.children_geojson(conn, scope=CITY, code="419000") or "")
    units = [f for f in fc["features"] if f["properties"]["kind"] == "unit"]
    labels = [f for f in fc["features"] if f["properties"]["kind"] == "label"]
    assert sorted(f["properties"]["code"] for f in units) == ["419002", "419003"]
    assert {f["geometry"]["type"] for f in units} == {"MultiPolygon"}
    assert {f["geometry"]["type"] for f in labels} == {"Point"}
    weidu = next(f for f in units if f["properties"]["code"] == "419002")
    assert weidu["properties"]["risk"] == "red"
    assert weidu["properties"]["name"] == "甲区"


def test_children_geojson_respects_scope(conn: Connection) -> None:
    fc = json.loads(mq.children_geojson(conn, scope=WEIDU, code="419002") or "")
    codes = {f["properties"]["code"] for f in fc["features"]}
    assert codes == {"419002001", "419002002"}
    assert mq.children_geojson(conn, scope=WEIDU, code="419000") is None
    assert mq.children_geojson(conn, scope=WEIDU, code="419003") is None


def test_leaf_grid_shows_itself_with_short_label(conn: Connection) -> None:
    fc = json.loads(mq.children_geojson(conn, scope=WEIDU, code=OWN_GRID) or "")
    units = [f for f in fc["features"] if f["properties"]["kind"] == "unit"]
    labels = [f["properties"]["label"] for f in fc["features"] if f["properties"]["kind"] == "label"]
    assert [u["properties"]["code"] for u in units] == [OWN_GRID]
    assert labels == ["第1网格"]


def test_unit_view_and_breadcrumb(conn: Connection) -> None:
    view = mq.unit_view(conn, scope=WEIDU, code=OWN_GRID)
    assert view is not None
    assert view["level"] == 5 and view["demo_geometry"] is True
    assert view["bounds"] == [[25.8, 100.0], [26.1, 100.5]]
    crumbs = mq.breadcrumb(conn, scope=WEIDU, code=OWN_GRID)
    assert [c["code"] for c in crumbs] == ["419002", "419002001", "419002001001", OWN_GRID]
    assert [c["code"] for c in mq.breadcrumb(conn, scope=CITY, code="419002001")] == ["419000", "419002", "419002001"]
    assert mq.unit_view(conn, scope=WEIDU, code="419003") is None
    assert mq.breadcrumb(conn, scope=WEIDU, code=FOREIGN_GRID) == []
    assert mq.scope_root(conn, scope=WEIDU) == "419002"


def test_duty_roster_vacancies(conn: Connection) -> None:
    town = mq.duty_roster(conn, scope=WEIDU, code="419002001")
    assert town is not None
    assert [(p["role"], p["name"]) for p in town["persons"]] == [
        ("first", "王建国"), ("leader", "李红梅"), ("supervisor", "赵志强")]
    assert town["vacancies"] == {"supervisor": 1}
    grid = mq.duty_roster(conn, scope=WEIDU, code=OWN_GRID)
    assert grid is not None and grid["vacancies"] == {}
    assert grid["required"] == {"leader": 1, "supervisor": 2}  # the default staffing: the 许昌 plan's 1 + 2
    village = mq.duty_roster(conn, scope=WEIDU, code="419002001001")
    assert village is not None
    assert village["vacancies"] == {"leader": 1, "supervisor": 2}
    assert mq.duty_roster(conn, scope=WEIDU, code=FOREIGN_GRID) is None


def _staff_grid_workers(conn: Connection) -> None:
    """Configure the staffing (as /admin/rules does) to ask grid cells for a 网格员 too."""
    conn.execute(text("INSERT INTO app_config (key, value) VALUES ('staffing', "
                      "'{\"5\": {\"leader\": 1, \"supervisor\": 2, \"grid_worker\": 1}}') "
                      "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"))


def test_the_roster_follows_the_staffing_setting(conn: Connection) -> None:
    _staff_grid_workers(conn)
    grid = mq.duty_roster(conn, scope=WEIDU, code=OWN_GRID)
    assert grid is not None and grid["required"] == {"leader": 1, "supervisor": 2, "grid_worker": 1}


def test_ended_duty_is_a_vacancy(conn: Connection) -> None:
    _staff_grid_workers(conn)
    conn.execute(text("UPDATE duties SET until = current_date - 1 WHERE person_id = "
                      "(SELECT id FROM persons WHERE person_key = 'MAPT-P8')"))
    grid = mq.duty_roster(conn, scope=WEIDU, code=OWN_GRID)
    assert grid is not None and grid["vacancies"] == {"grid_worker": 1}


def test_open_hazards_of_subtree_sorted_and_scoped(conn: Connection) -> None:
    city = mq.open_hazards(conn, scope=CITY, code="419000")
    assert city is not None
    codes = [h["code"] for h in city["items"] if h["code"].startswith("MAPT-")]
    assert codes == ["MAPT-H1", "MAPT-H4", "MAPT-H2"]  # overdue (by deadline) first, closed H3 absent
    h1 = city["items"][0]
    assert h1["days_overdue"] == 10 and h1["overdue"] is True and h1["enterprise"] == "金地化工有限公司"
    weidu = mq.open_hazards(conn, scope=WEIDU, code="419002")
    assert weidu is not None
    assert [h["code"] for h in weidu["items"]] == ["MAPT-H1", "MAPT-H2"] and weidu["total"] == 2
    assert mq.open_hazards(conn, scope=WEIDU, code="419003") is None


def test_open_hazards_pages(conn: Connection) -> None:
    """Pages of ``limit`` from ``offset`` follow the same order; past the end: no items, the total still."""
    whole = mq.open_hazards(conn, scope=WEIDU, code="419002")
    assert whole is not None
    pages = [mq.open_hazards(conn, scope=WEIDU, code="419002", limit=1, offset=i) for i in range(3)]
    assert [p["total"] for p in pages if p] == [2, 2, 2]
    assert [h for p in pages if p for h in p["items"]] == whole["items"]
    assert pages[2] is not None and pages[2]["items"] == []


def test_hazard_location_is_scoped(conn: Connection) -> None:
    h4 = conn.execute(text("SELECT id FROM hazards WHERE code = 'MAPT-H4'")).scalar_one()
    assert mq.hazard_location(conn, scope=CITY, hazard_id=h4) is not None
    assert mq.hazard_location(conn, scope=WEIDU, hazard_id=h4) is None


def test_child_units_kpis(conn: Connection) -> None:
    rows = mq.child_units(conn, scope=CITY, code="419000")
    assert [r["code"] for r in rows] == ["419002", "419003"]
    assert rows[0]["stats"]["risk_class"] == "red"
    assert mq.child_units(conn, scope=WEIDU, code="419000") == []


@pytest.mark.parametrize("kind", mq.POINT_KINDS)
def test_raw_points_stay_in_scope(conn: Connection, kind: mq.PointKind) -> None:
    city = mq.raw_points(conn, scope=CITY, kind=kind, bbox=XUCHANG_BBOX, limit=100)
    weidu = mq.raw_points(conn, scope=WEIDU, kind=kind, bbox=XUCHANG_BBOX, limit=100)
    assert len(weidu) < len(city)
    assert all(p["lon"] < 100.5 for p in weidu)  # everything east of 100.5 belongs to 乙区
    assert all(p["cls"] in mq.point_classes(kind) for p in city)


def test_hazard_points_classes(conn: Connection) -> None:
    pts = mq.raw_points(conn, scope=CITY, kind="hazards", bbox=XUCHANG_BBOX, limit=100)
    by_name = {p["props"]["name"]: p["cls"] for p in pts}
    assert by_name["储罐区可燃气体报警器失效"] == "overdue"
    assert by_name["车间安全出口堵塞"] == "general"
    assert "配电箱无防护" not in by_name  # closed


def test_aggregation_counts_every_point_once(conn: Connection) -> None:
    conn.execute(text(
        """
        INSERT INTO enterprises (credit_code, name, risk_level, unit_id, geom)
        SELECT '91419000AGGR' || lpad(i::text, 6, '0'), '聚合测试' || i, (ARRAY['red','blue'])[1 + i % 2],
               (SELECT id FROM units WHERE code = :grid),
               ST_SetSRID(ST_MakePoint(100.0 + random() * 0.5, 25.8 + random() * 0.3), 4326)
        FROM generate_series(1, 3000) i
        """
    ), {"grid": OWN_GRID})
    total = mq.count_points(conn, scope=WEIDU, kind="enterprises", bbox=XUCHANG_BBOX, limit=10_000)
    assert total == 3003
    assert mq.count_points(conn, scope=WEIDU, kind="enterprises", bbox=XUCHANG_BBOX, limit=100) == 101
    cell = mq.cell_size(XUCHANG_BBOX, 9)
    cells = mq.aggregated_points(conn, scope=WEIDU, kind="enterprises", bbox=XUCHANG_BBOX, cell=cell)
    assert sum(c["n"] for c in cells) == 3003
    assert all(sum(c["classes"].values()) == c["n"] for c in cells)
    assert len(cells) <= mq.MAX_CELLS_ACROSS ** 2


def test_unit_rollups_are_scoped_and_use_unit_stats(conn: Connection) -> None:
    towns = mq.unit_rollup_points(conn, scope=WEIDU, kind="enterprises", bbox=XUCHANG_BBOX, level=3)
    assert {r["unit_code"]: r["n"] for r in towns} == {c: STAT_ENTERPRISES[c] for c in ("419002001", "419002002")}
    assert towns[0]["classes"] == {"red": 3, "orange": 5, "yellow": 7, "blue": towns[0]["n"] - 15}
    counties = mq.unit_rollup_points(conn, scope=WEIDU, kind="hazards", bbox=XUCHANG_BBOX, level=2)
    assert [r["unit_code"] for r in counties] == ["419002"]  # the scope unit itself, never 乙区
    assert counties[0]["classes"] == {"overdue": 4, "major": 2, "general": 38}
    assert mq.unit_rollup_points(conn, scope=WEIDU, kind="sources", bbox=XUCHANG_BBOX, level=3) == []  # all zero
    assert [mq.rollup_level(z) for z in (8, 11, 13, 16)] == [2, 3, 4, 5]


def test_points_geojson_raw_rollup_and_grid_fallback(conn: Connection) -> None:
    raw = json.loads(mq.points_geojson(conn, scope=WEIDU, kind="enterprises", bbox=XUCHANG_BBOX, zoom=14, limit=100))
    names = sorted(f["properties"]["name"] for f in raw["features"])
    assert names == ["金地化工有限公司", "金地机械厂", "金地纺织公司"]
    assert raw["features"][0]["geometry"]["type"] == "Point" and "cls" in raw["features"][0]["properties"]
    rolled = json.loads(mq.points_geojson(conn, scope=WEIDU, kind="enterprises", bbox=XUCHANG_BBOX, zoom=11, limit=2))
    assert {f["id"] for f in rolled["features"]} == {"u419002001", "u419002002"}
    grid = json.loads(mq.points_geojson(conn, scope=WEIDU, kind="sources", bbox=XUCHANG_BBOX, zoom=11, limit=0))
    assert [f["properties"] for f in grid["features"]] == [{"n": 1, "classes": {"g2": 1}}]  # no roll-up: grid


def test_cell_size_is_bounded_by_bbox() -> None:
    huge = BBox(70, 10, 140, 55)
    assert mq.cell_size(huge, 18) >= 70 / mq.MAX_CELLS_ACROSS
    small = BBox(100.0, 25.8, 100.01, 25.81)
    assert mq.cell_size(small, 18) == pytest.approx(360 / (256 * 2**18) * mq.CELL_PIXELS)


@pytest.mark.parametrize("raw", ["", "1,2,3", "a,b,c,d", "114,34,113,35", "nan,1,2,3"])
def test_bad_bbox_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="bbox"):
        BBox.parse(raw)
