"""One ``app_config`` setting saved from an admin form: versioned against concurrent edits, idempotent, audited.

The version of a key is a digest of its stored JSON ("default" while nothing is stored). A save takes a
transaction-scoped advisory lock on the key (a row lock would not cover a key that is not stored yet), re-reads
the stored value, and then: the same effective value as stored → nothing written (a double submit); a version
other than the one the editor read → :class:`SettingsConflictError`; else the value is written, audited, and
``data_versions`` is bumped so cached pages built from the old value (the briefing PDF, the scorecards) are not
served again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, text

from geo.refresh import app_config
from geo.users import audit

DEFAULT_VERSION = "default"


class SettingsConflictError(ValueError):
    """The setting changed since the editor read it (message in Chinese)."""


def put_config(conn: Connection, key: str, value: Any) -> None:
    """Write ``app_config`` ``key`` (insert or replace), ``updated_at`` now."""
    conn.execute(text(
        'INSERT INTO "app_config" ("key", "value", "updated_at") VALUES (:k, CAST(:v AS jsonb), now()) '
        'ON CONFLICT ("key") DO UPDATE SET "value" = EXCLUDED."value", "updated_at" = now()'),
        {"k": key, "v": json.dumps(value, ensure_ascii=False, default=str)})


def config_state(conn: Connection, key: str) -> tuple[Any, str]:
    """Return the stored value of ``key`` (None: not stored) and its version."""
    stored = app_config(conn, key)
    if stored is None:
        return None, DEFAULT_VERSION
    return stored, hashlib.sha256(json.dumps(stored, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def save_config(conn: Connection, key: str, value: Any, *, version: str | None, username: str, action: str,
                effective: Callable[[Any], Any], conflict: str) -> tuple[str, bool]:
    """Store ``value`` under ``key`` if it is still at ``version`` (None: do not check); return (version, changed).

    ``effective`` maps a stored value (or None) to what it means, so that saving the defaults over nothing
    stored, or the same value again, changes nothing. ``conflict`` is the message of a lost race.
    """
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"app_config:{key}"})
    stored, current = config_state(conn, key)
    if effective(stored) == effective(value):
        return current, False
    if version is not None and version != current:
        raise SettingsConflictError(conflict)
    put_config(conn, key, value)
    conn.execute(text('INSERT INTO "data_versions" ("name", "version") VALUES (\'app_config\', 1) '
                      'ON CONFLICT ("name") DO UPDATE SET "version" = "data_versions"."version" + 1'))
    new_version = config_state(conn, key)[1]
    audit(conn, username=username, action=action, detail={"value": value, "version": new_version,
                                                          "previous": current})
    return new_version, True
