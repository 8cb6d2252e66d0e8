"""Unit look-ups and summaries, always limited to the caller's scope (see :mod:`geo.scope`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from geo.scope import path_in_scope, scope_params

# unit_stats columns exposed in summaries (KPIs of the unit's whole subtree).
STAT_COLUMNS = (
    "children", "enterprises", "ent_red", "ent_orange", "ent_yellow", "ent_blue", "ent_unassessed",
    "hazards_open", "hazards_overdue", "hazards_major_open", "hazards_supervised", "sources_g1",
    "sources_g2", "sources_g3", "sources_g4", "persons_present", "persons_required", "vacancies_subtree",
    "last_inspection_at", "inspection_overdue", "risk_score", "risk_class",
)
_STATS = ", ".join(f's."{c}"' for c in STAT_COLUMNS)
_UNIT = 'u."code", u."name", u."level", u."kind", u."path"'


def _row(mapping: Any) -> dict[str, Any]:
    out = dict(mapping)
    has_stats = out.pop("has_stats")
    out["stats"] = {c: out.pop(c) for c in STAT_COLUMNS} if has_stats else None
    return out


def get_unit(conn: Connection, *, scope: str, code: str) -> dict[str, Any] | None:
    """Return a unit with its stats, or None when it does not exist inside ``scope``."""
    sql = (
        f'SELECT {_UNIT}, s."unit_id" IS NOT NULL AS has_stats, {_STATS} FROM "units" u '  # noqa: S608 - constant column lists
        f'LEFT JOIN "unit_stats" s ON s."unit_id" = u."id" WHERE u."code" = :code AND {path_in_scope("u.path")}'
    )
    row = conn.execute(text(sql), {"code": code, **scope_params(scope)}).mappings().one_or_none()
    return _row(row) if row else None


def unit_summary(conn: Connection, *, scope: str, code: str) -> dict[str, Any] | None:
    """Return a unit, its stats and its direct children with their stats; None outside ``scope``."""
    unit = get_unit(conn, scope=scope, code=code)
    if unit is None:
        return None
    sql = (
        f'SELECT {_UNIT}, s."unit_id" IS NOT NULL AS has_stats, {_STATS} FROM "units" u '  # noqa: S608 - constant column lists
        'JOIN "units" p ON p."id" = u."parent_id" LEFT JOIN "unit_stats" s ON s."unit_id" = u."id" '
        f'WHERE p."code" = :code AND {path_in_scope("u.path")} ORDER BY u."code"'
    )
    rows = conn.execute(text(sql), {"code": code, **scope_params(scope)}).mappings()
    unit["children"] = [_row(r) for r in rows]
    return unit


def units_in_scope(conn: Connection, *, scope: str, max_depth: int = 1, limit: int = 500) -> list[dict[str, Any]]:
    """Return the scope unit and its descendants down to ``max_depth`` levels below it, by code."""
    sql = (
        'SELECT u."code", u."name", u."level" FROM "units" u '  # noqa: S608 - scope fragment, values bound
        f'WHERE {path_in_scope("u.path")} '
        "AND u.\"level\" <= (SELECT r.\"level\" FROM \"units\" r WHERE r.\"path\" = :scope) + :depth "
        'ORDER BY u."level", u."code" LIMIT :lim'
    )
    rows = conn.execute(text(sql), {"depth": max_depth, "lim": limit, **scope_params(scope)}).mappings()
    return [dict(r) for r in rows]


def child_codes(conn: Connection, *, parent_code: str) -> list[str]:
    """Codes of a unit's direct children, ordered (administration only: not scoped)."""
    return list(conn.execute(text(
        'SELECT c."code" FROM "units" c JOIN "units" p ON p."id" = c."parent_id" '
        'WHERE p."code" = :code ORDER BY c."code"'
    ), {"code": parent_code}).scalars())


def open_in_subtree(conn: Connection, *, path: str) -> int:
    """Return the open hazards of the unit at ``path`` and its subtree as the last roll-up counted them (0: none).

    For choosing how to read a list of them (top-N per group through an index, or one sorted pass), not for display.
    """
    return int(conn.execute(text(
        'SELECT s."hazards_open" FROM "unit_stats" s JOIN "units" u ON u."id" = s."unit_id" WHERE u."path" = :path'
    ), {"path": path}).scalar() or 0)


def data_freshness(conn: Connection) -> datetime | None:
    """When the derived tables were last refreshed (None before the first refresh)."""
    return conn.execute(text('SELECT max("refreshed_at") FROM "refresh_state"')).scalar()


def ping(conn: Connection) -> bool:
    """Tell whether the database answers (used by ``/healthz``)."""
    return conn.execute(text("SELECT 1")).scalar() == 1
