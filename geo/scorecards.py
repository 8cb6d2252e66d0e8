"""季度考核 storage: one aggregate query per KPI family over a quarter, grouped by the row unit.

The rows are the units of one level under an area (the townships of a city or county, or an area's
children); a record belongs to the row whose code is the ``depth``-th segment of its unit's path after
the area's path (``split_part(substr(path, …))``, as ``geo.risk_queries.breakdowns``). Four set-based
queries — hazards, 四查 records, accidents, the rows with their vacancies — whatever the number of rows;
scoring and ranking are ``domain.scorecards``. The area must lie in the caller's scope
(:func:`load_scorecard` returns None otherwise); every query is then limited to the area's subtree, and for a
department account (geo/scope.py) to its department's hazards and accidents.

Department rows are the catalogue's departments (``enterprises.dept_code``, domain/catalogues.py) of the area's
enterprises, named by the catalogue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, text

from domain.cadence import Cadence, shift
from domain.scorecards import Quarter, Ranked, RowKpis, ScorecardSettingsError, cadence_periods, rank_rows
from domain.scorecards import weights_from_config as _weights_from_config
from geo.refresh import app_config, cadence_rule
from geo.rule_settings import department_catalogue
from geo.scope import enterprise_id_in_department, enterprise_in_department, narrow, path_in_scope, scope_params
from geo.targets import Area, area_in_scope

log = logging.getLogger(__name__)

WEIGHTS_KEY = "scorecard_weights"
TOWNSHIP_LEVEL = 3
MODES = ("township", "children", "department")

_ROW = "split_part(substr(u.\"path\", char_length(:scope) + 1), '.', :depth)"

_ROWS = (
    'SELECT u."code", u."name", coalesce(s."vacancies_subtree", 0) AS vacancies '  # noqa: S608 - constant fragments
    'FROM "units" u LEFT JOIN "unit_stats" s ON s."unit_id" = u."id" '
    f'WHERE {path_in_scope("u.path")} AND u."level" = :lvl ORDER BY u."code"'
)

# Department rows (管行业必须管安全): the catalogue departments of the area's enterprises (named in Python).
_DEPT = 'e."dept_code"'
_DEPT_ROWS = (
    f'SELECT DISTINCT {_DEPT} AS code, {_DEPT} AS name, NULL AS vacancies FROM "enterprises" e '  # noqa: S608
    f'JOIN "units" u ON u."id" = e."unit_id" WHERE {path_in_scope("u.path")} AND {_DEPT} IS NOT NULL '
    f'AND {enterprise_in_department("e")} ORDER BY 1'
)


# closed: status closed with a closing date; hazards closed before the quarter matter only for 督办 due in it.
_HZ_COLUMNS = (
    "h.\"status\" = 'closed' AND h.\"closed_at\" IS NOT NULL AS is_closed, "
    'h."found_at", h."closed_at", h."deadline", h."supervision_level" IS NOT NULL AS supervised, '
    'coalesce(h."supervision_deadline", h."deadline") AS due'
)
_HZ_WHERE = ('h."found_at" <= :q1 '
             'AND (h."closed_at" IS NULL OR h."closed_at" >= :q0 OR h."supervision_level" IS NOT NULL)')


def _hazards_sql(key: str, where: str) -> str:
    return (
        f"WITH hz AS (SELECT {key} AS code, {_HZ_COLUMNS} "  # noqa: S608 - constant fragments
        'FROM "hazards" h LEFT JOIN "enterprises" e ON e."id" = h."enterprise_id" '
        'JOIN "units" u ON u."id" = coalesce(h."unit_id", e."unit_id") '
        f'WHERE {path_in_scope("u.path")} AND {enterprise_in_department("e")} AND {where} AND {_HZ_WHERE}) '
        + _HAZARD_COUNTS
    )


def _unit_hazards_sql(key: str, where: str) -> str:
    """Like :func:`_hazards_sql` for rows keyed by unit: a hazard with its own unit needs no enterprise.

    Two branches (UNION ALL) instead of one join on ``coalesce(h.unit_id, e.unit_id)``: that join read every
    enterprise into a hash for the few hazards without a unit; the second branch finds those by
    ix_hazards_unit_id (IS NULL) and their enterprises by key.
    """
    return (
        f"WITH hz AS (SELECT {key} AS code, {_HZ_COLUMNS} "  # noqa: S608 - constant fragments
        'FROM "hazards" h JOIN "units" u ON u."id" = h."unit_id" '
        f'WHERE {path_in_scope("u.path")} AND {enterprise_id_in_department("h.enterprise_id")} AND {where} '
        f'AND {_HZ_WHERE} '
        f"UNION ALL SELECT {key} AS code, {_HZ_COLUMNS} "
        'FROM "hazards" h JOIN "enterprises" e ON e."id" = h."enterprise_id" JOIN "units" u ON u."id" = e."unit_id" '
        f'WHERE h."unit_id" IS NULL AND {path_in_scope("u.path")} AND {enterprise_in_department("e")} AND {where} '
        f'AND {_HZ_WHERE}) '
        + _HAZARD_COUNTS
    )


_HAZARD_COUNTS = (
    "SELECT code, count(*) FILTER (WHERE found_at >= :q0) AS found, "
    "count(*) FILTER (WHERE found_at >= :q0 AND is_closed AND closed_at <= :q1) AS closed_of_found, "
    "count(*) FILTER (WHERE is_closed AND closed_at BETWEEN :q0 AND :q1) AS closed, "
    "count(*) FILTER (WHERE is_closed AND closed_at BETWEEN :q0 AND :q1 "
    "AND (deadline IS NULL OR closed_at <= deadline)) AS closed_on_time, "
    "count(*) FILTER (WHERE deadline < :q1 AND NOT (is_closed AND closed_at <= :q1)) AS overdue_end, "
    "count(*) FILTER (WHERE supervised AND due BETWEEN :q0 AND :q1) AS supervised_due, "
    "count(*) FILTER (WHERE supervised AND due BETWEEN :q0 AND :q1 AND is_closed AND closed_at <= due) "
    "AS supervised_on_time FROM hz GROUP BY code"
)
_HAZARDS = _unit_hazards_sql(_ROW, 'u."level" >= :lvl')
_DEPT_HAZARDS = _hazards_sql(_DEPT, f"{_DEPT} IS NOT NULL")

# 四查 records as domain.cadence.counts_for counts them for a unit of level :lvl (patrols: village level).
_CADENCE = (
    'WITH rec AS (SELECT i."unit_id", i."inspected_at" AS d FROM "inspections" i '  # noqa: S608
    'WHERE i."unit_id" IS NOT NULL AND i."inspected_at" BETWEEN :p0 AND :p1 '
    'AND (:every OR i."inspector_level" IS NULL OR i."inspector_level" = :lvl) '
    'UNION ALL SELECT p."unit_id", p."patrol_date" FROM "patrols" p '
    'WHERE :patrols AND p."patrol_date" BETWEEN :p0 AND :p1) '
    f"SELECT {_ROW} AS code, count(DISTINCT CAST(date_trunc(CAST(:field AS text), "
    "CAST(rec.d AS timestamp)) AS date)) AS done "
    'FROM rec JOIN "units" u ON u."id" = rec."unit_id" '
    f'WHERE {path_in_scope("u.path")} AND u."level" >= :lvl GROUP BY 1'
)

_ACCIDENTS = (
    f'SELECT {_ROW} AS code, count(*) AS accidents, coalesce(sum(a."deaths"), 0) AS deaths '  # noqa: S608
    'FROM "accidents" a JOIN "units" u ON u."id" = a."unit_id" '
    f'WHERE {path_in_scope("u.path")} AND {enterprise_id_in_department("a.enterprise_id")} AND u."level" >= :lvl '
    'AND a."occurred_on" BETWEEN :q0 AND :q1 GROUP BY 1'
)
# a department's accidents: those of its enterprises (road accidents without an enterprise count for none)
_DEPT_ACCIDENTS = (
    f'SELECT {_DEPT} AS code, count(*) AS accidents, coalesce(sum(a."deaths"), 0) AS deaths '  # noqa: S608
    'FROM "accidents" a JOIN "enterprises" e ON e."id" = a."enterprise_id" JOIN "units" u ON u."id" = a."unit_id" '
    f'WHERE {path_in_scope("u.path")} AND {_DEPT} IS NOT NULL AND {enterprise_in_department("e")} '
    'AND a."occurred_on" BETWEEN :q0 AND :q1 GROUP BY 1'
)


def scorecard_weights(conn: Connection) -> dict[str, float]:
    """Return the weights in force (``app_config`` key ``scorecard_weights`` over the defaults)."""
    try:
        return _weights_from_config(app_config(conn, WEIGHTS_KEY))
    except (ScorecardSettingsError, TypeError, ValueError, AttributeError) as exc:
        log.warning("app_config %s unusable, the defaults apply: %s", WEIGHTS_KEY, exc)
        return _weights_from_config(None)


def row_level(area: Area, mode: str) -> int:
    """Return the level of the rows: townships (level 3) under a city or county, else the area's children."""
    if mode == "township" and area.level < TOWNSHIP_LEVEL:
        return TOWNSHIP_LEVEL
    return area.level + 1


def quarter_kpis(conn: Connection, *, area: Area, level: int, quarter: Quarter,
                 cadence: Cadence | None, scope: str | None = None) -> list[RowKpis]:
    """Return the KPIs of the level-``level`` units under ``area`` for ``quarter`` (four queries).

    ``scope``: the caller's scope, for its department (None: every department).
    """
    base: dict[str, Any] = {**scope_params(_within(scope, area)), "lvl": level, "depth": level - area.level,
                            "q0": quarter.start, "q1": quarter.end}
    rows = {r["code"]: dict(r) for r in conn.execute(text(_ROWS), base).mappings()}
    for r in conn.execute(text(_HAZARDS), base).mappings():
        if r["code"] in rows:
            rows[r["code"]].update({k: int(v) for k, v in r.items() if k != "code"})
    for r in conn.execute(text(_ACCIDENTS), base).mappings():
        if r["code"] in rows:
            rows[r["code"]].update(accidents=int(r["accidents"]), deaths=int(r["deaths"]))
    periods = cadence_periods(quarter, cadence) if cadence is not None else []
    if cadence is not None and periods:
        last_end = shift(periods[-1], cadence, 1) - timedelta(days=1)
        params = {**base, "p0": periods[0], "p1": last_end, "field": cadence.value,
                  "every": level == 5, "patrols": level in (4, 5)}
        for c in conn.execute(text(_CADENCE), params).mappings():
            if c["code"] in rows:
                rows[c["code"]]["cadence_done"] = int(c["done"])
    return [RowKpis(**r, cadence_periods=len(periods)) for r in rows.values()]


def _within(scope: str | None, area: Area) -> str:
    """Return the area's scope keeping the caller's department (the area lies in the caller's scope)."""
    return narrow(scope, area.path) if scope is not None else area.path


def department_kpis(conn: Connection, *, area: Area, quarter: Quarter, scope: str | None = None) -> list[RowKpis]:
    """Return the KPIs of each supervising department of the area's enterprises for ``quarter`` (three queries).

    A department's hazards and accidents are its enterprises'; it has no 四查 cadence and no grid vacancies
    (both left unscored). Rows are named by the department catalogue in force.
    """
    base: dict[str, Any] = {**scope_params(_within(scope, area)), "q0": quarter.start, "q1": quarter.end}
    catalogue = department_catalogue(conn)
    rows = {r["code"]: {**r, "name": catalogue.label(r["code"])}
            for r in conn.execute(text(_DEPT_ROWS), base).mappings()}
    for r in conn.execute(text(_DEPT_HAZARDS), base).mappings():
        if r["code"] in rows:
            rows[r["code"]].update({k: int(v) for k, v in r.items() if k != "code"})
    for r in conn.execute(text(_DEPT_ACCIDENTS), base).mappings():
        if r["code"] in rows:
            rows[r["code"]].update(accidents=int(r["accidents"]), deaths=int(r["deaths"]))
    return [RowKpis(**r) for r in rows.values()]


@dataclass(frozen=True)
class Scorecard:
    """The 晾晒 ranking of an area's rows for a quarter, with the weights and cadence used."""

    area: Area
    quarter: Quarter
    level: int  # of the rows (the area's own level for department rows)
    mode: str
    weights: dict[str, float]
    cadence: Cadence | None
    rows: list[Ranked]


def load_scorecard(conn: Connection, *, scope: str, code: str | None, quarter: Quarter,
                   mode: str = "township") -> Scorecard | None:
    """Return the scorecard of unit ``code`` (None: the scope's root) for ``quarter``; None outside the scope."""
    area = area_in_scope(conn, scope=scope, code=code)
    if area is None:
        return None
    mode = mode if mode in MODES else "township"
    weights = scorecard_weights(conn)
    if mode == "department":
        current = department_kpis(conn, area=area, quarter=quarter, scope=scope)
        previous = department_kpis(conn, area=area, quarter=quarter.previous(), scope=scope)
        return Scorecard(area, quarter, area.level, mode, weights, None, rank_rows(current, previous, weights))
    level = row_level(area, mode)
    cadence = cadence_rule(conn).of(level)
    current = quarter_kpis(conn, area=area, level=level, quarter=quarter, cadence=cadence, scope=scope)
    previous = quarter_kpis(conn, area=area, level=level, quarter=quarter.previous(), cadence=cadence, scope=scope)
    return Scorecard(area, quarter, level, mode, weights, cadence, rank_rows(current, previous, weights))
