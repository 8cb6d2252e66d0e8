"""Cheap read-only connections for the per-request account check and the cached data routes.

:func:`geo.db.connect` pings the server on every pool checkout and wraps each use in BEGIN/COMMIT:
four round trips around a one-statement read. Here the pool runs in autocommit without the ping
(one round trip per statement; under READ COMMITTED a read transaction gives no more consistency
across statements than autocommit does), and a read that finds its pooled connection dead (server
restart) is retried once on a fresh connection instead.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import DBAPIError

from geo.db import refuse_connects_while_hung, watched_connect_args
from geo.settings import get_settings

T = TypeVar("T")


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


def run_read(read: Callable[[Connection], T]) -> T:
    """Run the read-only function ``read`` on a pooled autocommit connection; retry once if it was dead."""
    for attempt in range(2):
        try:
            with read_engine().connect() as conn:
                return read(conn)
        except DBAPIError as exc:
            if attempt or not exc.connection_invalidated:
                raise
    raise AssertionError("unreachable")
