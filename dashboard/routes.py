"""Flask routes: ``/healthz`` (no auth) and the scope-checked JSON data routes under ``/api/``."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from flask import Flask, current_app, g, jsonify, request

from dashboard import gis_export, ogc, public_report
from dashboard.errors import NotFoundError
from dashboard.scope import current_account, current_scope, scoped_route
from geo.db import Health, check, connect
from geo.units import unit_summary

log = logging.getLogger(__name__)


def plain_json(value: Any) -> Any:
    """Make query results JSON-friendly (ISO dates); reuse it in other data routes."""
    if isinstance(value, dict):
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_json(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def healthz() -> Any:
    """Liveness + database check for docker-compose and load balancers, answered within SAFEGRID_HEALTHZ_TIMEOUT_MS.

    ``database`` is ``ok``, ``unavailable`` (down, unreachable, not answering) or ``misconfigured``
    (account refused, no such database, unknown host: restarting will not help).
    """
    health = check()
    state = "ok" if health.ok else "misconfigured" if health.misconfigured else "unavailable"
    return jsonify(status="ok" if health.ok else "error", database=state), 200 if health.ok else 503


def startup_check() -> Health:
    """Probe the database once when the app is built and log plainly what is wrong (the app starts anyway)."""
    health = check()
    if health.misconfigured:
        log.error("启动检查：%s 请检查 SAFEGRID_DATABASE_URL / SAFEGRID_PG_DATABASE / SAFEGRID_PG_USER。",
                  health.describe())
    elif not health.ok:
        log.warning("启动检查：%s 应用照常启动，数据库恢复后自动可用。", health.describe())
    else:
        log.info("启动检查：%s", health.describe())
    return health


def login_form_without_database() -> None:
    """GET /login renders the form without reading the account (flask-login's loader would query the database).

    A signed-in user therefore sees the form instead of being redirected; signing in again just works,
    and the login page answers while the database is down or hanging.
    """
    if request.method == "GET" and request.path == "/login":
        g._login_user = current_app.login_manager.anonymous_user()  # type: ignore[attr-defined]


def me() -> Any:
    """Return the signed-in account: name, role and scope (read from the database this request)."""
    r = current_account().record
    return jsonify(username=r.username, role=r.role, scope={"code": r.scope_code, "name": r.scope_name,
                                                             "level": r.scope_level})


def unit(code: str) -> Any:
    """Return a unit in the caller's scope with its stats and its children."""
    with connect() as conn:
        data = unit_summary(conn, scope=current_scope(), code=code)
    if data is None:  # deleted between the scope check and now
        raise NotFoundError()
    return jsonify(plain_json(data))


def init_app(server: Flask) -> None:
    """Register the routes."""
    server.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese stays readable in payloads
    server.add_url_rule("/healthz", "healthz", healthz)
    server.before_request(login_form_without_database)
    startup_check()
    server.add_url_rule("/api/me", "api_me", scoped_route()(me))
    server.add_url_rule("/api/units/<code>", "api_unit", scoped_route()(unit))
    public_report.init_app(server)  # /report (no account) and /api/attachments/<id>
    ogc.init_app(server)  # /ogc/: OGC API - Features for desktop GIS (token or session)
    gis_export.init_app(server)  # /api/export/gis: GeoPackage / zipped Shapefile of the map's layers
