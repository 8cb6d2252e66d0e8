"""待办: the hazards awaiting the caller's action in their scope, and the public reports of their grid cells.

What awaits whom is decided by the caller (:class:`TodoAsk`, built from the role by the page): 待验收
(``verify``: submitted for verification by someone else), newly 挂牌督办 and overdue (``watch``), an
enterprise account's own hazards to rectify (``enterprise_id``), pending public reports (``public_queue``).
:func:`todo_count` is the header badge in one statement; :func:`todo_items` lists the hazards;
:func:`patrols_due` the scope's grid cells not yet patrolled today (网格巡查, for accounts that patrol).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, text

from geo.scope import NO_DEPARTMENT, enterprise_in_department, path_in_scope, scope_params

# Why a hazard is on the list (each a boolean column of todo_items' rows), most urgent first.
REASONS = ("verify", "rectify", "supervised", "overdue")
NEW_SUPERVISION_DAYS = 7  # 督办 this recent counts as new

_REASONS = """
    (CAST(:verify AS boolean) AND h."status" = 'verifying' AND h."submitted_by" IS DISTINCT FROM :me) AS "verify",
    coalesce(CAST(:watch AS boolean) AND h."supervision_level" IS NOT NULL AND h."supervision_at" >= :since, false)
        AS "supervised",
    coalesce(CAST(:watch AS boolean) AND h."deadline" < :today, false) AS "overdue",
    (CAST(:ent AS integer) IS NOT NULL AND h."enterprise_id" = :ent AND h."status" IN ('reported', 'rectifying'))
        AS "rectify"
"""
# The rows are sorted and counted on their keys alone (id, deadline, reasons): names are joined to the page's
# rows at the end, so the enterprises are not read for every match (the LEFT JOIN below is then removed for an
# account without a department: no column of it is used).
_KEY_COLUMNS = f'SELECT h."id", h."deadline", {_REASONS}'
_MINE_WHERE = f"""
h."status" <> 'closed' AND {path_in_scope("u.path")} AND {enterprise_in_department("e")}
  AND (CAST(:ent AS integer) IS NULL OR h."enterprise_id" = :ent)
"""
# A hazard stands in its own unit, else in its enterprise's. Two branches rather than one join on
# coalesce(h.unit_id, e.unit_id): the coalesce made PostgreSQL read every open hazard and every enterprise
# before the scope (4-7 s at 1M enterprises / 3M hazards for any scope, the badge of every page load); each
# branch starts from the scope's units (the path index) and the hazards' unit / enterprise indexes.
_MINE = f"""
{_KEY_COLUMNS}
FROM "units" u JOIN "hazards" h ON h."unit_id" = u."id"
LEFT JOIN "enterprises" e ON e."id" = h."enterprise_id"
WHERE {_MINE_WHERE}
UNION ALL
{_KEY_COLUMNS}
FROM "units" u JOIN "enterprises" e ON e."unit_id" = u."id"
JOIN "hazards" h ON h."enterprise_id" = e."id" AND h."unit_id" IS NULL
WHERE {_MINE_WHERE}
"""
_ANY = '(t."verify" OR t."supervised" OR t."overdue" OR t."rectify")'
_COUNT_SQL = f"""
SELECT (SELECT count(*) FROM (SELECT 1 FROM ({_MINE}) t WHERE {_ANY} LIMIT CAST(:cap AS bigint)) c) AS "hazards",
       (SELECT count(*) FROM "public_reports" r JOIN "units" ru ON ru."id" = r."unit_id"
        WHERE CAST(:pq AS boolean) AND r."status" = 'pending' AND {path_in_scope("ru.path")}
          AND {NO_DEPARTMENT}) AS "reports"
"""  # noqa: S608 - constant fragments, values bound
_ORDER = 't."verify" DESC, t."rectify" DESC, t."supervised" DESC, t."deadline" NULLS LAST, t."id"'
_ONE_PASS = f'SELECT * FROM ({_MINE}) t WHERE {_ANY} ORDER BY {_ORDER} LIMIT :lim'  # noqa: S608 - constant fragments
_ITEMS_SQL = f"""
WITH top AS MATERIALIZED ({_ONE_PASS})
SELECT h."id", h."code", h."title", h."level", h."status", h."deadline", h."supervision_level", h."found_at",
       e."name" AS "enterprise_name", u."name" AS "unit_name", t."verify", t."supervised", t."overdue", t."rectify"
FROM top t JOIN "hazards" h ON h."id" = t."id" LEFT JOIN "enterprises" e ON e."id" = h."enterprise_id"
JOIN "units" u ON u."id" = coalesce(h."unit_id", e."unit_id")
ORDER BY {_ORDER}
"""  # noqa: S608 - constant fragments, values bound


@dataclass(frozen=True)
class TodoAsk:
    """Whose 待办: the scope, the account and what its role acts on."""

    scope: str
    username: str
    verify: bool = False  # 验收 (not of what this account submitted)
    watch: bool = False  # newly 督办 and overdue hazards of the scope
    enterprise_id: int | None = None  # an enterprise account: its own hazards only, to rectify
    public_queue: bool = False  # pending public reports of the scope's grid cells
    as_of: date = date.min

    def params(self) -> dict[str, Any]:
        """Bind parameters of the queries."""
        since = self.as_of - timedelta(days=NEW_SUPERVISION_DAYS)
        return {"verify": self.verify, "watch": self.watch, "me": self.username, "ent": self.enterprise_id,
                "pq": self.public_queue, "today": self.as_of, "since": since, **scope_params(self.scope)}


@dataclass(frozen=True)
class TodoCount:
    """How many hazards await the caller, and how many public reports wait for 核实."""

    hazards: int
    reports: int

    @property
    def total(self) -> int:
        """The badge's number."""
        return self.hazards + self.reports


BADGE_CAP = 999  # the header shows "999+" past this: a city's leader has 225k hazards overdue or newly 督办


def todo_count(conn: Connection, ask: TodoAsk, *, cap: int | None = None) -> TodoCount:
    """Return the badge counts in one statement; with ``cap``, hazards are counted up to ``cap + 1`` only.

    City-wide at 1M / 3M the full count of 225k hazards took 0.55 s on every page after a write; a county's
    23k 0.07-0.1 s, up to 1,000 of them 0.01 s.
    """
    row = conn.execute(text(_COUNT_SQL), {**ask.params(), "cap": None if cap is None else cap + 1}).one()
    return TodoCount(int(row[0]), int(row[1]))


TODO_LIST_LIMIT = 300  # the most urgent hazards /todo lists (a city's leader has 225k awaiting)


def todo_items(conn: Connection, ask: TodoAsk, *, limit: int = TODO_LIST_LIMIT) -> list[dict[str, Any]]:
    """Return the hazards awaiting the caller (most urgent first), each with its reasons as booleans.

    Sorted on the keys alone, names joined to the page's rows: city-wide at 1M / 3M 0.6-1.0 s → 0.2-0.3 s.
    """
    return [dict(r) for r in conn.execute(text(_ITEMS_SQL), {**ask.params(), "lim": limit}).mappings()]


@dataclass(frozen=True)
class PatrolDue:
    """A grid cell of the scope without a patrol on the business day."""

    code: str
    name: str
    village: str | None
    last_patrol: date | None


def patrols_due(conn: Connection, *, scope: str, today: date, limit: int = 100) -> tuple[list[PatrolDue], int, int]:
    """Return the scope's grid cells not patrolled on ``today`` (longest without one first), their count, all cells."""
    rows = conn.execute(text(
        'WITH c AS (SELECT u."id", u."code", u."name", u."parent_id", '  # noqa: S608 - scope fragment; values bound
        '  (SELECT max(p."patrol_date") FROM "patrols" p WHERE p."unit_id" = u."id") AS last_patrol '
        f'  FROM "units" u WHERE u."level" = 5 AND {path_in_scope("u.path")}) '
        'SELECT c."code", c."name", v."name" AS village, c.last_patrol, '
        '  count(*) OVER () AS due, (SELECT count(*) FROM c) AS cells '
        'FROM c LEFT JOIN "units" v ON v."id" = c."parent_id" '
        'WHERE c.last_patrol IS NULL OR c.last_patrol < :today '
        'ORDER BY c.last_patrol NULLS FIRST, c."code" LIMIT :lim'
    ), {"today": today, "lim": limit, **scope_params(scope)}).mappings().all()
    if not rows:
        cells = conn.execute(text(
            f'SELECT count(*) FROM "units" u WHERE u."level" = 5 AND {path_in_scope("u.path")}'  # noqa: S608
        ), scope_params(scope)).scalar_one()
        return [], 0, int(cells)
    return ([PatrolDue(r["code"], r["name"], r["village"], r["last_patrol"]) for r in rows],
            int(rows[0]["due"]), int(rows[0]["cells"]))
