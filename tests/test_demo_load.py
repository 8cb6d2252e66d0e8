"""The small demo loaded through the real loaders and refreshed (the reusable ``demo_db`` fixture)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.demo_fixture import DEMO_ENTERPRISES, DemoDb, demo_db  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def q(demo_db: DemoDb):  # noqa: F811
    engine = create_engine(demo_db.url)

    def run(sql: str):
        with engine.connect() as c:
            return c.execute(text(sql)).all()

    yield run
    engine.dispose()


def test_loaded_units_and_enterprises(demo_db: DemoDb, q) -> None:  # noqa: F811
    counts = dict(q("SELECT level, count(*) FROM units GROUP BY level"))
    grids = demo_db.manifest["counts"]["units_level5"]
    assert counts == {1: 1, 2: 7, 3: 105, 4: 2505, 5: grids}
    assert q("SELECT count(*), count(unit_id) FROM enterprises")[0] == (DEMO_ENTERPRISES, DEMO_ENTERPRISES)
    assert q("SELECT count(*) FROM enterprises e JOIN units u ON u.id = e.unit_id WHERE u.level <> 5")[0][0] == 0
    ratio = q("SELECT (SELECT sum(ST_Area(geom::geography)) FROM units WHERE level = 5) / "
              "(SELECT ST_Area(geom::geography) FROM units WHERE level = 1)")[0][0]
    assert ratio == pytest.approx(1, abs=0.005)
    assert q("SELECT count(*) FROM units WHERE level >= 3 AND NOT is_demo_geometry")[0][0] == 0


def test_refresh_results_consistent(demo_db: DemoDb, q) -> None:  # noqa: F811
    assert demo_db.refresh.status == "ok"
    city = q("SELECT enterprises, hazards_open, persons_required, persons_present, vacancies_subtree "
             "FROM unit_stats s JOIN units u ON u.id = s.unit_id WHERE u.level = 1")[0]
    assert city[0] == DEMO_ENTERPRISES
    assert city[2] == city[3] + city[4] and 0 < city[4] < 0.06 * city[2]  # every slot filled or a visible vacancy
    open_hazards = q("SELECT count(*) FROM hazards WHERE status <> 'closed'")[0][0]
    assert city[1] == open_hazards
    for col in ("enterprises", "hazards_open", "hazards_overdue", "sources_g1", "ent_red"):
        sums = q(f"SELECT level, sum({col}) FROM unit_stats GROUP BY level ORDER BY level")
        assert len({s for _, s in sums}) == 1, col  # every level sums to the city total
    assert q("SELECT count(*) FROM unit_stats")[0][0] == q("SELECT count(*) FROM units")[0][0]
    classes = dict(q("SELECT risk_class, count(*) FROM unit_stats WHERE level = 4 GROUP BY 1"))
    assert set(classes) == {"red", "orange", "yellow", "blue"}
    overdue = dict(q("SELECT level, count(*) FILTER (WHERE inspection_overdue) FROM unit_stats GROUP BY 1"))
    assert overdue[4] > 0 and overdue[5] == 0
    h3 = q("SELECT res, sum(enterprises) FROM h3_stats GROUP BY res ORDER BY res")
    assert h3 == [(6, DEMO_ENTERPRISES), (7, DEMO_ENTERPRISES), (8, DEMO_ENTERPRISES), (9, DEMO_ENTERPRISES)]


def test_display_villages_small_and_shared_edges(q) -> None:
    size = q("SELECT sum(length(ST_AsGeoJSON(geom_display, 6))) FROM units WHERE level = 4")[0][0]
    assert size < 600_000
    # neighbours' display polygons neither overlap nor leave gaps
    overlap = q("SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom_display, b.geom_display))), 0) FROM units a "
                "JOIN units b ON a.level = 4 AND b.level = 4 AND a.id < b.id AND a.geom_display && b.geom_display "
                "AND ST_Intersects(a.geom_display, b.geom_display)")[0][0]
    assert overlap < 1e-10
    holes = q("SELECT coalesce(sum(ST_Area(ST_MakePolygon(ST_ExteriorRing(d.geom))) - ST_Area(d.geom)), 0) "
              "FROM ST_Dump((SELECT ST_Union(geom_display) FROM units WHERE level = 4)) d")[0][0]
    assert holes < 1e-10  # the simplified villages still cover the city without holes
