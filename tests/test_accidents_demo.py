"""The demo's accidents and denominators (issue 18): every row loads, is placed and graded by the rule.

The city's denominators are complete from 2020 to the last full year and absent for the demo's own year.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from domain.accidents import grade_of
from domain.targets import TargetSettings, evaluate
from geo.targets import area_figures, area_in_scope
from tests.demo_fixture import DEMO_AS_OF, DemoDb, demo_db

__all__ = ["demo_db"]
pytestmark = [pytest.mark.db]


def test_demo_accidents_and_denominators_load_and_read(demo_db: DemoDb) -> None:
    engine = create_engine(demo_db.url)
    with engine.connect() as c:
        rows = c.execute(text("SELECT a.deaths, a.injuries, a.direct_loss_wan, a.grade, u.level, a.occurred_on "
                              "FROM accidents a LEFT JOIN units u ON u.id = a.unit_id")).all()
        assert len(rows) == demo_db.manifest["counts"]["accidents"] and 30 <= len(rows) <= 70
        assert {r.level for r in rows} == {5}  # every accident in a grid cell
        assert all(r.grade == grade_of(r.deaths, r.injuries, r.direct_loss_wan) for r in rows)
        assert {r.occurred_on.year for r in rows} == set(range(2020, DEMO_AS_OF.year + 1))
        assert c.execute(text("SELECT count(*) FROM accidents WHERE road_traffic")).scalar_one() > 0
        counties = c.execute(text("SELECT count(DISTINCT unit_id) FROM area_denominators")).scalar_one()
        assert counties == 7
        city = area_in_scope(c, scope="411000.", code=None)
        assert city is not None
        figures = area_figures(c, area=city, first_year=2020, last_year=DEMO_AS_OF.year)
        last = DEMO_AS_OF.year - 1
        assert all(figures[y].gdp_yi and figures[y].employees and figures[y].vehicles for y in range(2020, last + 1))
        assert figures[DEMO_AS_OF.year].gdp_yi is None  # not published yet
        assert sum(f.accidents for f in figures.values()) == len(rows)
        statuses = evaluate(TargetSettings(), figures, last)
        assert all(s.missing is None for s in statuses)
        now = evaluate(TargetSettings(), figures, DEMO_AS_OF.year)
        assert {s.missing for s in now if s.indicator.denominator} == {"缺少分母：GDP", "缺少分母：工矿商贸就业人员",
                                                                      "缺少分母：机动车保有量"}
    engine.dispose()
