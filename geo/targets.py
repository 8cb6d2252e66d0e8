"""The five-year targets' figures (issue 18 part 2): yearly accidents and deaths of an area, its denominators.

Numerators come from ``accidents`` placed in the area's subtree (by ``units.path``); denominators from
``area_denominators`` (the ``denominators`` ledger): the area's own row of the year, else the sum of its
children's rows when every child has one (a city without its own row sums its counties). The rule that
reads them is ``domain.targets``; the settings are ``app_config`` ``five_year_targets`` over the 临邑 plan's
defaults.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from domain.targets import (
    TargetSettings,
    TargetSettingsError,
    YearFigures,
    evaluate,
    settings_config,
    settings_from_config,
)
from geo.accidents import accident_kpis
from geo.app_settings import config_state, save_config
from geo.refresh import app_config
from geo.scope import path_in_scope, scope_params

log = logging.getLogger(__name__)
TARGETS_KEY = "five_year_targets"


def _settings(stored: Any) -> TargetSettings:
    try:
        return settings_from_config(stored)
    except (TargetSettingsError, TypeError, ValueError) as exc:
        log.warning("app_config %s unusable, the plan's defaults apply: %s", TARGETS_KEY, exc)
        return TargetSettings()


def target_settings(conn: Connection) -> TargetSettings:
    """Return the targets in force (``app_config`` ``five_year_targets``; an unusable value: the defaults, logged)."""
    return _settings(app_config(conn, TARGETS_KEY))


def targets_state(conn: Connection) -> tuple[TargetSettings, str]:
    """Return the targets in force and their version (for the admin form's concurrent-edit check)."""
    stored, version = config_state(conn, TARGETS_KEY)
    return _settings(stored), version


def save_target_settings(conn: Connection, *, settings: TargetSettings, username: str,
                         version: str | None = None) -> tuple[str, bool]:
    """Store the targets (checked by ``TargetSettings``) if still at ``version``; return (new version, changed).

    Audited ``targets_changed``; saving the targets in force changes nothing; an editor holding an older version
    gets ``SettingsConflictError`` (``geo.app_settings.save_config``).
    """
    return save_config(conn, TARGETS_KEY, settings_config(settings), version=version, username=username,
                       action="targets_changed", effective=_settings,
                       conflict="五年目标已被他人修改，请刷新页面后重新编辑。")


_YEARS = """
SELECT DISTINCT CAST(extract(year FROM "occurred_on") AS int) AS y FROM "accidents"
UNION SELECT "year" FROM "area_denominators" ORDER BY 1
"""


def data_years(conn: Connection) -> list[int]:
    """Return the years with accidents or denominators (a baseline year must be one of them)."""
    return [int(r.y) for r in conn.execute(text(_YEARS))]


@dataclass(frozen=True)
class Area:
    """An area of the targets page (a unit in the caller's scope)."""

    id: int
    code: str
    name: str
    level: int
    path: str


def area_in_scope(conn: Connection, *, scope: str, code: str | None) -> Area | None:
    """Return the unit ``code`` when it lies in ``scope`` (None: the scope's root), else None."""
    where = 'u."code" = :code' if code else 'u."path" = :scope'
    m = conn.execute(text(
        f'SELECT u."id", u."code", u."name", u."level", u."path" FROM "units" u '  # noqa: S608
        f'WHERE {where} AND {path_in_scope("u.path")}'), {"code": code, **scope_params(scope)}).mappings().one_or_none()
    return Area(**m) if m else None


def chain(conn: Connection, *, scope: str, area: Area) -> list[Area]:
    """Return the area's ancestors inside the scope, then the area (the drill-down's breadcrumb)."""
    codes = [c for c in area.path.split(".") if c]
    rows = conn.execute(text(
        f'SELECT u."id", u."code", u."name", u."level", u."path" FROM "units" u '  # noqa: S608
        f'WHERE u."code" = ANY(:codes) AND {path_in_scope("u.path")} ORDER BY u."level"'),
        {"codes": codes, **scope_params(scope)}).mappings()
    return [Area(**m) for m in rows]


def children(conn: Connection, *, area: Area) -> list[Area]:
    """Return the area's child units (the drill-down), by code."""
    rows = conn.execute(text('SELECT "id", "code", "name", "level", "path" FROM "units" WHERE "parent_id" = :id '
                             'ORDER BY "code"'), {"id": area.id}).mappings()
    return [Area(**m) for m in rows]


_COUNTS = """
SELECT CAST(extract(year FROM a."occurred_on") AS int) AS year, {key} AS key, count(*) AS accidents,
       coalesce(sum(a."deaths"), 0) AS deaths,
       coalesce(sum(a."deaths") FILTER (WHERE NOT a."road_traffic"), 0) AS industrial_deaths,
       coalesce(sum(a."deaths") FILTER (WHERE a."road_traffic"), 0) AS road_deaths
FROM "accidents" a JOIN "units" u ON u."id" = a."unit_id" {join}
WHERE {where} AND a."occurred_on" >= make_date(:y0, 1, 1) AND a."occurred_on" < make_date(:y1 + 1, 1, 1)
GROUP BY 1, 2
"""

_OWN = """
SELECT "year", "gdp_yi", "industrial_employees", "motor_vehicles" FROM "area_denominators"
WHERE "unit_id" = :id AND "year" BETWEEN :y0 AND :y1
"""

# The children's sums, per column only when every child has a value (else NULL: 缺少分母).
_SUMS = """
SELECT d."year",
       CASE WHEN count(d."gdp_yi") = k.n THEN sum(d."gdp_yi") END AS gdp_yi,
       CASE WHEN count(d."industrial_employees") = k.n THEN sum(d."industrial_employees") END AS industrial_employees,
       CASE WHEN count(d."motor_vehicles") = k.n THEN sum(d."motor_vehicles") END AS motor_vehicles
FROM "area_denominators" d JOIN "units" c ON c."id" = d."unit_id"
CROSS JOIN (SELECT count(*) AS n FROM "units" WHERE "parent_id" = :id) k
WHERE c."parent_id" = :id AND d."year" BETWEEN :y0 AND :y1 GROUP BY d."year", k.n
"""


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def area_figures(conn: Connection, *, area: Area, first_year: int, last_year: int) -> dict[int, YearFigures]:
    """Return the area's figures of every year from ``first_year`` to ``last_year`` (years without accidents: 0)."""
    params = {"y0": first_year, "y1": last_year, "id": area.id}
    counts = {r.year: r for r in conn.execute(text(_COUNTS.format(
        key="0", join="", where="u.\"path\" LIKE :p || '%'")), {**params, "p": area.path})}
    own = {r.year: r for r in conn.execute(text(_OWN), params)}
    sums = {r.year: r for r in conn.execute(text(_SUMS), params)}
    out = {}
    for year in range(first_year, last_year + 1):
        c, o, s = counts.get(year), own.get(year), sums.get(year)

        def pick(column: str, o: Any = o, s: Any = s) -> float | None:
            mine = getattr(o, column) if o is not None else None
            return _num(mine) if mine is not None else _num(getattr(s, column)) if s is not None else None

        out[year] = YearFigures(
            year=year, accidents=int(c.accidents) if c else 0, deaths=int(c.deaths) if c else 0,
            industrial_deaths=int(c.industrial_deaths) if c else 0, road_deaths=int(c.road_deaths) if c else 0,
            gdp_yi=pick("gdp_yi"), employees=pick("industrial_employees"), vehicles=pick("motor_vehicles"))
    return out


def children_counts(conn: Connection, *, area: Area, years: tuple[int, ...]) -> dict[tuple[str, int], Any]:
    """Return accidents and deaths per (child code, year) for the given years (absent: none)."""
    rows = conn.execute(text(_COUNTS.format(
        key='c."code"', join='JOIN "units" c ON c."parent_id" = :id AND u."path" LIKE c."path" || \'%\'',
        where="TRUE")), {"y0": min(years), "y1": max(years), "id": area.id})
    return {(r.key, r.year): r for r in rows if r.year in years}


def screen_accidents(conn: Connection, *, scope: str, as_of: date) -> dict[str, Any]:
    """Return the big screen's accident lines for ``scope`` (this year to date, the five-year targets).

    This year to date against the same days of last year; the last complete year against the five-year targets
    (how many indicators are on track, accidents and deaths against the baseline).
    """
    kpis = accident_kpis(conn, scope=scope, today=as_of)
    out: dict[str, Any] = {"accidents": kpis.accidents, "deaths": kpis.deaths, "last_accidents": kpis.last_accidents,
                           "last_deaths": kpis.last_deaths, "targets": None}
    area = area_in_scope(conn, scope=scope, code=None)
    settings = target_settings(conn)
    year = as_of.year - 1
    if area is None or year <= settings.baseline_year:
        return out
    statuses = evaluate(settings, area_figures(conn, area=area, first_year=settings.baseline_year, last_year=year),
                        year)
    by = {s.indicator.key: s for s in statuses}
    out["targets"] = {
        "year": year, "baseline_year": settings.baseline_year, "target_year": settings.target_year,
        "on_track": sum(1 for s in statuses if s.on_track), "behind": sum(1 for s in statuses if s.on_track is False),
        "missing": sum(1 for s in statuses if s.missing), "total": len(statuses),
        "accidents_pct": by["accidents"].change_pct, "deaths_pct": by["deaths"].change_pct,
    }
    return out
