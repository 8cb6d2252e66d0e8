"""Cheap read-only connections for the per-request account check and the page/data reads, and where they go.

:func:`geo.db.connect` pings the server on every pool checkout and wraps each use in BEGIN/COMMIT:
four round trips around a one-statement read. Here the pool runs in autocommit without the ping
(one round trip per statement; under READ COMMITTED a read transaction gives no more consistency
across statements than autocommit does), and a read that finds its pooled connection dead (server
restart) is retried once on a fresh connection instead.

**Replica routing** (``SAFEGRID_DATABASE_REPLICA_URL``, docs/stack.md). :func:`run_read` sends a read to
the streaming replica unless

* it is the account check (``primary=True``): a logout or an account change must end the session on
  every instance at once, and the account's data version read there is what the rest of the request
  is held to;
* the session wrote less than ``read_your_writes_s`` ago (:func:`geo.db.on_committed_write` stamps the
  signed session cookie, so it holds on whichever instance the next request lands);
* the replica is down, not in recovery, lags more than ``replica_max_lag_s``, or has not yet replayed
  the data version the account check saw on the primary. So a page never shows data older than the
  request's own data version, and a cached response (keyed by that version, dashboard/cache.py) is
  never built from older rows. The replica's state is re-read at most every ``replica_check_interval_s``
  per process, by one thread while the others use the last answer.

A replica read that fails for a connection reason marks the replica down until the next check and is
retried on the primary: users see no error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from flask import g, has_request_context, session
from psycopg2 import errors as pg_errors
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import DBAPIError, OperationalError

from geo.db import on_committed_write, refuse_connects_while_hung, watched_connect_args
from geo.replica import ReplicaState, replica_state, version_reached
from geo.settings import get_settings

T = TypeVar("T")
log = logging.getLogger(__name__)
WROTE_AT_FIELD = "_wrote_at"  # session key: unix time of the session's last committed write


@lru_cache(maxsize=8)
def read_engine(url: str | None = None) -> Engine:
    """Return the autocommit, ping-less pooled engine for ``url`` (default: the project database)."""
    settings = get_settings()
    eng = create_engine(
        url or settings.url(), pool_size=settings.pool_size, pool_pre_ping=False, isolation_level="AUTOCOMMIT",
        pool_timeout=settings.read_pool_timeout_s,
        connect_args=watched_connect_args(settings, settings.read_statement_timeout_ms,
                                          application_name="safegrid-read"),
    )
    refuse_connects_while_hung(eng)  # timeouts and the hang guard: see geo.db
    return eng


def _run(eng: Engine, read: Callable[[Connection], T]) -> T:
    for attempt in range(2):
        try:
            with eng.connect() as conn:
                return read(conn)
        except DBAPIError as exc:
            if attempt or not exc.connection_invalidated:
                raise
    raise AssertionError("unreachable")


class ReplicaMonitor:
    """Per-process view of the replica: usable or not, re-checked at most every ``replica_check_interval_s``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state: ReplicaState | None = None  # None: down or not yet checked
        self.checked_at = float("-inf")
        self.reason = ""

    def current(self, url: str) -> ReplicaState | None:
        """Return the last usable state; one caller re-checks when it is older than the interval."""
        settings = get_settings()
        if time.monotonic() - self.checked_at >= settings.replica_check_interval_s and self._lock.acquire(False):
            try:
                self._check(url, settings.replica_max_lag_s)
            finally:
                self._lock.release()
        return self.state

    def _check(self, url: str, max_lag_s: float) -> None:
        try:
            state: ReplicaState | None = _run(read_engine(url), replica_state)
        except DBAPIError as exc:
            self.mark_down(f"unreachable: {type(exc.orig).__name__}")
            return
        assert state is not None
        reason = ("not in recovery (promoted?)" if not state.in_recovery
                  else f"lags {state.lag_s:.1f} s" if state.lag_s > max_lag_s else "")
        self._set(None if reason else state, reason)

    def mark_down(self, reason: str) -> None:
        """Skip the replica until the next check (a failed read, or the check itself failed)."""
        self._set(None, reason)

    def _set(self, state: ReplicaState | None, reason: str) -> None:
        if (state is None) != (self.state is None) or reason != self.reason:
            if state is None:
                log.warning("read replica skipped (%s): reads go to the primary", reason)
            elif self.reason:
                log.warning("read replica usable again (lag %.1f s)", state.lag_s)
        self.state, self.reason, self.checked_at = state, reason, time.monotonic()


REPLICA = ReplicaMonitor()


def wrote_recently(window_s: float) -> bool:
    """Tell whether this request's session committed a write less than ``window_s`` seconds ago."""
    wrote_at = session.get(WROTE_AT_FIELD)
    return isinstance(wrote_at, (int, float)) and time.time() - wrote_at < window_s


def replica_url_for_this_read() -> str | None:
    """Return the replica's URL when this read may go there, else None (the primary)."""
    settings = get_settings()
    url = settings.database_replica_url
    if not url:
        return None
    need = ""
    if has_request_context():
        if wrote_recently(settings.read_your_writes_s):
            return None
        account = g.get("_login_user")  # loaded by the guard on the primary; None outside a signed-in request
        need = str(getattr(account, "data_version", "") or "")
    state = REPLICA.current(url)
    if state is None or not version_reached(state.data_version, need):
        return None
    return url


def run_read(read: Callable[[Connection], T], *, primary: bool = False) -> T:
    """Run the read-only function ``read`` on the replica when allowed (see the module), else on the primary.

    Retried once on a fresh connection if its pooled one was dead; a replica that fails to answer is
    skipped and the read runs on the primary.
    """
    url = None if primary else replica_url_for_this_read()
    if url is not None:
        try:
            return _run(read_engine(url), read)
        except OperationalError as exc:
            if isinstance(exc.orig, pg_errors.QueryCanceled):  # statement_timeout: the primary would time out too
                raise
            REPLICA.mark_down(f"read failed: {type(exc.orig).__name__}")
    return _run(read_engine(), read)


def _stamp_write() -> None:
    """After a committed write in a request: remember it in the session (read-your-writes on every instance).

    Stamped with or without a replica: the analytics cache (:func:`dashboard.cache.cached_value`) asks it too.
    """
    if has_request_context():
        session[WROTE_AT_FIELD] = round(time.time(), 1)


on_committed_write(_stamp_write)
