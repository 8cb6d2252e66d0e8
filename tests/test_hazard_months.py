"""``hazard_months`` (migration 0015): kept exact by the hazards' triggers, repaired by the refresh's rebuild.

A city 419700 of its own (two counties, a township, a grid cell) lives in the rolled-back transaction of
``conn``; after every kind of write the table's rows for those units must equal a recount from the hazards
by path prefix (an oracle written independently of the triggers' SQL).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Connection, text

from geo import bigscreen_queries as bq
from geo.refresh import bulk_hazards, rebuild_hazard_months
from geo.scope import Scope

pytestmark = pytest.mark.db

CITY, A, B, A1, A1G = "419700", "419701", "419702", "419701001", "41970100100101"
UNITS = [(CITY, 1, None), (A, 2, CITY), (B, 2, CITY), (A1, 3, A), (A1G, 5, A1)]

_ORACLE = (
    "SELECT a.code, m.month, sum(m.found)::int AS found, sum(m.closed)::int AS closed "
    "FROM units a JOIN units c ON c.path LIKE a.path || '%' "
    "JOIN hazards h ON c.id = coalesce(h.unit_id, (SELECT e.unit_id FROM enterprises e WHERE e.id = h.enterprise_id)) "
    "CROSS JOIN LATERAL (SELECT date_trunc('month', h.found_at::timestamp)::date, 1, 0 UNION ALL "
    "SELECT date_trunc('month', h.closed_at::timestamp)::date, 0, 1 WHERE h.closed_at IS NOT NULL) "
    "AS m (month, found, closed) "
    "WHERE a.code LIKE '4197%' GROUP BY 1, 2"
)
_STORED = (
    "SELECT u.code, hm.month, hm.found, hm.closed FROM hazard_months hm JOIN units u ON u.id = hm.unit_id "
    "WHERE u.code LIKE '4197%' AND (hm.found <> 0 OR hm.closed <> 0)"
)


def _rows(conn: Connection, sql: str) -> set[tuple[str, date, int, int]]:
    return {tuple(r) for r in conn.execute(text(sql))}  # type: ignore[misc]


def _assert_exact(conn: Connection) -> None:
    """Fire the UPDATE trigger's deferred events (they wait for the commit), then compare with the recount."""
    conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    assert _rows(conn, _STORED) == _rows(conn, _ORACLE)
    conn.execute(text("SET CONSTRAINTS ALL DEFERRED"))


def _hazard(conn: Connection, code: str, *, unit: str | None, enterprise: str | None, found: date,
            closed: date | None = None) -> None:
    conn.execute(text(
        "INSERT INTO hazards (code, unit_id, enterprise_id, title, level, status, found_at, closed_at) "
        "VALUES (:code, (SELECT id FROM units WHERE code = :unit), "
        "(SELECT id FROM enterprises WHERE credit_code = :ent), '测试隐患', 'general', :status, :found, :closed)"),
        {"code": code, "unit": unit, "ent": enterprise, "status": "closed" if closed else "reported",
         "found": found, "closed": closed})


@pytest.fixture
def city(conn: Connection) -> Connection:
    """The test city, one enterprise in its grid cell and one in county B, inside ``conn``'s transaction."""
    for code, level, parent in UNITS:
        conn.execute(text(
            "INSERT INTO units (code, name, level, parent_id, path) SELECT :code, :code, :level, p.id, "
            "coalesce(p.path, '') || :code || '.' FROM (SELECT 1) one LEFT JOIN units p ON p.code = :parent"),
            {"code": code, "level": level, "parent": parent})
    for cc, unit in (("91419700000HM00001", A1G), ("91419700000HM00002", B)):
        conn.execute(text("INSERT INTO enterprises (credit_code, name, unit_id) "
                          "SELECT :cc, :cc, id FROM units WHERE code = :unit"), {"cc": cc, "unit": unit})
    return conn


def test_every_write_keeps_the_months_exact(city: Connection) -> None:
    _hazard(city, "HM-1", unit=A1G, enterprise=None, found=date(2026, 1, 5))
    _hazard(city, "HM-2", unit=None, enterprise="91419700000HM00001", found=date(2026, 1, 20),
            closed=date(2026, 2, 3))
    _assert_exact(city)
    # one statement, several rows (a load), some by their enterprise's unit
    city.execute(text(
        "INSERT INTO hazards (code, unit_id, enterprise_id, title, level, status, found_at, closed_at) "
        "SELECT 'HM-L' || g, CASE WHEN g % 2 = 0 THEN (SELECT id FROM units WHERE code = :b) END, "
        "(SELECT id FROM enterprises WHERE credit_code = '91419700000HM00002'), 't', 'general', 'closed', "
        "DATE '2025-11-01' + g * 9, DATE '2025-11-01' + g * 13 FROM generate_series(1, 12) g"), {"b": B})
    _assert_exact(city)
    closed = {"code": "HM-1", "d": date(2026, 3, 1)}
    city.execute(text("UPDATE hazards SET status = 'closed', closed_at = :d WHERE code = :code"), closed)  # 销号
    _assert_exact(city)
    city.execute(text("UPDATE hazards SET status = 'rectifying', closed_at = NULL WHERE code = 'HM-2'"))  # reopened
    _assert_exact(city)
    city.execute(text("UPDATE hazards SET found_at = found_at - 40 WHERE code LIKE 'HM-L%'"))  # dates corrected
    _assert_exact(city)
    city.execute(text("UPDATE hazards SET unit_id = (SELECT id FROM units WHERE code = :b) WHERE code = 'HM-1'"),
                 {"b": B})  # moved to another county
    city.execute(text("UPDATE hazards SET unit_id = NULL WHERE code = 'HM-L2'"))  # now counted by its enterprise
    city.execute(text("UPDATE hazards SET title = 'no count changes' WHERE code LIKE 'HM-%'"))
    _assert_exact(city)
    city.execute(text("DELETE FROM hazards WHERE code IN ('HM-L3', 'HM-L4', 'HM-2')"))
    _assert_exact(city)
    assert {r[0] for r in _rows(city, _STORED)} == {CITY, B}  # county A's hazards moved or deleted


def test_the_rebuild_repairs_a_moved_enterprise(city: Connection) -> None:
    _hazard(city, "HM-E", unit=None, enterprise="91419700000HM00001", found=date(2026, 2, 2))
    city.execute(text("UPDATE enterprises SET unit_id = (SELECT id FROM units WHERE code = :b) "
                      "WHERE credit_code = '91419700000HM00001'"), {"b": B})
    assert _rows(city, _STORED) != _rows(city, _ORACLE)  # no hazard was written: the triggers cannot see it
    assert rebuild_hazard_months(city) > 0
    _assert_exact(city)


def test_the_trend_leaves_out_what_is_dated_after_as_of(city: Connection) -> None:
    as_of = date(2026, 3, 10)
    _hazard(city, "HM-T1", unit=A1G, enterprise=None, found=date(2026, 3, 2), closed=date(2026, 3, 9))
    _hazard(city, "HM-T2", unit=A1G, enterprise=None, found=date(2026, 3, 5), closed=date(2026, 3, 12))
    _hazard(city, "HM-T3", unit=B, enterprise=None, found=date(2026, 3, 11))
    _hazard(city, "HM-T4", unit=B, enterprise=None, found=date(2026, 2, 11), closed=date(2026, 4, 1))
    trend = bq.monthly_trend(city, scope=f"{CITY}.", as_of=as_of, months=2)
    assert [(t["month"], t["found"], t["closed"]) for t in trend] == [
        (date(2026, 2, 1), 1, 0), (date(2026, 3, 1), 2, 1)]
    # a department's hazards are counted live, the same way (HM-T1..4 have no enterprise: none of them)
    dept = bq.monthly_trend(city, scope=Scope(f"{CITY}.", "zhujian"), as_of=as_of, months=2)
    assert [(t["found"], t["closed"]) for t in dept] == [(0, 0), (0, 0)]


def test_a_bulk_load_skips_the_triggers_and_recounts_once(city: Connection) -> None:
    """A load (migration 0017: safegrid.bulk_hazards) writes and moves hazards without a trigger call per row."""
    _hazard(city, "HM-B1", unit=A1G, enterprise=None, found=date(2026, 1, 5))
    _assert_exact(city)
    bulk_hazards(city)
    _hazard(city, "HM-B2", unit=A1G, enterprise=None, found=date(2026, 2, 5), closed=date(2026, 2, 9))
    city.execute(text("UPDATE hazards SET unit_id = (SELECT id FROM units WHERE code = :b) WHERE code = 'HM-B1'"),
                 {"b": B})
    city.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    assert _rows(city, _STORED) != _rows(city, _ORACLE)  # nothing counted yet: the load recounts at its end
    rebuild_hazard_months(city)
    _assert_exact(city)
