"""What the big screen reads for a scope (one connection) and the fingerprint a refresh compares."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from dashboard.bigscreen.panels import kpi_values, ticker_items
from domain.risk_rule import rule_from_config
from geo import bigscreen_queries as bq
from geo.db import connect
from geo.refresh import app_config
from geo.rule_settings import goal_rows
from geo.targets import screen_accidents
from geo.units import data_freshness


def goal_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the 动态清零 marks of the child areas: how many on track, open 存量 and overdue 增量 major hazards."""
    return {"areas": len(rows), "on_track": sum(1 for r in rows if r["marks"]["ok"]),
            "stock_open": sum(r["stock_open"] for r in rows),
            "increment_overdue": sum(r["increment_overdue"] for r in rows)}


def read_screen(scope: str, as_of: date) -> dict[str, Any]:
    """Read everything the screen shows for ``scope`` in one connection."""
    with connect() as conn:
        head = bq.scope_head(conn, scope=scope)
        return {
            "head": head,
            "kpis": bq.screen_kpis(conn, scope=scope, as_of=as_of),
            "children": bq.child_summaries(conn, scope=scope, as_of=as_of),
            "trend": bq.monthly_trend(conn, scope=scope, as_of=as_of),
            "alarms": bq.alarms(conn, scope=scope, as_of=as_of),
            "grid": bq.grid_overview(conn, scope=scope),
            "enforcement": bq.enforcement_kpis(conn, scope=scope, as_of=as_of),
            "fill": bq.fill_classes(conn, scope=scope),
            "accidents": screen_accidents(conn, scope=scope, as_of=as_of)
            | {"goals": goal_summary(goal_rows(conn, scope=scope, code=head["code"], as_of=as_of)) if head else None},
            "fresh": data_freshness(conn),
            "thresholds": rule_from_config(app_config(conn, "risk_rule")).thresholds,
        }


def signature(data: dict[str, Any], today: date, version: str = "") -> dict[str, Any]:
    """Fingerprint each part of the screen; the refresh compares it with the one it sent last time.

    KPI texts are kept as they are (each is its own output); every other part is a short hash, so
    the store a refresh sends back and forth stays well under a kilobyte. ``version`` is the data
    version read with the account before ``data`` (business day + write counters): while it stays the
    same, nothing the screen shows can have changed and a refresh need not read at all.
    """
    parts = {
        "kpis": data["kpis"], "children": data["children"], "thresholds": data["thresholds"],
        "trend": data["trend"], "grid": [data["grid"], data["enforcement"]], "fill": data["fill"],
        "fresh": data["fresh"],
        "ticker": [ticker_items(data["alarms"], as_of=today), data["alarms"]["counts"]],
        "accidents": data["accidents"],
    }
    out: dict[str, Any] = {k: hashlib.blake2b(json.dumps(v, sort_keys=True, default=str).encode(), digest_size=8)
                           .hexdigest() for k, v in parts.items()}
    out["values"] = kpi_values(data["kpis"])
    out["version"] = version
    return out
