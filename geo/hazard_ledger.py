"""The hazard ledger (隐患台账): hazards in scope with filters, whitelisted sorting and paging."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from domain import clock
from domain.hazard_flow import FIVE_IN_PLACE
from geo.models import HAZARD_CHANNELS, HAZARD_LEVELS, HAZARD_STATUSES
from geo.paging import capped_count
from geo.rows import LedgerRow
from geo.scope import enterprise_in_department, scope_params, unit_id_in_scope

MAX_PAGE = 500
MAX_EXPORT_ROWS = 50_000

# Sortable columns: public name → SQL expression (nothing else is ever placed in ORDER BY).
SORT_COLUMNS = {
    "code": 'h."code"',
    "title": 'h."title"',
    "level": 'h."level"',
    "status": 'h."status"',
    "channel": 'h."channel"',
    "found_at": 'h."found_at"',
    "deadline": 'h."deadline"',
    "closed_at": 'h."closed_at"',
    "supervision_level": 'h."supervision_level"',
    "overdue_days": '"overdue_days"',
    "enterprise_name": 'e."name"',
    "industry": 'e."industry"',
    "unit_name": 'u."name"',
}


# 五到位 items not in place, as an array of FIVE_IN_PLACE keys (same test as domain.hazard_flow.five_in_place_missing:
# NULL, or text that is blank).
_TEXT_ITEMS = {"resp_person", "measures", "contingency_plan"}
FIVE_MISSING_SQL = "array_remove(ARRAY[{}]::text[], NULL)".format(", ".join(
    f"CASE WHEN nullif(btrim(h.\"{key}\"), '') IS NULL THEN '{key}' END" if key in _TEXT_ITEMS
    else f"CASE WHEN h.\"{key}\" IS NULL THEN '{key}' END" for key in FIVE_IN_PLACE.codes))


class LedgerError(ValueError):
    """A filter or sort value that is not allowed (message in Chinese)."""


@dataclass(frozen=True)
class LedgerFilters:
    """Filters of the ledger; empty tuples / None mean "any"."""

    statuses: tuple[str, ...] = ()
    open_only: bool = False
    levels: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    overdue: bool = False
    supervised: bool = False
    five_incomplete: bool = False  # 五到位 not all in place
    industries: tuple[str, ...] = ()
    found_from: date | None = None
    found_to: date | None = None
    text: str = ""
    today: date | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Reject values outside the enumerations (they never reach SQL anyway, but fail loudly)."""
        for values, allowed, label in ((self.statuses, HAZARD_STATUSES, "状态"), (self.levels, HAZARD_LEVELS, "等级"),
                                       (self.channels, HAZARD_CHANNELS, "来源渠道")):
            bad = set(values) - set(allowed)
            if bad:
                raise LedgerError(f"{label}取值无效：{'、'.join(sorted(bad))}")
        if self.found_from and self.found_to and self.found_from > self.found_to:
            raise LedgerError("起始日期不能晚于结束日期")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (for the audit log)."""
        return {k: (v.isoformat() if isinstance(v, date) else list(v) if isinstance(v, tuple) else v)
                for k, v in self.__dict__.items() if v not in ((), None, False, "") and k != "today"}


_SELECT = f"""
SELECT h."code", h."title", h."category", h."level", h."channel", h."status", h."found_at", h."deadline",
       h."closed_at", h."supervision_level", h."resp_person", h."resp_person_phone", h."measures",
       h."funds_yuan", h."contingency_plan", h."reporter", {FIVE_MISSING_SQL} AS "five_missing",
       (h."status" <> 'closed' AND h."deadline" < :today) AS "overdue",
       CASE WHEN h."status" <> 'closed' AND h."deadline" < :today THEN :today - h."deadline" END AS "overdue_days",
       e."credit_code", e."name" AS "enterprise_name", e."industry",
       u."code" AS "unit_code", u."name" AS "unit_name",
       ST_Y(coalesce(h."geom", e."geom")) AS "lat", ST_X(coalesce(h."geom", e."geom")) AS "lon"
"""
_FROM = """
FROM "hazards" h
LEFT JOIN "enterprises" e ON e."id" = h."enterprise_id"
LEFT JOIN "units" u ON u."id" = h."unit_id"
"""
_WHERE = f"""
WHERE {unit_id_in_scope("h.unit_id")} AND {enterprise_in_department("e")}
  AND (CAST(:statuses AS text[]) IS NULL OR h."status" = ANY(:statuses))
  AND (NOT :open_only OR h."status" <> 'closed')
  AND (CAST(:levels AS text[]) IS NULL OR h."level" = ANY(:levels))
  AND (CAST(:channels AS text[]) IS NULL OR h."channel" = ANY(:channels))
  AND (NOT :overdue OR (h."status" <> 'closed' AND h."deadline" < :today))
  AND (NOT :supervised OR h."supervision_level" IS NOT NULL)
  AND (NOT :five_incomplete OR cardinality({FIVE_MISSING_SQL}) > 0)
  AND (CAST(:industries AS text[]) IS NULL OR e."industry" = ANY(:industries))
  AND (CAST(:found_from AS date) IS NULL OR h."found_at" >= :found_from)
  AND (CAST(:found_to AS date) IS NULL OR h."found_at" <= :found_to)
  AND (CAST(:text AS text) IS NULL OR h."code" LIKE :text OR h."title" LIKE :text OR e."name" LIKE :text)
"""


def _params(scope: str, f: LedgerFilters) -> dict[str, Any]:
    def arr(values: tuple[str, ...]) -> list[str] | None:
        return list(values) if values else None

    needle = f.text.strip()[:60]
    lit = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {
        "statuses": arr(f.statuses), "open_only": f.open_only, "levels": arr(f.levels),
        "channels": arr(f.channels), "overdue": f.overdue, "supervised": f.supervised,
        "five_incomplete": f.five_incomplete,
        "industries": arr(f.industries), "found_from": f.found_from, "found_to": f.found_to,
        "text": f"%{lit}%" if needle else None, "today": f.today or clock.today(), **scope_params(scope),
    }


_FLIP = {"asc": "DESC", "desc": "ASC"}


def order_by(sort: list[tuple[str, str]] | None, *, overdue_only: bool = False) -> str:
    """ORDER BY clause from whitelisted (column, 'asc'|'desc') pairs; default: overdue first, newest.

    With ``overdue_only`` (every row overdue, so ``overdue_days`` = today − deadline) days overdue sort as the
    deadline the other way round: the same order, which an index on the open hazards' deadline can serve.
    """
    parts = []
    for col, direction in sort or []:
        if col not in SORT_COLUMNS or direction.lower() not in ("asc", "desc"):
            raise LedgerError(f"不能按“{col}”排序")
        if col == "overdue_days" and overdue_only:
            parts.append(f'h."deadline" {_FLIP[direction.lower()]}')
            continue
        parts.append(f"{SORT_COLUMNS[col]} {direction.upper()} NULLS LAST")
    if not parts:
        parts = ['"overdue_days" DESC NULLS LAST', 'h."found_at" DESC']
    return "ORDER BY " + ", ".join([*parts, 'h."code"'])


# The default order (overdue first by days, then newest) as two index-friendly top-N reads: the overdue hazards by
# deadline (ix_hazards_open_deadline) and the others newest first (ix_hazards_found_at), each cut at the page's end,
# then merged. One ORDER BY over the computed overdue_days sorted every match: 3.1 s for the city's first page at
# 1M / 3M, 0.18 s this way (bench/bench_hazard_ledger.py). Same rows, same order (tests/test_hazard_ledger.py).
_DEFAULT_PAGE = f"""
WITH page AS MATERIALIZED (
    (SELECT h."id", 0 AS part, h."deadline", h."found_at", h."code" {_FROM} {_WHERE}
       AND h."status" <> 'closed' AND h."deadline" < :today
     ORDER BY h."deadline", h."found_at" DESC, h."code" LIMIT :upto)
    UNION ALL
    (SELECT h."id", 1 AS part, NULL, h."found_at", h."code" {_FROM} {_WHERE}
       AND (h."status" = 'closed' OR h."deadline" IS NULL OR h."deadline" >= :today)
     ORDER BY h."found_at" DESC, h."code" LIMIT :upto)
)
{_SELECT}
FROM page p JOIN "hazards" h ON h."id" = p."id"
LEFT JOIN "enterprises" e ON e."id" = h."enterprise_id"
LEFT JOIN "units" u ON u."id" = h."unit_id"
ORDER BY p.part, p."deadline", p."found_at" DESC, p."code" OFFSET :off LIMIT :lim
"""  # noqa: S608 - fixed fragments; values bound


def _rows(conn: Connection, sql: str, params: dict[str, Any]) -> list[LedgerRow]:
    out = []
    for r in conn.execute(text(sql), params).mappings():
        row = LedgerRow(**{k: r[k] for k in LedgerRow.__annotations__})  # type: ignore[typeddict-item]
        row["funds_yuan"] = float(row["funds_yuan"]) if row["funds_yuan"] is not None else None
        out.append(row)
    return out


def hazard_page(
    conn: Connection, *, scope: str, filters: LedgerFilters, sort: list[tuple[str, str]] | None = None,
    offset: int = 0, limit: int = 100, count_cap: int | None = None,
) -> tuple[list[LedgerRow], int]:
    """One page of the ledger and the number of matching hazards.

    With ``count_cap``: -1 when more than ``count_cap`` match past the page (:func:`geo.paging.capped_count`).
    """
    params = _params(scope, filters)
    off, lim = max(0, int(offset)), max(1, min(int(limit), MAX_PAGE))
    total = capped_count(conn, f"{_FROM} {_WHERE}", params, offset=off, limit=lim, count_cap=count_cap)
    if not sort:
        return _rows(conn, _DEFAULT_PAGE, {**params, "off": off, "lim": lim, "upto": off + lim}), total
    sql = f"{_SELECT} {_FROM} {_WHERE} {order_by(sort, overdue_only=filters.overdue)} OFFSET :off LIMIT :lim"
    return _rows(conn, sql, {**params, "off": off, "lim": lim}), total


def hazard_export_rows(
    conn: Connection, *, scope: str, filters: LedgerFilters, sort: list[tuple[str, str]] | None = None,
    max_rows: int = MAX_EXPORT_ROWS,
) -> list[LedgerRow]:
    """Every matching hazard (up to ``max_rows``) for the xlsx export, in ledger order."""
    sql = f"{_SELECT} {_FROM} {_WHERE} {order_by(sort, overdue_only=filters.overdue)} LIMIT :lim"
    return _rows(conn, sql, {**_params(scope, filters), "lim": max_rows})


INDUSTRY_TABLES = ("enterprises", "units")  # what scope_industries reads (its cache key, dashboard/components)


def scope_industries(conn: Connection, *, scope: str) -> list[str]:
    """Industries of the enterprises in ``scope`` (the 行业 filter's choices of the hazard ledger and /risk).

    Of the enterprises, not of the hazards' enterprises: the join of every hazard took 1.9 s city-wide at
    1M / 3M (0.3 s now), and the list no longer changes with each reported hazard, so it is cached per
    enterprise load.
    """
    sql = (
        'SELECT DISTINCT e."industry" FROM "enterprises" e '  # noqa: S608
        f'WHERE e."industry" IS NOT NULL AND {unit_id_in_scope("e.unit_id")} AND {enterprise_in_department("e")} '
        'ORDER BY 1'
    )
    return [str(v) for v in conn.execute(text(sql), scope_params(scope)).scalars()]


def hazard_location(conn: Connection, *, scope: str, code: str) -> dict[str, Any] | None:
    """Grid cell and point of one hazard in ``scope`` (for "locate on the map"), or None."""
    sql = (
        'SELECT h."code", u."code" AS "unit_code", ST_Y(coalesce(h."geom", e."geom")) AS "lat", '  # noqa: S608
        'ST_X(coalesce(h."geom", e."geom")) AS "lon" FROM "hazards" h '
        'LEFT JOIN "enterprises" e ON e."id" = h."enterprise_id" LEFT JOIN "units" u ON u."id" = h."unit_id" '
        f'WHERE h."code" = :code AND {unit_id_in_scope("h.unit_id")} AND {enterprise_in_department("e")}'
    )
    row = conn.execute(text(sql), {"code": code, **scope_params(scope)}).mappings().one_or_none()
    return dict(row) if row else None
