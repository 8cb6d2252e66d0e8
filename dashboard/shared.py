"""State shared by every app instance: Redis when ``SAFEGRID_REDIS_URL`` is set, degrading when it is down.

redis-py (a maintained client) with short socket timeouts. Every call goes through :meth:`Shared.call`:
a Redis error returns the caller's fallback, logs one warning, and Redis is left alone for
``redis_retry_s`` (no connect timeout paid per request while it is down); the first success after that
logs that it is back. Users never see a Redis error: the response cache misses, the login throttle
counts in PostgreSQL (dashboard/auth.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from flask import Flask, current_app

from dashboard.settings import DashboardSettings

T = TypeVar("T")
log = logging.getLogger(__name__)
_EXTENSION = "safegrid_shared"
KEY_PREFIX = "sg:"  # every key SafeGrid writes (one Redis may serve other programs)


class Shared:
    """A Redis client that degrades: ``call(fn, fallback)`` never raises a Redis error."""

    def __init__(self, url: str, *, timeout_s: float, retry_s: float) -> None:
        self.url = url
        self.retry_s = retry_s
        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                           health_check_interval=30)
        self._lock = threading.Lock()
        self._down_until = 0.0
        self.down = False

    def call(self, fn: Callable[[redis.Redis], T], fallback: T) -> T:
        """Return ``fn(client)``, or ``fallback`` when Redis fails or was failing less than ``retry_s`` ago."""
        if self.down and time.monotonic() < self._down_until:
            return fallback
        try:
            result = fn(self.client)
        except redis.RedisError as exc:
            with self._lock:
                if not self.down:
                    log.warning("redis unavailable (%s: %s): no shared cache, login throttle in PostgreSQL; "
                                "retrying every %g s", type(exc).__name__, exc, self.retry_s)
                self.down = True
                self._down_until = time.monotonic() + self.retry_s
            return fallback
        if self.down:
            with self._lock:
                if self.down:
                    log.warning("redis available again: shared cache and throttle back on")
                self.down = False
        return result


def shared(app: Flask | None = None) -> Shared | None:
    """Return the app's Redis (None when ``SAFEGRID_REDIS_URL`` is not set)."""
    found: Shared | None = (app or current_app).extensions.get(_EXTENSION)
    return found


def init_app(server: Flask, settings: DashboardSettings) -> None:
    """Give the app its Redis client when configured (per app: test apps do not share one by accident)."""
    if settings.redis_url:
        server.extensions[_EXTENSION] = Shared(settings.redis_url, timeout_s=settings.redis_timeout_ms / 1000,
                                               retry_s=settings.redis_retry_s)
