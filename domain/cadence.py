"""四查 by calendar period: 市季查、县月查、乡周查、村日查, on the business clock.

A unit of level L is *on cadence* in a period (the quarter, month, ISO week or day containing a date,
per the level's cadence) when an inspection by its own level's people — or, for villages and grid
cells, a patrol (网格巡查 / 村级日排查) — is recorded in its subtree within that period. Its *streak*
is the number of consecutive periods on cadence counted back from the current period (from the
previous one while the current period has no record yet: the current period is still open). A unit
is *behind* (``unit_stats.inspection_overdue``) when its streak is 0: neither the current period nor
the last closed one has a record.

Which records count for a unit (:func:`counts_for`): an inspection whose inspector level equals the
unit's level (a record without a level counts for every level, as imported ledgers may lack it);
a grid cell counts every inspection and patrol made in it; a patrol counts as a village-level (4)
record. The cadence per level is a setting (``app_config`` key ``inspection_cadence``), see
:func:`rule_from_config`. The refresh SQL (``geo/sql/refresh_unit_stats.sql``) buckets dates with
``date_trunc`` on the period starts computed here; ``tests/test_cadence_refresh.py`` checks they agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from domain.labels import Vocab

PATROL_LEVEL = 4  # a patrol is a village-level record: it counts for its village and its grid cell


class Cadence(StrEnum):
    """A calendar period; the value is also PostgreSQL's ``date_trunc`` field of the same period."""

    QUARTER = "quarter"
    MONTH = "month"
    WEEK = "week"  # ISO week, Monday to Sunday (date_trunc('week') agrees)
    DAY = "day"


CADENCE_LABEL = Vocab({"quarter": "每季", "month": "每月", "week": "每周", "day": "每日"})
# 许昌市"三化"行动计划 (plans/000): 市季查、县月查、乡周查、村日查; grid cells are not assessed by default.
DEFAULT_LEVELS: dict[int, Cadence | None] = {
    1: Cadence.QUARTER, 2: Cadence.MONTH, 3: Cadence.WEEK, 4: Cadence.DAY, 5: None,
}
DEFAULT_STREAK_PERIODS = 12


class CadenceRuleError(ValueError):
    """An ``inspection_cadence`` setting that cannot be used (message in Chinese)."""


@dataclass(frozen=True)
class CadenceRule:
    """The cadence of each level (None: not assessed) and how many periods a streak is counted over."""

    levels: Mapping[int, Cadence | None] = field(default_factory=lambda: dict(DEFAULT_LEVELS))
    streak_periods: int = DEFAULT_STREAK_PERIODS

    def of(self, level: int) -> Cadence | None:
        """Return the cadence of ``level`` (None: the level is not assessed)."""
        return self.levels.get(level)


def rule_from_config(value: Mapping[str, Any] | None) -> CadenceRule:
    """Build the rule from the defaults overridden by an ``app_config`` value, e.g.

    ``{"levels": {"3": "month", "5": "day"}, "streak_periods": 8}``; unknown keys and values are refused.
    """
    if not value:
        return CadenceRule()
    unknown = set(value) - {"levels", "streak_periods"}
    if unknown:
        raise CadenceRuleError(f"四查周期设置含未知字段：{', '.join(sorted(unknown))}")
    levels = dict(DEFAULT_LEVELS)
    for key, cad in dict(value.get("levels") or {}).items():
        level = int(key) if str(key).isdigit() else 0
        if level not in levels:
            raise CadenceRuleError(f"四查周期设置的层级“{key}”应为 1-5")
        if cad is not None and cad not in Cadence.__members__.values():
            raise CadenceRuleError(f"四查周期“{cad}”应为 quarter、month、week、day 或 null")
        levels[level] = Cadence(cad) if cad is not None else None
    periods = int(value.get("streak_periods", DEFAULT_STREAK_PERIODS))
    if not 1 <= periods <= 400:
        raise CadenceRuleError("四查周期设置的 streak_periods 应在 1-400 之间")
    return CadenceRule(levels, periods)


def period_start(day: date, cadence: Cadence) -> date:
    """Return the first day of the period of ``cadence`` containing ``day``."""
    if cadence is Cadence.DAY:
        return day
    if cadence is Cadence.WEEK:
        return day - timedelta(days=day.weekday())
    if cadence is Cadence.MONTH:
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def shift(start: date, cadence: Cadence, periods: int) -> date:
    """Return the start of the period ``periods`` after (negative: before) the one starting at ``start``."""
    if cadence is Cadence.DAY:
        return start + timedelta(days=periods)
    if cadence is Cadence.WEEK:
        return start + timedelta(weeks=periods)
    months = periods * (3 if cadence is Cadence.QUARTER else 1)
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_label(start: date, cadence: Cadence) -> str:
    """Name the period starting at ``start`` in Chinese: 2026年第4季度, 2026年11月, 2026年第48周, 2026-11-23."""
    if cadence is Cadence.QUARTER:
        return f"{start.year}年第{(start.month - 1) // 3 + 1}季度"
    if cadence is Cadence.MONTH:
        return f"{start.year}年{start.month}月"
    if cadence is Cadence.WEEK:
        year, week, _ = start.isocalendar()
        return f"{year}年第{week}周"
    return start.isoformat()


@dataclass(frozen=True)
class Window:
    """The periods a refresh looks at for one cadence: current and previous starts, the oldest one counted."""

    cadence: Cadence
    current: date
    previous: date
    since: date  # start of the oldest period a streak may reach


def window(as_of: date, cadence: Cadence, streak_periods: int = DEFAULT_STREAK_PERIODS) -> Window:
    """Return the periods of ``cadence`` a streak as of ``as_of`` is counted over."""
    current = period_start(as_of, cadence)
    return Window(cadence, current, shift(current, cadence, -1), shift(current, cadence, -(streak_periods - 1)))


@dataclass(frozen=True)
class CadenceStatus:
    """A unit's 四查 standing on a day: the current period, whether it has a record, the streak, behind."""

    period: date
    done: bool
    streak: int
    last_at: date | None

    @property
    def behind(self) -> bool:
        """Neither the current period nor the last closed one has a record."""
        return self.streak == 0


def status(dates: Iterable[date], cadence: Cadence, as_of: date,
           streak_periods: int = DEFAULT_STREAK_PERIODS) -> CadenceStatus:
    """Return the standing as of ``as_of`` of a unit whose counting records fall on ``dates``.

    Records after ``as_of`` are ignored; the streak counts at most ``streak_periods`` periods.
    """
    days = [d for d in dates if d <= as_of]
    win = window(as_of, cadence, streak_periods)
    periods = {period_start(d, cadence) for d in days if d >= win.since}
    done = win.current in periods
    start, streak = (win.current if done else win.previous), 0
    while start in periods:
        streak += 1
        start = shift(start, cadence, -1)
    return CadenceStatus(win.current, done, streak, max(days, default=None))


def counts_for(record_level: int | None, unit_level: int, *, patrol: bool = False) -> bool:
    """Tell whether a record made at ``record_level`` (a patrol: village level) counts for a unit of ``unit_level``."""
    if unit_level == 5:
        return True
    level = PATROL_LEVEL if patrol else record_level
    return level is None or level == unit_level


# A patrol's result (网格巡查 / 村级日排查); 发现隐患 leads on to the hazard report form.
PATROL_RESULT = Vocab({"clear": "无隐患", "hazard_found": "发现隐患"})


_SQL_STEP = {Cadence.QUARTER: "3 months", Cadence.MONTH: "1 month", Cadence.WEEK: "7 days", Cadence.DAY: "1 day"}


def sql_windows(rule: CadenceRule, as_of: date) -> list[dict[str, Any]]:
    """Return the refresh SQL's ``:cadence`` rows: per level with a cadence its field, step and period starts."""
    out = []
    for level, cadence in sorted(rule.levels.items()):
        if cadence is None:
            continue
        w = window(as_of, cadence, rule.streak_periods)
        out.append({"level": level, "field": cadence.value, "step": _SQL_STEP[cadence], "cur": w.current.isoformat(),
                    "prev": w.previous.isoformat(), "since": w.since.isoformat()})
    return out
