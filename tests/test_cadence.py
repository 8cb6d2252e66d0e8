"""四查 by calendar period (domain.cadence) as tables of cases: no database."""

from __future__ import annotations

from datetime import date

import pytest

from domain.cadence import (
    Cadence,
    CadenceRuleError,
    counts_for,
    period_label,
    period_start,
    rule_from_config,
    shift,
    status,
    window,
)

Q, M, W, D = Cadence.QUARTER, Cadence.MONTH, Cadence.WEEK, Cadence.DAY
AS_OF = date(2026, 11, 23)  # a Monday


@pytest.mark.parametrize(("day", "cadence", "start"), [
    (date(2026, 11, 23), Q, date(2026, 10, 1)), (date(2026, 3, 31), Q, date(2026, 1, 1)),
    (date(2026, 4, 1), Q, date(2026, 4, 1)), (date(2026, 12, 31), Q, date(2026, 10, 1)),
    (date(2026, 11, 23), M, date(2026, 11, 1)), (date(2026, 2, 28), M, date(2026, 2, 1)),
    (date(2026, 11, 23), W, date(2026, 11, 23)), (date(2026, 11, 29), W, date(2026, 11, 23)),
    (date(2027, 1, 1), W, date(2026, 12, 28)),  # ISO week 53 of 2026 crosses the year
    (date(2026, 11, 23), D, date(2026, 11, 23)),
])
def test_period_start(day: date, cadence: Cadence, start: date) -> None:
    assert period_start(day, cadence) == start


@pytest.mark.parametrize(("start", "cadence", "n", "expect"), [
    (date(2026, 10, 1), Q, -1, date(2026, 7, 1)), (date(2026, 1, 1), Q, -1, date(2025, 10, 1)),
    (date(2026, 1, 1), M, -1, date(2025, 12, 1)), (date(2026, 3, 1), M, -13, date(2025, 2, 1)),
    (date(2026, 11, 23), W, -2, date(2026, 11, 9)), (date(2026, 3, 1), D, -1, date(2026, 2, 28)),
    (date(2026, 12, 1), M, 1, date(2027, 1, 1)),
])
def test_shift(start: date, cadence: Cadence, n: int, expect: date) -> None:
    assert shift(start, cadence, n) == expect


@pytest.mark.parametrize(("start", "cadence", "label"), [
    (date(2026, 10, 1), Q, "2026年第4季度"), (date(2026, 11, 1), M, "2026年11月"),
    (date(2026, 11, 23), W, "2026年第48周"), (date(2026, 12, 28), W, "2026年第53周"),
    (date(2026, 11, 23), D, "2026-11-23"),
])
def test_period_label(start: date, cadence: Cadence, label: str) -> None:
    assert period_label(start, cadence) == label


def d(*days: str) -> list[date]:
    return [date.fromisoformat(x) for x in days]


# dates of counting records, cadence → (done this period, streak, behind)
@pytest.mark.parametrize(("dates", "cadence", "done", "streak", "behind"), [
    ([], M, False, 0, True),
    (d("2026-11-01"), M, True, 1, False),
    (d("2026-11-01", "2026-10-15", "2026-09-30"), M, True, 3, False),
    (d("2026-10-15", "2026-09-30"), M, False, 2, False),  # this month still open: counted from October
    (d("2026-11-01", "2026-09-30"), M, True, 1, False),  # October missed: the streak restarts
    (d("2026-09-01"), M, False, 0, True),  # October closed without a record, November has none yet
    (d("2026-11-24"), M, False, 0, True),  # after as_of: ignored
    (d("2026-11-20"), W, False, 1, False),  # last week's Friday, this week (from Mon 23) open
    (d("2026-11-23", "2026-11-16", "2026-11-09", "2026-11-08"), W, True, 4, False),
    (d("2026-11-22"), D, False, 1, False),  # yesterday: not behind yet today
    (d("2026-11-20"), D, False, 0, True),
    (d("2026-11-23", "2026-11-22", "2026-11-22", "2026-11-21"), D, True, 3, False),
    (d("2026-10-01"), Q, True, 1, False),
    (d("2026-09-30", "2026-04-01"), Q, False, 2, False),
])
def test_status(dates: list[date], cadence: Cadence, done: bool, streak: int, behind: bool) -> None:
    s = status(dates, cadence, AS_OF)
    assert (s.done, s.streak, s.behind) == (done, streak, behind)
    assert s.period == period_start(AS_OF, cadence)


def test_streak_is_capped_by_the_window() -> None:
    days = [AS_OF.replace(day=1)] + [shift(date(2026, 11, 1), M, -k) for k in range(1, 30)]
    assert status(days, M, AS_OF, streak_periods=12).streak == 12
    w = window(AS_OF, M, 12)
    assert (w.current, w.previous, w.since) == (date(2026, 11, 1), date(2026, 10, 1), date(2025, 12, 1))


@pytest.mark.parametrize(("record_level", "unit_level", "patrol", "counts"), [
    (2, 2, False, True), (3, 2, False, False), (None, 1, False, True), (1, 5, False, True),
    (None, 4, True, True), (None, 3, True, False), (2, 5, True, True), (4, 4, False, True),
])
def test_counts_for(record_level: int | None, unit_level: int, patrol: bool, counts: bool) -> None:
    assert counts_for(record_level, unit_level, patrol=patrol) is counts


def test_rule_from_config() -> None:
    assert rule_from_config(None).of(1) is Q and rule_from_config(None).of(5) is None
    rule = rule_from_config({"levels": {"3": "month", "5": "day"}, "streak_periods": 8})
    assert (rule.of(3), rule.of(5), rule.of(4), rule.streak_periods) == (M, D, D, 8)
    assert rule_from_config({"levels": {"4": None}}).of(4) is None


@pytest.mark.parametrize("bad", [
    {"cadence": {}}, {"levels": {"6": "day"}}, {"levels": {"x": "day"}}, {"levels": {"2": "year"}},
    {"streak_periods": 0},
])
def test_rule_from_config_refuses(bad: dict[str, object]) -> None:
    with pytest.raises(CadenceRuleError):
        rule_from_config(bad)
