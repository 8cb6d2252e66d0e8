"""Public reports (随手拍 / 群众举报): the anonymous submission and the grid manager's queue.

* :func:`submit` — written by the public page only, which reads nothing back but the report's code:
  idempotency key, per-address daily throttle (a keyed hash of the address, never the address),
  the grid cell (level 5) containing the point, the report and its photos in one transaction.
* :func:`pending_reports` — the queue of one scope (reports whose cell lies in it).
* :func:`confirm` / :func:`dismiss` — one transaction each: the report is read within the scope and
  locked, the version the manager saw must be current (else :class:`ReportConflictError`: 已被他人处理),
  confirm registers a hazard (channel 群众举报) through :func:`geo.hazard_actions.report` and moves the
  report's photos to it; both are audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, text

from domain.hazard_flow import Actor
from domain.labels import PUBLIC_REPORT_STATUS
from domain.risk_rule import RiskRule
from geo.attachments import ImageLike, store
from geo.hazard_actions import HazardRecord, NewHazard
from geo.hazard_actions import report as report_hazard
from geo.scope import NO_DEPARTMENT, path_in_scope, scope_params
from geo.users import audit

MAX_DESCRIPTION = 1000
MAX_CONTACT = 50
# Codes carry no sequence number, so a thank-you page does not tell how many reports came in.
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class PublicReportError(ValueError):
    """Input the report cannot take; the message is the Chinese text the user reads."""


class ThrottledError(PublicReportError):
    """The address reached today's number of reports."""


class ReportNotFoundError(LookupError):
    """No such report in the caller's scope (the same answer for missing and out-of-scope)."""


class ReportConflictError(Exception):
    """Someone else handled the report since the manager saw it; ``status`` is its state now."""

    def __init__(self, status: str) -> None:
        super().__init__("已被他人处理")
        self.status = status

    @property
    def message(self) -> str:
        """What the manager reads."""
        return f"已被他人处理（当前状态：{PUBLIC_REPORT_STATUS.get(self.status, self.status)}）"


@dataclass(frozen=True)
class NewPublicReport:
    """What the public page posts."""

    description: str
    lon: float
    lat: float
    request_key: str
    contact: str = ""


@dataclass(frozen=True)
class Submitted:
    """The outcome of a submission: the report's code and whether it was created now (False: a resubmit)."""

    code: str
    created: bool


@dataclass(frozen=True)
class PendingReport:
    """One report of the queue."""

    id: int
    code: str
    status: str
    description: str
    contact: str | None
    lon: float | None
    lat: float | None
    unit_code: str | None
    unit_name: str | None
    created_at: datetime
    version: int


def _check(new: NewPublicReport) -> None:
    if not new.description.strip():
        raise PublicReportError("请填写隐患情况描述")
    if len(new.description) > MAX_DESCRIPTION:
        raise PublicReportError(f"描述不能超过 {MAX_DESCRIPTION} 字")
    if len(new.contact) > MAX_CONTACT:
        raise PublicReportError(f"联系方式不能超过 {MAX_CONTACT} 字")
    if not (-180 <= new.lon <= 180 and -90 <= new.lat <= 90):
        raise PublicReportError("位置坐标无效，请重新定位")
    if not 16 <= len(new.request_key) <= 64 or not new.request_key.isascii():
        raise PublicReportError("页面已过期，请刷新后重新提交")


def _new_code(day: date) -> str:
    return f"JB{day:%Y%m%d}-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def submit(conn: Connection, *, new: NewPublicReport, photos: list[ImageLike], ip_hash: str, per_day: int,
           today: date) -> Submitted:
    """Store a report (待核实) with its photos in the grid cell containing its point.

    Raises :class:`ThrottledError` once ``ip_hash`` sent ``per_day`` reports today (business day) and
    :class:`PublicReportError` for bad input or a point outside every grid cell. The same request key
    again returns the stored report's code (a double tap, a resent form) without counting it.
    """
    _check(new)
    existing = conn.execute(text('SELECT "code" FROM "public_reports" WHERE "request_key" = :k'),
                            {"k": new.request_key}).scalar()
    if existing is not None:
        return Submitted(str(existing), False)
    # One address at a time: concurrent posts from it queue here, so the count below is exact.
    conn.execute(text("SELECT pg_advisory_xact_lock(41100015, hashtext(:h))"), {"h": ip_hash})
    sent = conn.execute(text(
        'SELECT count(*) FROM "public_reports" WHERE "ip_hash" = :h AND "created_at" >= CAST(:day AS date)'),
        {"h": ip_hash, "day": today}).scalar_one()
    if sent >= per_day:
        raise ThrottledError(f"今天从您的网络提交的举报已达 {per_day} 条上限，请明天再试；"
                             "紧急情况请拨打 12350 安全生产举报电话。")
    unit_id = conn.execute(text(
        'SELECT "id" FROM "units" WHERE "level" = 5 AND ST_Intersects("geom", ST_SetSRID(ST_MakePoint(:x, :y), 4326)) '
        'ORDER BY "code" LIMIT 1'), {"x": new.lon, "y": new.lat}).scalar()
    if unit_id is None:
        raise PublicReportError("该位置不在本平台受理范围内，请确认位置后重试；也可拨打 12350 举报。")
    row = conn.execute(text(
        'INSERT INTO "public_reports" ("code", "status", "description", "contact", "geom", "unit_id", "ip_hash", '
        '"request_key") VALUES (:code, \'pending\', :d, :c, ST_SetSRID(ST_MakePoint(:x, :y), 4326), :u, :h, :k) '
        'ON CONFLICT ("request_key") DO NOTHING RETURNING "id", "code"'),
        {"code": _new_code(today), "d": new.description.strip(), "c": new.contact.strip() or None, "x": new.lon,
         "y": new.lat, "u": unit_id, "h": ip_hash, "k": new.request_key}).one_or_none()
    if row is None:  # the same key committed meanwhile by a concurrent post
        code = conn.execute(text('SELECT "code" FROM "public_reports" WHERE "request_key" = :k'),
                            {"k": new.request_key}).scalar_one()
        return Submitted(str(code), False)
    for photo in photos:
        store(conn, photo, kind="report", by=None, report_id=int(row[0]))
    audit(conn, username=None, action="public_report_submit",
          detail={"report": row[1], "photos": len(photos), "ip_hash": ip_hash[:12]})
    return Submitted(str(row[1]), True)


_REPORT_COLUMNS = (
    'r."id", r."code", r."status", r."description", r."contact", ST_X(r."geom") AS "lon", ST_Y(r."geom") AS "lat", '
    'u."code" AS "unit_code", u."name" AS "unit_name", r."created_at", r."version"'
)


def pending_reports(conn: Connection, *, scope: str, limit: int = 100) -> list[PendingReport]:
    """Return the reports waiting in ``scope`` (待核实), oldest first."""
    sql = (f'SELECT {_REPORT_COLUMNS} FROM "public_reports" r JOIN "units" u ON u."id" = r."unit_id" '  # noqa: S608
           f'WHERE r."status" = \'pending\' AND {path_in_scope("u.path")} AND {NO_DEPARTMENT} '
           'ORDER BY r."created_at", r."id" LIMIT :lim')
    return [PendingReport(**r) for r in conn.execute(text(sql), {"lim": limit, **scope_params(scope)}).mappings()]


def pending_count(conn: Connection, *, scope: str) -> int:
    """How many reports wait in ``scope``."""
    sql = ('SELECT count(*) FROM "public_reports" r JOIN "units" u ON u."id" = r."unit_id" '  # noqa: S608
           f'WHERE r."status" = \'pending\' AND {path_in_scope("u.path")} AND {NO_DEPARTMENT}')
    return int(conn.execute(text(sql), scope_params(scope)).scalar_one())


def _locked(conn: Connection, *, scope: str, report_id: int, version: int) -> dict[str, Any]:
    """Return the report inside ``scope``, locked, at the version seen and still pending; else raise."""
    sql = (f'SELECT {_REPORT_COLUMNS}, r."unit_id" FROM "public_reports" r '  # noqa: S608 - fixed fragments
           f'JOIN "units" u ON u."id" = r."unit_id" WHERE r."id" = :id AND {path_in_scope("u.path")} '
           f'AND {NO_DEPARTMENT} '
           'FOR UPDATE OF r')
    row = conn.execute(text(sql), {"id": report_id, **scope_params(scope)}).mappings().one_or_none()
    if row is None:
        raise ReportNotFoundError(report_id)
    if row["version"] != version or row["status"] != "pending":
        raise ReportConflictError(str(row["status"]))
    return dict(row)


def _handled(conn: Connection, *, report_id: int, version: int, status: str, by: str, note: str,
             hazard_id: int | None = None) -> None:
    updated = conn.execute(text(
        'UPDATE "public_reports" SET "status" = :s, "handled_by" = :by, "handled_at" = now(), "handled_note" = :n, '
        '"hazard_id" = coalesce(:h, "hazard_id"), "version" = "version" + 1 WHERE "id" = :id AND "version" = :v'),
        {"s": status, "by": by, "n": note or None, "h": hazard_id, "id": report_id, "v": version})
    if updated.rowcount != 1:  # pragma: no cover - the row is locked; kept as the last guard
        raise ReportConflictError(status)


@dataclass(frozen=True)
class HazardFromReport:
    """What the manager enters when confirming: the hazard's name, level and deadline."""

    title: str
    level: str
    deadline: date | None
    note: str = ""


def confirm(conn: Connection, *, scope: str, actor: Actor, report_id: int, version: int, hazard: HazardFromReport,
            as_of: date, rule: RiskRule) -> HazardRecord:
    """Accept a report: register its hazard (群众举报), move its photos to the hazard, mark it 已受理.

    Raises :class:`ReportNotFoundError`, :class:`ReportConflictError` or
    :class:`domain.hazard_flow.FlowError` (the hazard's own checks); nothing is written then.
    """
    row = _locked(conn, scope=scope, report_id=report_id, version=version)
    if row["lon"] is None or row["lat"] is None:
        raise PublicReportError("该举报没有位置，无法登记隐患")
    description = str(row["description"])
    note = hazard.note.strip()
    created, _ = report_hazard(conn, scope=scope, actor=actor, as_of=as_of, rule=rule, new=NewHazard(
        title=hazard.title, level=hazard.level, deadline=hazard.deadline, request_key=f"public_report:{report_id}",
        description=f"群众举报 {row['code']}：{description}" + (f"\n核实意见：{note}" if note else ""),
        lon=float(row["lon"]), lat=float(row["lat"]), channel="public_report"))
    event_id = conn.execute(text(
        'SELECT "id" FROM "hazard_events" WHERE "hazard_id" = :h AND "action" = \'report\' ORDER BY "id" LIMIT 1'),
        {"h": created.id}).scalar()
    conn.execute(text(
        'UPDATE "attachments" SET "hazard_id" = :h, "event_id" = :e, "kind" = \'finding\' WHERE "report_id" = :r'),
        {"h": created.id, "e": event_id, "r": report_id})
    _handled(conn, report_id=report_id, version=version, status="confirmed", by=actor.username, note=note,
             hazard_id=created.id)
    audit(conn, username=actor.username, action="public_report_confirm",
          detail={"report": row["code"], "hazard": created.code, "version": version + 1})
    return created


def dismiss(conn: Connection, *, scope: str, actor: Actor, report_id: int, version: int, reason: str) -> None:
    """Refuse a report (不予受理) with a required reason."""
    reason = reason.strip()
    if not reason:
        raise PublicReportError("请填写不予受理的理由")
    if len(reason) > 500:
        raise PublicReportError("理由不能超过 500 字")
    row = _locked(conn, scope=scope, report_id=report_id, version=version)
    _handled(conn, report_id=report_id, version=version, status="dismissed", by=actor.username, note=reason)
    audit(conn, username=actor.username, action="public_report_dismiss",
          detail={"report": row["code"], "reason": reason[:200], "version": version + 1})
