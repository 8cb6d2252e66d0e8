"""一企一档: everything about one enterprise, read in one call and only when it lies inside the scope."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from domain import clock
from domain.codes import normalize_credit_code
from domain.labels import DUTY_ROLE
from geo.around import (
    DEFAULT_ENTERPRISE_RADIUS_M,
    DEFAULT_SOURCE_RADIUS_M,
    enterprises_around,
    hazard_sources_around,
)
from geo.refresh import staffing
from geo.rows import Crumb, EnterpriseFacts, EnterpriseFile
from geo.scope import enterprise_in_scope, scope_params

_BASIC_SQL = f"""
SELECT e."id", e."credit_code", e."name", e."industry", e."industry_detail", e."scale", e."employees",
       e."supervising_dept", e."supervision_tier", e."risk_level", e."risk_method", e."risk_assessed_at",
       e."std_grade", e."key_hazardous_process", e."key_hazardous_chemical", e."has_major_hazard_source",
       e."key_supervision", e."address", e."legal_rep", e."legal_rep_phone", e."safety_manager",
       e."safety_manager_phone",
       ST_Y(e."geom") AS "lat", ST_X(e."geom") AS "lon",
       u."id" AS "unit_id", u."code" AS "unit_code", u."name" AS "unit_name", u."level" AS "unit_level",
       u."path" AS "unit_path"
FROM "enterprises" e LEFT JOIN "units" u ON u."id" = e."unit_id"
WHERE e."credit_code" = :credit_code AND {enterprise_in_scope("e")}
"""  # noqa: S608 - constant scope fragment, values bound

_CHAIN_SQL = """
SELECT "code", "name", "level" FROM "units"
WHERE "code" = ANY(string_to_array(rtrim(:path, '.'), '.')) ORDER BY "level"
"""

_RISK_HISTORY_SQL = """
SELECT "risk_level", "risk_method", "assessed_at", "recorded_at" FROM "enterprise_risk_history"
WHERE "enterprise_id" = :id ORDER BY "assessed_at" DESC NULLS LAST, "recorded_at" DESC
"""

_DUTIES_SQL = """
SELECT d."role", d."seq", d."since", p."name", p."phone", p."org", p."title"
FROM "duties" d JOIN "persons" p ON p."id" = d."person_id"
WHERE d."unit_id" = :unit_id AND (d."until" IS NULL OR d."until" >= :today)
  AND (d."since" IS NULL OR d."since" <= :today)
ORDER BY d."role", d."seq"
"""

_SOURCES_SQL = """
SELECT "code", "name", "grade", "r_value", "substances", "recorded_at",
       "main_person", "main_person_phone", "tech_person", "tech_person_phone", "op_person", "op_person_phone"
FROM "hazard_sources" WHERE "enterprise_id" = :id ORDER BY "grade" NULLS LAST, "code"
"""

_HAZARDS_SQL = """
SELECT h."id", h."code", h."title", h."category", h."level", h."channel", h."status", h."found_at",
       h."deadline", h."closed_at", h."supervision_level", h."resp_person", h."measures",
       (h."status" <> 'closed' AND h."deadline" < :today) AS "overdue"
FROM "hazards" h WHERE h."enterprise_id" = :id
ORDER BY (h."status" = 'closed'), (h."status" <> 'closed' AND h."deadline" < :today) DESC,
         h."level" = 'major' DESC, h."found_at" DESC, h."code"
LIMIT :lim
"""

_EVENTS_SQL = """
SELECT "hazard_id", "from_status", "to_status", "at", "by", "note" FROM "hazard_events"
WHERE "hazard_id" = ANY(:ids) ORDER BY "hazard_id", "at", "id"
"""

# An inspection's attachments (0008) as [[id, kind], …]: the file is read in scope, so are they (the photo
# route checks the scope again).
_INSPECTIONS_SQL = """
SELECT "code", "inspected_at", "inspector_level", "kind", "inspectors", "result", "hazards_found", "note",
       (SELECT coalesce(jsonb_agg(jsonb_build_array(a."id", a."kind") ORDER BY a."id"), '[]'::jsonb)
        FROM "attachments" a WHERE a."inspection_id" = x."id") AS attachments
FROM "inspections" x WHERE "enterprise_id" = :id ORDER BY "inspected_at" DESC, "code" DESC LIMIT :lim
"""

# Its accidents (issue 18, migration 0010), newest first.
_ACCIDENTS_SQL = """
SELECT "code", "title", "occurred_on", "accident_type", "deaths", "injuries", "direct_loss_wan", "grade",
       "investigation"
FROM "accidents" WHERE "enterprise_id" = :id ORDER BY "occurred_on" DESC, "code" DESC LIMIT 50
"""


def _all(conn: Connection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def grid_persons(conn: Connection, *, unit_id: int, unit_level: int, today: date) -> list[dict[str, Any]]:
    """Return the current holders of a unit's required slots, with ``vacant`` rows for empty ones, plus extras.

    The required slots are the staffing rule in force (``app_config`` ``staffing``), in role order.
    """
    held = {(r["role"], r["seq"]): r for r in _all(conn, _DUTIES_SQL, {"unit_id": unit_id, "today": today})}
    required = staffing(conn).get(unit_level, {})
    slots = [(role, seq) for role in DUTY_ROLE.codes for seq in range(1, required.get(role, 0) + 1)]
    out = [{**held.pop(slot), "vacant": False} if slot in held else
           {"role": slot[0], "seq": slot[1], "name": None, "phone": None, "org": None, "title": None,
            "since": None, "vacant": True}
           for slot in slots]
    out += [{**r, "vacant": False} for r in held.values()]
    return out


def enterprise_basic(conn: Connection, *, scope: str, credit_code: str) -> dict[str, Any] | None:
    """Return the basic facts of the enterprise, or None when it does not exist inside ``scope``."""
    code = normalize_credit_code(credit_code)
    row = conn.execute(text(_BASIC_SQL), {"credit_code": code, **scope_params(scope)}).mappings().one_or_none()
    return dict(row) if row else None


def enterprise_file(
    conn: Connection, *, scope: str, credit_code: str, nearby_radius_m: float = DEFAULT_ENTERPRISE_RADIUS_M,
    source_radius_m: float = DEFAULT_SOURCE_RADIUS_M, today: date | None = None, hazard_limit: int = 200,
    inspection_limit: int = 100,
) -> EnterpriseFile | None:
    """Return the whole 一企一档 of one enterprise in ``scope``; None when it is absent or outside the scope."""
    row = enterprise_basic(conn, scope=scope, credit_code=credit_code)
    if row is None:
        return None
    day = today or clock.today()
    ent_id, unit_id, unit_level, path = row["id"], row["unit_id"], row["unit_level"], row["unit_path"]
    basic = EnterpriseFacts(**{k: row[k] for k in EnterpriseFacts.__annotations__})  # type: ignore[typeddict-item]
    hazards = _all(conn, _HAZARDS_SQL, {"id": ent_id, "today": day, "lim": hazard_limit})
    events: dict[int, list[dict[str, Any]]] = {}
    if hazards:
        for ev in _all(conn, _EVENTS_SQL, {"ids": [h["id"] for h in hazards]}):
            events.setdefault(ev.pop("hazard_id"), []).append(ev)
    for h in hazards:
        h["events"] = events.get(h.pop("id"), [])
    sources = _all(conn, _SOURCES_SQL, {"id": ent_id})
    for s in sources:
        s["r_value"] = float(s["r_value"]) if s["r_value"] is not None else None
    lat, lon = basic["lat"], basic["lon"]
    located = lat is not None and lon is not None
    return {
        "enterprise": basic,
        "units": [Crumb(code=r["code"], name=r["name"], level=r["level"])
                  for r in _all(conn, _CHAIN_SQL, {"path": path})] if path else [],
        "risk_history": _all(conn, _RISK_HISTORY_SQL, {"id": ent_id}),
        "grid_persons": grid_persons(conn, unit_id=unit_id, unit_level=unit_level, today=day) if unit_id else [],
        "hazard_sources": sources,
        "hazards": hazards,
        "inspections": _all(conn, _INSPECTIONS_SQL, {"id": ent_id, "lim": inspection_limit}),
        "accidents": _all(conn, _ACCIDENTS_SQL, {"id": ent_id}),
        "nearby_radius_m": nearby_radius_m,
        "nearby": enterprises_around(conn, scope=scope, lat=lat, lon=lon, radius_m=nearby_radius_m,
                                     exclude_credit_code=basic["credit_code"]) if located else [],
        "source_radius_m": source_radius_m,
        "nearby_sources": hazard_sources_around(conn, scope=scope, lat=lat, lon=lon,
                                                radius_m=source_radius_m) if located else [],
    }


def enterprise_exists(conn: Connection, *, credit_code: str) -> bool:
    """Tell whether an enterprise with this credit code exists at all (to answer 403 rather than 404)."""
    sql = 'SELECT EXISTS (SELECT 1 FROM "enterprises" WHERE "credit_code" = :c)'
    return bool(conn.execute(text(sql), {"c": normalize_credit_code(credit_code)}).scalar())
