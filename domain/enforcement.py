"""检查执法统计: the reporting periods (this month / quarter / year on the business clock) and what is counted.

A period runs from its first day up to and including ``as_of`` (today on :mod:`domain.clock`): "this quarter"
on 2026-11-20 is 2026-10-01 … 2026-11-20. What the statistics count (``geo.inspection_ledger.enforcement_by_area``
writes it as SQL over ``inspections``, attributed to the unit each row names):

* inspections: every row with ``inspected_at`` in the period, imported or recorded in the app;
* hazards found: the sum of ``hazards_found`` (the failed checklist items of an app inspection, the ledger's
  发现隐患数 of an imported one);
* 责令整改 / 停产整顿 / 行政处罚: rows with that result; the amount is the sum of ``penalty_yuan`` (元) of the
  行政处罚 rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from domain.cadence import Cadence, period_label, period_start
from domain.labels import Vocab


class StatsPeriod(StrEnum):
    """A reporting period of the enforcement statistics."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


STATS_PERIOD = Vocab({"month": "本月", "quarter": "本季度", "year": "本年"})


class PeriodError(ValueError):
    """A period name that is not one of :class:`StatsPeriod` (message in Chinese)."""


@dataclass(frozen=True)
class PeriodRange:
    """First and last day (inclusive) of a reporting period, and its Chinese name."""

    kind: StatsPeriod
    start: date
    end: date
    label: str


def parse_period(value: object) -> StatsPeriod:
    """Return the period named ``value`` or raise :class:`PeriodError`."""
    try:
        return StatsPeriod(str(value))
    except ValueError as err:
        raise PeriodError(f"统计周期无效：{str(value)[:20]}（应为本月、本季度或本年）") from err


def period_range(kind: StatsPeriod, as_of: date) -> PeriodRange:
    """Return the period ``kind`` containing ``as_of``, from its first day up to ``as_of``."""
    if kind is StatsPeriod.YEAR:
        return PeriodRange(kind, date(as_of.year, 1, 1), as_of, f"{as_of.year}年")
    cadence = Cadence.MONTH if kind is StatsPeriod.MONTH else Cadence.QUARTER
    start = period_start(as_of, cadence)
    return PeriodRange(kind, start, as_of, period_label(start, cadence))


@dataclass(frozen=True)
class EnforcementCounts:
    """What the statistics count for one area (or the whole scope) in one period."""

    inspections: int = 0
    hazards_found: int = 0
    ordered_rectify: int = 0
    closed_down: int = 0
    penalties: int = 0
    penalty_yuan: float = 0.0

    def __add__(self, other: EnforcementCounts) -> EnforcementCounts:
        """Sum two areas' counts (the scope's total is the sum of its areas)."""
        return EnforcementCounts(
            self.inspections + other.inspections, self.hazards_found + other.hazards_found,
            self.ordered_rectify + other.ordered_rectify, self.closed_down + other.closed_down,
            self.penalties + other.penalties, self.penalty_yuan + other.penalty_yuan)

    def values(self) -> tuple[int | float, ...]:
        """Return the counts in field order."""
        return (self.inspections, self.hazards_found, self.ordered_rectify, self.closed_down, self.penalties,
                self.penalty_yuan)


def yuan_text(amount: float) -> str:
    """Format an amount in 元 for reading: 12,500 元, or 3.2 万元 from 10 万 on."""
    if amount >= 100_000:
        return f"{amount / 10_000:,.1f} 万元"
    return f"{amount:,.0f} 元" if amount == int(amount) else f"{amount:,.2f} 元"
