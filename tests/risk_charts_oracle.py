"""/risk's four charts as four statements, one per chart: the oracle of ``geo.risk_queries.breakdowns``.

These are the statements the charts were read with before stop 27 (each a scan of every hazard of the scope;
breakdowns now reads the majors, the open ones and hazard_months);
tests/test_risk_queries.py checks breakdowns against them, bench/bench_scope_reads.py times both.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from geo.risk_queries import AGEING_BUCKETS, RiskFilters, _hazards_cte, month_window
from geo.scope import scope_params

_HAZARDS_CTE = _hazards_cte()  # every hazard of the scope, with its "open" (status not closed)


def monthly_found_closed(conn: Connection, *, scope: str, filters: RiskFilters, as_of: date,
                         cutoff: date) -> list[dict[str, Any]]:
    """Count MAJOR hazards found and closed per month, 存量 (found on or before ``cutoff``) apart from 增量.

    Also the stock / increment still open at each month's end (动态清零). The period sets the months.
    """
    first, last = month_window(filters, as_of=as_of)
    sql = (
        f"WITH {_HAZARDS_CTE}, "
        # 动态清零 counts MAJOR hazards (招贤镇 plan; domain.hazard_flow.rollup_counts)
        "ev AS (SELECT date_trunc('month', \"found_at\")::date AS m, \"found_at\" <= :cutoff AS stock, 1 AS f, 0 AS c "
        "FROM hz WHERE \"level\" = 'major' UNION ALL SELECT date_trunc('month', \"closed_at\")::date, "
        "\"found_at\" <= :cutoff, 0, 1 FROM hz WHERE \"closed_at\" IS NOT NULL AND \"level\" = 'major'), "
        "per AS (SELECT m, sum(f) FILTER (WHERE stock) AS fs, sum(f) FILTER (WHERE NOT stock) AS fi, "
        "sum(c) FILTER (WHERE stock) AS cs, sum(c) FILTER (WHERE NOT stock) AS ci FROM ev GROUP BY m), "
        "base AS (SELECT coalesce(sum(fs), 0) - coalesce(sum(cs), 0) AS s0, "
        "coalesce(sum(fi), 0) - coalesce(sum(ci), 0) AS i0 FROM per WHERE m < :first), "
        "months AS (SELECT generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 month')::date AS m) "
        "SELECT months.m AS month, coalesce(fs, 0) AS found_stock, coalesce(fi, 0) AS found_increment, "
        "coalesce(cs, 0) AS closed_stock, coalesce(ci, 0) AS closed_increment, "
        "base.s0 + sum(coalesce(fs, 0) - coalesce(cs, 0)) OVER (ORDER BY months.m) AS open_stock, "
        "base.i0 + sum(coalesce(fi, 0) - coalesce(ci, 0)) OVER (ORDER BY months.m) AS open_increment "
        "FROM months LEFT JOIN per ON per.m = months.m CROSS JOIN base ORDER BY months.m"
    )
    params = {**scope_params(scope), **filters.params(period=False), "cutoff": cutoff, "first": first, "last": last}
    return [{k: (int(v) if k != "month" else v) for k, v in r.items()}
            for r in conn.execute(text(sql), params).mappings()]


def open_by_industry(conn: Connection, *, scope: str, filters: RiskFilters, as_of: date) -> list[dict[str, Any]]:
    """Open hazards (found in the period) per industry: total, major, overdue; largest first."""
    sql = (
        f"WITH {_HAZARDS_CTE} SELECT coalesce(\"industry\", '未填写') AS industry, count(*) AS open, "
        "count(*) FILTER (WHERE \"level\" = 'major') AS major, "
        "count(*) FILTER (WHERE \"deadline\" < :as_of) AS overdue "
        "FROM hz WHERE \"open\" GROUP BY 1 ORDER BY 2 DESC, 1"
    )
    params = {**scope_params(scope), **filters.params(), "as_of": as_of}
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def by_child_unit(conn: Connection, *, scope: str, filters: RiskFilters, as_of: date) -> list[dict[str, Any]]:
    """Summarise hazards per child unit of the scope (the counties of a city…).

    Found in the period, closed of those, closure rate, and open / major / overdue now; children
    without hazards are listed with zeros.
    """
    sql = (
        f"WITH {_HAZARDS_CTE}, "
        "k AS (SELECT split_part(substr(upath, char_length(:scope) + 1), '.', 1) AS code, hz.* FROM hz), "
        "agg AS (SELECT code, count(*) AS found, count(*) FILTER (WHERE NOT \"open\") AS closed, "
        "count(*) FILTER (WHERE \"open\") AS open, "
        "count(*) FILTER (WHERE \"open\" AND \"level\" = 'major') AS major, "
        "count(*) FILTER (WHERE \"open\" AND \"deadline\" < :as_of) AS overdue FROM k GROUP BY code) "
        "SELECT c.\"code\", c.\"name\", coalesce(a.found, 0) AS found, coalesce(a.closed, 0) AS closed, "
        "coalesce(a.open, 0) AS open, coalesce(a.major, 0) AS major, coalesce(a.overdue, 0) AS overdue, "
        "CASE WHEN coalesce(a.found, 0) > 0 THEN round(a.closed::numeric / a.found, 4)::float8 END AS closure_rate "
        'FROM "units" c LEFT JOIN agg a ON a.code = c."code" '
        'WHERE c."parent_id" = (SELECT "id" FROM "units" WHERE "path" = :scope) ORDER BY c."code"'
    )
    params = {**scope_params(scope), **filters.params(), "as_of": as_of}
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def overdue_ageing(conn: Connection, *, scope: str, filters: RiskFilters, as_of: date) -> list[dict[str, Any]]:
    """Open overdue hazards by days past the deadline (buckets of ``AGEING_BUCKETS``), general vs major."""
    sql = (
        f"WITH {_HAZARDS_CTE}, "
        "od AS (SELECT CAST(:as_of AS date) - \"deadline\" AS days, \"level\" FROM hz "
        "WHERE \"open\" AND \"deadline\" < :as_of) "
        "SELECT b.label AS bucket, b.ord, count(od.days) FILTER (WHERE od.\"level\" = 'general') AS general, "
        "count(od.days) FILTER (WHERE od.\"level\" = 'major') AS major "
        "FROM unnest(CAST(:labels AS text[]), CAST(:lows AS int[]), CAST(:highs AS int[])) "
        "WITH ORDINALITY AS b(label, lo, hi, ord) "
        "LEFT JOIN od ON od.days >= b.lo AND (b.hi IS NULL OR od.days <= b.hi) "
        "GROUP BY b.label, b.ord ORDER BY b.ord"
    )
    params = {**scope_params(scope), **filters.params(), "as_of": as_of,
              "labels": [b[0] for b in AGEING_BUCKETS], "lows": [b[1] for b in AGEING_BUCKETS],
              "highs": [b[2] for b in AGEING_BUCKETS]}
    return [{"bucket": r["bucket"], "general": int(r["general"]), "major": int(r["major"])}
            for r in conn.execute(text(sql), params).mappings()]
