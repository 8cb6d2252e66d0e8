"""The business clock: dates in the bureau's time zone (``SAFEGRID_TIMEZONE``, default Asia/Shanghai).

A container's clock is usually UTC, eight hours behind Beijing: ``date.today()`` there names the
previous day until 08:00. Use :func:`today` for anything a user reads as "today" (overdue, ages,
file names); database sessions run in the same zone (:meth:`geo.settings.DatabaseSettings.pg_options`
reads the same setting through :class:`ClockSettings`).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ZONE = "Asia/Shanghai"


def check_zone(value: str) -> str:
    """Return ``value`` if it is a known IANA zone name safe to pass to libpq options, else raise ValueError."""
    if not re.fullmatch(r"[A-Za-z0-9_+\-/]+", value):
        raise ValueError(f"invalid time zone: {value!r}")
    try:
        ZoneInfo(value)
    except ZoneInfoNotFoundError as exc:
        raise ValueError(f"unknown time zone: {value!r}") from exc
    return value


class ClockSettings(BaseSettings):
    """The business time zone (env ``SAFEGRID_TIMEZONE``); ``geo.settings.DatabaseSettings`` extends it."""

    model_config = SettingsConfigDict(env_prefix="SAFEGRID_", env_file=".env", extra="ignore")

    # The business day (overdue, "today", deadlines): the bureau's clock, not the server's. Sessions get
    # it as their TimeZone, so SQL current_date and Python's domain.clock.today() agree.
    timezone: str = DEFAULT_ZONE

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)


@lru_cache
def zone() -> ZoneInfo:
    """Return the configured business time zone (read once per process)."""
    return ZoneInfo(ClockSettings().timezone)


def now() -> datetime:
    """Return the aware current time in the business time zone."""
    return datetime.now(zone())


def today() -> date:
    """Return the current date in the business time zone."""
    return now().date()
