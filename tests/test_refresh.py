"""The derived-layer refresh on a hand-built unit tree with exactly known roll-ups (own database)."""

from __future__ import annotations

import os
import threading
from datetime import date
from typing import Any

import pytest
import shapely
from sqlalchemy import Engine, create_engine, text

from domain.risk_rule import RiskRule
from etl.refresh import aggregate_h3, h3_measures, refresh_all
from geo.refresh import VACUUMED
from tests.demo_fixture import fresh_database

AS_OF = date(2026, 11, 23)
X0, Y0 = 113.0, 34.0


def box(x0: float, x1: float, y0: float = Y0, y1: float = Y0 + 0.1) -> str:
    return f"SRID=4326;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


# code, level, kind, parent, (x0, x1)
UNITS = [
    ("411000", 1, "city", None, (113.0, 113.2)),
    ("411002", 2, "district", "411000", (113.0, 113.1)),
    ("411003", 2, "district", "411000", (113.1, 113.2)),
    ("411002001", 3, "subdistrict", "411002", (113.0, 113.1)),
    ("411003100", 3, "town", "411003", (113.1, 113.2)),
    ("411002001001", 4, "community", "411002001", (113.0, 113.05)),
    ("411002001002", 4, "community", "411002001", (113.05, 113.1)),
    ("411003100200", 4, "village", "411003100", (113.1, 113.2)),
    ("41100200100101", 5, "grid", "411002001001", (113.0, 113.025)),
    ("41100200100102", 5, "grid", "411002001001", (113.025, 113.05)),
    ("41100200100201", 5, "grid", "411002001002", (113.05, 113.1)),
    ("41100310020001", 5, "grid", "411003100200", (113.1, 113.2)),
]
# name, grid, colour, lon
ENTERPRISES = [
    ("e1", "41100200100101", "red", 113.01), ("e2", "41100200100101", "blue", 113.02),
    ("e3", "41100200100102", "orange", 113.03), ("e4", "41100200100201", "yellow", 113.06),
    ("e5", "41100200100201", None, 113.07), ("e6", "41100310020001", "red", 113.15),
    ("e7", "41100310020001", "blue", 113.16),
]
# code, enterprise, unit (no enterprise), level, status, found, deadline, supervision
HAZARDS = [
    ("h1", "e1", None, "major", "rectifying", "2025-12-01", "2026-11-01", 2),
    ("h2", "e1", None, "general", "reported", "2026-11-20", "2026-12-30", None),
    ("h3", "e3", None, "general", "closed", "2026-05-01", "2026-06-01", None),
    ("h4", "e4", None, "general", "verifying", "2026-10-01", "2026-11-22", None),
    ("h5", None, "41100310020001", "general", "reported", "2026-11-10", None, None),
    ("h6", "e6", None, "major", "rectifying", "2026-11-01", "2027-01-01", None),
]
# unit, role, seq left vacant
VACANT = {("411002001001", "info_officer", 1), ("41100310020001", "grid_worker", 1), ("411003", "supervisor", 2)}
# unit where inspected, inspector level, date
INSPECTIONS = [
    ("41100200100101", 1, "2026-10-01"), ("41100200100101", 2, "2026-11-01"), ("41100310020001", 2, "2026-09-01"),
    ("411002001", 3, "2026-11-20"), ("41100200100101", 4, "2026-11-22"), ("41100200100201", 4, "2026-11-20"),
    ("41100310020001", 4, "2026-11-23"),
]


def _seed(engine: Engine) -> None:
    with engine.begin() as c:
        for code, level, kind, parent, (x0, x1) in UNITS:
            c.execute(text(
                "INSERT INTO units (code, name, level, kind, parent_id, path, geom, is_demo_geometry) "
                "SELECT :code, :code, :level, :kind, p.id, coalesce(p.path, '') || :code || '.', "
                "ST_GeomFromEWKT(:g), true FROM (SELECT 1) one LEFT JOIN units p ON p.code = :parent"
            ), {"code": code, "level": level, "kind": kind, "parent": parent, "g": box(x0, x1)})
        for i, (name, grid, colour, lon) in enumerate(ENTERPRISES):
            c.execute(text(
                "INSERT INTO enterprises (credit_code, name, risk_level, unit_id, geom) SELECT :cc, :n, :r, id, "
                "ST_SetSRID(ST_MakePoint(:x, 34.05), 4326) FROM units WHERE code = :g"
            ), {"cc": f"91411002MA000000{i:02d}", "n": name, "r": colour, "g": grid, "x": lon})
        for code, ent, unit, level, status, found, deadline, sup in HAZARDS:
            c.execute(text(
                "INSERT INTO hazards (code, enterprise_id, unit_id, title, level, status, found_at, deadline, "
                "closed_at, supervision_level, geom) VALUES (:code, (SELECT id FROM enterprises WHERE name = :e), "
                "(SELECT id FROM units WHERE code = :u), :code, :level, :status, CAST(:found AS date), "
                "CAST(:deadline AS date), CASE WHEN :status = 'closed' THEN CAST(:deadline AS date) END, :sup, "
                "CASE WHEN :u IS NOT NULL THEN ST_SetSRID(ST_MakePoint(113.17, 34.05), 4326) END)"
            ), {"code": code, "e": ent, "u": unit, "level": level, "status": status, "found": found,
                "deadline": deadline, "sup": sup})
        for code, ent, grade, r in (("s1", "e1", 2, 60), ("s2", "e6", 1, 120)):
            c.execute(text(
                "INSERT INTO hazard_sources (code, enterprise_id, name, grade, r_value) "
                "SELECT :code, id, :code, :grade, :r FROM enterprises WHERE name = :e"
            ), {"code": code, "e": ent, "grade": grade, "r": r})
        pid = c.execute(text("INSERT INTO persons (name) VALUES ('张三') RETURNING id")).scalar_one()
        for code, level, *_ in UNITS:
            slots = [("first", 1), ("leader", 1), ("supervisor", 1), ("supervisor", 2)]
            slots += [("info_officer", 1)] if level == 4 else [("grid_worker", 1)] if level == 5 else []
            for role, seq in slots:
                if (code, role, seq) in VACANT:
                    continue
                c.execute(text(
                    "INSERT INTO duties (unit_id, person_id, role, seq, since) "
                    "SELECT id, :p, :role, :seq, DATE '2024-01-01' FROM units WHERE code = :code"
                ), {"p": pid, "role": role, "seq": seq, "code": code})
        # a former holder of a vacant slot does not count
        c.execute(text(
            "INSERT INTO duties (unit_id, person_id, role, seq, since, until) SELECT id, :p, 'grid_worker', 1, "
            "DATE '2024-01-01', DATE '2026-06-30' FROM units WHERE code = '41100310020001'"
        ), {"p": pid})
        for i, (code, level, day) in enumerate(INSPECTIONS):
            c.execute(text(
                "INSERT INTO inspections (code, unit_id, inspector_level, inspected_at) "
                "SELECT :code, id, :level, CAST(:day AS date) FROM units WHERE code = :u"
            ), {"code": f"JC{i}", "u": code, "level": level, "day": day})
        c.execute(text(
            "INSERT INTO app_config (key, value) VALUES ('stock_cutoff', '\"2026-01-01\"') "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
        ))


@pytest.fixture(scope="module")
def tree(db_url: str) -> tuple[str, Engine]:
    url = fresh_database(os.environ.get("SAFEGRID_TEST_DB", "safegrid_test") + "_refresh")
    engine = create_engine(url)
    _seed(engine)
    refresh_all(url, as_of=AS_OF)
    return url, engine


def stats(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as c:
        rows = c.execute(text("SELECT u.code, s.* FROM unit_stats s JOIN units u ON u.id = s.unit_id")).mappings()
        return {r["code"]: dict(r) for r in rows}


def test_rollup_exact_numbers(tree: tuple[str, Engine]) -> None:
    s = stats(tree[1])
    assert len(s) == len(UNITS)
    city, a, b = s["411000"], s["411002"], s["411003"]
    assert (city["enterprises"], city["ent_red"], city["ent_orange"], city["ent_yellow"], city["ent_blue"],
            city["ent_unassessed"]) == (7, 2, 1, 1, 2, 1)
    assert (city["hazards_open"], city["hazards_overdue"], city["hazards_major_open"], city["hazards_supervised"],
            city["hazards_stock_open"], city["hazards_increment_open"]) == (5, 2, 2, 1, 1, 1)  # 存量/增量: major only
    assert (city["sources_g1"], city["sources_g2"], city["sources_g3"], city["sources_g4"]) == (1, 1, 0, 0)
    assert (a["enterprises"], a["hazards_open"], a["hazards_overdue"], a["hazards_major_open"]) == (5, 3, 2, 1)
    assert (b["enterprises"], b["hazards_open"], b["hazards_overdue"], b["sources_g1"]) == (2, 2, 0, 1)
    numeric = [k for k, v in city.items() if isinstance(v, int) and not isinstance(v, bool)
               and k not in ("unit_id", "level", "children") and not k.startswith(("persons", "vacancies"))]
    for key in numeric:  # city = sum of counties = sum of grid cells (persons: every unit has its own)
        assert city[key] == a[key] + b[key], key
        assert city[key] == sum(v[key] for code, v in s.items() if len(code) == 14), key
    grids_of_town = [g for g in s if g.startswith("411002001") and len(g) == 14]
    assert s["411002001"]["hazards_open"] == sum(s[g]["hazards_open"] for g in grids_of_town) == 3
    assert s["41100200100101"]["hazards_open"] == 2
    assert (city["children"], a["children"], s["411002001"]["children"], s["411002001001"]["children"]) == (2, 1, 2, 2)


def test_persons_and_vacancies(tree: tuple[str, Engine]) -> None:
    s = stats(tree[1])
    city = s["411000"]
    # the 许昌 plan's 1 分管领导 + 2 安全监管责任人 per unit (domain.rules_config.DEFAULT_STAFFING)
    assert (city["persons_required"], city["persons_present"], city["vacancies_subtree"]) == (36, 35, 1)
    assert (s["411003"]["persons_required"], s["411003"]["vacancies_subtree"]) == (12, 1)
    assert s["411002001001"]["vacancies_subtree"] == 0  # its missing info officer is not required by default
    assert s["41100310020001"]["persons_present"] == 3  # first and grid worker are not counted by default


def test_inspection_cadence(tree: tuple[str, Engine]) -> None:
    s = stats(tree[1])
    expect = {
        "411000": (date(2026, 10, 1), False), "411002": (date(2026, 11, 1), False),
        "411003": (date(2026, 9, 1), True), "411002001": (date(2026, 11, 20), False),
        "411003100": (None, True), "411002001001": (date(2026, 11, 22), False),
        "411002001002": (date(2026, 11, 20), True), "411003100200": (date(2026, 11, 23), False),
        "41100200100101": (date(2026, 11, 22), False),
    }
    for code, (last, overdue) in expect.items():
        assert (s[code]["last_inspection_at"], s[code]["inspection_overdue"]) == (last, overdue), code


def test_risk_class_and_explain(tree: tuple[str, Engine]) -> None:
    s = stats(tree[1])
    g = s["41100200100101"]
    # e1 red 10 + e2 blue 0.2 + h1 (open 1 + major 8 + overdue 3 + supervised 4) + h2 (1) + source g2 10 = 37.2
    assert g["risk_score"] == pytest.approx(37.2 / 3, abs=1e-4)  # 2 enterprises: the floor of 3 applies
    assert g["risk_class"] == "red"
    ex = g["risk_explain"]
    assert ex["class"] == "red" and ex["thresholds"]["red"] == 3.0 and ex["rule_version"] == "1"
    assert ex["inputs"]["hazards_major_open"] == 1 and ex["denominator"] == 3
    points = {c["input"]: c["points"] for c in ex["contributions"]}
    assert points == {"ent_red": 10, "sources_g2": 10, "hazards_major_open": 8, "hazards_supervised": 4,
                      "hazards_overdue": 3, "hazards_open": 2, "ent_blue": 0.2}
    assert [c["input"] for c in ex["contributions"][:3]] == ["ent_red", "sources_g2", "hazards_major_open"]
    city = s["411000"]["risk_explain"]
    assert [e["name"] for e in city["top_enterprises"][:2]] == ["e1", "e6"]
    assert city["top_enterprises"][0]["points"] == pytest.approx(10 + 16 + 1 + 10)
    assert city["top_hazards"][0]["code"] == "h1" and city["top_hazards"][0]["overdue"] is True
    assert ex["summary"].startswith("[规则版本 1] 就高 红：含 红色企业 1、未销号重大隐患 1（e1、h1）")
    assert "风险指数 红：得分 12.4 ≥ 3" in ex["summary"] and ex["mark"] is True
    assert s["41100310020001"]["risk_explain"]["top_hazards"][0]["code"] == "h6"


def test_display_geometry_and_labels(tree: tuple[str, Engine]) -> None:
    with tree[1].connect() as c:
        rows = c.execute(text(
            "SELECT level, ST_AsBinary(geom_display), ST_Contains(geom_display, label_point), area_km2 FROM units"
        )).all()
    assert all(r[1] is not None and r[2] for r in rows)
    assert all(r[3] and r[3] > 1 for r in rows)
    grids = shapely.from_wkb([bytes(r[1]) for r in rows if r[0] == 5])
    assert shapely.coverage_is_valid(grids)


def test_h3_counts_match_inputs(tree: tuple[str, Engine]) -> None:
    with tree[1].connect() as c:
        rows = c.execute(text(
            "SELECT res, sum(enterprises), sum(hazards_open), sum(sources), sum(ent_red), count(*) "
            "FROM h3_stats GROUP BY res ORDER BY res"
        )).all()
    assert [r[0] for r in rows] == [6, 7, 8, 9]
    for r in rows:
        assert (r[1], r[2], r[3], r[4]) == (7, 5, 2, 2)


def test_h3_aggregation_matches_plain_group_by() -> None:
    import h3
    import numpy as np

    rng = np.random.default_rng(1)
    ent = np.column_stack([rng.uniform(113.5, 114, 500), rng.uniform(33.9, 34.3, 500), rng.integers(0, 5, 500)])
    pts = {"enterprises": ent, "hazards": np.empty((0, 5)), "sources": np.empty((0, 3))}
    lon, lat, m = h3_measures(pts, RiskRule())
    agg = aggregate_h3(lon, lat, m, (6, 8))
    for res in (6, 8):
        expect: dict[int, int] = {}
        for x, y in zip(lon, lat, strict=True):
            cell = h3.str_to_int(h3.latlng_to_cell(y, x, res))
            expect[cell] = expect.get(cell, 0) + 1
        cells, sums = agg[res]
        assert dict(zip(cells.tolist(), sums[:, 0].astype(int).tolist(), strict=True)) == expect


def test_h3_aggregation_with_shared_points_matches_np_add_at() -> None:
    """Hazards on their enterprise's point are indexed once; every measure sums as a plain np.add.at."""
    import h3
    import numpy as np

    rng = np.random.default_rng(2)
    ent = np.column_stack([rng.uniform(113.5, 114, 300), rng.uniform(33.9, 34.3, 300), rng.integers(0, 5, 300)])
    on = rng.integers(0, 300, 200)  # hazards at enterprise points, plus 20 of their own
    haz = np.column_stack([np.concatenate([ent[on, 0], rng.uniform(113.5, 114, 20)]),
                           np.concatenate([ent[on, 1], rng.uniform(33.9, 34.3, 20)]), rng.integers(0, 2, (220, 3))])
    src = np.column_stack([ent[:7, 0], ent[:7, 1], rng.integers(0, 5, 7)])
    lon, lat, m = h3_measures({"enterprises": ent, "hazards": haz, "sources": src}, RiskRule())
    agg = aggregate_h3(lon, lat, m, (7, 9))
    for res in (7, 9):
        index = np.array([h3.str_to_int(h3.latlng_to_cell(y, x, res)) for x, y in zip(lon, lat, strict=True)])
        cells, inv = np.unique(index, return_inverse=True)
        expect = np.zeros((len(cells), m.shape[1]))
        np.add.at(expect, inv, m)
        assert np.array_equal(agg[res][0], cells)
        assert np.array_equal(agg[res][1], expect)  # same order of additions: bit-identical sums


def test_binary_copy_of_float_columns(tree: tuple[str, Engine]) -> None:
    import numpy as np

    from geo.refresh import _copy_out_floats

    with tree[1].connect() as c:
        got = _copy_out_floats(c, "SELECT x, -x / 3, CAST(2 AS float8) "
                                  "FROM (VALUES (float8 '0.1'), (-113.25), (1e300)) v(x)", 3)
        none = _copy_out_floats(c, "SELECT CAST(1 AS float8), CAST(2 AS float8) WHERE false", 2)
        with pytest.raises(ValueError, match="float8"):
            _copy_out_floats(c, "SELECT 0.1, CAST(2 AS float8)", 2)  # numeric, not float8
        with pytest.raises(ValueError, match="float8"):
            _copy_out_floats(c, "SELECT CAST(NULL AS float8), CAST(2 AS float8)", 2)
    assert np.array_equal(got, np.array([[0.1, -0.1 / 3, 2], [-113.25, 113.25 / 3, 2], [1e300, -1e300 / 3, 2]]))
    assert none.shape == (0, 2)


def test_readers_see_previous_data_during_swap(tree: tuple[str, Engine]) -> None:
    url, engine = tree
    with engine.begin() as c:
        c.execute(text(
            "INSERT INTO enterprises (credit_code, name, risk_level, unit_id, geom) SELECT '91411002MA00000099', "
            "'e8', 'red', id, ST_SetSRID(ST_MakePoint(113.18, 34.05), 4326) FROM units WHERE code = '41100310020001'"
        ))
    reader = create_engine(url, connect_args={"options": "-c lock_timeout=1000 -c statement_timeout=5000"})
    seen: list[Any] = []

    def during_swap() -> None:  # the swap has deleted and re-inserted unit_stats but not committed
        with reader.connect() as r:
            seen.append(r.execute(text(
                "SELECT s.enterprises FROM unit_stats s JOIN units u ON u.id = s.unit_id WHERE u.code = '411000'"
            )).scalar_one())
            seen.append(r.execute(text("SELECT count(*) FROM h3_stats")).scalar_one())
            seen.append(r.execute(text("SELECT count(*) FROM units WHERE geom_display IS NOT NULL")).scalar_one())

    errors: list[BaseException] = []
    counts: list[int] = []
    stop = threading.Event()

    def poll() -> None:  # a map reader hammering the published table throughout the refresh
        try:
            with reader.connect() as r:
                while not stop.is_set():
                    counts.append(r.execute(text("SELECT count(*) FROM unit_stats")).scalar_one())
                    r.rollback()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=poll)
    t.start()
    try:
        result = refresh_all(url, as_of=AS_OF, on_swap=during_swap)
    finally:
        stop.set()
        t.join()
    assert seen[0] == 7 and seen[1] > 0 and seen[2] == len(UNITS)
    assert errors == [] and counts and set(counts) == {len(UNITS)}
    assert stats(engine)["411000"]["enterprises"] == 8
    with engine.connect() as c:
        run = c.execute(text("SELECT job, status FROM etl_runs WHERE id = :i"), {"i": result.run_id}).one()
        state = c.execute(text("SELECT count(*) FROM refresh_state WHERE run_id = :i"), {"i": result.run_id}).scalar()
    assert tuple(run) == ("refresh", "ok") and state == 3


def test_the_refresh_leaves_the_ledgers_vacuumed(tree: tuple[str, Engine]) -> None:
    """Index-only scans of the covering indexes need the visibility map: the refresh VACUUMs what it read."""
    url, engine = tree
    vacuumed = "SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = :t"
    with engine.begin() as c:
        c.execute(text("UPDATE hazards SET title = title"))  # every page of the table written again
        before = {t: c.execute(text(vacuumed), {"t": t}).scalar_one() for t in VACUUMED}
    refresh_all(url, as_of=AS_OF)
    with engine.connect() as c:  # (whether a page is then marked also depends on other sessions' snapshots)
        for table in VACUUMED:
            last = c.execute(text(vacuumed), {"t": table}).scalar_one()
            assert last is not None and (before[table] is None or last > before[table]), table
