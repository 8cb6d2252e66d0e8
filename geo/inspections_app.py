"""四查 standing and inspections worked in the app (issue 16): units behind, inspections, the due list.

Enterprise inspections are recorded by inspectors with :func:`record_inspection`; :func:`due_list` is the
risk-based due/overdue list (rule in ``domain.inspection_rules``).

``unit_cadence`` is written by the refresh (``geo/sql/refresh_unit_stats.sql``, rule in ``domain.cadence``);
:data:`BEHIND_POINTS` is the point source of the map layer of units behind (``layers/registry.py``), and
:func:`units_behind` the list of them in a scope.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, text

from domain.inspection_rules import (
    DEFAULT_DUE_SOON_DAYS,
    DEFAULT_KEY_FLAGS_MONTHS,
    DEFAULT_MONTHS,
    ChecklistSet,
    Finding,
    FrequencyRule,
    check_answers,
    check_result,
    checklists_from_config,
    frequency_from_config,
    key_flags_sql,
)
from domain.labels import INSPECTION_KIND
from geo.attachments import INSPECTION_KINDS, ImageLike, save_inspection_files
from geo.map_queries import PointSource
from geo.refresh import app_config
from geo.scope import enterprise_in_department, path_in_scope, scope_params
from geo.users import audit

# Units behind on 四查 at their label point, classed by level (the layer's record is in layers/registry.py).
BEHIND_POINTS = PointSource(
    table="unit_cadence", joins='JOIN "units" u ON u."id" = t."id"', where='t."behind"',
    cls="'l' || t.\"level\"", classes=("l1", "l2", "l3", "l4", "l5"),
    props=(("name", 'u."name"'), ("code", 'u."code"'), ("last_at", 't."last_at"')),
)


# Enterprises due for inspection (risk-based frequency, domain.inspection_rules.FrequencyRule) as a point source:
# the rule of due_list below written over app_config "inspection_frequency" read in SQL, with the rule's defaults
# for missing keys (a point source binds no values but the viewport and the scope). current_date is the business
# day (every session runs in SAFEGRID_TIMEZONE). Never inspected = due today, its own class.
_CFG = """(SELECT "value" FROM "app_config" WHERE "key" = 'inspection_frequency')"""
_BASE_MONTHS = ("coalesce(CAST(f.v->'months'->>coalesce(t.\"risk_level\", 'unassessed') AS int), CASE t.\"risk_level\" "
                + " ".join(f"WHEN '{k}' THEN {m}" for k, m in DEFAULT_MONTHS.items() if k != "unassessed")
                + f" ELSE {DEFAULT_MONTHS['unassessed']} END)")
_FLAGGED = key_flags_sql("t")
DUE_POINTS = PointSource(
    table="enterprises", enterprise="t",
    joins=(f"CROSS JOIN LATERAL (SELECT {_CFG} AS v) f "  # noqa: S608 - constants of the rule
           'CROSS JOIN LATERAL (SELECT max(x."inspected_at") AS last_at FROM "inspections" x '
           'WHERE x."enterprise_id" = t."id") l '
           f"CROSS JOIN LATERAL (SELECT CASE WHEN {_FLAGGED} THEN least({_BASE_MONTHS}, "
           f"coalesce(CAST(f.v->>'key_flags_months' AS int), {DEFAULT_KEY_FLAGS_MONTHS})) "
           f"ELSE {_BASE_MONTHS} END AS months) m "
           "CROSS JOIN LATERAL (SELECT coalesce(CAST(l.last_at + make_interval(months => m.months) AS date), "
           "current_date) AS due) d"),
    where=f"d.due <= current_date + coalesce(CAST(f.v->>'due_soon_days' AS int), {DEFAULT_DUE_SOON_DAYS})",
    cls="CASE WHEN l.last_at IS NULL THEN 'never' WHEN d.due < current_date THEN 'overdue' ELSE 'due_soon' END",
    classes=("overdue", "never", "due_soon"),
    props=(("name", 't."name"'), ("credit_code", 't."credit_code"'), ("due", "d.due"), ("last_at", "l.last_at"),
           ("months", "m.months")),
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


# --- enterprise inspections recorded by inspectors (issue 16 parts 3-5) ----------------------------------------

class InspectionNotFoundError(LookupError):
    """The enterprise (or the draw item) is not in the caller's scope or not the caller's."""


class InspectionInputError(ValueError):
    """Input an inspection cannot take; the message is the Chinese text the user reads."""


@dataclass(frozen=True)
class EnterpriseDue:
    """An enterprise with what its required frequency depends on: colour, 两重点一重大, last inspection."""

    credit_code: str
    name: str
    industry: str | None
    risk_level: str | None
    key_flags: bool
    unit_name: str | None
    last_at: date | None


@dataclass(frozen=True)
class InspectedEnterprise(EnterpriseDue):
    """What the inspection form shows of the enterprise."""

    id: int


@dataclass(frozen=True)
class NewInspection:
    """What the inspection form posts."""

    credit_code: str
    kind: str
    result: str
    request_key: str
    inspected_at: date
    checklist_id: str | None = None
    answers: dict[str, str] = field(default_factory=dict)
    document_no: str = ""
    penalty_yuan: str = ""
    note: str = ""
    draw_id: int | None = None


@dataclass(frozen=True)
class RecordedInspection:
    """A stored inspection as the form confirms it."""

    id: int
    code: str
    credit_code: str
    enterprise_name: str
    kind: str
    result: str
    inspected_at: date
    hazards_found: int
    findings: list[dict[str, Any]]
    draw_id: int | None


MAX_NOTE = 1000
MAX_BACKDATE_DAYS = 90
# What an enterprise's frequency depends on, as SQL over enterprises e / units u (both queries below).
_DUE_COLUMNS = (
    'e."credit_code", e."name", e."industry", e."risk_level", u."name" AS unit_name, '  # noqa: S608 - constants
    f'{key_flags_sql("e")} AS key_flags, '
    '(SELECT max(x."inspected_at") FROM "inspections" x WHERE x."enterprise_id" = e."id") AS last_at '
)


def inspected_enterprise(conn: Connection, *, scope: str, credit_code: str) -> InspectedEnterprise | None:
    """Return the enterprise ``credit_code`` in ``scope`` with its last inspection (None: not in the scope)."""
    r = conn.execute(text(
        f'SELECT e."id", {_DUE_COLUMNS} FROM "enterprises" e JOIN "units" u ON u."id" = e."unit_id" '  # noqa: S608
        f'WHERE e."credit_code" = :cc AND {path_in_scope("u.path")} AND {enterprise_in_department("e")}'
    ), {"cc": credit_code, **scope_params(scope)}).mappings().one_or_none()
    return InspectedEnterprise(**{k: r[k] for k in InspectedEnterprise.__dataclass_fields__}) if r else None


def inspection_settings(conn: Connection) -> tuple[ChecklistSet, FrequencyRule]:
    """Return the checklists and the frequency rule in force (``app_config`` over the defaults)."""
    return (checklists_from_config(app_config(conn, "inspection_checklists")),
            frequency_from_config(app_config(conn, "inspection_frequency")))


def _stored(conn: Connection, where: str, params: dict[str, Any]) -> RecordedInspection | None:
    m = conn.execute(text(
        'SELECT x."id", x."code", e."credit_code", e."name" AS enterprise_name, x."kind", x."result", '  # noqa: S608
        'x."inspected_at", coalesce(x."hazards_found", 0) AS hazards_found, '
        "coalesce(x.\"checklist\"->'findings', '[]'::jsonb) AS findings, x.\"draw_id\" "
        f'FROM "inspections" x JOIN "enterprises" e ON e."id" = x."enterprise_id" WHERE {where}'
    ), params).mappings().one_or_none()
    return RecordedInspection(**{k: m[k] for k in RecordedInspection.__dataclass_fields__}) if m else None


def _user(conn: Connection, username: str) -> tuple[str, int]:
    r = conn.execute(text(
        'SELECT coalesce(u."display_name", u."username") AS name, s."level" FROM "users" u '
        'JOIN "units" s ON s."id" = u."scope_unit_id" WHERE u."username" = :u'), {"u": username}).one()
    return str(r.name), int(r.level)


def record_inspection(conn: Connection, *, scope: str, username: str, new: NewInspection, today: date,
                      checklists: ChecklistSet | None = None, ip: str | None = None,
                      attachments: Sequence[tuple[str, ImageLike]] = ()) -> tuple[RecordedInspection, bool]:
    """Store one inspection of an enterprise of ``scope`` by ``username``; return it and whether it is new.

    ``attachments``: cleaned ``(kind, photo)`` pairs (kind ``scene`` 现场照片 or ``document`` 签字文书, from
    :func:`dashboard.components.photos.photos_from_upload`), stored with the inspection in its transaction
    (a repeated request key stores none again).

    A 双随机 inspection names its draw, and the caller must be one of the two inspectors drawn for this
    enterprise in a draw that is not superseded and not yet done; other kinds name no draw. The same
    request key again returns the stored inspection. Audited (``inspection_recorded``). Raises
    :class:`InspectionNotFoundError` (enterprise or draw item not the caller's) and
    :class:`InspectionInputError` / ``domain.inspection_rules.InspectionRuleError`` for bad input.
    """
    if not 16 <= len(new.request_key) <= 64 or not new.request_key.isascii():
        raise InspectionInputError("页面已过期，请刷新后重新提交")
    existing = _stored(conn, 'x."request_key" = :k AND x."created_by" = :u', {"k": new.request_key, "u": username})
    if existing is not None:
        return existing, False
    if new.kind not in INSPECTION_KIND:
        raise InspectionInputError("请选择检查方式")
    if not today - timedelta(days=MAX_BACKDATE_DAYS) <= new.inspected_at <= today:
        raise InspectionInputError(f"检查日期应在最近 {MAX_BACKDATE_DAYS} 天内，且不晚于今天")
    if len(new.note) > MAX_NOTE:
        raise InspectionInputError(f"备注不能超过 {MAX_NOTE} 字")
    if any(kind not in INSPECTION_KINDS for kind, _ in attachments):
        raise InspectionInputError("附件只能是现场照片或签字文书")
    penalty = check_result(new.result, new.document_no, new.penalty_yuan)
    checklist_json: dict[str, Any] | None = None
    findings: list[Finding] = []
    if new.checklist_id:
        checklist = (checklists or ChecklistSet()).get(new.checklist_id)
        if checklist is None:
            raise InspectionInputError("检查表不存在")
        findings = check_answers(checklist, new.answers)
        checklist_json = {"id": checklist.id, "title": checklist.title, "answers": dict(new.answers),
                          "findings": [{"item": f.item_id, "text": f.text, "major": f.major} for f in findings]}
    elif new.answers:
        raise InspectionInputError("请先选择检查表")
    enterprise = inspected_enterprise(conn, scope=scope, credit_code=new.credit_code)
    if enterprise is None:
        raise InspectionNotFoundError(new.credit_code)
    name, level = _user(conn, username)
    inspectors = name
    if new.kind == "double_random":
        if new.draw_id is None:
            raise InspectionInputError("双随机检查须选择抽查任务")
        item = conn.execute(text(
            'SELECT i."inspector1", i."inspector2", d."superseded", '
            'coalesce(a."display_name", i."inspector1") AS n1, coalesce(b."display_name", i."inspector2") AS n2, '
            'EXISTS (SELECT 1 FROM "inspections" x WHERE x."draw_id" = d."id" '
            '  AND x."enterprise_id" = i."enterprise_id" '
            "  AND x.\"kind\" = 'double_random') AS done "
            'FROM "draw_items" i JOIN "inspection_draws" d ON d."id" = i."draw_id" '
            'LEFT JOIN "users" a ON a."username" = i."inspector1" LEFT JOIN "users" b ON b."username" = i."inspector2" '
            'WHERE i."draw_id" = :d AND i."enterprise_id" = :e FOR UPDATE OF d'
        ), {"d": new.draw_id, "e": enterprise.id}).mappings().one_or_none()
        if item is None or username not in (item["inspector1"], item["inspector2"]):
            raise InspectionNotFoundError(f"draw:{new.draw_id}")
        if item["superseded"]:
            raise InspectionInputError("该抽查已被重新抽取，请按新的抽查结果检查")
        if item["done"]:
            raise InspectionInputError("该抽查任务已记录检查结果")
        inspectors = f"{item['n1']}、{item['n2']}"
    elif new.draw_id is not None:
        raise InspectionInputError("只有双随机检查关联抽查任务")
    new_id = conn.execute(text(
        'INSERT INTO "inspections" ("code", "unit_id", "enterprise_id", "inspector_level", "kind", "inspected_at", '
        '"inspectors", "result", "hazards_found", "note", "created_by", "checklist", "document_no", "penalty_yuan", '
        '"draw_id", "request_key") VALUES (:code, (SELECT "unit_id" FROM "enterprises" WHERE "id" = :e), :e, :lvl, '
        ":kind, :day, :inspectors, :result, :found, nullif(:note, ''), :u, CAST(:checklist AS jsonb), "
        "nullif(:doc, ''), :penalty, :draw, :k) ON CONFLICT (\"request_key\") DO NOTHING RETURNING \"id\""
    ), {"code": f"JC{today:%Y%m%d}{secrets.token_hex(5).upper()}", "e": enterprise.id, "lvl": min(level, 4),
        "kind": new.kind, "day": new.inspected_at, "inspectors": inspectors[:200], "result": new.result,
        "found": len(findings), "note": new.note.strip(), "u": username,
        "checklist": json.dumps(checklist_json, ensure_ascii=False) if checklist_json else None,
        "doc": new.document_no.strip(), "penalty": penalty, "draw": new.draw_id, "k": new.request_key}).scalar()
    if new_id is None:  # the same key, raced by a second tab
        raced = _stored(conn, 'x."request_key" = :k', {"k": new.request_key})
        if raced is None:
            raise InspectionInputError("页面已过期，请刷新后重新提交")
        return raced, False
    stored = _stored(conn, 'x."id" = :id', {"id": new_id})
    if stored is None:  # pragma: no cover - just inserted
        raise InspectionNotFoundError(str(new_id))
    files = save_inspection_files(conn, inspection_id=stored.id, files=attachments, by=username)
    audit(conn, username=username, action="inspection_recorded", ip=ip, detail={
        "inspection_id": stored.id, "code": stored.code, "enterprise": enterprise.credit_code, "kind": new.kind,
        "result": new.result, "findings": len(findings), "document_no": new.document_no.strip() or None,
        "penalty_yuan": str(penalty) if penalty is not None else None, "draw_id": new.draw_id,
        "attachments": {k: sum(1 for kind, _ in attachments if kind == k) for k in INSPECTION_KINDS},
        "attachment_ids": files})
    return stored, True


@dataclass(frozen=True)
class DueEnterprise(EnterpriseDue):
    """An enterprise whose next inspection is due within the warning window, or overdue."""

    months: int
    due: date


# The due list's states (the map layer's classes): overdue, never inspected (due today), due within the window.
DUE_STATES = ("overdue", "never", "due_soon")
_STATE_SQL = {"overdue": "q.last_at IS NOT NULL AND q.due < :today", "never": "q.last_at IS NULL",
              "due_soon": "q.last_at IS NOT NULL AND q.due >= :today"}


def due_list(conn: Connection, *, scope: str, rule: FrequencyRule, today: date, limit: int = 500,
             state: str | None = None) -> tuple[list[DueEnterprise], int, int]:
    """Return the scope's enterprises due within the warning window (most overdue first), their count, the overdue.

    The interval is ``rule.interval`` written as SQL, with the month arithmetic of
    :func:`domain.inspection_rules.next_due` (PostgreSQL clamps to the month's end too). ``state`` (one of
    :data:`DUE_STATES`) narrows the rows listed; the two counts stay those of the whole list.
    """
    if state is not None and state not in DUE_STATES:
        raise ValueError(f"unknown due state {state!r}")
    narrow = _STATE_SQL[state] if state else "TRUE"
    rows = conn.execute(text(
        f'WITH e AS (SELECT {_DUE_COLUMNS} FROM "enterprises" e JOIN "units" u ON u."id" = e."unit_id" '  # noqa: S608
        f'  WHERE {path_in_scope("u.path")} AND {enterprise_in_department("e")}), '
        'm AS (SELECT e.*, CASE WHEN e.key_flags THEN least(b.m, :flag_m) ELSE b.m END AS months FROM e '
        "  CROSS JOIN LATERAL (SELECT CASE e.risk_level WHEN 'red' THEN :red WHEN 'orange' THEN :orange "
        "  WHEN 'yellow' THEN :yellow WHEN 'blue' THEN :blue ELSE :unassessed END AS m) b), "
        'd AS (SELECT m.*, coalesce(CAST(m.last_at + make_interval(months => m.months) AS date), '
        '  CAST(:today AS date)) AS due FROM m) '
        'SELECT * FROM (SELECT d.*, count(*) OVER () AS total, '
        '  count(*) FILTER (WHERE d.due < :today) OVER () AS overdue FROM d '
        f'  WHERE d.due <= CAST(:today AS date) + :soon) q WHERE {narrow} ORDER BY q.due, q.credit_code LIMIT :lim'
    ), {"flag_m": rule.key_flags_months, "today": today, "soon": rule.due_soon_days, "lim": limit,
        **{k: rule.months[k] for k in ("red", "orange", "yellow", "blue", "unassessed")},
        **scope_params(scope)}).mappings().all()
    if state and not rows:  # nothing in this state: the counts of the whole list still stand
        return [], *due_list(conn, scope=scope, rule=rule, today=today, limit=1)[1:]
    total = int(rows[0]["total"]) if rows else 0
    overdue = int(rows[0]["overdue"]) if rows else 0
    return [DueEnterprise(**{k: r[k] for k in DueEnterprise.__dataclass_fields__}) for r in rows], total, overdue
