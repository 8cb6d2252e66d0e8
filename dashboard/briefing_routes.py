"""``GET /export/briefing.pdf?unit=CODE&quarter=2026Q3`` (or ``&start=&end=``): the printable briefing (通报).

Capability ``targets`` (leaders, planners, administrators: the audience of /targets and /scorecards) and
``export``; the unit (default: the scope unit) must lie in the caller's scope (else 403, audited ``forbidden``);
bad parameters are a Chinese 400; every download is audited ``export_briefing``. Data: ``geo.briefing``;
drawing: ``layers.briefing``. The drawn PDF is kept in the response cache (key: area, period, the caller's scope,
the day and the data version, ``dashboard.cache.cache_key``): a second download of the same briefing is checked
and audited like the first but not drawn again. See ``docs/briefing.md``.
"""

from __future__ import annotations

import hashlib
import io
from datetime import date

from flask import Flask, Response, request, send_file

from dashboard.cache import CachedBody, cache_key, response_cache
from dashboard.errors import BadRequestError
from dashboard.roles import Capability
from dashboard.scope import client_ip, exporting_account, refuse_out_of_scope, scoped_route, unit_arg
from domain import clock
from domain.scorecards import last_complete_quarter, parse_quarter
from geo.briefing import load_briefing, period_label
from geo.db import connect
from geo.targets import area_in_scope
from geo.users import audit
from layers.briefing import render_briefing_pdf

MAX_PERIOD_DAYS = 366
PDF_MIME = "application/pdf"


def _day(name: str, label: str) -> date:
    raw = (request.args.get(name) or "").strip()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadRequestError(f"{label}格式应为 2026-07-01。") from None
    if not 2000 <= day.year <= 2100:
        raise BadRequestError(f"{label}应在 2000-2100 年之间。")
    return day


def period() -> tuple[date, date]:
    """Return the period asked: ``start`` and ``end`` (inclusive), else ``quarter``, else the last complete one."""
    if request.args.get("start") or request.args.get("end"):
        if request.args.get("quarter"):
            raise BadRequestError("请指定季度或起止日期，不要同时指定。")
        start, end = _day("start", "起始日期"), _day("end", "结束日期")
        if start > end:
            raise BadRequestError("起始日期不能晚于结束日期。")
        if (end - start).days >= MAX_PERIOD_DAYS:
            raise BadRequestError(f"统计期间不能超过 {MAX_PERIOD_DAYS} 天。")
        return start, end
    raw = (request.args.get("quarter") or "").strip()
    quarter = parse_quarter(raw) if raw else last_complete_quarter(clock.today())
    if quarter is None:
        raise BadRequestError("季度格式应为 2026Q3。")
    return quarter.start, quarter.end


def export_briefing() -> Response:
    """Send the briefing of ``unit`` (default: the scope) for the requested period as a PDF."""
    account = exporting_account()
    code = unit_arg(request.args.get("unit"))
    start, end = period()
    with connect() as conn:
        area = area_in_scope(conn, scope=account.scope, code=code)
        if area is not None:
            audit(conn, username=account.username, action="export_briefing", ip=client_ip(), detail={
                "unit": area.code, "start": start.isoformat(), "end": end.isoformat(),
                "scope": account.record.scope_code,
            })
    if area is None:
        raise refuse_out_of_scope(code or account.scope)
    # The same briefing again (same area, period, scope, day and data version): the bytes drawn the first time.
    cache = response_cache()
    key = cache_key("/export/briefing.pdf", {"unit": area.code, "start": start, "end": end})
    hit = cache.get(key)
    if hit is not None:
        data = hit.data
    else:
        generated = clock.now()
        with connect() as conn:
            briefing = load_briefing(conn, scope=account.scope, code=area.code, start=start, end=end,
                                     as_of=clock.today())
        if briefing is None:  # the area was removed meanwhile
            raise refuse_out_of_scope(area.code)
        data = render_briefing_pdf(briefing, generated=generated)
        cache.put(key, CachedBody(data, hashlib.blake2b(data, digest_size=16).hexdigest(), None))
    label = period_label(start, end).replace(" ", "")
    return send_file(io.BytesIO(data), as_attachment=True, mimetype=PDF_MIME,
                     download_name=f"安全生产通报_{area.name}_{label}.pdf")


def init_app(server: Flask) -> None:
    """Register the briefing download."""
    server.add_url_rule("/export/briefing.pdf", "export_briefing", scoped_route(Capability.TARGETS)(export_briefing))
