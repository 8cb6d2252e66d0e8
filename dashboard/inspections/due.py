"""Risk-based inspection frequency in the UI: the next due date of one enterprise (its file, the inspection form).

The rule is ``domain.inspection_rules.FrequencyRule`` (``app_config`` ``inspection_frequency``); the due list of a
scope is ``geo.inspections_app.due_list``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from dash import html

from dashboard.readdb import run_read
from domain import clock
from domain.inspection_rules import DUE_STATE, FrequencyRule, due_state, has_key_flags, next_due
from geo.inspections_app import inspection_settings
from geo.rows import EnterpriseFacts

DUE_TITLE = "按风险等级、两重点一重大和重点监管单位确定的检查频次"


def rule() -> FrequencyRule:
    """Return the frequency rule in force."""
    return run_read(lambda conn: inspection_settings(conn)[1])


def next_due_badge(enterprise: EnterpriseFacts, last_at: date | None, *, frequency: FrequencyRule | None = None,
                   element_id: str | None = None) -> html.Span:
    """Render "下次应检 YYYY-MM-DD（每 N 个月，已逾期/临期）" for an enterprise row of the file."""
    frequency = frequency or rule()
    return due_badge(enterprise.get("risk_level"), has_key_flags(enterprise), last_at, frequency,
                     element_id=element_id)


def due_badge(risk_level: str | None, key_flags: bool, last_at: date | None, frequency: FrequencyRule, *,
              element_id: str | None = None) -> html.Span:
    """Render the next due date with the interval and its state."""
    today = clock.today()
    due = next_due(last_at, risk_level, key_flags, frequency, today)
    state = due_state(due, today, frequency)
    months = frequency.interval(risk_level, key_flags)
    when = "从未检查，应尽快检查" if last_at is None else f"下次应检 {due:%Y-%m-%d}"
    extra: dict[str, Any] = {"id": element_id} if element_id else {}
    return html.Span([when, f"（每 {months} 个月", f"，{DUE_STATE[state]}）" if state != "ok" and last_at else "）"],
                     className=f"insp-due insp-due-{state}", title=DUE_TITLE, **extra)
