"""覆盖质量 (/coverage): every check counts the rows it should, per child unit, agreeing with its drill-down list.

Own database: the unit tree of tests/test_refresh.py (exact roll-ups known) with a few rows added for the
checks the seed does not hold (enterprises without a point, outside every cell, on a border; a later load's
finding superseding an earlier one). Then: counts at the root and in a county, the rows behind each count,
vacancies agreeing with the refresh's ``vacancies_subtree``, scope (a county sees no other county's rows and
none of no unit), and the page in Chromium for a leader (drill-down, a count's rows) with forged queries.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from domain.coverage import CHECKS, UNASSIGNED, detail_text, missing_slots, vacancy_text
from etl.refresh import refresh_all
from geo.coverage import coverage_counts, coverage_items, coverage_unit
from tests.demo_fixture import fresh_database
from tests.test_refresh import AS_OF, _seed

pytestmark = pytest.mark.db

# name, grid cell (None: none), point (None: none), colour
EXTRA = [
    ("e8", None, None, "blue"),  # no point, no cell: only the city's "未归属"
    ("e9", "41100200100201", None, "blue"),  # no point, in a cell of 魏都区
    ("e10", None, (113.15, 34.05), "blue"),  # in 张庄村's polygon, in no cell (as a load leaves it)
    ("e11", None, (114.5, 34.05), "blue"),  # outside the city
]


@pytest.fixture(scope="module")
def world() -> tuple[str, Engine]:
    url = fresh_database(os.environ.get("SAFEGRID_TEST_DB", "safegrid_test") + "_coverage")
    engine = create_engine(url)
    _seed(engine)
    with engine.begin() as c:
        for i, (name, cell, point, colour) in enumerate(EXTRA, start=50):
            c.execute(text(
                "INSERT INTO enterprises (credit_code, name, risk_level, unit_id, geom) VALUES (:cc, :n, :r, "
                "(SELECT id FROM units WHERE code = :cell), "
                "CASE WHEN CAST(:x AS float8) IS NOT NULL THEN ST_SetSRID(ST_MakePoint(:x, :y), 4326) END)"
            ), {"cc": f"91411002MA000000{i:02d}", "n": name, "r": colour, "cell": cell,
                "x": point[0] if point else None, "y": point[1] if point else None})
        # e9's industry is not in the catalogue (e1's is)
        c.execute(text("UPDATE enterprises SET industry = CASE name WHEN 'e9' THEN '餐饮' ELSE '危险化学品' END "
                       "WHERE name IN ('e1', 'e9')"))
        # h2 has all of 五到位 (the seed's others have none)
        c.execute(text("UPDATE hazards SET resp_person = '李四', measures = '更换', funds_yuan = 0, "
                       "contingency_plan = '现场处置方案' WHERE code = 'h2'"))
        # e4 was found on a border; e7 too, but a later load found it in no cell (the later finding wins).
        for name, kind in (("e4", "on_grid_border"), ("e7", "on_grid_border"), ("e7", "no_grid_cell")):
            c.execute(text(
                "INSERT INTO dq_findings (entity, entity_key, kind, detail) SELECT 'enterprises', credit_code, "
                ":kind, :kind || ' of ' || name FROM enterprises WHERE name = :n"), {"kind": kind, "n": name})
    refresh_all(url, as_of=AS_OF)
    return url, engine


def counts_at(engine: Engine, scope: str, code: str | None = None) -> dict[str, dict[str, int]]:
    with engine.connect() as c:
        unit = coverage_unit(c, scope=scope, code=code)
        assert unit is not None
        return coverage_counts(c, unit=unit, as_of=AS_OF)


def items_at(engine: Engine, scope: str, check: str, code: str | None = None) -> tuple[list[Any], int]:
    with engine.connect() as c:
        unit = coverage_unit(c, scope=scope, code=code)
        assert unit is not None
        return coverage_items(c, unit=unit, check=check, as_of=AS_OF)


def names(engine: Engine, scope: str, check: str) -> set[str]:
    return {i.name for i in items_at(engine, scope, check)[0]}


def test_counts_per_child_at_the_root(world: tuple[str, Engine]) -> None:
    _, engine = world
    assert counts_at(engine, "411000.") == {
        # 411003's 2nd supervisor is vacant (the default staffing asks 1 分管领导 + 2 监管责任人 only);
        # 将官池镇 has no 乡级 inspection ever; e9 has no point; e4 on a border; e5 never assessed.
        "411002": {"no_point": 1, "on_border": 1, "unassessed": 1, "unknown_industry": 1, "hazard_no_point": 3,
                   "hazard_five": 2},
        "411003": {"vacancy": 1, "never_checked": 1, "outside_cells": 1, "hazard_no_point": 1,
                   "hazard_no_deadline": 1, "hazard_five": 2},
        UNASSIGNED: {"no_point": 1, "outside_cells": 1},
    }


def test_rows_behind_each_count(world: tuple[str, Engine]) -> None:
    _, engine = world
    assert names(engine, "411000.", "vacancy") == {"411003"}
    assert names(engine, "411000.", "never_checked") == {"411003100"}
    assert names(engine, "411000.", "no_point") == {"e8", "e9"}
    assert names(engine, "411000.", "outside_cells") == {"e10", "e11"}
    assert names(engine, "411000.", "on_border") == {"e4"}
    assert names(engine, "411000.", "unassessed") == {"e5"}
    assert names(engine, "411000.", "unknown_industry") == {"e9"}
    # open hazards of the seed without a point (h5 has one; h3 is closed) and without a deadline (h5)
    assert names(engine, "411000.", "hazard_no_point") == {"h1", "h2", "h4", "h6"}
    assert names(engine, "411000.", "hazard_no_deadline") == {"h5"}
    assert names(engine, "411000.", "hazard_five") == {"h1", "h4", "h5", "h6"}  # h2's are all in place
    for check in CHECKS:  # a list never disagrees with its count
        items, total = items_at(engine, "411000.", check.key)
        assert total == len(items) == sum(row.get(check.key, 0) for row in counts_at(engine, "411000.").values())


def test_details_read_as_a_leader_reads_them(world: tuple[str, Engine]) -> None:
    _, engine = world
    [vacant], _ = items_at(engine, "411000.", "vacancy")
    assert detail_text("vacancy", vacant.detail) == "安全监管责任人缺 1 人"
    assert vacant.unit_name == "411000"  # a unit's row names its parent
    [outside] = [i for i in items_at(engine, "411000.", "outside_cells")[0] if i.name == "e10"]
    assert detail_text("outside_cells", outside.detail) == "坐标 (113.15, 34.05) 不在任何网格内"
    assert outside.unit_name == "411003100200"  # the deepest area holding it
    [border], _ = items_at(engine, "411000.", "on_border")
    assert detail_text("on_border", border.detail) == "on_grid_border of e4"
    [never], _ = items_at(engine, "411000.", "never_checked")
    assert detail_text("never_checked", never.detail) == "要求每周检查或巡查，没有记录"
    [five] = [i for i in items_at(engine, "411000.", "hazard_five")[0] if i.name == "h5"]
    assert detail_text("hazard_five", five.detail) == "缺整改责任人、整改措施、整改时限、整改资金、应急预案"


def test_vacancies_agree_with_the_refresh(world: tuple[str, Engine]) -> None:
    _, engine = world
    items, _ = items_at(engine, "411000.", "vacancy")
    slots = sum(sum(i.detail["missing"].values()) for i in items)
    with engine.connect() as c:
        refreshed = c.execute(text("SELECT vacancies_subtree FROM unit_stats s JOIN units u ON u.id = s.unit_id "
                                   "WHERE u.code = '411000'")).scalar_one()
    assert slots == refreshed == 1


def test_a_county_sees_its_own_rows_only(world: tuple[str, Engine]) -> None:
    _, engine = world
    county = counts_at(engine, "411000.411003.")
    assert UNASSIGNED not in county  # rows of no unit are the city's
    assert county == {"": {"vacancy": 1}, "411003100": {"never_checked": 1, "outside_cells": 1, "hazard_no_point": 1,
                                                        "hazard_no_deadline": 1, "hazard_five": 2}}
    assert names(engine, "411000.411003.", "outside_cells") == {"e10"}  # not e11, outside the county
    with engine.connect() as c:
        assert coverage_unit(c, scope="411000.411003.", code="411002") is None
        assert coverage_unit(c, scope="411000.411003.", code="411003100").code == "411003100"  # type: ignore[union-attr]


def test_missing_slots_and_wording() -> None:
    assert missing_slots({"leader": 1, "supervisor": 2}, {"supervisor": 1, "grid_worker": 3}) == {
        "leader": 1, "supervisor": 1}
    assert missing_slots({"supervisor": 2}, {"supervisor": 5}) == {}
    assert vacancy_text({"supervisor": 2, "leader": 1}) == "分管领导缺 1 人、安全监管责任人缺 2 人"
