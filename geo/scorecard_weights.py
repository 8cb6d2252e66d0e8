"""The scorecard weights as the admin form edits them (``app_config`` ``scorecard_weights``, ``domain.scorecards``).

A module of its own rather than part of ``geo.scorecards`` (which reads the weights in force) or
``geo.rule_settings`` (which ``geo.scorecards`` may come to import): saving goes through
``geo.app_settings.save_config`` — versioned, idempotent, audited ``scorecard_weights_changed``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from domain.scorecards import DEFAULT_WEIGHTS, ScorecardSettingsError, weights_from_config
from geo.app_settings import config_state, save_config
from geo.scorecards import WEIGHTS_KEY, scorecard_weights


def _effective(stored: Any) -> dict[str, float]:
    try:
        return weights_from_config(stored)
    except (ScorecardSettingsError, TypeError, ValueError, AttributeError):
        return dict(DEFAULT_WEIGHTS)


def weights_state(conn: Connection) -> tuple[dict[str, float], str]:
    """Return the weights in force and their version (for the admin form's concurrent-edit check)."""
    return scorecard_weights(conn), config_state(conn, WEIGHTS_KEY)[1]


def save_weights(conn: Connection, weights: dict[str, float], *, username: str,
                 version: str | None) -> tuple[str, bool]:
    """Store the weights (checked again here) if still at ``version``; return (new version, changed).

    Saving the weights in force changes nothing (a double submit); an editor holding an older version gets
    ``geo.app_settings.SettingsConflictError``.
    """
    value = weights_from_config(weights)
    return save_config(conn, WEIGHTS_KEY, value, version=version, username=username,
                       action="scorecard_weights_changed", effective=_effective,
                       conflict="考核权重已被他人修改，请刷新页面后重新编辑。")
