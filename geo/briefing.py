"""The data of a printable briefing (通报, issue 18 part 4): one area, one period, everything read in one place.

Nothing here is new SQL: the KPIs are the big screen's (``geo.bigscreen_queries.screen_kpis``, ``grid_overview``),
the map is the risk page's four-colour units (``geo.risk_queries.risk_units_geojson``) one level below the area,
the ranking is the quarter's scorecard (``geo.scorecards.load_scorecard``), the hazard lists are the ledger's
(``geo.hazard_ledger.hazard_export_rows`` with the 逾期 / 督办 filters), the accidents ``accidents_in_scope`` and the
targets ``geo.targets.area_figures`` + ``domain.targets.evaluate``. The drawing is ``layers/briefing.py``.

The area must lie in the caller's scope (None otherwise); everything below is then read with the area's own path
as the scope. Standing counts (open, overdue, 督办, 四查 behind, unit colours) are as of ``as_of`` (the day the
briefing is generated); the period bounds the scorecard (the quarter holding the period's last day), the
accidents and the targets' year (the last complete year up to the period's end).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection

from domain.scorecards import Quarter, quarter_of
from domain.targets import Status, TargetSettings, evaluate
from geo.accidents import AccidentRow, accidents_in_scope
from geo.bigscreen_queries import grid_overview, screen_kpis
from geo.hazard_ledger import LedgerFilters, hazard_export_rows
from geo.risk_queries import risk_units_geojson
from geo.rows import LedgerRow
from geo.scope import narrow
from geo.scorecards import Scorecard, load_scorecard
from geo.targets import Area, area_figures, area_in_scope, target_settings

TOP_N = 20  # rows of each hazard list
MAX_ACCIDENTS = 60
MAX_LEVEL = 5


@dataclass(frozen=True)
class Briefing:
    """Everything one briefing shows, read at one moment."""

    area: Area
    start: date
    end: date  # inclusive
    as_of: date
    kpis: dict[str, Any]  # screen_kpis + inspection_behind (units whose 四查 is overdue, below the area)
    units: dict[str, Any]  # GeoJSON FeatureCollection of the child units with their four-colour class
    scorecard: Scorecard | None
    overdue: list[LedgerRow]
    supervised: list[LedgerRow]
    accidents: list[AccidentRow]
    target_year: int
    targets: list[Status]
    target_settings: TargetSettings

    @property
    def period_label(self) -> str:
        """``2026年第3季度`` when the period is a quarter, else ``2026-07-01 至 2026-08-15``."""
        return period_label(self.start, self.end)


def period_label(start: date, end: date) -> str:
    """Name the period: ``2026年第3季度`` when it is a quarter, else ``2026-07-01 至 2026-08-15``."""
    q = quarter_of(start)
    if q.start == start and q.end == end:
        return q.label
    return f"{start.isoformat()} 至 {end.isoformat()}"


def targets_year(end: date) -> int:
    """Return the last complete year up to ``end`` (the year itself when ``end`` is 31 December)."""
    return end.year if (end.month, end.day) == (12, 31) else end.year - 1


def load_briefing(conn: Connection, *, scope: str, code: str | None, start: date, end: date, as_of: date,
                  top: int = TOP_N) -> Briefing | None:
    """Return the briefing of unit ``code`` (None: the scope's root) for [start, end]; None outside the scope."""
    area = area_in_scope(conn, scope=scope, code=code)
    if area is None:
        return None
    within = narrow(scope, area.path)  # the area, keeping a department account's department
    kpis = screen_kpis(conn, scope=within, as_of=as_of)
    grid = grid_overview(conn, scope=within)
    kpis["inspection_behind"] = sum(n for lv, n in grid["inspection_overdue"].items() if lv > area.level)
    kpis["vacancies"] = grid["vacancies"]
    level = min(area.level + 1, MAX_LEVEL)
    units = json.loads(risk_units_geojson(conn, scope=within, level=level))
    quarter: Quarter = quarter_of(end)
    card = load_scorecard(conn, scope=within, code=None, quarter=quarter) if area.level < MAX_LEVEL else None
    overdue = hazard_export_rows(conn, scope=within, filters=LedgerFilters(overdue=True, today=as_of),
                                 sort=[("overdue_days", "desc")], max_rows=top)
    supervised = hazard_export_rows(conn, scope=within,
                                    filters=LedgerFilters(open_only=True, supervised=True, today=as_of),
                                    sort=[("supervision_level", "asc"), ("deadline", "asc")], max_rows=top)
    accidents = accidents_in_scope(conn, scope=within, start=start, end=end + timedelta(days=1),
                                   limit=MAX_ACCIDENTS)
    settings = target_settings(conn)
    year = max(targets_year(end), settings.baseline_year)
    figures = area_figures(conn, area=area, first_year=settings.baseline_year, last_year=year)
    return Briefing(area=area, start=start, end=end, as_of=as_of, kpis=kpis, units=units, scorecard=card,
                    overdue=overdue, supervised=supervised, accidents=accidents, target_year=year,
                    targets=evaluate(settings, figures, year), target_settings=settings)
