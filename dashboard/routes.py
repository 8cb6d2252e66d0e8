"""Flask routes: ``/healthz`` (no auth) and the scope-checked JSON data routes under ``/api/``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask, jsonify

from dashboard.errors import NotFoundError
from dashboard.scope import current_account, current_scope, scoped_route
from geo.db import connect
from geo.units import ping, unit_summary


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
    """Liveness + database check for docker-compose and load balancers."""
    try:
        with connect() as conn:
            ok = ping(conn)
    except Exception:  # any failure means "not healthy"; details stay in the server log
        ok = False
    return jsonify(status="ok" if ok else "error", database="ok" if ok else "unavailable"), 200 if ok else 503


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
    server.add_url_rule("/api/me", "api_me", scoped_route()(me))
    server.add_url_rule("/api/units/<code>", "api_unit", scoped_route()(unit))
