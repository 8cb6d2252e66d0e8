"""geo/risk_queries on the small 许昌 demo: heatmap paths agree, filters and scope hold, charts match the DB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text

from domain.crs import BBox
from geo import risk_queries as rq
from geo.scope import Scope
from tests import risk_charts_oracle as oracle
from tests.db_support import rolled_back
from tests.demo_fixture import DEMO_AS_OF, DemoDb, demo_db  # noqa: F401  (session fixture)

CITY = "411000."
CITY_BOX = BBox(112.9, 33.5, 114.5, 34.6)


@pytest.fixture
def dconn(demo_db: DemoDb) -> Iterator[Connection]:  # noqa: F811
    engine = create_engine(demo_db.url)
    with rolled_back(engine) as c:
        yield c
    engine.dispose()


def _cells(body: str) -> dict[str, float]:
    return {f["id"]: f["properties"]["v"] for f in json.loads(body)["features"]}


def _heat(conn: Connection, metric: str, *, scope: str = CITY, zoom: float = 9, filters: rq.RiskFilters | None = None,
          force: bool = False) -> dict[str, Any]:
    return json.loads(rq.heatmap_geojson(conn, scope=scope, metric=metric, zoom=zoom, bbox=CITY_BOX,
                                         filters=filters or rq.RiskFilters(), as_of=DEMO_AS_OF, force_points=force))


@pytest.mark.parametrize(("zoom", "res"),
                         [(5, 6), (8, 6), (8.4, 6), (9, 7), (10, 7), (11, 8), (12, 8), (13, 9), (17, 9)])
def test_resolution_follows_zoom(zoom: float, res: int) -> None:
    assert rq.resolution_for_zoom(zoom) == res


@pytest.mark.parametrize("metric", rq.METRICS)
def test_pre_aggregated_and_on_the_fly_heatmaps_agree(dconn: Connection, metric: str) -> None:
    stats = _heat(dconn, metric)
    points = _heat(dconn, metric, force=True)
    assert stats["source"] == "h3_stats" and points["source"] == "points"
    assert stats["res"] == points["res"] == 7
    assert stats["features"], "the demo has data for every metric"
    a = {f["id"]: f["properties"]["v"] for f in stats["features"]}
    b = {f["id"]: f["properties"]["v"] for f in points["features"]}
    assert a.keys() == b.keys()
    assert all(abs(a[k] - b[k]) < 1e-6 for k in a)
    assert stats["breaks"] == points["breaks"]  # percentile_disc in SQL == heat_breaks in Python


def test_heatmap_totals_match_the_tables(dconn: Connection) -> None:
    ents = sum(_cells(rq.heatmap_geojson(dconn, scope=CITY, metric="enterprises", zoom=9, bbox=CITY_BOX,
                                         filters=rq.RiskFilters(), as_of=DEMO_AS_OF)).values())
    assert ents == dconn.execute(text("SELECT count(*) FROM enterprises WHERE geom IS NOT NULL")).scalar_one()
    open_ = sum(f["properties"]["v"] for f in _heat(dconn, "hazards_open", force=True)["features"])
    assert open_ == dconn.execute(text("SELECT hazards_open FROM unit_stats s JOIN units u ON u.id = s.unit_id "
                                       "WHERE u.code = '411000'")).scalar_one()


def test_filters_switch_to_points_and_select_rows(dconn: Connection) -> None:
    industry = dconn.execute(text(
        "SELECT industry FROM enterprises GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")).scalar_one()
    f = rq.RiskFilters(industries=(industry,), risk_levels=("red", "orange"))
    heat = _heat(dconn, "enterprises", filters=f)
    assert heat["source"] == "points"
    expected = dconn.execute(text(
        "SELECT count(*) FROM enterprises WHERE industry = :i AND risk_level IN ('red', 'orange') AND geom IS NOT NULL"
    ), {"i": industry}).scalar_one()
    assert 0 < expected < sum(_cells(json.dumps(heat)).values()) + 1
    assert sum(_cells(json.dumps(heat)).values()) == expected
    # colour breakdown of each cell adds up to its value and only holds the selected colours
    for feat in heat["features"]:
        p = feat["properties"]
        assert p["r"] + p["o"] == p["v"] and p["y"] == p["b"] == 0
    major = rq.RiskFilters(hazard_levels=("major",), channels=("inspection", "self_check", "public_report"))
    majors = sum(_cells(json.dumps(_heat(dconn, "hazards_open", filters=major))).values())
    assert majors == dconn.execute(text(
        "SELECT count(*) FROM hazards WHERE status <> 'closed' AND level = 'major' AND channel IS NOT NULL"
    )).scalar_one()


def test_scope_limits_the_heatmap(dconn: Connection) -> None:
    county = dconn.execute(text("SELECT path FROM units WHERE code = '411002'")).scalar_one()
    heat = _heat(dconn, "enterprises", scope=county)
    assert heat["source"] == "points"  # a county cannot use the city-wide h3_stats
    inside = dconn.execute(text("SELECT enterprises FROM unit_stats s JOIN units u ON u.id = s.unit_id "
                                "WHERE u.code = '411002'")).scalar_one()
    assert sum(_cells(json.dumps(heat)).values()) == inside
    city = _cells(rq.heatmap_geojson(dconn, scope=CITY, metric="enterprises", zoom=9, bbox=CITY_BOX,
                                     filters=rq.RiskFilters(), as_of=DEMO_AS_OF))
    assert sum(_cells(json.dumps(heat)).values()) < sum(city.values())


def test_monthly_trend_matches_the_hazard_table(dconn: Connection) -> None:
    cutoff = rq.stock_cutoff(dconn, as_of=DEMO_AS_OF)
    rows = rq.monthly_found_closed(dconn, scope=CITY, filters=rq.RiskFilters(), as_of=DEMO_AS_OF, cutoff=cutoff)
    assert len(rows) == 12 and rows[-1]["month"] == DEMO_AS_OF.replace(day=1)
    first = rows[0]["month"]
    found = dconn.execute(text("SELECT count(*) FROM hazards WHERE found_at >= :a AND found_at <= :b "
                               "AND level = 'major'"),  # 动态清零 counts major hazards
                          {"a": first, "b": DEMO_AS_OF}).scalar_one()
    assert sum(r["found_stock"] + r["found_increment"] for r in rows) == found
    stats = dconn.execute(text("SELECT hazards_stock_open, hazards_increment_open FROM unit_stats s "
                               "JOIN units u ON u.id = s.unit_id WHERE u.code = '411000'")).one()
    # open at the end of the current month == open now (the demo has no dates after as_of)
    assert (rows[-1]["open_stock"], rows[-1]["open_increment"]) == tuple(stats)


def test_breakdowns_add_up_to_unit_stats(dconn: Connection) -> None:
    f = rq.RiskFilters()
    total = dconn.execute(text("SELECT hazards_open, hazards_overdue FROM unit_stats s JOIN units u "
                               "ON u.id = s.unit_id WHERE u.code = '411000'")).one()
    assert sum(r["open"] for r in oracle.open_by_industry(dconn, scope=CITY, filters=f, as_of=DEMO_AS_OF)) == total[0]
    ageing = oracle.overdue_ageing(dconn, scope=CITY, filters=f, as_of=DEMO_AS_OF)
    assert [r["bucket"] for r in ageing] == [b[0] for b in rq.AGEING_BUCKETS]
    assert sum(r["general"] + r["major"] for r in ageing) == total[1]
    areas = oracle.by_child_unit(dconn, scope=CITY, filters=f, as_of=DEMO_AS_OF)
    per_unit = dict(dconn.execute(text("SELECT u.code, s.hazards_open FROM unit_stats s JOIN units u "
                                       "ON u.id = s.unit_id WHERE u.level = 2")).all())
    assert {r["code"]: r["open"] for r in areas} == per_unit
    for r in areas:
        assert r["closure_rate"] is None or r["closure_rate"] == pytest.approx(r["closed"] / r["found"], abs=1e-4)


def test_explain_and_compare_respect_scope(dconn: Connection) -> None:
    county = dconn.execute(text("SELECT path FROM units WHERE code = '411002'")).scalar_one()
    assert rq.unit_explain(dconn, scope=county, code="411003") is None
    assert rq.unit_kpis(dconn, scope=county, code="411003") is None
    found = rq.unit_explain(dconn, scope=CITY, code="411002")
    assert found is not None and found["risk_explain"]["class"] == found["risk_class"]
    ids = [h["id"] for h in found["risk_explain"]["top_hazards"]]
    places = rq.hazard_places(dconn, scope=CITY, hazard_ids=ids)
    assert set(places) == set(ids) and all(p["unit_code"].startswith("411002") for p in places.values())
    assert rq.hazard_places(dconn, scope="411000.411003.", hazard_ids=ids) == {}
    levels = {c["level"] for c in rq.compare_candidates(dconn, scope=county)}
    assert levels == {2, 3, 4}


def test_filters_parse_and_reject() -> None:
    f = rq.RiskFilters.from_args({"industry": ["机械,商贸"], "risk": ["red"], "from": ["2026-01-01"], "to": [""]})
    assert f.industries == ("商贸", "机械") and f.risk_levels == ("red",) and f.active
    assert rq.RiskFilters.from_args({k: [v] for k, v in f.as_args().items()}) == f
    assert not rq.RiskFilters().active
    with pytest.raises(rq.RiskQueryError):
        rq.RiskFilters(risk_levels=("purple",))
    with pytest.raises(rq.RiskQueryError):
        rq.RiskFilters.from_args({"from": ["2026-13-01"]})
    with pytest.raises(rq.RiskQueryError):
        rq.RiskFilters.from_args({"from": ["2026-05-01"], "to": ["2026-01-01"]})


def test_heat_breaks() -> None:
    assert rq.heat_breaks([]) == []
    assert rq.heat_breaks([3, 3, 3]) == [3.0]
    assert rq.heat_breaks(list(range(1, 15))) == [1, 2, 4, 6, 8, 10, 12, 14]


def _clear_cells(conn: Connection) -> None:
    for table in ("enterprises", "hazard_sources", "hazards"):
        conn.execute(text(f'UPDATE "{table}" SET h3_r6 = NULL, h3_r7 = NULL, h3_r8 = NULL, h3_r9 = NULL'))


@pytest.mark.parametrize(("metric", "zoom"), [("enterprises", 9), ("risk_score", 11), ("hazards_open", 13)])
def test_stored_cells_and_on_the_fly_indexing_agree(dconn: Connection, metric: str, zoom: float) -> None:
    """The refresh stored every point's cells; without them (not refreshed yet) the answer is the same."""
    missing = dconn.execute(text("SELECT count(*) FROM enterprises WHERE geom IS NOT NULL AND h3_r9 IS NULL"))
    assert missing.scalar_one() == 0
    filters = rq.RiskFilters(risk_levels=("red", "orange", "yellow"))
    stored = _heat(dconn, metric, zoom=zoom, filters=filters)
    _clear_cells(dconn)
    loose = _heat(dconn, metric, zoom=zoom, filters=filters)
    assert stored["features"] and stored == loose


def test_moving_a_point_clears_its_cells_and_the_refresh_sets_them(dconn: Connection) -> None:
    import h3

    from etl.refresh import fill_point_h3

    eid = dconn.execute(text("SELECT min(id) FROM enterprises WHERE geom IS NOT NULL")).scalar_one()
    dconn.execute(text("UPDATE enterprises SET name = name || '（改）' WHERE id = :id"), {"id": eid})
    assert dconn.execute(text("SELECT h3_r9 FROM enterprises WHERE id = :id"), {"id": eid}).scalar_one() is not None
    dconn.execute(text("UPDATE enterprises SET geom = ST_Translate(geom, 0.01, 0.01) WHERE id = :id"), {"id": eid})
    cells = dconn.execute(text("SELECT h3_r6, h3_r7, h3_r8, h3_r9 FROM enterprises WHERE id = :id"), {"id": eid}).one()
    assert tuple(cells) == (None, None, None, None)
    _clear_cells(dconn)
    n_points = dconn.execute(text(
        "SELECT (SELECT count(*) FROM enterprises WHERE geom IS NOT NULL) + (SELECT count(*) FROM hazard_sources "
        "WHERE geom IS NOT NULL) + (SELECT count(*) FROM hazards WHERE geom IS NOT NULL AND status <> 'closed')")
    ).scalar_one()
    assert fill_point_h3(dconn) == n_points
    assert fill_point_h3(dconn) == 0  # nothing left to do
    sample = dconn.execute(text(
        "SELECT ST_Y(geom), ST_X(geom), h3_r6, h3_r7, h3_r8, h3_r9 FROM enterprises WHERE geom IS NOT NULL "
        "ORDER BY id LIMIT 200")).fetchall()
    for lat, lon, *stored in sample:
        assert stored == [h3.str_to_int(h3.latlng_to_cell(lat, lon, res)) for res in (6, 7, 8, 9)]


@pytest.mark.parametrize("scope", [CITY, "411000.411002.", Scope(CITY, "zhujian")])
def test_breakdowns_equal_the_four_scans(dconn: Connection, scope: str) -> None:
    """rq.breakdowns (majors, open hazards, hazard_months) equals the four scans the charts were read with before."""
    from datetime import timedelta

    cutoff = rq.stock_cutoff(dconn, as_of=DEMO_AS_OF)
    for f in (rq.RiskFilters(), rq.RiskFilters(hazard_levels=("general",), date_from=DEMO_AS_OF - timedelta(days=200),
                                               date_to=DEMO_AS_OF - timedelta(days=20))):
        got = rq.breakdowns(dconn, scope=scope, filters=f, as_of=DEMO_AS_OF, cutoff=cutoff)
        assert got["trend"] == oracle.monthly_found_closed(dconn, scope=scope, filters=f, as_of=DEMO_AS_OF,
                                                           cutoff=cutoff)
        assert rq.monthly_found_closed(dconn, scope=scope, filters=f, as_of=DEMO_AS_OF, cutoff=cutoff) == got["trend"]
        assert got["industries"] == oracle.open_by_industry(dconn, scope=scope, filters=f, as_of=DEMO_AS_OF)
        assert got["areas"] == oracle.by_child_unit(dconn, scope=scope, filters=f, as_of=DEMO_AS_OF)
        assert got["ageing"] == oracle.overdue_ageing(dconn, scope=scope, filters=f, as_of=DEMO_AS_OF)
        if f == rq.RiskFilters():  # something to compare: hazards open and overdue in every part
            assert sum(r["open"] for r in got["areas"]) and got["industries"]
            assert any(r["major"] or r["general"] for r in got["ageing"])


def test_breakdowns_roll_up_counts_what_the_scan_counts(dconn: Connection) -> None:
    """The areas' found / closed summed from hazard_months equal the scan's with hazards hazard_months counts
    differently: one not closed that carries a closing date (an import), one standing in its enterprise's unit."""
    county = dconn.execute(text("SELECT u.id, e.id FROM units u JOIN units c ON c.path LIKE u.path || '%' "
                                "JOIN enterprises e ON e.unit_id = c.id WHERE u.path = '411000.411002.' "
                                "ORDER BY e.id LIMIT 1")).one()
    dconn.execute(text(
        "INSERT INTO hazards (code, unit_id, enterprise_id, title, level, status, found_at, deadline, closed_at) "
        "VALUES ('RQ-DATED', :u, NULL, '带销号日期的未销号隐患', 'major', 'rectifying', DATE '2026-01-05', "
        "DATE '2026-02-01', DATE '2026-01-20'), ('RQ-NOUNIT', NULL, :e, '无网格隐患', 'general', 'closed', "
        "DATE '2026-01-06', DATE '2026-02-01', DATE '2026-01-21')"), {"u": county[0], "e": county[1]})
    cutoff = rq.stock_cutoff(dconn, as_of=DEMO_AS_OF)
    got = rq.breakdowns(dconn, scope=CITY, filters=rq.RiskFilters(), as_of=DEMO_AS_OF, cutoff=cutoff)
    assert got["areas"] == oracle.by_child_unit(dconn, scope=CITY, filters=rq.RiskFilters(), as_of=DEMO_AS_OF)
    assert got["trend"] == oracle.monthly_found_closed(dconn, scope=CITY, filters=rq.RiskFilters(), as_of=DEMO_AS_OF,
                                                       cutoff=cutoff)
    weidu = next(r for r in got["areas"] if r["code"] == "411002")
    months = dconn.execute(text("SELECT sum(found), sum(closed) FROM hazard_months WHERE unit_id = :u"),
                           {"u": county[0]}).one()
    assert (weidu["found"], weidu["closed"]) == (months[0], months[1] - 1)  # the dated open one is not closed
