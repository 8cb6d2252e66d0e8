"""Patrols (网格巡查 / 村级日排查): a grid worker's record of a grid cell, optionally of one enterprise in it.

* :func:`patrol_cells` / :func:`cell_enterprises` / :func:`cell_at` — what the phone page offers: the grid
  cells of the scope, the enterprises standing in one, the cell under the browser's location.
* :func:`record` — one patrol, in the caller's scope only (a cell or an enterprise outside it is refused as
  not found). The browser's location, when given, is stored with its distance from the cell; a patrol
  recorded more than ``far_m`` (or its reported accuracy, if larger) outside its cell is *flagged*
  (``far``), never refused: a grid worker may file from the office after the round. The same request key
  again returns the stored patrol (a double tap). Audited.
* :func:`patrols_of_day` — the caller's patrols of one business day (the page's list).

Patrols count for 四查 of the grid cell and its village (``domain.cadence``, the refresh SQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, text

from domain.cadence import PATROL_RESULT
from geo.scope import path_in_scope, scope_params
from geo.users import audit

FAR_OUTSIDE_M = 500.0  # a patrol located further than this outside its cell is flagged
MAX_NOTE = 500


class PatrolError(ValueError):
    """Input a patrol cannot take; the message is the Chinese text the user reads."""


class PatrolNotFoundError(LookupError):
    """The cell or enterprise is not in the caller's scope (same answer for missing and out of scope)."""


@dataclass(frozen=True)
class Cell:
    """A grid cell the caller may patrol."""

    code: str
    name: str
    village: str | None
    patrols_today: int


@dataclass(frozen=True)
class CellEnterprise:
    """An enterprise standing in a cell."""

    credit_code: str
    name: str
    risk_level: str | None


@dataclass(frozen=True)
class NewPatrol:
    """What the patrol page posts."""

    cell_code: str
    result: str
    request_key: str
    enterprise_code: str | None = None
    note: str = ""
    lon: float | None = None
    lat: float | None = None
    accuracy_m: float | None = None


@dataclass(frozen=True)
class PatrolRow:
    """A stored patrol as the page lists it."""

    id: int
    cell_code: str
    cell_name: str
    enterprise_code: str | None
    enterprise_name: str | None
    patrol_date: date
    result: str
    note: str | None
    outside_m: float | None
    far: bool
    created_by: str
    created_at: datetime
    lon: float | None
    lat: float | None


_ROW_SQL = (
    'SELECT p."id", u."code" AS cell_code, u."name" AS cell_name, e."credit_code" AS enterprise_code, '
    'e."name" AS enterprise_name, p."patrol_date", p."result", p."note", p."outside_m", p."far", p."created_by", '
    'p."created_at", ST_X(p."geom") AS lon, ST_Y(p."geom") AS lat '
    'FROM "patrols" p JOIN "units" u ON u."id" = p."unit_id" LEFT JOIN "enterprises" e ON e."id" = p."enterprise_id" '
)


def _row(m: Any) -> PatrolRow:
    return PatrolRow(**{k: m[k] for k in PatrolRow.__dataclass_fields__})


def patrol_cells(conn: Connection, *, scope: str, today: date, limit: int = 2000) -> list[Cell]:
    """Return the grid cells of the scope (with their village and today's patrols), by code."""
    rows = conn.execute(text(
        'SELECT u."code", u."name", v."name" AS village, '  # noqa: S608 - scope fragment; values bound
        '(SELECT count(*) FROM "patrols" p WHERE p."unit_id" = u."id" AND p."patrol_date" = :today) AS patrols_today '
        'FROM "units" u LEFT JOIN "units" v ON v."id" = u."parent_id" '
        f'WHERE u."level" = 5 AND {path_in_scope("u.path")} ORDER BY u."code" LIMIT :lim'
    ), {"today": today, "lim": limit, **scope_params(scope)}).mappings()
    return [Cell(r["code"], r["name"], r["village"], int(r["patrols_today"])) for r in rows]


def cell_enterprises(conn: Connection, *, scope: str, cell_code: str, limit: int = 500) -> list[CellEnterprise]:
    """Return the enterprises of grid cell ``cell_code`` (nothing when it is not in the scope)."""
    rows = conn.execute(text(
        'SELECT e."credit_code", e."name", e."risk_level" FROM "enterprises" e '  # noqa: S608 - scope fragment
        'JOIN "units" u ON u."id" = e."unit_id" '
        f'WHERE u."code" = :cell AND u."level" = 5 AND {path_in_scope("u.path")} ORDER BY e."name" LIMIT :lim'
    ), {"cell": cell_code, "lim": limit, **scope_params(scope)}).mappings()
    return [CellEnterprise(r["credit_code"], r["name"], r["risk_level"]) for r in rows]


def cell_at(conn: Connection, *, scope: str, lon: float, lat: float) -> str | None:
    """Return the code of the scope's grid cell containing the point (None: outside every cell of the scope)."""
    return conn.execute(text(
        'SELECT u."code" FROM "units" u WHERE u."level" = 5 '  # noqa: S608 - scope fragment; values bound
        f'AND ST_Intersects(u."geom", ST_SetSRID(ST_MakePoint(:x, :y), 4326)) AND {path_in_scope("u.path")} '
        'ORDER BY u."code" LIMIT 1'
    ), {"x": lon, "y": lat, **scope_params(scope)}).scalar()


def _check(new: NewPatrol) -> None:
    if new.result not in PATROL_RESULT:
        raise PatrolError("请选择巡查结果：无隐患或发现隐患")
    if len(new.note) > MAX_NOTE:
        raise PatrolError(f"备注不能超过 {MAX_NOTE} 字")
    if (new.lon is None) != (new.lat is None):
        raise PatrolError("位置坐标不完整")
    if new.lon is not None and new.lat is not None and not (-180 <= new.lon <= 180 and -90 <= new.lat <= 90):
        raise PatrolError("位置坐标无效")
    if not 16 <= len(new.request_key) <= 64 or not new.request_key.isascii():
        raise PatrolError("页面已过期，请刷新后重新提交")


def record(conn: Connection, *, scope: str, username: str, new: NewPatrol, today: date,
           ip: str | None = None, far_m: float = FAR_OUTSIDE_M) -> tuple[PatrolRow, bool]:
    """Store one patrol of ``new.cell_code`` on the business day ``today``; return it and whether it is new.

    Raises :class:`PatrolNotFoundError` when the cell (or the enterprise in it) is not in ``scope`` and
    :class:`PatrolError` for bad input.
    """
    _check(new)
    existing = conn.execute(text(_ROW_SQL + 'WHERE p."request_key" = :k AND p."created_by" = :u'),
                            {"k": new.request_key, "u": username}).mappings().one_or_none()
    if existing is not None:
        return _row(existing), False
    cell = conn.execute(text(
        'SELECT u."id" FROM "units" u WHERE u."code" = :code AND u."level" = 5 '  # noqa: S608 - scope fragment
        f'AND {path_in_scope("u.path")}'), {"code": new.cell_code, **scope_params(scope)}).scalar()
    if cell is None:
        raise PatrolNotFoundError(new.cell_code)
    enterprise_id = None
    if new.enterprise_code:
        enterprise_id = conn.execute(text(
            'SELECT "id" FROM "enterprises" WHERE "credit_code" = :cc AND "unit_id" = :cell'),
            {"cc": new.enterprise_code, "cell": cell}).scalar()
        if enterprise_id is None:
            raise PatrolNotFoundError(new.enterprise_code)
    pid = conn.execute(text(
        'WITH pt AS (SELECT CASE WHEN CAST(:x AS float8) IS NULL THEN NULL '
        "ELSE ST_SetSRID(ST_MakePoint(:x, :y), 4326) END AS g), "
        'd AS (SELECT pt.g, ST_Distance(pt.g::geography, u."geom"::geography) AS m FROM pt, "units" u '
        'WHERE u."id" = :cell) '
        'INSERT INTO "patrols" ("unit_id", "enterprise_id", "patrol_date", "result", "note", "geom", "accuracy_m", '
        '"outside_m", "far", "created_by", "request_key") '
        "SELECT :cell, :ent, :day, :result, nullif(:note, ''), d.g, :acc, d.m, "
        "coalesce(d.m > greatest(:far_m, coalesce(CAST(:acc AS float8), 0)), false), :user, :k FROM d "
        'ON CONFLICT ("request_key") DO NOTHING RETURNING "id"'
    ), {"x": new.lon, "y": new.lat, "cell": cell, "ent": enterprise_id, "day": today, "result": new.result,
        "note": new.note.strip(), "acc": new.accuracy_m, "far_m": far_m, "user": username,
        "k": new.request_key}).scalar()
    if pid is None:  # the same key, raced by a second tab: read the winner
        row = conn.execute(text(_ROW_SQL + 'WHERE p."request_key" = :k'), {"k": new.request_key}).mappings().one()
        return _row(row), False
    row = conn.execute(text(_ROW_SQL + 'WHERE p."id" = :id'), {"id": pid}).mappings().one()
    patrol = _row(row)
    audit(conn, username=username, action="patrol_recorded", ip=ip,
          detail={"patrol_id": patrol.id, "cell": patrol.cell_code, "enterprise": patrol.enterprise_code,
                  "result": patrol.result, "far": patrol.far,
                  "outside_m": round(patrol.outside_m, 1) if patrol.outside_m is not None else None})
    return patrol, True


def patrols_of_day(conn: Connection, *, scope: str, username: str, day: date, limit: int = 200) -> list[PatrolRow]:
    """Return ``username``'s patrols of ``day`` in the scope, newest first."""
    rows = conn.execute(text(
        _ROW_SQL + f'WHERE p."created_by" = :u AND p."patrol_date" = :day AND {path_in_scope("u.path")} '
        'ORDER BY p."created_at" DESC, p."id" DESC LIMIT :lim'
    ), {"u": username, "day": day, "lim": limit, **scope_params(scope)}).mappings()
    return [_row(r) for r in rows]


def cell_point(conn: Connection, *, scope: str, cell_code: str) -> tuple[float, float] | None:
    """Return a point inside grid cell ``cell_code`` (its label point) for a hazard report, None outside the scope."""
    row = conn.execute(text(
        'SELECT ST_X(p.g) AS lon, ST_Y(p.g) AS lat FROM "units" u '  # noqa: S608 - scope fragment; values bound
        'CROSS JOIN LATERAL (SELECT coalesce(u."label_point", ST_PointOnSurface(u."geom")) AS g) p '
        f'WHERE u."code" = :code AND u."level" = 5 AND {path_in_scope("u.path")}'
    ), {"code": cell_code, **scope_params(scope)}).one_or_none()
    return (float(row.lon), float(row.lat)) if row is not None and row.lon is not None else None
