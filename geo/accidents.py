"""The accident register (事故, issue 18): recording one in the app, an enterprise's accidents, the map's points, KPIs.

Accidents are loaded as a ledger (``geo.ledger_kinds.ACCIDENTS``) or recorded in the app with
:func:`record_accident` (scope-checked in SQL, idempotent by request key, audited ``accident_recorded``).
The grade always follows the toll (``domain.accidents``: 《生产安全事故报告和调查处理条例》第三条); a
stated grade that contradicts it is refused. :data:`ACCIDENT_POINTS` is the map layer's point source.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, text

from domain import accidents as rules
from domain.labels import ACCIDENT_TYPE, INVESTIGATION_STATUS
from geo.map_queries import PointSource
from geo.scope import enterprise_id_in_department, enterprise_in_department, path_in_scope, scope_params
from geo.users import audit

MAX_TITLE = 200
MAX_REPORT = 5000
MAX_COUNT = 10000  # deaths or injuries of one accident: a typo beyond this
EARLIEST = date(2000, 1, 1)

# Accidents as points, classed by grade (most severe first); the layer's record is in layers/registry.py.
ACCIDENT_POINTS = PointSource(
    table="accidents", joins='LEFT JOIN "enterprises" e ON e."id" = t."enterprise_id"', enterprise="e",
    cls='t."grade"', classes=tuple(reversed(rules.GRADES)),
    props=(("title", 't."title"'), ("occurred_on", 't."occurred_on"'), ("deaths", 't."deaths"'),
           ("injuries", 't."injuries"'), ("enterprise", 'e."name"')),
)


class AccidentInputError(ValueError):
    """Bad input for an accident; the message is Chinese and shown as it is."""


class AccidentNotFoundError(LookupError):
    """The enterprise or the place is not in the caller's scope."""


@dataclass(frozen=True)
class NewAccident:
    """An accident as the form sends it (counts and loss as typed; checked by :func:`record_accident`)."""

    title: str
    occurred_on: date
    request_key: str
    credit_code: str = ""
    lon: float | None = None
    lat: float | None = None
    industry: str = ""
    accident_type: str = ""
    road_traffic: bool = False
    deaths: str = "0"
    injuries: str = "0"
    direct_loss_wan: str = ""
    grade: str = ""  # stated grade (optional): must agree with the toll
    investigation: str = "reported"
    report: str = ""


@dataclass(frozen=True)
class AccidentRow:
    """One stored accident as pages show it."""

    id: int
    code: str
    title: str
    occurred_on: date
    accident_type: str | None
    deaths: int
    injuries: int
    direct_loss_wan: Decimal | None
    grade: str
    investigation: str | None
    enterprise_name: str | None
    unit_name: str | None


_ROW = ('a."id", a."code", a."title", a."occurred_on", a."accident_type", a."deaths", a."injuries", '
        'a."direct_loss_wan", a."grade", a."investigation", e."name" AS enterprise_name, u."name" AS unit_name')


def _row(m: Any) -> AccidentRow:
    return AccidentRow(**{k: m[k] for k in AccidentRow.__dataclass_fields__})


def _count(value: str, name: str) -> int:
    raw = (value or "").strip() or "0"
    if not raw.isdigit():
        raise AccidentInputError(f"“{name}”应为 0 或正整数")
    n = int(raw)
    if n > MAX_COUNT:
        raise AccidentInputError(f"“{name}”超出合理范围：{n}")
    return n


def _loss(value: str) -> Decimal | None:
    raw = (value or "").strip()
    if not raw:
        return None
    try:
        loss = Decimal(raw)
    except InvalidOperation:
        raise AccidentInputError("“直接经济损失（万元）”应为数字") from None
    if not loss.is_finite() or loss < 0 or loss >= Decimal("1e10"):
        raise AccidentInputError("“直接经济损失（万元）”应为不小于 0 的数字")
    return loss.quantize(Decimal("0.01"))


def checked(new: NewAccident, today: date) -> tuple[int, int, Decimal | None, str]:
    """Check the input (Chinese reasons); return deaths, injuries, loss and the grade to store."""
    if not 16 <= len(new.request_key) <= 64 or not new.request_key.isascii():
        raise AccidentInputError("页面已过期，请刷新后重新提交")
    if not new.title.strip():
        raise AccidentInputError("请填写事故名称")
    if len(new.title.strip()) > MAX_TITLE:
        raise AccidentInputError(f"事故名称不能超过 {MAX_TITLE} 字")
    if not EARLIEST <= new.occurred_on <= today:
        raise AccidentInputError("发生日期应不早于 2000 年且不晚于今天")
    if new.accident_type and new.accident_type not in ACCIDENT_TYPE:
        raise AccidentInputError("请选择事故类型 (GB 6441)")
    if new.investigation not in INVESTIGATION_STATUS:
        raise AccidentInputError("请选择调查处理状态")
    if len(new.report) > MAX_REPORT:
        raise AccidentInputError(f"事故经过及调查报告不能超过 {MAX_REPORT} 字")
    if len(new.industry) > 30:
        raise AccidentInputError("行业不能超过 30 字")
    deaths, injuries = _count(new.deaths, "死亡人数"), _count(new.injuries, "重伤人数")
    loss = _loss(new.direct_loss_wan)
    try:
        stated = rules.parse_grade(new.grade)
    except ValueError as exc:
        raise AccidentInputError(str(exc)) from None
    conflict = rules.grade_conflict(stated, deaths, injuries, loss)
    if conflict:
        raise AccidentInputError(conflict)
    return deaths, injuries, loss, rules.grade_of(deaths, injuries, loss)


def _place(conn: Connection, *, scope: str, new: NewAccident) -> dict[str, Any]:
    """Enterprise, grid cell and point of a new accident, all within ``scope`` (else not found)."""
    params = scope_params(scope)
    point = new.lon is not None and new.lat is not None
    if point and not (-180 <= float(new.lon or 0) <= 180 and -90 <= float(new.lat or 0) <= 90):
        raise AccidentInputError("经纬度超出范围")
    out: dict[str, Any] = {"e": None, "unit": None, "lon": new.lon if point else None,
                           "lat": new.lat if point else None, "industry": new.industry.strip() or None}
    if new.credit_code.strip():
        ent = conn.execute(text(
            f'SELECT e."id", e."unit_id", e."industry", ST_X(e."geom") AS lon, ST_Y(e."geom") AS lat '  # noqa: S608
            f'FROM "enterprises" e JOIN "units" u ON u."id" = e."unit_id" '
            f'WHERE e."credit_code" = :cc AND {path_in_scope("u.path")} AND {enterprise_in_department("e")}'
        ), {"cc": new.credit_code.strip().upper(), **params}).mappings().one_or_none()
        if ent is None:
            raise AccidentNotFoundError(new.credit_code)
        out.update(e=ent["id"], unit=ent["unit_id"], industry=out["industry"] or ent["industry"])
        if not point:
            out.update(lon=ent["lon"], lat=ent["lat"])
            return out
    if not point:
        raise AccidentInputError("请填写事故单位（统一社会信用代码）或事故地点（经纬度）")
    cell = conn.execute(text(
        f'SELECT c."id" FROM "units" c WHERE c."level" = 5 AND {path_in_scope("c.path")} '  # noqa: S608
        'AND ST_Intersects(c."geom", ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) ORDER BY c."code" LIMIT 1'
    ), {"lon": new.lon, "lat": new.lat, **params}).scalar()
    if cell is None and out["e"] is None:
        raise AccidentNotFoundError(f"{new.lon},{new.lat}")
    out["unit"] = cell if cell is not None else out["unit"]
    return out


def _stored(conn: Connection, where: str, params: dict[str, Any]) -> AccidentRow | None:
    m = conn.execute(text(
        f'SELECT {_ROW} FROM "accidents" a LEFT JOIN "enterprises" e ON e."id" = a."enterprise_id" '  # noqa: S608
        f'LEFT JOIN "units" u ON u."id" = a."unit_id" WHERE {where}'), params).mappings().one_or_none()
    return _row(m) if m else None


def record_accident(conn: Connection, *, scope: str, username: str, new: NewAccident, today: date,
                    ip: str | None = None) -> tuple[AccidentRow, bool]:
    """Store one accident in ``scope`` by ``username``; return it and whether it is new (same key: the stored one).

    Placed by its point (the grid cell of ``scope`` containing it) or its enterprise (point and cell).
    Raises :class:`AccidentInputError` (bad input, Chinese) and :class:`AccidentNotFoundError` (enterprise or
    place outside the scope). Audited (``accident_recorded``).
    """
    if 16 <= len(new.request_key) <= 64:
        existing = _stored(conn, 'a."request_key" = :k AND a."created_by" = :u', {"k": new.request_key, "u": username})
        if existing is not None:
            return existing, False
    deaths, injuries, loss, grade = checked(new, today)
    place = _place(conn, scope=scope, new=new)
    new_id = conn.execute(text(
        'INSERT INTO "accidents" ("code", "title", "occurred_on", "enterprise_id", "unit_id", "industry", '
        '"accident_type", "road_traffic", "deaths", "injuries", "direct_loss_wan", "grade", "investigation", '
        '"report", "created_by", "request_key", "geom") VALUES (:code, :title, :day, :e, :unit, :industry, '
        ":atype, :road, :deaths, :injuries, :loss, :grade, :inv, nullif(:report, ''), :u, :k, "
        "CASE WHEN CAST(:lon AS float8) IS NULL OR CAST(:lat AS float8) IS NULL THEN NULL "
        "ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END) "
        'ON CONFLICT ("request_key") DO NOTHING RETURNING "id"'
    ), {"code": f"SG{today:%Y%m%d}{secrets.token_hex(4).upper()}", "title": new.title.strip(),
        "day": new.occurred_on, "e": place["e"], "unit": place["unit"], "industry": place["industry"],
        "atype": new.accident_type or None, "road": new.road_traffic, "deaths": deaths, "injuries": injuries,
        "loss": loss, "grade": grade, "inv": new.investigation, "report": new.report.strip(), "u": username,
        "k": new.request_key, "lon": place["lon"], "lat": place["lat"]}).scalar()
    if new_id is None:  # the same key, raced by a second tab
        raced = _stored(conn, 'a."request_key" = :k', {"k": new.request_key})
        if raced is None:
            raise AccidentInputError("页面已过期，请刷新后重新提交")
        return raced, False
    stored = _stored(conn, 'a."id" = :id', {"id": new_id})
    if stored is None:  # pragma: no cover - just inserted
        raise AccidentNotFoundError(str(new_id))
    audit(conn, username=username, action="accident_recorded", ip=ip, detail={
        "accident_id": stored.id, "code": stored.code, "enterprise": new.credit_code.strip().upper() or None,
        "deaths": deaths, "injuries": injuries, "direct_loss_wan": str(loss) if loss is not None else None,
        "grade": grade})
    return stored, True


def accidents_of_enterprise(conn: Connection, *, enterprise_id: int, limit: int = 50) -> list[AccidentRow]:
    """Return an enterprise's accidents, newest first (the caller has checked the enterprise is in scope)."""
    rows = conn.execute(text(
        f'SELECT {_ROW} FROM "accidents" a LEFT JOIN "enterprises" e ON e."id" = a."enterprise_id" '  # noqa: S608
        'LEFT JOIN "units" u ON u."id" = a."unit_id" WHERE a."enterprise_id" = :e '
        'ORDER BY a."occurred_on" DESC, a."id" DESC LIMIT :n'), {"e": enterprise_id, "n": limit}).mappings()
    return [_row(m) for m in rows]


def accidents_in_scope(conn: Connection, *, scope: str, start: date, end: date, limit: int = 200) -> list[AccidentRow]:
    """Accidents of ``scope`` that occurred in [start, end), newest first."""
    rows = conn.execute(text(
        f'SELECT {_ROW} FROM "accidents" a LEFT JOIN "enterprises" e ON e."id" = a."enterprise_id" '  # noqa: S608
        f'JOIN "units" u ON u."id" = a."unit_id" WHERE {path_in_scope("u.path")} AND {enterprise_in_department("e")} '
        'AND a."occurred_on" >= :s AND a."occurred_on" < :e ORDER BY a."occurred_on" DESC, a."id" DESC LIMIT :n'
    ), {"s": start, "e": end, "n": limit, **scope_params(scope)}).mappings()
    return [_row(m) for m in rows]


@dataclass(frozen=True)
class AccidentKpis:
    """Accidents and deaths of this year to date against the same days of last year (the big screen's line)."""

    year: int
    accidents: int
    deaths: int
    last_accidents: int
    last_deaths: int


def accident_kpis(conn: Connection, *, scope: str, today: date) -> AccidentKpis:
    """Count this year's accidents and deaths up to ``today`` and last year's up to the same day, in ``scope``."""
    try:
        last_day = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        last_day = today.replace(year=today.year - 1, day=28)
    r = conn.execute(text(
        "SELECT count(*) FILTER (WHERE a.\"occurred_on\" >= :y0 AND a.\"occurred_on\" <= :t) AS n, "  # noqa: S608
        "coalesce(sum(a.\"deaths\") FILTER (WHERE a.\"occurred_on\" >= :y0 AND a.\"occurred_on\" <= :t), 0) AS d, "
        "count(*) FILTER (WHERE a.\"occurred_on\" < :y0) AS ln, "
        "coalesce(sum(a.\"deaths\") FILTER (WHERE a.\"occurred_on\" < :y0), 0) AS ld "
        f'FROM "accidents" a JOIN "units" u ON u."id" = a."unit_id" WHERE {path_in_scope("u.path")} '
        f'AND {enterprise_id_in_department("a.enterprise_id")} AND a."occurred_on" >= :l0 AND (a."occurred_on" <= :t) '
        'AND (a."occurred_on" >= :y0 OR a."occurred_on" <= :lt)'
    ), {"y0": date(today.year, 1, 1), "t": today, "l0": date(today.year - 1, 1, 1), "lt": last_day,
        **scope_params(scope)}).one()
    return AccidentKpis(today.year, int(r.n), int(r.d), int(r.ln), int(r.ld))
