"""Hazards worked in the app: report and every transition of the closed loop, one transaction each.

Each function does the whole change inside the caller's transaction (``with engine.begin()``):
the hazard is read within the actor's scope and locked, the rules of :mod:`domain.hazard_flow`
are asked, the row is updated only at the version the user saw (``WHERE version = :v``; a lost race
raises :class:`HazardConflictError` carrying the current state, nothing written), an event row records who,
when, from, to, what was entered, and the counts of the hazard's unit and its ancestors in
``unit_stats`` move by the hazard's delta with their four-colour class re-evaluated — so the map,
KPIs and big screen show the change at once, and a full ``etl refresh`` gives the same numbers.
A report carries an idempotency key: the same key twice yields the one hazard.

Lock order is always hazard row → ``unit_stats`` rows by level (city first), so concurrent
transitions in one township queue on the shared ancestors instead of deadlocking.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, text

from domain.hazard_flow import (
    FIVE_IN_PLACE,
    ROLLUP_COLUMNS,
    Actor,
    FlowError,
    HazardState,
    Limits,
    Payload,
    can_report,
    check,
    report_channel,
    rollup_counts,
    rollup_delta,
    supervision_tier,
)
from domain.labels import HAZARD_CHANNEL, HAZARD_LEVEL
from domain.risk_rule import RiskRule, explain
from geo.attachments import ImageLike, save_photos
from geo.refresh import stock_cutoff
from geo.rule_settings import hazard_limits
from geo.scope import (
    NO_DEPARTMENT,
    enterprise_id_in_department,
    enterprise_in_department,
    path_in_scope,
    scope_params,
)
from geo.users import audit

# Stored 五到位 columns an action may write, besides ``deadline`` (changed only by 延期).
PLAN_COLUMNS = ("resp_person", "resp_person_phone", "measures", "funds_yuan", "contingency_plan")
_RECORD_COLUMNS = (
    'h."id", h."code", h."title", h."status", h."level", h."enterprise_id", h."unit_id", u."path" AS unit_path, '
    'h."found_at", h."deadline", h."closed_at", h."supervision_level", h."supervision_deadline", '
    'h."submitted_by", h."extensions", h."version", h."resp_person", h."resp_person_phone", h."measures", '
    'h."funds_yuan", h."contingency_plan"'
)


# What a hazard's roll-up counts depend on (domain.hazard_flow.rollup_counts).
_ROLLUP_INPUTS = ("status", "level", "deadline", "supervision_level", "found_at")


class HazardNotFoundError(LookupError):
    """No such hazard in the caller's scope (the same answer for missing and out-of-scope)."""


@dataclass(frozen=True)
class HazardRecord:
    """A hazard as the loop's rules and pages read it."""

    id: int
    code: str
    title: str
    status: str
    level: str
    enterprise_id: int | None
    unit_id: int | None
    unit_path: str | None
    found_at: date
    deadline: date | None
    closed_at: date | None
    supervision_level: int | None
    supervision_deadline: date | None
    submitted_by: str | None
    extensions: int
    version: int
    resp_person: str | None
    resp_person_phone: str | None
    measures: str | None
    funds_yuan: Decimal | None
    contingency_plan: str | None

    def state(self) -> HazardState:
        """Return what the rules need to know."""
        return HazardState(status=self.status, level=self.level, enterprise_id=self.enterprise_id,
                           supervision_level=self.supervision_level, submitted_by=self.submitted_by,
                           extensions=self.extensions, deadline=self.deadline)

    def plan(self) -> dict[str, Any]:
        """Return the stored 五到位 values by column."""
        return {"resp_person": self.resp_person, "resp_person_phone": self.resp_person_phone,
                "measures": self.measures, "deadline": self.deadline, "funds_yuan": self.funds_yuan,
                "contingency_plan": self.contingency_plan}


class HazardConflictError(Exception):
    """Someone else changed the hazard since the user saw it; ``current`` is its state now."""

    def __init__(self, current: HazardRecord) -> None:
        super().__init__("已被他人处理")
        self.current = current


def hazard_record(conn: Connection, *, scope: str, hazard_id: int, lock: bool = False) -> HazardRecord | None:
    """Return a hazard inside ``scope`` (locked for update when ``lock``), or None."""
    # A ledger hazard may name only its enterprise: it stands in that enterprise's cell, as in the refresh.
    sql = (f'SELECT {_RECORD_COLUMNS} FROM "hazards" h JOIN "units" u ON u."id" = coalesce(h."unit_id", '  # noqa: S608
           '(SELECT e."unit_id" FROM "enterprises" e WHERE e."id" = h."enterprise_id")) '
           f'WHERE h."id" = :id AND {path_in_scope("u.path")} AND {enterprise_id_in_department("h.enterprise_id")}'
           + (' FOR UPDATE OF h' if lock else ''))
    row = conn.execute(text(sql), {"id": hazard_id, **scope_params(scope)}).mappings().one_or_none()
    return HazardRecord(**row) if row else None


def _counts(rec: Mapping[str, Any], *, as_of: date, cutoff: date) -> dict[str, int]:
    return rollup_counts(status=rec["status"], level=rec["level"], deadline=rec["deadline"],
                         supervision_level=rec["supervision_level"], found_at=rec["found_at"], as_of=as_of,
                         stock_cutoff=cutoff)


def apply_rollup(conn: Connection, *, unit_path: str, delta: Mapping[str, int], rule: RiskRule, as_of: date,
                 drop_hazard: int | None = None) -> int:
    """Add ``delta`` to the roll-ups of the unit at ``unit_path`` and its ancestors; re-score them.

    The explanation keeps its top contributors from the last refresh (minus ``drop_hazard`` when it
    closed); counts, score and class are exact. Returns the number of units changed.
    """
    if not delta:
        return 0
    codes = unit_path.rstrip(".").split(".")
    sets = ", ".join(f'"{c}" = s."{c}" + :d_{c}' for c in delta if c in ROLLUP_COLUMNS)
    params: dict[str, Any] = {f"d_{c}": int(v) for c, v in delta.items()}
    inputs = ", ".join(f's."{c}"' for c in rule.weights)
    # One statement locks the path's rows in level order (city first: no deadlock between transitions
    # sharing ancestors) and moves their counts; one more writes every re-scored row.
    rows = conn.execute(text(
        'WITH path AS (SELECT s."unit_id" FROM "unit_stats" s JOIN "units" u ON u."id" = s."unit_id" '  # noqa: S608
        'WHERE u."code" = ANY(:codes) ORDER BY s."level" FOR UPDATE OF s) '
        f'UPDATE "unit_stats" s SET {sets} FROM path WHERE s."unit_id" = path."unit_id" '
        f'RETURNING s."unit_id", s."level", s."enterprises", {inputs}, s."risk_explain"'), {**params, "codes": codes}
    ).mappings().all()
    scored = []
    for row in rows:
        old = dict(row["risk_explain"] or {})
        top = {"enterprise": old.get("top_enterprises", []),
               "hazard": [h for h in old.get("top_hazards", []) if h.get("id") != drop_hazard],
               "driver": [d for d in old.get("driver_items", [])
                          if not (d.get("item") == "hazard" and d.get("id") == drop_hazard)]}
        score, cls, doc = explain(dict(row), rule, as_of, top)
        scored.append({"u": row["unit_id"], "s": score, "c": cls, "e": doc})
    if scored:
        conn.execute(text(
            'UPDATE "unit_stats" s SET "risk_score" = v.s, "risk_class" = v.c, "risk_explain" = v.e '
            'FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(u int, s float8, c text, e jsonb) '
            'WHERE s."unit_id" = v.u'), {"rows": json.dumps(scored, ensure_ascii=False, default=str)})
    return len(rows)


def _plan_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Return the 五到位 columns entered (stripped text, funds as a non-negative decimal)."""
    out: dict[str, Any] = {}
    for column in PLAN_COLUMNS:
        if column not in fields:
            continue
        value = fields[column]
        if isinstance(value, str):
            value = value.strip() or None
        if column == "funds_yuan" and value is not None:
            try:
                value = Decimal(str(value))
            except InvalidOperation as exc:
                raise FlowError("整改资金应为数字（元）") from exc
            if not value.is_finite() or value < 0 or value >= Decimal("1e12"):
                raise FlowError("整改资金应为不小于 0 的金额（元）")
        elif value is not None and len(str(value)) > (2000 if column in ("measures", "contingency_plan") else 50):
            raise FlowError(f"{FIVE_IN_PLACE.get(column, '联系电话')}过长")
        out[column] = value
    return out


def _event(conn: Connection, *, hazard_id: int, from_status: str | None, to_status: str, actor: Actor, note: str,
           action: str, detail: Mapping[str, Any], photos: Sequence[ImageLike] = (), photo_kind: str = "evidence",
           ) -> int:
    """Insert the event row and the photos that belong to it (same transaction); return the event's id."""
    event_id = int(conn.execute(text(
        'INSERT INTO "hazard_events" ("hazard_id", "from_status", "to_status", "by", "note", "action", "detail") '
        'VALUES (:h, :f, :t, :by, :note, :a, CAST(:d AS jsonb)) RETURNING "id"'),
        {"h": hazard_id, "f": from_status, "t": to_status, "by": actor.username, "note": note or None, "a": action,
         "d": json.dumps(dict(detail), ensure_ascii=False, default=str)}).scalar_one())
    if photos:
        save_photos(conn, hazard_id=hazard_id, event_id=event_id, kind=photo_kind, files=photos, by=actor.username)
    return event_id


def transition(conn: Connection, *, scope: str, actor: Actor, hazard_id: int, version: int, action: str,
               payload: Payload, as_of: date, rule: RiskRule, limits: Limits | None = None,
               photos: Sequence[ImageLike] = (), photo_kind: str = "evidence") -> HazardRecord:
    """Take ``action`` on a hazard seen at ``version``; return it as stored afterwards.

    ``photos`` (cleaned by :mod:`dashboard.components.photos`) are stored as ``photo_kind`` with the event's id.

    Raises :class:`HazardNotFoundError` (not in scope), :class:`HazardConflictError` (changed meanwhile) or
    :class:`domain.hazard_flow.FlowError` (not allowed now / bad input); nothing is written then.
    """
    rec = hazard_record(conn, scope=scope, hazard_id=hazard_id, lock=True)
    if rec is None:
        raise HazardNotFoundError(hazard_id)
    if rec.version != version:
        raise HazardConflictError(rec)
    entered = _plan_values(payload.fields)
    merged = Payload(note=payload.note, supervision_deadline=payload.supervision_deadline,
                     new_deadline=payload.new_deadline, fields={**rec.plan(), **entered})
    limits = limits or hazard_limits(conn)
    to_status = check(action, rec.state(), actor, merged, today=as_of, limits=limits) or rec.status
    changes: dict[str, Any] = {"status": to_status}
    if action in ("record", "submit"):
        changes |= entered
    if action == "submit":
        changes["submitted_by"] = actor.username
    elif action in ("fail", "reopen"):
        changes |= {"submitted_by": None, "closed_at": None, "verified_at": None}
    elif action == "pass":
        changes |= {"verified_at": as_of, "closed_at": as_of}
    elif action == "supervise":
        changes |= {"supervision_level": supervision_tier(actor), "supervision_at": as_of,
                    "supervision_deadline": payload.supervision_deadline}
    elif action == "lift":
        changes |= {"supervision_level": None, "supervision_deadline": None}
    elif action == "extend":
        changes |= {"deadline": payload.new_deadline, "extensions": rec.extensions + 1}
    sets = ", ".join(f'"{c}" = :c_{c}' for c in changes)
    updated = conn.execute(text(
        f'UPDATE "hazards" SET {sets}, "version" = "version" + 1, "updated_at" = now() '  # noqa: S608 - known columns
        'WHERE "id" = :id AND "version" = :v'), {**{f"c_{c}": v for c, v in changes.items()}, "id": rec.id,
                                                  "v": version})
    if updated.rowcount != 1:  # pragma: no cover - the row is locked above; kept as the last guard
        raise HazardConflictError(rec)
    detail = {k: v for k, v in {**entered, "new_deadline": payload.new_deadline,
                                 "supervision_deadline": payload.supervision_deadline}.items() if v is not None}
    _event(conn, hazard_id=rec.id, from_status=rec.status, to_status=to_status, actor=actor, note=payload.note.strip(),
           action=action, detail=detail, photos=photos, photo_kind=photo_kind)
    # The row as stored now, from what was just written (no second read).
    after = replace(rec, version=rec.version + 1,
                    **{c: v for c, v in changes.items() if c in HazardRecord.__dataclass_fields__})
    delta: dict[str, int] = {}
    if any(getattr(rec, c) != getattr(after, c) for c in _ROLLUP_INPUTS):
        cutoff = stock_cutoff(conn, as_of=as_of)
        delta = rollup_delta(_counts(rec.__dict__, as_of=as_of, cutoff=cutoff),
                             _counts(after.__dict__, as_of=as_of, cutoff=cutoff))
    if rec.unit_path:
        apply_rollup(conn, unit_path=rec.unit_path, delta=delta, rule=rule, as_of=as_of,
                     drop_hazard=rec.id if to_status == "closed" else None)
    audit(conn, username=actor.username, action=f"hazard_{action}",
          detail={"hazard": rec.code, "from": rec.status, "to": to_status, "version": after.version})
    return after


@dataclass(frozen=True)
class NewHazard:
    """What a reporter enters (the point or the enterprise places it)."""

    title: str
    level: str
    deadline: date | None
    request_key: str
    description: str = ""
    enterprise_id: int | None = None
    lon: float | None = None
    lat: float | None = None
    channel: str | None = None  # None: the reporter's own (企业自查 / 监管检查); 'public_report' from the public queue


def _check_new(new: NewHazard, as_of: date) -> None:
    if not new.title.strip() or len(new.title) > 300:
        raise FlowError("请填写隐患名称（不超过 300 字）")
    if new.level not in HAZARD_LEVEL:
        raise FlowError("隐患等级应为一般隐患或重大隐患")
    if new.deadline is not None and new.deadline < as_of:
        raise FlowError("整改期限不能早于今天")
    if len(new.description) > 4000:
        raise FlowError("隐患描述不能超过 4000 字")
    if not 8 <= len(new.request_key) <= 64:
        raise FlowError("表单已过期，请刷新后重新提交")
    if new.enterprise_id is None and (new.lon is None or new.lat is None):
        raise FlowError("请选择所属企业或在地图上点选隐患位置")
    if new.channel is not None and new.channel not in HAZARD_CHANNEL:
        raise FlowError("来源渠道无效")


def _place(conn: Connection, *, scope: str, new: NewHazard) -> tuple[int, int | None, float, float]:
    """Return (grid cell id, enterprise id, lon, lat) of a report inside ``scope``, or raise FlowError."""
    if new.enterprise_id is not None:
        sql = ('SELECT e."unit_id", e."id", ST_X(e."geom"), ST_Y(e."geom") FROM "enterprises" e '  # noqa: S608
               f'JOIN "units" u ON u."id" = e."unit_id" WHERE e."id" = :e AND {path_in_scope("u.path")} '
               f'AND {enterprise_in_department("e")}')
        row = conn.execute(text(sql), {"e": new.enterprise_id, **scope_params(scope)}).one_or_none()
        if row is None:
            raise FlowError("未找到该企业，或不在您的管辖范围内")
        lon = new.lon if new.lon is not None else row[2]
        lat = new.lat if new.lat is not None else row[3]
        return int(row[0]), int(row[1]), float(lon), float(lat)
    sql = ('SELECT u."id" FROM "units" u WHERE u."level" = 5 AND '  # noqa: S608 - bound values only
           'ST_Intersects(u."geom", ST_SetSRID(ST_MakePoint(:x, :y), 4326)) '
           f'AND {path_in_scope("u.path")} AND {NO_DEPARTMENT} ORDER BY u."code" LIMIT 1')
    row = conn.execute(text(sql), {"x": new.lon, "y": new.lat, **scope_params(scope)}).one_or_none()
    if row is None:
        raise FlowError("该位置不在您管辖的网格内")
    return int(row[0]), None, float(new.lon or 0), float(new.lat or 0)


def report(conn: Connection, *, scope: str, actor: Actor, new: NewHazard, as_of: date, rule: RiskRule,
           photos: Sequence[ImageLike] = ()) -> tuple[HazardRecord, bool]:
    """Register a hazard (已上报); return it and whether it was created now (False: a repeated submit).

    ``photos`` are stored as finding photos (隐患照片) of the report event; a repeated submit stores none.
    """
    _check_new(new, as_of)
    existing = conn.execute(text('SELECT "id" FROM "hazards" WHERE "request_key" = :k'),
                            {"k": new.request_key}).scalar()
    if existing is None:
        unit_id, enterprise_id, lon, lat = _place(conn, scope=scope, new=new)
        if not can_report(actor, enterprise_id=enterprise_id):
            raise FlowError("您不能为该企业登记隐患" if actor.role == "enterprise" else "您的角色不能登记隐患")
        channel = new.channel or report_channel(actor)
        existing = conn.execute(text(
            'INSERT INTO "hazards" ("id", "code", "enterprise_id", "unit_id", "title", "description", "level", '
            '"channel", "status", "found_at", "deadline", "reporter", "geom", "request_key") '
            "SELECT n, 'YH' || to_char(CAST(:day AS date), 'YYYYMMDD') || '-' "
            "|| lpad(n::text, greatest(7, length(n::text)), '0'), :e, :u, :t, "  # lpad cuts longer ids
            ":d, :lvl, :ch, 'reported', :day, :dl, :by, ST_SetSRID(ST_MakePoint(:x, :y), 4326), :k "
            "FROM (SELECT nextval(pg_get_serial_sequence('hazards', 'id')) AS n) s "
            'ON CONFLICT ("request_key") DO NOTHING RETURNING "id"'),
            {"e": enterprise_id, "u": unit_id, "t": new.title.strip(), "d": new.description.strip() or None,
             "lvl": new.level, "ch": channel, "day": as_of, "dl": new.deadline, "by": actor.username,
             "x": lon, "y": lat, "k": new.request_key}).scalar()
        if existing is not None:
            created = hazard_record(conn, scope=scope, hazard_id=existing)
            assert created is not None
            _event(conn, hazard_id=created.id, from_status=None, to_status="reported", actor=actor, note="",
                   action="report", detail={"channel": channel}, photos=photos, photo_kind="finding")
            if created.unit_path:
                apply_rollup(conn, unit_path=created.unit_path, rule=rule, as_of=as_of,
                             delta=_counts(created.__dict__, as_of=as_of, cutoff=stock_cutoff(conn, as_of=as_of)))
            audit(conn, username=actor.username, action="hazard_report", detail={"hazard": created.code})
            return created, True
        existing = conn.execute(text('SELECT "id" FROM "hazards" WHERE "request_key" = :k'),
                                {"k": new.request_key}).scalar_one()
    found = hazard_record(conn, scope=scope, hazard_id=int(existing))
    if found is None:
        raise HazardNotFoundError(existing)
    return found, False
