"""四查 standing and inspections worked in the app: reads for the units-behind layer and list (issue 16).

``unit_cadence`` is written by the refresh (``geo/sql/refresh_unit_stats.sql``, rule in ``domain.cadence``);
:data:`BEHIND_POINTS` is the point source of the map layer of units behind (``layers/registry.py``), and
:func:`units_behind` the list of them in a scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, text

from geo.map_queries import PointSource
from geo.scope import path_in_scope, scope_params

# Units behind on 四查 at their label point, classed by level (the layer's record is in layers/registry.py).
BEHIND_POINTS = PointSource(
    table="unit_cadence", joins='JOIN "units" u ON u."id" = t."id"', where='t."behind"',
    cls="'l' || t.\"level\"", classes=("l1", "l2", "l3", "l4", "l5"),
    props=(("name", 'u."name"'), ("code", 'u."code"'), ("last_at", 't."last_at"')),
)


@dataclass(frozen=True)
class BehindUnit:
    """A unit behind on 四查: neither the current period nor the last closed one has a record."""

    code: str
    name: str
    level: int
    parent: str | None
    cadence: str
    period_start: date
    last_at: date | None


def units_behind(conn: Connection, *, scope: str, level: int | None = None, limit: int = 500) -> tuple[
        list[BehindUnit], int]:
    """Return the scope's units behind (highest level first, longest without a record first) and their count."""
    rows = conn.execute(text(
        'SELECT u."code", u."name", k."level", p."name" AS parent, k."cadence", k."period_start", k."last_at", '  # noqa: S608
        'count(*) OVER () AS total FROM "unit_cadence" k JOIN "units" u ON u."id" = k."id" '
        'LEFT JOIN "units" p ON p."id" = u."parent_id" '
        f'WHERE k."behind" AND {path_in_scope("u.path")} AND (CAST(:level AS int) IS NULL OR k."level" = :level) '
        'ORDER BY k."level", k."last_at" NULLS FIRST, u."code" LIMIT :lim'
    ), {"level": level, "lim": limit, **scope_params(scope)}).mappings().all()
    total = int(rows[0]["total"]) if rows else 0
    return [BehindUnit(r["code"], r["name"], int(r["level"]), r["parent"], r["cadence"], r["period_start"],
                       r["last_at"]) for r in rows], total
