"""The inspection ledger (检查台账) and the enforcement statistics (检查执法统计), scope-limited.

Rows come from both sources of ``inspections``: imported ledgers (``source_run_id``) and inspections recorded in
the app (``created_by``, :func:`geo.inspections_app.record_inspection`). A row is in scope when the unit it names
(``unit_id``: the inspected unit, or the enterprise's grid cell) lies in the scope subtree — the same attribution
as the refresh's 四查 counts. Filters, whitelisted sorting and paging follow :mod:`geo.hazard_ledger`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy import Connection, text

from domain.enforcement import EnforcementCounts
from domain.labels import INSPECTION_KIND, INSPECTION_RESULT
from geo.paging import capped_count
from geo.scope import enterprise_id_in_department, enterprise_in_department, path_in_scope, scope_params

MAX_PAGE = 500
MAX_EXPORT_ROWS = 50_000
SOURCES = ("app", "import")

# Sortable columns: public name → SQL expression (nothing else is ever placed in ORDER BY).
SORT_COLUMNS = {
    "code": 'x."code"',
    "inspected_at": 'x."inspected_at"',
    "kind": 'x."kind"',
    "result": 'x."result"',
    "enterprise_name": 'e."name"',
    "unit_name": 'u."name"',
    "inspectors": 'x."inspectors"',
    "document_no": 'x."document_no"',
    "penalty_yuan": 'x."penalty_yuan"',
    "hazards_found": 'x."hazards_found"',
    "draw_code": 'd."code"',
    "inspector_level": 'x."inspector_level"',
}


class InspectionLedgerError(ValueError):
    """A filter or sort value that is not allowed (message in Chinese)."""


class InspectionRow(TypedDict):
    """One inspection as the ledger grid and its export read it."""

    code: str
    inspected_at: date
    kind: str | None
    result: str | None
    inspector_level: int | None
    inspectors: str | None
    document_no: str | None
    penalty_yuan: float | None
    hazards_found: int | None
    note: str | None
    source: str  # 'app' (recorded in SafeGrid) or 'import' (a loaded ledger)
    credit_code: str | None
    enterprise_name: str | None
    unit_code: str | None
    unit_name: str | None
    draw_code: str | None


@dataclass(frozen=True)
class InspectionFilters:
    """Filters of the ledger; empty tuples / None mean "any". ``area`` is a unit code inside the scope."""

    kinds: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    area: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    text: str = ""

    def __post_init__(self) -> None:
        """Reject values outside the enumerations (they never reach SQL anyway, but fail loudly)."""
        for values, allowed, label in ((self.kinds, INSPECTION_KIND.codes, "检查方式"),
                                       (self.results, INSPECTION_RESULT.codes, "检查结果"),
                                       (self.sources, SOURCES, "来源")):
            bad = set(values) - set(allowed)
            if bad:
                raise InspectionLedgerError(f"{label}取值无效：{'、'.join(sorted(bad))[:60]}")
        if self.area is not None and not (self.area.isdigit() and 6 <= len(self.area) <= 14):
            raise InspectionLedgerError("区域代码格式错误：应为 6-14 位数字")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InspectionLedgerError("起始日期不能晚于结束日期")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping of the filters in use (for the audit log)."""
        return {k: (v.isoformat() if isinstance(v, date) else list(v) if isinstance(v, tuple) else v)
                for k, v in self.__dict__.items() if v not in ((), None, "")}


_SELECT = """
SELECT x."code", x."inspected_at", x."kind", x."result", x."inspector_level", x."inspectors", x."document_no",
       x."penalty_yuan", x."hazards_found", x."note",
       CASE WHEN x."created_by" IS NOT NULL THEN 'app' ELSE 'import' END AS "source",
       e."credit_code", e."name" AS "enterprise_name", u."code" AS "unit_code", u."name" AS "unit_name",
       d."code" AS "draw_code"
"""
_FROM = """
FROM "inspections" x
JOIN "units" u ON u."id" = x."unit_id"
LEFT JOIN "enterprises" e ON e."id" = x."enterprise_id"
LEFT JOIN "inspection_draws" d ON d."id" = x."draw_id"
"""
# The area's subtree: its path is looked up inside the scope (so a foreign area matches nothing).
_AREA = """(CAST(:area AS text) IS NULL OR u."path" LIKE
       (SELECT a."path" FROM "units" a WHERE a."code" = :area AND a."path" LIKE :scope || '%') || '%')"""
_WHERE = f"""
WHERE {path_in_scope("u.path")} AND {enterprise_in_department("e")}
  AND {_AREA}
  AND (CAST(:kinds AS text[]) IS NULL OR x."kind" = ANY(:kinds))
  AND (CAST(:results AS text[]) IS NULL OR x."result" = ANY(:results))
  AND (NOT :src_app OR x."created_by" IS NOT NULL)
  AND (NOT :src_import OR x."created_by" IS NULL)
  AND (CAST(:date_from AS date) IS NULL OR x."inspected_at" >= :date_from)
  AND (CAST(:date_to AS date) IS NULL OR x."inspected_at" <= :date_to)
  AND (CAST(:text AS text) IS NULL OR x."code" LIKE :text OR e."name" LIKE :text OR x."document_no" LIKE :text
       OR x."inspectors" LIKE :text)
"""


def _params(scope: str, f: InspectionFilters) -> dict[str, Any]:
    def arr(values: tuple[str, ...]) -> list[str] | None:
        return list(values) if values else None

    needle = f.text.strip()[:60]
    lit = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    both = set(f.sources) == set(SOURCES)  # both sources = no source filter
    return {
        "area": f.area, "kinds": arr(f.kinds), "results": arr(f.results),
        "src_app": "app" in f.sources and not both, "src_import": "import" in f.sources and not both,
        "date_from": f.date_from, "date_to": f.date_to, "text": f"%{lit}%" if needle else None,
        **scope_params(scope),
    }


def order_by(sort: list[tuple[str, str]] | None) -> str:
    """ORDER BY clause from whitelisted (column, 'asc'|'desc') pairs; default: newest first."""
    parts = []
    for col, direction in sort or []:
        if col not in SORT_COLUMNS or direction.lower() not in ("asc", "desc"):
            raise InspectionLedgerError(f"不能按“{col}”排序")
        parts.append(f"{SORT_COLUMNS[col]} {direction.upper()} NULLS LAST")
    if not parts:
        parts = ['x."inspected_at" DESC']
    return "ORDER BY " + ", ".join([*parts, 'x."id" DESC'])


def _rows(conn: Connection, sql: str, params: dict[str, Any]) -> list[InspectionRow]:
    out = []
    for r in conn.execute(text(sql), params).mappings():
        row = InspectionRow(**{k: r[k] for k in InspectionRow.__annotations__})  # type: ignore[typeddict-item]
        if isinstance(row["penalty_yuan"], Decimal):
            row["penalty_yuan"] = float(row["penalty_yuan"])
        out.append(row)
    return out


def inspection_page(
    conn: Connection, *, scope: str, filters: InspectionFilters, sort: list[tuple[str, str]] | None = None,
    offset: int = 0, limit: int = 100, count_cap: int | None = None,
) -> tuple[list[InspectionRow], int]:
    """One page of the ledger (newest first unless sorted) and the number of matching inspections.

    With ``count_cap`` the count stops ``count_cap`` rows past the page's end: the total is -1 ("more", as AG
    Grid's infinite model reads an unknown row count) when more match. At millions of inspections an exact
    count costs more than the page itself (bench/bench_inspections.py).
    """
    params = _params(scope, filters)
    off, lim = max(0, int(offset)), max(1, min(int(limit), MAX_PAGE))
    total = capped_count(conn, f"{_FROM} {_WHERE}", params, offset=off, limit=lim, count_cap=count_cap)
    sql = f"{_SELECT} {_FROM} {_WHERE} {order_by(sort)} OFFSET :off LIMIT :lim"
    return _rows(conn, sql, {**params, "off": off, "lim": lim}), total


def inspection_export_rows(
    conn: Connection, *, scope: str, filters: InspectionFilters, sort: list[tuple[str, str]] | None = None,
    max_rows: int = MAX_EXPORT_ROWS,
) -> list[InspectionRow]:
    """Every matching inspection (up to ``max_rows``) for the xlsx export, in ledger order."""
    sql = f"{_SELECT} {_FROM} {_WHERE} {order_by(sort)} LIMIT :lim"
    return _rows(conn, sql, {**_params(scope, filters), "lim": max_rows})


def inspection_target(conn: Connection, *, scope: str, code: str) -> tuple[str | None, str] | None:
    """Return (enterprise credit code or None, unit code) of inspection ``code`` in ``scope``; None outside it."""
    row = conn.execute(text(
        f'SELECT e."credit_code", u."code" AS unit_code {_FROM} WHERE x."code" = :code AND {path_in_scope("u.path")} '
        f'AND {enterprise_in_department("e")}'
    ), {"code": code[:40], **scope_params(scope)}).one_or_none()
    return (row.credit_code, row.unit_code) if row else None


def area_choices(conn: Connection, *, scope: str, depth: int = 2) -> list[tuple[str, str, int]]:
    """Return (code, name, level) of the scope unit and its units ``depth`` levels down (the area filter).

    Two levels keep the list short at every scope (a city: its counties and townships; a township: its villages
    and grid cells).
    """
    rows = conn.execute(text(
        f'SELECT "code", "name", "level" FROM "units" u WHERE {path_in_scope("u.path")} '  # noqa: S608
        'AND u."level" <= (SELECT s."level" FROM "units" s WHERE s."path" = :scope) + :depth '
        'ORDER BY u."path" LIMIT 2000'
    ), {"depth": depth, **scope_params(scope)}).all()
    return [(r.code, r.name, int(r.level)) for r in rows]


# --- 检查执法统计 ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AreaEnforcement:
    """The enforcement counts of one child area of the scope unit (``code`` None: the scope unit's own rows)."""

    code: str | None
    name: str
    counts: EnforcementCounts


_AGG_COLUMNS = "a.inspections, a.hazards_found, a.ordered_rectify, a.closed_down, a.penalties, a.penalty_yuan"


def enforcement_by_area(conn: Connection, *, scope: str, start: date, end: date) -> list[AreaEnforcement]:
    """Count inspections, hazards found, 责令整改 / 停产整顿 and 行政处罚 (count, 元) per child area, ``start``…``end``.

    Every child unit of the scope unit is listed (zeros included), in code order; rows naming the scope unit
    itself come last as 本级 (only when there are any). The rule of what counts is ``domain.enforcement``.
    """
    sql = (
        "WITH k AS (SELECT split_part(substr(u.\"path\", char_length(:scope) + 1), '.', 1) AS code, "  # noqa: S608
        'x."result", x."hazards_found", x."penalty_yuan" FROM "inspections" x JOIN "units" u ON u."id" = x."unit_id" '
        f'WHERE {path_in_scope("u.path")} AND {enterprise_id_in_department("x.enterprise_id")} '
        'AND x."inspected_at" BETWEEN :start AND :end), '
        "agg AS (SELECT code, count(*) AS inspections, coalesce(sum(\"hazards_found\"), 0) AS hazards_found, "
        "count(*) FILTER (WHERE \"result\" = 'ordered_rectify') AS ordered_rectify, "
        "count(*) FILTER (WHERE \"result\" = 'closed_down') AS closed_down, "
        "count(*) FILTER (WHERE \"result\" = 'penalized') AS penalties, "
        "coalesce(sum(\"penalty_yuan\") FILTER (WHERE \"result\" = 'penalized'), 0) AS penalty_yuan "
        "FROM k GROUP BY code) "
        f'SELECT c."code", c."name", 0 AS own, {_AGG_COLUMNS} FROM "units" c LEFT JOIN agg a ON a.code = c."code" '
        'WHERE c."parent_id" = (SELECT "id" FROM "units" WHERE "path" = :scope) '
        f"UNION ALL SELECT NULL, '本级', 1, {_AGG_COLUMNS} FROM agg a WHERE a.code = '' "
        'ORDER BY own, "code"'
    )
    out = []
    for r in conn.execute(text(sql), {"start": start, "end": end, **scope_params(scope)}).mappings():
        counts = EnforcementCounts(
            int(r["inspections"] or 0), int(r["hazards_found"] or 0), int(r["ordered_rectify"] or 0),
            int(r["closed_down"] or 0), int(r["penalties"] or 0), float(r["penalty_yuan"] or 0))
        out.append(AreaEnforcement(r["code"] if not r["own"] else None, r["name"], counts))
    return out


def enforcement_total(conn: Connection, *, scope: str, start: date, end: date) -> EnforcementCounts:
    """Return the scope's whole enforcement counts in ``start``…``end`` (the sum of :func:`enforcement_by_area`)."""
    total = EnforcementCounts()
    for area in enforcement_by_area(conn, scope=scope, start=start, end=end):
        total = total + area.counts
    return total
