"""SQL of 覆盖质量 (``/coverage``): per check of ``domain.coverage``, the rows of a unit's subtree and their counts.

Every check is one SELECT of the rows it finds with the same columns (``path`` of the unit the row belongs
to, ``key``, ``name``, ``place``, ``detail``); the counts per child unit and the drill-down list are both
built from it, so they cannot disagree. ``detail`` is JSON the page reads (``domain.coverage`` words it).

Where rows belong: units by their own path; enterprises and hazards by their grid cell. Enterprises
outside every grid cell have none: they count under the unit whose polygon holds them (a county sees the
points in its territory that no cell takes); rows with neither a cell nor a point (no coordinates, no
cell) count only at the top of the tree, under "未归属". Vacancies are read live against the staffing
rule in force; 从未检查巡查 from the last refresh (``unit_cadence``); 网格边界 from the loaders' findings
(``dq_findings``, the latest per enterprise: a point moved since its finding shows until the next load).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from domain.coverage import CHECK, CHECKS, UNASSIGNED
from geo.hazard_ledger import FIVE_MISSING_SQL
from geo.refresh import staffing
from geo.rule_settings import industry_catalogue
from geo.scope import NO_DEPARTMENT, path_in_scope, scope_params

_IN_TREE = "IN (SELECT \"id\" FROM \"units\" WHERE \"path\" LIKE :upath || '%')"


def _rows_of(table: str, alias: str, cols: str, where: str, *, owner: str | None = None, top: bool = False) -> str:
    """SELECT the rows of ``table`` meeting ``where`` whose unit is in the subtree.

    ``owner``: the row's unit (default its ``unit_id``); ``top``: also the rows of no unit (at the root).
    """
    owner = owner or f'{alias}."unit_id"'
    tree = f"{owner} {_IN_TREE}"
    tree = f"({tree} OR (:top AND {owner} IS NULL))" if top else tree
    return (f'SELECT (SELECT c."path" FROM "units" c WHERE c."id" = {owner}) AS path, {cols} '  # noqa: S608
            f'FROM "{table}" {alias} WHERE {where} AND {tree}')


_ENTERPRISE = 'e."credit_code" AS key, e."name", e."address" AS place, {detail} AS detail'
_HAZARD = ('CAST(h."id" AS text) AS key, h."title" AS name, '
           '(SELECT e."name" FROM "enterprises" e WHERE e."id" = h."enterprise_id") AS place, '
           "jsonb_build_object('code', h.\"code\", 'level', h.\"level\"{more}) AS detail")
_OPEN = "h.\"status\" <> 'closed'"
# A hazard belongs to its own grid cell, else its enterprise's (as in the refresh: refresh_open_hazards.sql).
_HAZARD_UNIT = 'coalesce(h."unit_id", (SELECT e."unit_id" FROM "enterprises" e WHERE e."id" = h."enterprise_id"))'

# The latest placement finding of each enterprise (a later no_grid_cell supersedes an earlier border one).
_LATEST_PLACEMENT = (
    'SELECT DISTINCT ON (d."entity_key") d."entity_key", d."kind", d."detail" FROM "dq_findings" d '
    "WHERE d.\"entity\" = 'enterprises' AND d.\"kind\" IN ('on_grid_border', 'no_grid_cell') "
    'ORDER BY d."entity_key", d."id" DESC'
)
_BORDER_DETAIL = (f"(SELECT jsonb_build_object('finding', f.\"detail\") FROM ({_LATEST_PLACEMENT}) f "  # noqa: S608
                  'WHERE f."entity_key" = e."credit_code")')
_ON_BORDER = (f'e."geom" IS NOT NULL AND e."credit_code" IN (SELECT f."entity_key" FROM ({_LATEST_PLACEMENT}) f '  # noqa: S608
              "WHERE f.\"kind\" = 'on_grid_border')")
_DUTY_FILLED = (
    'SELECT count(DISTINCT d."seq") AS n FROM "duties" d WHERE d."unit_id" = u."id" AND d."role" = r.role '
    'AND d."seq" BETWEEN 1 AND r.n AND (d."until" IS NULL OR d."until" >= :as_of) '
    'AND (d."since" IS NULL OR d."since" <= :as_of)'
)

# One SELECT per check; binds :upath (the unit's path, already checked in scope), :top (the unit is the
# root of the tree: rows of no unit count there), :as_of, :staffing and :industries (the catalogue's names).
_ITEMS: dict[str, str] = {
    "vacancy": (
        'SELECT u."path", u."code" AS key, u."name", NULL::text AS place, '  # noqa: S608 - constant fragments
        "jsonb_build_object('missing', jsonb_object_agg(r.role, r.n - coalesce(f.n, 0))) AS detail "
        'FROM "units" u '
        "JOIN (SELECT CAST(l.key AS int) AS level, x.key AS role, CAST(x.value AS int) AS n "
        "      FROM jsonb_each(CAST(:staffing AS jsonb)) l CROSS JOIN LATERAL jsonb_each_text(l.value) x) r "
        '  ON r.level = u."level" '
        f"LEFT JOIN LATERAL ({_DUTY_FILLED}) f ON true "
        "WHERE u.\"path\" LIKE :upath || '%' AND r.n > coalesce(f.n, 0) "
        'GROUP BY u."id"'
    ),
    "never_checked": (
        "SELECT u.\"path\", u.\"code\" AS key, u.\"name\", NULL::text AS place, "
        "jsonb_build_object('cadence', k.\"cadence\") AS detail "
        'FROM "unit_cadence" k JOIN "units" u ON u."id" = k."id" '
        "WHERE u.\"path\" LIKE :upath || '%' AND k.\"cadence\" IS NOT NULL AND k.\"last_at\" IS NULL"
    ),
    "no_point": _rows_of("enterprises", "e", _ENTERPRISE.format(detail="NULL::jsonb"), 'e."geom" IS NULL', top=True),
    # No cell: the deepest area of the subtree holding the point (outside the subtree: '-', left out).
    "outside_cells": (
        "SELECT coalesce((SELECT a.\"path\" FROM \"units\" a WHERE a.\"path\" LIKE :upath || '%' "  # noqa: S608
        'AND a."level" < 5 AND a."geom" && e."geom" AND ST_Intersects(a."geom", e."geom") '
        "ORDER BY a.\"level\" DESC LIMIT 1), CASE WHEN :top THEN NULL ELSE '-' END) AS path, "
        + _ENTERPRISE.format(detail="jsonb_build_object('lon', round(ST_X(e.\"geom\")::numeric, 6), "
                                    "'lat', round(ST_Y(e.\"geom\")::numeric, 6))")
        + ' FROM "enterprises" e WHERE e."unit_id" IS NULL AND e."geom" IS NOT NULL'
    ),
    "on_border": _rows_of("enterprises", "e", _ENTERPRISE.format(detail=_BORDER_DETAIL), _ON_BORDER),
    "unassessed": _rows_of("enterprises", "e", _ENTERPRISE.format(detail="NULL::jsonb"), 'e."risk_level" IS NULL'),
    "unknown_industry": _rows_of(
        "enterprises", "e", _ENTERPRISE.format(detail="jsonb_build_object('industry', e.\"industry\")"),
        'e."industry" IS NOT NULL AND NOT (e."industry" = ANY(CAST(:industries AS text[])))'),
    "hazard_no_point": _rows_of("hazards", "h", _HAZARD.format(more=""), f'{_OPEN} AND h."geom" IS NULL',
                                owner=_HAZARD_UNIT, top=True),
    "hazard_five": _rows_of(
        "hazards", "h", _HAZARD.format(more=f", 'missing', {FIVE_MISSING_SQL}"),
        f"{_OPEN} AND cardinality({FIVE_MISSING_SQL}) > 0", owner=_HAZARD_UNIT, top=True),
    "hazard_no_deadline": _rows_of("hazards", "h", _HAZARD.format(more=""), f'{_OPEN} AND h."deadline" IS NULL',
                                   owner=_HAZARD_UNIT, top=True),
}
assert set(_ITEMS) == set(CHECK), "every check of domain.coverage has its SQL"

# The child of the unit a row's path belongs to ('' = the unit itself, NULL = no unit).
_CHILD = "split_part(substr(i.path, char_length(:upath) + 1), '.', 1)"


@dataclass(frozen=True)
class CoverageUnit:
    """The unit the page shows: where it is in the tree, and its children."""

    id: int
    code: str
    name: str
    level: int
    path: str
    top: bool  # the root of the whole tree (the city): rows of no unit count there
    children: list[tuple[str, str]]  # (code, name) in code order


@dataclass(frozen=True)
class CoverageItem:
    """A row a check found: a unit (key = its code), an enterprise (credit code) or a hazard (id)."""

    key: str
    name: str
    place: str | None
    unit_name: str | None
    detail: dict[str, Any]


def coverage_unit(conn: Connection, *, scope: str, code: str | None) -> CoverageUnit | None:
    """Return the unit ``code`` (default: the scope's root) with its children, None when outside ``scope``."""
    params = scope_params(scope)
    where = 'u."code" = :code' if code else 'u."path" = :scope'
    row = conn.execute(text(
        'SELECT u."id", u."code", u."name", u."level", u."path", u."parent_id" IS NULL AS top '  # noqa: S608
        f'FROM "units" u WHERE {where} '
        f"AND {path_in_scope('u.path')} AND {NO_DEPARTMENT}"  # the grid's data quality: not a department's view
    ), {**params, "code": code}).one_or_none()
    if row is None:
        return None
    children = conn.execute(text(
        'SELECT "code", "name" FROM "units" WHERE "parent_id" = :id ORDER BY "code"'), {"id": row.id}).all()
    return CoverageUnit(row.id, row.code, row.name, row.level, row.path, row.top,
                        [(c.code, c.name) for c in children])


def _params(conn: Connection, unit: CoverageUnit, as_of: date) -> dict[str, Any]:
    required = staffing(conn)
    return {"upath": unit.path, "top": unit.top, "as_of": as_of, "industries": list(industry_catalogue(conn).names),
            "staffing": json.dumps({str(k): dict(v) for k, v in required.items()})}


def coverage_counts(conn: Connection, *, unit: CoverageUnit, as_of: date) -> dict[str, dict[str, int]]:
    """Return ``{child code: {check: count}}``; ``''`` is the unit itself, ``UNASSIGNED`` rows of no unit."""
    union = " UNION ALL ".join(
        f"SELECT '{c.key}' AS check_key, i.path FROM ({_ITEMS[c.key]}) i" for c in CHECKS)  # noqa: S608 - constants
    rows = conn.execute(text(
        f"SELECT x.check_key, coalesce({_CHILD.replace('i.path', 'x.path')}, :unassigned) AS child, count(*) AS n "  # noqa: S608
        f"FROM ({union}) x WHERE x.path IS DISTINCT FROM '-' GROUP BY 1, 2"
    ), {**_params(conn, unit, as_of), "unassigned": UNASSIGNED}).all()
    out: dict[str, dict[str, int]] = {}
    for check_key, child, n in rows:
        out.setdefault(child, {})[check_key] = int(n)
    return out


def coverage_items(conn: Connection, *, unit: CoverageUnit, check: str, as_of: date, limit: int = 500) -> tuple[
        list[CoverageItem], int]:
    """Return the rows ``check`` finds in the unit's subtree (at most ``limit``, in place order) and their count."""
    # A unit's row names its parent; an enterprise's or a hazard's its grid cell (or the area holding it).
    owner = ('o."id" = (SELECT p."parent_id" FROM "units" p WHERE p."path" = i.path)'
             if CHECK[check].entity == "unit" else 'o."path" = i.path')
    rows = conn.execute(text(
        "SELECT i.key, i.name, i.place, i.detail, o.\"name\" AS unit_name, count(*) OVER () AS total "  # noqa: S608
        f"FROM ({_ITEMS[check]}) i LEFT JOIN \"units\" o ON {owner} "
        "WHERE i.path IS DISTINCT FROM '-' ORDER BY i.path NULLS FIRST, i.key LIMIT :lim"
    ), {**_params(conn, unit, as_of), "lim": limit}).mappings().all()
    total = int(rows[0]["total"]) if rows else 0
    return [CoverageItem(r["key"], r["name"], r["place"], r["unit_name"], dict(r["detail"] or {}))
            for r in rows], total
