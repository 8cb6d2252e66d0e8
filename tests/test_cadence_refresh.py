"""四查 in the refresh (geo/sql/refresh_unit_stats.sql) agrees with domain.cadence on a random history.

The unit tree of tests/test_refresh.py, a few hundred inspections at random levels and dates and patrols of grid
cells, refreshed on several days: every unit's ``unit_cadence`` row (period, done, streak, behind, last) and
``unit_stats.inspection_overdue`` equal :func:`domain.cadence.status` over the records that count for it. Also:
the setting ``inspection_cadence`` changes a level's cadence, and the units-behind layer serves those units.
"""

from __future__ import annotations

import os
import random
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from domain.cadence import CadenceRule, counts_for, rule_from_config, status
from domain.crs import BBox
from etl.refresh import refresh_all
from geo.bigscreen_queries import grid_overview
from geo.inspections_app import BEHIND_POINTS, units_behind
from geo.map_queries import raw_points
from tests.demo_fixture import fresh_database
from tests.test_refresh import UNITS, _seed

pytestmark = pytest.mark.db

DAYS = (date(2026, 11, 23), date(2026, 12, 1), date(2027, 1, 4))
GRIDS = [code for code, level, *_ in UNITS if level == 5]


def ancestors(code: str) -> list[str]:
    parents = {c: p for c, _, _, p, _ in UNITS}
    out = [code]
    while parents[out[-1]] is not None:
        out.append(str(parents[out[-1]]))
    return out


@pytest.fixture(scope="module")
def world() -> tuple[str, Engine, list[tuple[str, int | None, date, bool]]]:
    url = fresh_database(os.environ.get("SAFEGRID_TEST_DB", "safegrid_test") + "_cadence")
    engine = create_engine(url)
    _seed(engine)
    rnd = random.Random(16)
    records: list[tuple[str, int | None, date, bool]] = []  # unit code, level, day, patrol
    with engine.begin() as c:
        c.execute(text("DELETE FROM inspections"))
        for i in range(400):
            code = rnd.choice([u[0] for u in UNITS])
            level = rnd.choice([1, 2, 3, 4, None])
            day = date(2027, 1, 10) - timedelta(days=rnd.randrange(500))
            c.execute(text("INSERT INTO inspections (code, unit_id, inspector_level, inspected_at) "
                           "SELECT :code, id, :lvl, :day FROM units WHERE code = :u"),
                      {"code": f"R{i}", "lvl": level, "day": day, "u": code})
            records.append((code, level, day, False))
        for _ in range(60):
            code, day = rnd.choice(GRIDS), date(2027, 1, 5) - timedelta(days=rnd.randrange(60))
            c.execute(text("INSERT INTO patrols (unit_id, patrol_date, result, created_by) "
                           "SELECT id, :day, 'clear', 'gw' FROM units WHERE code = :u"), {"day": day, "u": code})
            records.append((code, None, day, True))
    return url, engine, records


def published(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as c:
        rows = c.execute(text(
            "SELECT u.code, k.*, s.inspection_overdue, s.last_inspection_at, k.geom IS NOT NULL AS located "
            "FROM unit_cadence k JOIN units u ON u.id = k.id JOIN unit_stats s ON s.unit_id = k.id")).mappings()
        return {r["code"]: dict(r) for r in rows}


def expected(records: list[tuple[str, int | None, date, bool]], rule: CadenceRule, as_of: date,
             code: str, level: int) -> tuple[Any, ...]:
    days = [d for u, lvl, d, patrol in records
            if code in ancestors(u) and counts_for(lvl, level, patrol=patrol) and d <= as_of]
    cadence = rule.of(level)
    if cadence is None:
        return (None, None, False, 0, False, max(days, default=None))
    s = status(days, cadence, as_of, rule.streak_periods)
    return (cadence.value, s.period, s.done, s.streak, s.behind, s.last_at)


@pytest.mark.parametrize("as_of", DAYS)
def test_refresh_agrees_with_the_domain_rule(world: tuple[str, Engine, list[Any]], as_of: date) -> None:
    url, engine, records = world
    with engine.begin() as c:
        c.execute(text("DELETE FROM app_config WHERE key = 'inspection_cadence'"))
    refresh_all(url, as_of=as_of)
    rows, rule = published(engine), CadenceRule()
    assert len(rows) == len(UNITS)
    for code, level, *_ in UNITS:
        r = rows[code]
        got = (r["cadence"], r["period_start"], r["done"], r["streak"], r["behind"], r["last_at"])
        assert got == expected(records, rule, as_of, code, level), (code, as_of)
        assert r["inspection_overdue"] is r["behind"] and r["last_inspection_at"] == r["last_at"]
        assert r["id"] == r["unit_id"] and r["located"]


def test_the_cadence_setting(world: tuple[str, Engine, list[Any]]) -> None:
    url, engine, records = world
    config = {"levels": {"3": "month", "5": "week"}, "streak_periods": 4}
    with engine.begin() as c:
        c.execute(text("INSERT INTO app_config (key, value) VALUES ('inspection_cadence', CAST(:v AS jsonb)) "
                       "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"),
                  {"v": '{"levels": {"3": "month", "5": "week"}, "streak_periods": 4}'})
    try:
        refresh_all(url, as_of=DAYS[2])
        rows, rule = published(engine), rule_from_config(config)
        for code, level, *_ in UNITS:
            r = rows[code]
            got = (r["cadence"], r["period_start"], r["done"], r["streak"], r["behind"], r["last_at"])
            assert got == expected(records, rule, DAYS[2], code, level), code
        assert {r["cadence"] for r in rows.values() if r["level"] == 5} == {"week"}
        assert max(r["streak"] for r in rows.values()) <= 4
    finally:
        with engine.begin() as c:
            c.execute(text("DELETE FROM app_config WHERE key = 'inspection_cadence'"))


def test_units_behind_list_layer_and_big_screen_agree(world: tuple[str, Engine, list[Any]]) -> None:

    url, engine, _ = world
    refresh_all(url, as_of=DAYS[0])
    rows = published(engine)
    behind = {code for code, r in rows.items() if r["behind"]}
    assert behind  # the random history leaves some units behind
    with engine.connect() as c:
        units, total = units_behind(c, scope="411000.")
        assert {u.code for u in units} == behind and total == len(behind)
        assert [u.level for u in units] == sorted(u.level for u in units)
        county, _ = units_behind(c, scope="411000.411003.")
        assert {u.code for u in county} == {b for b in behind if b.startswith("411003")}
        overview = grid_overview(c, scope="411000.")
        assert sum(overview["inspection_overdue"].values()) == len(behind)
        points = raw_points(c, scope="411000.", kind=BEHIND_POINTS, bbox=BBox(112, 33, 115, 35), limit=100)
    assert {p["props"]["code"] for p in points} == behind
    assert {p["cls"] for p in points} == {f"l{rows[b]['level']}" for b in behind}
