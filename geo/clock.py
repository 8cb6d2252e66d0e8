"""The business clock: dates in the bureau's time zone (``SAFEGRID_TIMEZONE``, default Asia/Shanghai).

A container's clock is usually UTC, eight hours behind Beijing: ``date.today()`` there names the
previous day until 08:00. Use :func:`today` for anything a user reads as "today" (overdue, ages,
file names); database sessions run in the same zone (:meth:`geo.settings.DatabaseSettings.pg_options`).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from geo.settings import get_settings


def now() -> datetime:
    """Return the aware current time in the business time zone."""
    return datetime.now(ZoneInfo(get_settings().timezone))


def today() -> date:
    """Return the current date in the business time zone."""
    return now().date()
