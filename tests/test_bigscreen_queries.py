"""Big-screen queries (geo/bigscreen_queries.py) against hand-computed numbers and against the refresh.

A tiny city 419900 of its own (two counties, a township each, one village) is inserted inside a
rolled-back transaction, with hazards placed around month and window edges; every expected number
below is counted by hand from the table in the comments. A second city 419800 holds "foreign" rows
that must never be counted. Then the small 许昌 demo (tests/demo_fixture.py) checks the live counts
against ``unit_stats`` written by the refresh on the same day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Connection, bindparam, create_engine, text

from geo import bigscreen_queries as bq
from geo.hazard_ledger import LedgerFilters, hazard_page
from geo.scope import Scope
from tests.demo_fixture import DEMO_AS_OF, DemoDb, demo_db  # noqa: F401  (fixture)

pytestmark = pytest.mark.db

AS_OF = date(2026, 3, 10)
CITY, A, B, A1, B1, A1V = "419900", "419901", "419902", "419901001", "419902100", "419901001001"
OTHER, OTHER1 = "419800", "419801"
# code, name, level, parent, box (w, s, e, n) or None
UNITS: list[tuple[str, str, int, str | None, tuple[float, float, float, float] | None]] = [
    (CITY, "测试市", 1, None, (110.0, 30.0, 111.0, 31.0)),
    (A, "甲县", 2, CITY, (110.0, 30.0, 110.5, 31.0)),
    (B, "乙县", 2, CITY, (110.5, 30.0, 111.0, 31.0)),
    (A1, "甲一街道", 3, A, None),
    (B1, "乙一镇", 3, B, None),
    (A1V, "甲一社区", 4, A1, None),
    (OTHER, "外市", 1, None, None),
    (OTHER1, "外县", 2, OTHER, None),
]
# unit, risk_score, risk_class, inspection_overdue (unit_stats)
STATS = [
    (CITY, 1.8, "yellow", False), (A, 1.5, "yellow", False), (B, 2.5, "orange", True),
    (A1, 3.2, "red", True), (B1, 0.4, "blue", False), (A1V, 0.1, "blue", True), (OTHER, 9.0, "red", True),
]
# credit code suffix, unit, risk level
ENTERPRISES = [("E1", A1, "red"), ("E2", A1, "orange"), ("E3", B1, None), ("E4", B1, "red"), ("E5", OTHER1, "red")]
# source code, enterprise, own unit (None: the enterprise's)
SOURCES = [("S1", "E1", None), ("S2", "E4", B1), ("S3", "E5", None)]
# code, enterprise, own unit (None: the enterprise's), level, status, found, deadline, closed, supervision
HAZARDS: list[tuple[Any, ...]] = [
    ("H1", "E1", A1, "general", "rectifying", date(2026, 2, 10), date(2026, 3, 5), None, None),
    ("H2", "E2", A1, "major", "reported", date(2026, 3, 8), date(2026, 4, 1), None, 1),
    ("H3", "E3", None, "general", "closed", date(2026, 2, 20), date(2026, 3, 1), date(2026, 3, 2), None),
    ("H4", None, B1, "general", "closed", date(2026, 3, 3), date(2026, 3, 20), date(2026, 3, 6), None),
    ("H5", "E1", A1, "general", "closed", date(2026, 1, 5), date(2026, 2, 1), date(2026, 2, 15), None),
    ("H6", "E4", B1, "major", "rectifying", date(2026, 2, 1), date(2026, 2, 20), None, 2),
    ("H7", "E4", B1, "major", "closed", date(2026, 3, 2), date(2026, 3, 30), date(2026, 3, 9), None),
    ("H8", "E5", OTHER1, "major", "rectifying", date(2026, 3, 9), date(2026, 3, 9), None, 1),
    ("H9", "E2", A1, "general", "verifying", date(2025, 12, 20), date(2026, 3, 9), None, None),
]
SCOPE = f"{CITY}."


def _credit(suffix: str) -> str:
    return f"9141990000BSQ000{suffix}"


def _roll_up_enterprises(conn: Connection) -> None:
    """Write each test unit's subtree enterprise counts into its unit_stats row, as the refresh would."""
    cols = ", ".join(f"{c} = x.{c}" for c in bq.ENTERPRISE_COUNTS)
    conn.execute(text(
        f"UPDATE unit_stats s SET {cols} FROM (SELECT a.id, count(e.id) AS enterprises, "
        "count(*) FILTER (WHERE e.risk_level = 'red') AS ent_red, "
        "count(*) FILTER (WHERE e.risk_level = 'orange') AS ent_orange, "
        "count(*) FILTER (WHERE e.risk_level = 'yellow') AS ent_yellow, "
        "count(*) FILTER (WHERE e.risk_level = 'blue') AS ent_blue, "
        "count(*) FILTER (WHERE e.id IS NOT NULL AND e.risk_level IS NULL) AS ent_unassessed "
        "FROM units a JOIN units c ON c.path LIKE a.path || '%' LEFT JOIN enterprises e ON e.unit_id = c.id "
        "WHERE a.code IN :codes GROUP BY a.id) x WHERE s.unit_id = x.id"
    ).bindparams(bindparam("codes", expanding=True)), {"codes": [u[0] for u in UNITS]})


@pytest.fixture
def city(conn: Connection) -> Connection:
    """The test city inside the rolled-back transaction of ``conn``."""
    for code, name, level, parent, box in UNITS:
        conn.execute(text(
            "INSERT INTO units (code, name, level, kind, parent_id, path, geom) "
            "SELECT :code, :name, :level, NULL, p.id, coalesce(p.path, '') || :code || '.', "
            "CASE WHEN CAST(:w AS float8) IS NULL THEN NULL "
            "ELSE ST_Multi(ST_MakeEnvelope(:w, :s, :e, :n, 4326)) END "
            "FROM (SELECT 1) one LEFT JOIN units p ON p.code = :parent"
        ), {"code": code, "name": name, "level": level, "parent": parent,
            **dict(zip("wsen", box or (None,) * 4, strict=True))})
    for code, score, cls, overdue in STATS:
        conn.execute(text(
            "INSERT INTO unit_stats (unit_id, level, risk_score, risk_class, inspection_overdue, "
            "persons_present, persons_required, vacancies_subtree) "
            "SELECT id, level, :score, :cls, :overdue, 20, 24, 4 FROM units WHERE code = :code"
        ), {"code": code, "score": score, "cls": cls, "overdue": overdue})
    for suffix, unit, risk in ENTERPRISES:
        conn.execute(text(
            "INSERT INTO enterprises (credit_code, name, risk_level, unit_id) "
            "SELECT :cc, :name, :risk, id FROM units WHERE code = :unit"
        ), {"cc": _credit(suffix), "name": f"企业{suffix}", "risk": risk, "unit": unit})
    _roll_up_enterprises(conn)
    for code, ent, own_unit in SOURCES:
        conn.execute(text(
            "INSERT INTO hazard_sources (code, enterprise_id, name, grade, unit_id) "
            "SELECT :code, e.id, :code, 2, (SELECT id FROM units WHERE code = :unit) "
            "FROM enterprises e WHERE e.credit_code = :cc"
        ), {"code": f"BSQ-{code}", "cc": _credit(ent), "unit": own_unit})
    for code, ent, unit, level, status, found, deadline, closed, supervision in HAZARDS:
        conn.execute(text(
            "INSERT INTO hazards (code, enterprise_id, unit_id, title, level, status, found_at, deadline, "
            "closed_at, supervision_level) VALUES (:code, (SELECT id FROM enterprises WHERE credit_code = :cc), "
            "(SELECT id FROM units WHERE code = :unit), :title, :level, :status, :found, :deadline, :closed, :sup)"
        ), {"code": f"BSQ-{code}", "cc": _credit(ent) if ent else None, "unit": unit, "title": f"隐患{code}",
            "level": level, "status": status, "found": found, "deadline": deadline, "closed": closed,
            "sup": supervision})
    return conn


def test_kpis_hand_counted(city: Connection) -> None:
    k = bq.screen_kpis(city, scope=SCOPE, as_of=AS_OF)
    assert (k["enterprises"], k["ent_red"], k["ent_orange"], k["ent_yellow"], k["ent_blue"], k["ent_unassessed"]) \
        == (4, 2, 1, 0, 0, 1)
    assert k["sources"] == 2  # S1 by its enterprise's unit, S2 by its own; S3 is foreign
    # open: H1 H2 H6 H9; overdue: H1 (3-05) H6 (2-20) H9 (3-09); major: H2 H6; supervised: H2 H6
    assert (k["hazards_open"], k["hazards_overdue"], k["hazards_major_open"], k["hazards_supervised"]) == (4, 3, 2, 2)
    # open on 3-01: H1 H3 H6 H9; found in March: H2 H4 H7; closed in March: H3 H4 H7 → 3 / 7
    assert (k["month_open_at_start"], k["month_found"], k["month_closed"]) == (4, 3, 3)
    assert k["closure_rate"] == pytest.approx(3 / 7, abs=1e-4)


def test_kpis_enterprises_from_the_roll_up_else_live(city: Connection) -> None:
    """The ribbon's enterprises are unit_stats' (what the map colours show); a department or no roll-up: a scan."""
    city.execute(text("UPDATE unit_stats SET enterprises = 99 WHERE unit_id = (SELECT id FROM units WHERE code = :c)"),
                 {"c": CITY})
    assert bq.screen_kpis(city, scope=SCOPE, as_of=AS_OF)["enterprises"] == 99
    city.execute(text("UPDATE enterprises SET dept_code = 'zhujian' WHERE credit_code IN (:a, :b)"),
                 {"a": _credit("E1"), "b": _credit("E4")})
    dept = bq.screen_kpis(city, scope=Scope(SCOPE, "zhujian"), as_of=AS_OF)
    assert (dept["enterprises"], dept["ent_red"], dept["sources"]) == (2, 2, 2)
    # the department's hazards: H1 H5 (E1), H6 H7 (E4); open H1 H6, both overdue
    assert (dept["hazards_open"], dept["hazards_overdue"], dept["hazards_major_open"]) == (2, 2, 1)
    city.execute(text("DELETE FROM unit_stats WHERE unit_id = (SELECT id FROM units WHERE code = :c)"), {"c": CITY})
    assert bq.screen_kpis(city, scope=SCOPE, as_of=AS_OF)["enterprises"] == 4  # before a refresh: live


def test_kpis_match_the_ledger(city: Connection) -> None:
    """The ribbon's hazard counts are the hazard ledger's totals under the same filters on the same day."""
    k = bq.screen_kpis(city, scope=SCOPE, as_of=AS_OF)
    for key, filters in (("hazards_open", LedgerFilters(open_only=True, today=AS_OF)),
                         ("hazards_overdue", LedgerFilters(overdue=True, today=AS_OF)),
                         ("hazards_major_open", LedgerFilters(open_only=True, levels=("major",), today=AS_OF)),
                         ("hazards_supervised", LedgerFilters(open_only=True, supervised=True, today=AS_OF))):
        assert hazard_page(city, scope=SCOPE, filters=filters)[1] == k[key], key


def test_kpis_of_a_county_scope(city: Connection) -> None:
    k = bq.screen_kpis(city, scope=f"{CITY}.{A}.", as_of=AS_OF)
    assert (k["enterprises"], k["sources"], k["hazards_open"], k["hazards_overdue"]) == (2, 1, 3, 2)
    # H1 H9 open at the start, H2 found, nothing closed in March
    assert (k["month_open_at_start"], k["month_found"], k["month_closed"], k["closure_rate"]) == (2, 1, 0, 0.0)


def test_closure_rate_undefined_without_hazards(city: Connection) -> None:
    k = bq.screen_kpis(city, scope=f"{OTHER}.", as_of=date(2025, 6, 1))
    assert k["closure_rate"] is None and k["hazards_open"] == 1


def test_children_and_rankings(city: Connection) -> None:
    children = bq.child_summaries(city, scope=SCOPE, as_of=AS_OF)
    assert [c["code"] for c in children] == [A, B]
    a, b = children
    assert (a["open"], a["overdue"], a["major"], a["supervised"]) == (3, 2, 1, 1)
    assert (b["open"], b["overdue"], b["major"], b["supervised"]) == (1, 1, 1, 1)
    assert (a["risk_score"], a["risk_class"], b["risk_class"]) == (1.5, "yellow", "orange")
    assert a["bounds"] == [[30.0, 110.0], [31.0, 110.5]]
    assert [c["code"] for c in bq.ranking(children, by="risk")] == [B, A]
    assert [c["code"] for c in bq.ranking(children, by="overdue")] == [A, B]
    assert bq.ranking(children, by="overdue", limit=1) == [a]


def test_ranking_ties_break_by_colour_then_code() -> None:
    rows = [{"code": "3", "risk_score": 1.0, "risk_class": "blue", "overdue": 2, "open": 5},
            {"code": "2", "risk_score": 1.0, "risk_class": "red", "overdue": 2, "open": 9},
            {"code": "1", "risk_score": 1.0, "risk_class": "blue", "overdue": 2, "open": 5}]
    assert [r["code"] for r in bq.ranking(rows, by="risk")] == ["2", "1", "3"]
    assert [r["code"] for r in bq.ranking(rows, by="overdue")] == ["2", "1", "3"]


def test_monthly_trend(city: Connection) -> None:
    trend = bq.monthly_trend(city, scope=SCOPE, as_of=AS_OF)
    assert [t["month"] for t in trend] == [date(2025, m, 1) for m in range(4, 13)] + [
        date(2026, m, 1) for m in (1, 2, 3)]
    got = {t["month"]: (t["found"], t["closed"]) for t in trend if t["found"] or t["closed"]}
    assert got == {date(2025, 12, 1): (1, 0), date(2026, 1, 1): (1, 0), date(2026, 2, 1): (3, 1),
                   date(2026, 3, 1): (3, 3)}
    assert [t["month"] for t in bq.monthly_trend(city, scope=SCOPE, as_of=date(2026, 12, 31), months=3)] == [
        date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]


def test_alarms(city: Connection) -> None:
    al = bq.alarms(city, scope=SCOPE, as_of=AS_OF)
    # found 3-04 … 3-10 and major: H2 (H7 was found 3-02; H8 is foreign)
    assert [h["code"] for h in al["new_major"]] == ["BSQ-H2"]
    assert al["new_major"][0]["county"] == "甲县" and al["new_major"][0]["township"] == "甲一街道"
    assert al["new_major"][0]["enterprise"] == "企业E2"
    # open, deadline 3-03 … 3-09: H9 (3-09), H1 (3-05); H6 passed its deadline earlier
    assert [h["code"] for h in al["newly_overdue"]] == ["BSQ-H9", "BSQ-H1"]
    # county B and township A1 (one and two levels down); the village A1V is deeper, OTHER foreign
    assert [u["code"] for u in al["inspection_overdue"]] == [B, A1]
    assert al["counts"] == {"new_major": 1, "newly_overdue": 2, "inspection_overdue": 2}
    assert bq.alarms(city, scope=SCOPE, as_of=AS_OF, limit=1)["counts"]["newly_overdue"] == 2


def test_grid_overview_and_fill_classes(city: Connection) -> None:
    g = bq.grid_overview(city, scope=SCOPE)
    assert g["levels"] == {1: 1, 2: 2, 3: 2, 4: 1}
    assert g["inspection_overdue"] == {1: 0, 2: 1, 3: 1, 4: 1}
    assert (g["persons_present"], g["persons_required"], g["vacancies"]) == (20, 24, 4)
    assert bq.fill_classes(city, scope=SCOPE) == (3, {"red": 1, "orange": 0, "yellow": 0, "blue": 1})
    assert bq.fill_classes(city, scope=f"{CITY}.{B}.") == (3, {"red": 0, "orange": 0, "yellow": 0, "blue": 1})
    assert bq.fill_classes(city, scope=f"{CITY}.{A}.{A1}.{A1V}.") == (4, {"red": 0, "orange": 0, "yellow": 0,
                                                                         "blue": 1})  # a leaf: itself


def test_scope_head(city: Connection) -> None:
    head = bq.scope_head(city, scope=SCOPE)
    assert head == {"code": CITY, "name": "测试市", "level": 1, "bounds": [[30.0, 110.0], [31.0, 111.0]]}
    assert bq.scope_head(city, scope="419999.") is None


# --- the small demo: live counts agree with the refresh's unit_stats on the refresh day -----------


def test_demo_kpis_match_unit_stats(demo_db: DemoDb) -> None:  # noqa: F811
    engine = create_engine(demo_db.url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT u.path, s.* FROM unit_stats s JOIN units u ON u.id = s.unit_id WHERE u.level <= 2"
        )).mappings().all()
        assert len(rows) == 8
        for s in rows:
            k = bq.screen_kpis(conn, scope=s["path"], as_of=DEMO_AS_OF)
            for key in ("enterprises", "ent_red", "ent_orange", "ent_yellow", "ent_blue", "ent_unassessed",
                        "hazards_open", "hazards_overdue", "hazards_major_open", "hazards_supervised"):
                assert k[key] == s[key], (s["path"], key)
            assert k["sources"] == sum(s[f"sources_g{g}"] for g in (1, 2, 3, 4))
            live = conn.execute(text(
                "SELECT count(*) FROM enterprises e JOIN units u ON u.id = e.unit_id WHERE u.path LIKE :p || '%'"
            ), {"p": s["path"]}).scalar()
            assert k["enterprises"] == live, s["path"]  # the roll-up read is the live count on the refresh day
        city = next(s for s in rows if s["level"] == 1)
        children = bq.child_summaries(conn, scope=city["path"], as_of=DEMO_AS_OF)
        assert len(children) == 7
        for key, column in (("open", "hazards_open"), ("overdue", "hazards_overdue"),
                            ("major", "hazards_major_open"), ("supervised", "hazards_supervised")):
            assert sum(c[key] for c in children) == city[column]
        trend = bq.monthly_trend(conn, scope=city["path"], as_of=DEMO_AS_OF)
        found = conn.execute(text("SELECT count(*) FROM hazards WHERE found_at >= :d AND found_at <= :t"),
                             {"d": trend[0]["month"], "t": DEMO_AS_OF}).scalar()
        assert sum(t["found"] for t in trend) == found
    engine.dispose()
