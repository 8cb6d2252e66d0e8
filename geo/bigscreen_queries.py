"""SQL of the leaders' big screen (``/bigscreen``): KPI ribbon, child-unit rankings, monthly trend, alarms.

Every function takes the caller's ``scope`` (a unit path, :mod:`geo.scope`) and an ``as_of`` day, and
counts nothing outside the scope. Facts are attributed to units exactly as the refresh does
(``geo/sql/refresh_unit_stats.sql``): an enterprise by its grid cell, a hazard or hazard source by its
own ``unit_id``, else by its enterprise's. Hazard and source counts are live (read from the ledgers on every
call), so "overdue" is always relative to ``as_of``, not to the day of the last refresh, and they equal the hazard
ledger's totals; risk scores, colours and the ribbon's enterprise counts come from ``unit_stats`` (the four-colour
rule runs in the refresh; enterprises change only by an ETL load, which refreshes after it), except for a
department account, whose enterprises are counted live (``unit_stats`` count every department).

Definitions (documented in ``docs/bigscreen.md``):

* open hazard: ``status <> 'closed'``; overdue: open and ``deadline < as_of``; supervised (挂牌督办):
  open with a ``supervision_level``.
* closure rate of the month (本月销号率) = closed this month / (open at the month start + found this
  month), where "this month" is the first day of ``as_of``'s month up to ``as_of``; a hazard closed this
  month was open at the start or found since, so the rate lies in [0, 1]; None when the denominator is 0.
* 检查执法 of the month (本月检查执法): inspections dated in ``as_of``'s month up to ``as_of``, the hazards they
  found, 责令整改 / 停产整顿 / 行政处罚 results and the penalty amount (``domain.enforcement``), by the unit each
  inspection names, imported and recorded in the app alike.
* alarms: new major hazards found in the last ``days`` days including ``as_of``; hazards that became
  overdue in that window (still open, ``as_of - days <= deadline < as_of``); units one or two levels
  below the scope unit whose inspection cadence is overdue (``unit_stats.inspection_overdue``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, text

from domain.enforcement import StatsPeriod, period_range
from geo.inspection_ledger import enforcement_total
from geo.scope import (
    enterprise_id_in_department,
    enterprise_in_department,
    path_in_scope,
    scope_department,
    scope_params,
)

ALARM_DAYS = 7
ALARM_LIMIT = 40
TREND_MONTHS = 12
RankKey = Literal["risk", "overdue"]

# Units of the scope subtree, and each hazard (source) with the path of the unit holding it.
# NOT MATERIALIZED: joined as the units table itself, the planner sees how many units the scope holds and scans
# the hazards in parallel with the units hashed; a materialized su (read twice or more) was estimated at ~1,000
# times too many join rows, so the 3M hazards were hashed in one process and spilled (docs/benchmarks.md).
_SCOPE_UNITS = f'su AS NOT MATERIALIZED (SELECT "id", "path" FROM "units" WHERE {path_in_scope("path")})'  # noqa: S608
# The alarms read a few hazards (a week's finds and deadlines): there the materialized list of units measured faster.
_SCOPE_UNITS_LIST = _SCOPE_UNITS.replace("su AS NOT MATERIALIZED (", "su AS MATERIALIZED (", 1)
# Two branches instead of one join on coalesce(h.unit_id, e.unit_id): each can use an index
# (ix_hazards_unit_id, ix_enterprises_unit_id), so a county scope does not read the whole city.
# A department scope keeps its department's hazards (geo/scope.py).


def _scope_hazards(columns: str, where: str | None = None, name: str = "hz") -> str:
    """Return the CTE ``name``: ``columns`` (of ``h``, ``su``) of the scope's hazards, those matching ``where``."""
    also = f" AND ({where})" if where else ""
    return (
        f'{name} AS (SELECT {columns} FROM "hazards" h JOIN su ON su."id" = h."unit_id" '  # noqa: S608 - constant fragments
        f'WHERE {enterprise_id_in_department("h.enterprise_id")}{also} '
        f'UNION ALL SELECT {columns} FROM "hazards" h JOIN "enterprises" e ON e."id" = h."enterprise_id" '
        f'JOIN su ON su."id" = e."unit_id" WHERE h."unit_id" IS NULL AND {enterprise_in_department("e")}{also})'
    )


# Only the columns read and the rows counted (h.* made a row 1.6 kB; monthly_trend reads hz twice, so it is
# materialized): child_summaries counts open hazards only, monthly_trend those found or closed since :first.
_OPEN_HAZARDS = _scope_hazards('su."path" AS upath, h."level", h."deadline", h."supervision_level"',
                               'h."status" <> \'closed\'')
_TREND_HAZARDS = _scope_hazards('h."found_at", h."closed_at"', 'h."found_at" >= :first OR h."closed_at" >= :first')


def month_start(as_of: date) -> date:
    """First day of ``as_of``'s month."""
    return as_of.replace(day=1)


# The ribbon's enterprise counts by colour: unit_stats columns = the live count's names (attribution by grid cell).
ENTERPRISE_COUNTS = ("enterprises", "ent_red", "ent_orange", "ent_yellow", "ent_blue", "ent_unassessed")
_ENT_LIVE = (
    'ent AS (SELECT count(*) AS enterprises, count(*) FILTER (WHERE e."risk_level" = \'red\') AS ent_red, '  # noqa: S608
    'count(*) FILTER (WHERE e."risk_level" = \'orange\') AS ent_orange, '
    'count(*) FILTER (WHERE e."risk_level" = \'yellow\') AS ent_yellow, '
    'count(*) FILTER (WHERE e."risk_level" = \'blue\') AS ent_blue, '
    'count(*) FILTER (WHERE e."risk_level" IS NULL) AS ent_unassessed '
    f'FROM "enterprises" e JOIN su ON su."id" = e."unit_id" WHERE {enterprise_in_department("e")})'
)
# A source's unit: its own, else its enterprise's, looked up only for those rows (as the refresh does);
# a department scope needs the enterprise of every source.
_SRC_ALL = (
    'src AS (SELECT count(*) AS sources FROM "hazard_sources" s JOIN su ON su."id" = coalesce(s."unit_id", '
    '(SELECT e."unit_id" FROM "enterprises" e WHERE e."id" = s."enterprise_id")) WHERE s."enterprise_id" IS NOT NULL)'
)
_SRC_DEPT = (
    'src AS (SELECT count(*) AS sources FROM "hazard_sources" s '  # noqa: S608 - constant fragment
    'JOIN "enterprises" e ON e."id" = s."enterprise_id" JOIN su ON su."id" = coalesce(s."unit_id", e."unit_id") '
    f'WHERE {enterprise_in_department("e")})'
)
_HAZ_COUNTS = (
    "haz AS (SELECT count(*) FILTER (WHERE \"status\" <> 'closed') AS hazards_open, "
    "count(*) FILTER (WHERE \"status\" <> 'closed' AND \"deadline\" < :as_of) AS hazards_overdue, "
    "count(*) FILTER (WHERE \"status\" <> 'closed' AND \"level\" = 'major') AS hazards_major_open, "
    "count(*) FILTER (WHERE \"status\" <> 'closed' AND \"supervision_level\" IS NOT NULL) AS hazards_supervised, "
    'count(*) FILTER (WHERE "found_at" < :m0 AND ("closed_at" IS NULL OR "closed_at" >= :m0)) '
    "AS month_open_at_start, "
    'count(*) FILTER (WHERE "found_at" >= :m0 AND "found_at" <= :as_of) AS month_found, '
    'count(*) FILTER (WHERE "closed_at" >= :m0 AND "closed_at" <= :as_of) AS month_closed FROM hz)'
)
# Only the columns counted (h.* made every row 1.6 kB wide), and only rows some count can hold: open, found or
# closed this month, or never closed (the aggregate then sees ~10 % of a city's hazards, not all of them).
_KPI_HAZARDS = _scope_hazards(
    'h."status", h."level", h."deadline", h."supervision_level", h."found_at", h."closed_at"',
    'h."status" <> \'closed\' OR h."closed_at" IS NULL OR h."closed_at" >= :m0 OR h."found_at" >= :m0')
_KPIS_LIVE = (f"WITH {_SCOPE_UNITS}, {_KPI_HAZARDS}, {_ENT_LIVE}, {_SRC_DEPT}, {_HAZ_COUNTS} "  # noqa: S608
              "SELECT * FROM ent, src, haz")
# Not a department: the open hazards from the covering ix_hazards_open alone (0016), those open at the month
# start that have been closed since (status closed, closed_at >= :m0: ix_hazards_closed_at), and the month's
# found and closed from hazard_months (monthly_trend). Partitioned by status, so nothing counts twice.
_KPI_OPEN = _scope_hazards('h."level", h."deadline", h."supervision_level", h."found_at", h."closed_at"',
                           'h."status" <> \'closed\'', name="op")
_KPI_CLOSED_SINCE = _scope_hazards('h."id"', 'h."status" = \'closed\' AND h."closed_at" >= :m0 AND h."found_at" < :m0',
                                   name="cl")
_OPEN_COUNTS = (
    'haz AS (SELECT count(*) AS hazards_open, count(*) FILTER (WHERE "deadline" < :as_of) AS hazards_overdue, '
    "count(*) FILTER (WHERE \"level\" = 'major') AS hazards_major_open, "
    'count(*) FILTER (WHERE "supervision_level" IS NOT NULL) AS hazards_supervised, '
    'count(*) FILTER (WHERE "found_at" < :m0 AND ("closed_at" IS NULL OR "closed_at" >= :m0)) '
    "+ (SELECT count(*) FROM cl) AS month_open_at_start FROM op)"
)
_KPIS_ROLLUP = (f"WITH {_SCOPE_UNITS}, {_KPI_OPEN}, {_KPI_CLOSED_SINCE}, {{ent}}{_SRC_ALL}, {_OPEN_COUNTS} "  # noqa: S608
                "SELECT * FROM {from_ent}src, haz")
_STANDING_ENTERPRISES = (
    f'SELECT {", ".join(f"s.{c}" for c in ENTERPRISE_COUNTS)} FROM "unit_stats" s '  # noqa: S608 - constant columns
    'JOIN "units" u ON u."id" = s."unit_id" WHERE u."path" = :scope'
)


def standing_enterprises(conn: Connection, *, scope: str) -> dict[str, int] | None:
    """Return the scope unit's enterprise counts by colour from ``unit_stats``; None for a department or no row.

    Enterprises and their colours change only by an ETL load, which refreshes ``unit_stats`` after it (the
    risk page's and the command map's colours are the same rows); a department account's scope is not a
    roll-up (``unit_stats`` count every department), so it has none.
    """
    if scope_department(scope) is not None:
        return None
    row = conn.execute(text(_STANDING_ENTERPRISES), scope_params(scope)).mappings().one_or_none()
    return {k: int(v) for k, v in row.items()} if row else None


def screen_kpis(conn: Connection, *, scope: str, as_of: date) -> dict[str, Any]:
    """Return the KPI ribbon of the scope: enterprises (and red / orange), hazard sources, hazards, closure rate.

    Hazard and source counts are live; enterprise counts come from ``unit_stats`` (:func:`standing_enterprises`)
    when the scope has a roll-up, else from a scan of the enterprises (a department account, before a refresh).
    """
    params = {"as_of": as_of, "m0": month_start(as_of), **scope_params(scope)}
    standing = standing_enterprises(conn, scope=scope)
    if scope_department(scope) is not None:
        row = dict(conn.execute(text(_KPIS_LIVE), params).mappings().one())
    else:
        live = standing is None
        sql = _KPIS_ROLLUP.format(ent=f"{_ENT_LIVE}, " if live else "", from_ent="ent, " if live else "")
        month = monthly_trend(conn, scope=scope, as_of=as_of, months=1)[0]
        row = dict(conn.execute(text(sql), params).mappings().one())
        row |= {"month_found": month["found"], "month_closed": month["closed"]}
    out: dict[str, Any] = {**(standing or {}), **{k: int(v) for k, v in row.items()}}
    base = out["month_open_at_start"] + out["month_found"]
    out["closure_rate"] = round(out["month_closed"] / base, 4) if base else None
    return out


def enforcement_kpis(conn: Connection, *, scope: str, as_of: date) -> dict[str, Any]:
    """Return this month's 检查执法 of the scope: inspections, hazards found, 责令整改, 停产整顿, penalties and 元."""
    month = period_range(StatsPeriod.MONTH, as_of)
    c = enforcement_total(conn, scope=scope, start=month.start, end=month.end)
    return {"inspections": c.inspections, "hazards_found": c.hazards_found, "ordered_rectify": c.ordered_rectify,
            "closed_down": c.closed_down, "penalties": c.penalties, "penalty_yuan": round(c.penalty_yuan, 2)}


def scope_head(conn: Connection, *, scope: str) -> dict[str, Any] | None:
    """Return the scope unit (code, name, level) and its display bounds ``[[south, west], [north, east]]``."""
    sql = (
        'SELECT u."code", u."name", u."level", ST_XMin(b.env) AS w, ST_YMin(b.env) AS s, '
        'ST_XMax(b.env) AS e, ST_YMax(b.env) AS n FROM "units" u '
        'CROSS JOIN LATERAL (SELECT ST_Envelope(coalesce(u."geom_display", u."geom")) AS env) b '
        'WHERE u."path" = :scope'
    )
    row = conn.execute(text(sql), scope_params(scope)).mappings().one_or_none()
    if row is None:
        return None
    out = {k: row[k] for k in ("code", "name", "level")}
    out["bounds"] = [[row["s"], row["w"]], [row["n"], row["e"]]] if row["w"] is not None else None
    return out


def child_summaries(conn: Connection, *, scope: str, as_of: date) -> list[dict[str, Any]]:
    """Return every child unit of the scope unit with its risk (``unit_stats``), live hazard counts and bounds.

    Keys: code, name, level, risk_score, risk_class, enterprises, ent_red, ent_orange, open, overdue,
    major, supervised, bounds; ordered by code.
    """
    sql = (
        f"WITH {_SCOPE_UNITS}, {_OPEN_HAZARDS}, "  # noqa: S608 - constant fragments; values bound
        "k AS (SELECT split_part(substr(upath, char_length(:scope) + 1), '.', 1) AS code, \"level\", "
        '"deadline", "supervision_level" FROM hz), '
        "agg AS (SELECT code, count(*) AS open, count(*) FILTER (WHERE \"deadline\" < :as_of) AS overdue, "
        "count(*) FILTER (WHERE \"level\" = 'major') AS major, "
        "count(*) FILTER (WHERE \"supervision_level\" IS NOT NULL) AS supervised "
        "FROM k GROUP BY code) "
        'SELECT c."code", coalesce(c."short_name", c."name") AS name, c."level", '
        'coalesce(s."risk_score", 0) AS risk_score, s."risk_class", coalesce(s."enterprises", 0) AS enterprises, '
        'coalesce(s."ent_red", 0) AS ent_red, coalesce(s."ent_orange", 0) AS ent_orange, '
        "coalesce(a.open, 0) AS open, coalesce(a.overdue, 0) AS overdue, coalesce(a.major, 0) AS major, "
        "coalesce(a.supervised, 0) AS supervised, "
        "ST_XMin(b.env) AS w, ST_YMin(b.env) AS s, ST_XMax(b.env) AS e, ST_YMax(b.env) AS n "
        'FROM "units" c LEFT JOIN "unit_stats" s ON s."unit_id" = c."id" LEFT JOIN agg a ON a.code = c."code" '
        'CROSS JOIN LATERAL (SELECT ST_Envelope(coalesce(c."geom_display", c."geom")) AS env) b '
        'WHERE c."parent_id" = (SELECT "id" FROM "units" WHERE "path" = :scope) ORDER BY c."code"'
    )
    out = []
    for r in conn.execute(text(sql), {"as_of": as_of, **scope_params(scope)}).mappings():
        item = {k: v for k, v in r.items() if k not in ("w", "s", "e", "n")}
        item["risk_score"] = round(float(item["risk_score"]), 2)
        item["bounds"] = [[r["s"], r["w"]], [r["n"], r["e"]]] if r["w"] is not None else None
        out.append(item)
    return out


_RISK_RANK = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}


def ranking(children: Sequence[dict[str, Any]], *, by: RankKey, limit: int = 10) -> list[dict[str, Any]]:
    """Rank child summaries: ``risk`` by risk score (then colour), ``overdue`` by overdue then open hazards."""
    if by == "risk":
        def key(c: dict[str, Any]) -> Any:
            return (-c["risk_score"], _RISK_RANK.get(c["risk_class"] or "", 9), c["code"])
    else:
        def key(c: dict[str, Any]) -> Any:
            return (-c["overdue"], -c["open"], c["code"])
    return sorted(children, key=key)[:limit]


def _trend_window(as_of: date, months: int) -> tuple[date, date, date]:
    """Return the first month, the last month (``as_of``'s) and the first day after it."""
    last = month_start(as_of)
    index = last.year * 12 + last.month - 1 - (months - 1)
    after = last.year * 12 + last.month
    return date(index // 12, index % 12 + 1, 1), last, date(after // 12, after % 12 + 1, 1)


# The scope unit's months from the roll-up kept by migration 0015's triggers, less what is dated after ``as_of``
# in its own month (normally nothing: an index probe on found_at and closed_at).
_LATE_HAZARDS = _scope_hazards(
    'h."found_at", h."closed_at"',
    '(h."found_at" > :as_of AND h."found_at" < :next) OR (h."closed_at" > :as_of AND h."closed_at" < :next)')
_TREND_ROLLUP = (
    f"WITH {_SCOPE_UNITS_LIST}, {_LATE_HAZARDS}, "  # noqa: S608 - constant fragments; values bound
    "months AS (SELECT generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 month')::date AS m), "
    'r AS (SELECT hm."month", hm."found", hm."closed" FROM "hazard_months" hm '
    'WHERE hm."unit_id" = (SELECT "id" FROM "units" WHERE "path" = :scope) AND hm."month" BETWEEN :first AND :last), '
    'late AS (SELECT count(*) FILTER (WHERE "found_at" > :as_of AND "found_at" < :next) AS found, '
    'count(*) FILTER (WHERE "closed_at" > :as_of AND "closed_at" < :next) AS closed FROM hz) '
    "SELECT months.m AS month, coalesce(r.found, 0) - CASE WHEN months.m = :last THEN late.found ELSE 0 END AS found, "
    "coalesce(r.closed, 0) - CASE WHEN months.m = :last THEN late.closed ELSE 0 END AS closed "
    "FROM months CROSS JOIN late LEFT JOIN r ON r.month = months.m ORDER BY months.m"
)
# A department account's scope is not a roll-up: its hazards are counted live.
_TREND_LIVE = (
    f"WITH {_SCOPE_UNITS}, {_TREND_HAZARDS}, "  # noqa: S608 - constant fragments; values bound
    "months AS (SELECT generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 month')::date AS m), "
    "f AS (SELECT date_trunc('month', \"found_at\")::date AS m, count(*) AS n FROM hz "
    'WHERE "found_at" >= :first AND "found_at" <= :as_of GROUP BY 1), '
    "c AS (SELECT date_trunc('month', \"closed_at\")::date AS m, count(*) AS n FROM hz "
    'WHERE "closed_at" >= :first AND "closed_at" <= :as_of GROUP BY 1) '
    "SELECT months.m AS month, coalesce(f.n, 0) AS found, coalesce(c.n, 0) AS closed "
    "FROM months LEFT JOIN f ON f.m = months.m LEFT JOIN c ON c.m = months.m ORDER BY months.m"
)


def monthly_trend(conn: Connection, *, scope: str, as_of: date, months: int = TREND_MONTHS) -> list[dict[str, Any]]:
    """Hazards found and closed per month for the ``months`` months up to ``as_of``'s month (oldest first).

    Read from ``hazard_months`` (12 rows of the scope unit) except for a department account, whose hazards are
    counted live; both count a hazard found or closed after ``as_of`` in none of the months.
    """
    first, last, after = _trend_window(as_of, months)
    sql = _TREND_ROLLUP if scope_department(scope) is None else _TREND_LIVE
    rows = conn.execute(text(sql), {"first": first, "last": last, "next": after, "as_of": as_of,
                                    **scope_params(scope)}).mappings()
    return [{"month": r["month"], "found": int(r["found"]), "closed": int(r["closed"])} for r in rows]


# County and township names of a hazard's unit, from its path ('411000.411002.411002001.…').
_ALARM_KEYS = 'h."id", h."found_at", h."deadline", su."path" AS upath'  # matched and sorted on: index columns


def _alarm_sql(where: str, order: str) -> str:
    """Return the newest ``:lim`` of the scope's hazards matching ``where`` (of ``h``) by ``order`` (of ``hz``).

    Counted and cut on their keys first, the rows kept then read with their places and enterprises: 40k hazards
    fell overdue in one week at 1M / 3M, and reading and naming all of them took most of 220 ms city-wide.
    """
    return (
        f"WITH {_SCOPE_UNITS_LIST}, {_scope_hazards(_ALARM_KEYS, where)}, hit AS MATERIALIZED ("  # noqa: S608
        f"SELECT hz.*, count(*) OVER () AS total FROM hz ORDER BY {order} LIMIT :lim) "
        'SELECT h."id", h."code", h."title", h."level", h."found_at", h."deadline", h."supervision_level", '
        'e."name" AS enterprise, uc."name" AS county, ut."name" AS township, hz."total" '
        'FROM hit hz JOIN "hazards" h ON h."id" = hz."id" '
        'LEFT JOIN "units" uc ON uc."code" = split_part(hz.upath, \'.\', 2) '
        'LEFT JOIN "units" ut ON ut."code" = split_part(hz.upath, \'.\', 3) '
        f'LEFT JOIN "enterprises" e ON e."id" = h."enterprise_id" ORDER BY {order}'
    )


def alarms(conn: Connection, *, scope: str, as_of: date, days: int = ALARM_DAYS,
           limit: int = ALARM_LIMIT) -> dict[str, Any]:
    """Return the alarm ticker: new major hazards, newly overdue hazards, units with overdue inspections.

    Each list holds at most ``limit`` items, newest first; ``counts`` has the full numbers.
    """
    since = as_of - timedelta(days=days)
    params = {"as_of": as_of, "first_day": since + timedelta(days=1), "since": since, "lim": limit,
              **scope_params(scope)}
    major_sql = _alarm_sql('h."level" = \'major\' AND h."found_at" >= :first_day AND h."found_at" <= :as_of',
                           'hz."found_at" DESC, hz."id" DESC')
    overdue_sql = _alarm_sql('h."status" <> \'closed\' AND h."deadline" >= :since AND h."deadline" < :as_of',
                             'hz."deadline" DESC, hz."id" DESC')
    inspection_sql = (
        'SELECT u."code", u."name", u."level", s."last_inspection_at", p."name" AS parent, '  # noqa: S608
        "count(*) OVER () AS total FROM \"units\" u JOIN \"unit_stats\" s ON s.\"unit_id\" = u.\"id\" "
        'LEFT JOIN "units" p ON p."id" = u."parent_id" '
        f'WHERE s."inspection_overdue" AND {path_in_scope("u.path")} AND u."path" <> :scope '
        'AND u."level" <= (SELECT r."level" FROM "units" r WHERE r."path" = :scope) + 2 '
        'ORDER BY u."level", s."last_inspection_at" NULLS FIRST, u."code" LIMIT :lim'
    )
    out: dict[str, Any] = {"counts": {}}
    for key, sql in (("new_major", major_sql), ("newly_overdue", overdue_sql), ("inspection_overdue", inspection_sql)):
        rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
        out["counts"][key] = int(rows[0]["total"]) if rows else 0
        out[key] = [{k: v for k, v in r.items() if k != "total"} for r in rows]
    return out


def grid_overview(conn: Connection, *, scope: str) -> dict[str, Any]:
    """Return the grid system of the scope: units per level, duty slots filled / required, overdue inspections.

    ``levels`` maps unit level → number of units in the scope subtree; ``inspection_overdue`` maps
    level → units whose inspection cadence is overdue (``unit_stats`` of the last refresh).
    """
    sql = (
        'SELECT u."level", count(*) AS units, count(*) FILTER (WHERE s."inspection_overdue") AS overdue '  # noqa: S608
        'FROM "units" u LEFT JOIN "unit_stats" s ON s."unit_id" = u."id" '
        f'WHERE {path_in_scope("u.path")} GROUP BY u."level" ORDER BY u."level"'
    )
    rows = conn.execute(text(sql), scope_params(scope)).mappings().all()
    duty = conn.execute(text(
        'SELECT s."persons_present", s."persons_required", s."vacancies_subtree" FROM "unit_stats" s '
        'JOIN "units" u ON u."id" = s."unit_id" WHERE u."path" = :scope'
    ), scope_params(scope)).mappings().one_or_none()
    return {
        "levels": {int(r["level"]): int(r["units"]) for r in rows},
        "inspection_overdue": {int(r["level"]): int(r["overdue"]) for r in rows},
        "persons_present": int(duty["persons_present"]) if duty else 0,
        "persons_required": int(duty["persons_required"]) if duty else 0,
        "vacancies": int(duty["vacancies_subtree"]) if duty else 0,
    }


def fill_classes(conn: Connection, *, scope: str) -> tuple[int | None, dict[str, int]]:
    """Return the level the map fills (two below the scope unit, else one, else the unit itself) and its classes."""
    sql = (
        'WITH r AS (SELECT "level" FROM "units" WHERE "path" = :scope), '  # noqa: S608 - scope fragment; values bound
        'lv AS (SELECT max(u."level") AS level FROM "units" u, r '
        f'WHERE {path_in_scope("u.path")} AND u."level" BETWEEN r."level" AND r."level" + 2) '
        'SELECT lv.level, s."risk_class", count(*) AS n FROM lv JOIN "units" u ON u."level" = lv.level '
        f'LEFT JOIN "unit_stats" s ON s."unit_id" = u."id" WHERE {path_in_scope("u.path")} '
        'GROUP BY lv.level, s."risk_class"'
    )
    rows = conn.execute(text(sql), scope_params(scope)).mappings().all()
    counts = {k: 0 for k in ("red", "orange", "yellow", "blue")}
    for r in rows:
        if r["risk_class"] in counts:
            counts[r["risk_class"]] = int(r["n"])
    return (int(rows[0]["level"]) if rows else None), counts
