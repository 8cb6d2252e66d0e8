"""The hazard page's reads: one hazard with its timeline inside a scope, and where a new report would stand.

Outside the scope and missing answer the same (None). An enterprise account passes its ``enterprise_id``
and sees only its own enterprise's hazards. The write path is :mod:`geo.hazard_actions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, text

from domain.risk_rule import RiskRule, rule_from_config
from geo.attachments import AttachmentInfo, hazard_attachments
from geo.hazard_actions import HazardRecord
from geo.refresh import app_config
from geo.scope import DEPT_PARAM, enterprise_in_department, path_in_scope, scope_params

_HAZARD_SQL = f"""
SELECT h."id", h."code", h."title", h."description", h."category", h."level", h."channel", h."status",
       h."found_at", h."deadline", h."verified_at", h."closed_at", h."reporter", h."supervision_level",
       h."supervision_at", h."supervision_deadline", h."submitted_by", h."extensions", h."version",
       h."resp_person", h."resp_person_phone", h."measures", h."funds_yuan", h."contingency_plan",
       h."enterprise_id", e."name" AS "enterprise_name", e."credit_code" AS "enterprise_code",
       u."id" AS "unit_id", u."path" AS "unit_path", u."code" AS "unit_code", u."name" AS "unit_name",
       ST_X(coalesce(h."geom", e."geom")) AS "lon", ST_Y(coalesce(h."geom", e."geom")) AS "lat"
FROM "hazards" h
LEFT JOIN "enterprises" e ON e."id" = h."enterprise_id"
JOIN "units" u ON u."id" = coalesce(h."unit_id", e."unit_id")
WHERE {path_in_scope("u.path")} AND {enterprise_in_department("e")}
  AND (CAST(:ent AS integer) IS NULL OR h."enterprise_id" = :ent)
"""  # noqa: S608 - constant scope fragment, values bound

_EVENTS_SQL = """
SELECT ev."id", ev."at", ev."by", coalesce(usr."display_name", ev."by") AS "by_name", usr."role" AS "by_role",
       ev."from_status", ev."to_status", ev."note", ev."action", ev."detail"
FROM "hazard_events" ev LEFT JOIN "users" usr ON usr."username" = ev."by"
WHERE ev."hazard_id" = :h ORDER BY ev."at", ev."id"
"""

_ENTERPRISE_SQL = f"""
SELECT e."id", e."credit_code", e."name", ST_X(e."geom") AS "lon", ST_Y(e."geom") AS "lat",
       u."name" AS "unit_name"
FROM "enterprises" e JOIN "units" u ON u."id" = e."unit_id"
WHERE {path_in_scope("u.path")} AND {enterprise_in_department("e")} AND {{where}}
"""  # noqa: S608 - constant fragments, values bound

_CELL_SQL = f"""
SELECT u."code", u."name" FROM "units" u
WHERE u."level" = 5 AND ST_Intersects(u."geom", ST_SetSRID(ST_MakePoint(:x, :y), 4326)) AND {path_in_scope("u.path")}
  AND CAST(:{DEPT_PARAM} AS text) IS NULL
ORDER BY u."code" LIMIT 1
"""  # noqa: S608 - constant scope fragment, values bound; a department account reports on its enterprises only


@dataclass(frozen=True)
class HazardEventRow:
    """One step of a hazard's timeline: who, when, from → to, the note and what was entered."""

    id: int
    at: datetime
    by: str | None
    by_name: str | None
    by_role: str | None
    from_status: str | None
    to_status: str
    note: str | None
    action: str | None
    detail: dict[str, Any] | None


@dataclass(frozen=True)
class HazardView(HazardRecord):
    """A hazard as its page shows it: the loop's record (state, 五到位, version) with its facts, place and timeline."""

    description: str | None
    category: str | None
    channel: str | None
    verified_at: date | None
    reporter: str | None
    supervision_at: date | None
    enterprise_name: str | None
    enterprise_code: str | None
    unit_code: str
    unit_name: str
    lon: float | None
    lat: float | None
    events: tuple[HazardEventRow, ...] = ()
    photos: tuple[AttachmentInfo, ...] = ()  # finding, before/after, evidence; oldest first

    def event_photos(self, event_id: int) -> list[int]:
        """Return the ids of the photos stored with the event ``event_id``."""
        return [p.id for p in self.photos if p.event_id == event_id]


@dataclass(frozen=True)
class ReportPlace:
    """Where a new report stands: its enterprise (if any), the point and the grid cell's name."""

    enterprise_id: int | None
    enterprise_name: str | None
    credit_code: str | None
    lon: float
    lat: float
    unit_name: str


def hazard_view(conn: Connection, *, scope: str, hazard_id: int | None = None, code: str | None = None,
                enterprise_id: int | None = None) -> HazardView | None:
    """Return the hazard with ``hazard_id`` (or ``code``) inside ``scope`` with its events and photos, or None."""
    if hazard_id is None and not code:
        return None
    where = 'h."id" = :id' if hazard_id is not None else 'h."code" = :code'
    row = conn.execute(text(f"{_HAZARD_SQL} AND {where}"),
                       {"id": hazard_id, "code": code, "ent": enterprise_id, **scope_params(scope)}).mappings().first()
    if row is None:
        return None
    events = tuple(HazardEventRow(**e) for e in conn.execute(text(_EVENTS_SQL), {"h": row["id"]}).mappings())
    photos = tuple(hazard_attachments(conn, scope=scope, hazard_id=row["id"], enterprise_id=enterprise_id))
    return HazardView(**row, events=events, photos=photos)


def report_place(conn: Connection, *, scope: str, credit_code: str | None = None, enterprise_id: int | None = None,
                 lon: float | None = None, lat: float | None = None) -> ReportPlace | None:
    """Return where a report would stand inside ``scope`` (an enterprise, else a point in a grid cell), or None."""
    if credit_code or enterprise_id is not None:
        where = 'e."credit_code" = :c' if credit_code else 'e."id" = :e'
        row = conn.execute(text(_ENTERPRISE_SQL.format(where=where)),
                           {"c": credit_code, "e": enterprise_id, **scope_params(scope)}).mappings().first()
        if row is None:
            return None
        return ReportPlace(int(row["id"]), row["name"], row["credit_code"], float(row["lon"] or 0),
                           float(row["lat"] or 0), row["unit_name"])
    if lon is None or lat is None:
        return None
    cell = conn.execute(text(_CELL_SQL), {"x": lon, "y": lat, **scope_params(scope)}).mappings().first()
    return None if cell is None else ReportPlace(None, None, None, lon, lat, cell["name"])


def current_risk_rule(conn: Connection) -> RiskRule:
    """Return the four-colour rule in force (``app_config.risk_rule`` over the defaults), as the refresh reads it."""
    return rule_from_config(app_config(conn, "risk_rule"))
